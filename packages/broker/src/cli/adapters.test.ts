import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeStreamBusCluster } from '@streambus/client/testing';
import { computeBatchCrc } from '@streambus/proto';
import { batchEntry, openTempStore } from '@streambus/storage/testing';
import { createSdkClient } from './client-adapter.js';
import type { CliDeps } from './command.js';
import { runCli } from './run.js';
import { generatePki } from '../security/pki.js';
import { verifyWalWithStorage } from './storage-adapter.js';

function harness(stdin: readonly string[] = [], env: Readonly<Record<string, string>> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const deps: CliDeps = {
    io: {
      stdout: (text) => void out.push(text),
      stderr: (text) => void err.push(text),
      env,
      stdinLines: async function* () {
        yield* stdin;
      },
      signal: new AbortController().signal,
    },
    clientFactory: async (options) => createSdkClient(options),
    verifyWal: verifyWalWithStorage,
    startBroker: () => Promise.reject(new Error('these tests start no broker')),
  };
  return { deps, stdout: () => out.join(''), stderr: () => err.join('') };
}

describe('client verbs on the real SDK against the fake gRPC cluster', () => {
  let cluster: FakeStreamBusCluster;
  let bootstrap = '';
  beforeAll(async () => {
    cluster = await FakeStreamBusCluster.start({ brokers: 3 });
    bootstrap = cluster.bootstrapServers.join(',');
  });
  afterAll(async () => {
    await cluster.stop();
  });

  it('creates, lists, describes, produces to, consumes from and deletes a topic', async () => {
    const create = harness();
    expect(
      await runCli(['topic', 'create', 'events', '--partitions', '3', '--bootstrap', bootstrap], create.deps),
    ).toBe(0);
    expect(create.stdout()).toBe('created topic events (3 partitions)\n');
    const exists = harness();
    expect(await runCli(['topic', 'create', 'events', '--bootstrap', bootstrap], exists.deps)).toBe(1);
    expect(exists.stderr()).toContain('(TOPIC_ALREADY_EXISTS)');

    const list = harness();
    expect(await runCli(['topic', 'list', '--json', '-b', bootstrap], list.deps)).toBe(0);
    expect(JSON.parse(list.stdout())).toEqual({ topics: ['events'] });

    const one = harness();
    expect(
      await runCli(
        ['produce', 'events', '--partition', '1', '--key', 'k', '--value', 'hello', '-b', bootstrap],
        one.deps,
      ),
    ).toBe(0);
    expect(one.stdout()).toBe('partition 1 offset 0\n');
    const lines = harness(['a', 'b', 'c']);
    expect(await runCli(['produce', 'events', '--partition', '1', '--json', '-b', bootstrap], lines.deps)).toBe(0);
    expect(
      lines
        .stdout()
        .trimEnd()
        .split('\n')
        .map((line) => JSON.parse(line) as unknown),
    ).toEqual([
      { topic: 'events', partition: 1, offset: 1 },
      { topic: 'events', partition: 1, offset: 2 },
      { topic: 'events', partition: 1, offset: 3 },
    ]);

    const describeTopic = harness();
    expect(await runCli(['topic', 'describe', 'events', '--json', '-b', bootstrap], describeTopic.deps)).toBe(0);
    const described = JSON.parse(describeTopic.stdout()) as {
      partitions: Array<{ partition: number; high_watermark: number }>;
    };
    expect(described.partitions.map((partition) => [partition.partition, partition.high_watermark])).toEqual([
      [0, 0],
      [1, 4],
      [2, 0],
    ]);

    const consume = harness();
    expect(await runCli(['consume', 'events', '--from-beginning', '--limit', '4', '-b', bootstrap], consume.deps)).toBe(
      0,
    );
    expect(consume.stdout()).toBe('[1@0] k: hello\n[1@1] a\n[1@2] b\n[1@3] c\n');
    const fromOffset = harness();
    expect(
      await runCli(
        ['consume', 'events', '-P', '1', '--offset', '2', '--limit', '2', '--json', '-b', bootstrap],
        fromOffset.deps,
      ),
    ).toBe(0);
    expect(
      fromOffset
        .stdout()
        .trimEnd()
        .split('\n')
        .map((line) => (JSON.parse(line) as { value: string }).value),
    ).toEqual(['b', 'c']);

    const status = harness();
    expect(await runCli(['cluster', 'status', '--json', '-b', bootstrap], status.deps)).toBe(0);
    expect(JSON.parse(status.stdout())).toMatchObject({ brokers: expect.any(Array), topics: 1 });

    const remove = harness();
    expect(await runCli(['topic', 'delete', 'events', '-b', bootstrap], remove.deps)).toBe(0);
    const missing = harness();
    expect(await runCli(['topic', 'describe', 'events', '-b', bootstrap], missing.deps)).toBe(1);
    expect(missing.stderr()).toContain('(UNKNOWN_TOPIC_OR_PARTITION)');
  });

  it("reassigns partitions through Admin.reassignPartitions; the broker's errors keep their codes", async () => {
    const setup = harness();
    expect(await runCli(['topic', 'create', 'moves', '-p', '2', '-b', bootstrap], setup.deps)).toBe(0);
    const one = harness();
    expect(
      await runCli(['topic', 'reassign', 'moves', '--partition', '1', '--replicas', '3,1', '-b', bootstrap], one.deps),
    ).toBe(0);
    expect(one.stdout()).toContain('reassigning topic moves: partition 1 -> [3,1]\n');
    const several = harness();
    expect(
      await runCli(
        ['topic', 'reassign', 'moves', '--assignment', '0=2', '--assignment', '1=1,2,3', '--json', '-b', bootstrap],
        several.deps,
      ),
    ).toBe(0);
    expect(JSON.parse(several.stdout())).toEqual({
      topic: 'moves',
      reassignments: [
        { partition: 0, replicas: [2] },
        { partition: 1, replicas: [1, 2, 3] },
      ],
    });
    const describeTopic = harness();
    expect(await runCli(['topic', 'describe', 'moves', '--json', '-b', bootstrap], describeTopic.deps)).toBe(0);
    const described = JSON.parse(describeTopic.stdout()) as {
      partitions: Array<{ partition: number; replicas: number[] }>;
    };
    expect(described.partitions.map((partition) => [partition.partition, partition.replicas])).toEqual([
      [0, [2]],
      [1, [1, 2, 3]],
    ]);

    const unknownBroker = harness();
    expect(
      await runCli(
        ['topic', 'reassign', 'moves', '--partition', '0', '--replicas', '9', '-b', bootstrap],
        unknownBroker.deps,
      ),
    ).toBe(1);
    expect(unknownBroker.stderr()).toContain('(INVALID_REQUEST)');
    const unknownPartition = harness();
    expect(
      await runCli(
        ['topic', 'reassign', 'moves', '--partition', '5', '--replicas', '1', '-b', bootstrap],
        unknownPartition.deps,
      ),
    ).toBe(1);
    expect(unknownPartition.stderr()).toContain('(INVALID_PARTITIONS)');
    const unknownTopic = harness();
    expect(
      await runCli(
        ['topic', 'reassign', 'nope', '--partition', '0', '--replicas', '1', '-b', bootstrap],
        unknownTopic.deps,
      ),
    ).toBe(1);
    expect(unknownTopic.stderr()).toContain('(UNKNOWN_TOPIC_OR_PARTITION)');
    expect(await runCli(['topic', 'delete', 'moves', '-b', bootstrap], setup.deps)).toBe(0);
  });

  it('consume --group commits only what it printed; describe and reset-offsets go through Admin', async () => {
    cluster.createTopic('orders', 1);
    const produce = harness(['a', 'b', 'c', 'd', 'e']);
    expect(await runCli(['produce', 'orders', '-b', bootstrap], produce.deps)).toBe(0);
    const first = harness();
    const args = ['consume', 'orders', '--group', 'billing', '--from-beginning', '-b', bootstrap];
    expect(await runCli([...args, '--limit', '3'], first.deps)).toBe(0);
    expect(first.stdout()).toBe('[0@0] a\n[0@1] b\n[0@2] c\n');
    // The poll returned all five; the two not printed are not committed.
    expect(cluster.groups.committedOffset('billing', 'orders', 0)).toBe(3);
    const describe = harness();
    expect(await runCli(['consumer-groups', 'describe', 'billing', '--json', '-b', bootstrap], describe.deps)).toBe(0);
    expect((JSON.parse(describe.stdout()) as { partitions: unknown[] }).partitions).toEqual([
      { topic: 'orders', partition: 0, current_offset: 3, log_end_offset: 5, lag: 2, consumer_id: '', host: '' },
    ]);
    const second = harness();
    expect(await runCli([...args, '--limit', '2'], second.deps)).toBe(0);
    expect(second.stdout()).toBe('[0@3] d\n[0@4] e\n');
    const reset = harness();
    expect(
      await runCli(
        [
          'consumer-groups',
          'reset-offsets',
          'billing',
          '--topic',
          'orders',
          '--to-offset',
          '1',
          '--execute',
          '-b',
          bootstrap,
        ],
        reset.deps,
      ),
    ).toBe(0);
    expect(cluster.groups.committedOffset('billing', 'orders', 0)).toBe(1);
    const list = harness();
    expect(await runCli(['consumer-groups', 'list', '-b', bootstrap], list.deps)).toBe(0);
    expect(list.stdout()).toMatch(/billing\s+empty\s+0\s+1/);
  });

  it('the executable stops consuming on SIGINT and exits 0', async () => {
    const setup = harness();
    expect(await runCli(['topic', 'create', 'signals', '-p', '1', '-b', bootstrap], setup.deps)).toBe(0);
    expect(await runCli(['produce', 'signals', '--value', 'first', '-b', bootstrap], setup.deps)).toBe(0);
    const main = fileURLToPath(new URL('./main.ts', import.meta.url));
    const child = spawn(
      process.execPath,
      [
        '--conditions=@streambus/source',
        '--import',
        'tsx',
        main,
        'consume',
        'signals',
        '--from-beginning',
        '-b',
        bootstrap,
      ],
      {
        env: { PATH: process.env['PATH'] ?? '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        if (stdout.includes('\n')) resolve();
      });
      child.once('exit', () => reject(new Error(`consume exited early: ${stderr}`)));
    });
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(stdout).toBe('[0@0] first\n');
  });

  it('exits 3 when no broker answers', async () => {
    const down = await FakeStreamBusCluster.start({ brokers: 1 });
    const address = down.bootstrapServers[0] ?? '';
    await down.stop();
    const h = harness();
    expect(await runCli(['topic', 'list', '-b', address, '--timeout', '1s'], h.deps)).toBe(3);
  });
});

