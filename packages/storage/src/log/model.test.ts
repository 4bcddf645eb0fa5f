/**
 * The store against the Raft library's in-memory reference (`MemoryStorage`) under random
 * appends, conflict truncations, compactions, snapshot installs and reopens: after every step
 * both must answer firstIndex, lastIndex, term and entries the same.
 * Replay: MODEL_SEED=<seed> npx vitest run src/log/model.test.ts   (from packages/storage)
 */
import { describe, expect, it } from 'vitest';
import { EntriesPendingError } from '@streambus/raft';
import type { Entry, LogStorage } from '@streambus/raft';
import { MemoryStorage } from '@streambus/raft/testing';
import { batchEntry, openTempStore, plainEntry } from '../testing/index.js';
import { verifyStore } from '../verify/verify-store.js';

const seed = Number(process.env['MODEL_SEED'] ?? Date.now() % 2 ** 31);
const steps = 120;

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

async function entriesEventually(log: LogStorage, lo: number, hi: number): Promise<Entry[]> {
  for (let attempt = 0; attempt < 200; attempt++) {
    try {
      const out: Entry[] = [];
      while (lo + out.length < hi) out.push(...log.entries(lo + out.length, hi, Infinity));
      return out;
    } catch (error: unknown) {
      if (!(error instanceof EntriesPendingError)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  }
  throw new Error('entries stayed pending');
}

describe('LevelRaftStore against MemoryStorage', () => {
  it('agrees under random appends, truncations, compactions, snapshots and reopens', async () => {
    console.log(`model test: seed ${seed} (replay: MODEL_SEED=${seed} npx vitest run src/log/model.test.ts)`);
    const rand = random(seed);
    const pick = (n: number): number => Math.floor(rand() * n);
    const t = await openTempStore({ tailCacheBytesMax: 2048 });
    try {
      const model = new MemoryStorage();
      t.store.openGroup(1, null);
      let term = 1;
      let nextOffset = 0;
      const offsetAfter = new Map<number, number>();
      for (let step = 0; step < steps; step++) {
        const roll = rand();
        const first = model.firstIndex();
        const last = model.lastIndex();
        if (roll < 0.55) {
          // Append, sometimes overwriting a suffix with a newer term.
          const from = last >= first && rand() < 0.3 ? first + pick(last - first + 1) : last + 1;
          if (from <= last) term++;
          // Offsets continue gap-free from the last batch kept (as a partition leader stamps them).
          nextOffset = offsetAfter.get(from - 1) ?? nextOffset;
          const entries: Entry[] = [];
          for (let i = 0; i < 1 + pick(4); i++) {
            const index = from + i;
            if (rand() < 0.2) entries.push(plainEntry(index, term));
            else {
              const records = 1 + pick(3);
              entries.push(batchEntry({ index, term, baseOffset: nextOffset, records, valueBytes: pick(300) }));
              nextOffset += records;
            }
            offsetAfter.set(index, nextOffset);
          }
          const hardState = { term, vote: 1, commit: model.firstIndex() - 1 };
          model.write({ entries, hardState, snapshot: null });
          await t.store.persist([{ groupId: 1, entries, hardState, snapshot: null }], true);
        } else if (roll < 0.7 && last >= first) {
          const index = first + pick(last - first + 1);
          const snapshot = {
            metadata: { index, term: model.term(index), confState: model.snapshot().metadata.confState },
            data: Buffer.from(`s${step}`),
          };
          model.compact(snapshot);
          await t.store.compact(1, snapshot);
        } else if (roll < 0.75) {
          term++;
          const index = first + pick(last - first + 6); // inside or beyond the log: it is replaced either way
          const snapshot = {
            metadata: {
              index,
              term,
              confState: { voters: [1, 2], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false },
            },
            data: Buffer.from(`i${step}`),
          };
          model.write({ entries: [], hardState: null, snapshot });
          await t.store.persist([{ groupId: 1, entries: [], hardState: null, snapshot }], true);
        } else if (roll < 0.85) {
          await t.reopen();
        }
        const log = t.store.openGroup(1, null);
        const where = `seed ${seed} step ${step}`;
        expect([log.firstIndex(), log.lastIndex()], where).toEqual([model.firstIndex(), model.lastIndex()]);
        for (let index = model.firstIndex() - 1; index <= model.lastIndex(); index++)
          expect(log.term(index), where).toBe(model.term(index));
        expect(log.initialState(), where).toEqual(model.initialState());
        const got = await entriesEventually(log, model.firstIndex(), model.lastIndex() + 1);
        const want = model.entries(model.firstIndex(), model.lastIndex() + 1, Infinity);
        expect(
          got.map((e) => [e.index, e.term, e.type, Buffer.from(e.data).toString('hex')]),
          where,
        ).toEqual(want.map((e) => [e.index, e.term, e.type, Buffer.from(e.data).toString('hex')]));
      }
      expect((await verifyStore(t.store)).problems).toEqual([]);
    } finally {
      await t.cleanup();
    }
  });
});
