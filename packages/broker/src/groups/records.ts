/**
 * The records a coordinator writes into its "__consumer_offsets" partition. Each is one record
 * of a StreamBus record batch: a key and a value (null: a tombstone, which deletes the key), so
 * the latest record per key is the state, as in Kafka's compacted offsets topic.
 *
 * Keys: [version][kind][group id] then, by kind, nothing (group), the member id (member, target,
 * current), or the topic and partition (offset). Values: [version] then the fields below in order.
 * Integers are varints (signed ones zigzag), strings UTF-8 with a varint length, partition sets a
 * topic count then per topic its name, a partition count and ascending partitions as deltas.
 *
 * Keys whose first byte is 0xff (`brokerReservedKeyByte`) are reserved for the broker's own records
 * in the same partition (the wiring's checkpoint marker, 0xff then 'streambus.checkpoint'); group
 * record versions stay below it. The decoder refuses them with GROUP_RECORD_BROKER_RESERVED, not as
 * a newer format: the wiring skips them (`isBrokerReservedKey`) before decoding.
 */
import { assert } from '@streambus/raft';
import { GroupByteReader, GroupByteWriter } from './binary.js';
import {
  assignorNameLengthMax,
  brokerReservedKeyByte,
  clientHostLengthMax,
  clientIdLengthMax,
  commitMetadataBytesMax,
  epochMax,
  groupIdLengthMax,
  groupPartitionsPerTopicMax,
  groupRecordVersion,
  groupTopicNameLengthMax,
  instanceIdLengthMax,
  memberIdLengthMax,
  partitionSetPartitionsMax,
  partitionSetTopicsMax,
  rebalanceTimeoutMsMax,
  subscribedTopicRegexLengthMax,
  subscribedTopicsMax,
} from './constants.js';
import { GroupRecordError } from './errors.js';
import type { TopicPartitionSet } from './partition-set.js';

export type { TopicPartitionSet } from './partition-set.js';
export { brokerReservedKeyByte } from './constants.js';

/**
 * Where a member is in its reconciliation (Kafka's MemberState): `stable` holds its whole target
 * at the assignment epoch; `unrevoked_partitions` must first give up `pendingRevocation` (it stays
 * at its old epoch); `unreleased_partitions` is at the new epoch but waits for partitions another
 * member still holds.
 */
export type MemberState = 'stable' | 'unrevoked_partitions' | 'unreleased_partitions';
export const memberStates: readonly MemberState[] = ['stable', 'unrevoked_partitions', 'unreleased_partitions'];

export type GroupRecord =
  /**
   * Key (group). `assignmentEpoch`: the group epoch the current target assignment was computed for.
   * `emptySinceMs`: when the group last became empty (-1 while it has members), for offsets retention.
   */
  | {
      type: 'group';
      groupId: string;
      groupEpoch: number;
      assignmentEpoch: number;
      assignor: string;
      createdMs: number;
      emptySinceMs: number;
    }
  | { type: 'group-tombstone'; groupId: string }
  /** Key (group, member): the member's subscription and what DescribeGroups shows of it. */
  | {
      type: 'member';
      groupId: string;
      memberId: string;
      instanceId: string;
      clientId: string;
      clientHost: string;
      subscribedTopicNames: string[];
      subscribedTopicRegex: string;
      rebalanceTimeoutMs: number;
      serverAssignor: string;
    }
  | { type: 'member-tombstone'; groupId: string; memberId: string }
  /** Key (group, target, member): the member's target; `assignmentEpoch` is the epoch it was written for. */
  | { type: 'target'; groupId: string; memberId: string; assignmentEpoch: number; partitions: TopicPartitionSet }
  | { type: 'target-tombstone'; groupId: string; memberId: string }
  /** Key (group, current, member): what the member holds now and what it must still revoke. */
  | {
      type: 'current';
      groupId: string;
      memberId: string;
      memberEpoch: number;
      previousMemberEpoch: number;
      state: MemberState;
      assigned: TopicPartitionSet;
      pendingRevocation: TopicPartitionSet;
    }
  | { type: 'current-tombstone'; groupId: string; memberId: string }
  /** Key (group, topic, partition): a committed offset (the next offset to read). */
  | {
      type: 'offset';
      groupId: string;
      topic: string;
      partition: number;
      offset: number;
      metadata: string;
      commitTimestampMs: number;
      memberEpoch: number;
    }
  | { type: 'offset-tombstone'; groupId: string; topic: string; partition: number };

