/** Runs a client verb: builds the client, runs the operation, closes it, reports failures. */
import type { CliClient } from '../client.js';
import type { CommandInput } from '../command.js';
import { booleanOption, bootstrapOption, durationOption } from '../command.js';
import { operationTimeoutMsDefault } from '../constants.js';
import { errorCode, exitCodeForError } from '../exit-codes.js';
import { jsonLine } from '../format.js';
import { rethrowBug } from '../../bugs.js';

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
  const client = await input.deps.clientFactory({ bootstrap, timeoutMs });
  try {
    const work = operation({ client, json, timeoutMs, out: input.deps.io.stdout });
    return bounded ? await withDeadline(work, timeoutMs + deadlineGraceMs, verb) : await work;
  } catch (error: unknown) {
    rethrowBug(error);
    reportFailure(input, verb, json, error);
    return exitCodeForError(error);
  } finally {
    await client.close().catch(rethrowBug);
  }
}

/** One line on stderr: human, or JSON with the stable code when --json. */
export function reportFailure(input: CommandInput, verb: string, json: boolean, error: unknown): void {
  const code = errorCode(error) ?? 'FAILED';
  const message = error instanceof Error ? error.message : String(error);
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
