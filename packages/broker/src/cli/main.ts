#!/usr/bin/env node
/**
 * The `streambus` executable: real process I/O and signals around `runCli`, plus the seams to
 * the broker core, the storage verifier and the client SDK, each imported only by the verbs that
 * use it.
 */
import { createInterface } from 'node:readline';
import type { CliDeps, CliIo } from './command.js';
import { ExitCode } from './exit-codes.js';
import { runCli } from './run.js';

/** Exit code after a second Ctrl-C / SIGTERM: the shell convention 128 + SIGINT. */
const forcedExitCode = 130;
/** How long a finished command may take to exit by itself before it is made to. */
const exitGraceMs = 200;

/**
 * Each seam loads its module on first use, so that `--version` or `config dump` never load gRPC
 * or the native database binding.
 */
const seams: Omit<CliDeps, 'io'> = {
  startBroker: async (context) => (await import('../server/start.js')).startBroker(context),
  verifyWal: async (dataDir) => (await import('./storage-adapter.js')).verifyWalWithStorage(dataDir),
  clientFactory: async (options) => (await import('./client-adapter.js')).createSdkClient(options),
};

/**
 * Reads a line typed at the terminal without echoing it (raw mode, one key at a time); undefined
 * when stdin is not a terminal. Ctrl-C aborts the command like a signal would.
 */
function readSecret(prompt: string): Promise<string | undefined> {
  const stdin = process.stdin;
  if (!stdin.isTTY) return Promise.resolve(undefined);
  process.stderr.write(prompt);
  return new Promise((resolve) => {
    let typed = '';
    const finish = (value: string | undefined): void => {
      stdin.removeListener('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
      resolve(value);
    };
    const onData = (chunk: Buffer): void => {
      for (const char of chunk.toString('utf8')) {
        if (char === '\r' || char === '\n') return finish(typed);
        if (char === '\u0003') {
          finish(undefined);
          process.exit(forcedExitCode);
        }
        if (char === '\u007f' || char === '\b') typed = typed.slice(0, -1);
        else typed += char;
      }
    };
    stdin.setRawMode(true);
    stdin.resume();
    stdin.on('data', onData);
  });
}

/**
 * grpc-js passes the host dialled as the TLS server name even when it is an IP address, and Node
 * warns about that (DEP0123) on stderr, where scripts read the command's errors. The certificate
 * is still checked against the IP address; only this one warning is dropped.
 */
function dropIpServernameWarning(): void {
  const emitWarning = process.emitWarning.bind(process) as (...args: unknown[]) => void;
  process.emitWarning = (...args: unknown[]) => {
    const [warning, second, third] = args;
    const code =
      typeof second === 'object' && second !== null && 'code' in second ? (second as { code?: unknown }).code : third;
    if (code === 'DEP0123' || (warning instanceof Error && (warning as NodeJS.ErrnoException).code === 'DEP0123'))
      return;
    emitWarning(...args);
  };
}

async function main(): Promise<void> {
  dropIpServernameWarning();
  // Pessimistic until the verb returns: if the event loop drains while an operation is still
  // pending (a call nothing keeps alive), scripts see "unavailable" instead of Node's exit 13.
  let finished = false;
  process.exitCode = ExitCode.unavailable;
  process.once('beforeExit', () => {
    if (!finished) process.stderr.write('streambus: the operation stalled without an answer\n');
  });
  const controller = new AbortController();
  let signalsSeen = 0;
  const onSignal = (): void => {
    signalsSeen++;
    if (signalsSeen > 1) process.exit(forcedExitCode);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // `streambus topic list | head` closes our stdout early: that is not an error.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });

  const io: CliIo = {
    stdout: (text) => void process.stdout.write(text),
    stderr: (text) => void process.stderr.write(text),
    env: process.env,
    stdinLines: () => createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY }),
    signal: controller.signal,
    readSecret,
  };
  const argv = process.argv.slice(2);
  const deps: CliDeps = { io, ...seams };
  const exitCode = await runCli(argv, deps);
  finished = true;
  process.exitCode = exitCode;
  // Once the verb is done, what is left must not keep the command alive: a server's
  // collaborators may leave handles behind, and a client verb's closed channel may still be
  // connecting to an unreachable broker (the kernel retries a SYN for about 2 minutes and
  // grpc-js cannot abort it). Output is written synchronously, so nothing is lost.
  setTimeout(() => process.exit(exitCode), exitGraceMs).unref();
  process.removeListener('SIGINT', onSignal);
  process.removeListener('SIGTERM', onSignal);
}

void main();