export type GroupRecordType = GroupRecord['type'];

/** The second byte of a key. */
const KeyKind = { group: 0, member: 1, target: 2, current: 3, offset: 4 } as const;
type KeyKind = (typeof KeyKind)[keyof typeof KeyKind];

/** Timestamps are ms since the epoch; tests start near 0, so negatives are refused only below this. */
const timestampMsMin = -1;
const timestampMsMax = 2 ** 51;

function writeKey(writer: GroupByteWriter, kind: KeyKind, groupId: string): void {
  writer.u8(groupRecordVersion);
  writer.u8(kind);
  writer.id(groupId, groupIdLengthMax);
}

function writePartitionSet(writer: GroupByteWriter, set: TopicPartitionSet): void {
  writer.varint(set.size);
  let previousTopic: string | undefined;
  for (const [topic, partitions] of set) {
    assert(previousTopic === undefined || previousTopic < topic, 'partition set topics are sorted');
    assert(partitions.length > 0, 'partition set topics are not empty');
    previousTopic = topic;
    writer.id(topic, groupTopicNameLengthMax);
    writer.varint(partitions.length);
    let previous = -1;
    for (const partition of partitions) {
      assert(partition > previous, 'partition set partitions ascend');
      assert(partition < groupPartitionsPerTopicMax, 'partition indexes are within the protocol bound');
      writer.varint(partition - previous - 1);
      previous = partition;
    }
  }
}

function readPartitionSet(reader: GroupByteReader, field: string): TopicPartitionSet {
  const topics = reader.count(`${field} topics`, partitionSetTopicsMax, 3);
  const result = new Map<string, readonly number[]>();
  let previousTopic: string | undefined;
  let total = 0;
  for (let t = 0; t < topics; t++) {
    const topic = reader.string(`${field} topic`, groupTopicNameLengthMax);
    if (topic.length === 0) throw reader.malformed(`${field} has an empty topic name`);
    if (previousTopic !== undefined && !(previousTopic < topic)) throw reader.malformed(`${field} topics not sorted`);
    previousTopic = topic;
    const count = reader.count(`${field} partitions`, groupPartitionsPerTopicMax, 1);
    if (count === 0) throw reader.malformed(`${field} topic ${topic} has no partitions`);
    total += count;
    if (total > partitionSetPartitionsMax)
      throw reader.malformed(`${field} holds more than ${partitionSetPartitionsMax}`);
    const partitions: number[] = [];
    let previous = -1;
    for (let p = 0; p < count; p++) {
      const partition = previous + 1 + reader.bounded(`${field} partition`, 0, groupPartitionsPerTopicMax);
      if (partition >= groupPartitionsPerTopicMax) throw reader.malformed(`${field} partition ${partition} too large`);
      partitions.push(partition);
      previous = partition;
    }
    result.set(topic, partitions);
  }
  return result;
}

/** Encodes one record as the key and value of a record of the offsets partition. */
export function encodeGroupRecord(record: GroupRecord): { key: Buffer; value: Buffer | null } {
  const key = new GroupByteWriter();
  switch (record.type) {
    case 'group':
    case 'group-tombstone':
      writeKey(key, KeyKind.group, record.groupId);
      break;
    case 'member':
    case 'member-tombstone':
      writeKey(key, KeyKind.member, record.groupId);
      key.id(record.memberId, memberIdLengthMax);
      break;
    case 'target':
    case 'target-tombstone':
      writeKey(key, KeyKind.target, record.groupId);
      key.id(record.memberId, memberIdLengthMax);
      break;
    case 'current':
    case 'current-tombstone':
      writeKey(key, KeyKind.current, record.groupId);
      key.id(record.memberId, memberIdLengthMax);
      break;
    case 'offset':
    case 'offset-tombstone':
      writeKey(key, KeyKind.offset, record.groupId);
      key.id(record.topic, groupTopicNameLengthMax);
      assert(record.partition < groupPartitionsPerTopicMax, 'partition indexes are within the protocol bound');
      key.varint(record.partition);
      break;
  }
  return { key: key.finish(), value: encodeValue(record) };
}

