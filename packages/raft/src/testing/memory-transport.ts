/**
 * An in-process network of RaftHosts for tests and the benchmark: frames are queued and
 * delivered on a later macrotask (never re-entrantly), in order per link, with switches to drop
 * traffic (partitions, isolated or disconnected nodes, a random drop rate). Test-only.
 */
import { assert } from '../errors.js';
import type { Frame, RaftTransport } from '../host/frame.js';
import type { NodeId } from '../types.js';

export type FrameReceiver = (frame: Frame) => void;

export interface MemoryNetworkOptions {
  /** Randomness for `dropRate`, injected so that a seed replays a run. Default Math.random. */
  readonly random?: () => number;
}

/** Counters of what the network carried; "messages" counts coalesced heartbeats too. */
export interface MemoryNetworkStats {
  framesSent: number;
  framesDelivered: number;
  framesDropped: number;
  messagesDelivered: number;
  heartbeatsDelivered: number;
  quiesceDelivered: number;
}

function linkKey(from: NodeId, to: NodeId): string {
  return `${from}>${to}`;
}

/** Items a frame carries, counting each coalesced heartbeat as a message. */
export function frameMessageCount(frame: Frame): number {
  return frame.messages.length + frame.heartbeats.length + frame.heartbeatResponses.length;
}

export class MemoryNetwork {
  private readonly receivers = new Map<NodeId, FrameReceiver>();
  private readonly blocked = new Set<string>();
  private readonly random: () => number;
  private queue: Frame[] = [];
  private flushScheduled = false;
  private idleWaiters: (() => void)[] = [];
  private readonly observers: ((frame: Frame) => void)[] = [];
  /** Probability in [0, 1] that a frame is lost. */
  dropRate = 0;
  readonly stats: MemoryNetworkStats = {
    framesSent: 0,
    framesDelivered: 0,
    framesDropped: 0,
    messagesDelivered: 0,
    heartbeatsDelivered: 0,
    quiesceDelivered: 0,
  };

  constructor(options: MemoryNetworkOptions = {}) {
    this.random = options.random ?? Math.random;
  }

  /** Attaches `nodeId`'s receiver (replacing any earlier one) and returns its transport. */
  connect(nodeId: NodeId, receiver: FrameReceiver): RaftTransport {
    assert(nodeId !== 0, 'node id is not 0');
    this.receivers.set(nodeId, receiver);
    return { send: (frame) => this.send(nodeId, frame) };
  }

  /** Detaches `nodeId`: frames to it are dropped until it connects again. */
  disconnect(nodeId: NodeId): void {
    this.receivers.delete(nodeId);
  }

  /** Drops frames from `from` to `to` (one direction) until healed. */
  block(from: NodeId, to: NodeId): void {
    this.blocked.add(linkKey(from, to));
  }

  /** Cuts every link between the two sides, both directions. */
  partition(sideA: readonly NodeId[], sideB: readonly NodeId[]): void {
    for (const a of sideA) {
      for (const b of sideB) {
        this.block(a, b);
        this.block(b, a);
      }
    }
  }

  /** Cuts `nodeId` off from every node in `others`, both directions. */
  isolate(nodeId: NodeId, others: readonly NodeId[]): void {
    this.partition(
      [nodeId],
      others.filter((other) => other !== nodeId),
    );
  }

  /** Restores every blocked link (not disconnected nodes, nor the drop rate). */
  heal(): void {
    this.blocked.clear();
  }

  /** Calls `observer` with every frame delivered (for tests that count traffic). */
  observe(observer: (frame: Frame) => void): void {
    this.observers.push(observer);
  }

  /** Frames queued and not yet delivered or dropped. */
  pending(): number {
    return this.queue.length;
  }

  /** Resolves once no frame is queued. */
  whenIdle(): Promise<void> {
    if (this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private send(from: NodeId, frame: Frame): void {
    assert(frame.from === from, 'frame is sent by its own node');
    this.stats.framesSent++;
    this.queue.push(frame);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    const frames = this.queue;
    this.queue = [];
    for (const frame of frames) this.deliver(frame);
    if (this.queue.length === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  private deliver(frame: Frame): void {
    const receiver = this.receivers.get(frame.to);
    const dropped =
      receiver === undefined ||
      !this.receivers.has(frame.from) ||
      this.blocked.has(linkKey(frame.from, frame.to)) ||
      (this.dropRate > 0 && this.random() < this.dropRate);
    if (dropped) {
      this.stats.framesDropped++;
      return;
    }
    this.stats.framesDelivered++;
    this.stats.messagesDelivered += frameMessageCount(frame);
    this.stats.heartbeatsDelivered += frame.heartbeats.length + frame.heartbeatResponses.length;
    this.stats.quiesceDelivered += frame.quiesce.length;
    for (const observer of this.observers) observer(frame);
    receiver(frame);
  }
}