describe('wal verify on the storage verifier', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'streambus-wal-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('verifies a store directory, and refuses a missing one', async () => {
    const temp = await openTempStore();
    try {
      await temp.store.close();
      const h = harness();
      expect(await runCli(['wal', 'verify', temp.dir], h.deps)).toBe(0);
      expect(h.stdout()).toMatch(/^ok: .* \(0 groups, 0 entries, 0 batches, 0 records, 0 batch bytes\)\n$/);
    } finally {
      await rm(temp.dir, { recursive: true, force: true });
    }
    const missing = harness();
    expect(await runCli(['wal', 'verify', join(dir, 'nope')], missing.deps)).toBe(1);
    expect(missing.stderr()).toContain("is not a directory; give a broker's data directory (NO_SUCH_DATA_DIR)");
  });

  it('reports the group, index and offset of a batch whose CRC holds and whose records are malformed', async () => {
    const temp = await openTempStore();
    try {
      temp.store.openGroup(3, null);
      const good = batchEntry({ index: 1, term: 1, baseOffset: 0 });
      const bad = batchEntry({ index: 2, term: 1, baseOffset: 2 });
      const data = Buffer.from(bad.data);
      data[58 + 3] = 2; // record 0's offset delta: 1 instead of 0
      data.writeUInt32BE(computeBatchCrc(data), 14);
      await temp.store.persist(
        [{ groupId: 3, entries: [good, { ...bad, data }], hardState: null, snapshot: null }],
        true,
      );
      await temp.store.close();
      const h = harness();
      expect(await runCli(['wal', 'verify', temp.dir], h.deps)).toBe(1);
      expect(h.stdout()).toMatch(
        /^problem: group 3 index 2 offset 2: BAD_RECORDS: CORRUPT_RECORD: .*record 0 .*offset delta 1.*\nDAMAGED: /,
      );
    } finally {
      await rm(temp.dir, { recursive: true, force: true });
    }
  });
});

