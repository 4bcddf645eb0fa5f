/**
 * The safety checkers of the simulator. They watch what the hosts see (Readies, disk writes,
 * applied entries, read answers) and throw a `SimViolation` the moment a Raft property breaks.
 * Every check is incremental, so checking after every event stays cheap.
 */
import type { MemoryStorage } from '../memory-storage.js';
import type {
  Entry,
  HardState,
  Message,
  MessageType as MessageTypeValue,
  NodeId,
  Ready,
  Snapshot,
} from '../../types.js';
import { MessageType } from '../../types.js';
import { SimViolation } from './violation.js';

/** What identifies an entry's content: its type and a hash of its data. */
interface Fingerprint {
  readonly term: number;
  readonly hash: number;
}

interface LogRecord extends Fingerprint {
  /** The term of the entry just before it in the log that first held it. */
  readonly prevTerm: number;
}

interface CommittedRecord extends Fingerprint {
  /** Hash of every committed entry up to and including this one: the state machine's state. */
  readonly chain: number;
  readonly appliedBy: NodeId;
}

/** A proposal accepted by a leader: it committed iff the entry at `index` committed with `term`. */
export interface ProposalRecord {
  readonly id: number;
  readonly index: number;
  readonly term: number;
  readonly hash: number;
  readonly leader: NodeId;
}

interface ReadRecord {
  readonly node: NodeId;
  readonly commitAtIssue: number;
}

interface LeaderCheck {
  readonly term: number;
  /** The committed prefix known when the leader was seen; its log must hold all of it. */
  readonly committedUpTo: number;
}

export class SafetyChecker {
  /** Every (term, leader) ever seen. */
  readonly leaders = new Map<number, NodeId>();
  /** index → term → the entry first stored with that index and term anywhere. */
  private readonly logRecords = new Map<number, Map<number, LogRecord>>();
  /** index → the entry applied there (by anyone). */
  private readonly committed = new Map<number, CommittedRecord>();
  /** The highest index applied anywhere. */
  committedIndexMax = 0;
  /** The highest commit index any node reported. */
  commitKnownMax = 0;
  private readonly leaderChecks = new Map<NodeId, LeaderCheck>();
  /** index → proposals whose receipts name it. */
  private readonly proposals = new Map<number, ProposalRecord[]>();
  readonly proposalList: ProposalRecord[] = [];
  private readonly reads = new Map<number, ReadRecord>();
  readsAnswered = 0;
  leaderElections = 0;

  /**
   * Persist-before-send: a message leaving a node may only promise what is on its disk. Any
   * message of a term needs that term (or a later one) stored; in that same term, a granted vote
   * needs the vote stored and an accepted append the entries it acknowledges.
   */
  checkSent(storage: MemoryStorage, message: Message): void {
    const type = message.type;
    if (type === MessageType.preVote || type === MessageType.preVoteResponse) return; // nothing durable is promised
    const hard = storage.hardState();
    if (message.term > hard.term) {
      throw new SimViolation(
        'durability',
        `node ${message.from} sends ${messageTypeName(type)} of term ${message.term} to node ${message.to} while its disk holds term ${hard.term}`,
      );
    }
    // A disk already in a later term supersedes the promise: the node never acts in that term again.
    if (hard.term > message.term) return;
    if (type === MessageType.voteResponse && !message.reject && hard.vote !== message.to) {
      throw new SimViolation(
        'durability',
        `node ${message.from} grants its vote in term ${message.term} to node ${message.to} while its disk holds term ${hard.term}, vote ${hard.vote}`,
      );
    }
    if (type === MessageType.appendResponse && !message.reject && message.index > storage.lastIndex()) {
      throw new SimViolation(
        'durability',
        `node ${message.from} acknowledges entries up to ${message.index} while its disk ends at ${storage.lastIndex()}`,
      );
    }
  }

  /** A Ready without `mustSync` may change nothing durable but the commit index. */
  checkUnsyncedWrite(node: NodeId, stored: HardState, ready: Ready): void {
    const hard = ready.hardState;
    const changed =
      ready.entries.length > 0 ||
      ready.snapshot !== null ||
      (hard !== null && (hard.term !== stored.term || hard.vote !== stored.vote));
    if (changed) {
      throw new SimViolation(
        'durability',
        `node ${node} hands out a Ready with mustSync false that changes entries, a snapshot, the term or the vote`,
      );
    }
  }

  /** A node reports being leader of `term`. */
  observeLeader(node: NodeId, term: number): void {
    this.checkLeader(node, term);
    const check = this.leaderChecks.get(node);
    if (check === undefined || check.term < term)
      this.leaderChecks.set(node, { term, committedUpTo: this.committedIndexMax });
  }

