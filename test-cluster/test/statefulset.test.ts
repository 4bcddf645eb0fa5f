/**
 * The chart's StatefulSet, run the way the StatefulSet controller and the kubelet run it, with
 * real broker processes (src/kube): each pod in its own network namespace with the pod's
 * hostname and the cluster DNS in its hosts file, the container's exact command, args and env
 * from the rendered manifest on the image's filesystem (the Dockerfile's entrypoint, user and
 * directories), a claim directory per pod as its PVC, the probes polled as declared. Then a
 * RollingUpdate as Kubernetes does it (highest ordinal first: preStop, SIGTERM, grace period, the
 * new revision, Ready, next) and a pod deleted and recreated on its old volume, with a producer
 * and a consumer running in a client pod throughout: no acknowledged record is lost.
 *
 * Needs root, ip netns, overlayfs, setpriv and nsenter (`.ci/setup-host.sh`); without them the
 * tests FAIL with the reason (never skipped).
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import {
  KubeEmulation,
  brokerBinPath,
  renderChart,
  revisionOf,
  statefulSetOf,
  type RenderedChart,
  type UpdateStep,
} from '../src/index.js';

const fixture = fileURLToPath(new URL('./fixtures/produce-consume.ts', import.meta.url));
const testClusterDir = fileURLToPath(new URL('..', import.meta.url));
/** A broker's start and readiness take about 5 s (one startup probe period); on a loaded machine far more. */
const readyTimeoutMs = 180_000;
const topic = 'events';
const partitions = 6;
const ratePerSecond = 50;
const namespace = 'default';
const clientService = `streambus.${namespace}.svc.cluster.local:9092`;
/** The new revision of `helm upgrade`: a new image tag and a changed server.yaml (so checksum/config changes too). */
const upgradeValues = ['--set', 'image.tag=0.1.1,config.storage.retention.max_age=72h'];

interface Ack {
  readonly seq: number;
  readonly partition: number;
  readonly offset: number;
  readonly sentAtMs: number;
  readonly ackAtMs: number;
}

/** The produce-consume fixture running in a client namespace, its events collected as they come. */
class Workload {
  readonly acks: Ack[] = [];
  readonly fails: Array<{ seq: number; code: string; message: string }> = [];
  /** Consumed records by `partition:offset`. */
  readonly consumed = new Map<string, string>();
  /** The same offset delivered twice to the consumer (a re-fetch, not a duplicate in the log). */
  redelivered = 0;
  private stopped: (() => void) | null = null;
  private readonly stoppedPromise: Promise<void>;
  private readonly stderr: string[] = [];

  constructor(private readonly child: ChildProcess) {
    this.stoppedPromise = new Promise((resolve) => {
      this.stopped = resolve;
    });
    createInterface({ input: child.stdout! }).on('line', (line) => this.onLine(line));
    child.stderr!.on('data', (chunk: Buffer) => {
      if (this.stderr.length < 200) this.stderr.push(chunk.toString());
    });
  }

