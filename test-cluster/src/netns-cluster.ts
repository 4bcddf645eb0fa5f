/**
 * Real broker processes on a real kernel network: every broker runs as `ip netns exec sbx-S-bI
 * node .../main.js server ...` in its own network namespace, with its own address (it listens
 * on, and advertises, 10.77.0.x:9092, admin on :9090), its own hostname (UTS namespace) and its
 * own data directory on a small tmpfs. The test process and its clients stay in the root
 * namespace, which has an address on the brokers' bridge (see netns.ts).
 *
 * Faults (`faults`): partitions, packet loss, bandwidth caps, full disks, clock skew (faults.ts);
 * process faults through `cluster` (SIGKILL, SIGSTOP/SIGCONT, SIGTERM and restart, by PID).
 *
 * Clean-up: `close()` undoes every fault in force, stops the brokers and removes every
 * namespace, veth, bridge, rule, mount and directory. SIGINT, SIGTERM and the process's exit do
 * the same synchronously (brokers SIGKILLed by PID); a run that was SIGKILLed itself leaves its
 * slot to the next run, which removes the leftovers first.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { TestCluster } from './cluster.js';
import { RealFaults, faketimeOffset } from './faults.js';
import { faketimeLibrary, realNetworkPreflight, runHost } from './host-tools.js';
import { NetnsNetwork } from './netns.js';

/** Ports every broker uses on its own address. */
export const netnsListenPort = 9092;
export const netnsAdminPort = 9090;
/**
 * Size of each broker's tmpfs: room for an hour of the chaos workload (measured: about 1 MB per
 * broker per minute at 150 records/s), small enough to fill within seconds (first-touch page
 * faults on this VM cost up to ~40 ms per MB).
 */
export const netnsDiskBytesDefault = 128 * 1024 * 1024;

export interface NetnsClusterOptions {
  /** Brokers (1..7). Default 3. */
  readonly size?: number;
  /** Extra environment for every broker (STREAMBUS_TICK_MS, ...). */
  readonly env?: Readonly<Record<string, string>>;
  /** One broker's own environment (its TLS certificate, ...), read when it is started. */
  readonly brokerEnv?: (brokerId: number) => Readonly<Record<string, string>>;
  readonly logLevel?: string;
  /** Size of each broker's data tmpfs in bytes. */
  readonly diskBytes?: number;
  /** Preload libfaketime into every broker so that its clock can be skewed at run time. Default true. */
  readonly clock?: boolean;
  readonly onProgress?: (line: string) => void;
}

/** Thrown when this machine cannot run the mode; the message says what is missing. */
export class RealNetworkUnavailableError extends Error {
  readonly code = 'REAL_NETWORK_UNAVAILABLE' as const;
}

export class NetnsCluster {
  readonly network: NetnsNetwork;
  readonly cluster: TestCluster;
  readonly faults: RealFaults;
  private readonly syncHooks = new Set<() => void>();
  private closed = false;
  private readonly onSignal: (signal: NodeJS.Signals) => void;
  private readonly onExit: () => void;

  private constructor(network: NetnsNetwork, cluster: TestCluster, faults: RealFaults) {
    this.network = network;
    this.cluster = cluster;
    this.faults = faults;
    this.onExit = () => this.teardownSync();
    this.onSignal = (signal) => {
      const removed = this.teardownSync();
      process.stderr.write(
        `${signal}: real-network cluster torn down (brokers SIGKILLed, ${removed.length} namespaces, mounts and directories removed)\n`,
      );
      process.exit(signal === 'SIGINT' ? 130 : 143);
    };
    process.on('exit', this.onExit);
    process.on('SIGINT', this.onSignal);
    process.on('SIGTERM', this.onSignal);
  }

