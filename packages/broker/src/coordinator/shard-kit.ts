/**
 * The broker's coordinator shards: GroupCoordinatorShard of groups/ and its record codec, as the
 * ShardKit the coordinators drive.
 */
import { GroupCoordinatorShard, decodeGroupRecord, encodeGroupRecord } from '../groups/index.js';
import type { GroupRecord } from '../groups/index.js';
import type { ShardKit } from './shard.js';

export type GroupShardRecord = GroupRecord;

export const groupShardKit: ShardKit<GroupRecord> = {
  create: (options) => new GroupCoordinatorShard(options),
  encode: (record) => encodeGroupRecord(record),
  decode: (key, value) => decodeGroupRecord(key, value),
};
