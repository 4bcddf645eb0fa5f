/** `streambus health --broker HOST:ADMINPORT`: asks one broker's admin server for /health. */
import type { ComponentHealth, HealthReport, HealthStatus } from '../../admin/health.js';
import { parseHostPort } from '../../config/address.js';
import type { Command } from '../command.js';
import { UsageError, booleanOption, durationOption, stringOption } from '../command.js';
import { defaultAdminAddress, healthResponseBytesMax, healthTimeoutMsDefault } from '../constants.js';
import { ExitCode, errorCode, exitCodeForError } from '../exit-codes.js';
import { formatTable, formatUptime, jsonLine } from '../format.js';

export const health: Command = {
  path: ['health'],
  summary: "show a broker's health (exit 0 ok or degraded, 1 down, 3 unreachable)",
  synopsis: 'health [--broker HOST:ADMINPORT] [--strict]',
  optionHelp: [
    '    --broker HOST:ADMINPORT      admin address (default $STREAMBUS_ADMIN, else $STREAMBUS_ADMIN_LISTEN, else 127.0.0.1:9090)',
    '    --strict                     exit 1 when degraded too',
    '    --json                       print the /health document',
    '    --timeout DURATION           deadline (default 5s)',
  ],
  options: { broker: { type: 'string' }, strict: { type: 'boolean' }, json: { type: 'boolean' }, timeout: { type: 'string' } },
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
      const code = exitCodeForError(error) === ExitCode.unavailable ? (errorCode(error) ?? 'UNAVAILABLE') : 'BAD_RESPONSE';
      const message = `${url}: ${describeFetchError(error)}`;
      input.deps.io.stderr(json ? jsonLine({ error: { code, message } }) : `streambus health: ${message} (${code})\n`);
      return code === 'BAD_RESPONSE' ? ExitCode.failed : ExitCode.unavailable;
    }
    input.deps.io.stdout(json ? jsonLine(report) : formatReport(report));
    return exitCodeFor(report.status, booleanOption(input.values, 'strict'));
  },
};

function exitCodeFor(status: HealthStatus, strict: boolean): number {
  if (status === 'ok') return ExitCode.ok;
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

async function fetchHealth(url: string, timeoutMs: number): Promise<HealthReport> {
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/json' } });
  const body = await response.text();
  if (body.length > healthResponseBytesMax) throw new BadResponseError(`answer larger than ${healthResponseBytesMax} bytes`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new BadResponseError(`HTTP ${response.status}, not JSON: is this a StreamBus admin address?`);
  }
  if (!isHealthReport(parsed)) throw new BadResponseError(`HTTP ${response.status}, not a /health document: is this a StreamBus admin address?`);
  return parsed;
}

function isHealthReport(value: unknown): value is HealthReport {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  return (
    (record['status'] === 'ok' || record['status'] === 'degraded' || record['status'] === 'down') &&
    typeof record['version'] === 'string' &&
    typeof record['uptime_seconds'] === 'number' &&
    typeof record['broker_id'] === 'number' &&
    typeof record['components'] === 'object' &&
    record['components'] !== null
  );
}

function describeFetchError(error: unknown): string {
  if (error instanceof Error && error.name === 'TimeoutError') return 'no answer in time';
  const code = errorCode(error);
  if (code === 'ECONNREFUSED') return 'connection refused: is the broker running, and is this its admin address?';
  if (error instanceof Error) return error.message;
  return String(error);
}

function formatReport(report: HealthReport): string {
  const components = Object.entries(report.components) as Array<[string, ComponentHealth]>;
  const header = `broker ${report.broker_id}: ${report.status}, ${report.ready ? 'ready' : 'not ready'} (version ${report.version}, up ${formatUptime(report.uptime_seconds)})\n`;
  if (components.length === 0) return header;
  return header + formatTable(['COMPONENT', 'STATUS', 'DETAIL'], components.map(([name, component]) => [name, component.status, component.detail]));
}
