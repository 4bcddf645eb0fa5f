/**
 * A simulated network between the members of a group: every message is dropped, duplicated,
 * delayed (so reordered) or cut by a partition according to the current fault settings and a
 * seeded generator. It only decides; the owner's clock delivers (see `Simulation`).
 *
 * Partitions are checked when a message is sent and again when it arrives, so cutting a link
 * also loses what was in flight on it, as a broken TCP connection would.
 */
import type { NodeId } from '../../types.js';
import { assert } from '../../errors.js';
import type { Prng } from './prng.js';

export interface Addressed {
  readonly from: NodeId;
  readonly to: NodeId;
}

/** How the network misbehaves right now; all rates are probabilities per message. */
export interface NetworkFaults {
  readonly dropRate: number;
  readonly duplicateRate: number;
  /** The usual one-way latency range. */
  readonly delayMsMin: number;
  readonly delayMsMax: number;
  /** Probability that one message takes a long detour (up to `spikeDelayMsMax`): reordering. */
  readonly spikeRate: number;
  readonly spikeDelayMsMax: number;
}

/** A quiet network: no loss, no duplicates, short delays. */
export const quietNetworkFaults: NetworkFaults = {
  dropRate: 0,
  duplicateRate: 0,
  delayMsMin: 1,
  delayMsMax: 5,
  spikeRate: 0,
  spikeDelayMsMax: 5,
};

export interface NetworkStats {
  sent: number;
  delivered: number;
  dropped: number;
  cut: number;
  duplicated: number;
}

/** A scripted rule: return true to drop the message (directed scenarios). */
export type MessageFilter<M> = (message: M) => boolean;

/**
 * A scripted rewrite applied on arrival (directed scenarios), e.g. shortening an append to a
 * prefix of its entries: a message the sender could as well have sent.
 */
export type MessageRewrite<M> = (message: M) => M;

export class SimNetwork<M extends Addressed> {
  faults: NetworkFaults = quietNetworkFaults;
  /**
   * Keep each link's order: nothing overtakes what was sent before it on the same link (a
   * stream, as TCP or a gRPC stream per peer gives), while delays, drops and duplicates stay.
   * Off by default: a datagram network reorders.
   */
  fifo = false;
  /** Per link, the virtual time the last scheduled message arrives, for `fifo`. */
  private readonly lastArrivalMs = new Map<string, number>();
  readonly stats: NetworkStats = { sent: 0, delivered: 0, dropped: 0, cut: 0, duplicated: 0 };
  /** Directed links that are cut, as "from>to". */
  private readonly blocked = new Set<string>();
  private readonly filters = new Map<number, MessageFilter<M>>();
  private readonly rewrites = new Map<number, MessageRewrite<M>>();
  private nextFilterId = 1;

  constructor(
    private readonly prng: Prng,
    /** Delivers `message` after `delayMs` of virtual time (the owner calls `arrive` then). */
    private readonly schedule: (delayMs: number, message: M) => void,
    /** The owner's virtual time, which `fifo` orders arrivals by (ties arrive in scheduling order). */
    private readonly nowMs: () => number = () => 0,
  ) {}

  /**
   * Hands a message to the network. Returns 'unreachable' when the link is cut (a transport
   * notices: its connection fails), else 'sent' (which includes silent loss).
   */
  send(message: M): 'sent' | 'unreachable' {
    this.stats.sent++;
    if (!this.linkUp(message.from, message.to) || this.filtered(message)) {
      this.stats.cut++;
      return 'unreachable';
    }
    if (this.prng.chance(this.faults.dropRate)) {
      this.stats.dropped++;
      return 'sent';
    }
    this.schedule(this.linkDelayMs(message), message);
    if (this.prng.chance(this.faults.duplicateRate)) {
      this.stats.duplicated++;
      this.schedule(this.linkDelayMs(message), message);
    }
    return 'sent';
  }

  private linkDelayMs(message: M): number {
    const delayMs = this.delayMs();
    if (!this.fifo) return delayMs;
    const key = linkKey(message.from, message.to);
    const nowMs = this.nowMs();
    const arrivalMs = Math.max(nowMs + delayMs, this.lastArrivalMs.get(key) ?? 0);
    this.lastArrivalMs.set(key, arrivalMs);
    return arrivalMs - nowMs;
  }

  /** Called by the owner when a message's delay is over: what to deliver now, or null. */
  arrive(message: M): M | null {
    if (!this.linkUp(message.from, message.to) || this.filtered(message)) {
      this.stats.cut++;
      return null;
    }
    this.stats.delivered++;
    let out = message;
    for (const rewrite of this.rewrites.values()) out = rewrite(out);
    return out;
  }

  linkUp(from: NodeId, to: NodeId): boolean {
    return !this.blocked.has(linkKey(from, to));
  }

  /** Cuts every link between `side` and `others`, both ways. */
  partition(side: readonly NodeId[], others: readonly NodeId[]): void {
    for (const a of side) {
      for (const b of others) {
        if (a === b) continue;
        this.blocked.add(linkKey(a, b));
        this.blocked.add(linkKey(b, a));
      }
    }
  }

  /** Cuts the link from `from` to `to` only: `to` still reaches `from`. */
  blockOneWay(from: NodeId, to: NodeId): void {
    assert(from !== to, 'a node is never cut from itself');
    this.blocked.add(linkKey(from, to));
  }

  /** Restores every link (filters stay until removed). */
  heal(): void {
    this.blocked.clear();
  }

  /** The directed links that are cut, for traces. */
  cutLinks(): string[] {
    return [...this.blocked].sort();
  }

  /** Adds a scripted drop rule; returns its id for `removeFilter`. */
  addFilter(filter: MessageFilter<M>): number {
    const id = this.nextFilterId++;
    this.filters.set(id, filter);
    return id;
  }

  removeFilter(id: number): void {
    this.filters.delete(id);
  }

  /** Adds a scripted rewrite applied to messages on arrival; returns its id for `removeRewrite`. */
  addRewrite(rewrite: MessageRewrite<M>): number {
    const id = this.nextFilterId++;
    this.rewrites.set(id, rewrite);
    return id;
  }

  removeRewrite(id: number): void {
    this.rewrites.delete(id);
  }

  private filtered(message: M): boolean {
    for (const filter of this.filters.values()) {
      if (filter(message)) return true;
    }
    return false;
  }

  private delayMs(): number {
    const faults = this.faults;
    if (faults.spikeRate > 0 && this.prng.chance(faults.spikeRate)) {
      return this.prng.between(faults.delayMsMin, Math.max(faults.delayMsMin, faults.spikeDelayMsMax));
    }
    return this.prng.between(faults.delayMsMin, Math.max(faults.delayMsMin, faults.delayMsMax));
  }
}

function linkKey(from: NodeId, to: NodeId): string {
  return `${from}>${to}`;
}
