import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { propertyRuns, propertySeeds, withReplay } from './test-harness.js';
import { GroupRecordError } from './errors.js';
import { partitionSet } from './partition-set.js';
import {
  brokerReservedKeyByte,
  decodeGroupRecord,
  encodeGroupRecord,
  isBrokerReservedKey,
  memberStates,
  type GroupRecord,
} from './records.js';

// Randomized with a fixed seed (so CI runs the same cases every time); a failure prints its seed
// and the command that replays it. FC_SEED=<seed> replays one, FC_SEED=random explores, FC_RUNS=<n>
// runs longer.
const file = 'src/groups/records.test.ts';
const [seed = 1] = propertySeeds([1]);
console.log(`group records: seed ${seed}`);
const fcParams = { numRuns: propertyRuns(300), seed } as const;

const idArb = fc.stringMatching(/^[a-zA-Z0-9._-]{1,40}$/);
const textArb = fc.string({ maxLength: 40 });
const epochArb = fc.integer({ min: 0, max: 0x7fff_ffff });
const signedEpochArb = fc.integer({ min: -2, max: 0x7fff_ffff });
const timeArb = fc.integer({ min: -1, max: 2 ** 50 });
const setArb = fc
  .array(fc.tuple(idArb, fc.array(fc.integer({ min: 0, max: 9999 }), { minLength: 1, maxLength: 20 })), {
    maxLength: 5,
  })
  .map((entries) => partitionSet(entries));

const recordArb: fc.Arbitrary<GroupRecord> = fc.oneof(
  fc
    .record({
      groupId: idArb,
      groupEpoch: epochArb,
      assignor: fc.constantFrom('uniform', 'range'),
      createdMs: timeArb,
      emptySinceMs: timeArb,
    })
    .chain((r) =>
      fc.integer({ min: 0, max: r.groupEpoch }).map((assignmentEpoch) => ({
        type: 'group' as const,
        ...r,
        assignmentEpoch,
      })),
    ),
  fc.record({ type: fc.constant('group-tombstone' as const), groupId: idArb }),
  fc.record({
    type: fc.constant('member' as const),
    groupId: idArb,
    memberId: idArb,
    instanceId: fc.oneof(fc.constant(''), idArb),
    clientId: textArb,
    clientHost: textArb,
    subscribedTopicNames: fc.uniqueArray(idArb, { maxLength: 5 }).map((names) => [...names].sort()),
    subscribedTopicRegex: textArb,
    rebalanceTimeoutMs: fc.integer({ min: 1, max: 300_000 }),
    serverAssignor: fc.constantFrom('', 'uniform', 'range'),
  }),
  fc.record({ type: fc.constant('member-tombstone' as const), groupId: idArb, memberId: idArb }),
  fc.record({
    type: fc.constant('target' as const),
    groupId: idArb,
    memberId: idArb,
    assignmentEpoch: epochArb,
    partitions: setArb,
  }),
  fc.record({ type: fc.constant('target-tombstone' as const), groupId: idArb, memberId: idArb }),
  fc.record({
    type: fc.constant('current' as const),
    groupId: idArb,
    memberId: idArb,
    memberEpoch: signedEpochArb,
    previousMemberEpoch: signedEpochArb,
    state: fc.constantFrom(...memberStates),
    assigned: setArb,
    pendingRevocation: setArb,
  }),
  fc.record({ type: fc.constant('current-tombstone' as const), groupId: idArb, memberId: idArb }),
  fc.record({
    type: fc.constant('offset' as const),
    groupId: idArb,
    topic: idArb,
    partition: fc.integer({ min: 0, max: 9999 }),
    offset: fc.maxSafeNat(),
    metadata: fc.string({ maxLength: 100 }),
    commitTimestampMs: timeArb,
    memberEpoch: signedEpochArb,
  }),
  fc.record({
    type: fc.constant('offset-tombstone' as const),
    groupId: idArb,
    topic: idArb,
    partition: fc.integer({ min: 0, max: 9999 }),
  }),
);

function codeOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (error instanceof GroupRecordError) return error.code;
    throw error;
  }
  return 'accepted';
}

