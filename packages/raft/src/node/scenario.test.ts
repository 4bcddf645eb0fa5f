/**
 * Transcript tests: each `testdata/*.txt` file is a script of commands, each followed by `----`
 * and the output it must produce. Rewrite the expected outputs after an intended change with
 *   UPDATE_TESTDATA=1 npx vitest run src/node/scenario.test.ts
 * and review the diff like code.
 *
 * Commands (node ids are numbers):
 *   cluster voters=1,2,3 [preVote=false] [checkQuorum=false] [snapshotChunkBytes=N] [inflightMessagesMax=N]
 *   add-node ID                  a node with the group's bootstrap membership and an empty log
 *   campaign ID | tick ID [N] | tick-all [N] | propose ID TEXT... | read-index ID CONTEXT
 *   transfer FROM TO | isolate ID | heal | compact ID DATA
 *   conf-change ID [joint|explicit] add-voter=4 remove=2 add-learner=5 ...
 *   stabilize                    delivers until quiet, printing every message delivered
 *   status | log ID | applied ID | read-states ID
 * One step of the loop at a time (stabilize and tick-all leave a node alone while it holds a Ready):
 *   ready ID                     takes the node's Ready without persisting it and prints it; only
 *                                what a Ready may send before its persist goes on the wire
 *   persist ID                   writes the held Ready, advances the node, prints the disk and the
 *                                messages that released onto the wire
 *   deliver [N]                  delivers the first N messages on the wire (default: all there now),
 *                                nothing they cause, printing each
 *   wire | disk ID               messages sent and not delivered | what the node's disk holds
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { decodeReadRound } from '../read-only/read-only.js';
import { MemoryStorage } from '../testing/memory-storage.js';
import { ConfChangeTransition, ConfChangeType, EntryType, MessageType } from '../types.js';
import type { ConfChangeSingle, Entry, Message } from '../types.js';
import { TestNetwork, text } from './test-network.js';

const testdata = join(dirname(fileURLToPath(import.meta.url)), 'testdata');
const update = process.env.UPDATE_TESTDATA === '1';
const decoder = new TextDecoder();
const typeNames = new Map<number, string>(Object.entries(MessageType).map(([name, value]) => [value, name]));

interface Block {
  /** Comment lines written above the command, kept on rewrite. */
  readonly comments: readonly string[];
  readonly command: string;
  readonly expected: string;
}

function parse(source: string): Block[] {
  const blocks: Block[] = [];
  const lines = source.split('\n');
  let i = 0;
  let comments: string[] = [];
  while (i < lines.length) {
    const line = lines[i] ?? '';
    i++;
    if (line.trim() === '') continue;
    if (line.startsWith('#')) {
      comments.push(line);
      continue;
    }
    if (lines[i] !== '----') throw new Error(`line ${i}: expected ---- after "${line}"`);
    i++;
    const output: string[] = [];
    while (i < lines.length && (lines[i] ?? '') !== '') output.push(lines[i++] ?? '');
    blocks.push({ comments, command: line, expected: output.join('\n') });
    comments = [];
  }
  return blocks;
}

function describeEntries(entries: readonly Entry[]): string {
  return entries
    .map(
      (e) =>
        `${e.index}/${e.term}${e.type === EntryType.confChange ? ' conf' : ''}${e.data.byteLength > 0 && e.type === EntryType.normal ? ` ${decoder.decode(e.data)}` : ''}`,
    )
    .join(', ');
}

