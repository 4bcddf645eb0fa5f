/** Shared set-up of the real-process tests: a 3-broker cluster in a temporary directory. */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { TestCluster, brokerBinPath } from '../src/index.js';

/**
 * Starts a 3-broker cluster before the file's tests and stops it (by PID) and removes its data
 * after them. Read `.cluster` inside tests.
 */
export function useCluster(name: string): { readonly cluster: TestCluster } {
  const holder: { cluster: TestCluster | undefined; dir: string | undefined } = { cluster: undefined, dir: undefined };
  beforeAll(async () => {
    holder.dir = await mkdtemp(join(tmpdir(), `streambus-${name}-`));
    holder.cluster = await TestCluster.create({ size: 3, dataDir: holder.dir, logLevel: 'warn' });
    await holder.cluster.startAll(60_000);
  }, 90_000);
  afterAll(async () => {
    await holder.cluster?.stopAll();
    if (holder.dir !== undefined) await rm(holder.dir, { recursive: true, force: true });
  });
  return {
    get cluster(): TestCluster {
      if (holder.cluster === undefined) throw new Error('the cluster is not started yet');
      return holder.cluster;
    },
  };
}

/** What one `streambus` CLI process did. */
export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the built `streambus` CLI with `args` (and STREAMBUS_BOOTSTRAP), within `timeoutMs`. */
export function runStreambus(
  args: readonly string[],
  options: {
    bootstrap?: string;
    timeoutMs?: number;
    bin?: string;
    stdin?: string;
    /** More variables (STREAMBUS_TLS_CA, STREAMBUS_SASL_*, ...). */
    env?: Readonly<Record<string, string>>;
  } = {},
): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [options.bin ?? brokerBinPath(), ...args],
      {
        env: {
          PATH: process.env['PATH'] ?? '',
          ...(options.bootstrap === undefined ? {} : { STREAMBUS_BOOTSTRAP: options.bootstrap }),
          ...options.env,
        },
        timeout: options.timeoutMs ?? 60_000,
        maxBuffer: 64 * 1024 * 1024,
      },
      (error, stdout, stderr) =>
        resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stdout, stderr }),
    );
    child.stdin?.end(options.stdin ?? '');
  });
}
