import { spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HealthRegistry } from '../admin/health.js';
import type { AdminServer } from '../admin/server.js';
import { startAdminServer } from '../admin/server.js';
import { streambusVersion } from '../version.js';
import type { CliDeps, CliIo } from './command.js';
import { runCli } from './run.js';
import type { BrokerContext, StartBroker, VerifyWal } from './seams.js';

interface Harness {
  readonly deps: CliDeps;
  readonly stdout: () => string;
  readonly stderr: () => string;
  readonly interrupt: () => void;
}

/** Seams a test did not give: using one is a mistake in the test. */
const absentSeams: Omit<CliDeps, 'io'> = {
  startBroker: () => Promise.reject(new Error('this test gave no startBroker')),
  verifyWal: () => Promise.reject(new Error('this test gave no verifyWal')),
  clientFactory: () => Promise.reject(new Error('this test gave no clientFactory')),
};

function harness(env: Record<string, string> = {}, extra: Partial<Omit<CliDeps, 'io'>> = {}): Harness {
  const out: string[] = [];
  const err: string[] = [];
  const controller = new AbortController();
  const io: CliIo = {
    stdout: (text) => void out.push(text),
    stderr: (text) => void err.push(text),
    env,
    stdinLines: async function* () {},
    signal: controller.signal,
  };
  return {
    deps: { io, ...absentSeams, ...extra },
    stdout: () => out.join(''),
    stderr: () => err.join(''),
    interrupt: () => controller.abort(),
  };
}

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'streambus-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('config dump', () => {
  it('prints the effective config from file, env and flags, origins on request', async () => {
    const file = join(dir, 'server.yaml');
    await writeFile(file, 'server:\n  data_dir: /from/file\nsecurity:\n  auth_enabled: false\n');
    const h = harness({ STREAMBUS_WAL_SYNC: 'periodic' });
    expect(await runCli(['config', 'dump', '--config', file, '--id', '2', '--show-origin'], h.deps)).toBe(0);
    const text = h.stdout();
    expect(text).toContain('broker_id: 2 # flag --id\n');
    expect(text).toContain(`data_dir: /from/file # file ${file}\n`);
    expect(text).toContain('wal_sync: periodic # env STREAMBUS_WAL_SYNC\n');
    expect(text).toContain(`auth_enabled: false # file ${file}\n`);
  });

  it('refuses a key that would change nothing, saying why', async () => {
    const file = join(dir, 'auth.yaml');
    await writeFile(file, 'storage:\n  compaction_policy: size-tiered\n');
    const h = harness();
    expect(await runCli(['config', 'dump', '--config', file], h.deps)).toBe(2);
    expect(h.stderr()).toBe(
      `config error: storage.compaction_policy: not supported (${file} line 2): LevelDB always compacts leveled; there is no policy to choose; remove it\n`,
    );
  });

  it('stops with one line per problem and exit 2', async () => {
    const file = join(dir, 'bad.yaml');
    await writeFile(
      file,
      'storage:\n  wal_sink: always\n  wal_sync_interval: 10\nserver:\n  peers: "1=a:1,2=b:2"\n  broker_id: 3\n',
    );
    const h = harness({ STREAMBUS_WAL_SYNC: 'sometimes' });
    expect(await runCli(['config', 'dump', '--config', file], h.deps)).toBe(2);
    expect(h.stdout()).toBe('');
    expect(h.stderr().trimEnd().split('\n')).toEqual([
      `config error: storage.wal_sink: unknown key (${file} line 2); did you mean storage.wal_sync?`,
      `config error: storage.wal_sync_interval: expected a duration like "10ms", "30s" or "168h", got the number 10 (${file} line 3); set it to a duration like "10ms", "30s" or "168h"`,
      'config error: STREAMBUS_WAL_SYNC: "sometimes" is not one of always, periodic, none; set it to one of always, periodic, none',
      "config error: server.peers: this broker's id 3 (file " +
        file +
        ') is not in the peer list; add 3=HOST:PORT to the peers or fix the broker id',
    ]);
  });
});

