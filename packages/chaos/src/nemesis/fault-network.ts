/**
 * The fault-injecting peer network: every broker's Raft transport is wrapped so that each frame
 * from A to B passes a filter. Partitions are sets of blocked directed links (so one-way and
 * bridge partitions are just other link sets); a paused broker neither sends nor receives; while
 * link faults are on, frames are dropped, delayed (which reorders them) or duplicated.
 *
 * Blocking on the sender side covers both directions of a link, because every frame of the
 * cluster passes the wrapper of its sender.
 */
import { MessageType } from '@streambus/raft';
import type { Frame, RaftTransport } from '@streambus/raft';
import { Prng } from '@streambus/raft/testing';

export interface LinkFaults {
  readonly dropProbability: number;
  readonly duplicateProbability: number;
  /** Each frame waits a uniform delay in [0, delayMsMax]; different delays reorder frames. */
  readonly delayMsMax: number;
}

export const noLinkFaults: LinkFaults = { dropProbability: 0, duplicateProbability: 0, delayMsMax: 0 };

export interface FaultNetworkStats {
  framesSent: number;
  framesBlocked: number;
  framesDropped: number;
  framesDuplicated: number;
  framesDelayed: number;
}

export class FaultNetwork {
  private readonly blocked = new Set<string>();
  private readonly paused = new Set<number>();
  private linkFaults: LinkFaults = noLinkFaults;
  /** Groups whose entries a broker never sends (appends stripped, heartbeats kept): `${broker}/${group}`. */
  private readonly withheld = new Set<string>();
  private readonly random: Prng;
  private readonly timers = new Set<NodeJS.Timeout>();
  readonly stats: FaultNetworkStats = {
    framesSent: 0,
    framesBlocked: 0,
    framesDropped: 0,
    framesDuplicated: 0,
    framesDelayed: 0,
  };

  /** `seed` drives the per-frame choices (which frame drops); their timing is real time. */
  constructor(seed: number) {
    this.random = new Prng(seed);
  }

  /** The wrapper for one broker's transport (InProcessCluster's `wrapTransport`). */
  wrap(brokerId: number, inner: RaftTransport): RaftTransport {
    return { send: (frame: Frame) => this.send(brokerId, inner, frame) };
  }

  /** Blocks frames from `from` to `to` (one direction). */
  block(from: number, to: number): void {
    this.blocked.add(`${from}>${to}`);
  }

  /** Blocks both directions between every member of `left` and every member of `right`. */
  split(left: readonly number[], right: readonly number[]): void {
    for (const a of left) {
      for (const b of right) {
        this.block(a, b);
        this.block(b, a);
      }
    }
  }

  isBlocked(from: number, to: number): boolean {
    return this.blocked.has(`${from}>${to}`) || this.paused.has(from) || this.paused.has(to);
  }

  pause(brokerId: number): void {
    this.paused.add(brokerId);
  }

  resume(brokerId: number): void {
    this.paused.delete(brokerId);
  }

  /**
   * `brokerId` keeps leading `groupId` (its heartbeats flow) but its entries never reach anyone:
   * nothing it appends can commit. A precise way to hold uncommitted data on a live leader.
   */
  withholdEntries(brokerId: number, groupId: number): void {
    this.withheld.add(`${brokerId}/${groupId}`);
  }

  setLinkFaults(faults: LinkFaults): void {
    this.linkFaults = faults;
  }

  /** Removes every partition, pause and link fault. Frames already delayed still arrive. */
  heal(): void {
    this.blocked.clear();
    this.paused.clear();
    this.withheld.clear();
    this.linkFaults = noLinkFaults;
  }

  /** Cancels delayed frames (end of run). */
  close(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.heal();
  }

  private send(from: number, inner: RaftTransport, original: Frame): void {
    this.stats.framesSent += 1;
    const frame = this.withheld.size === 0 ? original : this.strip(from, original);
    if (this.isBlocked(from, frame.to)) {
      this.stats.framesBlocked += 1;
      return;
    }
    const faults = this.linkFaults;
    if (faults.dropProbability > 0 && this.random.next() < faults.dropProbability) {
      this.stats.framesDropped += 1;
      return;
    }
    const copies = faults.duplicateProbability > 0 && this.random.next() < faults.duplicateProbability ? 2 : 1;
    if (copies === 2) this.stats.framesDuplicated += 1;
    for (let copy = 0; copy < copies; copy++) {
      const delayMs = faults.delayMsMax > 0 ? Math.floor(this.random.next() * (faults.delayMsMax + 1)) : 0;
      if (delayMs === 0) {
        deliver(inner, frame);
        continue;
      }
      this.stats.framesDelayed += 1;
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        // The link may have been cut while the frame was in flight.
        if (!this.isBlocked(from, frame.to)) deliver(inner, frame);
      }, delayMs);
      timer.unref();
      this.timers.add(timer);
    }
  }

  private strip(from: number, frame: Frame): Frame {
    const messages = frame.messages.filter(
      (item) => !(item.message.type === MessageType.append && this.withheld.has(`${from}/${item.groupId}`)),
    );
    return messages.length === frame.messages.length ? frame : { ...frame, messages };
  }
}

/** A transport never throws by contract; one closed by a killed broker may, so it is guarded. */
function deliver(inner: RaftTransport, frame: Frame): void {
  try {
    inner.send(frame);
  } catch {
    // the sending broker was stopped while the frame waited: the frame is lost, as on a wire
  }
}
