/**
 * A real Prometheus (Debian's package) scrapes a 3-broker cluster of real processes under load:
 * every query of the Grafana dashboard and every alert rule's query returns data, a live
 * /metrics passes `promtool check metrics` with a sample in every streambus_* family, and
 * stopping a broker fires BrokerDown and UnderReplicatedPartitions.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Admin, Consumer, Producer } from '@streambus/client';
import { ErrorCode, createStreamBusRpcClient } from '@streambus/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster } from '../src/index.js';
import { runStreambus } from './helpers.js';
import { alertQuery, alertRules, dashboardQueries, opsDir, prometheus, promtool } from './prometheus-helpers.js';

const scrapeInterval = '1s';
/** Rate windows of the dashboard ($__rate_interval) when evaluated here: a few scrapes. */
const rateWindow = '15s';
/** The rules' `for:` durations are promtool's to test (alerts.test.yml); here alerts fire within seconds. */
const forHere = '3s';
const loadRecordsMax = 50_000;
const loadMsMax = 240_000;
/**
 * Families of consumer groups (issue 11): their queries are checked once a broker serves them; the
 * load commits offsets of `lagGroup` so that they have samples.
 */
const consumerLagFamilies = [
  'streambus_consumer_group_lag_records',
  'streambus_consumer_group_lag_max_records',
  'streambus_consumer_group_oldest_unconsumed_age_seconds',
];
/** Looked up in the background every 10 s (unconsumedAgeSampleMs): the set-up waits for a first sample. */
const ageFamily = 'streambus_consumer_group_oldest_unconsumed_age_seconds';
const lagGroup = 'prometheus-load';

interface QueryResult {
  readonly status: string;
  readonly error?: string;
  readonly data?: { readonly result: readonly unknown[] };
}

let dir = '';
let cluster: TestCluster | undefined;
let server: ChildProcess | undefined;
let prometheusUrl = '';
let stopLoad = false;
let load: Promise<void> = Promise.resolve();

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}

async function until<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadlineMs = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadlineMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

async function query(expr: string): Promise<QueryResult> {
  const response = await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
  return (await response.json()) as QueryResult;
}

async function hasData(expr: string): Promise<boolean> {
  const result = await query(expr);
  if (result.status !== 'success') throw new Error(`query ${expr} failed: ${result.error ?? result.status}`);
  return (result.data?.result.length ?? 0) > 0;
}

/** Produces to 6 partitions, consumes them, and makes a few errors, until told to stop (bounded). */
async function runLoad(bootstrap: string[]): Promise<void> {
  const producer = new Producer({ bootstrapServers: bootstrap });
  const consumer = new Consumer({ bootstrapServers: bootstrap, autoOffsetReset: 'earliest' });
  const admin = new Admin({ bootstrapServers: bootstrap });
  consumer.assign(Array.from({ length: 6 }, (_, partition) => ({ topic: 'load', partition })));
  const startedMs = Date.now();
  try {
    for (let i = 0; !stopLoad && i < loadRecordsMax && Date.now() - startedMs < loadMsMax; i += 60) {
      await Promise.allSettled(
        Array.from({ length: 60 }, (_, j) => producer.send({ topic: 'load', partition: j % 6, value: `r${i + j}` })),
      );
      await consumer.poll(50);
      // TOPIC_ALREADY_EXISTS: the error counters have samples, as under real traffic.
      if (i % 1200 === 0) {
        await admin.createTopic({ name: 'load', partitions: 6, replicationFactor: 3 }).catch(() => undefined);
        await commitHalf(bootstrap, i / 12).catch(() => undefined);
      }
    }
  } finally {
    await Promise.allSettled([producer.close(), consumer.close(), admin.close()]);
  }
}

/** Commits `offset` for every partition of 'load' as `lagGroup` (an admin commit: the group has no members). */
async function commitHalf(bootstrap: string[], offset: number): Promise<void> {
  const any = createStreamBusRpcClient(bootstrap[0] ?? '');
  try {
    const found = await any.FindCoordinator({ groupIds: [lagGroup] }, { deadlineMs: 5_000 });
    const coordinator = found.coordinators[0];
    if (coordinator === undefined || coordinator.errorCode !== ErrorCode.NONE) return;
    const client = createStreamBusRpcClient(`${coordinator.host}:${coordinator.port}`);
    try {
      await client.OffsetCommit(
        {
          groupId: lagGroup,
          memberId: '',
          memberEpoch: -1,
          partitions: Array.from({ length: 6 }, (_, partition) => ({ topic: 'load', partition, offset, metadata: '' })),
        },
        { deadlineMs: 5_000 },
      );
    } finally {
      client.close();
    }
  } finally {
    any.close();
  }
}

