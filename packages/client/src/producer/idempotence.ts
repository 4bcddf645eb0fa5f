/**
 * The idempotent producer's identity and sequences, as an explicit state machine:
 *
 *   unassigned ──ensure──► initializing ──answer──► ready ──a sent batch failed for good──► resetRequested
 *        ▲                     │ failure                                                      │ ensure, once no
 *        └─────────────────────┘ (backoff)          ready ◄──answer (sequences reset)── initializing ◄─ batch is in flight
 *
 * Each batch gets the producer id, epoch and its partition's next sequence once, at its first
 * send; a retry resends the same bytes, so the broker drops duplicates. When a batch that was
 * sent fails for good (it may or may not have been written), later sequences cannot follow it:
 * the producer asks for a new identity, sequences restart at 0, and batches already sent under
 * the old identity fail (resending them under the new one could duplicate them).
 */
import type { Cluster } from '../cluster/cluster.js';
import { sequenceModulus } from '../constants.js';
import { AuthorizationError, OutOfOrderSequenceError, StreamBusError, errorFromCode } from '../errors.js';
import { ErrorCode } from '@streambus/proto';
import type { PartitionState, ProducerBatch } from './batch.js';

export type IdempotencePhase = 'unassigned' | 'initializing' | 'ready' | 'resetRequested';

/** What the state machine needs from the producer around it. */
export interface IdempotenceHost {
  partitions(): Iterable<PartitionState>;
  /** Fails a batch for good: its records reject with `error`. */
  failBatch(batch: ProducerBatch, error: StreamBusError): void;
  /** Sends what is ready as soon as possible. */
  drainSoon(): void;
  /** Tries sending again at `atMs` (ms since the epoch). */
  drainAt(atMs: number): void;
}

export class IdempotenceState {
  producerId = -1;
  producerEpoch = -1;
  private initializing = false;
  /** A sent batch failed for good: the next identity restarts every sequence. */
  private resetRequested = false;
  private attempts = 0;

  constructor(
    private readonly cluster: Cluster,
    private readonly host: IdempotenceHost,
  ) {}

  get phase(): IdempotencePhase {
    if (this.initializing) return 'initializing';
    if (this.producerId < 0) return 'unassigned';
    return this.resetRequested ? 'resetRequested' : 'ready';
  }

  /**
   * True when batches may be sent under the current identity. Otherwise starts InitProducerId
   * when it may (a reset waits until no batch is in flight) and returns false.
   */
  ensure(): boolean {
    const phase = this.phase;
    if (phase === 'ready') return true;
    if (phase === 'initializing') return false;
    if (phase === 'resetRequested') {
      for (const state of this.host.partitions()) if (state.inFlight.length > 0) return false;
    }
    this.initializing = true;
    const request = { transactionalId: '', producerId: this.producerId, producerEpoch: this.producerEpoch };
    this.cluster
      .callWithRetries('any', 'InitProducerId', request)
      .then((response) => {
        if (response.errorCode !== ErrorCode.NONE) throw errorFromCode(response.errorCode, 'InitProducerId failed');
        this.adopt(response.producerId, response.producerEpoch);
        this.attempts = 0;
      })
      .catch((error: unknown) => {
        this.attempts++;
        const typed =
          error instanceof StreamBusError
            ? error
            : errorFromCode(ErrorCode.INTERNAL, error instanceof Error ? error.message : String(error));
        if (refusesForGood(typed)) {
          // Retrying cannot help (the user may not write, or cannot authenticate): the records
          // waiting for an identity fail now, not at their delivery timeout.
          for (const state of this.host.partitions()) {
            const error = typed.code === 'AUTHORIZATION_FAILED' ? this.refusedWrite(state.topic, typed) : typed;
            for (const batch of state.queue) this.host.failBatch(batch, error);
            state.queue.length = 0;
          }
          return;
        }
        for (const state of this.host.partitions()) {
          const head = state.queue[0];
          if (head !== undefined) head.lastError = typed;
        }
      })
      .finally(() => {
        this.initializing = false;
        if (this.phase === 'ready') this.host.drainSoon();
        else this.host.drainAt(Date.now() + this.cluster.backoffMs(this.attempts));
      });
    return false;
  }

  /**
   * A refused producer id, said of the topic the records were for: a user who may write no topic
   * at all may not write this one (the broker names the cluster, which the user did not ask for).
   */
  private refusedWrite(topic: string, refusal: StreamBusError): StreamBusError {
    const user = this.cluster.options.sasl?.username;
    const who = user === undefined ? 'this client' : `user ${user}`;
    return new AuthorizationError(
      `${who} may not write topic ${topic} (an idempotent producer's id needs write on a topic or the cluster: ${refusal.message})`,
      { cause: refusal },
    );
  }

  /** A batch sent under the current identity failed for good: restart the sequences. */
  requestReset(): void {
    this.resetRequested = true;
  }

  /** Gives `batch` the identity and its partition's next sequence, at its first send. */
  stamp(state: PartitionState, batch: ProducerBatch): void {
    batch.producerId = this.producerId;
    batch.producerEpoch = this.producerEpoch;
    batch.baseSequence = state.nextSequence;
  }

  /** The stamped batch was encoded and goes out: its records take their sequences. */
  advance(state: PartitionState, batch: ProducerBatch): void {
    state.nextSequence = (state.nextSequence + batch.records.length) % sequenceModulus;
  }

  private adopt(producerId: number, producerEpoch: number): void {
    const reset = this.resetRequested;
    this.producerId = producerId;
    this.producerEpoch = producerEpoch;
    this.resetRequested = false;
    if (!reset) return;
    for (const state of this.host.partitions()) {
      state.nextSequence = 0;
      state.resendAfterDrain = false;
      // Batches sent under the old identity may have been written: resending them under the new
      // one could duplicate them, so they fail; never-sent batches go out with new sequences.
      const keep: ProducerBatch[] = [];
      for (const batch of state.queue) {
        if (batch.baseSequence < 0) {
          keep.push(batch);
          continue;
        }
        const cause = batch.lastError;
        const message = `${state.topic}/${state.partition}: the producer was reset after a failed batch; this record may or may not have been written${cause !== undefined ? ` (last error: ${cause.message})` : ''}`;
        this.host.failBatch(batch, new OutOfOrderSequenceError(message, { cause }));
      }
      state.queue.length = 0;
      state.queue.push(...keep);
    }
  }
}

/** Security refusals of InitProducerId: the same settings are refused the same way every time. */
function refusesForGood(error: StreamBusError): boolean {
  return (
    error.code === 'AUTHORIZATION_FAILED' ||
    error.code === 'AUTHENTICATION_FAILED' ||
    error.code === 'TLS_HANDSHAKE_FAILED'
  );
}
