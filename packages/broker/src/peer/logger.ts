/**
 * The logger the peer transport writes to: pino's `Logger` fits, and so does `RaftLogger`.
 * Lines are rate-limited per peer where a misbehaving peer could flood them.
 */
export interface PeerLogger {
  debug(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
}

/** Discards everything (the default). */
export const silentPeerLogger: PeerLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
};

/** Logs each message at warn at most once per `intervalMs`, at debug otherwise. */
export class WarnLimiter {
  /** Last warn time per message text (a handful of fixed texts per limiter). */
  private readonly lastWarnMs = new Map<string, number>();

  constructor(
    private readonly logger: PeerLogger,
    private readonly intervalMs: number,
  ) {}

  log(fields: Record<string, unknown>, message: string): void {
    const now = Date.now();
    if (now - (this.lastWarnMs.get(message) ?? Number.NEGATIVE_INFINITY) >= this.intervalMs) {
      this.lastWarnMs.set(message, now);
      this.logger.warn(fields, message);
      return;
    }
    this.logger.debug(fields, message);
  }
}
