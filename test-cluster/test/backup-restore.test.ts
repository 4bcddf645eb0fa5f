/**
 * Backup and restore through the CLI on real processes: `backup create` of a 3-broker cluster
 * while a producer writes, `backup list` and `backup verify` (and verify finding a damaged copy),
 * the cluster lost, `backup restore` into fresh data directories, a new cluster started on them:
 * it has the same topics (partitions, replication, configs) and every record acknowledged before
 * the backup's recorded offsets, at its offset, and nothing after them; a producer writes on at
 * those offsets. RPO and RTO are measured and printed.
 */
import { cp, mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Admin, Consumer, Producer } from '@streambus/client';
import { afterAll, describe, expect, it } from 'vitest';
import { TestCluster } from '../src/index.js';
import { runStreambus, useCluster } from './helpers.js';

interface Ack {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly value: string;
  readonly atMs: number;
}

interface ManifestJson {
  backup_id: string;
  recorded_at: string;
  completed_at: string;
  topics: {
    name: string;
    replication_factor: number;
    configs: Record<string, string>;
    partitions: { partition: number; start_offset: number; end_offset: number; file: string }[];
  }[];
}

const topics = [
  { name: 'orders', partitions: 6, replicationFactor: 3, configs: { 'retention.ms': '604800000' } },
  { name: 'audit', partitions: 2, replicationFactor: 2, configs: {} },
];
/**
 * The backup holds __consumer_offsets too (the groups' offsets; groups.offsets_topic_partitions,
 * default 12): a restored cluster has its groups back.
 */
const offsetsTopicPartitions = 12;
const partitionsBackedUp = topics.reduce((sum, topic) => sum + topic.partitions, offsetsTopicPartitions);

