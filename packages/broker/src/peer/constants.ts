/**
 * Bounds of the broker's peer transport, with load-time checks of how they relate. Names carry
 * units last.
 */
import { peerMessageBytesMax } from '@streambus/proto';
import { assert, frameBytesMax, frameMessagesMax } from '@streambus/raft';

/** Frames waiting for one peer's stream (down, or not writable) before new ones are dropped. */
export const peerQueueFramesMaxDefault = 1024;
/** Encoded bytes waiting for one peer's stream before new frames are dropped. */
export const peerQueueBytesMaxDefault = 64 * 1024 * 1024;
/**
 * Bytes written to one peer's stream that grpc-js has not yet handed to HTTP/2; beyond it frames
 * wait in the queue (bounded) instead of in grpc-js's buffer (bounded only in count).
 */
export const peerInFlightBytesMax = 8 * 1024 * 1024;
/** First wait before reopening a broken stream; doubled per failure up to the max. */
export const peerReconnectBackoffMsMin = 50;
/** Longest wait before reopening a broken stream. */
export const peerReconnectBackoffMsMaxDefault = 2000;
/** Failures the reconnect backoff doubles for at most: 2^30 times the min is far past any max, and the power stays finite. */
export const peerReconnectDoublingsMax = 30;
/** A peer queue drops its sent head once that is more than this many frames and more than half the queue. */
export const peerQueueCompactHeadMin = 1024;
/** gRPC keepalive ping interval on peer channels: a silently dead peer is noticed. */
export const peerKeepaliveMs = 10_000;
/** How long a keepalive ping may go unanswered before the channel is declared broken. */
export const peerKeepaliveTimeoutMs = 5_000;
/**
 * Shortest time between two DNS resolutions of a peer's name (grpc-js waits 30 s by default). A
 * peer that comes back at a new address (a Kubernetes pod recreated with a new IP under the same
 * DNS name) is reached once its channel resolves again, so that wait was the time the leader
 * could not reach it: measured 30 s in test-cluster/test/statefulset.test.ts.
 */
export const peerDnsResolutionMsMin = 1_000;
/** Longest deadline of a ProposeControllerCommand call. */
export const peerCallDeadlineMsMax = 60_000;
/** Protobuf framing per Raft message and entry that the raft bounds do not count (fields, tags). */
const protobufOverheadPerMessageBytes = 128;

assert(peerReconnectBackoffMsMin <= peerReconnectBackoffMsMaxDefault, 'backoff min is below its max');
assert(peerQueueBytesMaxDefault >= peerMessageBytesMax, 'a peer queue holds at least one largest frame');
assert(
  frameBytesMax + frameMessagesMax * protobufOverheadPerMessageBytes <= peerMessageBytesMax,
  'a largest raft frame fits in one peer message',
);
assert(peerInFlightBytesMax >= frameBytesMax, 'a largest raft frame fits in flight');
assert(peerKeepaliveTimeoutMs < peerKeepaliveMs, 'a keepalive ping times out before the next is due');

/** Shortest interval between two warn lines about the same peer (the rest go to debug). */
export const peerWarnIntervalMs = 10_000;
