export {
  peerProtocolVersion,
  peerMessageBytesMax,
  peerControllerCommandBytesMax,
  peerRaftMethodPath,
  peerProposeControllerCommandMethodPath,
} from './constants.js';
export { peerProtoFile, peerProtoTypes, peerServiceDefinition, wireNumber, wireBytes } from './load.js';
export type { PeerProtoTypes } from './load.js';
export type { RaftStreamClosed, ControllerCommandRequest, ControllerCommandResponse } from './types.js';