describe('config keys', () => {
  it('lists every key with its derived environment variable and default', async () => {
    const h = harness();
    expect(await runCli(['config', 'keys'], h.deps)).toBe(0);
    expect(h.stdout()).toMatch(/storage\.wal_sync +STREAMBUS_WAL_SYNC +"always" +fsync policy/);
    expect(h.stdout()).toMatch(/storage\.retention\.max_age +STREAMBUS_RETENTION_MAX_AGE +"7d"/);
    const json = harness();
    expect(await runCli(['config', 'keys', '--json'], json.deps)).toBe(0);
    const keys = json
      .stdout()
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as { key: string; env: string; supported: boolean; help: string });
    expect(keys.find((key) => key.key === 'network.max_connections')).toMatchObject({
      env: 'STREAMBUS_MAX_CONNECTIONS',
      supported: true,
    });
    expect(keys.find((key) => key.key === 'security.auth_enabled')).toMatchObject({
      env: 'STREAMBUS_AUTH_ENABLED',
      supported: true,
    });
    expect(keys.find((key) => key.key === 'storage.compaction_policy')).toMatchObject({ supported: false });
    expect(keys.find((key) => key.key === 'security.min_tls_version')).toMatchObject({
      env: 'STREAMBUS_MIN_TLS_VERSION',
      supported: true,
    });
    expect(new Set(keys.map((key) => key.env)).size).toBe(keys.length);
  });
});

