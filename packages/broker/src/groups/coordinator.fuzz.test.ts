import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ConsumerGroupHeartbeatRequest, OffsetCommitRequest } from '@streambus/proto';
import { decodeGroupRecord, encodeGroupRecord, type GroupRecord } from './records.js';
import { EditableTopics, ShardUnderTest, observable, propertyRuns, propertySeeds, withReplay } from './test-harness.js';

// Randomized with a fixed seed (so CI runs the same cases every time); a failure prints its seed
// and the command that replays it. FC_SEED=<seed> replays one, FC_SEED=random explores, FC_RUNS=<n>
// runs longer.
const file = 'src/groups/coordinator.fuzz.test.ts';
const [seed = 1] = propertySeeds([1]);
console.log(`coordinator fuzz: seed ${seed}`);
const fcParams = { numRuns: propertyRuns(150), seed } as const;

// Any input a client can send: the shard answers it (never throws), and whatever records it
// returns survive the codec unchanged, so a replay rebuilds the same state.
const groupIds = ['g', 'h'] as const;
const text = fc.oneof(
  fc.constantFrom('', 'g', 'h', 'm1', 'pod-0', 'orders', 'uniform', 'range', 'a.*'),
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.string({ maxLength: 300 }),
);
const number = fc.oneof(
  fc.integer({ min: -3, max: 4 }),
  fc.constantFrom(0.5, NaN, Infinity, -Infinity, 2 ** 31, 2 ** 53, 300_001, 10_000),
);
const partitions = fc.array(fc.record({ topic: text, partitions: fc.array(number, { maxLength: 4 }) }), {
  maxLength: 3,
});

/** Mostly well-formed heartbeats, so that runs get past validation and change state. */
const plausibleHeartbeatArb: fc.Arbitrary<ConsumerGroupHeartbeatRequest> = fc.record({
  groupId: fc.constantFrom(...groupIds),
  memberId: fc.constantFrom('', 'm1', 'member-001', 'member-002'),
  memberEpoch: fc.integer({ min: -2, max: 4 }),
  instanceId: fc.constantFrom('', '', 'pod-0'),
  rebalanceTimeoutMs: fc.constantFrom(0, 500),
  subscribedTopics: fc.option(fc.record({ names: fc.subarray(['orders', 'audit', 'nope']) }), { nil: null }),
  subscribedTopicRegex: fc.option(fc.record({ pattern: fc.constantFrom('', 'a.*') }), { nil: null }),
  serverAssignor: fc.constantFrom('', 'range'),
  owned: fc.option(
    fc.record({
      topicPartitions: fc.array(
        fc.record({ topic: fc.constantFrom('orders', 'audit'), partitions: fc.subarray([0, 1, 2]) }),
        { maxLength: 2 },
      ),
    }),
    { nil: null },
  ),
  clientId: text,
});

const wildHeartbeatArb: fc.Arbitrary<ConsumerGroupHeartbeatRequest> = fc.record({
  groupId: fc.oneof(fc.constantFrom(...groupIds), text),
  memberId: fc.oneof(fc.constantFrom('', 'm1', 'm2', 'member-001', 'member-002'), text),
  memberEpoch: number,
  instanceId: fc.oneof(fc.constantFrom('', 'pod-0', 'pod-1'), text),
  rebalanceTimeoutMs: number,
  subscribedTopics: fc.option(
    fc.record({ names: fc.array(fc.oneof(fc.constantFrom('orders', 'audit'), text), { maxLength: 4 }) }),
    { nil: null },
  ),
  subscribedTopicRegex: fc.option(fc.record({ pattern: fc.oneof(fc.constantFrom('', 'a.*', '(', '.*'), text) }), {
    nil: null,
  }),
  serverAssignor: fc.oneof(fc.constantFrom('', 'uniform', 'range'), text),
  owned: fc.option(fc.record({ topicPartitions: partitions }), { nil: null }),
  clientId: text,
});

/** Commits that may pass: an admin's, or a member's with an epoch it may have. */
const plausibleCommitArb: fc.Arbitrary<OffsetCommitRequest> = fc.record({
  groupId: fc.constantFrom(...groupIds),
  memberId: fc.constantFrom('', '', 'member-001', 'm1'),
  memberEpoch: fc.integer({ min: -1, max: 4 }),
  partitions: fc.array(
    fc.record({
      topic: fc.constantFrom('orders', 'audit'),
      partition: fc.integer({ min: 0, max: 2 }),
      offset: fc.nat(),
      metadata: text,
    }),
    { minLength: 1, maxLength: 3 },
  ),
});

