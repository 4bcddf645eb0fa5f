/**
 * The real-network mode (NetnsCluster): brokers as processes in their own network namespaces,
 * and each fault shown to have its effect and its undo; then clean-up: close, SIGINT/SIGTERM of
 * the owning process, and a SIGKILLed owner's leftovers removed by the next run.
 * Needs root, ip netns, iptables, tc and libfaketime (`.ci/setup-host.sh`); without them these
 * tests FAIL with the reason (never skipped).
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Admin, Producer } from '@streambus/client';
import { createStreamBusRpcClient } from '@streambus/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NetnsCluster, brokerBinPath, removeLeftovers, runHost } from '../src/index.js';

const fixture = fileURLToPath(new URL('./fixtures/netns-owner.ts', import.meta.url));

/** Whether a TCP connection from namespace `from` (null: this, the root one) to host:port opens within `timeoutMs`. */
async function reachable(from: string | null, host: string, port: number, timeoutMs = 1_000): Promise<boolean> {
  if (from === null) {
    return new Promise((resolve) => {
      const socket = connect({ host, port, timeout: timeoutMs });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('timeout', () => {
        socket.destroy();
        resolve(false);
      });
      socket.once('error', () => resolve(false));
    });
  }
  return runHost('ip', [
    'netns',
    'exec',
    from,
    'timeout',
    String(timeoutMs / 1000),
    'bash',
    '-c',
    `exec 3<>/dev/tcp/${host}/${port}`,
  ]).then(
    () => true,
    () => false,
  );
}

function namespacesOfSlot(slot: number): string[] {
  return existsSync('/run/netns') ? readdirSync('/run/netns').filter((name) => name.startsWith(`sbx-${slot}-`)) : [];
}

function mountsOf(runDir: string): string[] {
  return readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .filter((line) => line.includes(runDir));
}

function processAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Packets the DROP rules of `chain` matched in broker namespace `namespace`. */
async function dropped(namespace: string, chain: string): Promise<number> {
  const text = await runHost('ip', ['netns', 'exec', namespace, 'iptables', '-w', '-L', chain, '-v', '-n', '-x']);
  return text
    .split('\n')
    .filter((line) => line.includes('DROP'))
    .reduce((sum, line) => sum + Number(line.trim().split(/\s+/)[0] ?? 0), 0);
}

