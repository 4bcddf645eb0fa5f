/**
 * Connection management shared by Producer, Consumer and Admin: the bootstrap list, one gRPC
 * channel per broker, a metadata cache refreshed on demand (NOT_LEADER, UNKNOWN_TOPIC_OR_PARTITION,
 * connection errors) and on age, deadlines on every call, and bounded retries with backoff.
 */
import * as grpc from '@grpc/grpc-js';
import {
  ErrorCode,
  createStreamBusRpcClient,
  type BrokerInfo,
  type MetadataResponse,
  type PartitionMetadata,
  type StreamBusMethodName,
  type StreamBusMethods,
  type StreamBusRpcClient,
  type TopicMetadata,
} from '@streambus/proto';
import {
  adminAttemptsMax,
  brokersMax,
  metadataMaxAgeMsDefault,
  requestTimeoutMsDefault,
  retryBackoffMsDefault,
  retryBackoffMsMaxDefault,
} from '../constants.js';
import {
  BrokerNotAvailableError,
  ClientClosedError,
  InvalidConfigError,
  StreamBusError,
  UnknownTopicOrPartitionError,
  errorFromCall,
  errorFromCode,
} from '../errors.js';
import { backoffMs, sleep } from '../backoff.js';
import type { ClientOptions } from './options.js';

/** Where a call goes: a broker id, or `'any'` broker (bootstrap or known). */
export type CallTarget = number | 'any';

/** Settled options, every field present. */
export interface ResolvedClientOptions {
  bootstrapServers: readonly string[];
  clientId: string;
  requestTimeoutMs: number;
  retryBackoffMs: number;
  retryBackoffMsMax: number;
  metadataMaxAgeMs: number;
  random: () => number;
  callMetadata: (() => Readonly<Record<string, string>>) | undefined;
}

function positive(value: number | undefined, fallback: number, name: string): number {
  const v = value ?? fallback;
  if (!Number.isFinite(v) || v <= 0) throw new InvalidConfigError(`${name} must be a positive number, got ${v}`);
  return v;
}

/** Checks and fills client options. */
export function resolveClientOptions(options: ClientOptions): ResolvedClientOptions {
  if (options.bootstrapServers.length === 0) throw new InvalidConfigError('bootstrapServers must name at least one broker (host:port)');
  for (const server of options.bootstrapServers) {
    if (!/^[^:\s]+:\d+$/.test(server) && !/^\[[^\]]+\]:\d+$/.test(server)) {
      throw new InvalidConfigError(`bootstrap server "${server}" is not host:port`);
    }
  }
  const retryBackoffMs = positive(options.retryBackoffMs, retryBackoffMsDefault, 'retryBackoffMs');
  const retryBackoffMsMax = positive(options.retryBackoffMsMax, Math.max(retryBackoffMs, retryBackoffMsMaxDefault), 'retryBackoffMsMax');
  if (retryBackoffMsMax < retryBackoffMs) throw new InvalidConfigError('retryBackoffMsMax must be >= retryBackoffMs');
  return {
    bootstrapServers: [...options.bootstrapServers],
    clientId: options.clientId ?? 'streambus-ts',
    requestTimeoutMs: positive(options.requestTimeoutMs, requestTimeoutMsDefault, 'requestTimeoutMs'),
    retryBackoffMs,
    retryBackoffMsMax,
    metadataMaxAgeMs: positive(options.metadataMaxAgeMs, metadataMaxAgeMsDefault, 'metadataMaxAgeMs'),
    random: options.random ?? Math.random,
    callMetadata: options.callMetadata,
  };
}

interface CachedTopic {
  readonly metadata: TopicMetadata;
  readonly fetchedAtMs: number;
}

/** The client's view of the cluster and its channels. */
export class Cluster {
  readonly options: ResolvedClientOptions;
  private readonly brokers = new Map<number, BrokerInfo>();
  private readonly topics = new Map<string, CachedTopic>();
  /** Topics this client has asked about: every refresh covers them all. */
  private readonly interestingTopics = new Set<string>();
  private readonly channels = new Map<string, StreamBusRpcClient>();
  private refreshInFlight: Promise<void> | undefined;
  /** Topics the refresh in flight asks about. */
  private refreshCovers: ReadonlySet<string> = new Set();
  private nextAnyIndex = 0;
  private closed = false;
  /** Cluster id from the last Metadata response. */
  clusterId = '';
  /** Controller id from the last Metadata response (0 while unknown). */
  controllerId = 0;

  constructor(options: ClientOptions) {
    this.options = resolveClientOptions(options);
  }

  /** Known brokers. */
  brokerList(): BrokerInfo[] {
    return [...this.brokers.values()];
  }

  /** The cached metadata of a topic (possibly stale), or undefined. */
  cachedTopic(topic: string): TopicMetadata | undefined {
    return this.topics.get(topic)?.metadata;
  }

