import { noProducerId } from '@streambus/proto';
import type { RecordBatchHeader } from '@streambus/proto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PartitionState } from './partition-state.js';

function header(fields: Partial<RecordBatchHeader> & { baseOffset: number; recordCount: number }): RecordBatchHeader {
  return {
    version: 1,
    batchLength: 0,
    sizeBytes: 0,
    crc: 0,
    attributes: 0,
    compression: 0,
    firstTimestamp: 0,
    maxTimestamp: 0,
    producerId: noProducerId,
    producerEpoch: -1,
    baseSequence: -1,
    ...fields,
    lastOffsetDelta: fields.recordCount - 1,
    lastOffset: fields.baseOffset + fields.recordCount - 1,
  };
}

describe('PartitionState', () => {
  it('assigns gap-free offsets and remembers where each producer batch landed', () => {
    const state = new PartitionState();
    state.append(header({ baseOffset: 0, recordCount: 3 }));
    const first = header({ baseOffset: 3, recordCount: 2, producerId: 7, producerEpoch: 0, baseSequence: 0 });
    expect(state.check(first).kind).toBe('new');
    state.append(first);
    expect(state.nextOffset).toBe(5);
    const retry = header({ baseOffset: 0, recordCount: 2, producerId: 7, producerEpoch: 0, baseSequence: 0 });
    expect(state.check(retry)).toEqual({
      kind: 'duplicate',
      batch: { firstSequence: 0, lastSequence: 1, baseOffset: 3, lastOffset: 4 },
    });
    expect(
      state.check(header({ baseOffset: 0, recordCount: 1, producerId: 7, producerEpoch: 0, baseSequence: 2 })).kind,
    ).toBe('new');
    expect(
      state.check(header({ baseOffset: 0, recordCount: 1, producerId: 7, producerEpoch: 0, baseSequence: 5 })),
    ).toEqual({ kind: 'out-of-order', expected: 2 });
  });

  it('requires sequence 0 from a new producer or a new epoch, and fences old epochs', () => {
    const state = new PartitionState();
    expect(
      state.check(header({ baseOffset: 0, recordCount: 1, producerId: 1, producerEpoch: 0, baseSequence: 5 })),
    ).toEqual({ kind: 'out-of-order', expected: 0 });
    state.append(header({ baseOffset: 0, recordCount: 1, producerId: 1, producerEpoch: 1, baseSequence: 0 }));
    expect(
      state.check(header({ baseOffset: 0, recordCount: 1, producerId: 1, producerEpoch: 2, baseSequence: 3 })),
    ).toEqual({ kind: 'out-of-order', expected: 0 });
    expect(
      state.check(header({ baseOffset: 0, recordCount: 1, producerId: 1, producerEpoch: 2, baseSequence: 0 })).kind,
    ).toBe('new');
    expect(
      state.check(header({ baseOffset: 0, recordCount: 1, producerId: 1, producerEpoch: 0, baseSequence: 1 })),
    ).toEqual({ kind: 'fenced', currentEpoch: 1 });
  });

  it('tells a batch written before the remembered window (DUPLICATE_SEQUENCE) from one out of order', () => {
    const state = new PartitionState();
    // Batches of 2 records: sequences 0-1, 2-3, ... 10-11; the window keeps the last 5 (2..11).
    for (let batch = 0; batch < 6; batch++) {
      state.append(
        header({
          baseOffset: state.nextOffset,
          recordCount: 2,
          producerId: 7,
          producerEpoch: 0,
          baseSequence: 2 * batch,
        }),
      );
    }
    const at = (baseSequence: number, recordCount = 2) =>
      state.check(header({ baseOffset: 0, recordCount, producerId: 7, producerEpoch: 0, baseSequence }));
    expect(at(0)).toEqual({ kind: 'duplicate-forgotten', oldestSequence: 2 });
    expect(at(4).kind).toBe('duplicate');
    // Inside the window but not one of its batches, or overlapping its start: not a retry.
    expect(at(3)).toEqual({ kind: 'out-of-order', expected: 12 });
    expect(at(1)).toEqual({ kind: 'out-of-order', expected: 12 });
    expect(at(12).kind).toBe('new');
    expect(at(20)).toEqual({ kind: 'out-of-order', expected: 12 });
    // A window that is not full forgot nothing: an earlier sequence was never written.
    const young = new PartitionState();
    young.append(header({ baseOffset: 0, recordCount: 2, producerId: 8, producerEpoch: 0, baseSequence: 0 }));
    expect(
      young.check(header({ baseOffset: 0, recordCount: 1, producerId: 8, producerEpoch: 0, baseSequence: 0x7fff_fffe }))
        .kind,
    ).toBe('out-of-order');
  });

  it('round-trips through its snapshot encoding', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ producer: fc.integer({ min: 0, max: 5 }), count: fc.integer({ min: 1, max: 50 }) }), {
          maxLength: 60,
        }),
        (writes) => {
          const state = new PartitionState();
          const sequences = new Map<number, number>();
          for (const write of writes) {
            const sequence = sequences.get(write.producer) ?? 0;
            state.append(
              header({
                baseOffset: state.nextOffset,
                recordCount: write.count,
                producerId: write.producer,
                producerEpoch: 0,
                baseSequence: sequence,
              }),
            );
            sequences.set(write.producer, sequence + write.count);
          }
          const decoded = PartitionState.decode(state.encode());
          expect(decoded.nextOffset).toBe(state.nextOffset);
          expect([...decoded.producers]).toEqual([...state.producers]);
        },
      ),
    );
  });

  it('rejects a corrupt snapshot with a typed error', () => {
    const bytes = Buffer.from(new PartitionState(42).encode());
    expect(() => PartitionState.decode(bytes.subarray(0, 5))).toThrow(/corrupt/);
    bytes[0] = 0;
    expect(() => PartitionState.decode(bytes)).toThrow(/corrupt/);
  });
});