describe('real-network mode: brokers in network namespaces', () => {
  let real: NetnsCluster | null = null;
  const cluster = (): NetnsCluster => {
    if (real === null) throw new Error('the cluster did not start');
    return real;
  };

  beforeAll(async () => {
    if (!existsSync(brokerBinPath()))
      throw new Error(`the broker is not built (${brokerBinPath()}): run npm run build first`);
    real = await NetnsCluster.create({ size: 3, logLevel: 'warn', env: { STREAMBUS_TICK_MS: '50' } });
    await real.cluster.startAll(60_000);
  }, 90_000);

  afterAll(async () => {
    await real?.close();
  });

  it('each broker is a node process in its own network and UTS namespace, on its own address; clients in the root namespace reach every one', async () => {
    const { network } = cluster();
    const ownNet = readlinkSync('/proc/self/ns/net');
    const seen = new Set<string>();
    for (const broker of cluster().cluster.brokers) {
      const pid = cluster().cluster.pid(broker.id) as number;
      expect(readFileSync(`/proc/${pid}/comm`, 'utf8').trim()).toBe('node');
      const net = readlinkSync(`/proc/${pid}/ns/net`);
      expect(net).not.toBe(ownNet);
      seen.add(net);
      const hostname = await runHost('nsenter', ['-t', String(pid), '-u', 'hostname']);
      expect(hostname.trim()).toBe(network.names.brokerHostname(broker.id));
      expect(broker.listen).toBe(`${network.names.brokerAddress(broker.id)}:9092`);
    }
    expect(seen.size).toBe(3);
    const client = createStreamBusRpcClient(cluster().bootstrapServers[0] as string);
    try {
      const metadata = await client.Metadata({ topics: [], brokersOnly: true }, { deadlineMs: 5_000 });
      expect(metadata.brokers.map((b) => `${b.host}:${b.port}`).sort()).toEqual([...cluster().bootstrapServers].sort());
    } finally {
      client.close();
    }
  });

  it('partitions cut exactly the blocked directions between brokers, never the clients; healing restores every link', async () => {
    const { network, faults } = cluster();
    const ns = (id: number): string => network.names.brokerNamespace(id);
    const ip = (id: number): string => network.names.brokerAddress(id);
    await faults.isolate(1);
    expect(await reachable(ns(1), ip(2), 9092)).toBe(false);
    expect(await reachable(ns(2), ip(1), 9092)).toBe(false);
    expect(await reachable(ns(2), ip(3), 9092)).toBe(true);
    expect(await reachable(null, ip(1), 9092)).toBe(true);
    await faults.split([1, 2], [3]);
    expect(await reachable(ns(1), ip(2), 9092)).toBe(true);
    expect(await reachable(ns(3), ip(1), 9092)).toBe(false);
    // One-way: broker 1's packets reach no peer, the rule sits at the receivers only.
    await faults.oneWay(1);
    expect(await reachable(ns(1), ip(3), 9092)).toBe(false);
    expect(await faults.describe(1)).not.toMatch(/-A SBX-PART -s/);
    expect(await faults.describe(2)).toMatch(new RegExp(`-A SBX-PART -s ${ip(1)}/32 -j DROP`));
    await faults.healPartition();
    for (const [a, b] of [
      [1, 2],
      [2, 1],
      [1, 3],
      [3, 1],
      [2, 3],
      [3, 2],
    ] as const)
      expect(await reachable(ns(a), ip(b), 9092)).toBe(true);
    expect(faults.inForce().blocks).toEqual([]);
  });

  it('packet loss drops packets at random; a bandwidth cap slows a transfer; both undone', async () => {
    const { network, faults } = cluster();
    const admin = `http://${network.names.brokerAddress(2)}:9090/metrics`;
    const fetchBytes = async (times: number): Promise<{ bytes: number; ms: number }> => {
      const started = Date.now();
      let bytes = 0;
      for (let i = 0; i < times; i++)
        bytes += (await (await fetch(admin, { signal: AbortSignal.timeout(20_000) })).arrayBuffer()).byteLength;
      return { bytes, ms: Date.now() - started };
    };
    await faults.loss(0.3);
    await fetchBytes(5);
    expect(await dropped(network.names.brokerNamespace(2), 'SBX-LOSS-IN')).toBeGreaterThan(0);
    await faults.clearLoss();
    expect(await faults.describe(2)).not.toMatch(/statistic/);

    const free = await fetchBytes(3);
    await faults.capBandwidth(2, { rate: '256kbit', burst: '32kb', latency: '500ms' });
    const capped = await fetchBytes(3);
    await faults.clearBandwidth();
    // 256 kbit/s is 32 KB/s: what exceeds the 32 KB bucket waits for it.
    const expectedMs = ((capped.bytes - 32 * 1024) / (32 * 1024)) * 1000;
    expect(capped.ms).toBeGreaterThan(Math.min(expectedMs * 0.6, 500));
    expect(capped.ms).toBeGreaterThan(free.ms * 3);
    expect(await faults.describe(2)).not.toMatch(/tbf/);
  });

  it("clock skew shifts the broker's Date.now() (its admin Date header), only on that broker, and is undone", async () => {
    const { faults } = cluster();
    await faults.skewClock(2, 45);
    const skewed = await faults.confirmClock(2, 45);
    expect(skewed).not.toBeNull();
    expect(Math.abs((skewed as number) - 45_000)).toBeLessThanOrEqual(1_500);
    expect(Math.abs((await faults.measureClockOffsetMs(1)) ?? Infinity)).toBeLessThanOrEqual(1_500);
    await faults.skewClock(2, -30);
    expect(Math.abs(((await faults.confirmClock(2, -30)) ?? Infinity) + 30_000)).toBeLessThanOrEqual(1_500);
    await faults.clearClocks();
    expect(Math.abs((await faults.confirmClock(2, 0)) ?? Infinity)).toBeLessThanOrEqual(1_500);
  });

  it('a full disk (ENOSPC) stops the broker that writes to it; freed and restarted it serves again', async () => {
    const { faults } = cluster();
    const brokers = cluster().cluster;
    const admin = new Admin({ bootstrapServers: cluster().bootstrapServers });
    await admin.createTopic({ name: 'disk', partitions: 1, replicationFactor: 3 });
    await admin.close();
    const filled = await faults.fillDisk(3);
    expect(filled).toBeGreaterThan(100 * 1024 * 1024);
    expect(() => writeFileSync(join(cluster().dataDir(3), 'probe'), Buffer.alloc(64 * 1024))).toThrow(/ENOSPC/);
    const producer = new Producer({
      bootstrapServers: cluster().bootstrapServers,
      acks: 'all',
      deliveryTimeoutMs: 20_000,
    });
    const deadline = Date.now() + 30_000;
    let n = 0;
    while (brokers.state(3) !== 'stopped' && Date.now() < deadline)
      await Promise.all(
        Array.from({ length: 20 }, () => producer.send({ topic: 'disk', value: `v${n++}` }).catch(() => undefined)),
      );
    expect(brokers.state(3)).toBe('stopped');
    expect(await brokers.logTail(3, 20)).toMatch(/No space left on device/);
    await faults.freeDisk(3);
    await brokers.restart(3, 60_000);
    await producer.send({ topic: 'disk', value: 'after' });
    await producer.close();
    expect(faults.inForce().filledDisks).toEqual([]);
  }, 90_000);

  it('close undoes every fault and removes every namespace, veth, mount and directory', async () => {
    const { faults, network } = cluster();
    await faults.isolate(2);
    await faults.loss(0.1);
    await faults.capBandwidth(1, { rate: '1mbit', burst: '32kb', latency: '100ms' });
    await faults.skewClock(1, 10);
    const done = await cluster().close();
    expect(done.join('\n')).toMatch(/undid partition/);
    expect(done.join('\n')).toMatch(/undid loss/);
    expect(await cluster().leftovers()).toEqual([]);
    expect(namespacesOfSlot(network.names.slot)).toEqual([]);
    expect(existsSync(network.runDir)).toBe(false);
    real = null;
  }, 60_000);
});

