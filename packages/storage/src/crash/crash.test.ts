/**
 * Crash tests with real processes: a child appends batches (three groups per group-committed
 * persist) under each sync policy and is SIGKILLed at seeded random moments, some during its
 * start-up; after each kill the parent reopens the store and checks that
 *  - every batch the child reported durable is there (always: every `ack`; periodic: every batch
 *    up to the last `synced`; none: nothing is promised),
 *  - all groups end at the same index (group commit is atomic),
 *  - every batch written since the previous round reads back CRC-verified and byte-identical
 *    to what was written (no torn or corrupt batch is ever returned), and, after the last kill,
 *    verifyStore CRC-checks every stored batch and finds no problem.
 * Replay: CRASH_SEED=<seed> npx vitest run src/crash   (from packages/storage)
 */
import { spawn } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LevelRaftStore } from '../log/level-raft-store.js';
import type { WalSyncPolicy } from '../log/level-raft-store.js';
import { makeTempDir } from '../testing/index.js';
import { verifyStore } from '../verify/verify-store.js';
import { crashBatch, crashGroupIds, crashRecordsPerBatch } from './crash-workload.js';

const killsPerPolicy = Number(process.env['CRASH_KILLS'] ?? 10);
const killDelayMsMax = 250;
const seed = Number(process.env['CRASH_SEED'] ?? Date.now() % 2 ** 31);
const childPath = fileURLToPath(new URL('./crash-child.ts', import.meta.url));
/** Bundled next to the package (so that its native dependencies resolve), removed after. */
const bundleDir = fileURLToPath(new URL('../../.tmp/', import.meta.url));
const bundlePath = `${bundleDir}crash-child-${process.pid}.mjs`;
let childArgs: string[] = ['--conditions=@streambus/source', '--import', 'tsx', childPath];

/**
 * Starting the child through tsx costs ~0.6 s of transpiling per spawn (seconds on a loaded
 * machine); bundling it once from the sources with esbuild (tsx's own transpiler, always
 * installed with it) makes each spawn cheap and never stale. Falls back to tsx.
 */
async function bundleChild(): Promise<void> {
  try {
    const { build } = await import('esbuild');
    await mkdir(bundleDir, { recursive: true });
    await build({
      entryPoints: [childPath],
      outfile: bundlePath,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      conditions: ['@streambus/source'],
      external: ['classic-level', '@node-rs/crc32'],
      // CommonJS dependencies inside the bundle need a `require`.
      banner: {
        js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
      },
      logLevel: 'silent',
    });
    childArgs = [bundlePath];
  } catch (error: unknown) {
    console.log(`crash test: bundling the child failed (${String(error)}); spawning it through tsx`);
  }
}

/** mulberry32: a small seeded generator, so a seed replays the same kill moments. */
function random(seedValue: number): () => number {
  let a = seedValue >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface ChildRun {
  /** Highest batch acknowledged by persist. */
  acked: number;
  /** Highest batch covered by a completed sync. */
  synced: number;
  readyAt: number | null;
}

function runAndKill(dir: string, policy: WalSyncPolicy, killBeforeReady: boolean, delayMs: number): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...childArgs, dir, policy], { stdio: ['ignore', 'pipe', 'pipe'] });
    const run: ChildRun = { acked: 0, synced: 0, readyAt: null };
    let pending = '';
    let stderr = '';
    let killed = false;
    const kill = (): void => {
      if (killed) return;
      killed = true;
      child.kill('SIGKILL');
    };
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        const [word, value] = line.split(' ');
        const n = Number(value);
        if (word === 'ack') run.acked = Math.max(run.acked, n);
        else if (word === 'synced') run.synced = Math.max(run.synced, n);
        else if (word === 'ready' && run.readyAt === null) {
          run.readyAt = n;
          if (!killBeforeReady) setTimeout(kill, delayMs);
        }
      }
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    if (killBeforeReady) setTimeout(kill, delayMs);
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve(run);
      else reject(new Error(`child exited with ${code ?? signal} before the kill: ${stderr}`));
    });
  });
}

