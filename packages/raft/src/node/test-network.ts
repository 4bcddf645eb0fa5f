/**
 * Test-only: a tiny synchronous network of RaftNodes over MemoryStorage, for the core's unit
 * tests. Each `drain` runs the host loop by the book: ready() → persist → advance() → apply →
 * queue the released messages. `stabilize` delivers until nothing moves. The loop's steps can
 * also be taken one at a time (`takeReady`, `persistHeld`, `deliverQueued`), to show what waits
 * for a persist.
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
  /** Readies taken by `takeReady` and not persisted yet, by node. */
  readonly held = new Map<NodeId, Ready>();
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
    const node = new RaftNode({
      electionTicks: 10,
      heartbeatTicks: 1,
      ...options,
      id,
      storage,
      random: seededRandom(this.seed * 1000 + id),
    });
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

  /**
   * Runs the host loop of one node until it has nothing ready. A node whose Ready is held
   * (`takeReady` without `persistHeld`) is left alone: its write is still in flight.
   */
  drain(id: NodeId): void {
    while (!this.held.has(id) && this.takeReady(id) !== null) this.persistHeld(id);
  }

  /**
   * Step 1 of the loop alone: takes the node's Ready and holds it, as a host whose write is in
   * flight. The messages a Ready may send before its persist (a leader's appends with
   * appendBeforePersist) go on the wire now; everything else waits for `persistHeld`. Returns
   * null when the node has nothing ready.
   */
  takeReady(id: NodeId): Ready | null {
    const member = this.member(id);
    if (this.held.has(id)) throw new Error(`node ${id} already holds a Ready: persist it first`);
    if (!member.node.hasReady()) return null;
    const ready = member.node.ready();
    member.readies.push(ready);
    this.held.set(id, ready);
    this.queue.push(...ready.messages);
    return ready;
  }

  /**
   * Steps 2 to 4 for the held Ready: writes it to the node's storage, advances the node, puts the
   * messages that releases on the wire and applies the committed entries. Returns the released messages.
   */
  persistHeld(id: NodeId): Message[] {
    const member = this.member(id);
    const ready = this.held.get(id);
    if (ready === undefined) throw new Error(`node ${id} holds no Ready: take one with ready first`);
    this.held.delete(id);
    member.storage.write(ready);
    const messages = member.node.advance(ready);
    if (ready.snapshot !== null) member.snapshots.push(ready.snapshot);
    for (const entry of ready.committedEntries) {
      member.applied.push(entry);
      if (entry.type === EntryType.confChange) member.node.applyConfChange(decodeConfChange(entry.data));
    }
    member.readStates.push(...ready.readStates);
    this.queue.push(...messages);
    return messages;
  }

  /**
   * Delivers the first `count` messages on the wire (all those there now when omitted) and
   * nothing they cause: no node's loop runs. Returns the messages delivered.
   */
  deliverQueued(count = this.queue.length): Message[] {
    const before = this.delivered.length;
    for (let i = 0; i < count; i++) {
      const message = this.queue.shift();
      if (message === undefined) break;
      this.deliver(message);
    }
    return this.delivered.slice(before);
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
