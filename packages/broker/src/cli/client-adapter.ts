/**
 * The CLI's client verbs on the real SDK (@streambus/client): a thin mapping from `CliClient`
 * to Admin, Producer (acks=all, idempotent) and Consumer (assigned partitions, or a group member
 * with `--group`).
 * SDK errors pass through unchanged: their stable `code` decides the exit code.
 */
import { Admin, Consumer, Producer } from '@streambus/client';
import type { AclEntry, ClientOptions, ConsumerRecord, TopicPartition } from '@streambus/client';
import type { CliAcl, CliClient, CliClientOptions, CliConsumeRequest, CliRecord } from './client.js';

/** How long one consumer poll waits before checking for Ctrl-C or an idle timeout. */
const consumePollMs = 250;
/**
 * Auto-commit interval of `consume --group`: short, since a person or a test watches the lag. A
 * commit covers only records the previous polls returned, which were printed before the next
 * poll: at least once.
 */
const groupCommitIntervalMs = 1_000;
/**
 * How long a command waits for a connection to one broker before it tries another: shorter than
 * the SDK's default, since a person or a script is waiting on the whole command.
 */
const connectTimeoutMs = 2_000;
const clientId = 'streambus-cli';

/** What every client of one command shares: the bootstrap list, deadlines, TLS and SASL. */
type CommonOptions = Pick<
  ClientOptions,
  'bootstrapServers' | 'requestTimeoutMs' | 'connectTimeoutMs' | 'clientId' | 'tls' | 'sasl'
>;

/** The verbs check the operation names; the SDK checks them again (INVALID_CONFIG). */
function toAclEntry(acl: CliAcl): AclEntry {
  return { ...acl, operation: acl.operation as AclEntry['operation'] };
}

export function createSdkClient(options: CliClientOptions): CliClient {
  // A dead, paused or unreachable broker costs a command at most connectTimeoutMs per attempt.
  const common: CommonOptions = {
    bootstrapServers: options.bootstrap,
    requestTimeoutMs: options.timeoutMs,
    connectTimeoutMs: Math.min(connectTimeoutMs, options.timeoutMs),
    clientId,
    ...(options.tls === undefined ? {} : { tls: { ...options.tls } }),
    ...(options.sasl === undefined ? {} : { sasl: { ...options.sasl } }),
  };
  const admin = new Admin(common);
  let producer: Producer | undefined;
  const consumers = new Set<Consumer>();

  return {
    createTopic: (topic) =>
      admin.createTopic({
        name: topic.name,
        ...(topic.partitions === undefined ? {} : { partitions: topic.partitions }),
        ...(topic.replicationFactor === undefined ? {} : { replicationFactor: topic.replicationFactor }),
      }),
    listTopics: () => admin.listTopics(),
    describeTopic: async (name) => {
      const description = await admin.describeTopic(name);
      return {
        name: description.name,
        partitions: description.partitions.map((partition) => ({
          partition: partition.partition,
          leaderId: partition.leaderId,
          replicas: partition.replicas,
          inSyncReplicas: partition.inSyncReplicas,
          highWatermark: partition.highWatermark,
          logStartOffset: partition.logStartOffset,
        })),
      };
    },
    deleteTopic: (name) => admin.deleteTopic(name),
    reassignPartitions: (topic, reassignments) =>
      admin.reassignPartitions(
        topic,
        reassignments.map((reassignment) => ({
          partition: reassignment.partition,
          replicas: [...reassignment.replicas],
        })),
        { timeoutMs: options.timeoutMs },
      ),
    produce: async (records) => {
      producer ??= new Producer({
        ...common,
        acks: 'all',
        idempotent: true,
        deliveryTimeoutMs: Math.max(options.timeoutMs, 1),
      });
      const results = await producer.sendBatch(
        records.map((record) => ({
          topic: record.topic,
          key: record.key,
          value: record.value,
          ...(record.partition === undefined ? {} : { partition: record.partition }),
        })),
      );
      return results.map((result) => ({ topic: result.topic, partition: result.partition, offset: result.offset }));
    },
    consume: (request) => consumeRecords(admin, common, request, consumers),
    clusterStatus: async () => {
      const status = await admin.clusterStatus();
      return {
        clusterId: status.clusterId,
        controllerId: status.controllerId,
        brokers: status.brokers.map((broker) => ({
          id: broker.id,
          host: broker.host,
          port: broker.port,
          alive: broker.alive,
          leaderCount: broker.leaderCount,
          replicaCount: broker.replicaCount,
          drained: broker.drained,
        })),
        underReplicatedPartitions: status.underReplicatedPartitions,
        offlinePartitions: status.offlinePartitions,
        topicCount: status.topicCount,
        partitionCount: status.partitionCount,
      };
    },
    setBrokerDrained: async (brokerId, drained, waitMs) => {
      const status = drained
        ? await admin.drainBroker(brokerId ?? undefined, { waitMs })
        : await admin.undrainBroker(brokerId ?? undefined);
      return {
        brokerId: status.brokerId,
        drained: status.drained,
        groupsLed: status.groupsLed,
        controllerLeader: status.controllerLeader,
        partitionsLed: status.partitionsLed,
      };
    },
    describeFeatures: () => admin.describeFeatures({ timeoutMs: options.timeoutMs }),
    finalizeFeatureLevel: (level, validateOnly) =>
      admin.finalizeFeatureLevel(level ?? undefined, { validateOnly, timeoutMs: options.timeoutMs }),
    exportControllerState: () => admin.exportControllerState(),
    listOffsets: async (partitions, spec) =>
      (await admin.listOffsets(partitions, spec)).map(({ topic, partition, offset }) => ({ topic, partition, offset })),
    readBatches: (tp, offset, bytesMax) => admin.readBatches(tp, offset, { bytesMax }),
    listGroups: () => admin.listGroups(),
    describeGroup: async (groupId) => {
      const d = await admin.describeGroup(groupId);
      return {
        groupId: d.groupId,
        state: d.state,
        groupEpoch: d.groupEpoch,
        assignor: d.assignor,
        coordinatorId: d.coordinatorId,
        members: d.members.map((m) => ({
          memberId: m.memberId,
          instanceId: m.instanceId,
          clientId: m.clientId,
          clientHost: m.clientHost,
          memberEpoch: m.memberEpoch,
          assignment: m.assignment,
        })),
        partitions: d.partitions,
      };
    },
    deleteGroup: (groupId) => admin.deleteGroups([groupId]),
    resetOffsets: async (groupId, topic, to, execute) => {
      const plan = await admin.resetOffsets(groupId, topic, to, { execute });
      return {
        groupId: plan.groupId,
        topic: plan.topic,
        partitions: plan.partitions.map(({ partition, currentOffset, newOffset }) => ({
          partition,
          currentOffset,
          newOffset,
        })),
        executed: plan.executed,
        memberCount: plan.memberCount,
      };
    },
    createUser: (name, password) => admin.createUser(name, password),
    deleteUser: (name) => admin.deleteUser(name),
    listUsers: () => admin.listUsers(),
    createAcls: (acls) => admin.createAcls(acls.map(toAclEntry)),
    deleteAcls: (acls) => admin.deleteAcls(acls.map(toAclEntry)),
    listAcls: (filter) => admin.listAcls({ ...filter }),
    close: async () => {
      await Promise.all([...consumers].map((consumer) => consumer.close()));
      if (producer !== undefined) await producer.close({ timeoutMs: options.timeoutMs });
      await admin.close();
    },
  };
}