/** Opens a connection to a client port that never speaks: network.connection_timeout closes it. */
function silentConnection(address: string): Promise<void> {
  const [host, port] = address.split(':');
  return new Promise((resolve) => {
    const socket = connect(Number(port), host ?? '127.0.0.1');
    socket.on('error', () => undefined);
    socket.once('close', () => resolve());
    setTimeout(() => socket.destroy(), 20_000).unref();
  });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'streambus-prometheus-'));
  cluster = await TestCluster.create({
    size: 3,
    dataDir: join(dir, 'cluster'),
    logLevel: 'warn',
    env: { STREAMBUS_CONNECTION_TIMEOUT: '2s' },
  });
  await cluster.startAll(60_000);
  const bootstrap = cluster.bootstrap.split(',');
  const admin = new Admin({ bootstrapServers: bootstrap });
  await admin.createTopic({ name: 'load', partitions: 6, replicationFactor: 3 });
  await admin.close();
  load = runLoad(bootstrap);
  await Promise.all(cluster.brokers.map((broker) => silentConnection(broker.listen)));

  const rules = (await readFile(join(opsDir, 'prometheus', 'alerts.yml'), 'utf8')).replace(
    /^(\s+for:\s*)\S+$/gm,
    `$1${forHere}`,
  );
  await writeFile(join(dir, 'alerts.yml'), rules);
  const targets = cluster.brokers.map((broker) => `'${broker.admin}'`).join(', ');
  await writeFile(
    join(dir, 'prometheus.yml'),
    [
      'global:',
      `  scrape_interval: ${scrapeInterval}`,
      `  evaluation_interval: ${scrapeInterval}`,
      'rule_files: [alerts.yml]',
      'scrape_configs:',
      '  - job_name: streambus',
      `    static_configs: [{ targets: [${targets}] }]`,
      '',
    ].join('\n'),
  );
  const port = await freePort();
  prometheusUrl = `http://127.0.0.1:${port}`;
  server = spawn(
    prometheus(),
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'tsdb')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    { stdio: 'ignore' },
  );
  await until('Prometheus ready', 30_000, async () =>
    (await fetch(`${prometheusUrl}/-/ready`).catch(() => null))?.ok === true ? true : undefined,
  );
  // A few scrapes of the load: rates over the rate window have two samples and more.
  await until('every broker scraped with produced records', 60_000, async () => {
    const result = await query(`sum by (instance) (rate(streambus_messages_produced_total[${rateWindow}]))`);
    return (result.data?.result.length ?? 0) === 3 ? true : undefined;
  }).catch(async (error: unknown) => {
    // Say why: the targets' scrape errors, and what was produced.
    const targets = await (await fetch(`${prometheusUrl}/api/v1/targets`)).text();
    const produced = await query('streambus_messages_produced_total');
    throw new Error(
      `${String(error)}; targets ${targets.slice(0, 2000)}; produced ${JSON.stringify(produced).slice(0, 1000)}`,
    );
  });
  await until(`a sample of ${ageFamily} on a broker`, 60_000, async () => {
    const texts = await Promise.all(
      (cluster?.brokers ?? []).map(async (broker) => (await fetch(`http://${broker.admin}/metrics`)).text()),
    );
    return texts.some((text) => text.includes(`${ageFamily}{`)) ? true : undefined;
  });
  await new Promise((resolve) => setTimeout(resolve, 5_000));
}, 240_000);

afterAll(async () => {
  stopLoad = true;
  await load.catch(() => undefined);
  if (server?.pid !== undefined && server.exitCode === null) {
    const exited = new Promise((resolve) => server?.once('exit', resolve));
    process.kill(server.pid, 'SIGTERM');
    await exited;
  }
  await cluster?.stopAll();
  if (dir !== '') await rm(dir, { recursive: true, force: true });
}, 120_000);

/** The expressions not to check yet: those of families no broker serves (consumer lag before issue 11). */
async function unservedFamilies(): Promise<string[]> {
  const texts = await Promise.all(
    (cluster?.brokers ?? []).map(async (broker) => (await fetch(`http://${broker.admin}/metrics`)).text()),
  );
  return consumerLagFamilies.filter((family) => !texts.some((text) => text.includes(`# TYPE ${family} `)));
}

