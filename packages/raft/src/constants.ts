/**
 * Every default bound of the Raft library in one place, with load-time checks of how they
 * relate. Names carry units last.
 */
import { assert } from './errors.js';

export const electionTicksDefault = 10;
export const heartbeatTicksDefault = 1;
export const inflightMessagesMaxDefault = 256;
export const messageBytesMaxDefault = 1024 * 1024;
export const uncommittedBytesMaxDefault = 64 * 1024 * 1024;
export const committedBytesPerReadyMaxDefault = 16 * 1024 * 1024;
export const snapshotChunkBytesDefault = 256 * 1024;
/** Messages one host sends to one peer in one frame before starting another. */
export const frameMessagesMax = 4096;
/** Bytes one frame carries (entries and snapshot chunks) before starting another. */
export const frameBytesMax = 4 * 1024 * 1024;

assert(heartbeatTicksDefault < electionTicksDefault, 'heartbeat must be shorter than the election timeout');
assert(messageBytesMaxDefault <= frameBytesMax, 'one append message must fit in one frame');
assert(snapshotChunkBytesDefault <= frameBytesMax, 'one snapshot chunk must fit in one frame');
assert(
  committedBytesPerReadyMaxDefault >= messageBytesMaxDefault,
  'a Ready must hold at least one append worth of entries',
);

// RaftHost bounds (src/host/).
/** Default milliseconds between host ticks (one tick source for every group on a host). */
export const hostTickMsDefault = 100;
/** Proposals (single or batch) awaiting their outcome in one group before new ones are dropped. */
export const hostProposalsPendingMax = 65_536;
/** ReadIndex requests awaiting their read point in one group before new ones are dropped. */
export const hostReadsPendingMax = 4096;
/** Election timeouts a ReadIndex request may wait for its answer before it is dropped (the leader may be gone). */
export const hostReadTimeoutElections = 3;
/** Groups a host handles in one loop turn; the rest wait for the next turn (bounds one persist batch). */
export const hostGroupsPerTurnMax = 16_384;

assert(hostReadTimeoutElections >= 2, 'a read outlives at least one election');