function describeMessage(m: Message): string {
  const parts = [`${m.from}->${m.to} ${typeNames.get(m.type) ?? m.type} term=${m.term}`];
  if (m.type === MessageType.append)
    parts.push(`prev=${m.index}/${m.logTerm} commit=${m.commit} [${describeEntries(m.entries)}]`);
  if (m.type === MessageType.appendResponse)
    parts.push(m.reject ? `reject index=${m.index} hint=${m.rejectHint}/${m.logTerm}` : `index=${m.index}`);
  if (m.type === MessageType.vote || m.type === MessageType.preVote)
    parts.push(`last=${m.index}/${m.logTerm}${m.context.byteLength > 0 ? ` ctx=${decoder.decode(m.context)}` : ''}`);
  if (m.type === MessageType.voteResponse || m.type === MessageType.preVoteResponse)
    parts.push(m.reject ? 'rejected' : 'granted');
  // Heartbeats name the leader's read round, not the requester's context (read-only.ts).
  if (m.type === MessageType.heartbeatResponse && m.context.byteLength > 0)
    parts.push(`read=${decodeReadRound(m.context)}`);
  if (m.type === MessageType.heartbeat)
    parts.push(`commit=${m.commit}${m.context.byteLength > 0 ? ` read=${decodeReadRound(m.context)}` : ''}`);
  if (m.type === MessageType.readIndexResponse) parts.push(`index=${m.index} ctx=${decoder.decode(m.context)}`);
  if (m.snapshot !== null)
    parts.push(
      `snapshot@${m.snapshot.metadata.index} offset=${m.snapshot.offset}${m.type === MessageType.snapshot ? ` bytes=${m.snapshot.data.byteLength}${m.snapshot.done ? ' done' : ''}` : ''}`,
    );
  return parts.join(' ');
}

class Scenario {
  private net: TestNetwork | null = null;

  private get network(): TestNetwork {
    if (this.net === null) throw new Error('no cluster yet');
    return this.net;
  }

  run(command: string): string {
    const [name = '', ...args] = command.trim().split(/\s+/);
    const ids = args.map(Number);
    const id = ids[0] ?? 0;
    switch (name) {
      case 'cluster':
        return this.cluster(args);
      case 'add-node':
        this.network.add(id, MemoryStorage.withVoters(this.bootstrap));
        return 'ok';
      case 'campaign':
        this.network.node(id).campaign();
        return 'ok';
      case 'tick':
        this.network.tick(id, ids[1] ?? 1);
        return 'ok';
      case 'tick-all':
        return this.captured(() => this.network.tickAll(ids[0] ?? 1));
      case 'propose':
        return args
          .slice(1)
          .map((value) => `index ${this.network.node(id).propose(text(value)).index}`)
          .join('\n');
      case 'read-index':
        this.network.node(id).readIndex(text(args[1] ?? ''));
        return 'ok';
      case 'transfer':
        this.network.node(id).transferLeadership(ids[1] ?? 0);
        return 'ok';
      case 'isolate':
        this.network.isolate(id);
        return 'ok';
      case 'heal':
        this.network.heal();
        return 'ok';
      case 'compact':
        return this.compact(id, args[1] ?? '');
      case 'conf-change':
        return this.confChange(id, args.slice(1));
      case 'stabilize':
        return this.captured(() => this.network.stabilize());
      case 'ready':
        return this.ready(id);
      case 'persist':
        return this.persist(id);
      case 'deliver':
        return (
          this.network
            .deliverQueued(args[0] === undefined ? undefined : Number(args[0]))
            .map(describeMessage)
            .join('\n') || '(quiet)'
        );
      case 'wire':
        return this.network.queue.map(describeMessage).join('\n') || '(empty)';
      case 'disk':
        return this.disk(id);
      case 'status':
        return this.status();
      case 'log':
        return (
          describeEntries(
            this.network
              .member(id)
              .storage.entries(
                this.network.member(id).storage.firstIndex(),
                this.network.member(id).storage.lastIndex() + 1,
                Number.MAX_SAFE_INTEGER,
              ),
          ) || '(empty)'
        );
      case 'applied':
        return describeEntries(this.network.member(id).applied) || '(none)';
      case 'read-states':
        return (
          this.network
            .member(id)
            .readStates.map((r) => `${decoder.decode(r.requestContext)}@${r.index}`)
            .join('\n') || '(none)'
        );
      default:
        throw new Error(`unknown command ${name}`);
    }
  }

  private bootstrap: number[] = [];

  private cluster(args: readonly string[]): string {
    const options: Record<string, unknown> = {};
    for (const arg of args) {
      const [key = '', value = ''] = arg.split('=');
      if (key === 'voters') this.bootstrap = value.split(',').map(Number);
      else options[key] = value === 'true' ? true : value === 'false' ? false : Number(value);
    }
    this.net = new TestNetwork(this.bootstrap, options);
    return 'ok';
  }

  private captured(action: () => void): string {
    const before = this.network.delivered.length;
    action();
    const lines = this.network.delivered.slice(before).map(describeMessage);
    return lines.length === 0 ? '(quiet)' : lines.join('\n');
  }

