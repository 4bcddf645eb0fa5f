/**
 * Faults of the real-network mode, each with its undo: partitions and random packet loss
 * (iptables rules inside the broker namespaces), bandwidth caps (tc tbf on both ends of a
 * broker's veth), a full disk (a filler file on the broker's own tmpfs), and clock skew
 * (libfaketime's timestamp file, read by the broker at run time).
 *
 * What the kernel here cannot do: it has no netem (CONFIG_NET_SCH_NETEM is off), so there is no
 * fixed or random delay, reordering or duplication of packets; latency comes only from a
 * bandwidth cap's queue (tbf `latency`). Partitions and loss cut broker-to-broker traffic and
 * loss also client traffic; the clients' own address is never partitioned (as in Jepsen, the
 * control node reaches every node).
 */
import { rename, rm, writeFile, open } from 'node:fs/promises';
import { join } from 'node:path';
import { inNamespace, runHost } from './host-tools.js';
import type { NetnsNetwork } from './netns.js';

/** iptables chains this mode adds to every broker namespace. */
const partitionChain = 'SBX-PART';
const lossInChain = 'SBX-LOSS-IN';
const lossOutChain = 'SBX-LOSS-OUT';
/** Name of the file that fills a broker's disk. */
export const diskFillerName = 'sbx-filler';
const fillChunkBytes = 1024 * 1024;

/** A directed cut: packets from broker `from` do not reach broker `to`. */
export interface Block {
  readonly from: number;
  readonly to: number;
}

export interface BandwidthCap {
  /** tc rate, e.g. `1mbit`. */
  readonly rate: string;
  /** Bucket size, e.g. `32kb`. */
  readonly burst: string;
  /** Longest a packet may wait in the queue before it is dropped, e.g. `200ms`. */
  readonly latency: string;
}

/** Every fault currently in force, so that `healAll` undoes exactly those. */
export interface ActiveFaults {
  blocks: Block[];
  lossProbability: number;
  bandwidth: Map<number, BandwidthCap>;
  filledDisks: Set<number>;
  clockSkewSeconds: Map<number, number>;
}

export interface FaultTargets {
  /** The directory whose tmpfs holds broker `id`'s data. */
  dataDir(id: number): string;
  /** libfaketime's timestamp file of broker `id`. */
  clockFile(id: number): string;
  /** Broker `id`'s admin address host:port (its Date header tells its clock). */
  adminAddress(id: number): string;
}

/** Every block of a symmetric split between `left` and `right`. */
export function splitBlocks(left: readonly number[], right: readonly number[]): Block[] {
  const blocks: Block[] = [];
  for (const a of left) {
    for (const b of right) blocks.push({ from: a, to: b }, { from: b, to: a });
  }
  return blocks;
}

/** A libfaketime offset for `seconds` (integer seconds, signed: `+30`, `-5`). */
export function faketimeOffset(seconds: number): string {
  const whole = Math.round(seconds);
  return whole < 0 ? `${whole}` : `+${whole}`;
}

export class RealFaults {
  private readonly active: ActiveFaults = {
    blocks: [],
    lossProbability: 0,
    bandwidth: new Map(),
    filledDisks: new Set(),
    clockSkewSeconds: new Map(),
  };

  constructor(
    private readonly network: NetnsNetwork,
    private readonly targets: FaultTargets,
  ) {}

  /** A copy of what is in force now. */
  inForce(): {
    blocks: Block[];
    lossProbability: number;
    bandwidth: number[];
    filledDisks: number[];
    clockSkewSeconds: [number, number][];
  } {
    return {
      blocks: [...this.active.blocks],
      lossProbability: this.active.lossProbability,
      bandwidth: [...this.active.bandwidth.keys()],
      filledDisks: [...this.active.filledDisks],
      clockSkewSeconds: [...this.active.clockSkewSeconds],
    };
  }

  /** Creates the (empty) chains in every broker namespace; called once before the brokers start. */
  async install(): Promise<void> {
    const eth = 'eth0';
    for (const id of this.network.brokerIds) {
      await this.restore(id, [
        `:${partitionChain} - [0:0]`,
        `:${lossInChain} - [0:0]`,
        `:${lossOutChain} - [0:0]`,
        `-A INPUT -i ${eth} -j ${partitionChain}`,
        `-A INPUT -i ${eth} -j ${lossInChain}`,
        `-A OUTPUT -o ${eth} -j ${lossOutChain}`,
      ]);
    }
  }

  // ---- partitions -------------------------------------------------------------------------

