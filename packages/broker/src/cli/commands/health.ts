/**
 * `streambus health --broker HOST:PORT`: asks one broker for /health, on its admin port or its
 * client port (which answers the probes over HTTP/1.1 beside gRPC).
 */
import { get } from 'node:http';
import type { ComponentHealth, HealthReport, HealthStatus } from '../../admin/health.js';
import { parseHostPort } from '../../config/address.js';
import type { Command } from '../command.js';
import { UsageError, booleanOption, durationOption, stringOption } from '../command.js';
import { defaultAdminAddress, healthResponseBytesMax, healthTimeoutMsDefault } from '../constants.js';
import { ExitCode, errorCode, exitCodeForError } from '../exit-codes.js';
import { formatTable, formatUptime, jsonLine } from '../format.js';
import { rethrowBug } from '../../bugs.js';

export const health: Command = {
  path: ['health'],
  summary: "show a broker's health (exit 0 healthy or degraded, 1 unhealthy, 3 unreachable)",
  synopsis: 'health [--broker HOST:PORT] [--strict] [--ready]',
  optionHelp: [
    '    --broker HOST:PORT           admin or client address (default $STREAMBUS_ADMIN, else $STREAMBUS_ADMIN_LISTEN, else 127.0.0.1:9090)',
    '    --strict                     exit 1 when degraded too',
    '    --ready                      exit 1 unless the broker is ready (for exec readiness probes)',
    '    --json                       print the /health document',
    '    --timeout DURATION           deadline (default 5s)',
  ],
  options: {
    broker: { type: 'string' },
    strict: { type: 'boolean' },
    ready: { type: 'boolean' },
    json: { type: 'boolean' },
    timeout: { type: 'string' },
  },
  positionalsMin: 0,
  positionalsMax: 0,
  run: async (input) => {
    const address = adminAddress(stringOption(input.values, 'broker'), input.deps.io.env);
    const timeoutMs = durationOption(input.values, 'timeout', healthTimeoutMsDefault);
    const json = booleanOption(input.values, 'json');
    const url = `http://${address}/health`;
    let report: HealthReport;
    try {
      report = await fetchHealth(url, timeoutMs);
    } catch (error: unknown) {
      rethrowBug(error);
      const code =
        exitCodeForError(error) === ExitCode.unavailable ? (errorCode(error) ?? 'UNAVAILABLE') : 'BAD_RESPONSE';
      const message = `${url}: ${describeFetchError(error)}`;
      input.deps.io.stderr(json ? jsonLine({ error: { code, message } }) : `streambus health: ${message} (${code})\n`);
      return code === 'BAD_RESPONSE' ? ExitCode.failed : ExitCode.unavailable;
    }
    input.deps.io.stdout(json ? jsonLine(report) : formatReport(report));
    if (booleanOption(input.values, 'ready') && !report.ready) return ExitCode.failed;
    return exitCodeFor(report.status, booleanOption(input.values, 'strict'));
  },
};

function exitCodeFor(status: HealthStatus, strict: boolean): number {
  if (status === 'healthy') return ExitCode.ok;
  if (status === 'degraded') return strict ? ExitCode.failed : ExitCode.ok;
  return ExitCode.failed;
}

/** The admin address to ask: flag, STREAMBUS_ADMIN, the broker's own STREAMBUS_ADMIN_LISTEN, default. */
export function adminAddress(flag: string | undefined, env: Readonly<Record<string, string | undefined>>): string {
  const text = flag ?? env['STREAMBUS_ADMIN'] ?? env['STREAMBUS_ADMIN_LISTEN'] ?? defaultAdminAddress;
  const parsed = parseHostPort(text, false);
  if (!parsed.ok) throw new UsageError(`--broker: ${parsed.reason}`);
  // A broker listening on every interface is reached on loopback from its own container.
  const host = parsed.value.host === '0.0.0.0' ? '127.0.0.1' : parsed.value.host === '::' ? '::1' : parsed.value.host;
  return host.includes(':') ? `[${host}]:${parsed.value.port}` : `${host}:${parsed.value.port}`;
}

class BadResponseError extends Error {
  readonly code = 'BAD_RESPONSE' as const;
}

/**
 * GET /health with node:http rather than fetch: fetch refuses the Fetch standard's "bad ports"
 * (6000, 6665-6669, 10080, ...), which are legitimate admin ports here.
 */
function fetchHealth(url: string, timeoutMs: number): Promise<HealthReport> {
  return new Promise((resolve, reject) => {
    const request = get(url, { headers: { accept: 'application/json' } }, (response) => {
      const chunks: Buffer[] = [];
      let bytes = 0;
      response.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        if (bytes > healthResponseBytesMax) {
          request.destroy(new BadResponseError(`answer larger than ${healthResponseBytesMax} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      response.on('error', reject);
      response.on('end', () => {
        try {
          resolve(parseHealth(response.statusCode ?? 0, Buffer.concat(chunks).toString('utf8')));
        } catch (error: unknown) {
          reject(error);
        }
      });
    });
    const deadline = setTimeout(
      () => request.destroy(new HealthTimeoutError(`no answer within ${timeoutMs}ms`)),
      timeoutMs,
    );
    request.on('close', () => clearTimeout(deadline));
    request.on('error', reject);
  });
}

class HealthTimeoutError extends Error {
  readonly code = 'TIMEOUT' as const;
}

function parseHealth(status: number, body: string): HealthReport {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (error) {
    rethrowBug(error);
    throw new BadResponseError(`HTTP ${status}, not JSON: is this a StreamBus admin address?`);
  }
  if (!isHealthReport(parsed))
    throw new BadResponseError(`HTTP ${status}, not a /health document: is this a StreamBus admin address?`);
  return parsed;
}

function isHealthReport(value: unknown): value is HealthReport {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  return (
    (record['status'] === 'healthy' || record['status'] === 'degraded' || record['status'] === 'unhealthy') &&
    typeof record['version'] === 'string' &&
    typeof record['uptime_seconds'] === 'number' &&
    typeof record['broker_id'] === 'number' &&
    typeof record['components'] === 'object' &&
    record['components'] !== null
  );
}

function describeFetchError(error: unknown): string {
  const code = errorCode(error);
  if (code === 'ECONNREFUSED') return 'connection refused: is the broker running, and is this its admin address?';
  if (error instanceof Error) return error.message;
  return String(error);
}

function formatReport(report: HealthReport): string {
  const components = Object.entries<ComponentHealth>(report.components);
  const header = `broker ${report.broker_id}: ${report.status}, ${report.ready ? 'ready' : 'not ready'} (version ${report.version}, up ${formatUptime(report.uptime_seconds)})\n`;
  if (components.length === 0) return header;
  return (
    header +
    formatTable(
      ['COMPONENT', 'STATUS', 'DETAIL'],
      components.map(([name, component]) => [name, component.status, component.detail]),
    )
  );
}