describe('backup and restore (real processes, CLI)', () => {
  const setup = useCluster('backup');
  const dirs: string[] = [];
  let restored: TestCluster | undefined;
  afterAll(async () => {
    await restored?.stopAll();
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it('restores every record acknowledged before the recorded offsets into a fresh cluster', async () => {
    const cluster = setup.cluster;
    const bootstrap = cluster.bootstrap;
    const backups = await mkdtemp(join(tmpdir(), 'streambus-backups-'));
    const target = await mkdtemp(join(tmpdir(), 'streambus-restored-'));
    dirs.push(backups, target);
    const admin = new Admin({ bootstrapServers: bootstrap.split(',') });
    for (const topic of topics) await admin.createTopic(topic);
    await admin.close();

    // A producer writes all along; what it was acknowledged, and when.
    const acks: Ack[] = [];
    const producer = new Producer({ bootstrapServers: bootstrap.split(','), lingerMs: 2 });
    let producing = true;
    let failed = 0;
    // Four writers, each one record at a time.
    const load = Promise.all(
      Array.from({ length: 4 }, async (_, writer) => {
        for (let i = writer; producing; i += 4) {
          const topic = i % 4 === 3 ? topics[1] : topics[0];
          if (topic === undefined) break;
          const value = `${topic.name}-${i}`;
          const partition = Math.floor(i / 4) % topic.partitions;
          await producer
            .send({ topic: topic.name, partition, value, key: `k${i % 7}` })
            .then((m) =>
              acks.push({ topic: m.topic, partition: m.partition, offset: m.offset, value, atMs: Date.now() }),
            )
            .catch(() => void (failed += 1));
        }
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, 3_000));

    const create = await runStreambus(['backup', 'create', '--dest', backups, '--json'], { bootstrap });
    expect(create.stderr).toContain('complete');
    expect(create.code).toBe(0);
    const created = JSON.parse(create.stdout) as { backup_id: string; partitions: number; records: number };
    expect(created.partitions).toBe(partitionsBackedUp);
    // The cluster keeps taking writes after the backup; then it is lost.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    producing = false;
    await load;
    await producer.close();
    const lostAtMs = Date.now();
    await cluster.stopAll();
    expect(failed).toBe(0);

    const list = await runStreambus(['backup', 'list', '--dest', backups, '--json']);
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout.trim())).toMatchObject({
      backupId: created.backup_id,
      partitions: partitionsBackedUp,
    });
    const verify = await runStreambus(['backup', 'verify', '--dest', backups, '--backup-id', created.backup_id]);
    expect(verify.stdout).toMatch(
      new RegExp(
        `^backup ${created.backup_id}: ok; ${partitionsBackedUp} partitions, \\d+ batches, ${created.records} records`,
      ),
    );
    expect(verify.code).toBe(0);
    const manifest = JSON.parse(
      await readFile(join(backups, created.backup_id, 'manifest.json'), 'utf8'),
    ) as ManifestJson;

    // A damaged copy is found out: one flipped byte in a partition file.
    const damaged = await mkdtemp(join(tmpdir(), 'streambus-damaged-'));
    dirs.push(damaged);
    await cp(join(backups, created.backup_id), join(damaged, created.backup_id), { recursive: true });
    // (The first partition file with records: __consumer_offsets, first in the manifest, holds none here.)
    const file =
      manifest.topics.flatMap((topic) => topic.partitions).find((p) => p.end_offset > p.start_offset)?.file ?? '';
    const handle = await open(join(damaged, created.backup_id, file), 'r+');
    const byte = Buffer.alloc(1);
    await handle.read(byte, 0, 1, 80);
    byte[0] = (byte[0] ?? 0) ^ 0xff;
    await handle.write(byte, 0, 1, 80);
    await handle.close();
    const bad = await runStreambus(['backup', 'verify', '--dest', damaged, '--backup-id', created.backup_id]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain('problem:');

    // Restore into fresh directories and start a new cluster on them.
    const restoreStarted = Date.now();
    const restore = await runStreambus([
      'backup',
      'restore',
      '--dest',
      backups,
      '--backup-id',
      created.backup_id,
      '--target',
      target,
    ]);
    expect(restore.stderr).not.toContain('streambus backup restore:');
    expect(restore.code).toBe(0);
    const restoredMs = Date.now();
    restored = await TestCluster.create({ size: 3, dataDir: target, logLevel: 'warn' });
    await restored.startAll(60_000);
    const readyMs = Date.now();
    const newBootstrap = restored.bootstrap;

    // Same topics.
    const describe = async (name: string) =>
      JSON.parse((await runStreambus(['topic', 'describe', name, '--json'], { bootstrap: newBootstrap })).stdout) as {
        partitions: { partition: number; replicas: number[] }[];
      };
    const listed = await runStreambus(['topic', 'list'], { bootstrap: newBootstrap });
    expect(listed.stdout.trim().split('\n').sort()).toEqual(['__consumer_offsets', 'audit', 'orders']);
    for (const topic of topics) {
      const described = await describe(topic.name);
      expect(described.partitions).toHaveLength(topic.partitions);
      expect(described.partitions.every((p) => p.replicas.length === topic.replicationFactor)).toBe(true);
    }
    const newAdmin = new Admin({ bootstrapServers: newBootstrap.split(',') });
    expect((await newAdmin.describeTopic('orders')).configs).toEqual(topics[0]?.configs);

    // Every record acknowledged below the recorded offsets, at its offset; nothing after them.
    const ends = new Map<string, number>();
    for (const topic of manifest.topics)
      for (const p of topic.partitions) ends.set(`${topic.name}/${p.partition}`, p.end_offset);
    const consumer = new Consumer({ bootstrapServers: newBootstrap.split(','), autoOffsetReset: 'earliest' });
    consumer.assign(
      topics.flatMap((t) => Array.from({ length: t.partitions }, (_, partition) => ({ topic: t.name, partition }))),
    );
    const read = new Map<string, string>();
    let firstReadMs = 0;
    const expected = [...ends.values()].reduce((sum, end) => sum + end, 0);
    const deadline = Date.now() + 60_000;
    while (read.size < expected && Date.now() < deadline) {
      for (const record of await consumer.poll(500)) {
        if (firstReadMs === 0) firstReadMs = Date.now();
        read.set(
          `${record.topic}/${record.partition}/${record.offset}`,
          Buffer.from(record.value ?? new Uint8Array()).toString(),
        );
      }
    }
    await consumer.close();
    const before = acks.filter((ack) => ack.offset < (ends.get(`${ack.topic}/${ack.partition}`) ?? 0));
    const after = acks.filter((ack) => ack.offset >= (ends.get(`${ack.topic}/${ack.partition}`) ?? 0));
    const missing = before.filter((ack) => read.get(`${ack.topic}/${ack.partition}/${ack.offset}`) !== ack.value);
    expect(missing).toEqual([]);
    expect(read.size).toBe(expected);
    expect(before.length).toBe(expected);
    const offsets = await newAdmin.listOffsets(
      [...ends.keys()].map((key) => ({ topic: key.split('/')[0] ?? '', partition: Number(key.split('/')[1]) })),
      'latest',
    );
    for (const answer of offsets) expect(answer.offset).toBe(ends.get(`${answer.topic}/${answer.partition}`));
    await newAdmin.close();

    // Writes go on at the recorded offsets (the restored producer ids are never reissued).
    const more = await runStreambus(['produce', 'orders', '--partition', '0'], {
      bootstrap: newBootstrap,
      stdin: 'after-restore\n',
    });
    expect(more.code).toBe(0);
    expect(more.stdout.trim()).toBe(`partition 0 offset ${ends.get('orders/0')}`);

    const recordedMs = Date.parse(manifest.recorded_at);
    const lastBeforeLoss = after.length === 0 ? recordedMs : Math.max(...after.map((ack) => ack.atMs));
    console.log(
      [
        `backup ${created.backup_id}: ${created.records} records in ${manifest.topics.length} topics, ${Date.parse(manifest.completed_at) - recordedMs} ms from the recorded offsets to its completion`,
        `RPO: the restore point is the recorded offsets; the cluster was lost ${lostAtMs - recordedMs} ms after them, and the ${after.length} records acknowledged meanwhile (the last ${lastBeforeLoss - recordedMs} ms after the restore point) are not in the backup`,
        `RTO: restore ${restoredMs - restoreStarted} ms + start to ready ${readyMs - restoredMs} ms + first read ${firstReadMs - readyMs} ms = ${firstReadMs - restoreStarted} ms from the restore command to the first record served`,
      ].join('\n'),
    );
  });
});
