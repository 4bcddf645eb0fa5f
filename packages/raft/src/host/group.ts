/** One Raft group as its host sees it: the node, what the host tracks of it, and who waits on it. */
import { assert, ProposalDroppedError } from '../errors.js';
import type { RaftNodeApi } from '../node-api.js';
import type { LogStorage } from '../storage.js';
import { Role } from '../types.js';
import type { ConfState, GroupId, NodeId, ReadState, Snapshot } from '../types.js';
import { ProposalQueue } from './pending.js';

export interface PendingRead {
  readonly resolve: (index: number) => void;
  readonly reject: (error: Error) => void;
  /** The host tick after which the read is dropped. */
  readonly deadlineTick: number;
}

interface AppliedWaiter {
  readonly index: number;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

/** Membership as of an applied index, kept so that `compact` can describe its snapshot. */
interface ConfAt {
  readonly index: number;
  readonly confState: ConfState;
}

/** The peers of a configuration: every voter, outgoing voter and learner except `self`. */
export function membersOf(confState: ConfState, self: NodeId): NodeId[] {
  const members = new Set<NodeId>([...confState.voters, ...confState.votersOutgoing, ...confState.learners]);
  members.delete(self);
  return [...members].sort((a, b) => a - b);
}

const readContextBytes = 12;

/**
 * The 12-byte ReadIndex context: the host run's `session`, then a request id unique within that
 * run. Every run numbers its reads from 1, so the session keeps an answer meant for an earlier run
 * of this host (still in flight across a restart) from resolving a newer read with its older index.
 */
export function encodeReadContext(session: number, id: number): Uint8Array {
  const context = new Uint8Array(readContextBytes);
  const view = new DataView(context.buffer);
  view.setUint32(0, session >>> 0);
  view.setUint32(4, Math.floor(id / 0x1_0000_0000));
  view.setUint32(8, id >>> 0);
  return context;
}

/** The request id of a ReadIndex context of run `session`, or -1 if it is not one of this run's. */
export function decodeReadContext(session: number, context: Uint8Array): number {
  if (context.byteLength !== readContextBytes) return -1;
  const view = new DataView(context.buffer, context.byteOffset, readContextBytes);
  if (view.getUint32(0) !== session >>> 0) return -1;
  return view.getUint32(4) * 0x1_0000_0000 + view.getUint32(8);
}

export class HostedGroup {
  /** True while queued for the next loop turn. */
  dirty = false;
  /** True once removed from the host; every later event for it is ignored. */
  removed = false;
  /** Leader and role as of the last Ready handled (what `leaderOf` reports). */
  leaderId: NodeId = 0;
  role: Role = Role.follower;
  /** Term as of the last Ready handled. */
  term = 0;
  /** Highest index applied to the state machine. */
  applied = 0;
  /** Not ticked: the leader found the group fully replicated and idle. */
  quiesced = false;
  /** While quiesced: the leader (this host's id on the leader) and term it quiesced under. */
  quiesceLeader: NodeId = 0;
  quiesceTerm = 0;
  /** Other members of the group (voters, outgoing voters, learners). */
  members: readonly NodeId[] = [];
  /** A snapshot the state machine must restore before anything is applied (recovery). */
  initialSnapshot: Snapshot | null = null;
  readonly commitWaiters = new ProposalQueue();
  readonly persistWaiters = new ProposalQueue();
  readonly reads = new Map<number, PendingRead>();
  private appliedWaiters: AppliedWaiter[] = [];
  private confHistory: ConfAt[] = [];

  constructor(
    readonly groupId: GroupId,
    readonly node: RaftNodeApi,
    readonly storage: LogStorage,
  ) {}

  pendingProposals(): number {
    return this.commitWaiters.size + this.persistWaiters.size;
  }

  /** Records the membership in force from `index` on (after a conf change or a snapshot). */
  recordConf(index: number, confState: ConfState): void {
    while (this.confHistory.length > 0) {
      const last = this.confHistory[this.confHistory.length - 1];
      assert(last !== undefined, 'history tail');
      if (last.index < index) break;
      this.confHistory.pop();
    }
    this.confHistory.push({ index, confState });
  }

  /**
   * The membership as of applied `index`, or undefined when it is not known (below the applied
   * index the group was opened at). Forgets history before it (it is being compacted).
   */
  confAt(index: number): ConfState | undefined {
    let found: ConfAt | undefined;
    let foundAt = 0;
    this.confHistory.forEach((conf, i) => {
      if (conf.index <= index) {
        found = conf;
        foundAt = i;
      }
    });
    if (found === undefined) return undefined;
    this.confHistory = this.confHistory.slice(foundAt);
    return found.confState;
  }

  waitApplied(index: number): Promise<void> {
    if (this.applied >= index) return Promise.resolve();
    return new Promise((resolve, reject) => this.appliedWaiters.push({ index, resolve, reject }));
  }

  /** Wakes `waitApplied` callers whose index is now applied. */
  settleApplied(): void {
    if (this.appliedWaiters.length === 0) return;
    const still: AppliedWaiter[] = [];
    for (const waiter of this.appliedWaiters) {
      if (waiter.index <= this.applied) waiter.resolve();
      else still.push(waiter);
    }
    this.appliedWaiters = still;
  }

  resolveRead(readState: ReadState, decode: (context: Uint8Array) => number): void {
    const id = decode(readState.requestContext);
    const read = this.reads.get(id);
    if (read === undefined) return;
    this.reads.delete(id);
    read.resolve(readState.index);
  }

  /** Drops reads past their deadline. Returns true while reads remain. */
  expireReads(tick: number): boolean {
    for (const [id, read] of this.reads) {
      if (read.deadlineTick > tick) continue;
      this.reads.delete(id);
      read.reject(new ProposalDroppedError('read index timed out: no leader answered; retry'));
    }
    return this.reads.size > 0;
  }

  rejectReads(error: () => Error): void {
    const reads = [...this.reads.values()];
    this.reads.clear();
    for (const read of reads) read.reject(error());
  }

  /** Fails everything waiting on this group (host stopped, group removed, store failed). */
  rejectAll(error: Error): void {
    this.commitWaiters.rejectAll(error);
    this.persistWaiters.rejectAll(error);
    this.rejectReads(() => error);
    const waiters = this.appliedWaiters;
    this.appliedWaiters = [];
    for (const waiter of waiters) waiter.reject(error);
  }
}
