/** Runs a client verb: builds the client, runs the operation, closes it, reports failures. */
import type { CliClient, CliClientOptions } from '../client.js';
import type { CommandInput } from '../command.js';
import { booleanOption, bootstrapOption, durationOption } from '../command.js';
import { operationTimeoutMsDefault } from '../constants.js';
import { errorCode, exitCodeForError } from '../exit-codes.js';
import { jsonLine } from '../format.js';
import { rethrowBug } from '../../bugs.js';
import { securityOptions } from '../security-options.js';

export interface ClientRun {
  readonly client: CliClient;
  readonly json: boolean;
  readonly timeoutMs: number;
  readonly out: (text: string) => void;
}

/** The operation did not finish within --timeout (plus a grace for the SDK's own deadline to fire first). */
export class OperationTimeoutError extends Error {
  readonly code = 'TIMEOUT' as const;
}

/** Room for the SDK to report its own, more precise, deadline error before ours fires. */
const deadlineGraceMs = 1_000;

/**
 * Runs a client verb. `bounded` verbs (all but consume) get a whole-operation deadline of
 * --timeout: retries inside the SDK cannot keep a script waiting past it.
 */
export async function withClient(
  input: CommandInput,
  verb: string,
  operation: (run: ClientRun) => Promise<number>,
  bounded = true,
): Promise<number> {
  const json = booleanOption(input.values, 'json');
  const bootstrap = bootstrapOption(input.values, input.deps.io.env);
  const timeoutMs = durationOption(input.values, 'timeout', operationTimeoutMsDefault);
  const security = await securityOptions(input.values, input.deps.io.env);
  let client: CliClient;
  try {
    // The SDK checks what the files hold (a CA file that is not PEM is INVALID_CONFIG, exit 2).
    client = await input.deps.clientFactory({ bootstrap, timeoutMs, ...security });
  } catch (error: unknown) {
    rethrowBug(error);
    reportFailure(input, verb, json, error);
    return exitCodeForError(error);
  }
  try {
    const work = operation({ client, json, timeoutMs, out: input.deps.io.stdout });
    return bounded ? await withDeadline(work, timeoutMs + deadlineGraceMs, verb) : await work;
  } catch (error: unknown) {
    rethrowBug(error);
    reportFailure(input, verb, json, error, securityHint(error, security));
    return exitCodeForError(error);
  } finally {
    await client.close().catch(rethrowBug);
  }
}

/**
 * What to try when a failure may come from missing security settings: the SDK names its options,
 * the CLI user needs the flags and variables.
 */
export function securityHint(error: unknown, security: Pick<CliClientOptions, 'tls' | 'sasl'>): string | undefined {
  const code = errorCode(error);
  if (code === 'AUTHENTICATION_FAILED' && security.sasl === undefined)
    return 'give --sasl-username NAME and --sasl-password-file FILE (or STREAMBUS_SASL_USERNAME and STREAMBUS_SASL_PASSWORD_FILE or STREAMBUS_SASL_PASSWORD)';
  if (code === 'TLS_HANDSHAKE_FAILED' && security.tls?.ca === undefined)
    return "give the cluster's CA certificate: --tls-ca FILE or STREAMBUS_TLS_CA";
  // A plaintext client's connections to a TLS port are closed: the SDK sees brokers that drop
  // every connection, and gives up as unavailable (a producer at its delivery timeout).
  const unreachable = code === 'BROKER_NOT_AVAILABLE' || code === 'DELIVERY_TIMEOUT' || code === 'REQUEST_TIMED_OUT';
  if (unreachable && security.tls === undefined && String(error).includes('dropped the connection'))
    return 'if the cluster speaks TLS, give its CA: --tls-ca FILE or STREAMBUS_TLS_CA';
  return undefined;
}

/** One line on stderr: human, or JSON with the stable code when --json; `hint` says what to try. */
export function reportFailure(input: CommandInput, verb: string, json: boolean, error: unknown, hint?: string): void {
  const code = errorCode(error) ?? 'FAILED';
  const base = error instanceof Error ? error.message : String(error);
  const message = hint === undefined ? base : `${base}; ${hint}`;
  if (json) input.deps.io.stderr(jsonLine({ error: { code, message } }));
  else input.deps.io.stderr(`streambus ${verb}: ${message} (${code})\n`);
}

async function withDeadline<T>(work: Promise<T>, deadlineMs: number, verb: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(new OperationTimeoutError(`${verb} did not finish within ${deadlineMs}ms; is the cluster reachable?`)),
      deadlineMs,
    );
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