describe('a real Prometheus scraping a 3-broker cluster under load', () => {
  it('serves /metrics that promtool check metrics accepts, with samples in every streambus_* family', async () => {
    // Errors land on the broker that answered them: a family needs samples on one broker at least.
    const unsampled = new Map<string, number>();
    const brokers = cluster?.brokers ?? [];
    for (const broker of brokers) {
      const text = await (await fetch(`http://${broker.admin}/metrics`)).text();
      const checked = await new Promise<{ code: number | null; output: string }>((resolve) => {
        const child = spawn(promtool(), ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
        let output = '';
        child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
        child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
        child.on('close', (code) => resolve({ code, output }));
        child.stdin.end(text);
      });
      expect(checked.output, `promtool check metrics on broker ${broker.id}`).toBe('');
      expect(checked.code).toBe(0);
      const families = [...text.matchAll(/^# TYPE (streambus_\w+) (\w+)$/gm)].map((match) => match[1] ?? '');
      expect(families.length).toBeGreaterThan(30);
      for (const family of families)
        if (!new RegExp(`^${family}(_bucket|_sum|_count)?[{ ]`, 'm').test(text))
          unsampled.set(family, (unsampled.get(family) ?? 0) + 1);
    }
    const empty = [...unsampled]
      .filter(([, brokersWithout]) => brokersWithout === brokers.length)
      .map(([family]) => family);
    expect(empty, 'families without samples on any broker').toEqual([]);
  });

  it('returns data for every query of the Grafana dashboard', async () => {
    const unserved = await unservedFamilies();
    const queries = (await dashboardQueries()).filter((q) => !unserved.some((family) => q.expr.includes(family)));
    const empty: string[] = [];
    for (const { panel, expr } of queries) {
      const resolved = expr.replaceAll('$__rate_interval', rateWindow);
      if (!(await hasData(resolved))) empty.push(`${panel}: ${resolved}`);
    }
    expect(empty).toEqual([]);
  });

  it("returns data for every alert rule's query", async () => {
    const unserved = await unservedFamilies();
    const empty: string[] = [];
    for (const rule of await alertRules()) {
      if (unserved.some((family) => rule.expr.includes(family))) continue;
      if (!(await hasData(alertQuery(rule)))) empty.push(`${rule.alert}: ${alertQuery(rule)}`);
    }
    expect(empty).toEqual([]);
  });

  it('answers streambus health on the client port and the admin port, and streambus status', async () => {
    const broker = cluster?.brokers[0];
    expect(broker).toBeDefined();
    for (const address of [broker?.listen ?? '', broker?.admin ?? '']) {
      // Readiness is "caught up and in quorum" now: under a loaded CI machine a follower can fall
      // behind for a moment, so ask again (for at most 30 s) until the broker says ready.
      const deadline = Date.now() + 30_000;
      let answer: { broker_id?: number; ready?: boolean; status?: string } = {};
      for (;;) {
        const health = await runStreambus(['health', '--broker', address, '--json']);
        expect(health.stderr).toBe('');
        answer = JSON.parse(health.stdout) as typeof answer;
        expect(answer.broker_id).toBe(broker?.id);
        if (answer.ready === true || Date.now() > deadline) break;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
      expect(answer).toMatchObject({ broker_id: broker?.id, ready: true });
      expect(['healthy', 'degraded']).toContain(answer.status);
    }
    const status = await runStreambus(['status'], { bootstrap: cluster?.bootstrap ?? '' });
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/^cluster streambus: controller broker \d, 3 brokers/);
  }, 120_000);

  it('fires BrokerDown and UnderReplicatedPartitions when a broker stops', async () => {
    const firing = async (): Promise<{ alertname: string; instance?: string }[]> => {
      const response = (await (await fetch(`${prometheusUrl}/api/v1/alerts`)).json()) as {
        data: { alerts: { labels: { alertname: string; instance?: string }; state: string }[] };
      };
      return response.data.alerts.filter((alert) => alert.state === 'firing').map((alert) => alert.labels);
    };
    expect((await firing()).map((alert) => alert.alertname)).not.toContain('BrokerDown');
    const stopped = cluster?.brokers[2];
    expect(stopped).toBeDefined();
    await cluster?.stop(stopped?.id ?? 3);
    const alerts = await until('BrokerDown and UnderReplicatedPartitions firing', 90_000, async () => {
      const now = await firing();
      const names = new Set(now.map((alert) => alert.alertname));
      return names.has('BrokerDown') && names.has('UnderReplicatedPartitions') ? now : undefined;
    });
    expect(alerts).toContainEqual(expect.objectContaining({ alertname: 'BrokerDown', instance: stopped?.admin }));
  }, 120_000);
});
