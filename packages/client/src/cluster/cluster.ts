/**
 * Connection management shared by Producer, Consumer and Admin: the bootstrap list, one gRPC
 * channel per broker, a metadata cache refreshed on demand (NOT_LEADER, UNKNOWN_TOPIC_OR_PARTITION,
 * connection errors) and on age, deadlines on every call, and bounded retries with backoff.
 *
 * Any minority of brokers may be down: dead (connections refused), paused (TCP accepted, nothing
 * answered) or unreachable (packets dropped). Every call first waits, at most connectTimeoutMs,
 * for its channel to be connected; a broker whose connection or call failed is skipped by
 * `'any'` calls until its backoff has passed; metadata comes from whichever broker answers.
 */
import * as grpc from '@grpc/grpc-js';
import {
  ErrorCode,
  createStreamBusRpcClient,
  scramSha256Mechanism,
  sessionMetadataKey,
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
  anyConnectFanoutMax,
  brokersMax,
  connectTimeoutMsDefault,
  keepaliveTimeMs,
  keepaliveTimeoutMs,
  dnsResolutionMsMin,
  metadataRequestTimeoutMsMax,
  metadataMaxAgeMsDefault,
  requestTimeoutMsDefault,
  retryBackoffMsDefault,
  retryBackoffMsMaxDefault,
} from '../constants.js';
import {
  BrokerNotAvailableError,
  ClientClosedError,
  AuthenticationError,
  InvalidConfigError,
  RequestTimedOutError,
  SessionExpiredError,
  StreamBusError,
  TlsHandshakeError,
  UnknownTopicOrPartitionError,
  errorFromCall,
  errorFromCode,
} from '../errors.js';
import { backoffMs, sleep } from '../backoff.js';
import type { ClientOptions, SaslOptions } from './options.js';
import { Sessions, diagnoseTls, resolveTls, tlsChannelOptions, type ResolvedTls } from './security.js';
import { ClientTracing, endCall } from '../tracing.js';
import type { CallTrace } from '../tracing.js';
import { BrokerHealth } from './broker-health.js';

/** Where a call goes: a broker id, or `'any'` broker (bootstrap or known). */
export type CallTarget = number | 'any';

/** Per-call options of `Cluster.call`. */
export interface CallOptions {
  /** Deadline of the call once its connection is made (default requestTimeoutMs). */
  readonly deadlineMs?: number;
  /** The call's span (a produce's send, a fetch's receive); default a child of the active span, if any. */
  readonly trace?: CallTrace;
}

/** Settled options, every field present. */
export interface ResolvedClientOptions {
  bootstrapServers: readonly string[];
  clientId: string;
  requestTimeoutMs: number;
  connectTimeoutMs: number;
  retryBackoffMs: number;
  retryBackoffMsMax: number;
  metadataMaxAgeMs: number;
  random: () => number;
  callMetadata: (() => Readonly<Record<string, string>>) | undefined;
  /** TLS towards every broker; undefined: plaintext. */
  tls: ResolvedTls | undefined;
  /** SCRAM-SHA-256 credentials; undefined: no authentication. */
  sasl: SaslOptions | undefined;
}

function positive(value: number | undefined, fallback: number, name: string): number {
  const v = value ?? fallback;
  if (!Number.isFinite(v) || v <= 0) throw new InvalidConfigError(`${name} must be a positive number, got ${v}`);
  return v;
}

