import type { TracerProvider } from '@opentelemetry/api';

/** Options every StreamBus client (producer, consumer, admin) takes. */
export interface ClientOptions {
  /** `host:port` of one or more brokers; the client learns the rest from Metadata. */
  bootstrapServers: readonly string[];
  /** Name sent with requests in the `streambus-client-id` metadata key, for broker logs. */
  clientId?: string;
  /** Deadline of each RPC in milliseconds (default 30000). */
  requestTimeoutMs?: number;
  /**
   * Longest wait for a connection to a broker before it counts as down and the next one is tried
   * (default 5000, at most requestTimeoutMs). A broker that failed is skipped, with backoff.
   */
  connectTimeoutMs?: number;
  /** First retry backoff in milliseconds (default 100); doubles per attempt, with jitter. */
  retryBackoffMs?: number;
  /** Ceiling of the retry backoff in milliseconds (default 1000). */
  retryBackoffMsMax?: number;
  /** Cached metadata older than this is refreshed before use (default 300000). */
  metadataMaxAgeMs?: number;
  /**
   * Extra gRPC metadata for every call, read at each call. A traced call's own `traceparent` /
   * `tracestate` (see `tracerProvider`) replace any given here.
   */
  callMetadata?: () => Readonly<Record<string, string>>;
  /**
   * Makes the client's OpenTelemetry spans (`send <topic>`, `receive <topic>`, and calls made
   * under an active span); default the globally registered provider (none: nothing is recorded).
   * Each span's context goes to the broker as W3C `traceparent`.
   */
  tracerProvider?: TracerProvider;
  /** Random source in [0, 1) for jitter and sticky partitioning; inject a seeded one in tests. */
  random?: () => number;
}
