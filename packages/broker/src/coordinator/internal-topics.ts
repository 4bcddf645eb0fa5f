/**
 * The internal topic of consumer groups and where a group lives in it: group G is kept in
 * partition murmur2(utf8(G)) & 0x7fffffff mod partition count of __consumer_offsets (Kafka's
 * default partitioner, groups.proto), and its coordinator is that partition's Raft leader.
 */
import { partitionForKey } from '@streambus/client';
import { assert } from '@streambus/raft';
import { groupIdLengthMax, internalTopicPrefix, offsetsTopicName } from './constants.js';

/** True for the broker's own topics ("__" prefix): refused to users for create, delete and produce. */
export function isInternalTopic(name: string): boolean {
  return name.startsWith(internalTopicPrefix);
}

/** The partition of __consumer_offsets that holds `groupId`. */
export function offsetsPartitionFor(groupId: string, partitionCount: number): number {
  assert(partitionCount > 0, 'the offsets topic has partitions');
  return partitionForKey(Buffer.from(groupId, 'utf8'), partitionCount);
}

const legalGroupId = /^[a-zA-Z0-9._-]+$/;

/** Why `groupId` is not a legal group id (groups.proto bounds), or null when it is. */
export function groupIdProblem(groupId: string): string | null {
  if (groupId.length === 0) return 'group id is empty; name the group with 1..249 characters of [a-zA-Z0-9._-]';
  if (groupId.length > groupIdLengthMax)
    return `group id is ${groupId.length} characters, more than ${groupIdLengthMax}; shorten it`;
  if (!legalGroupId.test(groupId))
    return `group id ${JSON.stringify(groupId)} has characters outside [a-zA-Z0-9._-]; rename it`;
  return null;
}

export { offsetsTopicName };
