/**
 * Every bound of the controller's replicated state in one place, with load-time checks of how
 * they relate. Names carry units and qualifiers last.
 */
import {
  partitionsPerTopicMax as protocolPartitionsPerTopicMax,
  topicNameLengthMax as protocolTopicNameLengthMax,
} from '@streambus/proto';
import { assert } from '@streambus/raft';

/** The Raft group id of the controller; partition groups get ids from 1 on. */
export const controllerGroupId = 0;
/** First byte of every controller command payload in the controller group's Raft log. */
export const commandMagic = 0xc1;
/** First byte of an encoded controller snapshot. */
export const snapshotMagic = 0xc2;
/**
 * The newest snapshot format this code writes and reads (2: partitions carry their initial
 * replicas; 3: the finalized feature level, written only from level 2 on; 4: users and ACLs,
 * written only from level 3 on).
 */
export const snapshotVersion = 4;

/** Kafka's limit: a topic name is at most 249 characters of [a-zA-Z0-9._-]. The protocol's bound. */
export const topicNameLengthMax = protocolTopicNameLengthMax;
export const topicsMax = 10_000;
/** The protocol's bound (a client may create up to this many). */
export const partitionsPerTopicMax = protocolPartitionsPerTopicMax;
/** All partitions of the cluster (each one is a Raft group on its replicas). */
export const partitionsMax = 200_000;
/** Replicas of one partition (voters of its Raft group). */
export const replicationFactorMax = 7;
/** ISR may briefly hold old and new replicas during a reassignment. */
export const isrSizeMax = 2 * replicationFactorMax;
export const brokersMax = 1024;
/** Largest broker id (ids are positive; 0 means "none"). */
export const brokerIdMax = 0x7fff_ffff;
export const hostBytesMax = 255;
export const adminAddressBytesMax = 512;
export const rackBytesMax = 255;
export const topicConfigsMax = 64;
export const configKeyBytesMax = 255;
export const configValueBytesMax = 4096;
/** Producer ids one allocation hands out. */
export const producerIdBlockSizeMax = 100_000;
/** Producer ids are int64 in Kafka's wire format; we stay exact in a JS number. */
export const producerIdMax = Number.MAX_SAFE_INTEGER;
/** Group ids are unsigned 32-bit and never reused. */
export const groupIdMax = 0xffff_ffff;
/** Topic ids are unsigned 32-bit and never reused. */
export const topicIdMax = 0xffff_ffff;
/** Partition leader reports carried by one command. */
export const partitionReportsPerCommandMax = 10_000;
/** Reassignments carried by one command. */
export const reassignmentsPerCommandMax = partitionsPerTopicMax;
/** One encoded command; it must fit in one Raft append message (1 MiB by default). */
export const commandBytesMax = 1024 * 1024;
/** One encoded snapshot of the whole controller state. */
export const snapshotBytesMax = 512 * 1024 * 1024;

assert(topicNameLengthMax < 256, 'topic names fit a short string');
assert(partitionsPerTopicMax <= partitionsMax, 'one topic fits in the cluster bound');
assert(reassignmentsPerCommandMax <= partitionsPerTopicMax, 'a reassignment is about one topic');
assert(partitionReportsPerCommandMax <= partitionsMax, 'reports cover existing partitions');
assert(replicationFactorMax <= brokersMax, 'a partition fits on the brokers');
assert(isrSizeMax >= replicationFactorMax, 'an ISR can hold every replica');
assert(partitionsMax < groupIdMax, 'every partition can get a group id');
assert(topicsMax < topicIdMax, 'every topic can get a topic id');
assert(
  partitionsPerTopicMax * (replicationFactorMax * 5 + 2) +
    topicConfigsMax * (configKeyBytesMax + configValueBytesMax + 6) +
    512 <=
    commandBytesMax,
  'the largest create-topic command fits in one command',
);
assert(commandBytesMax <= snapshotBytesMax, 'a snapshot can hold at least one command worth');