function encodeValue(record: GroupRecord): Buffer | null {
  if (record.type.endsWith('-tombstone')) return null;
  const value = new GroupByteWriter();
  value.u8(groupRecordVersion);
  switch (record.type) {
    case 'group-tombstone':
    case 'member-tombstone':
    case 'target-tombstone':
    case 'current-tombstone':
    case 'offset-tombstone':
      return null;
    case 'group':
      value.varint(record.groupEpoch);
      value.varint(record.assignmentEpoch);
      value.id(record.assignor, assignorNameLengthMax);
      value.signed(record.createdMs);
      value.signed(record.emptySinceMs);
      break;
    case 'member':
      value.string(record.instanceId, instanceIdLengthMax);
      value.string(record.clientId, clientIdLengthMax);
      value.string(record.clientHost, clientHostLengthMax);
      value.varint(record.subscribedTopicNames.length);
      assert(record.subscribedTopicNames.length <= subscribedTopicsMax, 'subscribed topics are within their bound');
      record.subscribedTopicNames.forEach((name, index) => {
        assert(
          index === 0 || (record.subscribedTopicNames[index - 1] as string) < name,
          'subscribed topics are sorted',
        );
        value.id(name, groupTopicNameLengthMax);
      });
      value.string(record.subscribedTopicRegex, subscribedTopicRegexLengthMax);
      value.varint(record.rebalanceTimeoutMs);
      value.string(record.serverAssignor, assignorNameLengthMax);
      break;
    case 'target':
      value.varint(record.assignmentEpoch);
      writePartitionSet(value, record.partitions);
      break;
    case 'current':
      value.signed(record.memberEpoch);
      value.signed(record.previousMemberEpoch);
      value.u8(memberStates.indexOf(record.state));
      writePartitionSet(value, record.assigned);
      writePartitionSet(value, record.pendingRevocation);
      break;
    case 'offset':
      value.varint(record.offset);
      value.string(record.metadata, commitMetadataBytesMax);
      value.signed(record.commitTimestampMs);
      value.signed(record.memberEpoch);
      break;
  }
  return value.finish();
}

function readVersion(reader: GroupByteReader, what: string): void {
  const version = reader.u8(`${what} version`);
  if (version !== groupRecordVersion) {
    throw new GroupRecordError(
      'GROUP_RECORD_UNSUPPORTED_VERSION',
      `${what} has format version ${version}, this broker reads ${groupRecordVersion}: upgrade the broker`,
    );
  }
}

function readId(reader: GroupByteReader, field: string, lengthMax: number): string {
  const value = reader.string(field, lengthMax);
  if (value.length === 0) throw reader.malformed(`empty ${field}`);
  return value;
}

/** True for a key of the broker's own records (first byte 0xff), which are not group records. */
export function isBrokerReservedKey(key: Uint8Array): boolean {
  return key.length > 0 && key[0] === brokerReservedKeyByte;
}

/**
 * Decodes a record of the offsets partition; throws GroupRecordError for bytes it does not accept,
 * with GROUP_RECORD_BROKER_RESERVED for a broker-reserved key (skip those before decoding).
 */
