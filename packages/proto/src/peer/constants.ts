/**
 * Bounds of the peer (broker-to-broker) protocol, documented for other languages in
 * proto/streambus/v1/peer.proto.
 */

/** Peer protocol version this code speaks (RaftFrame.protocol_version). */
export const peerProtocolVersion = 1;
/** Largest gRPC message one broker sends another or accepts from it. */
export const peerMessageBytesMax = 64 * 1024 * 1024;
/** Largest encoded controller command in a ProposeControllerCommand. */
export const peerControllerCommandBytesMax = 1024 * 1024;
/** Full gRPC method paths of the Peer service. */
export const peerRaftMethodPath = '/streambus.peer.v1.Peer/Raft';
export const peerProposeControllerCommandMethodPath = '/streambus.peer.v1.Peer/ProposeControllerCommand';

if (peerControllerCommandBytesMax > peerMessageBytesMax)
  throw new Error('a controller command must fit in a peer message');
