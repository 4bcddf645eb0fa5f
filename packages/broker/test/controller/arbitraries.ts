/** fast-check generators of controller commands, shared by the controller's tests. */
import fc from 'fast-check';
import type { Arbitrary } from 'fast-check';
import type { ConfigEntry, ControllerCommand, PartitionReport } from '../../src/controller/commands.js';
import { featureLevelMax } from '../../src/controller/features.js';

const brokerId = fc.integer({ min: 0, max: 0x7fff_ffff });
const smallBrokerId = fc.integer({ min: 1, max: 6 });
const safeNat = fc.maxSafeNat();
const text = (maxLength: number): Arbitrary<string> => fc.string({ unit: 'grapheme', maxLength });
const topicName = fc.oneof(
  fc.constantFrom('orders', 'a', 'b.c', 'x_y-z', '.', '..', '', 'bad name', 'é'),
  fc.stringMatching(/^[a-zA-Z0-9._-]{1,20}$/),
);
const configEntries: Arbitrary<ConfigEntry[]> = fc.array(
  fc.record({ key: fc.stringMatching(/^[a-z.]{0,12}$/), value: text(20) }),
  { maxLength: 5 },
);
const replicas = (idArb: Arbitrary<number>): Arbitrary<number[]> => fc.array(idArb, { maxLength: 7 });
const report = (idArb: Arbitrary<number>, groupArb: Arbitrary<number>): Arbitrary<PartitionReport> =>
  fc.record({
    groupId: groupArb,
    leaderId: idArb,
    term: safeNat,
    isr: fc.array(idArb, { maxLength: 14 }),
    highWatermark: safeNat,
  });

/** Any command the codec accepts, with values anywhere in their encodable ranges. */
export const anyCommand: Arbitrary<ControllerCommand> = fc.oneof(
  fc.record({
    type: fc.constant('registerBroker' as const),
    brokerId,
    host: text(30),
    port: fc.integer({ min: 0, max: 0xffff }),
    adminAddress: text(30),
    rack: fc.option(text(10), { nil: null }),
    nowMs: safeNat,
  }),
  fc.record({ type: fc.constant('brokerHeartbeat' as const), brokerId, nowMs: safeNat }),
  fc.record({ type: fc.constant('setBrokerFenced' as const), brokerId, fenced: fc.boolean() }),
  fc.record({
    type: fc.constant('createTopic' as const),
    name: topicName,
    replicationFactor: fc.integer({ min: 0, max: 7 }),
    configs: configEntries,
    assignments: fc.array(replicas(brokerId), { maxLength: 20 }),
  }),
  fc.record({ type: fc.constant('deleteTopic' as const), name: topicName }),
  fc.record({
    type: fc.constant('updateTopicConfig' as const),
    name: topicName,
    set: configEntries,
    remove: fc.array(fc.stringMatching(/^[a-z.]{0,12}$/), { maxLength: 4 }),
  }),
  fc.record({
    type: fc.constant('addPartitions' as const),
    name: topicName,
    assignments: fc.array(replicas(brokerId), { maxLength: 20 }),
  }),
  fc.record({
    type: fc.constant('reassignPartitions' as const),
    name: topicName,
    reassignments: fc.array(
      fc.record({ partition: fc.integer({ min: 0, max: 10_000 }), replicas: replicas(brokerId) }),
      { maxLength: 10 },
    ),
  }),
  fc.record({
    type: fc.constant('reportPartitions' as const),
    reports: fc.array(report(brokerId, fc.integer({ min: 0, max: 0xffff_ffff })), { maxLength: 10 }),
  }),
  fc.record({
    type: fc.constant('allocateProducerIds' as const),
    brokerId,
    count: fc.integer({ min: 0, max: 100_000 }),
  }),
  fc.record({
    type: fc.constant('finalizeFeatureLevel' as const),
    level: fc.integer({ min: 0, max: featureLevelMax }),
    brokers: fc.array(fc.record({ brokerId, levelMax: fc.integer({ min: 0, max: 0xffff }) }), { maxLength: 8 }),
  }),
);

/**
 * Commands likely to change a small cluster's state (brokers 1..6, a few topic names, small
 * group ids), for apply, snapshot and determinism tests.
 */
