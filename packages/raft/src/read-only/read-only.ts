/**
 * ReadIndex requests waiting for the leader to confirm its leadership (safe mode, Raft thesis
 * §6.4): each records the commit index when it arrived; the leader then sends a round of
 * heartbeats and answers the request once a quorum acknowledged a heartbeat sent after it arrived.
 *
 * Requests are numbered by the leader (`round`, never reused during the node's life), and the
 * heartbeats carry that number, not the requester's context: contexts are chosen by each
 * requester (every host numbers its reads from 1), so equal bytes from two requesters are two
 * different reads. A member that acknowledged round r has confirmed every request numbered <= r,
 * since the heartbeat carrying r left after they all arrived.
 */
import { assert } from '../errors.js';
import type { NodeId } from '../types.js';

export interface ReadRequest {
  readonly index: number;
  /** The requester's context, handed back with the answer. */
  readonly context: Uint8Array;
  /** Who asked: this node, or the follower that forwarded it. */
  readonly from: NodeId;
  /** The leader's number for the request; heartbeats carry the newest (`encodeReadRound`). */
  readonly round: number;
}

/** Bytes of a heartbeat context naming a read round. */
const roundContextBytes = 8;

/** The heartbeat context that names read round `round` (8 bytes, big-endian). */
export function encodeReadRound(round: number): Uint8Array {
  assert(Number.isSafeInteger(round) && round > 0, 'a read round is a positive safe integer');
  const context = new Uint8Array(roundContextBytes);
  const view = new DataView(context.buffer);
  view.setUint32(0, Math.floor(round / 0x1_0000_0000));
  view.setUint32(4, round >>> 0);
  return context;
}

/** The read round a heartbeat (response) context names, 0 when it names none. */
export function decodeReadRound(context: Uint8Array): number {
  if (context.byteLength !== roundContextBytes) return 0;
  const view = new DataView(context.buffer, context.byteOffset, roundContextBytes);
  return view.getUint32(0) * 0x1_0000_0000 + view.getUint32(4);
}

/** Contexts are compared by content. */
export function contextKey(context: Uint8Array): string {
  return Buffer.from(context.buffer, context.byteOffset, context.byteLength).toString('latin1');
}

function requestKey(from: NodeId, context: Uint8Array): string {
  return `${from}/${contextKey(context)}`;
}

export class ReadOnly {
  /** Pending requests in arrival order, hence by ascending round. */
  private queue: ReadRequest[] = [];
  /** `from/context` of every pending request: the same requester and bytes again is a retry. */
  private readonly keys = new Set<string>();
  /** The highest round each member acknowledged since the last clear(). */
  private readonly acked = new Map<NodeId, number>();
  private lastRound = 0;

  constructor(readonly requestsMax: number) {}

  get size(): number {
    return this.queue.length;
  }

  full(): boolean {
    return this.queue.length >= this.requestsMax;
  }

  /** Adds a request unless the same requester has one with the same context pending (a retry). */
  add(index: number, context: Uint8Array, from: NodeId): void {
    const key = requestKey(from, context);
    if (this.keys.has(key)) return;
    assert(!this.full(), 'read requests within bound');
    this.lastRound++;
    this.keys.add(key);
    this.queue.push({ index, context, from, round: this.lastRound });
  }

  /** Records that `id` acknowledged a heartbeat carrying `round`; false when that names no round. */
  recvAck(id: NodeId, round: number): boolean {
    if (round <= 0 || round > this.lastRound) return false;
    if ((this.acked.get(id) ?? 0) < round) this.acked.set(id, round);
    return true;
  }

  /** The highest round `id` acknowledged, undefined if none (for the quorum computation). */
  ackedRound(id: NodeId): number | undefined {
    return this.acked.get(id);
  }

  /** Removes and returns every request numbered <= `round` (a quorum confirmed them). */
  advance(round: number): ReadRequest[] {
    let count = 0;
    while (count < this.queue.length && (this.queue[count] as ReadRequest).round <= round) count++;
    if (count === 0) return [];
    const done = this.queue.slice(0, count);
    this.queue = this.queue.slice(count);
    for (const request of done) this.keys.delete(requestKey(request.from, request.context));
    return done;
  }

  /** The context naming the newest pending request's round (heartbeats carry it), if any. */
  lastContext(): Uint8Array | undefined {
    const last = this.queue[this.queue.length - 1];
    return last === undefined ? undefined : encodeReadRound(last.round);
  }

  /** Drops every request and acknowledgement (a new term); rounds keep counting up. */
  clear(): void {
    this.queue = [];
    this.keys.clear();
    this.acked.clear();
  }
}
