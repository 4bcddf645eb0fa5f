/** Bounds and periods of the broker's tracing. Names carry units last. */
import { assert } from '@streambus/raft';

/** Instrumentation scope of every broker span. */
export const tracerName = '@streambus/broker';
/** `service.name` of the broker's spans. */
export const tracingServiceName = 'streambus';

/** Finished spans waiting for export; beyond it new spans are dropped (never a wait). */
export const spanQueueSizeMax = 4096;
/** Spans per export request. */
export const spanExportBatchSizeMax = 512;
/** How long finished spans wait before an export is sent (unless a batch is full sooner). */
export const spanExportDelayMs = 1_000;
/** An export not answered within this counts as failed; its spans are dropped. */
export const spanExportTimeoutMs = 10_000;
/**
 * Exports sent and not yet finished, timed-out ones included (the Jaeger sender cannot abort a
 * request to a collector that accepts and never answers). Beyond it a batch is dropped at once.
 */
export const spanExportsInFlightMax = 2;
/** Longest a broker's stop waits for its last spans to be exported. */
export const tracingShutdownMsMax = 3_000;
/** A failing collector is logged at most once per this interval. */
export const tracingWarnIntervalMs = 30_000;

/** Links one span carries to the other produces it also serves (a group commit, a frame). */
export const spanLinksMax = 32;
/**
 * Spans waiting for a peer (a leader's replicate waiting for a follower's answer, a follower's
 * append waiting for its persist and reply). Beyond it new ones are not started.
 */
export const pendingSpansMax = 1024;
/** A pending span not finished within this is ended, marked abandoned (a follower that is down). */
export const pendingSpanMsMax = 10_000;
/** How often pending spans are checked against `pendingSpanMsMax`. */
export const pendingSweepMs = 1_000;

/** Longest traceparent and tracestate accepted from a peer's frame (W3C: 55 and 512 characters). */
export const traceparentLengthMax = 55;
export const tracestateLengthMax = 512;

/** Default collector endpoints: OTLP/HTTP (Jaeger ingests it too) and Jaeger's Thrift collector. */
export const otlpEndpointDefault = 'http://localhost:4318/v1/traces';
export const jaegerEndpointDefault = 'http://localhost:14268/api/traces';
/** The path an OTLP/HTTP endpoint given as a bare origin gets. */
export const otlpTracesPath = '/v1/traces';

assert(spanExportBatchSizeMax <= spanQueueSizeMax, 'an export batch fits the span queue');
assert(spanExportDelayMs < spanExportTimeoutMs, 'exports are sent more often than they time out');
assert(pendingSweepMs < pendingSpanMsMax, 'pending spans are swept more often than they expire');