  private ready(id: number): string {
    const ready = this.network.takeReady(id);
    if (ready === null) return '(nothing ready)';
    const hard = ready.hardState;
    const lines = [
      `hardState ${hard === null ? '(unchanged)' : `term=${hard.term} vote=${hard.vote} commit=${hard.commit}`}${ready.mustSync ? ' mustSync' : ''}`,
      `entries [${describeEntries(ready.entries)}]`,
      `committed [${describeEntries(ready.committedEntries)}]`,
    ];
    if (ready.snapshot !== null) lines.push(`snapshot@${ready.snapshot.metadata.index}`);
    lines.push(
      ...(ready.messages.length === 0
        ? ['sent before persist: (none)']
        : ready.messages.map((m) => `sent before persist: ${describeMessage(m)}`)),
    );
    return lines.join('\n');
  }

  private persist(id: number): string {
    const released = this.network.persistHeld(id);
    return [
      this.disk(id),
      ...(released.length === 0 ? ['released: (none)'] : released.map((m) => `released: ${describeMessage(m)}`)),
    ].join('\n');
  }

  private disk(id: number): string {
    const storage = this.network.member(id).storage;
    const hard = storage.hardState();
    return `disk ${id}: term=${hard.term} vote=${hard.vote} commit=${hard.commit} last=${storage.lastIndex()}`;
  }

  private compact(id: number, data: string): string {
    const member = this.network.member(id);
    const status = member.node.status();
    member.storage.compact({
      metadata: { index: status.applied, term: member.storage.term(status.applied), confState: status.confState },
      data: text(data),
    });
    return `compacted to ${status.applied}`;
  }

  private confChange(id: number, args: readonly string[]): string {
    const kinds: Record<string, ConfChangeSingle['type']> = {
      'add-voter': ConfChangeType.addVoter,
      remove: ConfChangeType.removeNode,
      'add-learner': ConfChangeType.addLearner,
    };
    let transition: ConfChangeTransition = ConfChangeTransition.auto;
    const changes: ConfChangeSingle[] = [];
    for (const arg of args) {
      if (arg === 'joint') transition = ConfChangeTransition.jointImplicit;
      else if (arg === 'explicit') transition = ConfChangeTransition.jointExplicit;
      else {
        const [kind = '', node = ''] = arg.split('=');
        const type = kinds[kind];
        if (type === undefined) throw new Error(`unknown change ${kind}`);
        changes.push({ type, nodeId: Number(node) });
      }
    }
    try {
      return `index ${this.network.node(id).proposeConfChange({ transition, changes, context: new Uint8Array(0) }).index}`;
    } catch (error) {
      return `error: ${(error as Error).message}`;
    }
  }

  private status(): string {
    return [...this.network.members.keys()]
      .sort((a, b) => a - b)
      .map((id) => {
        const s = this.network.node(id).status();
        const cs = s.confState;
        const conf = `voters=${cs.voters.join(',')}${cs.votersOutgoing.length > 0 ? `&&${cs.votersOutgoing.join(',')}` : ''}${cs.learners.length > 0 ? ` learners=${cs.learners.join(',')}` : ''}`;
        return `${id}: ${s.role} term=${s.hardState.term} vote=${s.hardState.vote} commit=${s.hardState.commit} applied=${s.applied} last=${s.lastIndex} lead=${s.leaderId} ${conf}`;
      })
      .join('\n');
  }
}

function render(blocks: readonly { comments: readonly string[]; command: string; output: string }[]): string {
  return blocks.map((b) => `${b.comments.map((c) => `${c}\n`).join('')}${b.command}\n----\n${b.output}\n`).join('\n');
}

describe('scenario transcripts (testdata/*.txt)', () => {
  const files = readdirSync(testdata).filter((f) => f.endsWith('.txt'));
  for (const file of files) {
    it(file, () => {
      const path = join(testdata, file);
      const source = readFileSync(path, 'utf8');
      const scenario = new Scenario();
      const results = parse(source).map((block) => ({ ...block, output: scenario.run(block.command) }));
      if (update) {
        writeFileSync(path, render(results));
        return;
      }
      for (const result of results)
        expect(`${result.command}\n${result.output}`).toBe(`${result.command}\n${result.expected}`);
    });
  }
});
