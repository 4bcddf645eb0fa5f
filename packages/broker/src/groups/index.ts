// The consumer group coordinator core, for the broker's other modules (the package's public
// src/index.ts does not export it). See README.md.
export { GroupCoordinatorShard, defaultCoordinatorConfig } from './coordinator.js';
export type { CoordinatorConfig, TopicView, ShardResult, GroupStateName } from './coordinator.js';
export {
  encodeGroupRecord,
  decodeGroupRecord,
  isBrokerReservedKey,
  brokerReservedKeyByte,
  memberStates,
} from './records.js';
export type { GroupRecord, GroupRecordType, MemberState, TopicPartitionSet } from './records.js';
export { GroupRecordError } from './errors.js';
export type { GroupRecordErrorCode } from './errors.js';
export { assignors, assignorNames, isAssignorName, uniformAssignor, rangeAssignor } from './assignors.js';
export type { AssignorName, Assignor, AssignmentInput, AssignmentMember, Assignment } from './assignors.js';
export {
  partitionSet,
  partitionSetFromWire,
  partitionSetToWire,
  partitionSetsEqual,
  emptyPartitionSet,
} from './partition-set.js';
export {
  groupIdLengthMax,
  memberIdLengthMax,
  commitMetadataBytesMax,
  groupIdsPerRequestMax,
  offsetPartitionsPerRequestMax,
  rebalanceTimeoutMsMax,
  rebalanceTimeoutMsDefault,
} from './constants.js';
