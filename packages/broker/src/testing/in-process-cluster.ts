/**
 * Real brokers in one process (real gRPC on 127.0.0.1, real LevelDB in a temporary directory),
 * for tests and the chaos harness. Brokers can be stopped gracefully, killed (no hand-off) and
 * restarted on the same data directory; every one is stopped by `close()`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TracerProvider } from '@opentelemetry/api';
import type { HostTimer, RaftStore, RaftTransport } from '@streambus/raft';
import { createBrokerMetrics } from '../admin/metrics.js';
import type { BrokerMetrics } from '../admin/metrics.js';
import { resolveConfig } from '../config/load.js';
import type { BrokerConfig, LogLevel, SeedUserCredential } from '../config/types.js';
import { createLogger } from '../logging/logger.js';
import type { Logger } from '../logging/logger.js';
import type { UnsafeTestingKnobs } from '../partition/partition-replica.js';
import { Broker } from '../server/broker.js';
import {
  clusterReadyPollMs,
  clusterReadyWaitMsDefault,
  clusterSizeDefault,
  clusterTickMsDefault,
  clusterOffsetsTopicPartitionsDefault,
} from './constants.js';
import { freePorts } from './ports.js';
import { rethrowBug } from '../bugs.js';

export interface InProcessClusterOptions {
  /** Brokers; default 3. */
  readonly size?: number;
  /** Extra STREAMBUS_* settings for every broker (e.g. STREAMBUS_WAL_SYNC: 'none'). */
  readonly env?: Readonly<Record<string, string>>;
  /** Users to seed (what security.users_file gives loadConfig; resolveConfig reads no file). */
  readonly seedUsers?: readonly SeedUserCredential[];
  /** STREAMBUS_* settings of one broker, over `env` (e.g. its own TLS certificate). */
  readonly brokerEnv?: (brokerId: number) => Readonly<Record<string, string>>;
  /** Raft tick; default 20 ms (elections within ~0.5 s). */
  readonly tickMs?: number;
  /** Broker log level; default 'error'. */
  readonly logLevel?: LogLevel;
  /** Wraps each broker's peer transport, e.g. to inject faults. */
  readonly wrapTransport?: (brokerId: number, transport: RaftTransport) => RaftTransport;
  /** Wraps each broker's Raft store (called at every start), e.g. to lose unsynced writes on a kill. */
  readonly wrapStore?: (brokerId: number, store: RaftStore) => RaftStore;
  /** Each broker's Raft host timer (called at every start), e.g. to pause it or skew its clock. */
  readonly timer?: (brokerId: number) => HostTimer;
  /** Planted faults (chaos harness self-tests). NEVER in production; default all off. */
  readonly unsafeTestingKnobs?: UnsafeTestingKnobs;
  /** Each broker's tracer provider (called at every start); default none: nothing is traced. */
  readonly tracerProvider?: (brokerId: number) => TracerProvider;
  /** Give each broker a metrics registry (read with `metrics(id)`); default none. */
  readonly metrics?: boolean;
}

interface Member {
  readonly id: number;
  readonly port: number;
  readonly adminPort: number;
  readonly dataDir: string;
  broker: Broker | null;
  metrics: BrokerMetrics | null;
}

export class InProcessCluster {
  private constructor(
    readonly dir: string,
    private readonly members: Map<number, Member>,
    private readonly options: InProcessClusterOptions,
    private readonly logger: Logger,
  ) {}

  static async start(options: InProcessClusterOptions = {}): Promise<InProcessCluster> {
    const size = options.size ?? clusterSizeDefault;
    const dir = await mkdtemp(join(tmpdir(), 'streambus-cluster-'));
    const ports = await freePorts(size * 2);
    const members = new Map<number, Member>();
    for (let index = 0; index < size; index++) {
      const id = index + 1;
      members.set(id, {
        id,
        port: ports[index] as number,
        adminPort: ports[size + index] as number,
        dataDir: join(dir, `broker-${id}`),
        broker: null,
        metrics: null,
      });
    }
    const logger = createLogger({ level: options.logLevel ?? 'error', destination: process.stderr });
    const cluster = new InProcessCluster(dir, members, options, logger);
    try {
      await Promise.all([...members.keys()].map((id) => cluster.startBroker(id)));
    } catch (error) {
      await cluster.close();
      throw error;
    }
    return cluster;
  }

  /** host:port of every broker, comma separated. */
  get bootstrap(): string {
    return [...this.members.values()].map((member) => `127.0.0.1:${member.port}`).join(',');
  }

  get bootstrapServers(): string[] {
    return [...this.members.values()].map((member) => `127.0.0.1:${member.port}`);
  }

  ids(): number[] {
    return [...this.members.keys()];
  }

