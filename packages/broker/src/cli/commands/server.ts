/**
 * `streambus server`: validate the configuration, start logging, the admin server and then the
 * broker core; on SIGTERM/SIGINT mark the broker not ready, stop the core gracefully, exit 0.
 */
import type { DestinationStream } from 'pino';
import { HealthRegistry } from '../../admin/health.js';
import { createBrokerMetrics } from '../../admin/metrics.js';
import type { AdminServer } from '../../admin/server.js';
import { startAdminServer } from '../../admin/server.js';
import type { ProfilingServer } from '../../admin/profiling.js';
import { profilingHost, startProfilingServer } from '../../admin/profiling.js';
import { formatHostPort, formatPeerList } from '../../config/address.js';
import { configToYamlObject } from '../../config/dump.js';
import { describeOrigin } from '../../config/load.js';
import type { LoadedConfig } from '../../config/load.js';
import { componentLogger, createLogger } from '../../logging/logger.js';
import { streambusVersion } from '../../version.js';
import type { Command, CommandInput } from '../command.js';
import { booleanOption } from '../command.js';
import { shutdownTimeoutMs } from '../constants.js';
import { ExitCode, errorCode } from '../exit-codes.js';
import type { RunningBroker } from '../seams.js';
import { loadForCommand, serverOptionHelp, serverOptions } from './server-flags.js';
import { rethrowBug } from '../../bugs.js';
import { TlsContexts } from '../../security/tls/tls-contexts.js';
import { TlsMaterialError, tlsFilesOf } from '../../security/tls/tls-material.js';

export const server: Command = {
  path: ['server'],
  summary: 'run a broker',
  synopsis:
    'server [--validate-config] [--config FILE] [--id N] [--data-dir DIR] [--listen HOST:PORT | --port PORT] [--admin HOST:PORT] [--peers 1=H:P,...] [--log-level L]',
  optionHelp: [
    '    --validate-config            check the configuration (file, env, flags) and exit: 0 valid, 2 not; starts nothing',
    ...serverOptionHelp,
  ],
  options: { ...serverOptions, 'validate-config': { type: 'boolean' } },
  positionalsMin: 0,
  positionalsMax: 0,
  run: runServer,
};

