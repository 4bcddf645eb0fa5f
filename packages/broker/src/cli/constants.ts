/** Bounds and defaults of the CLI. Names carry units last. */
import { assert } from '@streambus/raft';

export const defaultBootstrap = '127.0.0.1:9092';
export const defaultAdminAddress = '127.0.0.1:9090';
/** Deadline of one client operation unless --timeout says otherwise. */
export const operationTimeoutMsDefault = 10_000;
/** Deadline of `streambus health`. */
export const healthTimeoutMsDefault = 5_000;
/** /health bodies are small; a larger answer is not from a StreamBus broker. */
export const healthResponseBytesMax = 1024 * 1024;
/** `produce` from stdin sends records in batches of at most this many records or bytes. */
export const produceBatchRecordsMax = 500;
export const produceBatchBytesMax = 1024 * 1024;
/** One stdin line is one record; longer lines are refused rather than buffered without end. */
export const stdinLineBytesMax = 1024 * 1024;
/** Brokers accepted in --bootstrap. */
export const bootstrapAddressesMax = 64;

assert(stdinLineBytesMax <= produceBatchBytesMax, 'one line fits in one batch');
assert(healthTimeoutMsDefault <= operationTimeoutMsDefault, 'a health probe is no slower than an operation');

/** A graceful stop (leadership hand-off, flush) that takes longer than this exits 1 anyway. */
export const shutdownTimeoutMs = 30_000;
