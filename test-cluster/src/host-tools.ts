/**
 * The host commands the real-network mode runs (ip, iptables, tc, mount), each with a bounded
 * time, and the preflight that says in one line what this machine lacks to run it.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** No host command of this mode takes longer than this on an idle machine; a hung one is killed. */
export const hostCommandMsMax = 15_000;

export class HostCommandError extends Error {
  readonly code = 'HOST_COMMAND_FAILED' as const;
}

/** Runs `command args` and resolves its stdout; rejects with the command line and its stderr. */
export function runHost(
  command: string,
  args: readonly string[],
  options: { readonly input?: string } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      command,
      args,
      { timeout: hostCommandMsMax, maxBuffer: 4 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error !== null) {
          reject(new HostCommandError(`${command} ${args.join(' ')}: ${stderr.trim() || error.message}`));
          return;
        }
        resolve(stdout);
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

/** The synchronous form, for teardown from signal and exit handlers. Never throws; returns whether it succeeded. */
export function runHostSync(command: string, args: readonly string[]): boolean {
  try {
    execFileSync(command, args, { timeout: hostCommandMsMax, stdio: ['ignore', 'ignore', 'ignore'] });
    return true;
  } catch {
    return false;
  }
}

/** Runs `command args` inside network namespace `namespace`. */
export function inNamespace(
  namespace: string,
  command: string,
  args: readonly string[],
  options: { readonly input?: string } = {},
): Promise<string> {
  return runHost('ip', ['netns', 'exec', namespace, command, ...args], options);
}

/** Candidate locations of libfaketime's multithreaded variant (Debian and Ubuntu multiarch, others). */
const faketimeLibraryPaths = [
  '/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1',
  '/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1',
  '/usr/lib/faketime/libfaketimeMT.so.1',
  '/usr/local/lib/faketime/libfaketimeMT.so.1',
];

/** libfaketime's multithreaded library (brokers are multithreaded: libuv's pool runs LevelDB), or null. */
export function faketimeLibrary(): string | null {
  return faketimeLibraryPaths.find((path) => existsSync(path)) ?? null;
}

function hasCommand(command: string): boolean {
  return runHostSync('sh', ['-c', `command -v ${command}`]);
}

/**
 * What this machine lacks for the real-network mode, one reason a line; empty when it can run.
 * `clock`: libfaketime is needed too.
 */
export function realNetworkPreflight(options: { readonly clock?: boolean } = {}): string[] {
  const missing: string[] = [];
  if (process.platform !== 'linux') return [`network namespaces need Linux; this is ${process.platform}`];
  if (process.getuid?.() !== 0)
    missing.push(`root is needed (ip netns, iptables, tc, mount); running as uid ${String(process.getuid?.())}`);
  for (const command of ['ip', 'iptables', 'tc', 'mount', 'umount', 'unshare']) {
    if (!hasCommand(command)) missing.push(`${command} is not installed (run .ci/setup-host.sh as root)`);
  }
  if (options.clock !== false && faketimeLibrary() === null)
    missing.push(`libfaketime is not installed (apt-get install -y faketime, or run .ci/setup-host.sh)`);
  if (missing.length === 0 && !runHostSync('ip', ['netns', 'list']))
    missing.push('ip netns does not work here (no network namespace support?)');
  return missing;
}
