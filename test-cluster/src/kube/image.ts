/**
 * The broker image as the Dockerfile's runtime stage defines it, for running its container
 * without a container engine: ENTRYPOINT, CMD, ENV, USER, WORKDIR, and what it adds to the
 * filesystem (the directories of `mkdir -p`, the links of `ln -s`). The image's /app holds the
 * built workspace; here the repository itself (built) stands in for it.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface ImageConfig {
  readonly entrypoint: readonly string[];
  readonly cmd: readonly string[];
  /** The container's starting environment: the base image's, then the Dockerfile's ENV lines. */
  readonly env: Readonly<Record<string, string>>;
  /** USER uid:gid, or null (root). */
  readonly user: { readonly uid: number; readonly gid: number } | null;
  readonly workdir: string;
  /** Directories the image creates (`mkdir -p A B`). */
  readonly dirs: readonly string[];
  /** Symbolic links the image creates (`ln -s TARGET LINK`). */
  readonly links: ReadonlyArray<{ readonly target: string; readonly link: string }>;
}

/** The environment of the base image (node:20-bookworm-slim): Docker's default PATH and Node's version. */
const baseImageEnv: Readonly<Record<string, string>> = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  NODE_VERSION: process.versions.node,
};

/** The repository root (this file is src/kube/image.ts or dist/kube/image.js of test-cluster). */
export function repoRoot(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
}

export class DockerfileError extends Error {
  readonly code = 'DOCKERFILE_UNSUPPORTED' as const;
}

/** Reads the last stage of `path` (default: the repository's Dockerfile). */
export function imageFromDockerfile(path = join(repoRoot(), 'Dockerfile')): ImageConfig {
  const instructions = logicalLines(readFileSync(path, 'utf8'));
  const lastFrom = instructions.map((line) => /^FROM\s/i.test(line)).lastIndexOf(true);
  if (lastFrom < 0) throw new DockerfileError(`${path} has no FROM`);
  let entrypoint: readonly string[] = [];
  let cmd: readonly string[] = [];
  const env: Record<string, string> = { ...baseImageEnv };
  let user: ImageConfig['user'] = null;
  let workdir = '/';
  const dirs: string[] = [];
  const links: Array<{ target: string; link: string }> = [];
  for (const line of instructions.slice(lastFrom + 1)) {
    const match = /^(\w+)\s+([\s\S]*)$/.exec(line);
    if (match === null) continue;
    const keyword = (match[1] ?? '').toUpperCase();
    const rest = (match[2] ?? '').trim();
    if (keyword === 'ENTRYPOINT') entrypoint = execForm(rest, path);
    else if (keyword === 'CMD') cmd = execForm(rest, path);
    else if (keyword === 'ENV') Object.assign(env, envPairs(rest));
    else if (keyword === 'WORKDIR') workdir = rest;
    else if (keyword === 'USER') user = numericUser(rest, path);
    else if (keyword === 'RUN') {
      for (const command of rest.split(/\s*&&\s*/)) {
        const words = command.trim().split(/\s+/);
        if (words[0] === 'mkdir' && words[1] === '-p') dirs.push(...words.slice(2));
        if (words[0] === 'ln' && words[1] === '-s' && words.length === 4)
          links.push({ target: words[2] ?? '', link: words[3] ?? '' });
      }
    }
  }
  if (entrypoint.length === 0) throw new DockerfileError(`${path}: the last stage has no ENTRYPOINT in exec form`);
  return { entrypoint, cmd, env, user, workdir, dirs, links };
}

/** Instructions with their backslash continuations joined; comments and blank lines dropped. */
function logicalLines(text: string): string[] {
  const lines: string[] = [];
  let current = '';
  for (const raw of text.split('\n')) {
    if (current === '' && /^\s*(#|$)/.test(raw)) continue;
    if (raw.endsWith('\\')) {
      current += `${raw.slice(0, -1)} `;
      continue;
    }
    lines.push(current + raw);
    current = '';
  }
  if (current !== '') lines.push(current);
  return lines;
}

function execForm(text: string, path: string): readonly string[] {
  const parsed: unknown = JSON.parse(text);
  if (!Array.isArray(parsed) || !parsed.every((item) => typeof item === 'string'))
    throw new DockerfileError(`${path}: ${text} is not the exec form ["executable", "arg", ...]`);
  return parsed;
}

function envPairs(text: string): Record<string, string> {
  const pairs: Record<string, string> = {};
  const legacy = /^(\w+)\s+(.*)$/.exec(text);
  if (legacy !== null && !text.includes('=')) {
    pairs[legacy[1] ?? ''] = legacy[2] ?? '';
    return pairs;
  }
  for (const match of text.matchAll(/(\w+)=("([^"]*)"|\S*)/g)) pairs[match[1] ?? ''] = match[3] ?? match[2] ?? '';
  return pairs;
}

function numericUser(text: string, path: string): { uid: number; gid: number } {
  const match = /^(\d+)(?::(\d+))?$/.exec(text);
  if (match === null) throw new DockerfileError(`${path}: USER ${text} must be numeric (uid[:gid]) to run here`);
  const uid = Number(match[1]);
  return { uid, gid: match[2] === undefined ? uid : Number(match[2]) };
}
