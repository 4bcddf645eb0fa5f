/**
 * `npm run bench`: produce and consume throughput, and latency at a fixed rate, against a real
 * 3-process cluster on 127.0.0.1 (wal_sync always: acks=all means on disk on a quorum).
 *
 * Phases: (0) one produce at a time (linger 0, acks=all, 100 B, each send awaited: p50/p90/p99 and
 * msg/s of a single record's round trip; `--single-seconds`, `--single-only`), (1) latency p50/p99 at
 * 10,000 msg/s with 100 B records at `--linger-ms` (20) and again at the SDK's default linger (5 ms)
 * (first, on a fresh cluster whose LevelDB is not yet busy compacting), (2) highest sustained
 * acks=all throughput with 100 B records, (3) the same with 1 KiB, (4) consume everything from the
 * start.
 * With `--groups`: (5) a group of 3 consumers reading bench-100 from the beginning (beside phase
 * 4's one assigned consumer), and (6) rebalance time: while a producer writes 3,000 msg/s to a
 * 6-partition topic, a third member joins a group of two and then leaves, 10 times each; each
 * figure is the time from the join (or the start of the leaver's close) until the new assignment
 * is in effect and every partition delivered a record produced after its new owner got it
 * (median and max). Members that give partitions up learn of it at their next heartbeat.
 * With `--peer nats`: once the brokers stopped, the same phases against a 3-server NATS JetStream
 * cluster (nats-peer.ts: R3 file streams, the official client), then both side by side with ratios.
 * With `--secure`: TLS 1.3 everywhere (mutual between brokers) and a SCRAM-SHA-256 session on each
 * client connection, set up as `npm run cluster -- --secure` does (secure.ts), for the overhead figure.
 * The last line is `produce: N msg/s, p99 M ms` (N from phase 2, M from phase 1 at --linger-ms).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { context as contextApi, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import type { Context, ContextManager } from '@opentelemetry/api';
import { AlwaysOnSampler, InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { Admin, Consumer, lingerMsDefault, Producer } from '@streambus/client';
import type { SaslOptions, TlsOptions } from '@streambus/client';
import type { WorkerInput, WorkerMessage } from './bench-worker.js';
import { TestCluster } from './cluster.js';
import { prepareSecureCluster, waitForSecureAdmin } from './secure.js';
import { NatsPeer, natsPublishWindowMax } from './nats-peer.js';
import { decodeOtlpSpans, timelineOf } from './trace-timeline.js';
import type { TimelineSpan } from './trace-timeline.js';

interface PhaseResult {
  readonly acked: number;
  readonly failed: number;
  readonly seconds: number;
  readonly latenciesUs: number[];
}

/**
 * TLS and SCRAM options of every client of the run (`--secure`), empty otherwise: spread into each
 * Producer, Consumer and Admin, and given to the producer threads.
 */
let clientSecurity: { tls?: TlsOptions; sasl?: SaslOptions } = {};

function log(line: string): void {
  console.log(`bench: ${line}`);
}

async function producePhase(
  name: string,
  base: Omit<WorkerInput, 'workerIndex'>,
  workers: number,
): Promise<PhaseResult> {
  log(
    `${name}: ${workers} producer threads, ${base.recordBytes} B records, linger ${base.lingerMs} ms, ${base.ratePerSecond === 0 ? 'as fast as possible' : `${base.ratePerSecond} msg/s`}, ${base.durationMs / 1000} s`,
  );
  const progress = new Array<number>(workers).fill(0);
  let lastTotal = 0;
  const ticker = setInterval(() => {
    const total = progress.reduce((sum, value) => sum + value, 0);
    log(`${name}: ${total} acked (${total - lastTotal} msg/s)`);
    lastTotal = total;
  }, 1000);
  const results = await Promise.all(
    Array.from(
      { length: workers },
      (_, workerIndex) =>
        new Promise<WorkerMessage & { kind: 'done' }>((resolve, reject) => {
          const worker = new Worker(new URL('./bench-worker.js', import.meta.url), {
            workerData: { ...base, workerIndex, security: clientSecurity } satisfies WorkerInput,
          });
          worker.on('message', (message: WorkerMessage) => {
            if (message.kind === 'progress') progress[workerIndex] = message.acked;
            else resolve(message);
          });
          worker.on('error', reject);
        }),
    ),
  );
  clearInterval(ticker);
  const seconds = Math.max(...results.map((result) => result.elapsedMs)) / 1000;
  return {
    acked: results.reduce((sum, result) => sum + result.acked, 0),
    failed: results.reduce((sum, result) => sum + result.failed, 0),
    seconds,
    latenciesUs: results.flatMap((result) => result.latenciesUs),
  };
}