export const clusterCommand: Arbitrary<ControllerCommand> = (() => {
  const name = fc.constantFrom('orders', 'payments', 'logs', 'a.b', 'bad name');
  // Mostly the four registered brokers, sometimes one that is not.
  const replicaId = fc.oneof(
    { weight: 9, arbitrary: fc.integer({ min: 1, max: 4 }) },
    { weight: 1, arbitrary: fc.integer({ min: 5, max: 6 }) },
  );
  const smallReplicas = fc.uniqueArray(replicaId, { minLength: 1, maxLength: 3 });
  const groupId = fc.integer({ min: 1, max: 12 });
  return fc.oneof(
    {
      weight: 3,
      arbitrary: fc.record({
        type: fc.constant('registerBroker' as const),
        brokerId: smallBrokerId,
        host: fc.constantFrom('10.0.0.1', '10.0.0.2', 'broker-3.streambus'),
        port: fc.integer({ min: 9000, max: 9003 }),
        adminAddress: fc.constantFrom('10.0.0.1:8080', ''),
        rack: fc.option(fc.constantFrom('az-1', 'az-2'), { nil: null }),
        nowMs: fc.integer({ min: 0, max: 1_000_000 }),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        type: fc.constant('brokerHeartbeat' as const),
        brokerId: smallBrokerId,
        nowMs: fc.integer({ min: 0, max: 1_000_000 }),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        type: fc.constant('setBrokerFenced' as const),
        brokerId: smallBrokerId,
        fenced: fc.boolean(),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        type: fc.constant('setBrokerFenced' as const),
        brokerId: smallBrokerId,
        fenced: fc.constant(false),
      }),
    },
    {
      weight: 3,
      arbitrary: fc.integer({ min: 1, max: 3 }).chain((replicationFactor) =>
        fc.record({
          type: fc.constant('createTopic' as const),
          name,
          replicationFactor: fc.constant(replicationFactor),
          configs: fc.uniqueArray(
            fc.record({
              key: fc.constantFrom('retention.ms', 'cleanup.policy', 'segment.bytes'),
              value: fc.constantFrom('1', 'delete', '1000'),
            }),
            { selector: (e) => e.key, maxLength: 2 },
          ),
          assignments: fc.array(
            fc.uniqueArray(replicaId, { minLength: replicationFactor, maxLength: replicationFactor }),
            { minLength: 1, maxLength: 4 },
          ),
        }),
      ),
    },
    { weight: 1, arbitrary: fc.record({ type: fc.constant('deleteTopic' as const), name }) },
    {
      weight: 1,
      arbitrary: fc.record({
        type: fc.constant('updateTopicConfig' as const),
        name,
        set: fc.uniqueArray(
          fc.record({ key: fc.constantFrom('retention.ms', 'retention.bytes'), value: fc.constantFrom('5', '7') }),
          { selector: (e) => e.key, maxLength: 2 },
        ),
        remove: fc.uniqueArray(fc.constantFrom('cleanup.policy', 'segment.bytes'), { maxLength: 2 }),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        type: fc.constant('addPartitions' as const),
        name,
        assignments: fc.array(smallReplicas, { minLength: 1, maxLength: 3 }),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        type: fc.constant('reassignPartitions' as const),
        name,
        reassignments: fc.uniqueArray(
          fc.record({ partition: fc.integer({ min: 0, max: 5 }), replicas: smallReplicas }),
          { selector: (r) => r.partition, minLength: 1, maxLength: 3 },
        ),
      }),
    },
    {
      weight: 3,
      arbitrary: fc.record({
        type: fc.constant('reportPartitions' as const),
        reports: fc.array(
          fc
            .record({
              groupId,
              leaderId: replicaId,
              term: fc.integer({ min: 0, max: 5 }),
              others: fc.uniqueArray(replicaId, { maxLength: 2 }),
              highWatermark: fc.integer({ min: 0, max: 100 }),
            })
            .map(({ others, ...report }) => ({ ...report, isr: [...new Set([report.leaderId, ...others])] })),
          { minLength: 1, maxLength: 4 },
        ),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        type: fc.constant('allocateProducerIds' as const),
        brokerId: smallBrokerId,
        count: fc.integer({ min: 0, max: 1000 }),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        type: fc.constant('finalizeFeatureLevel' as const),
        level: fc.integer({ min: 1, max: featureLevelMax }),
        brokers: fc.array(
          fc.record({ brokerId: smallBrokerId, levelMax: fc.integer({ min: 1, max: featureLevelMax }) }),
          { maxLength: 6 },
        ),
      }),
    },
  );
})();

/** Brokers 1..4 registered first, then random cluster commands: states with topics and leaders. */
export const clusterCommands: Arbitrary<ControllerCommand[]> = fc
  .array(clusterCommand, { minLength: 1, maxLength: 80, size: 'medium' })
  .map((commands) => [
    ...[1, 2, 3, 4].map((brokerId): ControllerCommand => ({
      type: 'registerBroker',
      brokerId,
      host: `10.0.0.${brokerId}`,
      port: 9092,
      adminAddress: '',
      rack: null,
      nowMs: 0,
    })),
    ...commands,
  ]);