  /** The running broker with this id; throws if it is stopped. */
  broker(id: number): Broker {
    const broker = this.member(id).broker;
    if (broker === null) throw new Error(`broker ${id} is not running`);
    return broker;
  }

  /** The metrics registry of a running broker (the cluster was started with `metrics: true`). */
  metrics(id: number): BrokerMetrics {
    const metrics = this.member(id).metrics;
    if (metrics === null || this.member(id).broker === null) throw new Error(`broker ${id} has no metrics`);
    return metrics;
  }

  isRunning(id: number): boolean {
    return this.member(id).broker !== null;
  }

  running(): Broker[] {
    return [...this.members.values()].flatMap((member) => (member.broker === null ? [] : [member.broker]));
  }

  config(id: number): BrokerConfig {
    const member = this.member(id);
    const peers = [...this.members.values()].map((other) => `${other.id}=127.0.0.1:${other.port}`).join(',');
    const env: Record<string, string> = {
      STREAMBUS_TICK_MS: String(this.options.tickMs ?? clusterTickMsDefault),
      STREAMBUS_GROUPS_OFFSETS_TOPIC_PARTITIONS: String(clusterOffsetsTopicPartitionsDefault),
      ...this.options.env,
      ...this.options.brokerEnv?.(id),
    };
    const result = resolveConfig({
      env,
      flags: {
        id: String(id),
        dataDir: member.dataDir,
        listen: `127.0.0.1:${member.port}`,
        admin: `127.0.0.1:${member.adminPort}`,
        peers,
        logLevel: this.options.logLevel ?? 'error',
      },
    });
    if (!result.ok)
      throw new Error(
        `test cluster config is invalid: ${result.problems.map((problem) => `${problem.path}: ${problem.message}`).join('; ')}`,
      );
    const config = result.loaded.config;
    const seedUsers = this.options.seedUsers;
    return seedUsers === undefined ? config : { ...config, security: { ...config.security, seedUsers } };
  }

  async startBroker(id: number): Promise<Broker> {
    const member = this.member(id);
    if (member.broker !== null) throw new Error(`broker ${id} is already running`);
    const wrap = this.options.wrapTransport;
    const wrapStore = this.options.wrapStore;
    const timer = this.options.timer;
    const knobs = this.options.unsafeTestingKnobs;
    const tracerProvider = this.options.tracerProvider;
    const metrics = this.options.metrics === true ? createBrokerMetrics({ processMetrics: false, brokerId: id }) : null;
    const broker = await Broker.start({
      config: this.config(id),
      logger: this.logger.child({ broker_id: id }),
      ...(wrap === undefined ? {} : { wrapTransport: (transport: RaftTransport) => wrap(id, transport) }),
      ...(wrapStore === undefined ? {} : { wrapStore: (store: RaftStore) => wrapStore(id, store) }),
      ...(timer === undefined ? {} : { timer: timer(id) }),
      ...(knobs === undefined ? {} : { unsafeTestingKnobs: knobs }),
      ...(tracerProvider === undefined ? {} : { tracerProvider: tracerProvider(id) }),
      ...(metrics === null ? {} : { metrics }),
    });
    member.broker = broker;
    member.metrics = metrics;
    return broker;
  }

  /** Graceful stop (leadership hand-off, flush). */
  async stopBroker(id: number): Promise<void> {
    const member = this.member(id);
    const broker = member.broker;
    member.broker = null;
    await broker?.stop();
  }

  /** Abrupt stop: no hand-off; only what the sync policy made durable survives. */
  async killBroker(id: number): Promise<void> {
    const member = this.member(id);
    const broker = member.broker;
    member.broker = null;
    await broker?.kill();
  }

  /** Waits until every running broker reports ready (or throws with the last reasons). */
  async waitReady(timeoutMs = clusterReadyWaitMsDefault): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let reasons: string[] = [];
    while (Date.now() < deadline) {
      reasons = this.running().flatMap((broker) => {
        const reason = broker.notReadyReason();
        return reason === null ? [] : [`broker ${broker.nodeId}: ${reason}`];
      });
      if (reasons.length === 0) return;
      await new Promise((resolve) => setTimeout(resolve, clusterReadyPollMs));
    }
    throw new Error(`cluster not ready after ${timeoutMs} ms: ${reasons.join('; ')}`);
  }

  async close(): Promise<void> {
    await Promise.all(
      [...this.members.values()].map(async (member) => {
        const broker = member.broker;
        member.broker = null;
        await broker?.kill().catch(rethrowBug);
      }),
    );
    await rm(this.dir, { recursive: true, force: true });
  }

  private member(id: number): Member {
    const member = this.members.get(id);
    if (member === undefined) throw new Error(`no broker ${id} in this cluster`);
    return member;
  }
}
