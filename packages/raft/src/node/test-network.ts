/**
 * Test-only: a tiny synchronous network of RaftNodes over MemoryStorage, for the core's unit
 * tests. Each `drain` runs the host loop by the book: ready() → persist → advance() → apply →
 * queue the released messages. `stabilize` delivers until nothing moves.
 */
import type { RaftNodeConfig } from '../config.js';
import { decodeConfChange } from '../confchange/codec.js';
import { MemoryStorage } from '../testing/memory-storage.js';
import { EntryType, MessageType } from '../types.js';
import type { Entry, Message, NodeId, ReadState, Ready, Snapshot } from '../types.js';
import { RaftNode } from './raft-node.js';

/** mulberry32: one seed replays one run. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type NodeOptions = Omit<RaftNodeConfig, 'id' | 'storage' | 'random'>;

export interface TestMember {
  node: RaftNode;
  readonly storage: MemoryStorage;
  readonly applied: Entry[];
  readonly readStates: ReadState[];
  readonly snapshots: Snapshot[];
  readonly readies: Ready[];
}

/** Drops a message when it returns false; may also rewrite it by returning a message. */
export type Filter = (message: Message) => boolean | Message;

export class TestNetwork {
  readonly members = new Map<NodeId, TestMember>();
  readonly queue: Message[] = [];
  /** Every message delivered, in order (for assertions about what crossed the wire). */
  readonly delivered: Message[] = [];
  private readonly cut = new Set<string>();
  filter: Filter | null = null;

  constructor(
    voters: readonly NodeId[],
    private readonly options: NodeOptions = {},
    private readonly seed = 1,
  ) {
    for (const id of voters) this.add(id, MemoryStorage.withVoters(voters));
  }

  add(id: NodeId, storage: MemoryStorage, options: NodeOptions = this.options): TestMember {
    const node = new RaftNode({ electionTicks: 10, heartbeatTicks: 1, ...options, id, storage, random: seededRandom(this.seed * 1000 + id) });
    const member: TestMember = { node, storage, applied: [], readStates: [], snapshots: [], readies: [] };
    this.members.set(id, member);
    return member;
  }

  /** Rebuilds a node from its storage (a crash losing only volatile state). */
  restart(id: NodeId, options: NodeOptions = this.options): TestMember {
    const old = this.member(id);
    const member = this.add(id, old.storage, options);
    member.applied.push(...old.applied);
    member.snapshots.push(...old.snapshots);
    return member;
  }

  member(id: NodeId): TestMember {
    const member = this.members.get(id);
    if (member === undefined) throw new Error(`no node ${id}`);
    return member;
  }

  node(id: NodeId): RaftNode {
    return this.member(id).node;
  }

  /** Runs the host loop of one node until it has nothing ready. */
  drain(id: NodeId): void {
    const member = this.member(id);
    while (member.node.hasReady()) {
      const ready = member.node.ready();
      member.readies.push(ready);
      this.queue.push(...ready.messages);
      member.storage.write(ready);
      const messages = member.node.advance(ready);
      if (ready.snapshot !== null) member.snapshots.push(ready.snapshot);
      for (const entry of ready.committedEntries) {
        member.applied.push(entry);
        if (entry.type === EntryType.confChange) member.node.applyConfChange(decodeConfChange(entry.data));
      }
      member.readStates.push(...ready.readStates);
      this.queue.push(...messages);
    }
  }

  drainAll(): void {
    for (const id of this.members.keys()) this.drain(id);
  }

  /** Delivers queued messages (and what they cause) until the network is quiet. */
  stabilize(stepsMax = 10_000): void {
    for (let step = 0; step < stepsMax; step++) {
      this.drainAll();
      const message = this.queue.shift();
      if (message === undefined) return;
      this.deliver(message);
    }
    throw new Error('network did not stabilize');
  }

  private deliver(original: Message): void {
    if (this.cut.has(`${original.from}-${original.to}`)) return;
    const target = this.members.get(original.to);
    if (target === undefined) return;
    const verdict = this.filter === null ? true : this.filter(original);
    if (verdict === false) return;
    const message = verdict === true ? original : verdict;
    this.delivered.push(message);
    target.node.step(message);
  }

  tick(id: NodeId, ticks = 1): void {
    for (let i = 0; i < ticks; i++) this.node(id).tick();
  }

  /** Ticks every node once and stabilizes, `rounds` times. */
  tickAll(rounds: number): void {
    for (let i = 0; i < rounds; i++) {
      for (const member of this.members.values()) member.node.tick();
      this.stabilize();
    }
  }

  isolate(id: NodeId): void {
    for (const other of this.members.keys()) {
      if (other === id) continue;
      this.cut.add(`${id}-${other}`);
      this.cut.add(`${other}-${id}`);
    }
  }

  heal(): void {
    this.cut.clear();
  }

  /** Makes `id` leader by campaigning and delivering everything. */
  elect(id: NodeId): void {
    this.node(id).campaign();
    this.stabilize();
  }

  leaders(): NodeId[] {
    return [...this.members].filter(([, m]) => m.node.status().role === 'leader').map(([id]) => id);
  }

  /** The data of the applied normal, non-empty entries of a node, as text. */
  appliedData(id: NodeId): string[] {
    return this.member(id)
      .applied.filter((e) => e.type === EntryType.normal && e.data.byteLength > 0)
      .map((e) => new TextDecoder().decode(e.data));
  }

  countDelivered(type: MessageType, to?: NodeId): number {
    return this.delivered.filter((m) => m.type === type && (to === undefined || m.to === to)).length;
  }
}

export const text = (value: string): Uint8Array => new TextEncoder().encode(value);
