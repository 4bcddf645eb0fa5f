// Public API of @streambus/raft. Named exports only; each helper area adds its own lines.
export { EntryType, ConfChangeType, ConfChangeTransition, MessageType, Role } from './types.js';
export type {
  NodeId,
  GroupId,
  Entry,
  HardState,
  ConfState,
  SnapshotMetadata,
  Snapshot,
  ConfChangeSingle,
  ConfChange,
  SnapshotChunk,
  Message,
  SoftState,
  ReadState,
  Ready,
} from './types.js';
export {
  RaftError,
  CompactedError,
  UnavailableError,
  EntriesPendingError,
  SnapshotTemporarilyUnavailableError,
  NotLeaderError,
  ProposalDroppedError,
  GroupNotFoundError,
  StoppedError,
  AssertionError,
  assert,
} from './errors.js';
export type { RaftErrorCode } from './errors.js';
export type { InitialState, LogStorage, GroupWrite, OpenGroupOptions, RaftStore } from './storage.js';
export type { RaftNodeConfig, ReadOnlyMode, UnsafeTestingKnobs, RaftLogger } from './config.js';
export type { ProposalReceipt, ProgressStatus, NodeStatus, RaftNodeApi, StateMachine } from './node-api.js';
export { RaftNode } from './node/raft-node.js';
export { encodeConfChange, decodeConfChange } from './confchange/codec.js';
export { RaftHost, emptyHostMetrics } from './host/raft-host.js';
export type {
  RaftHostOptions,
  GroupConfig,
  ProposeOptions,
  HostGroupStatus,
  LeaderChangeListener,
  HostMetrics,
  HostUnsafeTestingKnobs,
} from './host/raft-host.js';
export type {
  Frame,
  FrameMessage,
  FrameHeartbeat,
  FrameHeartbeatResponse,
  FrameQuiesce,
  RaftTransport,
} from './host/frame.js';
export { realTimer } from './host/timer.js';
export type { HostTimer, TimerHandle } from './host/timer.js';
export { realScheduler } from './host/scheduler.js';
export type { HostScheduler } from './host/scheduler.js';
// Frame bounds, read by the broker's peer transport to size its gRPC messages.
export { frameBytesMax, frameMessagesMax } from './constants.js';
