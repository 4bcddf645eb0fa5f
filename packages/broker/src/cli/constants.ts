/** Bounds and defaults of the CLI. Names carry units last. */
import { assert } from '@streambus/raft';
import {
  brokerIdMax,
  partitionsPerTopicMax,
  reassignmentsPerCommandMax,
  replicationFactorMax,
} from '../controller/constants.js';

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
/** `broker drain` waits this long for the broker to lead nothing unless --timeout says otherwise. */
export const drainTimeoutMsDefault = 60_000;
/** Each `broker drain` call lets the broker wait this long before it answers with its progress. */
export const drainCallWaitMs = 2_000;
/** Certificate, key and password files are small; a larger one is the wrong file. */
export const securityFileBytesMax = 1024 * 1024;
/** The protocol's bound of a password (scramPasswordLengthMax, characters). */
export const passwordLengthMax = 1024;
/** Brokers accepted in --bootstrap. */
export const bootstrapAddressesMax = 64;

assert(stdinLineBytesMax <= produceBatchBytesMax, 'one line fits in one batch');
assert(drainCallWaitMs < drainTimeoutMsDefault, 'a drain reports progress more than once');
assert(healthTimeoutMsDefault <= operationTimeoutMsDefault, 'a health probe is no slower than an operation');

/** A graceful stop (leadership hand-off, flush) that takes longer than this exits 1 anyway. */
export const shutdownTimeoutMs = 30_000;

// `topic reassign` refuses what the controller would refuse, before contacting anyone.
/** Highest partition index of a topic. */
export const reassignPartitionMax = partitionsPerTopicMax - 1;
/** Replicas in one new replica list (the voters of the partition's Raft group). */
export const reassignReplicasMax = replicationFactorMax;
/** Broker ids are 1..this (0 means "none" in Raft). */
export const reassignBrokerIdMax = brokerIdMax;
/** Partitions one `topic reassign` moves (one controller command). */
export const reassignmentsMax = reassignmentsPerCommandMax;

assert(reassignmentsMax <= reassignPartitionMax + 1, 'a reassignment names each partition of one topic at most once');