const wildCommitArb: fc.Arbitrary<OffsetCommitRequest> = fc.record({
  groupId: fc.oneof(fc.constantFrom(...groupIds), text),
  memberId: fc.oneof(fc.constantFrom('', 'member-001', 'member-002'), text),
  memberEpoch: number,
  partitions: fc.array(
    fc.record({
      topic: fc.oneof(fc.constantFrom('orders', 'audit', '__consumer_offsets'), text),
      partition: number,
      offset: fc.oneof(number, fc.maxSafeNat()),
      metadata: text,
    }),
    { maxLength: 4 },
  ),
});

type Call =
  | { kind: 'heartbeat'; request: ConsumerGroupHeartbeatRequest; host: string }
  | { kind: 'commit'; request: OffsetCommitRequest }
  | { kind: 'fetch'; groupId: string; partitions: { topic: string; partitions: number[] }[] }
  | { kind: 'delete'; groupIds: string[] }
  | { kind: 'describe'; groupId: string }
  | { kind: 'time'; ms: number };

const callArb: fc.Arbitrary<Call> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('heartbeat' as const),
      request: fc.oneof({ weight: 3, arbitrary: plausibleHeartbeatArb }, { weight: 1, arbitrary: wildHeartbeatArb }),
      host: text,
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('commit' as const),
      request: fc.oneof({ weight: 2, arbitrary: plausibleCommitArb }, { weight: 1, arbitrary: wildCommitArb }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('fetch' as const), groupId: text, partitions }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('delete' as const), groupIds: fc.array(text, { maxLength: 3 }) }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('describe' as const), groupId: text }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('time' as const), ms: fc.integer({ min: 0, max: 20_000 }) }) },
);

/** Records of each type over all runs: random input must still reach the paths that write. */
const written = new Map<string, number>();

function expectCodecKeeps(records: readonly GroupRecord[]): void {
  for (const record of records) {
    written.set(record.type, (written.get(record.type) ?? 0) + 1);
    const { key, value } = encodeGroupRecord(record);
    expect(decodeGroupRecord(key, value)).toEqual(record);
  }
}

describe('group coordinator shard: any input', () => {
  it('answers every call, and its records survive the codec and replay to the same state', () => {
    withReplay(file, seed, () =>
      fc.assert(
        fc.property(fc.array(callArb, { minLength: 1, maxLength: 40 }), (calls) => {
          const harness = new ShardUnderTest(new EditableTopics().set('orders', 3).set('audit', 1));
          const seen = new Set<string>(groupIds);
          for (const call of calls) {
            switch (call.kind) {
              case 'heartbeat': {
                seen.add(call.request.groupId);
                const result = harness.shard.heartbeat(call.request, call.host, harness.nowMs);
                expectCodecKeeps(result.records);
                harness.append(result.records);
                break;
              }
              case 'commit': {
                seen.add(call.request.groupId);
                const result = harness.shard.commitOffsets(call.request, harness.nowMs);
                expect(result.response.partitions).toHaveLength(call.request.partitions.length);
                expectCodecKeeps(result.records);
                harness.append(result.records);
                break;
              }
              case 'fetch':
                harness.shard.fetchOffsets({ groupId: call.groupId, partitions: call.partitions });
                break;
              case 'delete': {
                const result = harness.shard.deleteGroups(call.groupIds, harness.nowMs);
                expect(result.response).toHaveLength(call.groupIds.length);
                expectCodecKeeps(result.records);
                harness.append(result.records);
                break;
              }
              case 'describe':
                harness.shard.describeGroup(call.groupId);
                break;
              case 'time': {
                harness.nowMs += call.ms;
                const records = harness.tick();
                expectCodecKeeps(records);
                break;
              }
            }
          }
          const ids = [...seen].filter((id) => harness.shard.describeGroup(id).errorCode === 0).sort();
          expect(observable(harness.replayed(), ids)).toEqual(observable(harness.shard, ids));
          expect(observable(harness.replayed(harness.shard.checkpointRecords()), ids)).toEqual(
            observable(harness.shard, ids),
          );
        }),
        fcParams,
      ),
    );
    for (const type of ['group', 'member', 'target', 'current', 'offset', 'member-tombstone']) {
      expect(written.get(type) ?? 0, type).toBeGreaterThan(0);
    }
  });
});
