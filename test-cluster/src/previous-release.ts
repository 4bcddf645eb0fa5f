/**
 * The previous StreamBus release, built from an earlier commit of this repository for the rolling
 * upgrade: a detached `git worktree` of that commit in a temporary directory, `npm ci`, and a
 * TypeScript build of the broker and what it imports. The worktree is removed (and pruned from
 * the repository's list) when the upgrade is done, unless the caller keeps it.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The release the upgrade starts from: bf01e3f, StreamBus 0.1.0 with maintenance mode (`broker
 * drain`, which a rolling upgrade needs from the version it leaves) and before feature levels.
 * Override with STREAMBUS_UPGRADE_FROM=<commit>.
 */
export const previousReleaseCommit = 'bf01e3f';

/** npm ci and the build of one release take minutes on a shared machine; a hung one is killed. */
const buildStepMsMax = 15 * 60_000;

export interface PreviousRelease {
  readonly commit: string;
  /** Its StreamBus version (packages/broker/src/version.ts of that commit). */
  readonly version: string;
  /** Its built `streambus` entry point. */
  readonly bin: string;
  /** Removes the worktree (a no-op for a directory the caller built). */
  remove(): Promise<void>;
}

export class PreviousReleaseError extends Error {
  readonly code = 'PREVIOUS_RELEASE' as const;
}

function run(
  command: string,
  args: readonly string[],
  cwd: string,
  onProgress: (line: string) => void,
): Promise<string> {
  onProgress(`$ ${command} ${args.join(' ')}   (in ${cwd})`);
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      { cwd, timeout: buildStepMsMax, maxBuffer: 64 * 1024 * 1024, env: process.env },
      (error, stdout, stderr) => {
        if (error !== null) {
          const tail = `${stdout}\n${stderr}`.trim().split('\n').slice(-15).join('\n');
          reject(new PreviousReleaseError(`${command} ${args.join(' ')} failed in ${cwd}: ${error.message}\n${tail}`));
          return;
        }
        resolve(stdout);
      },
    );
  });
}

/** The root of the repository this code is in (test-cluster sits beside packages/). */
export function repositoryRoot(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..');
}

async function versionOf(dir: string): Promise<string> {
  const text = await readFile(join(dir, 'packages', 'broker', 'src', 'version.ts'), 'utf8');
  const match = /streambusVersion = '([^']+)'/.exec(text);
  if (match === null) throw new PreviousReleaseError(`no streambusVersion in ${dir}/packages/broker/src/version.ts`);
  return match[1] as string;
}

/**
 * A built previous release: STREAMBUS_UPGRADE_PREVIOUS_DIR when set (a checkout built before,
 * reused as is), else `commit` checked out and built in a new temporary worktree.
 */
export async function buildPreviousRelease(
  commit: string,
  onProgress: (line: string) => void,
): Promise<PreviousRelease> {
  const prebuilt = process.env['STREAMBUS_UPGRADE_PREVIOUS_DIR'];
  if (prebuilt !== undefined && prebuilt !== '') {
    const bin = join(prebuilt, 'packages', 'broker', 'dist', 'cli', 'main.js');
    if (!existsSync(bin)) throw new PreviousReleaseError(`STREAMBUS_UPGRADE_PREVIOUS_DIR ${prebuilt} has no ${bin}`);
    onProgress(`previous release: the build in ${prebuilt} (STREAMBUS_UPGRADE_PREVIOUS_DIR)`);
    return { commit: 'prebuilt', version: await versionOf(prebuilt), bin, remove: () => Promise.resolve() };
  }
  const root = repositoryRoot();
  const resolved = (
    await run('git', ['rev-parse', '--verify', '--quiet', `${commit}^{commit}`], root, onProgress).catch(() => '')
  ).trim();
  if (resolved === '')
    throw new PreviousReleaseError(
      `commit ${commit} is not in this repository (a shallow clone? fetch its history, or set STREAMBUS_UPGRADE_FROM)`,
    );
  const parent = await mkdtemp(join(tmpdir(), 'streambus-previous-'));
  const dir = join(parent, 'streambus');
  const remove = async (): Promise<void> => {
    await run('git', ['worktree', 'remove', '--force', dir], root, onProgress).catch(() => undefined);
    await rm(parent, { recursive: true, force: true });
    await run('git', ['worktree', 'prune'], root, onProgress).catch(() => undefined);
  };
  try {
    await run('git', ['worktree', 'add', '--detach', dir, resolved], root, onProgress);
    await run('npm', ['ci', '--no-audit', '--no-fund'], dir, onProgress);
    // The broker's project references build raft, proto, storage and client as well.
    await run('npx', ['tsc', '-b', 'packages/broker'], dir, onProgress);
    const bin = join(dir, 'packages', 'broker', 'dist', 'cli', 'main.js');
    if (!existsSync(bin)) throw new PreviousReleaseError(`the build of ${commit} has no ${bin}`);
    return { commit: resolved.slice(0, 12), version: await versionOf(dir), bin, remove };
  } catch (error) {
    await remove();
    throw error;
  }
}