describe('security verbs on the real SDK against the fake cluster with users and ACLs', () => {
  let cluster: FakeStreamBusCluster;
  let env: Record<string, string> = {};
  beforeAll(async () => {
    cluster = await FakeStreamBusCluster.start({
      brokers: 1,
      security: { users: { admin: 'admin-secret' }, superUsers: ['admin'] },
    });
    cluster.createTopic('orders', 1);
    env = { STREAMBUS_BOOTSTRAP: cluster.bootstrapServers.join(','), STREAMBUS_SASL_USERNAME: 'admin' };
  });
  afterAll(async () => {
    await cluster.stop();
  });

  it('creates a user and an ACL; the user reads and may not write', async () => {
    const admin = { ...env, STREAMBUS_SASL_PASSWORD: 'admin-secret' };
    const alice = { ...env, STREAMBUS_SASL_USERNAME: 'alice', STREAMBUS_SASL_PASSWORD: 'alice-secret' };
    const anonymous = { STREAMBUS_BOOTSTRAP: env['STREAMBUS_BOOTSTRAP'] ?? '' };

    const refused = harness([], anonymous);
    expect(await runCli(['produce', 'orders', '--value', 'x'], refused.deps)).toBe(1);
    expect(refused.stderr()).toContain('requires authentication');
    expect(refused.stderr()).toContain('(AUTHENTICATION_FAILED)');

    const create = harness(['alice-secret'], admin);
    expect(await runCli(['user', 'create', 'alice', '--password-stdin'], create.deps)).toBe(0);
    const grant = harness([], admin);
    expect(
      await runCli(['acl', 'add', '--allow', 'user:alice', '--operation', 'read', '--topic', 'orders'], grant.deps),
    ).toBe(0);
    const list = harness([], admin);
    expect(await runCli(['user', 'list'], list.deps)).toBe(0);
    expect(list.stdout()).toContain('alice');

    const write = harness([], alice);
    expect(await runCli(['produce', 'orders', '--value', 'no'], write.deps)).toBe(1);
    expect(write.stderr()).toContain('user alice may not write topic orders');
    expect(write.stderr()).toContain('(AUTHORIZATION_FAILED)');

    const wrong = harness([], { ...alice, STREAMBUS_SASL_PASSWORD: 'guess' });
    expect(await runCli(['topic', 'list'], wrong.deps)).toBe(1);
    expect(wrong.stderr()).toContain('authentication failed for user alice');
    expect(cluster.records('orders', 0)).toEqual([]);
  });
});