  /** Replaces the partition in force by `blocks` (directed: a one-way cut is one block). */
  async partition(blocks: readonly Block[]): Promise<void> {
    this.active.blocks = [...blocks];
    for (const id of this.network.brokerIds) {
      const sources = [
        ...new Set(blocks.filter((block) => block.to === id && block.from !== id).map((block) => block.from)),
      ];
      await this.restore(id, [
        `-F ${partitionChain}`,
        ...sources.map((from) => `-A ${partitionChain} -s ${this.network.names.brokerAddress(from)} -j DROP`),
      ]);
    }
  }

  /** Broker `id` neither hears nor reaches any other broker (clients still reach it). */
  isolate(id: number): Promise<void> {
    return this.partition(
      splitBlocks(
        [id],
        this.network.brokerIds.filter((other) => other !== id),
      ),
    );
  }

  /** `left` and `right` do not see each other. */
  split(left: readonly number[], right: readonly number[]): Promise<void> {
    return this.partition(splitBlocks(left, right));
  }

  /** Packets from `from` reach no other broker; it still hears them. */
  oneWay(from: number): Promise<void> {
    return this.partition(this.network.brokerIds.filter((id) => id !== from).map((to) => ({ from, to })));
  }

  async healPartition(): Promise<void> {
    if (this.active.blocks.length === 0) return;
    await this.partition([]);
  }

  // ---- packet loss ------------------------------------------------------------------------

  /** Every packet into a broker (from peers and clients) and out of it to the clients is dropped with `probability`. */
  async loss(probability: number): Promise<void> {
    if (!(probability >= 0 && probability < 1))
      throw new Error(`loss probability must be in [0, 1), got ${probability}`);
    this.active.lossProbability = probability;
    const p = probability.toFixed(4);
    const host = this.network.names.hostAddress;
    for (const id of this.network.brokerIds) {
      const rules =
        probability === 0
          ? []
          : [
              `-A ${lossInChain} -m statistic --mode random --probability ${p} -j DROP`,
              `-A ${lossOutChain} -d ${host} -m statistic --mode random --probability ${p} -j DROP`,
            ];
      await this.restore(id, [`-F ${lossInChain}`, `-F ${lossOutChain}`, ...rules]);
    }
  }

  async clearLoss(): Promise<void> {
    if (this.active.lossProbability === 0) return;
    await this.loss(0);
  }

  // ---- bandwidth ----------------------------------------------------------------------------

  /** Caps broker `id`'s traffic both ways: tbf on its eth0 (egress) and on its bridge port (its ingress). */
  async capBandwidth(id: number, cap: BandwidthCap): Promise<void> {
    const tbf = ['root', 'tbf', 'rate', cap.rate, 'burst', cap.burst, 'latency', cap.latency];
    await inNamespace(this.network.names.brokerNamespace(id), 'tc', ['qdisc', 'replace', 'dev', 'eth0', ...tbf]);
    await inNamespace(this.network.names.bridgeNamespace, 'tc', [
      'qdisc',
      'replace',
      'dev',
      this.network.names.bridgePort(id),
      ...tbf,
    ]);
    this.active.bandwidth.set(id, cap);
  }

  async clearBandwidth(): Promise<void> {
    for (const id of [...this.active.bandwidth.keys()]) {
      await inNamespace(this.network.names.brokerNamespace(id), 'tc', ['qdisc', 'del', 'dev', 'eth0', 'root']).catch(
        () => undefined,
      );
      await inNamespace(this.network.names.bridgeNamespace, 'tc', [
        'qdisc',
        'del',
        'dev',
        this.network.names.bridgePort(id),
        'root',
      ]).catch(() => undefined);
      this.active.bandwidth.delete(id);
    }
  }

  // ---- disk -------------------------------------------------------------------------------

  /** Fills broker `id`'s tmpfs until ENOSPC; returns the filler's size in bytes. */
  async fillDisk(id: number): Promise<number> {
    this.active.filledDisks.add(id);
    const file = await open(join(this.targets.dataDir(id), diskFillerName), 'w');
    let written = 0;
    try {
      // Big chunks, then pages: the last few kilobytes are filled too.
      for (const chunk of [fillChunkBytes, 4096, 512]) {
        const zeros = Buffer.alloc(chunk);
        for (;;) {
          try {
            const { bytesWritten } = await file.write(zeros, 0, chunk, null);
            written += bytesWritten;
            if (bytesWritten < chunk) break;
          } catch (error) {
            if ((error as NodeJS.ErrnoException).code === 'ENOSPC') break;
            throw error;
          }
        }
      }
    } finally {
      await file.close();
    }
    return written;
  }