  /** Builds the network, mounts the data disks and plans the brokers (none started yet). */
  static async create(options: NetnsClusterOptions = {}): Promise<NetnsCluster> {
    const clock = options.clock ?? true;
    const missing = realNetworkPreflight({ clock });
    if (missing.length > 0)
      throw new RealNetworkUnavailableError(`the real-network mode cannot run on this machine: ${missing.join('; ')}`);
    const progress = options.onProgress ?? (() => undefined);
    const size = options.size ?? 3;
    const network = await NetnsNetwork.create(size, progress);
    // Until the cluster object exists (and owns the handlers), a signal must still clean up.
    const early = (): void => void network.removeSync();
    process.once('exit', early);
    try {
      const preload = clock ? faketimeLibrary() : null;
      const dataDir = (id: number): string => join(network.runDir, `broker-${id}`);
      const clockFile = (id: number): string => join(network.runDir, `clock-${id}`);
      for (const id of network.brokerIds) {
        mkdirSync(dataDir(id), { recursive: true });
        await runHost('mount', [
          '-t',
          'tmpfs',
          '-o',
          `size=${options.diskBytes ?? netnsDiskBytesDefault},mode=0755`,
          `${network.names.brokerNamespace(id)}-data`,
          dataDir(id),
        ]);
        writeFileSync(clockFile(id), `${faketimeOffset(0)}\n`);
      }
      const cluster = await TestCluster.create({
        size,
        dataDir: network.runDir,
        listenHosts: network.brokerIds.map((id) => network.names.brokerAddress(id)),
        listenPorts: network.brokerIds.map(() => netnsListenPort),
        adminPorts: network.brokerIds.map(() => netnsAdminPort),
        ...(options.env === undefined ? {} : { env: options.env }),
        ...(options.brokerEnv === undefined ? {} : { brokerEnv: options.brokerEnv }),
        ...(options.logLevel === undefined ? {} : { logLevel: options.logLevel }),
        onProgress: progress,
        launcher: (id, nodeArgs) => ({
          ...network.launch(id, nodeArgs, preload),
          ...(preload === null
            ? {}
            : {
                env: {
                  SBX_PRELOAD: preload,
                  FAKETIME_TIMESTAMP_FILE: clockFile(id),
                  // Timers and timeouts run on the monotonic clock, which stays true; the file is re-read each second.
                  FAKETIME_DONT_FAKE_MONOTONIC: '1',
                  FAKETIME_CACHE_DURATION: '1',
                  NO_FAKE_STAT: '1',
                },
              }),
        }),
      });
      const faults = new RealFaults(network, {
        dataDir,
        clockFile,
        adminAddress: (id) => `${network.names.brokerAddress(id)}:${netnsAdminPort}`,
      });
      await faults.install();
      const built = new NetnsCluster(network, cluster, faults);
      process.off('exit', early);
      return built;
    } catch (error) {
      network.removeSync();
      process.off('exit', early);
      throw error;
    }
  }

  /** host:port of every broker, for clients in this (the root) namespace. */
  get bootstrapServers(): string[] {
    return this.cluster.brokers.map((broker) => broker.listen);
  }

  /** Data directory (tmpfs mount) of broker `id`. */
  dataDir(id: number): string {
    return join(this.network.runDir, `broker-${id}`);
  }

  /**
   * Adds a synchronous clean-up step run on SIGINT, SIGTERM and exit before the network goes
   * (e.g. SIGKILL of helper processes by PID). Returns its removal.
   */
  onTeardown(hook: () => void): () => void {
    this.syncHooks.add(hook);
    return () => this.syncHooks.delete(hook);
  }

  /** Bytes used and total of broker `id`'s data tmpfs. */
  async diskUsage(id: number): Promise<{ usedBytes: number; totalBytes: number }> {
    const stats = await statfs(this.dataDir(id));
    return { usedBytes: (stats.blocks - stats.bfree) * stats.bsize, totalBytes: stats.blocks * stats.bsize };
  }

  /** Stops every broker (paused ones resumed first): SIGTERM, SIGKILL after `graceMs`. */
  async stopBrokers(graceMs = 15_000): Promise<void> {
    await this.cluster.stopAll(graceMs);
  }

  /**
   * Undoes every fault in force, stops the brokers, removes the network, mounts and run
   * directory. Returns what it undid and removed. Idempotent.
   */
  async close(): Promise<string[]> {
    if (this.closed) return [];
    const done: string[] = [];
    try {
      done.push(...(await this.faults.healAll()).map((what) => `undid ${what}`));
    } catch (error) {
      done.push(`undoing faults failed (${(error as Error).message}); the namespaces go with them`);
    }
    await this.cluster.stopAll(10_000).catch(() => undefined);
    done.push(...this.teardownSync());
    return done;
  }

  /** What of this run's slot still exists on the host (empty after `close`). */
  async leftovers(): Promise<string[]> {
    const found: string[] = [];
    const namespaces = (await runHost('ip', ['netns', 'list'])).split('\n').map((line) => line.split(' ')[0] ?? '');
    const prefix = `sbx-${this.network.names.slot}-`;
    found.push(...namespaces.filter((name) => name.startsWith(prefix)).map((name) => `netns ${name}`));
    const links = await runHost('ip', ['-o', 'link', 'show']);
    if (links.includes(` ${this.network.names.hostLink}:`) || links.includes(` ${this.network.names.hostLink}@`))
      found.push(`link ${this.network.names.hostLink}`);
    const mounts = await runHost('cat', ['/proc/self/mounts']);
    found.push(
      ...mounts
        .split('\n')
        .filter((line) => line.includes(this.network.runDir))
        .map((line) => `mount ${line.split(' ')[1] ?? ''}`),
    );
    return found;
  }

  private teardownSync(): string[] {
    if (this.closed) return [];
    this.closed = true;
    process.off('exit', this.onExit);
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
    for (const hook of this.syncHooks) {
      try {
        hook();
      } catch {
        // the next hook and the network still go
      }
    }
    for (const broker of this.cluster.brokers) {
      const pid = this.cluster.pid(broker.id);
      if (pid === undefined) continue;
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    return this.network.removeSync().map((what) => `removed ${what}`);
  }
}
