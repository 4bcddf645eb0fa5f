// The broker-to-broker (peer) transport: Raft frames and controller commands over gRPC.
export { PeerTransport } from './peer-transport.js';
export type { PeerTransportOptions, PeerLinkStats, PeerTransportStats } from './peer-transport.js';
export { addPeerService, peerServerOptions } from './peer-service.js';
export type { PeerServiceHandlers, PeerServiceOptions, PeerServiceStats, PeerServiceHandle } from './peer-service.js';
export { encodeFrame, decodeFrame } from './frame-codec.js';
export { PeerError, MalformedFrameError, UnsupportedVersionError, PeerCallError } from './errors.js';
export type { PeerErrorCode } from './errors.js';
export type { PeerLogger } from './logger.js';
export {
  peerQueueFramesMaxDefault,
  peerQueueBytesMaxDefault,
  peerInFlightBytesMax,
  peerReconnectBackoffMsMin,
  peerReconnectBackoffMsMaxDefault,
  peerKeepaliveMs,
  peerKeepaliveTimeoutMs,
  peerCallDeadlineMsMax,
  peerWarnIntervalMs,
} from './constants.js';