describe('group records', () => {
  it('round-trips every record type', () => {
    withReplay(file, seed, () =>
      fc.assert(
        fc.property(recordArb, (record) => {
          const { key, value } = encodeGroupRecord(record);
          expect(value === null).toBe(record.type.endsWith('-tombstone'));
          expect(key[0]).toBe(0);
          if (value !== null) expect(value[0]).toBe(0);
          expect(decodeGroupRecord(key, value)).toEqual(record);
        }),
        fcParams,
      ),
    );
  });

  it('gives each compaction key its own bytes: a record and its tombstone share a key, others do not', () => {
    const member = encodeGroupRecord({ type: 'member-tombstone', groupId: 'g', memberId: 'm' }).key;
    const target = encodeGroupRecord({ type: 'target-tombstone', groupId: 'g', memberId: 'm' }).key;
    const current = encodeGroupRecord({ type: 'current-tombstone', groupId: 'g', memberId: 'm' }).key;
    const group = encodeGroupRecord({ type: 'group-tombstone', groupId: 'g' }).key;
    const offset = encodeGroupRecord({ type: 'offset-tombstone', groupId: 'g', topic: 'm', partition: 0 }).key;
    const keys = [member, target, current, group, offset].map((key) => key.toString('hex'));
    expect(new Set(keys).size).toBe(5);
    const groupRecord = encodeGroupRecord({
      type: 'group',
      groupId: 'g',
      groupEpoch: 1,
      assignmentEpoch: 1,
      assignor: 'uniform',
      createdMs: 5,
      emptySinceMs: -1,
    }).key;
    expect(groupRecord.equals(group)).toBe(true);
  });

  it('refuses bad bytes with a typed error, never a crash or a wrong record', () => {
    withReplay(file, seed, () =>
      fc.assert(
        fc.property(recordArb, fc.nat(), fc.integer({ min: 0, max: 255 }), (record, where, byte) => {
          const { key, value } = encodeGroupRecord(record);
          // Flip one byte of key or value: decoding gives a GroupRecordError or some valid record.
          const target = value !== null && where % 2 === 1 ? Buffer.from(value) : Buffer.from(key);
          target[where % target.length] = byte;
          const isKey = !(value !== null && where % 2 === 1);
          try {
            const decoded = isKey ? decodeGroupRecord(target, value) : decodeGroupRecord(key, target);
            // Whatever was accepted encodes back to the same bytes (one value, one encoding).
            const again = encodeGroupRecord(decoded);
            expect(again.key.equals(isKey ? target : key)).toBe(true);
          } catch (error) {
            expect(error).toBeInstanceOf(GroupRecordError);
          }
        }),
        fcParams,
      ),
    );
  });

  it('refuses truncation and trailing bytes', () => {
    withReplay(file, seed, () =>
      fc.assert(
        fc.property(recordArb, (record) => {
          const { key, value } = encodeGroupRecord(record);
          for (let length = 0; length < key.length; length++) {
            expect(codeOf(() => decodeGroupRecord(key.subarray(0, length), value))).toBe('GROUP_RECORD_MALFORMED');
          }
          expect(codeOf(() => decodeGroupRecord(Buffer.concat([key, Buffer.from([0])]), value))).toBe(
            'GROUP_RECORD_MALFORMED',
          );
          if (value === null) return;
          for (let length = 0; length < value.length; length++) {
            expect(codeOf(() => decodeGroupRecord(key, value.subarray(0, length)))).toBe('GROUP_RECORD_MALFORMED');
          }
          expect(codeOf(() => decodeGroupRecord(key, Buffer.concat([value, Buffer.from([0])])))).toBe(
            'GROUP_RECORD_MALFORMED',
          );
        }),
        { ...fcParams, numRuns: 100 },
      ),
    );
  });

  it('names a newer format as such, and an unknown key kind as malformed', () => {
    const { key, value } = encodeGroupRecord({ type: 'member-tombstone', groupId: 'g', memberId: 'm' });
    const newer = Buffer.from(key);
    newer[0] = 1;
    expect(codeOf(() => decodeGroupRecord(newer, value))).toBe('GROUP_RECORD_UNSUPPORTED_VERSION');
    const kind = Buffer.from(key);
    kind[1] = 9;
    expect(codeOf(() => decodeGroupRecord(kind, value))).toBe('GROUP_RECORD_MALFORMED');
    const offset = encodeGroupRecord({
      type: 'offset',
      groupId: 'g',
      topic: 't',
      partition: 1,
      offset: 5,
      metadata: '',
      commitTimestampMs: 1,
      memberEpoch: 1,
    });
    const newerValue = Buffer.from(offset.value as Buffer);
    newerValue[0] = 7;
    expect(codeOf(() => decodeGroupRecord(offset.key, newerValue))).toBe('GROUP_RECORD_UNSUPPORTED_VERSION');
    expect(codeOf(() => decodeGroupRecord(new Uint8Array(0), null))).toBe('GROUP_RECORD_MALFORMED');
  });

  it("names a key whose first byte is 0xff as the broker's (its checkpoint marker), not a group record", () => {
    const marker = Buffer.concat([Buffer.from([0xff]), Buffer.from('streambus.checkpoint')]);
    const count = Buffer.alloc(8);
    expect(isBrokerReservedKey(marker)).toBe(true);
    expect(codeOf(() => decodeGroupRecord(marker, count))).toBe('GROUP_RECORD_BROKER_RESERVED');
    expect(codeOf(() => decodeGroupRecord(marker, null))).toBe('GROUP_RECORD_BROKER_RESERVED');
    // Any 0xff key, even one byte, whatever its value: reserved, never a newer group format.
    expect(codeOf(() => decodeGroupRecord(Buffer.from([0xff]), Buffer.from([0])))).toBe('GROUP_RECORD_BROKER_RESERVED');
    expect(() => decodeGroupRecord(marker, count)).toThrow(/reserved for the broker/);
    const { key } = encodeGroupRecord({ type: 'group-tombstone', groupId: 'g' });
    expect(isBrokerReservedKey(key)).toBe(false);
    expect(isBrokerReservedKey(new Uint8Array(0))).toBe(false);
    expect(key[0]).not.toBe(brokerReservedKeyByte);
  });

  it('refuses a partition set that is not canonical', () => {
    const { key, value } = encodeGroupRecord({
      type: 'target',
      groupId: 'g',
      memberId: 'm',
      assignmentEpoch: 1,
      partitions: partitionSet([['t', [3]]]),
    });
    // value: version, epoch, topic count 1, name length 1, 't', partition count 1, delta 3.
    expect([...(value as Buffer)]).toEqual([0, 1, 1, 1, 't'.charCodeAt(0), 1, 3]);
    const empty = Buffer.from([0, 1, 1, 1, 't'.charCodeAt(0), 0]);
    expect(codeOf(() => decodeGroupRecord(key, empty))).toBe('GROUP_RECORD_MALFORMED');
    const unsorted = Buffer.from([0, 1, 2, 1, 'u'.charCodeAt(0), 1, 0, 1, 't'.charCodeAt(0), 1, 0]);
    expect(codeOf(() => decodeGroupRecord(key, unsorted))).toBe('GROUP_RECORD_MALFORMED');
  });
});