describe('server', () => {
  it('exits 2 on bad configuration, before starting anything', async () => {
    let started = false;
    const h = harness(
      {},
      {
        startBroker: () => {
          started = true;
          return Promise.reject(new Error('unreachable'));
        },
      },
    );
    expect(await runCli(['server', '--id', '4', '--peers', '1=a:1,2=b:2,3=c:3'], h.deps)).toBe(2);
    expect(h.stderr()).toContain("config error: server.peers: this broker's id 4 (flag --id) is not in the peer list");
    expect(started).toBe(false);
  });

  it.each([
    [
      'unknown key',
      'network:\n  max_conections: 5\n',
      {},
      [],
      /^config error: network\.max_conections: unknown key \(.* line 2\); did you mean network\.max_connections\?$/,
    ],
    [
      'wrong type',
      'monitoring:\n  metrics_enabled: "yes"\n',
      {},
      [],
      /^config error: monitoring\.metrics_enabled: expected true or false, got the string "yes"/,
    ],
    [
      'bad duration',
      '',
      { STREAMBUS_CONNECTION_TIMEOUT: '30' },
      [],
      /^config error: STREAMBUS_CONNECTION_TIMEOUT: duration "30" has no unit; set it to a duration/,
    ],
    [
      'bad enum',
      '',
      {},
      ['--log-level', 'verbose'],
      /^config error: --log-level: "verbose" is not one of debug, info, warn, error; /,
    ],
    [
      'bad peers list',
      '',
      {},
      ['--peers', '1=a:1;2=b:2'],
      /^config error: --peers: peer 1: "a:1;2=b:2" is not HOST:PORT/,
    ],
    [
      'missing id in peers',
      'server:\n  peers: {1: "a:1", 2: "b:2"}\n',
      { STREAMBUS_BROKER_ID: '3' },
      [],
      /^config error: server\.peers: this broker's id 3 \(env STREAMBUS_BROKER_ID\) is not in the peer list; add 3=HOST:PORT/,
    ],
  ] as const)('%s: exit 2 with exactly one line', async (_name, yaml, env, flags, line) => {
    const file = join(dir, `case-${_name.replace(/ /g, '-')}.yaml`);
    await writeFile(file, yaml);
    const h = harness(
      { ...env },
      {
        startBroker: () => Promise.reject(new Error('must not start')),
      },
    );
    expect(await runCli(['server', '--config', file, ...flags], h.deps)).toBe(2);
    const lines = h.stderr().trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(line);
    expect(h.stdout()).toBe('');
  });

  it('--validate-config checks file, env and flags, prints a summary, exits 0, and starts nothing', async () => {
    const file = join(dir, 'valid.yaml');
    await writeFile(file, 'server:\n  listen: 10.0.0.5:9092\n  peers: "1=a:1,2=b:2"\nstorage:\n  wal_sync: periodic\n');
    let started = false;
    const h = harness(
      { STREAMBUS_BROKER_ID: 'streambus-1' },
      {
        startBroker: () => {
          started = true;
          return Promise.reject(new Error('must not start'));
        },
      },
    );
    expect(await runCli(['server', '--validate-config', '--config', file, '--port', '9093'], h.deps)).toBe(0);
    expect(h.stdout()).toBe(
      `configuration valid: broker 2, listen 10.0.0.5:9093 (flag --port), admin 0.0.0.0:9090, data_dir ./data, 2 peers, wal_sync periodic, file ${file}\n`,
    );
    expect(h.stderr()).toBe('');
    expect(started).toBe(false);
  });

  it('--validate-config exits 2 with one line per problem, and --port must agree with --listen', async () => {
    const file = join(dir, 'invalid.yaml');
    await writeFile(file, 'storage:\n  wal_sink: always\n');
    const h = harness({ STREAMBUS_WAL_SYNC: 'sometimes' });
    expect(
      await runCli(
        ['server', '--validate-config', '--config', file, '--listen', '127.0.0.1:9000', '--port', '9001'],
        h.deps,
      ),
    ).toBe(2);
    expect(h.stdout()).toBe('');
    expect(h.stderr().trimEnd().split('\n')).toEqual([
      `config error: storage.wal_sink: unknown key (${file} line 2); did you mean storage.wal_sync?`,
      'config error: STREAMBUS_WAL_SYNC: "sometimes" is not one of always, periodic, none; set it to one of always, periodic, none',
      'config error: --port: 9001 differs from the port of --listen (127.0.0.1:9000); give the port once: --listen HOST:PORT, or --port PORT alone',
    ]);
    const help = harness();
    expect(await runCli(['server', '--help'], help.deps)).toBe(0);
    expect(help.stdout()).toContain('--validate-config');
    expect(help.stdout()).toContain('--port PORT');
  });

  it('runs the admin server around the core, turns /ready off on SIGTERM, stops the core, exits 0', async () => {
    let context: BrokerContext | undefined;
    let stopCalls = 0;
    let readyDuringStop: unknown;
    let adminPort = 0;
    const startBroker: StartBroker = (given) => {
      context = given;
      given.health.registerReadinessCheck('replicas', () => ({ ready: true, reason: '' }));
      given.health.registerComponent('raft', () => ({ status: 'healthy', detail: 'leader of 1 of 1 groups' }));
      return Promise.resolve({
        stop: async () => {
          stopCalls++;
          readyDuringStop = await (await fetch(`http://127.0.0.1:${adminPort}/ready`)).json();
        },
        stopped: new Promise<void>(() => undefined),
      });
    };
    const h = harness({ STREAMBUS_BROKER_ID: 'streambus-1' }, { startBroker });
    const running = runCli(
      ['server', '--admin', '127.0.0.1:0', '--listen', '127.0.0.1:0', '--log-level', 'info'],
      h.deps,
    );
    const startedLine = await waitFor(() => logLines(h.stdout()).find((line) => line['msg'] === 'streambus started'));
    adminPort = Number(String(startedLine['admin']).split(':').at(-1));
    expect(context?.config.server.brokerId).toBe(2);
    const health = (await (await fetch(`http://127.0.0.1:${adminPort}/health`)).json()) as Record<string, unknown>;
    expect(health).toMatchObject({
      status: 'healthy',
      broker_id: 2,
      version: streambusVersion,
      ready: true,
      components: { raft: { status: 'healthy' } },
    });
    expect((await fetch(`http://127.0.0.1:${adminPort}/metrics`)).status).toBe(200);
    const config = (await (await fetch(`http://127.0.0.1:${adminPort}/config`)).json()) as {
      server: { broker_id: number };
    };
    expect(config.server.broker_id).toBe(2);
    h.interrupt();
    expect(await running).toBe(0);
    expect(stopCalls).toBe(1);
    expect(readyDuringStop).toEqual({ ready: false, reason: 'stopping: the broker is shutting down' });
    await expect(fetch(`http://127.0.0.1:${adminPort}/live`)).rejects.toThrow();
    const messages = logLines(h.stdout()).map((line) => line['msg']);
    expect(messages).toEqual([
      'starting streambus',
      'admin server listening',
      'streambus started',
      'stopping: handing over leadership and flushing',
      'stopped',
    ]);
    expect(logLines(h.stdout())[0]).toMatchObject({ level: 'info', broker_id: 2, wal_sync: 'always' });
  });

  it('exits 1 when the core fails to start, and closes the admin server', async () => {
    const h = harness(
      {},
      {
        startBroker: () => Promise.reject(new Error('data dir is locked by another broker')),
      },
    );
    expect(await runCli(['server', '--admin', '127.0.0.1:0'], h.deps)).toBe(1);
    expect(h.stderr()).toBe('streambus server: the broker failed to start: data dir is locked by another broker\n');
  });
});

