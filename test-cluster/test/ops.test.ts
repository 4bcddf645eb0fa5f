/**
 * ops/ against real broker processes: the scripts (e2e-health-check.sh, preflight-check.sh) on a
 * running 3-broker cluster, healthy and with a broker down; the systemd unit, verified by
 * systemd-analyze and its ExecStartPre/ExecStart command lines run for real; and every
 * `streambus` command of the runbooks and READMEs checked against the CLI's own --help (verb and
 * flags), commands still being built marked `# pending`.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, mkdir, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePorts } from '@streambus/broker/testing';
import { useCluster } from './helpers.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const opsDir = join(repoRoot, 'ops');
const launcher = join(repoRoot, 'packages', 'broker', 'bin', 'streambus.js');
/** Scripts run several CLI processes one after another (each about 0.5 s to start on 2 shared cores). */
const scriptTimeoutMs = 180_000;

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function run(
  command: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  timeoutMs = scriptTimeoutMs,
): Promise<Run> {
  return new Promise((resolve) => {
    execFile(command, args, { env, timeout: timeoutMs, maxBuffer: 8 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 124;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Lines of a script's report that start with a mark. */
function marked(output: string, mark: '✓' | '✗' | '!'): string[] {
  return output.split('\n').filter((line) => line.startsWith(`${mark} `));
}

/** Every fenced code block of a Markdown text. */
function codeBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```[a-z]*\n([\s\S]*?)^```/gm)].map((match) => match[1] ?? '');
}

/** The `streambus ...` commands of a shell line (at command position: line start, after |, &&, ;, $(, until, do, --). */
function streambusCommands(line: string): string[] {
  const code = line.replace(/\s#.*$/, '');
  return code
    .split(/\s*(?:\|\||&&|\||;|\$\(|\buntil\b|\bdo\b|\bthen\b|\s--\s|\bsudo(?: -u \S+)?\s)\s*/)
    .map((segment) => segment.trim())
    .filter((segment) => segment.startsWith('streambus '))
    .map((segment) => segment.replace(/\)+$/, ''));
}

describe('ops/ against real brokers', () => {
  const setup = useCluster('ops');
  let dir = '';
  let env: NodeJS.ProcessEnv = {};

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'streambus-ops-'));
    // `streambus` on PATH, as after installing the package (the image links the same launcher).
    await mkdir(join(dir, 'bin'));
    await symlink(launcher, join(dir, 'bin', 'streambus'));
    env = { PATH: `${join(dir, 'bin')}:${process.env['PATH'] ?? ''}`, HOME: dir, LANG: 'C.UTF-8' };
  });

  afterAll(async () => {
    if (dir !== '') await rm(dir, { recursive: true, force: true });
  });

  const clusterEnv = (): NodeJS.ProcessEnv => ({
    ...env,
    STREAMBUS_BOOTSTRAP: setup.cluster.bootstrap,
    STREAMBUS_ADMIN_ADDRESSES: setup.cluster.brokers.map((broker) => broker.admin).join(','),
  });

  it('e2e-health-check.sh: every check passes on a healthy cluster, twice (the topic is made once)', async () => {
    // Healthy first: the controller creates __consumer_offsets just after the start, and its 12
    // partitions are under-replicated until their followers catch up (a second or two), which the
    // script rightly reports as DEGRADED.
    const settled = Date.now() + 60_000;
    while (Date.now() < settled) {
      const status = await run(launcher, ['cluster', 'status'], clusterEnv(), 30_000);
      const partitions = Number(/ (\d+) partitions$/m.exec(status.stdout)?.[1] ?? 0);
      if (partitions >= 12 && /^under-replicated partitions: none$/m.test(status.stdout)) break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    for (const attempt of [1, 2]) {
      const result = await run(join(opsDir, 'scripts', 'e2e-health-check.sh'), [], clusterEnv());
      expect(result.stdout, `attempt ${attempt}`).toContain('Status: HEALTHY ✓');
      expect(marked(result.stdout, '✗')).toEqual([]);
      // Controller, brokers, offline, under-replicated, ready and metrics x 3, produce, consume.
      expect(marked(result.stdout, '✓')).toHaveLength(4 + 2 * 3 + 2);
      expect(result.stdout).toMatch(/^✓ Brokers alive \(3 of 3 expected\)$/m);
      expect(result.stdout).toMatch(/^✓ Produce successful \(partition 0 offset \d+\)$/m);
      expect(result.code).toBe(0);
    }
  });

  it('e2e-health-check.sh: a broker down is found (brokers, readiness, under-replication), exit 1; back, healthy again', async () => {
    const down = setup.cluster.brokers[2]!;
    expect(await setup.cluster.stop(down.id)).toBe(0);
    try {
      // The controller takes a moment to see the replica fall out of sync; the script reports what it says.
      const seen = Date.now() + 60_000;
      while (Date.now() < seen) {
        const status = await run(launcher, ['cluster', 'status'], clusterEnv(), 30_000);
        if (/^under-replicated partitions: (?!none)/m.test(status.stdout)) break;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
      const result = await run(join(opsDir, 'scripts', 'e2e-health-check.sh'), [], {
        ...clusterEnv(),
        HEALTH_CHECK_TIMEOUT: '5s',
      });
      expect(result.stdout).toContain('Status: DEGRADED ✗');
      const failures = marked(result.stdout, '✗');
      expect(failures).toContain(`✗ Not enough brokers alive (expected ≥3, got 2; down: ${down.id})`);
      expect(failures.some((line) => line.startsWith(`✗ Broker ${down.admin} not ready:`))).toBe(true);
      // The health-check topic among them (with the __consumer_offsets partitions the broker held).
      expect(
        failures.some(
          (line) => line.startsWith('✗ Under-replicated partitions: ') && line.includes('streambus-health-check'),
        ),
      ).toBe(true);
      // Two brokers still make a quorum: the produce/consume round trip works.
      expect(result.stdout).toMatch(/^✓ Consume successful/m);
      expect(result.code).toBe(1);
    } finally {
      await setup.cluster.restart(down.id, 60_000);
    }
    const deadline = Date.now() + 60_000;
    let last: Run = { code: -1, stdout: '', stderr: '' };
    while (Date.now() < deadline) {
      last = await run(join(opsDir, 'scripts', 'e2e-health-check.sh'), [], clusterEnv());
      if (last.code === 0) break;
    }
    expect(last.stdout).toContain('Status: HEALTHY ✓');
  });

  it('preflight-check.sh: a new broker host with a valid config, free ports and reachable peers is ready', async () => {
    const [listenPort, adminPort] = await freePorts(2);
    const peers = [
      ...setup.cluster.brokers.map((broker) => `${broker.id}=${broker.listen}`),
      `4=127.0.0.1:${listenPort}`,
    ].join(',');
    const config = join(dir, 'broker-4.yaml');
    await writeFile(
      config,
      `server:\n  broker_id: 4\n  listen: 127.0.0.1:${listenPort}\n  admin_listen: 127.0.0.1:${adminPort}\n  data_dir: ${join(dir, 'data-4')}\n  peers: "${peers}"\n`,
    );
    await mkdir(join(dir, 'data-4'));
    const result = await run(join(opsDir, 'scripts', 'preflight-check.sh'), [], { ...env, STREAMBUS_CONFIG: config });
    expect(marked(result.stdout, '✗')).toEqual([]);
    expect(result.stdout).toMatch(/^✓ Configuration valid \(broker 4, listen 127\.0\.0\.1:\d+/m);
    expect(result.stdout).toContain('✓ storage.wal_sync: always');
    for (const broker of setup.cluster.brokers)
      expect(result.stdout).toContain(`✓ Peer ${broker.id} reachable at ${broker.listen}`);
    expect(result.stdout).toContain(`✓ Port ${listenPort} (127.0.0.1:${listenPort}) is free`);
    expect(result.stdout).toContain('Preflight: READY ✓');
    expect(result.code).toBe(0);
  });

  it('preflight-check.sh: ports in use, an unresolvable peer, a relaxed wal_sync and a refused config are found', async () => {
    const running = setup.cluster.brokers[0]!;
    const config = join(dir, 'broker-1.yaml');
    const peers = `${setup.cluster.peersFlag},4=no-such-host.invalid:9092`;
    await writeFile(
      config,
      `server:\n  broker_id: ${running.id}\n  listen: ${running.listen}\n  admin_listen: ${running.admin}\n  data_dir: ${join(dir, 'data-1')}\n  peers: "${peers}"\nstorage:\n  wal_sync: periodic\n`,
    );
    const result = await run(join(opsDir, 'scripts', 'preflight-check.sh'), [], { ...env, STREAMBUS_CONFIG: config });
    const failures = marked(result.stdout, '✗');
    const port = (address: string): string => address.split(':').at(-1) ?? '';
    expect(
      failures.some((line) => line.startsWith(`✗ Port ${port(running.listen)} (${running.listen}) is in use`)),
    ).toBe(true);
    expect(failures.some((line) => line.startsWith(`✗ Port ${port(running.admin)} (${running.admin}) is in use`))).toBe(
      true,
    );
    expect(failures).toContain('✗ Peer 4: no-such-host.invalid does not resolve');
    expect(marked(result.stdout, '!').some((line) => line.startsWith('! storage.wal_sync: periodic'))).toBe(true);
    expect(result.stdout).toContain('Preflight: NOT READY ✗');
    expect(result.code).toBe(1);

    const bad = join(dir, 'bad.yaml');
    await writeFile(bad, 'storage:\n  wal_sink: always\n');
    const refused = await run(join(opsDir, 'scripts', 'preflight-check.sh'), [], { ...env, STREAMBUS_CONFIG: bad });
    expect(refused.stdout).toContain('✗ Configuration refused:');
    expect(refused.stdout).toContain(
      `    config error: storage.wal_sink: unknown key (${bad} line 2); did you mean storage.wal_sync?`,
    );
    expect(refused.code).toBe(1);
  });

  it('the systemd unit verifies, and its ExecStartPre and ExecStart run a broker that stops cleanly on SIGTERM', async () => {
    const unitText = await readFile(join(opsDir, 'systemd', 'streambus.service'), 'utf8');
    // systemd-analyze checks the unit's syntax and that its executables exist: point them at the launcher.
    const unitFile = join(dir, 'streambus.service');
    await writeFile(unitFile, unitText.replaceAll('/usr/local/bin/streambus', launcher));
    const verify = await run('systemd-analyze', ['verify', unitFile], env, 60_000);
    expect(verify.stderr).toBe('');
    expect(verify.code).toBe(0);

    const directive = (name: string): string[] => {
      const joined = unitText.replace(/\\\n\s*/g, '');
      const line = new RegExp(`^${name}=(.*)$`, 'm').exec(joined)?.[1];
      expect(line, name).toBeDefined();
      return line!.trim().split(/\s+/);
    };
    const [listenPort, adminPort] = await freePorts(2);
    const configFile = join(dir, 'server.yaml');
    const dataDir = join(dir, 'var-lib-streambus');
    await writeFile(
      configFile,
      `server:\n  broker_id: 1\n  listen: 127.0.0.1:${listenPort}\n  admin_listen: 127.0.0.1:${adminPort}\n  log_level: warn\n`,
    );
    const local = (words: readonly string[]): string[] =>
      words.map((word) =>
        word === '/etc/streambus/server.yaml' ? configFile : word === '/var/lib/streambus' ? dataDir : word,
      );
    const pre = local(directive('ExecStartPre'));
    expect(pre.slice(0, 3)).toEqual(['/usr/local/bin/streambus', 'server', '--validate-config']);
    const validated = await run(launcher, pre.slice(1), env, 60_000);
    expect(validated.stdout).toMatch(/^configuration valid: broker 1, listen 127\.0\.0\.1:\d+ /);
    expect(validated.code).toBe(0);

    const start = local(directive('ExecStart'));
    expect(start.slice(0, 2)).toEqual(['/usr/local/bin/streambus', 'server']);
    const stopSeconds = Number(directive('TimeoutStopSec')[0]);
    const broker = spawn(launcher, start.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const exited = new Promise<number | null>((resolve) => broker.once('exit', (code) => resolve(code)));
    try {
      const deadline = Date.now() + 60_000;
      let ready = false;
      while (!ready && Date.now() < deadline) {
        ready =
          (await run(launcher, ['health', '--broker', `127.0.0.1:${adminPort}`, '--ready'], env, 30_000)).code === 0;
        if (!ready) await new Promise((resolve) => setTimeout(resolve, 250));
      }
      expect(ready).toBe(true);
      expect((await readdir(dataDir)).length).toBeGreaterThan(0);
      broker.kill('SIGTERM');
      const code = await Promise.race([
        exited,
        new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), stopSeconds * 1000)),
      ]);
      expect(code).toBe(0);
    } finally {
      if (broker.exitCode === null) broker.kill('SIGKILL');
    }
  });

  it("the runbooks' and READMEs' streambus commands are real verbs with real flags; pending ones are marked", async () => {
    const help = await run(launcher, ['--help'], env, 30_000);
    const verbs = [...help.stdout.matchAll(/^ {2}([a-z]+(?: [a-z]+)?) {2,}\S/gm)].map((match) => match[1] ?? '');
    expect(verbs).toContain('cluster status');
    const flagsOf = new Map<string, Set<string>>();
    const flags = async (verb: string): Promise<Set<string>> => {
      const known = flagsOf.get(verb);
      if (known !== undefined) return known;
      const text = (await run(launcher, [...verb.split(' '), '--help'], env, 30_000)).stdout;
      const found = new Set([...text.matchAll(/(?:^|[\s,[])(--?[a-zA-Z][a-z-]*)/g)].map((match) => match[1] ?? ''));
      flagsOf.set(verb, found);
      return found;
    };
    const files = [
      ...(await readdir(join(opsDir, 'runbooks'))).map((name) => join(opsDir, 'runbooks', name)),
      join(opsDir, 'README.md'),
      join(opsDir, 'systemd', 'README.md'),
    ].filter((path) => path.endsWith('.md'));
    const problems: string[] = [];
    let checked = 0;
    for (const file of files) {
      for (const block of codeBlocks(await readFile(file, 'utf8'))) {
        for (const line of block.split('\n')) {
          const pending = /#\s*pending\b/.test(line);
          for (const command of streambusCommands(line)) {
            checked++;
            const words = command.split(/\s+/).slice(1);
            const verb = verbs
              .filter((candidate) => `${words.join(' ')} `.startsWith(`${candidate} `))
              .sort((a, b) => b.length - a.length)[0];
            const where = `${file.slice(repoRoot.length)}: ${command}`;
            if (verb === undefined) {
              if (words[0] === '--version' || words[0] === '--help') continue;
              if (!pending) problems.push(`${where}: no such verb (mark it "# pending" if it is being built)`);
              continue;
            }
            if (pending) problems.push(`${where}: "${verb}" exists now: remove the "# pending" mark`);
            const known = await flags(verb);
            for (const word of words.slice(verb.split(' ').length)) {
              const flag = /^(--?[a-zA-Z][a-z-]*)(=.*)?$/.exec(word)?.[1];
              if (flag !== undefined && !known.has(flag)) problems.push(`${where}: ${verb} has no flag ${flag}`);
            }
          }
        }
      }
    }
    expect(problems).toEqual([]);
    expect(checked).toBeGreaterThan(30);
  });
});
