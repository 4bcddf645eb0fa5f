import type { TracerProvider } from '@opentelemetry/api';

/**
 * TLS towards the brokers (security.proto, "Transport"). Certificates and keys are PEM *contents*
 * (what `readFileSync(path)` returns), not paths: the SDK reads no files, so a caller may take
 * them from a secret store as well as from disk. The CLI reads the files its flags name.
 */
export interface TlsOptions {
  /**
   * CA certificate(s) the brokers' certificates must be signed by (PEM). Default: Node.js's
   * bundled public roots, which do not sign a cluster's own CA.
   */
  ca?: string | Buffer;
  /** Client certificate (PEM), for brokers with `security.tls_client_auth`; needs `key`. */
  cert?: string | Buffer;
  /** Private key of `cert` (PEM, unencrypted). */
  key?: string | Buffer;
  /**
   * Name the brokers' certificates must carry, instead of the host dialled (for brokers dialled
   * by an address their certificates do not list).
   */
  servername?: string;
  /** Lowest TLS version accepted: 'TLSv1.3' (default) or 'TLSv1.2' for brokers that allow 1.2. */
  versionMin?: 'TLSv1.3' | 'TLSv1.2';
}

/**
 * SASL authentication (security.proto, "Authentication"): one SCRAM-SHA-256 handshake per
 * connection, before its first call; the password never crosses the wire.
 */
export interface SaslOptions {
  /** The only mechanism, and the default. */
  mechanism?: 'SCRAM-SHA-256';
  username: string;
  password: string;
}

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
  /** TLS to every broker; without it the client speaks plaintext. */
  tls?: TlsOptions;
  /** Authenticate every connection with SCRAM-SHA-256 (brokers with security.auth_enabled need it). */
  sasl?: SaslOptions;
  /** Random source in [0, 1) for jitter and sticky partitioning; inject a seeded one in tests. */
  random?: () => number;
}