/**
 * Reopens the store and checks it. Batches above `checkedBelow` (new since the previous round)
 * are read back and compared byte for byte; `fullVerify` also CRC-checks every stored batch.
 */
async function checkStore(
  dir: string,
  durable: number,
  checkedBelow: number,
  fullVerify: boolean,
): Promise<{ last: number; batches: number }> {
  const store = await LevelRaftStore.open(dir, { walSync: 'none' });
  try {
    const ids = store.groupIds();
    if (ids.length === 0) {
      expect(durable).toBe(0);
      return { last: 0, batches: 0 };
    }
    expect([...ids].sort()).toEqual([...crashGroupIds]);
    const lasts = crashGroupIds.map((g) => store.openGroup(g, null).lastIndex());
    const last = lasts[0] ?? 0;
    expect(lasts.every((l) => l === last)).toBe(true);
    expect(last).toBeGreaterThanOrEqual(durable);
    let batches = 0;
    for (const g of crashGroupIds) {
      const from = Math.min(checkedBelow, last);
      if (from === last) continue;
      const read = await store.readBatches(g, from * crashRecordsPerBatch, Infinity, last);
      expect(read.map((b) => b.raftIndex)).toEqual(Array.from({ length: last - from }, (_, i) => from + i + 1));
      for (const b of read) {
        expect(b.fromCache).toBe(false);
        expect(
          Buffer.compare(Buffer.from(b.data.buffer, b.data.byteOffset, b.data.byteLength), crashBatch(g, b.raftIndex)),
        ).toBe(0);
      }
      batches += read.length;
    }
    if (fullVerify) {
      const report = await verifyStore(store);
      expect(report.problems).toEqual([]);
      expect(report.batches).toBe(last * crashGroupIds.length);
    }
    return { last, batches };
  } finally {
    await store.close();
  }
}

describe('crash recovery with SIGKILLed writer processes', () => {
  console.log(`crash test: seed ${seed} (replay: CRASH_SEED=${seed} npx vitest run src/crash)`);
  const rand = random(seed);
  beforeAll(bundleChild);
  afterAll(() => rm(bundlePath, { force: true }));

  for (const policy of ['always', 'periodic', 'none'] as const) {
    it(`keeps every durable batch intact under wal_sync=${policy}`, async () => {
      const dir = await makeTempDir('streambus-crash-');
      let kills = 0;
      let durableMax = 0;
      let last = 0;
      let checked = 0;
      let checkedUpTo = 0;
      try {
        for (let round = 0; round < killsPerPolicy; round++) {
          const beforeReady = rand() < 0.2;
          const delayMs = Math.floor(rand() * killDelayMsMax);
          const t0 = Date.now();
          const run = await runAndKill(dir, policy, beforeReady, beforeReady ? delayMs + 300 : delayMs);
          kills++;
          const t1 = Date.now();
          const durable = policy === 'always' ? run.acked : policy === 'periodic' ? run.synced : 0;
          // Earlier rounds' batches stay durable too.
          durableMax = Math.max(durableMax, durable, policy === 'none' ? 0 : last);
          // A kill may lose unsynced batches (none), which the next child writes again: re-check from the lower of the two.
          const result = await checkStore(
            dir,
            policy === 'none' ? 0 : durableMax,
            Math.max(0, Math.min(last, checkedUpTo)),
            round === killsPerPolicy - 1,
          );
          checkedUpTo = result.last;
          if (policy !== 'none') expect(result.last).toBeGreaterThanOrEqual(last);
          last = result.last;
          checked += result.batches;
          if (process.env['CRASH_TIMING'] !== undefined)
            console.log(`round ${round}: child ${t1 - t0} ms, check ${Date.now() - t1} ms`);
        }
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
      console.log(
        `crash test wal_sync=${policy}: ${kills} SIGKILLs, last index ${last}, durable promised ${durableMax}, ${checked} batch reads verified (seed ${seed})`,
      );
      expect(kills).toBe(killsPerPolicy);
    }, 60_000);
  }
});
