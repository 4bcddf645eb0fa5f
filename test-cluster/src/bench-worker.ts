/**
 * One producer of the benchmark, run in a worker thread: sends fixed-size records as fast as the
 * producer's buffer allows (or at a fixed rate), and reports acknowledged counts and, when
 * pacing, per-record latencies.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Producer } from '@streambus/client';
import type { SaslOptions, TlsOptions } from '@streambus/client';

export interface WorkerInput {
  readonly bootstrap: string;
  readonly topic: string;
  readonly partitions: number;
  readonly recordBytes: number;
  readonly durationMs: number;
  /** Records per second, 0 for as fast as possible. */
  readonly ratePerSecond: number;
  readonly workerIndex: number;
  /** Producer linger: larger batches for throughput runs, the SDK default for latency runs. */
  readonly lingerMs: number;
  /** Latencies of records sent in this first stretch are not recorded (JIT and caches warm up). */
  readonly warmupMs: number;
  /** TLS and SCRAM options (`bench --secure`); the CA as PEM text (a Buffer would arrive as a Uint8Array). */
  readonly security?: { readonly tls?: TlsOptions; readonly sasl?: SaslOptions };
}

export type WorkerMessage =
  | { readonly kind: 'progress'; readonly acked: number }
  | {
      readonly kind: 'done';
      readonly acked: number;
      readonly failed: number;
      readonly elapsedMs: number;
      readonly latenciesUs: number[];
    };

async function run(input: WorkerInput): Promise<void> {
  const port = parentPort;
  if (port === null) throw new Error('bench-worker runs in a worker thread');
  const producer = new Producer({
    ...input.security,
    bootstrapServers: input.bootstrap.split(','),
    lingerMs: input.lingerMs,
    batchBytesMax: 512 * 1024,
    bufferBytesMax: 64 * 1024 * 1024,
  });
  const value = Buffer.alloc(input.recordBytes, 0x61 + input.workerIndex);
  let acked = 0;
  let failed = 0;
  const latenciesUs: number[] = [];
  const started = performance.now();
  const deadline = started + input.durationMs;
  const progress = setInterval(() => port.postMessage({ kind: 'progress', acked } satisfies WorkerMessage), 1000);
  let sent = 0;
  const onAck = (): void => {
    acked += 1;
  };
  const onFail = (): void => {
    failed += 1;
  };
  if (input.ratePerSecond === 0) {
    while (performance.now() < deadline) {
      const burst: Promise<unknown>[] = [];
      for (let i = 0; i < 1000; i++) {
        burst.push(
          producer.send({ topic: input.topic, partition: sent % input.partitions, value }).then(onAck, onFail),
        );
        sent += 1;
      }
      await Promise.race([Promise.all(burst), new Promise((resolve) => setTimeout(resolve, 1))]);
    }
  } else {
    // Paced by elapsed time, not by timer count: slow timers must not lower the offered rate.
    while (performance.now() < deadline) {
      const due = Math.floor(((performance.now() - started) / 1000) * input.ratePerSecond) - sent;
      for (let i = 0; i < due; i++) {
        const at = performance.now();
        const measured = at - started >= input.warmupMs;
        producer.send({ topic: input.topic, partition: sent % input.partitions, value }).then(() => {
          acked += 1;
          if (measured) latenciesUs.push(Math.round((performance.now() - at) * 1000));
        }, onFail);
        sent += 1;
      }
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  }
  await producer.flush();
  const elapsedMs = performance.now() - started;
  await producer.close();
  clearInterval(progress);
  port.postMessage({ kind: 'done', acked, failed, elapsedMs, latenciesUs } satisfies WorkerMessage);
}

void run(workerData as WorkerInput);
