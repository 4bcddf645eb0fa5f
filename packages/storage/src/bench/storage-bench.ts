/**
 * Storage benchmark (`npm run bench:storage`): append throughput of `LevelRaftStore` against raw
 * classic-level `batch()` writes of the same bytes, per sync policy and batch size, side by side
 * in one run; then fetch throughput from the tail cache and from disk.
 *
 * Method: 1 KiB records, record batches of 100 and 1,000 records (~100 KiB, ~1 MiB), one Raft
 * entry per batch, one `persist` per batch (one group; hard state written with it) versus one
 * raw chained `batch()` per batch holding the same batch bytes under a 13-byte key, on a
 * database opened with the store's LevelDB options (32 MiB write buffer). Each
 * measurement writes `appendBytesPerRun` into a fresh directory; store and raw runs are paired
 * and alternate which goes first; figures are medians of `repetitions` (5), ratios medians of
 * the paired ratios (the headline configuration runs 2 * repetitions - 1 pairs). MB = 10^6
 * bytes. Also reported: the ratio of MB per CPU second (process user + system time), which other
 * processes competing for the cores do not skew. The last line is `append/raw: R` for
 * policy none, batches of 1,000.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { encodeRecordBatch, stampBaseOffset } from '@streambus/proto';
import { EntryType } from '@streambus/raft';
import { LevelRaftStore } from '../log/level-raft-store.js';
import type { WalSyncPolicy } from '../log/level-raft-store.js';
import { KeyKind, makeKey } from '../keys.js';
import { levelOpenOptions } from '../open-db.js';

const recordBytes = 1024;
const batchSizes = [100, 1000] as const;
const policies: readonly WalSyncPolicy[] = ['always', 'periodic', 'none'];
const repetitions = Number(process.env['BENCH_REPETITIONS'] ?? 5);
const appendBytesPerRun = Number(process.env['BENCH_APPEND_MB'] ?? 64) * 1_000_000;
const syncIntervalMs = 10;
/** BENCH_ONLY=policy/records (e.g. always/100) runs that configuration and the headline one only. */
const only = process.env['BENCH_ONLY'];

function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Distinct batch buffers (each stamped with its own base offset), built before timing. */
function makeBatches(recordsPerBatch: number): Buffer[] {
  const records = Array.from({ length: recordsPerBatch }, (_, i) => ({
    key: Buffer.from(`key-${i}`),
    value: Buffer.alloc(recordBytes, i % 251),
  }));
  const template = encodeRecordBatch({ records }, { timestampMs: 1_700_000_000_000 });
  const count = Math.max(8, Math.ceil(appendBytesPerRun / template.byteLength));
  return Array.from({ length: count }, (_, i) => {
    const copy = Buffer.from(template);
    stampBaseOffset(copy, i * recordsPerBatch);
    return copy;
  });
}

interface Rate {
  readonly seconds: number;
  readonly bytes: number;
  readonly batches: number;
  /** Process CPU time (user + system) spent during the run, seconds. */
  readonly cpuSeconds: number;
}

function cpuSecondsSince(start: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1e6;
}

const mbps = (r: Rate): number => r.bytes / 1e6 / r.seconds;
/** MB per CPU second: insensitive to other processes competing for the cores. */
const mbPerCpuSecond = (r: Rate): number => r.bytes / 1e6 / r.cpuSeconds;
const bps = (r: Rate): number => r.batches / r.seconds;

async function withDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'streambus-bench-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function appendStore(
  dir: string,
  policy: WalSyncPolicy,
  batches: readonly Buffer[],
): Promise<{ rate: Rate; store: LevelRaftStore }> {
  const store = await LevelRaftStore.open(dir, { walSync: policy, walSyncIntervalMs: syncIntervalMs });
  store.openGroup(1, { voters: [1], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false });
  await store.persist([], true);
  let bytes = 0;
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  for (let i = 0; i < batches.length; i++) {
    const data = batches[i] as Buffer;
    const index = i + 1;
    await store.persist(
      [
        {
          groupId: 1,
          hardState: { term: 1, vote: 1, commit: index },
          snapshot: null,
          entries: [{ index, term: 1, type: EntryType.normal, data }],
        },
      ],
      true,
    );
    bytes += data.byteLength;
  }
  if (policy === 'periodic') await store.syncNow();
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return { rate: { seconds, bytes, batches: batches.length, cpuSeconds: cpuSecondsSince(cpu) }, store };
}

async function appendRaw(dir: string, policy: WalSyncPolicy, batches: readonly Buffer[]): Promise<Rate> {
  const db = new ClassicLevel<Buffer, Buffer>(dir, levelOpenOptions);
  await db.open();
  const syncKey = makeKey(KeyKind.syncMarker, 0, 0);
  const empty = Buffer.alloc(0);
  let timer: NodeJS.Timeout | null = null;
  if (policy === 'periodic') timer = setInterval(() => void db.put(syncKey, empty, { sync: true }), syncIntervalMs);
  let bytes = 0;
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  for (let i = 0; i < batches.length; i++) {
    const data = batches[i] as Buffer;
    const batch = db.batch();
    batch.put(makeKey(KeyKind.entry, 1, i + 1), data);
    await batch.write({ sync: policy === 'always' });
    bytes += data.byteLength;
  }
  if (policy === 'periodic') await db.put(syncKey, empty, { sync: true });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const cpuSeconds = cpuSecondsSince(cpu);
  if (timer !== null) clearInterval(timer);
  await db.close();
  return { seconds, bytes, batches: batches.length, cpuSeconds };
}

