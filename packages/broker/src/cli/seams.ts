/**
 * Where the application shell meets parts built elsewhere: the broker core (`startBroker`), the
 * storage verifier (`verifyWal`) and the client SDK (`clientFactory`). The CLI receives them in
 * `CliDeps`; main.ts loads each module on first use, and tests pass fakes.
 */
import type { BrokerConfig } from '../config/types.js';
import type { LoadedConfig } from '../config/load.js';
import type { HealthRegistry } from '../admin/health.js';
import type { BrokerMetrics } from '../admin/metrics.js';
import type { Logger } from '../logging/logger.js';
import type { TlsContexts } from '../security/tls/tls-contexts.js';

/** Everything the shell has set up before the core starts. */
export interface BrokerContext {
  readonly config: BrokerConfig;
  /** Values and origins, for a start-up log line or /config. */
  readonly loaded: LoadedConfig;
  /** Root logger; use `componentLogger(logger, 'raft')` and friends. */
  readonly logger: Logger;
  /** Register component health providers and readiness checks here; /ready stays 503 until then. */
  readonly health: HealthRegistry;
  /** The registry /metrics serves; feed these. Absent when monitoring.metrics_enabled is false. */
  readonly metrics?: BrokerMetrics;
  readonly version: string;
  /** The TLS material (security.tls_enabled), shared with the admin server; the shell closes it. */
  readonly tls?: TlsContexts;
}

export interface RunningBroker {
  /**
   * Graceful stop (SIGTERM): stop accepting, hand partition leadership to in-sync peers, flush,
   * close. The shell has already made /ready answer 503 when this is called.
   */
  stop(): Promise<void>;
  /** Settles when the broker stops on its own; a rejection is a fatal error (exit 1). */
  readonly stopped: Promise<void>;
}

export type StartBroker = (context: BrokerContext) => Promise<RunningBroker>;

/** The outcome of walking a data directory and checking every batch's CRC. */
export interface WalVerifyReport {
  readonly ok: boolean;
  /** Short counters for the summary line, e.g. { groups: 37, entries: 120034, batches: 118000 }. */
  readonly counts: Readonly<Record<string, number>>;
  /** One line per damaged or inconsistent place found. */
  readonly problems: readonly string[];
}

export type VerifyWal = (dataDir: string) => Promise<WalVerifyReport>;