  async freeDisk(id: number): Promise<void> {
    await rm(join(this.targets.dataDir(id), diskFillerName), { force: true });
    this.active.filledDisks.delete(id);
  }

  // ---- clock ------------------------------------------------------------------------------

  /** Sets broker `id`'s wall clock `seconds` off the real one (libfaketime reads the file within ~1 s). */
  async skewClock(id: number, seconds: number): Promise<void> {
    await writeClockFile(this.targets.clockFile(id), seconds);
    if (Math.round(seconds) === 0) this.active.clockSkewSeconds.delete(id);
    else this.active.clockSkewSeconds.set(id, Math.round(seconds));
  }

  async clearClocks(): Promise<void> {
    for (const id of [...this.active.clockSkewSeconds.keys()]) await this.skewClock(id, 0);
  }

  /**
   * Broker `id`'s clock offset as it shows: the Date header of its admin server (whole seconds)
   * against this process's clock, in milliseconds (±1 s). Null when it does not answer.
   */
  async measureClockOffsetMs(id: number): Promise<number | null> {
    try {
      const before = Date.now();
      const response = await fetch(`http://${this.targets.adminAddress(id)}/live`, {
        signal: AbortSignal.timeout(2_000),
      });
      const after = Date.now();
      await response.arrayBuffer();
      const header = response.headers.get('date');
      if (header === null) return null;
      return Date.parse(header) + 500 - (before + after) / 2;
    } catch {
      return null;
    }
  }

  /**
   * Waits until broker `id`'s measured offset is within 1.5 s of `seconds` (libfaketime caches
   * the file for a second); returns the last measurement, or null if it never answered.
   */
  async confirmClock(id: number, seconds: number, timeoutMs = 5_000): Promise<number | null> {
    const deadline = Date.now() + timeoutMs;
    let last: number | null = null;
    while (Date.now() < deadline) {
      last = await this.measureClockOffsetMs(id);
      if (last !== null && Math.abs(last - seconds * 1000) <= 1_500) return last;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    return last;
  }

  // ---- all ----------------------------------------------------------------------------------

  /** Undoes every fault in force (partitions, loss, caps, full disks, skews); returns what it undid. */
  async healAll(): Promise<string[]> {
    const undone: string[] = [];
    if (this.active.blocks.length > 0) undone.push(`partition (${this.active.blocks.length} blocks)`);
    await this.healPartition();
    if (this.active.lossProbability > 0) undone.push(`loss ${this.active.lossProbability}`);
    await this.clearLoss();
    for (const id of this.active.bandwidth.keys()) undone.push(`bandwidth cap on broker ${id}`);
    await this.clearBandwidth();
    for (const id of [...this.active.filledDisks]) {
      undone.push(`full disk of broker ${id}`);
      await this.freeDisk(id);
    }
    for (const [id, seconds] of this.active.clockSkewSeconds)
      undone.push(`clock of broker ${id} (${faketimeOffset(seconds)} s)`);
    await this.clearClocks();
    return undone;
  }

  /** Rules and qdiscs in broker `id`'s namespace and its bridge port, as text (for checks and debugging). */
  async describe(id: number): Promise<string> {
    const rules = await inNamespace(this.network.names.brokerNamespace(id), 'iptables', ['-w', '-S']);
    const qdisc = await inNamespace(this.network.names.brokerNamespace(id), 'tc', ['qdisc', 'show', 'dev', 'eth0']);
    const port = await runHost('ip', [
      'netns',
      'exec',
      this.network.names.bridgeNamespace,
      'tc',
      'qdisc',
      'show',
      'dev',
      this.network.names.bridgePort(id),
    ]);
    return `${rules}${qdisc}${port}`;
  }

  /** Applies filter-table lines atomically in broker `id`'s namespace (other chains untouched). */
  private async restore(id: number, lines: readonly string[]): Promise<void> {
    await inNamespace(this.network.names.brokerNamespace(id), 'iptables-restore', ['-w', '--noflush'], {
      input: `*filter\n${lines.join('\n')}\nCOMMIT\n`,
    });
  }
}

/** Writes a libfaketime timestamp file atomically (a reader never sees half a file). */
export async function writeClockFile(path: string, seconds: number): Promise<void> {
  const temporary = `${path}.tmp`;
  await writeFile(temporary, `${faketimeOffset(seconds)}\n`);
  await rename(temporary, path);
}