async function fetchAll(store: LevelRaftStore, last: number): Promise<{ rate: Rate; fromCache: number }> {
  let offset = store.earliestOffset(1);
  const end = store.latestOffset(1, last);
  let bytes = 0;
  let batches = 0;
  let fromCache = 0;
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  while (offset < end) {
    const read = await store.readBatches(1, offset, 4 * 1024 * 1024, last);
    for (const b of read) {
      bytes += b.data.byteLength;
      if (b.fromCache) fromCache++;
    }
    batches += read.length;
    offset = (read[read.length - 1]?.lastOffset ?? end) + 1;
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return { rate: { seconds, bytes, batches, cpuSeconds: cpuSecondsSince(cpu) }, fromCache };
}

async function main(): Promise<void> {
  log(`storage bench: ${new Date().toISOString()}, node ${process.version}, ${process.platform}/${process.arch}`);
  log(
    `method: ${recordBytes} B records, ${appendBytesPerRun / 1e6} MB per run, ${repetitions} repetitions (medians), one persist / raw batch() per record batch, wal_sync_interval ${syncIntervalMs} ms`,
  );
  const results = new Map<string, { store: Rate[]; raw: Rate[] }>();
  const fetchCache: Rate[] = [];
  const fetchDisk: Rate[] = [];
  for (const recordsPerBatch of batchSizes) {
    const batches = makeBatches(recordsPerBatch);
    for (const policy of policies) {
      const key = `${policy}/${recordsPerBatch}`;
      if (only !== undefined && key !== only && !(policy === 'none' && recordsPerBatch === 1000)) continue;
      const entry = { store: [] as Rate[], raw: [] as Rate[] };
      results.set(key, entry);
      // The configuration of the headline ratio gets more pairs.
      const reps = policy === 'none' && recordsPerBatch === 1000 ? 2 * repetitions - 1 : repetitions;
      for (let rep = 1; rep <= reps; rep++) {
        // Alternate which goes first so that drift in the machine's load favours neither.
        const rawFirst = rep % 2 === 1;
        const raw = rawFirst ? await withDir((dir) => appendRaw(dir, policy, batches)) : null;
        const store = await withDir(async (dir) => {
          const { rate, store: s } = await appendStore(dir, policy, batches);
          await s.close();
          return rate;
        });
        const rawRate = raw ?? (await withDir((dir) => appendRaw(dir, policy, batches)));
        entry.store.push(store);
        entry.raw.push(rawRate);
        log(
          `  append ${key} rep ${rep}/${reps}: streambus ${mbps(store).toFixed(1)} MB/s, raw ${mbps(rawRate).toFixed(1)} MB/s, ratio ${(mbps(store) / mbps(rawRate)).toFixed(2)}`,
        );
      }
    }
  }
  // Fetch, in runs of its own so that its reads do not disturb the paired append runs.
  const fetchBatches = makeBatches(1000);
  for (let rep = 1; rep <= repetitions; rep++) {
    await withDir(async (dir) => {
      const { store } = await appendStore(dir, 'none', fetchBatches);
      const cached = await fetchAll(store, fetchBatches.length);
      if (cached.fromCache === cached.rate.batches) fetchCache.push(cached.rate);
      await store.close();
      const reopened = await LevelRaftStore.open(dir, { walSync: 'none' });
      const disk = await fetchAll(reopened, fetchBatches.length);
      fetchDisk.push(disk.rate);
      await reopened.close();
      log(
        `  fetch rep ${rep}/${repetitions}: tail cache ${mbps(cached.rate).toFixed(0)} MB/s (${cached.fromCache}/${cached.rate.batches} batches from cache), disk ${mbps(disk.rate).toFixed(0)} MB/s`,
      );
    });
  }
  log('');
  log(
    '| policy | records/batch | streambus MB/s | streambus batches/s | raw MB/s | raw batches/s | streambus/raw (median of paired runs) | streambus/raw MB per CPU s |',
  );
  log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  let ratio = 0;
  for (const recordsPerBatch of batchSizes) {
    for (const policy of policies) {
      const entry = results.get(`${policy}/${recordsPerBatch}`);
      if (entry === undefined) continue;
      const s = median(entry.store.map(mbps));
      const r = median(entry.raw.map(mbps));
      // The ratio is the median of the paired (adjacent runs) ratios: robust to load drift.
      const paired = median(entry.store.map((rate, i) => mbps(rate) / mbps(entry.raw[i] as Rate)));
      const cpuRatio = median(
        entry.store.map((rate, i) => mbPerCpuSecond(rate) / mbPerCpuSecond(entry.raw[i] as Rate)),
      );
      log(
        `| ${policy} | ${recordsPerBatch} | ${s.toFixed(1)} | ${median(entry.store.map(bps)).toFixed(0)} | ${r.toFixed(1)} | ${median(entry.raw.map(bps)).toFixed(0)} | ${paired.toFixed(2)} | ${cpuRatio.toFixed(2)} |`,
      );
      if (policy === 'none' && recordsPerBatch === 1000) ratio = paired;
    }
  }
  log('');
  log(
    `fetch (1,000-record batches, 4 MiB per read): tail cache ${median(fetchCache.map(mbps)).toFixed(0)} MB/s (zero-copy: index lookups only), disk (after reopen, CRC-checked) ${median(fetchDisk.map(mbps)).toFixed(0)} MB/s`,
  );
  log(`append/raw: ${ratio.toFixed(2)}`);
}

await main();