  /**
   * A node sends what only a leader sends (append, heartbeat, snapshot, TimeoutNow): it leads
   * `term`, even if no Ready showed it (it may have lost the role before the next one).
   */
  observeLeaderMessage(message: Message): void {
    const type = message.type;
    if (
      type === MessageType.append ||
      type === MessageType.heartbeat ||
      type === MessageType.snapshot ||
      type === MessageType.timeoutNow
    ) {
      this.checkLeader(message.from, message.term);
    }
  }

  private checkLeader(node: NodeId, term: number): void {
    const known = this.leaders.get(term);
    if (known !== undefined && known !== node) {
      throw new SimViolation('election-safety', `term ${term} has two leaders: node ${known} and node ${node}`);
    }
    if (known === undefined) {
      this.leaders.set(term, node);
      this.leaderElections++;
    }
  }

  observeCommit(commit: number): void {
    if (commit > this.commitKnownMax) this.commitKnownMax = commit;
  }

  /** Before `storage` takes a write: log matching and no committed entry lost. */
  beforeWrite(node: NodeId, storage: MemoryStorage, entries: readonly Entry[], snapshot: Snapshot | null): void {
    if (snapshot !== null) this.checkSnapshot(node, snapshot);
    const first = entries[0];
    if (first === undefined) return;
    const base = snapshot !== null ? snapshot.metadata.index : storage.lastIndex();
    // Stored entries from first.index on are replaced: none of them may be a committed entry
    // that the write does not carry again.
    for (let index = first.index; index <= base && snapshot === null; index++) {
      const record = this.committed.get(index);
      if (record === undefined) continue;
      if (storage.term(index) !== record.term) continue;
      const replacement = entries[index - first.index];
      if (replacement === undefined || replacement.term !== record.term) {
        throw new SimViolation(
          'committed-entry-lost',
          `node ${node} replaces committed entry ${index} (term ${record.term}) with ${replacement === undefined ? 'nothing' : `term ${replacement.term}`}`,
        );
      }
    }
    let prevTerm =
      snapshot !== null && first.index === snapshot.metadata.index + 1
        ? snapshot.metadata.term
        : storage.term(first.index - 1);
    for (const entry of entries) {
      this.checkLogRecord(node, entry, prevTerm);
      prevTerm = entry.term;
    }
  }

  /** After a write: a new leader's first own entry is on its disk, so its log can be checked. */
  afterWrite(node: NodeId, storage: MemoryStorage, entries: readonly Entry[]): void {
    const check = this.leaderChecks.get(node);
    if (check === undefined || check.committedUpTo === 0) return;
    if (!entries.some((entry) => entry.term === check.term)) return;
    this.leaderChecks.set(node, { term: check.term, committedUpTo: 0 });
    const firstIndex = storage.firstIndex();
    for (let index = Math.max(1, firstIndex - 1); index <= check.committedUpTo; index++) {
      const record = this.committed.get(index);
      if (record === undefined) continue;
      const term = index <= storage.lastIndex() ? storage.term(index) : -1;
      if (term !== record.term) {
        throw new SimViolation(
          'leader-completeness',
          `leader ${node} of term ${check.term} lacks committed entry ${index} (term ${record.term}); its log has ${term < 0 ? 'nothing' : `term ${term}`} there`,
        );
      }
    }
  }

  /** A node applies `entry`; `chain` is that node's state hash before it. Returns the new chain. */
  observeApply(node: NodeId, entry: Entry, appliedBefore: number, chain: number): number {
    if (entry.index !== appliedBefore + 1) {
      throw new SimViolation(
        'state-machine-safety',
        `node ${node} applies entry ${entry.index} after ${appliedBefore}: not in order`,
      );
    }
    const hash = entryHash(entry);
    const next = chainHash(chain, entry.term, hash);
    const record = this.committed.get(entry.index);
    if (record !== undefined) {
      if (record.term !== entry.term || record.hash !== hash || record.chain !== next) {
        throw new SimViolation(
          'state-machine-safety',
          `node ${node} applies entry ${entry.index} of term ${entry.term} but node ${record.appliedBy} applied term ${record.term} there` +
            (record.term === entry.term ? ' (same term, different content or history)' : ''),
        );
      }
      return next;
    }
    this.committed.set(entry.index, { term: entry.term, hash, chain: next, appliedBy: node });
    if (entry.index > this.committedIndexMax) this.committedIndexMax = entry.index;
    this.checkProposals(entry, hash);
    return next;
  }

  /** The state-machine hash after applying up to `index`, or null when no one applied it. */
  chainAt(index: number): number | null {
    if (index === 0) return 0;
    return this.committed.get(index)?.chain ?? null;
  }