describe('health --broker', () => {
  const servers: AdminServer[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((server) => server.close()));
  });

  async function adminWith(setup: (health: HealthRegistry) => void): Promise<string> {
    const health = new HealthRegistry({ brokerId: 3, version: streambusVersion });
    setup(health);
    const server = await startAdminServer({ listen: { host: '127.0.0.1', port: 0 }, health });
    servers.push(server);
    return `127.0.0.1:${server.address.port}`;
  }

  it('prints status and components of a live broker; exit 0', async () => {
    const address = await adminWith((health) => {
      health.registerComponent('raft', () => ({ status: 'healthy', detail: 'leader of 2 of 6 groups' }));
      health.registerComponent('storage', () => ({ status: 'degraded', detail: 'disk 91% full' }));
      health.registerReadinessCheck('replicas', () => ({ ready: true, reason: '' }));
    });
    const h = harness();
    expect(await runCli(['health', '--broker', address], h.deps)).toBe(0);
    expect(h.stdout()).toMatch(/^broker 3: degraded, ready \(version \d+\.\d+\.\d+, up \d+s\)\n/);
    expect(h.stdout()).toContain(
      'COMPONENT  STATUS    DETAIL\nraft       healthy   leader of 2 of 6 groups\nstorage    degraded  disk 91% full\n',
    );
    const strict = harness();
    expect(await runCli(['health', '--broker', address, '--strict'], strict.deps)).toBe(1);
    const json = harness({ STREAMBUS_ADMIN: address });
    expect(await runCli(['health', '--json'], json.deps)).toBe(0);
    expect(JSON.parse(json.stdout())).toMatchObject({
      status: 'degraded',
      broker_id: 3,
      components: { storage: { status: 'degraded', detail: 'disk 91% full' } },
    });
  });

  it('exit 1 when the broker reports unhealthy', async () => {
    const address = await adminWith((health) => {
      health.registerComponent('controller', () => ({ status: 'unhealthy', detail: 'no quorum' }));
    });
    const h = harness();
    expect(await runCli(['health', '--broker', address], h.deps)).toBe(1);
    expect(h.stdout()).toContain('broker 3: unhealthy, not ready');
  });

  it('--ready exits 1 on a healthy broker that is not ready yet', async () => {
    const address = await adminWith((health) => {
      health.registerComponent('raft', () => ({ status: 'healthy', detail: '' }));
      health.registerReadinessCheck('replicas', () => ({ ready: false, reason: 'catching up' }));
    });
    expect(await runCli(['health', '--broker', address], harness().deps)).toBe(0);
    expect(await runCli(['health', '--broker', address, '--ready'], harness().deps)).toBe(1);
  });

  it('exit 3 when nothing answers; exit 2 for a malformed address', async () => {
    const address = await adminWith(() => undefined);
    const port = Number(address.split(':')[1]);
    await servers.pop()?.close();
    const h = harness();
    expect(await runCli(['health', '--broker', `127.0.0.1:${port}`, '--timeout', '2s'], h.deps)).toBe(3);
    expect(h.stderr()).toContain('connection refused');
    const bad = harness();
    expect(await runCli(['health', '--broker', 'nohost'], bad.deps)).toBe(2);
    expect(bad.stderr()).toContain('--broker: "nohost" is not HOST:PORT');
  });

  it('exit 3 when the broker accepts but does not answer in time', async () => {
    const silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = silent.address() as AddressInfo;
      const h = harness();
      expect(await runCli(['health', '--broker', `127.0.0.1:${port}`, '--timeout', '200ms'], h.deps)).toBe(3);
      expect(h.stderr()).toContain('no answer within 200ms (TIMEOUT)');
    } finally {
      silent.closeAllConnections();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('exit 1 when something that is not a StreamBus admin server answers', async () => {
    const other = createServer((_request, response) => response.end('<html>hello</html>'));
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = other.address() as AddressInfo;
      const h = harness();
      expect(await runCli(['health', '--broker', `127.0.0.1:${port}`], h.deps)).toBe(1);
      expect(h.stderr()).toContain('not JSON: is this a StreamBus admin address? (BAD_RESPONSE)');
    } finally {
      other.closeAllConnections();
      await new Promise((resolve) => other.close(resolve));
    }
  });
});