  /** True when the topic's cached metadata is older than metadataMaxAgeMs (or absent). */
  isStale(topic: string): boolean {
    const cached = this.topics.get(topic);
    return cached === undefined || Date.now() - cached.fetchedAtMs >= this.options.metadataMaxAgeMs;
  }

  /** Cached partition metadata, or undefined. */
  cachedPartition(topic: string, partition: number): PartitionMetadata | undefined {
    return this.topics.get(topic)?.metadata.partitions[partition];
  }

  /** Leader broker id of a partition from the cache; 0 when unknown. */
  leaderOf(topic: string, partition: number): number {
    const p = this.cachedPartition(topic, partition);
    return p === undefined || !this.brokers.has(p.leaderId) ? 0 : p.leaderId;
  }

  /** Forgets what is cached about a topic so that the next use refreshes it. */
  invalidateTopic(topic: string): void {
    this.topics.delete(topic);
  }

  /** Marks a partition's leader unknown (after NOT_LEADER without a hint) until the next refresh. */
  forgetLeader(topic: string, partition: number): void {
    const p = this.topics.get(topic)?.metadata.partitions[partition];
    if (p !== undefined) p.leaderId = 0;
  }

  /**
   * Applies a leader hint (from NOT_LEADER) to the cache when the hinted broker is known and the
   * epoch is not older than the cached one. Returns whether the hint was used.
   */
  applyLeaderHint(topic: string, partition: number, leaderId: number, leaderEpoch: number): boolean {
    const cached = this.topics.get(topic);
    const p = cached?.metadata.partitions[partition];
    if (cached === undefined || p === undefined || leaderId === 0 || !this.brokers.has(leaderId)) return false;
    if (leaderEpoch !== 0 && leaderEpoch < p.leaderEpoch) return false;
    p.leaderId = leaderId;
    if (leaderEpoch !== 0) p.leaderEpoch = leaderEpoch;
    return true;
  }

  /**
   * Metadata of `topic`, from the cache when fresh, else refreshed (with retries while the topic
   * is unknown or brokers fail, up to `adminAttemptsMax`). Throws a typed error.
   */
  async topicMetadata(topic: string): Promise<TopicMetadata> {
    this.interestingTopics.add(topic);
    let lastError: StreamBusError | undefined;
    for (let attempt = 0; attempt < adminAttemptsMax; attempt++) {
      const cached = this.topics.get(topic);
      if (cached !== undefined && Date.now() - cached.fetchedAtMs < this.options.metadataMaxAgeMs) return cached.metadata;
      if (attempt > 0) await this.backoff(attempt - 1);
      try {
        await this.refreshMetadata([topic]);
        const fresh = this.topics.get(topic);
        if (fresh !== undefined) return fresh.metadata;
        lastError = new UnknownTopicOrPartitionError(`topic "${topic}" does not exist; create it first (Admin.createTopic)`);
      } catch (error) {
        if (!(error instanceof StreamBusError) || !error.retriable) throw error;
        lastError = error;
      }
    }
    throw lastError ?? new UnknownTopicOrPartitionError(`topic "${topic}" does not exist`);
  }

  /** Number of partitions of `topic` (refreshing metadata when needed). */
  async partitionCount(topic: string): Promise<number> {
    return (await this.topicMetadata(topic)).partitions.length;
  }

  /**
   * Refreshes brokers and the metadata of `topics` plus every topic asked about before.
   * Concurrent refreshes share one request. Throws BrokerNotAvailableError when no broker answers.
   */
  refreshMetadata(topics: readonly string[] = []): Promise<void> {
    for (const topic of topics) {
      this.interestingTopics.add(topic);
    }
    if (this.refreshInFlight !== undefined) {
      // Chain one more refresh after the running one when it does not cover the new topics.
      if (topics.every((t) => this.refreshCovers.has(t))) return this.refreshInFlight;
      const again = (): Promise<void> => this.refreshMetadata(topics);
      return this.refreshInFlight.then(again, again);
    }
    const run = this.doRefresh().finally(() => {
      this.refreshInFlight = undefined;
    });
    this.refreshInFlight = run;
    return run;
  }

  private async doRefresh(): Promise<void> {
    const topics = [...this.interestingTopics];
    this.refreshCovers = new Set(topics);
    const response = await this.call('any', 'Metadata', { topics, brokersOnly: topics.length === 0 });
    this.applyMetadata(response, topics);
  }

  /** Lists every topic's metadata (does not cache topics nobody asked about). */
  async allTopics(): Promise<TopicMetadata[]> {
    const response = await this.callWithRetries('any', 'Metadata', { topics: [], brokersOnly: false });
    this.applyMetadata(response, []);
    return response.topics;
  }