  /** Waits until `count` records are acknowledged. */
  async waitAcks(count: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.acks.length < count) {
      if (Date.now() > deadline)
        throw new Error(
          `only ${this.acks.length} of ${count} acks after ${timeoutMs} ms; stderr: ${this.stderr.join('')}`,
        );
      await sleep(100);
    }
  }

  /** Stops producing; resolves once every send has settled. */
  async stopProducing(timeoutMs: number): Promise<void> {
    this.child.stdin!.write('stop\n');
    await Promise.race([
      this.stoppedPromise,
      sleep(timeoutMs).then(() => {
        throw new Error(`the producer did not settle within ${timeoutMs} ms`);
      }),
    ]);
  }

  /** Waits until the consumer has seen every acknowledged record. */
  async waitConsumedAll(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.missing().length > 0 && Date.now() < deadline) await sleep(200);
  }

  /** Acknowledged records the consumer did not read at their acknowledged offset. */
  missing(): Ack[] {
    return this.acks.filter((ack) => this.consumed.get(`${ack.partition}:${ack.offset}`) !== `v-${ack.seq}`);
  }

  async exit(): Promise<number | null> {
    const exited = new Promise<number | null>((resolve) => this.child.once('exit', (code) => resolve(code)));
    this.child.stdin!.write('exit\n');
    return Promise.race([exited, sleep(30_000).then(() => null)]);
  }

  private onLine(line: string): void {
    const event = JSON.parse(line) as { kind: string } & Record<string, unknown>;
    if (event.kind === 'ack') this.acks.push(event as unknown as Ack);
    else if (event.kind === 'fail') this.fails.push(event as unknown as { seq: number; code: string; message: string });
    else if (event.kind === 'stopped') this.stopped?.();
    else if (event.kind === 'record') {
      const key = `${String(event['partition'])}:${String(event['offset'])}`;
      if (this.consumed.has(key)) this.redelivered++;
      this.consumed.set(key, String(event['value']));
    }
  }
}

/** The longest time without an acknowledgement inside [fromMs, toMs]. */
function longestAckGapMs(acks: readonly Ack[], fromMs: number, toMs: number): number {
  const times = acks
    .map((ack) => ack.ackAtMs)
    .filter((at) => at >= fromMs && at <= toMs)
    .sort((a, b) => a - b);
  let previous = fromMs;
  let longest = 0;
  for (const at of [...times, toMs]) {
    longest = Math.max(longest, at - previous);
    previous = at;
  }
  return longest;
}