/** Phase 5: three members of one group read `topic` from the beginning; records/s over all three. */
async function groupConsumePhase(
  bootstrap: string,
  topic: string,
  expected: number,
): Promise<{ consumed: number; seconds: number }> {
  log(`group consume: 3 members of group bench-g reading ${topic} from the beginning`);
  const members = Array.from(
    { length: 3 },
    () =>
      new Consumer({
        ...clientSecurity,
        bootstrapServers: bootstrap.split(','),
        groupId: 'bench-g',
        autoOffsetReset: 'earliest',
        fetchMaxBytes: 64 * 1024 * 1024,
      }),
  );
  for (const member of members) member.subscribe([topic]);
  const started = performance.now();
  let consumed = 0;
  let lastLog = started;
  let done = false;
  await Promise.all(
    members.map(async (member) => {
      while (!done && performance.now() - started < 120_000) {
        // Read the count after the await: `consumed += await ...` would add to a stale total.
        const records = await member.poll(200);
        consumed += records.length;
        if (consumed >= expected) done = true;
        if (performance.now() - lastLog > 1000) {
          log(
            `group consume: ${consumed}/${expected} (${members.map((m) => m.assignment().length).join('/')} partitions)`,
          );
          lastLog = performance.now();
        }
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  await Promise.all(members.map((member) => member.close()));
  return { consumed, seconds };
}

/**
 * Phase 6: the time from a member joining (or leaving) a group of two to every partition of a
 * 6-partition topic delivering a record produced after that moment, under a 3,000 msg/s producer.
 */
async function rebalancePhase(
  bootstrap: string,
  partitions: number,
  rounds: number,
): Promise<{ joinMs: number[]; leaveMs: number[] }> {
  const topic = 'bench-rebalance';
  const servers = bootstrap.split(',');
  const admin = new Admin({ bootstrapServers: servers, ...clientSecurity });
  await admin.createTopic({ name: topic, partitions, replicationFactor: 3 });
  await admin.close();
  log(`rebalance: a third member joins and leaves a group of two, ${rounds} times, under 3000 msg/s`);
  const producer = new Producer({ bootstrapServers: servers, lingerMs: 5, ...clientSecurity });
  let producing = true;
  const producerLoop = (async () => {
    let i = 0;
    while (producing) {
      for (let j = 0; j < 30; j++, i++)
        void producer.send({ topic, partition: i % partitions, value: 'x' }).catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();
  /** Per partition: the latest record timestamp its owner received, and when it was last assigned. */
  const latest = new Array<number>(partitions).fill(0);
  const assignedAt = new Array<number>(partitions).fill(0);
  interface Running {
    readonly consumer: Consumer;
    stop: boolean;
    loop: Promise<void>;
  }
  const running = new Set<Running>();
  const start = (): Running => {
    const consumer = new Consumer({
      ...clientSecurity,
      bootstrapServers: servers,
      groupId: 'bench-rebalance',
      autoOffsetReset: 'latest',
      onPartitionsAssigned: (tps) => {
        for (const tp of tps) assignedAt[tp.partition] = Date.now();
      },
    });
    consumer.subscribe([topic]);
    const member: Running = { consumer, stop: false, loop: Promise.resolve() };
    member.loop = (async () => {
      while (!member.stop)
        for (const record of await consumer.poll(100))
          latest[record.partition] = Math.max(latest[record.partition] ?? 0, record.timestamp);
    })();
    running.add(member);
    return member;
  };
  const stop = async (member: Running): Promise<void> => {
    running.delete(member);
    member.stop = true;
    await member.loop;
    await member.consumer.close();
  };
  /**
   * Waits until the new assignment is in effect (the running members own every partition between
   * them, and `joiner`, if any, owns some) and every partition delivered a record stamped after
   * both `fromMs` and its latest assignment; the wait in ms. The members that give partitions up
   * learn of it at their next heartbeat (groups.heartbeat_interval_ms, 500 ms by default).
   */
  const caughtUp = async (fromMs: number, joiner?: Running): Promise<number> => {
    const deadline = Date.now() + 60_000;
    const settled = (): boolean =>
      [...running].reduce((sum, m) => sum + m.consumer.assignment().length, 0) === partitions &&
      (joiner === undefined || joiner.consumer.assignment().length > 0) &&
      latest.every((t, p) => t >= Math.max(fromMs, assignedAt[p] ?? 0));
    while (!settled() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    return Date.now() - fromMs;
  };
  const base = [start(), start()];
  const joinMs: number[] = [];
  const leaveMs: number[] = [];
  try {
    await caughtUp(Date.now());
    for (let round = 0; round < rounds; round++) {
      const joinedAt = Date.now();
      const third = start();
      joinMs.push(await caughtUp(joinedAt, third));
      // Let the group settle (the third member owns its share) before it leaves.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const leftAt = Date.now();
      await stop(third);
      leaveMs.push(await caughtUp(leftAt));
      log(`rebalance round ${round + 1}: join ${joinMs.at(-1)} ms, leave ${leaveMs.at(-1)} ms`);
    }
  } finally {
    producing = false;
    await producerLoop;
    for (const running of base) await stop(running);
    await producer.close();
  }
  return { joinMs, leaveMs };
}

/**
 * One produce at a time: each send (linger 0, acks=all, 100 B) is awaited before the next, so
 * every figure is one record's whole round trip: client encode, gRPC, the leader's turn and
 * fsync, the followers' fsyncs, the commit and the answer. Nothing overlaps, nothing is batched.
 */
async function singlePhase(
  bootstrap: string,
  topic: string,
  durationMs: number,
  warmupMs: number,
  timeline?: { provider: TracerProvider },
): Promise<{ latenciesUs: number[]; seconds: number }> {
  log(
    `single: one produce at a time (linger 0, acks=all, 100 B), ${warmupMs / 1000} s warm-up + ${durationMs / 1000} s`,
  );
  const producer = new Producer({
    ...clientSecurity,
    bootstrapServers: bootstrap.split(','),
    lingerMs: 0,
    acks: 'all',
    ...(timeline === undefined ? {} : { tracerProvider: timeline.provider }),
  });
  const value = Buffer.alloc(100, 0x73);
  const rootTracer = timeline?.provider.getTracer('streambus-bench');
  const latenciesUs: number[] = [];
  const started = performance.now();
  const measuredFrom = started + warmupMs;
  const deadline = measuredFrom + durationMs;
  let lastLog = started;
  // One partition: the timeline of one record is about one leader and its two followers.
  for (let now = started; now < deadline; now = performance.now()) {
    if (rootTracer === undefined) await producer.send({ topic, partition: 0, value });
    else {
      // The root of the record's trace: the application's await; the SDK reads it synchronously in send().
      const root = rootTracer.startSpan('record');
      const sending = contextApi.with(trace.setSpan(ROOT_CONTEXT, root), () =>
        producer.send({ topic, partition: 0, value }),
      );
      await sending;
      root.end();
    }
    const after = performance.now();
    if (now >= measuredFrom) latenciesUs.push(Math.round((after - now) * 1000));
    if (after - lastLog > 1000) {
      log(`single: ${latenciesUs.length} measured`);
      lastLog = after;
    }
  }
  await producer.close();
  return { latenciesUs, seconds: durationMs / 1000 };
}

function medianOf(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

function percentileMs(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length));
  return (sorted[index] as number) / 1000;
}

/**
 * The smallest context manager that lets `context.with` hand a span to the SDK: the SDK reads the
 * active context synchronously inside `Producer.send`, so a stack (no async propagation) is enough.
 */
class StackContextManager implements ContextManager {
  private readonly stack: Context[] = [];
  active(): Context {
    return this.stack.at(-1) ?? ROOT_CONTEXT;
  }
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    context: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    this.stack.push(context);
    try {
      return fn.call(thisArg, ...args);
    } finally {
      this.stack.pop();
    }
  }
  bind<T>(_context: Context, target: T): T {
    return target;
  }
  enable(): this {
    return this;
  }
  disable(): this {
    this.stack.length = 0;
    return this;
  }
}

interface TraceSink {
  url: string;
  server: Server;
  requests: number;
  bytes: number;
  /** Spans decoded from the requests, when the sink keeps them (`--timeline`). */
  spans: TimelineSpan[] | undefined;
}

/** An OTLP/HTTP endpoint that reads every export request, counts it, and drops it (or decodes it for a timeline). */
async function startTraceSink(keepSpans: boolean): Promise<TraceSink> {
  const sink: TraceSink = { url: '', server: createServer(), requests: 0, bytes: 0, spans: keepSpans ? [] : undefined };
  sink.server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => {
      sink.bytes += chunk.byteLength;
      if (sink.spans !== undefined) chunks.push(chunk);
    });
    request.on('end', () => {
      sink.requests += 1;
      if (sink.spans !== undefined) sink.spans.push(...decodeOtlpSpans(Buffer.concat(chunks)));
      response.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((resolve) => sink.server.listen(0, '127.0.0.1', resolve));
  const address = sink.server.address() as AddressInfo;
  sink.url = `http://127.0.0.1:${address.port}/v1/traces`;
  return sink;
}

interface StreamBusFigures {
  readonly small: { readonly msgPerSecond: number };
  readonly large: { readonly msgPerSecond: number };
  readonly pacedUs: number[];
  readonly pacedDefaultUs: number[];
  readonly singleUs: number[] | undefined;
  readonly consumeMsgPerSecond: number;
}

/**
 * `--peer nats`: the same phases against a 3-server JetStream cluster (R3 file streams, one per
 * phase), then both side by side with StreamBus / JetStream ratios (above 1: StreamBus ahead; for
 * latencies, JetStream's over StreamBus's, so above 1 is StreamBus ahead too).
 */
async function natsComparison(
  dir: string,
  run: {
    readonly durationMs: number;
    readonly warmupMs: number;
    readonly rate: number;
    readonly lingerMs: number;
    readonly singleSeconds: number;
    readonly streambus: StreamBusFigures;
  },
): Promise<void> {
  const peer = await NatsPeer.start(join(dir, 'nats'), log);
  try {
    const phase = async (
      name: string,
      stream: string,
      recordBytes: number,
      durationMs: number,
      ratePerSecond: number,
      warmupMs: number,
      keep = false,
    ): Promise<{ acked: number; seconds: number; latenciesUs: number[] }> => {
      const leader = await peer.createStream(stream);
      log(`nats ${name}: stream ${stream} (R3, file, leader ${leader}), ${recordBytes} B, ${durationMs / 1000} s`);
      const result = await peer.publish(stream, recordBytes, durationMs, ratePerSecond, warmupMs, (acked) =>
        log(`nats ${name}: ${acked} acked`),
      );
      if (!keep) await peer.deleteStream(stream);
      return result;
    };
    const paced = await phase('latency', 'BENCH_LATENCY', 100, run.durationMs + run.warmupMs, run.rate, run.warmupMs);
    const single =
      run.singleSeconds > 0
        ? await phase('single', 'BENCH_SINGLE', 100, run.singleSeconds * 1000 + 2_000, -1, 2_000)
        : undefined;
    const small = await phase('throughput 100 B', 'BENCH_100', 100, run.durationMs, 0, 0, true);
    const large = await phase('throughput 1 KiB', 'BENCH_1K', 1024, run.durationMs, 0, 0);
    log(`nats consume: reading BENCH_100 from the start (${small.acked} records)`);
    const consumed = await peer.consume('BENCH_100', small.acked, 120_000);
    await peer.deleteStream('BENCH_100');

    const perSecond = (result: { acked: number; seconds: number }): number => Math.round(result.acked / result.seconds);
    const ratio = (ours: number, theirs: number): string => (theirs > 0 ? (ours / theirs).toFixed(2) : 'n/a');
    const sb = run.streambus;
    log('');
    log(
      `StreamBus beside NATS JetStream ${peer.version} (3 servers, R3 file streams, the nats client's js.publish, window ${natsPublishWindowMax}; pull consumer, no acks).`,
    );
    log(
      '  Durability differs: JetStream 2.9 acknowledges from memory (no fsync before the ack); StreamBus acks=all answers once a quorum has fsynced.',
    );
    log(`  ${'phase'.padEnd(32)} ${'StreamBus'.padStart(20)} ${'JetStream'.padStart(20)}  ratio (>1: StreamBus ahead)`);
    const row = (name: string, ours: string, theirs: string, r: string): void =>
      log(`  ${name.padEnd(32)} ${ours.padStart(20)} ${theirs.padStart(20)}  ${r}`);
    row(
      'produce 100 B, msg/s',
      String(sb.small.msgPerSecond),
      String(perSecond(small)),
      ratio(sb.small.msgPerSecond, perSecond(small)),
    );
    row(
      'produce 1 KiB, msg/s',
      String(sb.large.msgPerSecond),
      String(perSecond(large)),
      ratio(sb.large.msgPerSecond, perSecond(large)),
    );
    // JetStream's client has no linger: the same JetStream figures sit beside both StreamBus lingers.
    for (const [linger, ours] of [
      [run.lingerMs, sb.pacedUs],
      [lingerMsDefault, sb.pacedDefaultUs],
    ] as const)
      for (const p of [50, 99])
        row(
          `${run.rate} msg/s, linger ${linger}, p${p} ms`,
          percentileMs(ours, p).toFixed(2),
          percentileMs(paced.latenciesUs, p).toFixed(2),
          ratio(percentileMs(paced.latenciesUs, p), percentileMs(ours, p)),
        );
    if (single !== undefined && sb.singleUs !== undefined)
      for (const p of [50, 90, 99])
        row(
          `one at a time 100 B, p${p} ms`,
          percentileMs(sb.singleUs, p).toFixed(2),
          percentileMs(single.latenciesUs, p).toFixed(2),
          ratio(percentileMs(single.latenciesUs, p), percentileMs(sb.singleUs, p)),
        );
    const natsConsume = Math.round(consumed.consumed / consumed.seconds);
    row(
      'consume 100 B, msg/s',
      String(sb.consumeMsgPerSecond),
      String(natsConsume),
      ratio(sb.consumeMsgPerSecond, natsConsume),
    );
  } finally {
    await peer.stop(log);
  }
}

/** The bench process's own tracer provider (every span kept in memory), for the timeline. */
function clientTracing(): { provider: TracerProvider; spans: () => TimelineSpan[] } {
  contextApi.setGlobalContextManager(new StackContextManager());
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({
    sampler: new AlwaysOnSampler(),
    spanProcessors: [new SimpleSpanProcessor({ exporter })],
  });
  const toUs = ([seconds, nanos]: [number, number]): number => seconds * 1e6 + nanos / 1000;
  return {
    provider,
    spans: () =>
      exporter.getFinishedSpans().map((span) => ({
        traceId: span.spanContext().traceId,
        spanId: span.spanContext().spanId,
        parentSpanId: span.parentSpanContext?.spanId ?? '',
        name: span.name,
        process: 'client',
        startUs: toUs(span.startTime),
        endUs: toUs(span.endTime),
      })),
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '10' },
      partitions: { type: 'string', default: '6' },
      producers: { type: 'string', default: '2' },
      rate: { type: 'string', default: '10000' },
      'linger-ms': { type: 'string', default: '20' },
      'warmup-seconds': { type: 'string', default: '5' },
      'wal-sync': { type: 'string', default: 'always' },
      // Off: leaders send appends only after their own write (for side-by-side comparisons).
      'append-before-persist': { type: 'string', default: 'on' },
      // Only the latency phase (quicker A/B runs).
      'latency-only': { type: 'boolean', default: false },
      // The one-produce-at-a-time phase (0: skip it), and a run of only that phase (quicker A/B runs).
      'single-seconds': { type: 'string', default: '5' },
      'single-only': { type: 'boolean', default: false },
      // Off: monitoring.metrics_enabled false (nothing fed, no /metrics); on: fed and scraped every second.
      metrics: { type: 'string', default: 'on' },
      // off, or a sampling rate 0..1: brokers trace (tracing.enabled, exporter otlp) and export to a
      // sink in this process that reads and drops every OTLP/HTTP request (counted in the summary).
      tracing: { type: 'string', default: 'off' },
      // The one-at-a-time phase traced end to end (client and brokers at sampling 1, spans decoded
      // here): prints the median timeline of one record. Implies --tracing 1.
      timeline: { type: 'boolean', default: false },
      // A peer run after StreamBus's phases in the same run, side by side with ratios: nats (3 nats-server, R3 file streams).
      peer: { type: 'string', default: '' },
      // A directory: each broker runs under node --cpu-prof and writes its profile there when it stops.
      'cpu-prof-dir': { type: 'string', default: '' },
      // Consumer group phases: 3 members reading 6 partitions, and rebalance times (adds about a minute).
      groups: { type: 'boolean', default: false },
      // groups.heartbeat_interval_ms of the brokers (empty: their default, 500): it bounds how fast members learn of a rebalance.
      'group-heartbeat-ms': { type: 'string', default: '' },
      // TLS 1.3 on every connection (mutual between brokers) and SCRAM-SHA-256 sessions for every
      // client, as `npm run cluster -- --secure` sets them up (issue 14's overhead figure).
      secure: { type: 'boolean', default: false },
    },
  });
  if (values.peer !== '' && values.peer !== 'nats')
    throw new Error(`--peer must be nats (or left out), got ${values.peer}`);
  const appendBeforePersist = values['append-before-persist'] !== 'off';
  const metricsOn = values.metrics !== 'off';
  const tracingRate = values.timeline ? 1 : values.tracing === 'off' ? undefined : Number(values.tracing);
  if (tracingRate !== undefined && !(tracingRate >= 0 && tracingRate <= 1))
    throw new Error(`--tracing must be off or a sampling rate from 0 to 1, got ${values.tracing}`);
  const sink = tracingRate === undefined ? undefined : await startTraceSink(values.timeline);
  const durationMs = Number(values.seconds) * 1000;
  const partitions = Number(values.partitions);
  const producers = Number(values.producers);
  const rate = Number(values.rate);
  const lingerMs = Number(values['linger-ms']);
  const warmupMs = Number(values['warmup-seconds']) * 1000;
  const dir = await mkdtemp(join(tmpdir(), 'streambus-bench-'));
  const secure = values.secure
    ? await prepareSecureCluster({ dir: join(dir, 'secure'), brokerIds: [1, 2, 3], bootstrap: '' })
    : undefined;
  if (secure !== undefined)
    clientSecurity = {
      tls: { ca: await readFile(secure.caCert, 'utf8') },
      sasl: { username: secure.adminUser, password: secure.adminPassword },
    };
  log(
    `machine: ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), node ${process.version}; data in ${dir}; wal_sync ${values['wal-sync']}; append_before_persist ${appendBeforePersist}; metrics ${metricsOn ? 'on, scraped every 1 s' : 'off'}; tracing ${tracingRate === undefined ? 'off' : `sampling ${tracingRate}, OTLP to a sink`}; security ${secure === undefined ? 'off' : 'TLS 1.3 (mutual between brokers) and SCRAM-SHA-256'}`,
  );
  const cluster = await TestCluster.create({
    size: 3,
    dataDir: dir,
    logLevel: 'warn',
    env: {
      STREAMBUS_WAL_SYNC: values['wal-sync'],
      STREAMBUS_APPEND_BEFORE_PERSIST: String(appendBeforePersist),
      STREAMBUS_METRICS_ENABLED: String(metricsOn),
      ...(sink === undefined
        ? {}
        : {
            STREAMBUS_TRACING_ENABLED: 'true',
            STREAMBUS_TRACING_EXPORTER: 'otlp',
            STREAMBUS_TRACING_ENDPOINT: sink.url,
            STREAMBUS_TRACING_SAMPLING_RATE: String(tracingRate),
          }),
      ...(values['group-heartbeat-ms'] === ''
        ? {}
        : { STREAMBUS_GROUPS_HEARTBEAT_INTERVAL_MS: values['group-heartbeat-ms'] }),
    },
    onProgress: (line) => log(line),
    ...(secure === undefined ? {} : { brokerArgs: (id: number) => ['--config', secure.brokerConfigs.get(id) ?? ''] }),
    ...(values['cpu-prof-dir'] === ''
      ? {}
      : {
          launcher: (_id: number, nodeArgs: readonly string[]) => ({
            command: process.execPath,
            args: ['--cpu-prof', `--cpu-prof-dir=${values['cpu-prof-dir']}`, ...nodeArgs],
          }),
        }),
  });
  let scraper: NodeJS.Timeout | undefined;
  try {
    await cluster.startAll(60_000);
    if (secure !== undefined) await waitForSecureAdmin(cluster.bootstrap, secure);
    // A scraper far more eager than Prometheus's usual 15 s: the cost of metrics includes rendering them.
    if (metricsOn)
      scraper = setInterval(() => {
        for (const broker of cluster.brokers)
          void fetch(`http://${broker.admin}/metrics`)
            .then((response) => response.text())
            .catch(() => undefined);
      }, 1_000);
    const bootstrap = cluster.bootstrap;
    const admin = new Admin({ bootstrapServers: bootstrap.split(','), ...clientSecurity });
    for (const topic of ['bench-100', 'bench-1k', 'bench-latency', 'bench-latency-default', 'bench-single'])
      await admin.createTopic({ name: topic, partitions, replicationFactor: 3 });
    await admin.close();
    await new Promise((resolve) => setTimeout(resolve, 4_000)); // let preferred leaders settle

    const singleSeconds = Number(values['single-seconds']);
    const clientTimeline = values.timeline ? clientTracing() : undefined;
    const single =
      singleSeconds > 0 || values['single-only']
        ? await singlePhase(
            bootstrap,
            'bench-single',
            Math.max(singleSeconds, 1) * 1000,
            Math.min(warmupMs, 2_000),
            clientTimeline === undefined ? undefined : { provider: clientTimeline.provider },
          )
        : undefined;
    if (clientTimeline !== undefined && sink?.spans !== undefined) {
      await clientTimeline.provider.forceFlush();
      // The brokers export in batches every few seconds: wait for the last ones to arrive.
      await new Promise((resolve) => setTimeout(resolve, 6_000));
      const spans = [...sink.spans, ...clientTimeline.spans()];
      log(
        `timeline of one record (medians over traced records, ms from the application's send, starts to 1 ms, durations exact; spans: ${spans.length}):`,
      );
      for (const step of timelineOf(spans, 'record'))
        log(
          `  ${step.startMs.toFixed(3).padStart(7)} .. ${step.endMs.toFixed(3).padStart(7)}  (${step.durationMs.toFixed(3)} ms)  ${step.step}  [${step.traces}]`,
        );
    }
    const singleLine =
      single === undefined
        ? undefined
        : `one at a time (100 B, linger 0, acks=all, 1 partition): p50 ${percentileMs(single.latenciesUs, 50).toFixed(2)} ms, p90 ${percentileMs(single.latenciesUs, 90).toFixed(2)} ms, p99 ${percentileMs(single.latenciesUs, 99).toFixed(2)} ms, ${Math.round(single.latenciesUs.length / single.seconds)} msg/s (${single.latenciesUs.length} records)`;
    if (values['single-only'] && single !== undefined) {
      log(`  ${singleLine}`);
      console.log(
        `single: p50 ${percentileMs(single.latenciesUs, 50).toFixed(2)} ms, p90 ${percentileMs(single.latenciesUs, 90).toFixed(2)} ms, p99 ${percentileMs(single.latenciesUs, 99).toFixed(2)} ms, ${Math.round(single.latenciesUs.length / single.seconds)} msg/s`,
      );
      return;
    }
    const paced = await producePhase(
      'latency',
      {
        bootstrap,
        topic: 'bench-latency',
        partitions,
        recordBytes: 100,
        durationMs: durationMs + warmupMs,
        ratePerSecond: rate,
        lingerMs,
        warmupMs,
      },
      1,
    );
    const latencyLine = `latency at ${rate} msg/s, linger ${lingerMs} ms (100 B, after ${warmupMs / 1000} s warm-up): p50 ${percentileMs(paced.latenciesUs, 50).toFixed(2)} ms, p99 ${percentileMs(paced.latenciesUs, 99).toFixed(2)} ms, achieved ${Math.round(paced.acked / paced.seconds)} msg/s`;
    // The same rate at the SDK's default linger, what a user who sets nothing gets.
    const pacedDefault = await producePhase(
      'latency (SDK default linger)',
      {
        bootstrap,
        topic: 'bench-latency-default',
        partitions,
        recordBytes: 100,
        durationMs: durationMs + warmupMs,
        ratePerSecond: rate,
        lingerMs: lingerMsDefault,
        warmupMs,
      },
      1,
    );
    const latencyDefaultLine = `latency at ${rate} msg/s, SDK default linger ${lingerMsDefault} ms (100 B, after ${warmupMs / 1000} s warm-up): p50 ${percentileMs(pacedDefault.latenciesUs, 50).toFixed(2)} ms, p99 ${percentileMs(pacedDefault.latenciesUs, 99).toFixed(2)} ms, achieved ${Math.round(pacedDefault.acked / pacedDefault.seconds)} msg/s`;
    if (values['latency-only']) {
      log(`  ${latencyDefaultLine}`);
      log(`  ${latencyLine} (append_before_persist ${appendBeforePersist})`);
      console.log(
        `latency: p50 ${percentileMs(paced.latenciesUs, 50).toFixed(1)} ms, p99 ${percentileMs(paced.latenciesUs, 99).toFixed(1)} ms, append_before_persist ${appendBeforePersist}`,
      );
      return;
    }
    const small = await producePhase(
      'throughput 100 B',
      {
        bootstrap,
        topic: 'bench-100',
        partitions,
        recordBytes: 100,
        durationMs,
        ratePerSecond: 0,
        lingerMs,
        warmupMs: 0,
      },
      producers,
    );
    const large = await producePhase(
      'throughput 1 KiB',
      {
        bootstrap,
        topic: 'bench-1k',
        partitions,
        recordBytes: 1024,
        durationMs,
        ratePerSecond: 0,
        lingerMs,
        warmupMs: 0,
      },
      producers,
    );

    log('consume: reading bench-100 from the beginning');
    const consumer = new Consumer({
      ...clientSecurity,
      bootstrapServers: bootstrap.split(','),
      autoOffsetReset: 'earliest',
      fetchMaxBytes: 64 * 1024 * 1024,
    });
    consumer.assign(Array.from({ length: partitions }, (_, partition) => ({ topic: 'bench-100', partition })));
    const consumeStarted = performance.now();
    let consumed = 0;
    let consumedBytes = 0;
    let lastLog = consumeStarted;
    while (consumed < small.acked && performance.now() - consumeStarted < 120_000) {
      for (const record of await consumer.poll(500)) {
        consumed += 1;
        consumedBytes += record.value?.byteLength ?? 0;
      }
      if (performance.now() - lastLog > 1000) {
        log(`consume: ${consumed}/${small.acked}`);
        lastLog = performance.now();
      }
    }
    const consumeSeconds = (performance.now() - consumeStarted) / 1000;
    await consumer.close();
    const group = values.groups ? await groupConsumePhase(bootstrap, 'bench-100', small.acked) : undefined;
    const rebalance = values.groups ? await rebalancePhase(bootstrap, partitions, 10) : undefined;

    const rateOf = (result: PhaseResult): number => Math.round(result.acked / result.seconds);
    const mbOf = (result: PhaseResult, bytes: number): string =>
      ((result.acked * bytes) / result.seconds / 1e6).toFixed(1);
    log('');
    log(
      `results (3 broker processes, RF 3, ${partitions} partitions, acks=all, wal_sync ${values['wal-sync']}, ${producers} producer threads, linger ${lingerMs} ms):`,
    );
    log(
      `  produce 100 B : ${rateOf(small)} msg/s, ${mbOf(small, 100)} MB/s (${small.acked} acked, ${small.failed} failed)`,
    );
    log(
      `  produce 1 KiB : ${rateOf(large)} msg/s, ${mbOf(large, 1024)} MB/s (${large.acked} acked, ${large.failed} failed)`,
    );
    log(`  ${latencyLine}`);
    log(`  ${latencyDefaultLine}`);
    if (singleLine !== undefined) log(`  ${singleLine}`);
    log(
      `  consume 100 B : ${Math.round(consumed / consumeSeconds)} msg/s, ${(consumedBytes / consumeSeconds / 1e6).toFixed(1)} MB/s (${consumed} records)`,
    );
    if (sink !== undefined)
      log(
        `  traces: ${sink.requests} OTLP export requests, ${(sink.bytes / 1e6).toFixed(1)} MB (sampling ${tracingRate})`,
      );
    if (group !== undefined)
      log(
        `  group consume : ${Math.round(group.consumed / group.seconds)} msg/s (3 members of one group, ${partitions} partitions, ${group.consumed} records)`,
      );
    if (rebalance !== undefined)
      log(
        `  rebalance     : heartbeat interval ${values['group-heartbeat-ms'] === '' ? 'the default 500' : values['group-heartbeat-ms']} ms; member joins: median ${medianOf(rebalance.joinMs)} ms, max ${Math.max(...rebalance.joinMs)} ms; member leaves: median ${medianOf(rebalance.leaveMs)} ms, max ${Math.max(...rebalance.leaveMs)} ms (until the new assignment is in effect and every partition delivers a record produced after it; 10 each)`,
      );
    if (values.peer === 'nats') {
      // One system at a time on this machine: the brokers stop before the peer starts.
      await cluster.stopAll();
      await natsComparison(dir, {
        durationMs,
        warmupMs,
        rate,
        lingerMs,
        singleSeconds: single === undefined ? 0 : single.seconds,
        streambus: {
          small: { msgPerSecond: rateOf(small) },
          large: { msgPerSecond: rateOf(large) },
          pacedUs: paced.latenciesUs,
          pacedDefaultUs: pacedDefault.latenciesUs,
          singleUs: single?.latenciesUs,
          consumeMsgPerSecond: Math.round(consumed / consumeSeconds),
        },
      });
    }
    console.log(
      `produce: ${rateOf(small)} msg/s, p99 ${percentileMs(paced.latenciesUs, 99).toFixed(1)} ms, metrics ${metricsOn ? 'on' : 'off'}, tracing ${tracingRate ?? 'off'}, security ${secure === undefined ? 'off' : 'on'}`,
    );
  } finally {
    clearInterval(scraper);
    sink?.server.close();
    await cluster.stopAll();
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exit(1);
});