  private applyMetadata(response: MetadataResponse, requested: readonly string[]): void {
    this.clusterId = response.clusterId;
    this.controllerId = response.controllerId;
    if (response.brokers.length > 0) {
      this.brokers.clear();
      for (const broker of response.brokers.slice(0, brokersMax)) this.brokers.set(broker.id, broker);
    }
    const now = Date.now();
    for (const topic of response.topics) {
      if (topic.errorCode !== ErrorCode.NONE) {
        this.topics.delete(topic.name);
        continue;
      }
      const previous = this.topics.get(topic.name)?.metadata;
      if (previous !== undefined) {
        // Keep a newer leader learnt from a hint when this answer comes from a lagging broker.
        for (const p of topic.partitions) {
          const old = previous.partitions[p.partition];
          if (old !== undefined && old.leaderEpoch > p.leaderEpoch) {
            p.leaderId = old.leaderId;
            p.leaderEpoch = old.leaderEpoch;
          }
        }
      }
      topic.partitions.sort((a, b) => a.partition - b.partition);
      this.topics.set(topic.name, { metadata: topic, fetchedAtMs: now });
    }
    const answered = new Set(response.topics.map((t) => t.name));
    for (const name of requested) if (!answered.has(name)) this.topics.delete(name);
  }

  /** The channel to a broker; throws BrokerNotAvailableError when the broker is unknown. */
  channelFor(brokerId: number): StreamBusRpcClient {
    const broker = this.brokers.get(brokerId);
    if (broker === undefined) throw new BrokerNotAvailableError(`broker ${brokerId} is not in the metadata; refreshing`);
    return this.channel(`${broker.host}:${broker.port}`);
  }

  private channel(address: string): StreamBusRpcClient {
    if (this.closed) throw new ClientClosedError('the client is closed');
    let channel = this.channels.get(address);
    if (channel === undefined) {
      channel = createStreamBusRpcClient(address);
      this.channels.set(address, channel);
    }
    return channel;
  }

  private anyAddress(): string {
    const known = [...this.brokers.values()].map((b) => `${b.host}:${b.port}`);
    const addresses = [...new Set([...known, ...this.options.bootstrapServers])];
    const address = addresses[this.nextAnyIndex % addresses.length] as string;
    this.nextAnyIndex++;
    return address;
  }

  /**
   * One RPC to `target` with a deadline of requestTimeoutMs (+ `extraDeadlineMs`). Failures come
   * back as typed errors; connection failures also invalidate the broker's entry so that the
   * next call refreshes metadata.
   */
  async call<M extends StreamBusMethodName>(
    target: CallTarget,
    method: M,
    request: StreamBusMethods[M]['request'],
    extraDeadlineMs = 0,
  ): Promise<StreamBusMethods[M]['response']> {
    if (this.closed) throw new ClientClosedError('the client is closed');
    const channel = target === 'any' ? this.channel(this.anyAddress()) : this.channelFor(target);
    const metadata = new grpc.Metadata();
    metadata.set('streambus-client-id', this.options.clientId);
    const extra = this.options.callMetadata?.();
    if (extra !== undefined) for (const [key, value] of Object.entries(extra)) metadata.set(key, value);
    const invoke = channel[method] as (
      r: StreamBusMethods[M]['request'],
      o: { deadlineMs: number; metadata: grpc.Metadata },
    ) => Promise<StreamBusMethods[M]['response']>;
    try {
      return await invoke(request, { deadlineMs: this.options.requestTimeoutMs + extraDeadlineMs, metadata });
    } catch (error) {
      if (this.closed) throw new ClientClosedError('the client is closed', { cause: error });
      throw errorFromCall(error, channel.address);
    }
  }

  /**
   * `call` retried on retriable errors (refreshing metadata in between) up to
   * `adminAttemptsMax` attempts. For metadata and admin requests, which are idempotent.
   */
  async callWithRetries<M extends StreamBusMethodName>(
    target: CallTarget,
    method: M,
    request: StreamBusMethods[M]['request'],
  ): Promise<StreamBusMethods[M]['response']> {
    let lastError: StreamBusError | undefined;
    for (let attempt = 0; attempt < adminAttemptsMax; attempt++) {
      if (attempt > 0) await this.backoff(attempt - 1);
      try {
        return await this.call(target, method, request);
      } catch (error) {
        if (!(error instanceof StreamBusError) || !error.retriable) throw error;
        lastError = error;
      }
    }
    throw lastError ?? new BrokerNotAvailableError('no attempt was made');
  }

  /** Waits the backoff of `attempt` (0-based). */
  backoff(attempt: number): Promise<void> {
    return sleep(this.backoffMs(attempt));
  }

  /** The backoff of `attempt` in milliseconds. */
  backoffMs(attempt: number): number {
    return backoffMs(attempt, this.options.retryBackoffMs, this.options.retryBackoffMsMax, this.options.random);
  }

  /** Throws the typed error of a per-partition or per-topic result code. */
  static throwIfError(code: ErrorCode, message: string, leaderId = 0): void {
    if (code !== ErrorCode.NONE) throw errorFromCode(code, message, leaderId);
  }

  /** True once `close()` ran. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Closes every channel. Calls in flight fail with ClientClosedError. */
  close(): void {
    this.closed = true;
    for (const channel of this.channels.values()) channel.close();
    this.channels.clear();
  }
}
