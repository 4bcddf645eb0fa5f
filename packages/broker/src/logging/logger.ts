/**
 * Structured JSON logs (pino), one line per event, in the seed's shape:
 * {"level":"info","time":"2025-01-07T10:30:45.000Z","msg":"...", ...fields}.
 * The root logger carries the broker id; each component logs through a child that adds
 * `component`, so that one broker's log can be filtered per subsystem.
 */
import { pino, type DestinationStream, type Logger } from 'pino';
import type { RaftLogger } from '@streambus/raft';
import type { LogLevel } from '../config/types.js';

export type { Logger };

/** The components that log; the broker core may log under others, these are the known ones. */
export type LogComponent =
  'raft' | 'storage' | 'controller' | 'grpc' | 'admin' | 'partition' | 'cli' | 'tracing' | 'groups';

export interface LoggerOptions {
  readonly level: LogLevel;
  /** Defaults to stdout, written synchronously so that the lines before a crash are not lost. */
  readonly destination?: DestinationStream;
  /** Added to every line when known. */
  readonly brokerId?: number;
}

export function createLogger(options: LoggerOptions): Logger {
  const destination = options.destination ?? pino.destination({ dest: 1, sync: true });
  return pino(
    {
      level: options.level,
      base: options.brokerId === undefined ? null : { broker_id: options.brokerId },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}

/** The logger a component uses: the root's fields plus `component`. */
export function componentLogger(root: Logger, component: LogComponent): Logger {
  return root.child({ component });
}

/** A pino logger already has Raft's logging shape; this names the fit and checks it. */
export function raftLogger(root: Logger): RaftLogger {
  const logger = componentLogger(root, 'raft');
  return {
    debug: (fields, message) => logger.debug(fields, message),
    info: (fields, message) => logger.info(fields, message),
    warn: (fields, message) => logger.warn(fields, message),
  } satisfies RaftLogger;
}