function getJson(url: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const request = get(url, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        } catch (error) {
          reject(error);
        }
      });
    });
    request.setTimeout(5_000, () => request.destroy(new Error(`${url}: no answer within 5 s`)));
    request.on('error', reject);
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe('the chart StatefulSet, run as the StatefulSet controller and the kubelet run it (real processes)', () => {
  let kube: KubeEmulation | null = null;
  let revision1: RenderedChart;
  let revision2: RenderedChart;
  const events: string[] = [];
  const emulation = (): KubeEmulation => {
    if (kube === null) throw new Error('the emulation did not start');
    return kube;
  };

  beforeAll(async () => {
    if (!existsSync(brokerBinPath()))
      throw new Error(`the broker is not built (${brokerBinPath()}): run npm run build first`);
    [revision1, revision2] = await Promise.all([renderChart(), renderChart(upgradeValues)]);
    kube = await KubeEmulation.create({
      chart: revision1,
      onEvent: (line) => events.push(`${new Date().toISOString().slice(11, 23)} ${line}`),
    });
    await kube.controller.reconcile(readyTimeoutMs);
  }, readyTimeoutMs + 60_000);

  afterAll(async () => {
    const eventsFile = process.env['STATEFULSET_EVENTS_FILE'];
    if (eventsFile !== undefined) writeFileSync(eventsFile, `${events.join('\n')}\n`);
    const runDir = kube?.network.runDir;
    const slot = kube?.network.names.slot;
    await kube?.close();
    if (runDir !== undefined) expect(existsSync(runDir)).toBe(false);
    if (slot !== undefined) {
      const left = existsSync('/run/netns')
        ? readdirSync('/run/netns').filter((name) => name.startsWith(`sbx-${slot}-`))
        : [];
      expect(left).toEqual([]);
      const hosts = existsSync('/etc/netns')
        ? readdirSync('/etc/netns').filter((name) => name.startsWith(`sbx-${slot}-`))
        : [];
      expect(hosts).toEqual([]);
    }
  });

  it("runs each pod's container as the manifest and the image say: command, env, user, hostname, DNS, volumes, probes", async () => {
    onTestFailed(() => void process.stdout.write(`kubelet and controller events:\n${events.join('\n')}\n`));
    const container = statefulSetOf(revision1).spec!.template.spec!.containers[0]!;
    const ownNet = readlinkSync('/proc/self/ns/net');
    const namespaces = new Set<string>();
    for (const ordinal of [0, 1, 2]) {
      const pod = emulation().controller.pod(ordinal);
      const status = pod.status();
      expect(status.ready).toBe(true);
      expect(status.started).toBe(true);
      expect(status.probes.startup.successes).toBe(1);
      const pid = status.pid!;
      // The process is node running the image's entrypoint with the manifest's args.
      expect(readFileSync(`/proc/${pid}/comm`, 'utf8').trim()).toBe('node');
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8')
        .split('\0')
        .filter((word) => word !== '');
      expect(argv.slice(1)).toEqual(['/usr/local/bin/streambus', ...(container.args ?? [])]);
      expect(readFileSync(`/proc/${pid}/status`, 'utf8')).toMatch(/^Uid:\s+10001\s+10001\s+10001\s+10001$/m);
      expect(readFileSync(`/proc/${pid}/status`, 'utf8')).toMatch(/^CapEff:\s+0+$/m);
      const net = readlinkSync(`/proc/${pid}/ns/net`);
      expect(net).not.toBe(ownNet);
      namespaces.add(net);
      // Its environment: the manifest's, with the fieldRef resolved to the pod name.
      const environ = Object.fromEntries(
        readFileSync(`/proc/${pid}/environ`, 'utf8')
          .split('\0')
          .filter((entry) => entry.includes('='))
          .map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)]),
      );
      expect(environ['STREAMBUS_BROKER_ID']).toBe(`streambus-${ordinal}`);
      expect(environ['STREAMBUS_PEERS']).toBe(
        container.env?.find((variable) => variable.name === 'STREAMBUS_PEERS')?.value,
      );
      expect(environ['STREAMBUS_LISTEN']).toBe(
        `streambus-${ordinal}.streambus-headless.default.svc.cluster.local:9092`,
      );
      expect(environ['NODE_ENV']).toBe('production');
      // Inside: hostname, DNS, the read-only root, the writable claim and /tmp, the ConfigMap.
      const inside = await pod.exec([
        'sh',
        '-c',
        'hostname; id -u; getent hosts streambus-2.streambus-headless.default.svc.cluster.local | cut -d" " -f1; ' +
          '(touch /etc/probe-write 2>/dev/null && echo root-writable || echo root-read-only); ' +
          'test -w /var/lib/streambus && echo data-writable; test -w /tmp && echo tmp-writable; ' +
          'grep -c wal_sync /etc/streambus/server.yaml',
      ]);
      expect(inside.stderr).toBe('');
      expect(inside.stdout.trim().split('\n')).toEqual([
        `streambus-${ordinal}`,
        '10001',
        emulation().controller.pod(2).status().address,
        'root-read-only',
        'data-writable',
        'tmp-writable',
        '1',
      ]);
    }
    expect(namespaces.size).toBe(3);
    // The brokers found each other by their headless DNS names: `streambus cluster status` in a pod.
    const status = await emulation()
      .controller.pod(0)
      .exec(['streambus', 'cluster', 'status', '--json', '--bootstrap', clientService]);
    expect(status.stderr).toBe('');
    const cluster = JSON.parse(status.stdout) as { brokers: Array<{ id: number; address: string; alive: boolean }> };
    expect(cluster.brokers.map((broker) => [broker.id, broker.address, broker.alive])).toEqual([
      [1, 'streambus-0.streambus-headless.default.svc.cluster.local:9092', true],
      [2, 'streambus-1.streambus-headless.default.svc.cluster.local:9092', true],
      [3, 'streambus-2.streambus-headless.default.svc.cluster.local:9092', true],
    ]);
  });

  it('rolls the StatefulSet highest ordinal first and recreates a deleted pod on its old volume, under load, losing no acknowledged record', async () => {
    onTestFailed(() => void process.stdout.write(`kubelet and controller events:\n${events.join('\n')}\n`));
    const controller = emulation().controller;
    const create = await controller
      .pod(0)
      .exec([
        'streambus',
        'topic',
        'create',
        topic,
        '--partitions',
        String(partitions),
        '--replication-factor',
        '3',
        '--bootstrap',
        clientService,
      ]);
    expect(create.stderr).toBe('');
    expect(create.code).toBe(0);

    const clientNamespace = await emulation().kubelet.attachClient('client');
    const child = emulation().spawnClient(
      clientNamespace,
      process.execPath,
      [
        '--conditions=@streambus/source',
        '--import',
        'tsx',
        fixture,
        clientService,
        topic,
        String(partitions),
        String(ratePerSecond),
      ],
      { cwd: testClusterDir, stdio: ['pipe', 'pipe', 'pipe'] },
    );
    const workload = new Workload(child);
    await workload.waitAcks(ratePerSecond * 3, 60_000);

    // helm upgrade: new ConfigMap, new pod template; the controller rolls 2, 1, 0.
    const firstRevision = controller.updateRevision;
    const steps = await emulation().upgrade(revision2, readyTimeoutMs);
    expect(steps.map((step) => step.pod)).toEqual(['streambus-2', 'streambus-1', 'streambus-0']);
    expect(controller.updateRevision).toBe(revisionOf(statefulSetOf(revision2)));
    expect(controller.updateRevision).not.toBe(firstRevision);
    const grace = statefulSetOf(revision2).spec!.template.spec!.terminationGracePeriodSeconds! * 1000;
    for (const step of steps) {
      expect(step.fromRevision).toBe(firstRevision);
      expect(step.toRevision).toBe(controller.updateRevision);
      // preStop (drain: the broker led nothing, then the sleep) ran to its end, then SIGTERM: the
      // broker exited 0 within the grace period.
      expect(step.termination.preStop?.handler).toContain('streambus broker drain --timeout 20s');
      expect(step.termination.preStop?.exitCode).toBe(0);
      expect(step.termination.preStop?.durationMs).toBeGreaterThanOrEqual(5_000);
      expect(step.termination.killed).toBe(false);
      expect(step.termination.exitCode).toBe(0);
      expect(step.termination.totalMs).toBeLessThan(grace);
      // A new pod is a new sandbox: a new address, which the others learn from the DNS.
      expect(step.newAddress).not.toBe(step.oldAddress);
    }
    const checksum = (chart: RenderedChart): string | undefined =>
      statefulSetOf(chart).spec?.template.metadata?.annotations?.['checksum/config'];
    expect(checksum(revision2)).not.toBe(checksum(revision1));
    for (const ordinal of [0, 1, 2]) {
      const pod = controller.pod(ordinal);
      expect(pod.manifest.labels['controller-revision-hash']).toBe(controller.updateRevision);
      expect(pod.manifest.annotations['checksum/config']).toBe(checksum(revision2));
      // The new server.yaml reached the broker.
      const config = (await getJson(`http://${pod.status().address}:9090/config`)) as {
        storage: { retention: { max_age: string } };
      };
      expect(config.storage.retention.max_age).toBe('3d');
    }

    // kubectl delete pod streambus-1: recreated at once on its claim, with its data.
    const claim = controller.claimDir('data', 1);
    const before = readdirSync(join(claim, 'raft'));
    expect(before.length).toBeGreaterThan(0);
    const recreated = await controller.deletePod(1, readyTimeoutMs);
    expect(recreated.pod).toBe('streambus-1');
    expect(recreated.termination.exitCode).toBe(0);
    expect(recreated.newAddress).not.toBe(recreated.oldAddress);
    expect(readdirSync(join(claim, 'raft'))).toEqual(
      expect.arrayContaining(before.filter((name) => name === 'CURRENT')),
    );

    await workload.waitAcks(workload.acks.length + ratePerSecond * 3, 60_000);
    await workload.stopProducing(150_000);
    await workload.waitConsumedAll(60_000);
    const missing = workload.missing();
    const acked = workload.acks.length;
    const failed = workload.fails.length;
    // No record appears at two offsets: the idempotent producer's retries wrote each once.
    const offsetsOfValue = new Map<string, number>();
    for (const value of workload.consumed.values()) offsetsOfValue.set(value, (offsetsOfValue.get(value) ?? 0) + 1);
    const duplicated = [...offsetsOfValue.values()].filter((count) => count > 1).length;
    expect(await workload.exit()).toBe(0);

    // A fresh read of the whole topic, through the CLI in a pod.
    const read = await controller
      .pod(2)
      .exec([
        'streambus',
        'consume',
        topic,
        '--from-beginning',
        '--idle-timeout',
        '5s',
        '--json',
        '--bootstrap',
        clientService,
      ]);
    expect(read.code).toBe(0);
    const stored = new Map(
      read.stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as { partition: number; offset: number; value: string })
        .map((record) => [`${record.partition}:${record.offset}`, record.value]),
    );
    const lostInLog = workload.acks.filter((ack) => stored.get(`${ack.partition}:${ack.offset}`) !== `v-${ack.seq}`);

    const allSteps: UpdateStep[] = [...steps, recreated];
    const gaps = allSteps.map((step) => ({
      pod: step.pod,
      gapMs: longestAckGapMs(workload.acks, step.deletedAtMs, step.readyAtMs),
      replacedMs: step.replacedMs,
    }));
    const latencyMaxMs = Math.max(...workload.acks.map((ack) => ack.ackAtMs - ack.sentAtMs));
    process.stdout.write(
      `statefulset: rolling update of 3 pods (${gaps
        .slice(0, 3)
        .map((gap) => `${gap.pod} gap ${gap.gapMs} ms, replaced in ${gap.replacedMs} ms`)
        .join(
          '; ',
        )}), pod deleted and recreated (${gaps[3]!.pod} gap ${gaps[3]!.gapMs} ms, replaced in ${gaps[3]!.replacedMs} ms); ` +
        `acked ${acked}, failed ${failed}, longest ack latency ${latencyMaxMs} ms, lost: ${missing.length + lostInLog.length}\n`,
    );
    expect(missing).toEqual([]);
    expect(lostInLog).toEqual([]);
    expect(duplicated).toBe(0);
    expect(workload.fails).toEqual([]);
    for (const ordinal of [0, 1, 2]) expect(controller.pod(ordinal).status().restartCount).toBe(0);

    // Every new container's postStart undrained its broker: none is left drained, and the
    // leaderships come back to them.
    for (const ordinal of [0, 1, 2]) {
      const postStart = controller.pod(ordinal).status().postStart;
      expect(postStart?.handler).toContain('streambus broker undrain');
      expect(postStart?.exitCode).toBe(0);
    }
    const status = await controller
      .pod(0)
      .exec(['streambus', 'cluster', 'status', '--json', '--bootstrap', clientService]);
    expect(status.code).toBe(0);
    const brokers = (
      JSON.parse(status.stdout.trim().split('\n')[0]!) as { brokers: Array<{ id: number; drained: boolean }> }
    ).brokers;
    expect(brokers.map((entry) => entry.drained)).toEqual([false, false, false]);

    // In the end every partition has its 3 replicas in sync again.
    const deadline = Date.now() + 60_000;
    let isrSizes: number[] = [];
    while (Date.now() < deadline) {
      const described = await controller
        .pod(0)
        .exec(['streambus', 'topic', 'describe', topic, '--json', '--bootstrap', clientService]);
      isrSizes = (JSON.parse(described.stdout) as { partitions: Array<{ isr: number[] }> }).partitions.map(
        (partition) => partition.isr.length,
      );
      if (isrSizes.every((size) => size === 3)) break;
      await sleep(1_000);
    }
    expect(isrSizes).toEqual(Array.from({ length: partitions }, () => 3));
  }, 900_000);
});
