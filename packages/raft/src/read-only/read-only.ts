/**
 * ReadIndex requests waiting for the leader to confirm its leadership (safe mode): each records
 * the commit index when it arrived and collects heartbeat acknowledgements carrying its context.
 * Once a quorum acknowledged a request, it and every earlier one are answered.
 */
import { assert } from '../errors.js';
import type { NodeId } from '../types.js';

export interface ReadRequest {
  readonly index: number;
  readonly context: Uint8Array;
  /** Who asked: this node, or the follower that forwarded it. */
  readonly from: NodeId;
  readonly acks: Set<NodeId>;
}

/** Contexts are compared by content. */
export function contextKey(context: Uint8Array): string {
  return Buffer.from(context.buffer, context.byteOffset, context.byteLength).toString('latin1');
}

export class ReadOnly {
  private readonly pending = new Map<string, ReadRequest>();
  private readonly queue: string[] = [];

  constructor(readonly requestsMax: number) {}

  get size(): number {
    return this.queue.length;
  }

  full(): boolean {
    return this.queue.length >= this.requestsMax;
  }

  /** Adds a request unless one with the same context is pending (then it is a retry). */
  add(index: number, context: Uint8Array, from: NodeId): void {
    const key = contextKey(context);
    if (this.pending.has(key)) return;
    assert(!this.full(), 'read requests within bound');
    this.pending.set(key, { index, context, from, acks: new Set() });
    this.queue.push(key);
  }

  /** Records an acknowledgement; returns the acks of that request, undefined if unknown. */
  recvAck(id: NodeId, context: Uint8Array): ReadonlySet<NodeId> | undefined {
    const request = this.pending.get(contextKey(context));
    if (request === undefined) return undefined;
    request.acks.add(id);
    return request.acks;
  }

  /** Removes and returns the request with `context` and every one queued before it. */
  advance(context: Uint8Array): ReadRequest[] {
    const key = contextKey(context);
    const position = this.queue.indexOf(key);
    if (position < 0) return [];
    const done = this.queue.splice(0, position + 1);
    return done.map((k) => {
      const request = this.pending.get(k);
      assert(request !== undefined, 'queued read is pending');
      this.pending.delete(k);
      return request;
    });
  }

  /** The context of the newest pending request (heartbeats carry it), if any. */
  lastContext(): Uint8Array | undefined {
    const key = this.queue[this.queue.length - 1];
    return key === undefined ? undefined : this.pending.get(key)?.context;
  }

  clear(): void {
    this.pending.clear();
    this.queue.length = 0;
  }
}