async function* consumeRecords(
  admin: Admin,
  common: CommonOptions,
  request: CliConsumeRequest,
  consumers: Set<Consumer>,
): AsyncIterable<CliRecord> {
  if (request.group !== undefined) {
    yield* consumeInGroup(common, request, request.group, consumers);
    return;
  }
  const partitions: TopicPartition[] =
    request.partition !== undefined
      ? [{ topic: request.topic, partition: request.partition }]
      : (await admin.describeTopic(request.topic)).partitions.map((partition) => ({
          topic: request.topic,
          partition: partition.partition,
        }));
  const consumer = new Consumer({ ...common, autoOffsetReset: request.start === 'beginning' ? 'earliest' : 'latest' });
  consumers.add(consumer);
  try {
    consumer.assign(partitions);
    const start = request.start;
    if (typeof start === 'object') for (const tp of partitions) consumer.seek(tp, start.offset);
    while (!request.signal.aborted) {
      const records = await consumer.poll(consumePollMs);
      for (const record of records) {
        if (request.signal.aborted) return;
        yield toCliRecord(record);
      }
    }
  } finally {
    consumers.delete(consumer);
    await consumer.close();
  }
}

/**
 * `consume --group`: a member of the group. Records are yielded (printed) before the next poll,
 * and a poll commits only what earlier polls returned, so a killed process re-reads at most what
 * it printed since its last commit; close commits the rest and leaves the group.
 */
async function* consumeInGroup(
  common: CommonOptions,
  request: CliConsumeRequest,
  groupId: string,
  consumers: Set<Consumer>,
): AsyncIterable<CliRecord> {
  const consumer = new Consumer({
    ...common,
    groupId,
    autoOffsetReset: request.start === 'beginning' ? 'earliest' : 'latest',
    autoCommitIntervalMs: groupCommitIntervalMs,
  });
  consumers.add(consumer);
  /** Records polled and not printed (the command stopped early): their partitions go back to them before the final commit. */
  let unprinted: ConsumerRecord[] = [];
  try {
    consumer.subscribe([request.topic]);
    while (!request.signal.aborted) {
      const records = await consumer.poll(consumePollMs);
      for (const [index, record] of records.entries()) {
        unprinted = records.slice(index);
        if (request.signal.aborted) return;
        unprinted = records.slice(index + 1);
        yield toCliRecord(record);
      }
      unprinted = [];
    }
  } finally {
    consumers.delete(consumer);
    const firstUnprinted = new Map<string, ConsumerRecord>();
    for (const record of unprinted) {
      const key = `${record.topic}/${record.partition}`;
      if (!firstUnprinted.has(key)) firstUnprinted.set(key, record);
    }
    const owned = new Set(consumer.assignment().map((tp) => `${tp.topic}/${tp.partition}`));
    for (const [key, record] of firstUnprinted)
      if (owned.has(key)) consumer.seek({ topic: record.topic, partition: record.partition }, record.offset);
    await consumer.close();
  }
}

const empty = new Uint8Array(0);

function toCliRecord(record: ConsumerRecord): CliRecord {
  return {
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
    timestampMs: record.timestamp,
    key: record.key,
    value: record.value ?? empty,
  };
}