  committedTermAt(index: number): number | null {
    return this.committed.get(index)?.term ?? null;
  }

  recordProposal(record: ProposalRecord): void {
    const existing = this.committed.get(record.index);
    if (existing !== undefined && existing.term === record.term) {
      throw new SimViolation(
        'proposal-applied',
        `proposal ${record.id} got receipt (${record.index}, ${record.term}) for an index already committed`,
      );
    }
    const list = this.proposals.get(record.index);
    if (list === undefined) this.proposals.set(record.index, [record]);
    else list.push(record);
    this.proposalList.push(record);
  }

  issueRead(readId: number, node: NodeId): void {
    this.reads.set(readId, { node, commitAtIssue: this.commitKnownMax });
  }

  /** A read answer: `index` must be at least the commit index known when the read was issued. */
  answerRead(readId: number, node: NodeId, index: number): void {
    const read = this.reads.get(readId);
    if (read === undefined) return; // a duplicate answer, or a read issued before a crash of its node
    this.reads.delete(readId);
    this.readsAnswered++;
    if (read.node !== node) {
      throw new SimViolation(
        'read-linearizable',
        `read ${readId} issued on node ${read.node} answered on node ${node}`,
      );
    }
    if (index > this.commitKnownMax) {
      throw new SimViolation(
        'read-linearizable',
        `read ${readId} on node ${node} answered index ${index}, above every commit index reported (${this.commitKnownMax})`,
      );
    }
    if (index < read.commitAtIssue) {
      throw new SimViolation(
        'read-linearizable',
        `read ${readId} on node ${node} answered index ${index}, below commit index ${read.commitAtIssue} known at issue`,
      );
    }
  }

  /** A read the node refused (no leader known): it will not be answered. */
  forgetRead(readId: number): void {
    this.reads.delete(readId);
  }

  /** Reads issued on a node that crashed are never answered. */
  forgetReads(node: NodeId): void {
    for (const [id, read] of this.reads) if (read.node === node) this.reads.delete(id);
  }

  private checkLogRecord(node: NodeId, entry: Entry, prevTerm: number): void {
    const hash = entryHash(entry);
    let byTerm = this.logRecords.get(entry.index);
    if (byTerm === undefined) {
      byTerm = new Map();
      this.logRecords.set(entry.index, byTerm);
    }
    const record = byTerm.get(entry.term);
    if (record === undefined) {
      byTerm.set(entry.term, { term: entry.term, hash, prevTerm });
      return;
    }
    if (record.hash !== hash || record.prevTerm !== prevTerm) {
      throw new SimViolation(
        'log-matching',
        `node ${node} stores entry ${entry.index} of term ${entry.term} ` +
          (record.hash !== hash
            ? 'with different content than another log'
            : `after term ${prevTerm} where another log has term ${record.prevTerm}`),
      );
    }
  }

  private checkSnapshot(node: NodeId, snapshot: Snapshot): void {
    const index = snapshot.metadata.index;
    const record = this.committed.get(index);
    if (record !== undefined && record.term !== snapshot.metadata.term) {
      throw new SimViolation(
        'state-machine-safety',
        `node ${node} installs a snapshot at ${index} of term ${snapshot.metadata.term}; term ${record.term} was applied there`,
      );
    }
  }

  private checkProposals(entry: Entry, hash: number): void {
    const list = this.proposals.get(entry.index);
    if (list === undefined) return;
    for (const proposal of list) {
      if (proposal.term === entry.term && proposal.hash !== hash) {
        throw new SimViolation(
          'proposal-applied',
          `proposal ${proposal.id} had receipt (${proposal.index}, ${proposal.term}) from leader ${proposal.leader}, but another entry of that term committed there`,
        );
      }
    }
  }
}

/** FNV-1a over the entry's type and data. */
export function entryHash(entry: Entry): number {
  let hash = 0x811c9dc5 ^ entry.type;
  hash = Math.imul(hash, 0x01000193);
  const data = entry.data;
  for (let i = 0; i < data.length; i++) {
    hash ^= data[i] as number;
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

export function chainHash(chain: number, term: number, hash: number): number {
  let next = Math.imul(chain ^ 0x9e3779b9, 0x85ebca6b) ^ term;
  next = Math.imul(next ^ (next >>> 13), 0xc2b2ae35) ^ hash;
  return (next ^ (next >>> 16)) >>> 0;
}

const messageTypeNames = new Map<number, string>(Object.entries(MessageType).map(([name, value]) => [value, name]));

export function messageTypeName(type: MessageTypeValue): string {
  return messageTypeNames.get(type) ?? String(type);
}
