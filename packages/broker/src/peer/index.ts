// The broker-to-broker (peer) transport: Raft frames and controller commands over gRPC.
export { PeerTransport } from './peer-transport.js';
export type { PeerTransportOptions } from './peer-transport.js';
export { addPeerService } from './peer-service.js';
export type { PeerServiceHandlers, PeerServiceHandle, PeerServiceStats } from './peer-service.js';
