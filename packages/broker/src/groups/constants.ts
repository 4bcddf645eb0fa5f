/**
 * Bounds of the group coordinator (groups.proto's "Bounds" paragraph) and of its records in
 * "__consumer_offsets", with load-time checks of how they relate. Names carry units last.
 */
import { partitionsPerRequestMax, partitionsPerTopicMax, topicNameLengthMax } from '@streambus/proto';
import { assert } from '@streambus/raft';

/** Group ids and instance ids: 1..249 characters of [a-zA-Z0-9._-] (Kafka's topic name rule). */
export const groupIdLengthMax = 249;
export const instanceIdLengthMax = 249;
export const groupIdPattern = /^[a-zA-Z0-9._-]+$/;
/** A member id (a UUID when the coordinator picks it; a client may pick its own). */
export const memberIdLengthMax = 64;
/** Client ids and hosts are free text shown by DescribeGroups; longer ones are refused. */
export const clientIdLengthMax = 255;
export const clientHostLengthMax = 255;
/** Topic names a member may subscribe to by name. */
export const subscribedTopicsMin = 1;
export const subscribedTopicsMax = 1000;
/** Longest subscription pattern (characters). */
export const subscribedTopicRegexLengthMax = 1000;
/** rebalance_timeout_ms bounds; 0 in a join means the default. */
export const rebalanceTimeoutMsMin = 1;
export const rebalanceTimeoutMsMax = 300_000;
export const rebalanceTimeoutMsDefault = 300_000;
/** Partitions per OffsetCommit / OffsetFetch, and in one heartbeat's owned set or one assignment. */
export const offsetPartitionsPerRequestMax = 10_000;
export const ownedPartitionsMax = partitionsPerRequestMax;
/** Free text committed with an offset (UTF-8 bytes). */
export const commitMetadataBytesMax = 4096;
/** Group ids per DescribeGroups / DeleteGroups (and FindCoordinator). */
export const groupIdsPerRequestMax = 1000;
/** Members per group can be configured up to this (groups.max_size). */
export const groupMembersMaxLimit = 100_000;
/** Topic name bound of the protocol, repeated here for the record codec. */
export const groupTopicNameLengthMax = topicNameLengthMax;
/** Partitions per topic (the protocol's bound), so a partition index fits a u32 comfortably. */
export const groupPartitionsPerTopicMax = partitionsPerTopicMax;
/** Topics in one encoded partition set (a target or current assignment). */
export const partitionSetTopicsMax = 100_000;
/** Partitions in one encoded partition set, over all its topics. */
export const partitionSetPartitionsMax = 1_000_000;
/** Assignor names are short identifiers. */
export const assignorNameLengthMax = 64;

/** Compiled subscription patterns (and their matches) the shard caches; beyond it the cache starts over. */
export const regexCacheEntriesMax = 10_000;

/** Member epochs of ConsumerGroupHeartbeat with a meaning of their own. */
export const joinMemberEpoch = 0;
export const leaveMemberEpoch = -1;
export const staticLeaveMemberEpoch = -2;
/** An admin commit carries member id '' and this epoch. */
export const adminCommitMemberEpoch = -1;
/** Group epochs and member epochs are int32 on the wire. */
export const epochMax = 0x7fff_ffff;

/** First byte of every record key and value this code writes: the format version. */
export const groupRecordVersion = 0;
/**
 * First byte of the keys the broker writes into an offsets partition for itself (the wiring's
 * checkpoint marker, 0xff then 'streambus.checkpoint'), which replay skips: never a group record.
 * Group record versions stay below it, so the two can never be confused.
 */
export const brokerReservedKeyByte = 0xff;

assert(groupIdLengthMax === topicNameLengthMax, 'group ids follow the topic name bound');
assert(rebalanceTimeoutMsDefault <= rebalanceTimeoutMsMax, 'the default rebalance timeout is within its bound');
assert(offsetPartitionsPerRequestMax <= partitionsPerRequestMax, 'an offset request fits a request');
assert(subscribedTopicsMin <= subscribedTopicsMax, 'subscription bounds are ordered');
assert(groupRecordVersion < brokerReservedKeyByte, "group record versions stay below the broker's key byte");
