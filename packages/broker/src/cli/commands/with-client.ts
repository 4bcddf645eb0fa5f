/** Runs a client verb: builds the client, runs the operation, closes it, reports failures. */
import type { CliClient } from '../client.js';
import type { CommandInput } from '../command.js';
import { NotAvailableError, booleanOption, bootstrapOption, durationOption } from '../command.js';
import { operationTimeoutMsDefault } from '../constants.js';
import { errorCode, exitCodeForError } from '../exit-codes.js';
import { jsonLine } from '../format.js';

export interface ClientRun {
  readonly client: CliClient;
  readonly json: boolean;
  readonly timeoutMs: number;
  readonly out: (text: string) => void;
}

export async function withClient(input: CommandInput, verb: string, operation: (run: ClientRun) => Promise<number>): Promise<number> {
  const json = booleanOption(input.values, 'json');
  const bootstrap = bootstrapOption(input.values, input.deps.io.env);
  const timeoutMs = durationOption(input.values, 'timeout', operationTimeoutMsDefault);
  const factory = input.deps.clientFactory;
  if (factory === undefined) throw new NotAvailableError('the client SDK is not available in this build yet');
  const client = factory({ bootstrap, timeoutMs });
  try {
    return await operation({ client, json, timeoutMs, out: input.deps.io.stdout });
  } catch (error: unknown) {
    reportFailure(input, verb, json, error);
    return exitCodeForError(error);
  } finally {
    await client.close().catch(() => undefined);
  }
}

/** One line on stderr: human, or JSON with the stable code when --json. */
export function reportFailure(input: CommandInput, verb: string, json: boolean, error: unknown): void {
  const code = errorCode(error) ?? 'FAILED';
  const message = error instanceof Error ? error.message : String(error);
  if (json) input.deps.io.stderr(jsonLine({ error: { code, message } }));
  else input.deps.io.stderr(`streambus ${verb}: ${message} (${code})\n`);
}