describe('real-network mode: clean-up when the owning process is interrupted or killed', () => {
  /** Starts the fixture owner; resolves its ready line. */
  function startOwner(): Promise<{ child: ReturnType<typeof spawn>; slot: number; runDir: string; pids: number[] }> {
    const child = spawn(process.execPath, ['--conditions=@streambus/source', '--import', 'tsx', fixture], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return new Promise((resolve, reject) => {
      let out = '';
      let err = '';
      child.stdout?.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const line = out.split('\n').find((l) => l.startsWith('{'));
        if (line !== undefined)
          resolve({ child, ...(JSON.parse(line) as { slot: number; runDir: string; pids: number[] }) });
      });
      child.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString()));
      child.once('exit', (code) => reject(new Error(`the owner exited (${code}) before it was ready: ${err}`)));
    });
  }

  function exited(child: ReturnType<typeof spawn>): Promise<number | null> {
    return new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
      else child.once('exit', (code) => resolve(code));
    });
  }

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`${signal} of the owner: its brokers are killed and its network, mounts and directory removed before it exits`, async () => {
      const owner = await startOwner();
      expect(namespacesOfSlot(owner.slot).length).toBe(4);
      owner.child.kill(signal);
      expect(await exited(owner.child)).toBe(signal === 'SIGINT' ? 130 : 143);
      expect(namespacesOfSlot(owner.slot)).toEqual([]);
      expect(mountsOf(owner.runDir)).toEqual([]);
      expect(existsSync(owner.runDir)).toBe(false);
      for (const pid of owner.pids) expect(processAlive(pid), `broker pid ${pid}`).toBe(false);
    }, 90_000);
  }

  it("SIGKILL of the owner leaves its brokers and network behind; the next run's sweep removes them", async () => {
    const owner = await startOwner();
    owner.child.kill('SIGKILL');
    await exited(owner.child);
    expect(namespacesOfSlot(owner.slot).length).toBe(4);
    expect(owner.pids.some(processAlive)).toBe(true);
    const removed = removeLeftovers();
    expect(removed.join('\n')).toMatch(new RegExp(`netns sbx-${owner.slot}-net`));
    expect(namespacesOfSlot(owner.slot)).toEqual([]);
    expect(mountsOf(owner.runDir)).toEqual([]);
    expect(existsSync(owner.runDir)).toBe(false);
    for (const pid of owner.pids) expect(processAlive(pid), `broker pid ${pid}`).toBe(false);
    const links = await new Promise<string>((resolve) =>
      execFile('ip', ['-o', 'link', 'show'], (_, stdout) => resolve(stdout)),
    );
    expect(links).not.toMatch(new RegExp(` sbx${owner.slot}h[:@]`));
  }, 90_000);
});
