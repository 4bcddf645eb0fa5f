/**
 * Bounds of the Raft core that the public config does not expose, with load-time checks.
 */
import { assert } from '../errors.js';
import { messageBytesMaxDefault } from '../constants.js';

/** Bytes of entry data in flight to one follower before its appends pause. */
export const inflightBytesMaxDefault = 32 * 1024 * 1024;
/** ReadIndex requests a leader holds while confirming leadership or waiting for its first commit. */
export const readRequestsPendingMax = 4096;
/** Entries proposed in one `proposeBatch` call. */
export const proposalBatchEntriesMax = 65536;

assert(inflightBytesMaxDefault >= messageBytesMaxDefault, 'one append fits in the inflight byte window');
assert(readRequestsPendingMax > 0, 'reads can be pending');
