/** The shape of a CLI verb and what it receives; parsing helpers shared by the verbs. */
import { parseHostPort } from '../config/address.js';
import { parseDurationMs } from '../config/units.js';
import type { CliClientFactory } from './client.js';
import { bootstrapAddressesMax, defaultBootstrap } from './constants.js';
import type { StartBroker, VerifyWal } from './seams.js';

/** The process as the CLI sees it; tests pass a fake. */
export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Lines of standard input, without their line ends. */
  readonly stdinLines: () => AsyncIterable<string>;
  /** Aborted when the process is asked to stop (SIGINT, SIGTERM). */
  readonly signal: AbortSignal;
  /**
   * Reads a secret typed at the terminal without echoing it, after printing `prompt` on stderr;
   * undefined when standard input is not a terminal (or absent: tests).
   */
  readonly readSecret?: (prompt: string) => Promise<string | undefined>;
}

export interface CliDeps {
  readonly io: CliIo;
  /** The client SDK (client verbs). */
  readonly clientFactory: CliClientFactory;
  /** The broker core (`server`). */
  readonly startBroker: StartBroker;
  /** The storage verifier (`wal verify`). */
  readonly verifyWal: VerifyWal;
}

/** `multiple` (string options only) collects every occurrence, in order: `--assignment A --assignment B`. */
export type OptionSpec = { readonly type: 'string' | 'boolean'; readonly short?: string; readonly multiple?: boolean };
export type OptionValues = Readonly<Record<string, string | boolean | readonly string[] | undefined>>;

export interface CommandInput {
  readonly values: OptionValues;
  readonly positionals: readonly string[];
  readonly deps: CliDeps;
}

export interface Command {
  /** Words after `streambus`: ['topic', 'create']. */
  readonly path: readonly string[];
  readonly summary: string;
  /** The synopsis after `streambus `, e.g. "topic create NAME [--partitions N]". */
  readonly synopsis: string;
  /** Option lines for --help, already aligned. */
  readonly optionHelp: readonly string[];
  readonly options: Readonly<Record<string, OptionSpec>>;
  readonly positionalsMin: number;
  readonly positionalsMax: number;
  run(input: CommandInput): Promise<number>;
}

/** A wrong invocation: printed with the verb's synopsis; exit code 2. */
export class UsageError extends Error {
  readonly code = 'USAGE' as const;
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export function stringOption(values: OptionValues, name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
}

/** Every value of a `multiple` string option, in the order given; empty when absent. */
export function stringListOption(values: OptionValues, name: string): readonly string[] {
  const value = values[name];
  if (typeof value === 'string') return [value];
  return typeof value === 'object' ? value : [];
}

export function booleanOption(values: OptionValues, name: string): boolean {
  return values[name] === true;
}

/** A whole number option within bounds, or a usage error naming the flag. */
export function integerOption(values: OptionValues, name: string, min: number, max: number): number | undefined {
  const text = stringOption(values, name);
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text)) throw new UsageError(`--${name} must be a whole number, got "${text}"`);
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < min || value > max)
    throw new UsageError(`--${name} must be in ${min}..${max}, got ${text}`);
  return value;
}

export function durationOption(values: OptionValues, name: string, defaultMs: number): number {
  const text = stringOption(values, name);
  if (text === undefined) return defaultMs;
  const parsed = parseDurationMs(text);
  if (!parsed.ok) throw new UsageError(`--${name}: ${parsed.reason} (write e.g. 500ms, 10s, 1m)`);
  if (parsed.value === 0) throw new UsageError(`--${name} must be longer than 0`);
  return parsed.value;
}

/** --bootstrap, else STREAMBUS_BOOTSTRAP, else 127.0.0.1:9092; each address checked. */
export function bootstrapOption(values: OptionValues, env: CliIo['env']): readonly string[] {
  const fromFlag = stringOption(values, 'bootstrap');
  const text = fromFlag ?? env['STREAMBUS_BOOTSTRAP'] ?? defaultBootstrap;
  const source =
    fromFlag !== undefined
      ? '--bootstrap'
      : env['STREAMBUS_BOOTSTRAP'] !== undefined
        ? 'STREAMBUS_BOOTSTRAP'
        : 'the default bootstrap';
  const addresses = text
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
  if (addresses.length === 0) throw new UsageError(`${source} is empty; give HOST:PORT[,HOST:PORT...]`);
  if (addresses.length > bootstrapAddressesMax)
    throw new UsageError(`${source} lists more than ${bootstrapAddressesMax} brokers`);
  for (const address of addresses) {
    const parsed = parseHostPort(address, false);
    if (!parsed.ok) throw new UsageError(`${source}: ${parsed.reason}`);
  }
  return addresses;
}

export const clientOptions: Readonly<Record<string, OptionSpec>> = {
  bootstrap: { type: 'string', short: 'b' },
  json: { type: 'boolean' },
  timeout: { type: 'string' },
  'tls-ca': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'sasl-username': { type: 'string' },
  'sasl-password-file': { type: 'string' },
};

export const clientOptionHelp: readonly string[] = [
  '-b, --bootstrap HOST:PORT[,...]  brokers to contact (default $STREAMBUS_BOOTSTRAP, else 127.0.0.1:9092)',
  '    --json                       machine-readable output, one JSON document per line',
  '    --timeout DURATION           deadline of the operation (default 10s)',
  '    --tls-ca FILE                speak TLS; the CA that signs the brokers (default $STREAMBUS_TLS_CA)',
  '    --tls-cert FILE              client certificate, with --tls-key (default $STREAMBUS_TLS_CERT, _KEY)',
  '    --tls-key FILE               its private key',
  '    --sasl-username NAME         authenticate as NAME with SCRAM-SHA-256 (default $STREAMBUS_SASL_USERNAME)',
  '    --sasl-password-file FILE    its password, first line (default $STREAMBUS_SASL_PASSWORD_FILE, else',
  '                                 $STREAMBUS_SASL_PASSWORD; never on the command line)',
];