export function decodeGroupRecord(key: Uint8Array, value: Uint8Array | null): GroupRecord {
  if (isBrokerReservedKey(key)) {
    throw new GroupRecordError(
      'GROUP_RECORD_BROKER_RESERVED',
      'record key starts with 0xff, reserved for the broker (a checkpoint marker): not a group record; skip it before decoding',
    );
  }
  const keyReader = new GroupByteReader(key, 'group record key');
  readVersion(keyReader, 'group record key');
  const kind = keyReader.u8('key kind');
  const groupId = readId(keyReader, 'group id', groupIdLengthMax);
  const valueReader = value === null ? null : new GroupByteReader(value, 'group record value');
  if (valueReader !== null) readVersion(valueReader, 'group record value');
  let record: GroupRecord;
  switch (kind) {
    case KeyKind.group:
      keyReader.done();
      record = valueReader === null ? { type: 'group-tombstone', groupId } : readGroup(valueReader, groupId);
      break;
    case KeyKind.member: {
      const memberId = readId(keyReader, 'member id', memberIdLengthMax);
      keyReader.done();
      record =
        valueReader === null
          ? { type: 'member-tombstone', groupId, memberId }
          : readMember(valueReader, groupId, memberId);
      break;
    }
    case KeyKind.target: {
      const memberId = readId(keyReader, 'member id', memberIdLengthMax);
      keyReader.done();
      record =
        valueReader === null
          ? { type: 'target-tombstone', groupId, memberId }
          : {
              type: 'target',
              groupId,
              memberId,
              assignmentEpoch: valueReader.bounded('assignment epoch', 0, epochMax),
              partitions: readPartitionSet(valueReader, 'target'),
            };
      break;
    }
    case KeyKind.current: {
      const memberId = readId(keyReader, 'member id', memberIdLengthMax);
      keyReader.done();
      record =
        valueReader === null
          ? { type: 'current-tombstone', groupId, memberId }
          : readCurrent(valueReader, groupId, memberId);
      break;
    }
    case KeyKind.offset: {
      const topic = readId(keyReader, 'topic', groupTopicNameLengthMax);
      const partition = keyReader.bounded('partition', 0, groupPartitionsPerTopicMax - 1);
      keyReader.done();
      record =
        valueReader === null
          ? { type: 'offset-tombstone', groupId, topic, partition }
          : {
              type: 'offset',
              groupId,
              topic,
              partition,
              offset: valueReader.varint('offset'),
              metadata: valueReader.string('metadata', commitMetadataBytesMax),
              commitTimestampMs: valueReader.signed('commit timestamp', timestampMsMin, timestampMsMax),
              memberEpoch: valueReader.signed('member epoch', -2, epochMax),
            };
      break;
    }
    default:
      throw keyReader.malformed(`unknown key kind ${kind}`);
  }
  valueReader?.done();
  return record;
}

function readGroup(reader: GroupByteReader, groupId: string): GroupRecord {
  const groupEpoch = reader.bounded('group epoch', 0, epochMax);
  const assignmentEpoch = reader.bounded('assignment epoch', 0, epochMax);
  if (assignmentEpoch > groupEpoch) throw reader.malformed(`assignment epoch ${assignmentEpoch} > group epoch`);
  return {
    type: 'group',
    groupId,
    groupEpoch,
    assignmentEpoch,
    assignor: readId(reader, 'assignor', assignorNameLengthMax),
    createdMs: reader.signed('created', timestampMsMin, timestampMsMax),
    emptySinceMs: reader.signed('empty since', timestampMsMin, timestampMsMax),
  };
}

function readMember(reader: GroupByteReader, groupId: string, memberId: string): GroupRecord {
  const instanceId = reader.string('instance id', instanceIdLengthMax);
  const clientId = reader.string('client id', clientIdLengthMax);
  const clientHost = reader.string('client host', clientHostLengthMax);
  const names = reader.count('subscribed topics', subscribedTopicsMax, 2);
  const subscribedTopicNames: string[] = [];
  for (let i = 0; i < names; i++) {
    const name = readId(reader, 'subscribed topic', groupTopicNameLengthMax);
    const previous = subscribedTopicNames[subscribedTopicNames.length - 1];
    if (previous !== undefined && !(previous < name)) throw reader.malformed('subscribed topics not sorted');
    subscribedTopicNames.push(name);
  }
  return {
    type: 'member',
    groupId,
    memberId,
    instanceId,
    clientId,
    clientHost,
    subscribedTopicNames,
    subscribedTopicRegex: reader.string('subscribed regex', subscribedTopicRegexLengthMax),
    rebalanceTimeoutMs: reader.bounded('rebalance timeout', 1, rebalanceTimeoutMsMax),
    serverAssignor: reader.string('server assignor', assignorNameLengthMax),
  };
}

function readCurrent(reader: GroupByteReader, groupId: string, memberId: string): GroupRecord {
  const memberEpoch = reader.signed('member epoch', -2, epochMax);
  const previousMemberEpoch = reader.signed('previous member epoch', -2, epochMax);
  const stateIndex = reader.u8('member state');
  const state = memberStates[stateIndex];
  if (state === undefined) throw reader.malformed(`unknown member state ${stateIndex}`);
  return {
    type: 'current',
    groupId,
    memberId,
    memberEpoch,
    previousMemberEpoch,
    state,
    assigned: readPartitionSet(reader, 'assigned'),
    pendingRevocation: readPartitionSet(reader, 'pending revocation'),
  };
}