describe('wal verify', () => {
  it('reports clean and damaged directories through the verifier seam', async () => {
    const verifyWal: VerifyWal = (dataDir) =>
      Promise.resolve(
        dataDir.endsWith('bad')
          ? { ok: false, counts: { batches: 10 }, problems: ['group 3 index 17: CRC mismatch'] }
          : { ok: true, counts: { groups: 2, batches: 10 }, problems: [] },
      );
    const clean = harness({}, { verifyWal });
    expect(await runCli(['wal', 'verify', '/data/good'], clean.deps)).toBe(0);
    expect(clean.stdout()).toBe('ok: /data/good (2 groups, 10 batches)\n');
    const damaged = harness({}, { verifyWal });
    expect(await runCli(['wal', 'verify', '/data/bad', '--json'], damaged.deps)).toBe(1);
    expect(JSON.parse(damaged.stdout())).toEqual({
      dir: '/data/bad',
      ok: false,
      counts: { batches: 10 },
      problems: ['group 3 index 17: CRC mismatch'],
    });
    const missing = harness({}, { verifyWal });
    expect(await runCli(['wal', 'verify'], missing.deps)).toBe(2);
  });
});

describe('the executable', () => {
  const main = fileURLToPath(new URL('./main.ts', import.meta.url));
  const run = (args: readonly string[], env: Record<string, string> = {}) =>
    spawnSync(process.execPath, ['--conditions=@streambus/source', '--import', 'tsx', main, ...args], {
      encoding: 'utf8',
      env: { PATH: process.env['PATH'] ?? '', ...env },
      timeout: 30_000,
    });

  it('--version, and exit code 2 with one line per config problem', () => {
    const version = run(['--version']);
    expect(version.status).toBe(0);
    expect(version.stdout).toBe(`streambus ${streambusVersion}\n`);
    const bad = run(['server', '--listen', 'nowhere'], {
      STREAMBUS_WAL_SYNC: 'sometimes',
      STREAMBUS_PORT: 'tcp://10.0.0.1:9092',
    });
    expect(bad.status).toBe(2);
    expect(bad.stderr.trimEnd().split('\n')).toEqual([
      'config error: STREAMBUS_WAL_SYNC: "sometimes" is not one of always, periodic, none; set it to one of always, periodic, none',
      'config error: --listen: "nowhere" is not HOST:PORT (IPv6 as [::1]:PORT); set it to an address HOST:PORT',
    ]);
  });
});

function logLines(text: string): Array<Record<string, unknown>> {
  return text
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

async function waitFor<T>(probe: () => T | undefined): Promise<T> {
  for (let attempt = 0; attempt < 500; attempt++) {
    const value = probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error('condition not reached');
}
