/**
 * Record batch benchmark (`node packages/proto/dist/bench/record-batch-bench.js` after a build):
 * what validating every record costs a partition leader on top of the checks it made before
 * (`verifyBatch`: frame, CRC32C, header), per batch shape; `decodeRecordBatch` for comparison.
 *
 * Method: one batch per shape, built before timing (keys `key-<i>`, values of `valueBytes`, one
 * header on every record; timestamps 1 ms apart), each function called in a loop for
 * `runSeconds` after a warm-up; figures are medians of `repetitions` runs, and the overhead
 * is the median of the paired run ratios (validate / verify, measured back to back). MB = 10^6
 * bytes of encoded batch. Environment: BENCH_REPETITIONS (default 5), BENCH_SECONDS (0.5).
 */
import { decodeRecordBatch, encodeRecordBatch, validateRecordBatch, verifyBatch } from '../batch/record-batch.js';
import type { CompressionCodecName } from '../batch/record-batch.js';

interface Shape {
  readonly name: string;
  readonly records: number;
  readonly valueBytes: number;
  readonly compression: CompressionCodecName;
}

const shapes: readonly Shape[] = [
  { name: '1000 x 10 B', records: 1000, valueBytes: 10, compression: 'none' },
  { name: '1000 x 100 B', records: 1000, valueBytes: 100, compression: 'none' },
  { name: '100 x 1 KiB', records: 100, valueBytes: 1024, compression: 'none' },
  { name: '1000 x 1 KiB', records: 1000, valueBytes: 1024, compression: 'none' },
  { name: '1000 x 100 B gzip', records: 1000, valueBytes: 100, compression: 'gzip' },
];
const repetitions = Number(process.env['BENCH_REPETITIONS'] ?? 5);
const runSeconds = Number(process.env['BENCH_SECONDS'] ?? 0.5);

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Nanoseconds per call of `fn(batch)`, over about `runSeconds`. */
function callNs(fn: (bytes: Uint8Array) => unknown, batch: Uint8Array): number {
  let calls = 0;
  const started = process.hrtime.bigint();
  const until = started + BigInt(Math.round(runSeconds * 1e9));
  let now = started;
  while (now < until) {
    for (let i = 0; i < 16; i++) fn(batch);
    calls += 16;
    now = process.hrtime.bigint();
  }
  return Number(now - started) / calls;
}

function makeBatch(shape: Shape): Buffer {
  const value = Buffer.alloc(shape.valueBytes, 7);
  const records = Array.from({ length: shape.records }, (_, i) => ({
    key: Buffer.from(`key-${i}`),
    value,
    headers: [{ key: 'trace', value: Buffer.from('0af7651916cd43dd') }],
    timestamp: 1_700_000_000_000 + i,
  }));
  return encodeRecordBatch({ records }, { compression: shape.compression });
}

function main(): void {
  process.stdout.write(
    `record batch bench: node ${process.version}, ${process.platform}/${process.arch}, ${repetitions} runs of ${runSeconds} s per function and shape\n`,
  );
  process.stdout.write(
    '| batch | bytes | verify µs | validate µs | decode µs | validate MB/s | validate / verify |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n',
  );
  for (const shape of shapes) {
    const batch = makeBatch(shape);
    for (const fn of [verifyBatch, validateRecordBatch, decodeRecordBatch]) callNs(fn, batch);
    const verify: number[] = [];
    const validate: number[] = [];
    const decode: number[] = [];
    const ratios: number[] = [];
    for (let run = 0; run < repetitions; run++) {
      const v = callNs(verifyBatch, batch);
      const w = callNs(validateRecordBatch, batch);
      verify.push(v);
      validate.push(w);
      ratios.push(w / v);
      decode.push(callNs(decodeRecordBatch, batch));
    }
    const validateNs = median(validate);
    const cells = [
      shape.name,
      String(batch.byteLength),
      (median(verify) / 1000).toFixed(1),
      (validateNs / 1000).toFixed(1),
      (median(decode) / 1000).toFixed(1),
      ((batch.byteLength / validateNs) * 1000).toFixed(0),
      median(ratios).toFixed(2),
    ];
    process.stdout.write(`| ${cells.join(' | ')} |\n`);
  }
}

main();
