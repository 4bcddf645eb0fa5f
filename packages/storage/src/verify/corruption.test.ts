/**
 * Random single-bit corruption of stored entries: whatever bit of whatever entry value flips,
 * verifyStore reports a problem at that group and raft index (or the next one, for a term
 * that now decreases there), and readBatches either serves the
 * exact bytes that were written (the flip missed the batch: e.g. the term field) or raises
 * CorruptBatchError — never different bytes.
 * Replay: CORRUPT_SEED=<seed> npx vitest run src/verify/corruption.test.ts   (from packages/storage)
 */
import { ClassicLevel } from 'classic-level';
import { describe, expect, it } from 'vitest';
import { CorruptBatchError } from '../errors.js';
import { KeyKind, makeKey } from '../keys.js';
import { LevelRaftStore } from '../log/level-raft-store.js';
import { batchEntry, openTempStore } from '../testing/index.js';
import { verifyStore } from './verify-store.js';

const seed = Number(process.env['CORRUPT_SEED'] ?? Date.now() % 2 ** 31);
const flips = 25;
const entriesPerGroup = 8;
const groupIds = [3, 4];

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

describe('random corruption of stored entries', () => {
  it('is always reported by verifyStore and never served', async () => {
    console.log(
      `corruption test: seed ${seed} (replay: CORRUPT_SEED=${seed} npx vitest run src/verify/corruption.test.ts)`,
    );
    const rand = random(seed);
    const t = await openTempStore();
    const written = new Map<string, Buffer>();
    try {
      for (const g of groupIds) t.store.openGroup(g, null);
      const entries = groupIds.map(() =>
        Array.from({ length: entriesPerGroup }, (_, i) =>
          batchEntry({ index: i + 1, term: 1 + (i >> 2), baseOffset: 3 * i, records: 3, valueBytes: 40 + i }),
        ),
      );
      await t.store.persist(
        groupIds.map((g, i) => ({ groupId: g, entries: entries[i] ?? [], hardState: null, snapshot: null })),
        true,
      );
      groupIds.forEach((g, i) => entries[i]?.forEach((e) => written.set(`${g}/${e.index}`, Buffer.from(e.data))));
      await t.store.close();
      let served = 0;
      let refused = 0;
      for (let flip = 0; flip < flips; flip++) {
        const g = groupIds[Math.floor(rand() * groupIds.length)] as number;
        const index = 1 + Math.floor(rand() * entriesPerGroup);
        const key = makeKey(KeyKind.entry, g, index);
        const db = new ClassicLevel<Buffer, Buffer>(t.dir, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
        const original = Buffer.from((await db.get(key)) as Buffer);
        const bit = Math.floor(rand() * original.byteLength * 8);
        const corrupted = Buffer.from(original);
        corrupted[bit >> 3] = (corrupted[bit >> 3] as number) ^ (1 << (bit & 7));
        await db.put(key, corrupted);
        await db.close();
        const where = `seed ${seed} flip ${flip}: group ${g} index ${index} bit ${bit}`;

        const report = await verifyStore(t.dir);
        expect(report.ok, where).toBe(false);
        expect(
          report.problems.some((p) => p.groupId === g && (p.index === index || p.index === index + 1)),
          where,
        ).toBe(true);

        const store = await LevelRaftStore.open(t.dir);
        try {
          for (const group of groupIds) {
            for (let from = 0; from < 3 * entriesPerGroup; from += 3) {
              try {
                const got = await store.readBatches(group, from, 1, entriesPerGroup);
                for (const b of got)
                  expect(Buffer.from(b.data).equals(written.get(`${group}/${b.raftIndex}`) as Buffer), where).toBe(
                    true,
                  );
                served++;
              } catch (error: unknown) {
                expect(error, where).toBeInstanceOf(CorruptBatchError);
                expect(error, where).toMatchObject({ groupId: g, index });
                refused++;
              }
            }
          }
        } finally {
          await store.close();
        }
        const restore = new ClassicLevel<Buffer, Buffer>(t.dir, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
        await restore.put(key, original);
        await restore.close();
      }
      console.log(`corruption test: ${flips} flips, ${served} reads served intact, ${refused} refused (seed ${seed})`);
      expect(refused).toBeGreaterThan(0);
      expect((await verifyStore(t.dir)).ok).toBe(true);
    } finally {
      await t.cleanup();
    }
  });
});