describe('the streambus process with --tls-ca and SASL against the fake TLS cluster', () => {
  let cluster: FakeStreamBusCluster;
  let dir = '';
  let caCert = '';
  let otherCaCert = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'streambus-cli-tls-'));
    const pki = await generatePki({ dir: join(dir, 'pki'), brokerIds: [1] });
    const other = await generatePki({ dir: join(dir, 'other'), brokerIds: [], caName: 'another CA' });
    caCert = pki.caCert;
    otherCaCert = other.caCert;
    const broker = pki.brokers.get(1);
    if (broker === undefined) throw new Error('no broker certificate');
    cluster = await FakeStreamBusCluster.start({
      brokers: 1,
      tls: { cert: await readFile(broker.cert), key: await readFile(broker.key) },
      security: { users: { admin: 'admin-secret' }, superUsers: ['admin'] },
    });
    cluster.createTopic('secured', 1);
  }, 30_000);
  afterAll(async () => {
    await cluster.stop();
    await rm(dir, { recursive: true, force: true });
  });

  function streambus(
    args: readonly string[],
    env: Record<string, string>,
  ): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const main = fileURLToPath(new URL('./main.ts', import.meta.url));
    return new Promise((resolve) => {
      const child = spawn(process.execPath, ['--conditions=@streambus/source', '--import', 'tsx', main, ...args], {
        env: { PATH: process.env['PATH'] ?? '', STREAMBUS_BOOTSTRAP: cluster.bootstrapServers.join(','), ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      child.once('exit', (code) => resolve({ code, stdout, stderr }));
    });
  }

  it('lists topics over TLS with a SASL user, and names another CA in one line', async () => {
    const sasl = { STREAMBUS_SASL_USERNAME: 'admin', STREAMBUS_SASL_PASSWORD: 'admin-secret' };
    const listed = await streambus(['topic', 'list'], { STREAMBUS_TLS_CA: caCert, ...sasl });
    // No Node warning (grpc-js sets the IP address as the TLS server name) on stderr.
    expect(listed.stderr).toBe('');
    expect(listed).toMatchObject({ code: 0, stdout: 'secured\n' });

    const mistrusted = await streambus(['topic', 'list', '--tls-ca', otherCaCert], sasl);
    expect(mistrusted.code).toBe(1);
    expect(mistrusted.stderr).toMatch(
      /^streambus topic list: TLS handshake: certificate not signed by the configured CA \(.*\(TLS_HANDSHAKE_FAILED\)\n$/,
    );
  }, 60_000);
});
