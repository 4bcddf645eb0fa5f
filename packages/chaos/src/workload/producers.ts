/**
 * Producer workers: each an idempotent producer (acks=all) or a plain one (acks=leader, to
 * measure what that mode loses, or acks=all without idempotence: at-least-once), sending unique
 * values `{prefix}{worker}-{n}` at a bounded rate with a bounded number outstanding, every send
 * recorded in the history with its outcome and whether its producer was idempotent.
 */
import { Producer, StreamBusError } from '@streambus/client';
import { assert } from '@streambus/raft';
import { Prng } from '@streambus/raft/testing';
import { inflightPerWorkerMax, workersMax } from '../constants.js';
import type { History, ProduceOutcome } from '../history/history.js';
import type { ClientSecurity } from '../security.js';

export type WorkloadAcks = 'all' | 'leader';

export interface ProducerWorkloadOptions {
  readonly bootstrapServers: readonly string[];
  /** The SDK's `tls` and `sasl` options of a `--secure` run. */
  readonly security?: ClientSecurity | undefined;
  readonly topic: string;
  readonly partitions: number;
  readonly workers: number;
  readonly inflightPerWorker: number;
  readonly recordsPerSecond: number;
  readonly acks: WorkloadAcks;
  readonly deliveryTimeoutMs: number;
  readonly history: History;
  readonly seed: number;
  /** Stop after this many records in total (default: unbounded until stop()). */
  readonly recordsMax?: number;
  /** Idempotent producers (default: with acks=all). acks=all without idempotence retries at least once. */
  readonly idempotent?: boolean;
  /** Prefix of the values, so that several workloads in one history send distinct values. Default `w`. */
  readonly valuePrefix?: string;
  /** Number of the first worker in the history (default 0), for the same reason. */
  readonly workerBase?: number;
}

/** Errors after which the record was certainly not written; any other failure is `unknown`. */
const definiteFailures = new Set(['INVALID_REQUEST', 'REQUEST_TOO_LARGE', 'INVALID_CONFIG', 'CORRUPT_MESSAGE']);

export function classifyProduceError(error: unknown): ProduceOutcome {
  if (error instanceof StreamBusError && definiteFailures.has(error.code))
    return { kind: 'failed', error: `${error.code}: ${error.message}` };
  const message = error instanceof Error ? error.message : String(error);
  const code = error instanceof StreamBusError ? error.code : 'ERROR';
  return { kind: 'unknown', error: `${code}: ${message}` };
}

export class ProducerWorkload {
  private running = false;
  private readonly loops: Promise<void>[] = [];
  private readonly producers: Producer[] = [];
  private readonly outstanding = new Set<Promise<void>>();
  private sent = 0;

  constructor(private readonly options: ProducerWorkloadOptions) {
    assert(options.workers >= 1 && options.workers <= workersMax, 'workers within bounds');
    assert(
      options.inflightPerWorker >= 1 && options.inflightPerWorker <= inflightPerWorkerMax,
      'in-flight per worker within bounds',
    );
    assert(options.recordsPerSecond > 0, 'produce rate is positive');
  }

  /** Whether this workload's producers are idempotent. */
  get idempotent(): boolean {
    return this.options.idempotent ?? this.options.acks === 'all';
  }

  get recordsSent(): number {
    return this.sent;
  }

  start(): void {
    assert(!this.running, 'a workload starts once');
    this.running = true;
    const base = this.options.workerBase ?? 0;
    for (let worker = base; worker < base + this.options.workers; worker++) {
      const random = new Prng(this.options.seed * 31 + worker);
      const producer = new Producer({
        bootstrapServers: this.options.bootstrapServers,
        clientId: `chaos-${this.options.valuePrefix ?? 'w'}${worker}`,
        acks: this.options.acks,
        idempotent: this.idempotent,
        lingerMs: 2,
        deliveryTimeoutMs: this.options.deliveryTimeoutMs,
        requestTimeoutMs: Math.min(5_000, this.options.deliveryTimeoutMs),
        retryBackoffMs: 50,
        retryBackoffMsMax: 500,
        metadataMaxAgeMs: 2_000,
        random: () => random.next(),
        ...this.options.security,
      });
      this.producers.push(producer);
      this.loops.push(this.loop(worker, producer));
    }
  }

  /** Stops sending, waits for every outstanding send's outcome (bounded by the delivery timeout), closes the producers. */
  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    await Promise.all([...this.outstanding]);
    await Promise.all(this.producers.map((producer) => producer.close({ timeoutMs: 1_000 }).catch(() => undefined)));
  }

  private async loop(worker: number, producer: Producer): Promise<void> {
    const { topic, partitions, history, workers, recordsPerSecond, inflightPerWorker } = this.options;
    const intervalMs = (1000 * workers) / recordsPerSecond;
    const turnBase = worker - (this.options.workerBase ?? 0);
    // Outstanding sends by partition: a partition stuck behind a fault does not stall the others.
    const mine = Array.from({ length: partitions }, () => new Set<Promise<void>>());
    let n = 0;
    let turn = turnBase;
    let nextAtMs = Date.now();
    while (this.running) {
      if (this.options.recordsMax !== undefined && this.sent >= this.options.recordsMax) break;
      let partition = -1;
      for (let k = 0; k < partitions; k++) {
        const candidate = (turn + k) % partitions;
        if ((mine[candidate] as Set<Promise<void>>).size < inflightPerWorker) {
          partition = candidate;
          break;
        }
      }
      if (partition < 0) {
        await Promise.race(mine.flatMap((set) => [...set]));
        continue;
      }
      turn = partition + 1;
      const value = `${this.options.valuePrefix ?? 'w'}${worker}-${n}`;
      n += 1;
      const op = history.invokeProduce(worker, value, topic, partition, this.idempotent);
      if (op === null) break;
      this.sent += 1;
      const done: Promise<void> = producer.send({ topic, partition, value }).then(
        (metadata) =>
          history.completeProduce(op, { kind: 'ok', partition: metadata.partition, offset: metadata.offset }),
        (error: unknown) => history.completeProduce(op, classifyProduceError(error)),
      );
      const set = mine[partition] as Set<Promise<void>>;
      set.add(done);
      this.outstanding.add(done);
      void done.finally(() => {
        set.delete(done);
        this.outstanding.delete(done);
      });
      nextAtMs += intervalMs;
      const waitMs = nextAtMs - Date.now();
      if (waitMs > 0) await sleep(waitMs);
      else if (waitMs < -1_000) nextAtMs = Date.now(); // fell behind (a stall): do not burst to catch up
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