async function runServer(input: CommandInput): Promise<number> {
  const loadedOrExit = await loadForCommand(input);
  if ('exitCode' in loadedOrExit) return loadedOrExit.exitCode;
  const loaded = loadedOrExit.result.loaded;
  const config = loaded.config;
  if (booleanOption(input.values, 'validate-config')) {
    input.deps.io.stdout(`${validConfigLine(loaded)}\n`);
    return ExitCode.ok;
  }
  const startBroker = input.deps.startBroker;
  const io = input.deps.io;
  const destination: DestinationStream = { write: (line: string) => io.stdout(line) };
  const logger = createLogger({ level: config.server.logLevel, destination, brokerId: config.server.brokerId });
  const health = new HealthRegistry({ brokerId: config.server.brokerId, version: streambusVersion });
  const metrics = config.monitoring.metricsEnabled
    ? createBrokerMetrics({
        processMetrics: true,
        brokerId: config.server.brokerId,
        version: streambusVersion,
        onSamplerError: (error) => logger.warn({ err: error }, 'a metrics sampler failed; its metrics are stale'),
      })
    : undefined;
  logger.info(
    {
      version: streambusVersion,
      listen: formatHostPort(config.server.listen),
      admin: formatHostPort(config.server.adminListen),
      peers: formatPeerList(config.server.peers),
      data_dir: config.server.dataDir,
      wal_sync: config.storage.walSync,
    },
    'starting streambus',
  );

  let tls: TlsContexts | undefined;
  if (config.security.tlsEnabled) {
    try {
      tls = await TlsContexts.load({ files: tlsFilesOf(config.security), logger: componentLogger(logger, 'grpc') });
    } catch (error: unknown) {
      if (!(error instanceof TlsMaterialError)) throw error;
      io.stderr(`streambus server: ${error.message}\n`);
      return ExitCode.failed;
    }
  }

  let admin: AdminServer;
  try {
    admin = await startAdminServer({
      listen: config.server.adminListen,
      ...(tls !== undefined && config.security.tlsAdminEnabled ? { tls } : {}),
      health,
      ...(metrics === undefined ? {} : { metrics }),
      configView: () => configToYamlObject(loaded, false),
      logger: componentLogger(logger, 'admin'),
    });
  } catch (error: unknown) {
    rethrowBug(error);
    const reason =
      errorCode(error) === 'EADDRINUSE'
        ? 'address in use; is another broker running? choose another with --admin'
        : String(error);
    io.stderr(`streambus server: admin address ${formatHostPort(config.server.adminListen)}: ${reason}\n`);
    tls?.close();
    return ExitCode.failed;
  }

  let profiling: ProfilingServer | null = null;
  if (config.monitoring.profilingEnabled) {
    try {
      profiling = await startProfilingServer(config.monitoring.profilingPort, componentLogger(logger, 'admin'));
    } catch (error: unknown) {
      rethrowBug(error);
      io.stderr(
        `streambus server: profiling address ${profilingHost}:${config.monitoring.profilingPort}: ${errorCode(error) === 'EADDRINUSE' ? 'address in use; choose another monitoring.profiling_port' : String(error)}\n`,
      );
      await admin.close();
      tls?.close();
      return ExitCode.failed;
    }
  }
  const closeAdmin = async (): Promise<void> => {
    await profiling?.close();
    await admin.close();
    tls?.close();
  };

  let broker: RunningBroker;
  try {
    broker = await startBroker({
      config,
      loaded,
      logger,
      health,
      ...(metrics === undefined ? {} : { metrics }),
      ...(tls === undefined ? {} : { tls }),
      version: streambusVersion,
    });
  } catch (error: unknown) {
    rethrowBug(error);
    logger.error({ err: error }, 'broker failed to start');
    io.stderr(
      `streambus server: the broker failed to start: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    await closeAdmin();
    return ExitCode.failed;
  }
  logger.info({ admin: formatHostPort(admin.address) }, 'streambus started');

  const outcome = await waitForStop(io.signal, broker.stopped);
  if (outcome.kind === 'failed') {
    logger.fatal({ err: outcome.error }, 'broker stopped on a fatal error');
    const reason = outcome.error instanceof Error ? outcome.error.message : String(outcome.error);
    io.stderr(`streambus server: the broker stopped: ${reason}\n`);
    await closeAdmin();
    return ExitCode.failed;
  }
  if (outcome.kind === 'stopped') {
    logger.error('broker stopped without being asked to');
    await closeAdmin();
    return ExitCode.failed;
  }
  logger.info('stopping: handing over leadership and flushing');
  health.markStopping('stopping: the broker is shutting down');
  const stop = await withDeadline(broker.stop(), shutdownTimeoutMs);
  await closeAdmin();
  if (stop.kind === 'timeout') {
    logger.error({ timeout_ms: shutdownTimeoutMs }, 'graceful stop did not finish in time');
    return ExitCode.failed;
  }
  if (stop.kind === 'failed') {
    logger.error({ err: stop.error }, 'graceful stop failed');
    return ExitCode.failed;
  }
  logger.info('stopped');
  return ExitCode.ok;
}

/** What `--validate-config` prints for a configuration the server would start with. */
function validConfigLine(loaded: LoadedConfig): string {
  const server = loaded.config.server;
  const files = [
    ...new Set([...loaded.origins.values()].flatMap((origin) => (origin.kind === 'file' ? [origin.file] : []))),
  ];
  const peers = server.peers.length === 0 ? 'no peers (a single-broker cluster)' : `${server.peers.length} peers`;
  return [
    `configuration valid: broker ${server.brokerId}`,
    `listen ${formatHostPort(server.listen)} (${describeOrigin(loaded.origins.get('server.listen') ?? { kind: 'default' })})`,
    `admin ${formatHostPort(server.adminListen)}`,
    `data_dir ${server.dataDir}`,
    peers,
    `wal_sync ${loaded.config.storage.walSync}`,
    files.length === 0 ? 'no config file' : `file ${files.join(', ')}`,
  ].join(', ');
}

type StopOutcome =
  { readonly kind: 'signal' } | { readonly kind: 'stopped' } | { readonly kind: 'failed'; readonly error: unknown };

function waitForStop(signal: AbortSignal, stopped: Promise<void>): Promise<StopOutcome> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve({ kind: 'signal' });
      return;
    }
    signal.addEventListener('abort', () => resolve({ kind: 'signal' }), { once: true });
    stopped.then(
      () => resolve({ kind: 'stopped' }),
      (error: unknown) => {
        rethrowBug(error);
        resolve({ kind: 'failed', error });
      },
    );
  });
}

type DeadlineOutcome =
  { readonly kind: 'done' } | { readonly kind: 'timeout' } | { readonly kind: 'failed'; readonly error: unknown };

async function withDeadline(work: Promise<void>, timeoutMs: number): Promise<DeadlineOutcome> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<DeadlineOutcome>((resolve) => {
    timer = setTimeout(() => resolve({ kind: 'timeout' }), timeoutMs);
  });
  try {
    const finished = work.then(
      (): DeadlineOutcome => ({ kind: 'done' }),
      (error: unknown): DeadlineOutcome => ({ kind: 'failed', error }),
    );
    return await Promise.race([finished, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
