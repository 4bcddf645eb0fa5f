#!/usr/bin/env node
// `npm run chart:template [-- --set KEY=VALUE ...]`: renders charts/streambus like
// `helm template streambus charts/streambus`, with tools/chart-render (Helm's template engine
// rebuilt from Debian's Go packages, since the helm binary cannot be installed here).
//
// The Go program is built on first use into node_modules/.cache/chart-render/, keyed by a hash
// of its source and of `go version`, so an edit rebuilds it and an unchanged tree does not.
// Without arguments naming a chart it renders release "streambus" of charts/streambus; any other
// arguments go to chart-render unchanged (`--lint`, `-f FILE`, `-s templates/X.yaml`, ...).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const toolDir = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(toolDir, '..', '..');
const cacheDir = join(repoRoot, 'node_modules', '.cache', 'chart-render');
/** Debian's Go libraries (golang-github-masterminds-sprig-dev and friends) live here. */
const debianGopath = '/usr/share/gocode';
/** Flags of chart-render that take a value: what follows them is not a positional argument. */
const valueFlags = new Set([
  '-f',
  '--values',
  '--set',
  '--set-string',
  '-n',
  '--namespace',
  '-s',
  '--show-only',
  '--kube-version',
  '-a',
  '--api-versions',
  '--release-name',
]);

function fail(message) {
  process.stderr.write(`chart-render: ${message}\n`);
  process.exit(2);
}

function goEnv() {
  return {
    ...process.env,
    GO111MODULE: 'off',
    GOPATH: debianGopath,
    GOFLAGS: '',
    GOCACHE: join(cacheDir, 'go-build'),
  };
}

/** Builds the binary if this source and toolchain have not been built yet; returns its path. */
export function chartRenderBinary() {
  const version = spawnSync('go', ['version'], { encoding: 'utf8', env: goEnv() });
  if (version.error !== undefined || version.status !== 0) {
    fail(
      'the Go toolchain is missing; run `bash .ci/setup-host.sh` as root (it installs golang-go and the sprig, yaml and gojsonschema libraries)',
    );
  }
  const hash = createHash('sha256')
    .update(readFileSync(join(toolDir, 'main.go')))
    .update(version.stdout)
    .digest('hex')
    .slice(0, 16);
  const binary = join(cacheDir, `chart-render-${hash}`);
  if (existsSync(binary)) return binary;
  mkdirSync(cacheDir, { recursive: true });
  const partial = `${binary}.${process.pid}.tmp`;
  const build = spawnSync('go', ['build', '-o', partial, '.'], { cwd: toolDir, encoding: 'utf8', env: goEnv() });
  if (build.status !== 0) {
    const missing = /cannot find package "([^"]+)"/.exec(build.stderr ?? '');
    const hint = missing === null ? '' : `; ${missing[1]} is missing: run \`bash .ci/setup-host.sh\` as root`;
    fail(`go build failed${hint}\n${build.stderr ?? ''}`);
  }
  // Two concurrent first runs both build; the rename makes either result the one used.
  renameSync(partial, binary);
  return binary;
}

function hasPositional(args) {
  for (let index = 0; index < args.length; index++) {
    const arg = args[index];
    if (!arg.startsWith('-')) return true;
    if (valueFlags.has(arg)) index++;
  }
  return false;
}

function main() {
  const args = process.argv.slice(2);
  const chartDir = relative(process.cwd(), join(repoRoot, 'charts', 'streambus')) || '.';
  const fullArgs = hasPositional(args) ? args : ['streambus', chartDir, ...args];
  const result = spawnSync(chartRenderBinary(), fullArgs, { stdio: 'inherit' });
  if (result.error !== undefined) fail(String(result.error));
  process.exit(result.status ?? 1);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) main();