/** Checks and fills client options. */
export function resolveClientOptions(options: ClientOptions): ResolvedClientOptions {
  if (options.bootstrapServers.length === 0)
    throw new InvalidConfigError('bootstrapServers must name at least one broker (host:port)');
  for (const server of options.bootstrapServers) {
    if (!/^[^:\s]+:\d+$/.test(server) && !/^\[[^\]]+\]:\d+$/.test(server)) {
      throw new InvalidConfigError(`bootstrap server "${server}" is not host:port`);
    }
  }
  const retryBackoffMs = positive(options.retryBackoffMs, retryBackoffMsDefault, 'retryBackoffMs');
  const retryBackoffMsMax = positive(
    options.retryBackoffMsMax,
    Math.max(retryBackoffMs, retryBackoffMsMaxDefault),
    'retryBackoffMsMax',
  );
  if (retryBackoffMsMax < retryBackoffMs) throw new InvalidConfigError('retryBackoffMsMax must be >= retryBackoffMs');
  const requestTimeoutMs = positive(options.requestTimeoutMs, requestTimeoutMsDefault, 'requestTimeoutMs');
  const connectTimeoutMs = positive(
    options.connectTimeoutMs,
    Math.min(connectTimeoutMsDefault, requestTimeoutMs),
    'connectTimeoutMs',
  );
  if (connectTimeoutMs > requestTimeoutMs) throw new InvalidConfigError('connectTimeoutMs must be <= requestTimeoutMs');
  const sasl = options.sasl;
  if (sasl !== undefined) {
    const mechanism: string = sasl.mechanism ?? scramSha256Mechanism;
    if (mechanism !== scramSha256Mechanism)
      throw new InvalidConfigError(`sasl.mechanism must be ${scramSha256Mechanism}, got ${mechanism}`);
    if (sasl.username === '') throw new InvalidConfigError('sasl.username is empty');
    if (sasl.password === '') throw new InvalidConfigError(`sasl.password of user ${sasl.username} is empty`);
  }
  return {
    bootstrapServers: [...options.bootstrapServers],
    clientId: options.clientId ?? 'streambus-ts',
    requestTimeoutMs,
    connectTimeoutMs,
    retryBackoffMs,
    retryBackoffMsMax,
    metadataMaxAgeMs: positive(options.metadataMaxAgeMs, metadataMaxAgeMsDefault, 'metadataMaxAgeMs'),
    random: options.random ?? Math.random,
    callMetadata: options.callMetadata,
    tls: resolveTls(options.tls),
    sasl: sasl === undefined ? undefined : { ...sasl },
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
  /**
   * Topics the last Metadata answer refused with an error that retrying does not cure
   * (AUTHORIZATION_FAILED): thrown by topicMetadata instead of "does not exist".
   */
  private readonly topicErrors = new Map<string, StreamBusError>();
  /** Topics this client has asked about: every refresh covers them all. */
  private readonly interestingTopics = new Set<string>();
  private readonly channels = new Map<string, StreamBusRpcClient>();
  private refreshInFlight: Promise<void> | undefined;
  /** Topics the refresh in flight asks about. */
  private refreshCovers: ReadonlySet<string> = new Set();
  /** Where the round-robin over 'any' candidates starts: random, so that clients spread out. */
  private readonly anyStart: number;
  /** The broker that answered the last 'any' call: asked first while it stays healthy. */
  private anyPreferred: string | undefined;
  private closed = false;
  private readonly health: BrokerHealth;
  /** Aborted by close(): ends every backoff wait at once. */
  private readonly closing = new AbortController();
  /** Cluster id from the last Metadata response. */
  clusterId = '';
  /** Controller id from the last Metadata response (0 while unknown). */
  controllerId = 0;
  readonly tracing: ClientTracing;
  /** One authenticated session per broker connection; undefined without `sasl`. */
  private readonly sessions: Sessions | undefined;

  constructor(options: ClientOptions) {
    this.options = resolveClientOptions(options);
    this.sessions = this.options.sasl === undefined ? undefined : new Sessions(this.options.sasl);
    this.tracing = new ClientTracing(options.tracerProvider, this.options.clientId);
    this.health = new BrokerHealth((attempt) => this.backoffMs(attempt));
    this.anyStart = Math.floor(this.options.random() * brokersMax);
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
      if (cached !== undefined && Date.now() - cached.fetchedAtMs < this.options.metadataMaxAgeMs)
        return cached.metadata;
      if (attempt > 0) await this.backoff(attempt - 1);
      try {
        await this.refreshMetadata([topic]);
        const fresh = this.topics.get(topic);
        if (fresh !== undefined) return fresh.metadata;
        const refused = this.topicErrors.get(topic);
        if (refused !== undefined) throw refused;
        lastError = new UnknownTopicOrPartitionError(
          `topic "${topic}" does not exist; create it first (Admin.createTopic)`,
        );
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
    const response = await this.call(
      'any',
      'Metadata',
      { topics, brokersOnly: topics.length === 0 },
      0,
      this.metadataCallOptions(),
    );
    this.applyMetadata(response, topics);
  }

  /** Options of a Metadata call: it is answered from memory, so a silent broker is given up on early. */
  metadataCallOptions(): CallOptions {
    return { deadlineMs: Math.min(this.options.requestTimeoutMs, metadataRequestTimeoutMsMax) };
  }

  /** Lists every topic's metadata (does not cache topics nobody asked about). */
  async allTopics(): Promise<TopicMetadata[]> {
    const response = await this.callWithRetries(
      'any',
      'Metadata',
      { topics: [], brokersOnly: false },
      this.metadataCallOptions(),
    );
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
      this.topicErrors.delete(topic.name);
      if (topic.errorCode !== ErrorCode.NONE) {
        this.topics.delete(topic.name);
        if (topic.errorCode === ErrorCode.AUTHORIZATION_FAILED)
          this.topicErrors.set(
            topic.name,
            errorFromCode(
              topic.errorCode,
              `${this.options.sasl === undefined ? 'this client' : `user ${this.options.sasl.username}`} may not describe topic ${topic.name}`,
            ),
          );
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

  /**
   * Learns a broker's address from an answer other than Metadata (FindCoordinator names the
   * coordinator's host and port): a coordinator that a stale broker list does not know yet is
   * reachable at once. The next Metadata answer replaces the list.
   */
  learnBroker(broker: BrokerInfo): void {
    if (broker.id <= 0 || broker.host === '' || broker.port <= 0) return;
    const known = this.brokers.get(broker.id);
    if (known !== undefined && known.host === broker.host && known.port === broker.port) return;
    if (known === undefined && this.brokers.size >= brokersMax) return;
    this.brokers.set(broker.id, { ...broker });
  }

  /** The channel to a broker; throws BrokerNotAvailableError when the broker is unknown. */
  channelFor(brokerId: number): StreamBusRpcClient {
    const broker = this.brokers.get(brokerId);
    if (broker === undefined)
      throw new BrokerNotAvailableError(`broker ${brokerId} is not in the metadata; refreshing`);
    return this.channel(`${broker.host}:${broker.port}`);
  }

  private channel(address: string): StreamBusRpcClient {
    if (this.closed) throw new ClientClosedError('the client is closed');
    let channel = this.channels.get(address);
    if (channel === undefined) {
      channel = createStreamBusRpcClient(address, {
        ...(this.options.tls === undefined ? {} : { credentials: this.options.tls.credentials }),
        channelOptions: {
          ...tlsChannelOptions(this.options.tls),
          // grpc's own reconnect backoff (1 s doubling to 120 s by default) would leave a broker
          // that came back unused for minutes; the client's backoff decides when to try again.
          'grpc.initial_reconnect_backoff_ms': this.options.retryBackoffMs,
          'grpc.max_reconnect_backoff_ms': this.options.retryBackoffMsMax,
          'grpc.keepalive_time_ms': keepaliveTimeMs,
          'grpc.keepalive_timeout_ms': keepaliveTimeoutMs,
          'grpc.dns_min_time_between_resolutions_ms': dnsResolutionMsMin,
        },
      });
      this.channels.set(address, channel);
    }
    return channel;
  }

  /**
   * A connected channel for an `'any'` call. Candidates are the broker that answered the last
   * such call (sticky: an admin write and the read after it go to the same broker, which answers
   * a write only once it has applied it), then the known and bootstrap brokers from a random
   * start, those backing off after a failure last. The first one's channel is used when
   * connected; else up to `anyConnectFanoutMax` candidates connect at once and the first to be
   * ready wins, so a dead, paused or unreachable broker first in the list costs nothing when
   * another answers (the others stay connected for later calls).
   */
  private async anyChannel(method: string): Promise<StreamBusRpcClient> {
    const known = [...this.brokers.values()].map((b) => `${b.host}:${b.port}`);
    const preferred = this.anyPreferred === undefined ? [] : [this.anyPreferred];
    const addresses = this.health.order(
      [...new Set([...preferred, ...known, ...this.options.bootstrapServers])],
      preferred.length > 0 ? 0 : this.anyStart,
      Date.now(),
    );
    const candidates = addresses.slice(0, anyConnectFanoutMax).map((address) => this.channel(address));
    const first = candidates[0] as StreamBusRpcClient;
    if ((await first.waitConnected(0)) === 'ready') return first;
    return new Promise((resolve, reject) => {
      let pending = candidates.length;
      let won = false;
      const failures: string[] = [];
      const tlsFailures: TlsHandshakeError[] = [];
      for (const channel of candidates) {
        this.connected(channel, method).then(
          () => {
            if (!won) resolve(channel);
            won = true;
          },
          (error: unknown) => {
            failures.push(error instanceof Error ? error.message : String(error));
            if (error instanceof TlsHandshakeError) tlsFailures.push(error);
            pending--;
            if (pending > 0 || won) return;
            if (this.closed) reject(new ClientClosedError('the client is closed'));
            // Every broker refused the handshake: the configuration is wrong, not the brokers.
            else if (tlsFailures[0] !== undefined && tlsFailures.length === failures.length) reject(tlsFailures[0]);
            else
              reject(new BrokerNotAvailableError(`${method}: no broker could be connected to: ${failures.join('; ')}`));
          },
        );
      }
    });
  }

  /** True while the broker's address is backing off after a failed connection or call. */
  isBackingOff(brokerId: number): boolean {
    const broker = this.brokers.get(brokerId);
    return broker !== undefined && this.health.isBackingOff(`${broker.host}:${broker.port}`, Date.now());
  }

  /**
   * Where to send a request for broker `brokerId`'s partitions: that broker, unless its address
   * is backing off after a failure and another known broker is not; then that one (a broker
   * forwards a produce to the partition's leader). The choice rotates with `brokerId`.
   */
  routeAround(brokerId: number): number {
    if (!this.isBackingOff(brokerId)) return brokerId;
    const others = [...this.brokers.keys()].filter((id) => id !== brokerId && !this.isBackingOff(id));
    return others.length === 0 ? brokerId : (others[brokerId % others.length] as number);
  }

  /**
   * One RPC to `target`: it waits at most connectTimeoutMs for the channel's connection, then
   * has a deadline of `options.deadlineMs` (default requestTimeoutMs) plus `extraDeadlineMs`.
   * Failures come back as typed errors naming the broker's address; a connection failure or a
   * deadline also makes `'any'` calls skip that address for its backoff.
   */
  async call<M extends StreamBusMethodName>(
    target: CallTarget,
    method: M,
    request: StreamBusMethods[M]['request'],
    extraDeadlineMs = 0,
    options: CallOptions = {},
  ): Promise<StreamBusMethods[M]['response']> {
    if (this.closed) throw new ClientClosedError('the client is closed');
    let channel: StreamBusRpcClient;
    if (target === 'any') {
      channel = await this.anyChannel(method);
      this.anyPreferred = channel.address;
    } else {
      channel = this.channelFor(target);
      await this.connected(channel, method);
    }
    if (this.sessions === undefined) return this.invoke(channel, method, request, extraDeadlineMs, options, undefined);
    const sessions = this.sessions;
    const handshake = { deadlineMs: this.options.requestTimeoutMs, metadata: () => this.baseMetadata() };
    const session = await this.session(channel, () => sessions.sessionFor(channel, handshake));
    try {
      return await this.invoke(channel, method, request, extraDeadlineMs, options, session);
    } catch (error) {
      if (!(error instanceof SessionExpiredError)) throw error;
      // The connection the session was made on has closed: authenticate on the current one and
      // retry once (a second SESSION_EXPIRED is thrown).
      await sessions.expire(channel, session);
      const renewed = await this.session(channel, () => sessions.sessionFor(channel, handshake));
      return await this.invoke(channel, method, request, extraDeadlineMs, options, renewed);
    }
  }

  /** A session from `get`, with the broker's health updated like a call's. */
  private async session(channel: StreamBusRpcClient, get: () => Promise<string>): Promise<string> {
    try {
      return await get();
    } catch (error) {
      if (this.closed) throw new ClientClosedError('the client is closed', { cause: error });
      if (
        error instanceof StreamBusError &&
        (error.code === 'BROKER_NOT_AVAILABLE' || error.code === 'REQUEST_TIMED_OUT')
      )
        this.health.failed(channel.address, error.message, Date.now());
      throw error;
    }
  }

  private baseMetadata(): grpc.Metadata {
    const metadata = new grpc.Metadata();
    metadata.set('streambus-client-id', this.options.clientId);
    return metadata;
  }

  /** One attempt of a call on a connected channel, with `session` in its metadata when given. */
  private async invoke<M extends StreamBusMethodName>(
    channel: StreamBusRpcClient,
    method: M,
    request: StreamBusMethods[M]['request'],
    extraDeadlineMs: number,
    options: CallOptions,
    session: string | undefined,
  ): Promise<StreamBusMethods[M]['response']> {
    const metadata = this.baseMetadata();
    const extra = this.options.callMetadata?.();
    if (extra !== undefined) for (const [key, value] of Object.entries(extra)) metadata.set(key, value);
    // After the extras: a caller's metadata cannot replace the session the call was authenticated with.
    if (session !== undefined) metadata.set(sessionMetadataKey, session);
    // After the extras: the call's own span is the broker's parent (it is a child of theirs).
    const span = this.tracing.startCall(method, channel.address, options.trace);
    if (span !== undefined) this.tracing.inject(span, metadata);
    const invoke = channel[method] as (
      r: StreamBusMethods[M]['request'],
      o: { deadlineMs: number; metadata: grpc.Metadata },
    ) => Promise<StreamBusMethods[M]['response']>;
    try {
      const response = await invoke(request, {
        deadlineMs: (options.deadlineMs ?? this.options.requestTimeoutMs) + extraDeadlineMs,
        metadata,
      });
      this.health.succeeded(channel.address);
      endCall(span);
      return response;
    } catch (error) {
      if (this.closed) {
        endCall(span, { code: 'CLIENT_CLOSED', message: 'the client is closed' });
        throw new ClientClosedError('the client is closed', { cause: error });
      }
      let typed = errorFromCall(error, channel.address);
      if (typed instanceof SessionExpiredError && session === undefined)
        typed = new AuthenticationError(
          `${channel.address}: the broker requires authentication: give the client a SCRAM-SHA-256 user and password (the sasl option)`,
          { cause: typed },
        );
      endCall(span, typed);
      if (typed.code === 'BROKER_NOT_AVAILABLE' || typed.code === 'REQUEST_TIMED_OUT')
        this.health.failed(channel.address, typed.message, Date.now());
      throw typed;
    }
  }

  /** Waits for the channel's connection; throws BrokerNotAvailableError (retriable) without one. */
  private async connected(channel: StreamBusRpcClient, method: string): Promise<void> {
    const outcome = await channel.waitConnected(this.options.connectTimeoutMs);
    if (outcome === 'ready') return;
    if (this.closed) throw new ClientClosedError('the client is closed');
    if (outcome === 'failed' && this.options.tls !== undefined) {
      const reason = await diagnoseTls(channel.address, this.options.tls, this.options.connectTimeoutMs);
      if (reason !== undefined) throw new TlsHandshakeError(`TLS handshake: ${reason} (broker ${channel.address})`);
    }
    const why =
      outcome === 'failed'
        ? 'refused or dropped the connection (is it running?)'
        : `made no connection within connectTimeoutMs ${this.options.connectTimeoutMs} (paused, overloaded or unreachable)`;
    const message = `${method} to ${channel.address}: the broker ${why}`;
    this.health.failed(channel.address, message, Date.now());
    throw new BrokerNotAvailableError(message);
  }

  /**
   * `call` retried on retriable errors (refreshing metadata in between) up to
   * `adminAttemptsMax` attempts. For metadata and admin requests, which are idempotent.
   */
  async callWithRetries<M extends StreamBusMethodName>(
    target: CallTarget,
    method: M,
    request: StreamBusMethods[M]['request'],
    options: CallOptions = {},
  ): Promise<StreamBusMethods[M]['response']> {
    const failures: StreamBusError[] = [];
    for (let attempt = 0; attempt < adminAttemptsMax; attempt++) {
      if (attempt > 0) await this.backoff(attempt - 1);
      try {
        return await this.call(target, method, request, 0, options);
      } catch (error) {
        if (!(error instanceof StreamBusError) || !error.retriable) throw error;
        failures.push(error);
      }
    }
    throw exhausted(method, failures);
  }

  /** Waits the backoff of `attempt` (0-based); ends at once when the client closes. */
  backoff(attempt: number): Promise<void> {
    return this.sleep(this.backoffMs(attempt));
  }

  /**
   * Waits `ms`, or less if the client closes first. The timer keeps the process alive: an
   * operation waiting on it is still running (an unref'd wait let the CLI exit mid-retry).
   */
  sleep(ms: number): Promise<void> {
    return sleep(ms, this.closing.signal);
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
    this.closing.abort();
    this.sessions?.clear();
    for (const channel of this.channels.values()) channel.close();
    this.channels.clear();
  }
}

/**
 * The error of an operation whose every attempt failed. When the brokers could not be reached
 * (the usual case), its message names what was waited for and each distinct failure, one per
 * broker; any other error is the last attempt's, as it was.
 */
export function exhausted(what: string, failures: readonly StreamBusError[]): StreamBusError {
  const last = failures[failures.length - 1];
  if (last === undefined) return new BrokerNotAvailableError(`${what}: no attempt was made`);
  if (last.code !== 'BROKER_NOT_AVAILABLE' && last.code !== 'REQUEST_TIMED_OUT') return last;
  const distinct = [...new Set(failures.map((f) => f.message))];
  const message = `${what}: no broker answered in ${failures.length} attempts: ${distinct.join('; ')}`;
  return last.code === 'REQUEST_TIMED_OUT'
    ? new RequestTimedOutError(message, { cause: last })
    : new BrokerNotAvailableError(message, { cause: last });
}
