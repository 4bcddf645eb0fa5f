/**
 * Consumer groups on 3 real broker processes (issue 11, item 4):
 *  1. the CLI: 10,000 records in a 6-partition topic, three `streambus consume T --group g`
 *     processes, one SIGKILLed mid-way; the survivors take over its partitions, every record is
 *     printed at least once over the three, and `consumer-groups describe g --json` ends at lag 0
 *     on every partition;
 *  2. the SDK: members join and leave while a producer runs; every acknowledged record is
 *     processed at least once, and no partition has two owners at the same time (the assigned
 *     and revoked callbacks, timestamped, give each owner's interval);
 *  2b. the CLI: a consumer stalled by SIGSTOP past the session timeout is removed, the others take
 *     its partitions, and once woken it is fenced (rejoins, commits nothing of what it lost): every
 *     record printed at least once, no committed offset ever goes back, lag 0 at the end;
 *  3. the SDK when the group's coordinator broker is SIGKILLed under load: the members follow the
 *     group to the new leader of its __consumer_offsets partition, every acknowledged record is
 *     processed at least once, and the commits go on (lag 0 at the end).
 * The brokers run with a 6 s group session timeout and 500 ms heartbeats, so that the killed member
 * is removed quickly.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Admin, Consumer, Producer, type TopicPartition } from '@streambus/client';
import { TestCluster, brokerBinPath } from '../src/index.js';
import { runStreambus } from './helpers.js';

const sessionTimeoutMs = 6_000;
let cluster: TestCluster | undefined;
let dir: string | undefined;

function bootstrap(): string {
  if (cluster === undefined) throw new Error('the cluster is not started');
  return cluster.bootstrap;
}

/** One `streambus consume` process and the records it printed. */
interface ConsumeProcess {
  readonly child: ChildProcess;
  readonly printed: { partition: number; offset: number; value: string }[];
  readonly exited: Promise<number | null>;
  stderr: string;
}

function startConsume(topic: string, group: string): ConsumeProcess {
  const child = spawn(process.execPath, [brokerBinPath(), 'consume', topic, '--group', group, '--from-beginning'], {
    env: { PATH: process.env['PATH'] ?? '', STREAMBUS_BOOTSTRAP: bootstrap() },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const proc: ConsumeProcess = {
    child,
    printed: [],
    stderr: '',
    exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))),
  };
  let buffered = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) {
      const match = /^\[(\d+)@(\d+)\] (.*)$/.exec(line);
      if (match !== null)
        proc.printed.push({ partition: Number(match[1]), offset: Number(match[2]), value: match[3] ?? '' });
    }
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (proc.stderr += chunk));
  return proc;
}

async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

async function produce(topic: string, from: number, count: number): Promise<void> {
  const producer = new Producer({ bootstrapServers: bootstrap().split(','), lingerMs: 5 });
  try {
    const sends: Promise<unknown>[] = [];
    for (let i = from; i < from + count; i++) sends.push(producer.send({ topic, key: `k${i}`, value: `r-${i}` }));
    await Promise.all(sends);
  } finally {
    await producer.close();
  }
}

describe('consumer groups on real brokers', () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'streambus-consumer-groups-'));
    cluster = await TestCluster.create({
      size: 3,
      dataDir: dir,
      logLevel: 'warn',
      env: {
        STREAMBUS_GROUPS_SESSION_TIMEOUT_MS: String(sessionTimeoutMs),
        STREAMBUS_GROUPS_HEARTBEAT_INTERVAL_MS: '500',
      },
    });
    await cluster.startAll(60_000);
  }, 90_000);
  afterAll(async () => {
    await cluster?.stopAll();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('three CLI consumers, one SIGKILLed mid-way: every record printed at least once, then lag 0', async () => {
    const admin = new Admin({ bootstrapServers: bootstrap().split(',') });
    const procs: ConsumeProcess[] = [];
    try {
      await admin.createTopic({ name: 'cg', partitions: 6, replicationFactor: 3 });
      for (let i = 0; i < 3; i++) procs.push(startConsume('cg', 'g'));
      const report = (): string =>
        procs.map((p, i) => `consumer ${i}: ${p.printed.length} printed, stderr: ${p.stderr.slice(-500)}`).join('; ');
      const distinct = (list: readonly ConsumeProcess[]): Set<string> =>
        new Set(list.flatMap((p) => p.printed.map((r) => r.value)));
      // The three share the partitions before the first record exists, so that each prints some.
      await waitFor(
        'three members, each owning partitions',
        async () => {
          const described = await runStreambus(['consumer-groups', 'describe', 'g', '--json'], {
            bootstrap: bootstrap(),
          });
          if (described.code !== 0) return false;
          const doc = JSON.parse(described.stdout) as { members: { assignment: unknown[] }[] };
          return doc.members.length === 3 && doc.members.every((m) => m.assignment.length > 0);
        },
        60_000,
      ).catch((error: unknown) => {
        throw new Error(`${String(error)}; ${report()}`);
      });
      await produce('cg', 0, 5_000);
      // Mid-way: all three printed some of the first half.
      await waitFor(
        'the three members to print records',
        () => procs.every((p) => p.printed.length > 0) && distinct(procs).size >= 2_500,
        60_000,
      ).catch((error: unknown) => {
        throw new Error(`${String(error)}; ${report()}`);
      });
      const [victim, ...survivors] = procs as [ConsumeProcess, ...ConsumeProcess[]];
      const victimPartitions = new Set(victim.printed.map((r) => r.partition));
      const killedAt = victim.printed.length;
      victim.child.kill('SIGKILL');
      await victim.exited;
      await produce('cg', 5_000, 5_000);
      await waitFor('every record printed at least once', () => distinct(procs).size >= 10_000, 120_000).catch(
        (error: unknown) => {
          throw new Error(`${String(error)}; ${distinct(procs).size} distinct; ${report()}`);
        },
      );
      expect(victim.printed.length).toBe(killedAt);
      const takenOver = new Set(survivors.flatMap((p) => p.printed.map((r) => r.partition)));
      for (const partition of victimPartitions) expect(takenOver.has(partition)).toBe(true);
      // Lag 0 once the survivors' auto-commits (1 s) caught up.
      let last = '';
      await waitFor(
        'consumer-groups describe g to show lag 0 on every partition',
        async () => {
          const described = await runStreambus(['consumer-groups', 'describe', 'g', '--json'], {
            bootstrap: bootstrap(),
          });
          last = described.stdout + described.stderr;
          if (described.code !== 0) return false;
          const doc = JSON.parse(described.stdout) as { partitions: { partition: number; lag: number }[] };
          return doc.partitions.length === 6 && doc.partitions.every((p) => p.lag === 0);
        },
        30_000,
      ).catch((error: unknown) => {
        throw new Error(`${String(error)}; last describe: ${last}`);
      });
      const cli = (args: readonly string[]) => runStreambus(args, { bootstrap: bootstrap() });
      const refused = await cli([
        'consumer-groups',
        'reset-offsets',
        'g',
        '--topic',
        'cg',
        '--to-earliest',
        '--execute',
      ]);
      expect({ code: refused.code, stderr: refused.stderr }).toMatchObject({ code: 1 });
      expect(refused.stderr).toContain('(NON_EMPTY_GROUP)');
      for (const survivor of survivors) survivor.child.kill('SIGTERM');
      for (const survivor of survivors) expect(await survivor.exited).toBe(0);
      const after = await runStreambus(['consumer-groups', 'describe', 'g', '--json'], { bootstrap: bootstrap() });
      expect(after.code).toBe(0);
      const doc = JSON.parse(after.stdout) as { state: string; partitions: { lag: number }[]; members: unknown[] };
      expect(doc.members).toEqual([]);
      expect(doc.partitions.map((p) => p.lag)).toEqual([0, 0, 0, 0, 0, 0]);
      const list = await runStreambus(['consumer-groups', 'list', '--json'], { bootstrap: bootstrap() });
      expect(list.stdout).toContain('"group":"g"');
      // Empty now: a reset is planned, then applied; then the group is deleted.
      type Plan = { executed: boolean; partitions: { current_offset: number; new_offset: number }[] };
      const dry = await cli(['consumer-groups', 'reset-offsets', 'g', '--topic', 'cg', '--to-earliest', '--json']);
      expect(dry.code).toBe(0);
      const plan = JSON.parse(dry.stdout) as Plan;
      expect(plan.executed).toBe(false);
      expect(plan.partitions.reduce((sum, p) => sum + p.current_offset, 0)).toBe(10_000);
      expect(plan.partitions.every((p) => p.new_offset === 0)).toBe(true);
      const applied = await cli([
        'consumer-groups',
        'reset-offsets',
        'g',
        '--topic',
        'cg',
        '--to-earliest',
        '--execute',
      ]);
      expect({ code: applied.code, stderr: applied.stderr }).toEqual({ code: 0, stderr: '' });
      const reset = JSON.parse((await cli(['consumer-groups', 'describe', 'g', '--json'])).stdout) as {
        partitions: { lag: number }[];
      };
      expect(reset.partitions.reduce((sum, p) => sum + p.lag, 0)).toBe(10_000);
      expect((await cli(['consumer-groups', 'delete', 'g'])).stdout).toBe('deleted group g\n');
      const gone = await cli(['consumer-groups', 'describe', 'g']);
      expect(gone.code).toBe(1);
      expect(gone.stderr).toContain('(GROUP_ID_NOT_FOUND)');
    } finally {
      for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
      await admin.close();
    }
  });

  it('a CLI consumer stalled (SIGSTOP) past the session timeout is fenced: the others take its partitions, its late commits move no offset back, every record printed at least once', async () => {
    const admin = new Admin({ bootstrapServers: bootstrap().split(',') });
    const procs: ConsumeProcess[] = [];
    const committed = new Map<string, number>();
    const backward: string[] = [];
    let sampling = true;
    let sampler: Promise<void> | undefined;
    try {
      await admin.createTopic({ name: 'cs', partitions: 6, replicationFactor: 3 });
      for (let i = 0; i < 3; i++) procs.push(startConsume('cs', 'gs'));
      const distinct = (): Set<string> => new Set(procs.flatMap((p) => p.printed.map((r) => r.value)));
      const members = async (): Promise<{ member_id: string; assignment: unknown[] }[]> => {
        const described = await runStreambus(['consumer-groups', 'describe', 'gs', '--json'], {
          bootstrap: bootstrap(),
        });
        if (described.code !== 0) return [];
        return (JSON.parse(described.stdout) as { members: { member_id: string; assignment: unknown[] }[] }).members;
      };
      await waitFor(
        'three members, each owning partitions',
        async () => {
          const list = await members();
          return list.length === 3 && list.every((m) => m.assignment.length > 0);
        },
        60_000,
      );
      // Committed offsets, sampled all along: none may ever go back (no reset runs here).
      sampler = (async () => {
        while (sampling) {
          const offsets = await admin.fetchOffsets('gs').catch(() => []);
          for (const o of offsets) {
            const key = `${o.topic}/${o.partition}`;
            const before = committed.get(key) ?? -1;
            if (o.offset < before) backward.push(`${key}: ${before} -> ${o.offset}`);
            committed.set(key, Math.max(before, o.offset));
          }
          await new Promise((resolve) => setTimeout(resolve, 250));
        }
      })();
      await produce('cs', 0, 3_000);
      await waitFor('each member to print records', () => procs.every((p) => p.printed.length > 0), 60_000);
      const victim = procs[0] as ConsumeProcess;
      victim.child.kill('SIGSTOP');
      const stoppedAt = victim.printed.length;
      // Past the session timeout the coordinator removes it and the other two share all six.
      await waitFor(
        'the stalled member removed, the other two owning every partition',
        async () => {
          const list = await members();
          return list.length === 2 && list.reduce((sum, m) => sum + m.assignment.length, 0) === 6;
        },
        sessionTimeoutMs + 30_000,
      );
      await produce('cs', 3_000, 3_000);
      victim.child.kill('SIGCONT');
      await waitFor('every record printed at least once', () => distinct().size >= 6_000, 120_000).catch(
        (error: unknown) => {
          throw new Error(`${String(error)}; ${distinct().size} distinct`);
        },
      );
      // The woken member learns it was removed (UNKNOWN_MEMBER_ID), drops its partitions without
      // committing and joins again: the group ends with three members and lag 0.
      let last = '';
      await waitFor(
        'lag 0 on every partition with three members again',
        async () => {
          const described = await runStreambus(['consumer-groups', 'describe', 'gs', '--json'], {
            bootstrap: bootstrap(),
          });
          last = described.stdout + described.stderr;
          if (described.code !== 0) return false;
          const doc = JSON.parse(described.stdout) as { members: unknown[]; partitions: { lag: number }[] };
          return doc.members.length === 3 && doc.partitions.length === 6 && doc.partitions.every((p) => p.lag === 0);
        },
        60_000,
      ).catch((error: unknown) => {
        throw new Error(`${String(error)}; last describe: ${last}; victim stderr: ${victim.stderr.slice(-800)}`);
      });
      expect(victim.printed.length).toBeGreaterThanOrEqual(stoppedAt);
      sampling = false;
      await sampler;
      expect(backward).toEqual([]);
      expect([...committed.values()].reduce((sum, offset) => sum + offset, 0)).toBe(6_000);
    } finally {
      sampling = false;
      await sampler;
      for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
      await admin.close();
    }
  });

  it('SDK members join and leave under a running producer: at least once, never two owners at once', async () => {
    const topic = 'cg-sdk';
    const admin = new Admin({ bootstrapServers: bootstrap().split(',') });
    await admin.createTopic({ name: topic, partitions: 6, replicationFactor: 3 });
    await admin.close();
    const started = performance.now();
    const now = (): number => performance.now() - started;
    /** Ownership intervals per partition: [member, from, to (undefined while owned)]. */
    const intervals = new Map<number, { member: string; from: number; to: number | undefined }[]>();
    const processed = new Set<string>();
    const acked = new Set<string>();

    interface Member {
      readonly name: string;
      readonly consumer: Consumer;
      stop: boolean;
      loop: Promise<void>;
    }
    const members: Member[] = [];
    const endInterval = (name: string, tps: readonly TopicPartition[]): void => {
      for (const tp of tps) {
        const open = intervals.get(tp.partition)?.find((i) => i.member === name && i.to === undefined);
        if (open !== undefined) open.to = now();
      }
    };
    const join = (name: string): void => {
      const consumer = new Consumer({
        bootstrapServers: bootstrap().split(','),
        groupId: 'g-sdk',
        autoOffsetReset: 'earliest',
        autoCommitIntervalMs: 500,
        onPartitionsAssigned: (tps) => {
          for (const tp of tps) {
            const list = intervals.get(tp.partition) ?? [];
            list.push({ member: name, from: now(), to: undefined });
            intervals.set(tp.partition, list);
          }
        },
        onPartitionsRevoked: (tps) => endInterval(name, tps),
        onPartitionsLost: (tps) => endInterval(name, tps),
      });
      consumer.subscribe([topic]);
      const member: Member = { name, consumer, stop: false, loop: Promise.resolve() };
      member.loop = (async () => {
        while (!member.stop)
          for (const record of await consumer.poll(200)) processed.add(record.value?.toString() ?? '');
      })();
      members.push(member);
    };
    const leave = async (name: string): Promise<void> => {
      const member = members.find((m) => m.name === name);
      if (member === undefined) return;
      member.stop = true;
      await member.loop;
      await member.consumer.close();
    };
    const producer = new Producer({ bootstrapServers: bootstrap().split(','), lingerMs: 5 });
    let producing = true;
    const producerLoop = (async () => {
      let i = 0;
      while (producing) {
        const batch: Promise<void>[] = [];
        for (let j = 0; j < 50; j++, i++) {
          const value = `s-${i}`;
          batch.push(producer.send({ topic, key: value, value }).then(() => void acked.add(value)));
        }
        await Promise.all(batch);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
    try {
      join('m1');
      await pause(3_000);
      join('m2');
      await pause(3_000);
      join('m3');
      await pause(3_000);
      await leave('m2');
      await pause(2_000);
      join('m4');
      await pause(3_000);
      await leave('m1');
      await pause(2_000);
      producing = false;
      await producerLoop;
      await waitFor('every acknowledged record processed', () => [...acked].every((v) => processed.has(v)), 60_000);
    } finally {
      producing = false;
      await producerLoop.catch(() => undefined);
      for (const m of members) if (!m.stop) await leave(m.name);
      await producer.close();
    }
    expect(acked.size).toBeGreaterThan(1_000);
    expect([...acked].filter((v) => !processed.has(v))).toEqual([]);
    // Never two owners at once: each partition's intervals, in time order, do not overlap.
    expect(intervals.size).toBe(6);
    for (const [partition, list] of intervals) {
      const sorted = [...list].sort((a, b) => a.from - b.from);
      for (let i = 1; i < sorted.length; i++) {
        const previous = sorted[i - 1] as { member: string; from: number; to: number | undefined };
        const next = sorted[i] as { member: string; from: number };
        expect({
          partition,
          previousEnd: previous.to,
          nextStart: next.from,
          ok: (previous.to ?? Infinity) <= next.from,
        }).toMatchObject({
          ok: true,
        });
      }
    }
  });

  it('SDK members keep consuming and committing when the coordinator broker is SIGKILLed', async () => {
    const topic = 'cg-failover';
    const servers = bootstrap().split(',');
    const admin = new Admin({ bootstrapServers: servers });
    await admin.createTopic({ name: topic, partitions: 6, replicationFactor: 3 });
    const processed = new Set<string>();
    const acked = new Set<string>();
    const members = [0, 1].map(() => {
      const consumer = new Consumer({
        bootstrapServers: servers,
        groupId: 'g-failover',
        autoOffsetReset: 'earliest',
        autoCommitIntervalMs: 500,
      });
      consumer.subscribe([topic]);
      const member = { consumer, stop: false, loop: Promise.resolve() };
      member.loop = (async () => {
        while (!member.stop)
          for (const record of await consumer.poll(200)) processed.add(record.value?.toString() ?? '');
      })();
      return member;
    });
    const producer = new Producer({ bootstrapServers: servers, lingerMs: 5 });
    let producing = true;
    const producerLoop = (async () => {
      let i = 0;
      while (producing) {
        const batch: Promise<void>[] = [];
        for (let j = 0; j < 50; j++, i++) {
          const value = `f-${i}`;
          batch.push(
            producer.send({ topic, key: value, value }).then(
              () => void acked.add(value),
              () => undefined,
            ),
          );
        }
        await Promise.all(batch);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    let victim = 0;
    try {
      await waitFor(
        'both members to own partitions and process records',
        () => members.every((m) => m.consumer.assignment().length > 0) && processed.size > 500,
        60_000,
      );
      victim = (await admin.describeGroup('g-failover')).coordinatorId;
      expect(victim).toBeGreaterThan(0);
      await (cluster as TestCluster).kill(victim);
      await new Promise((resolve) => setTimeout(resolve, 8_000));
      producing = false;
      await producerLoop;
      await waitFor('every acknowledged record processed', () => [...acked].every((v) => processed.has(v)), 90_000);
      await waitFor(
        'the group to commit everything (lag 0) through its new coordinator',
        async () => {
          const described = await admin.describeGroup('g-failover').catch(() => undefined);
          return (
            described !== undefined &&
            described.coordinatorId !== victim &&
            described.partitions.length === 6 &&
            described.partitions.every((p) => p.lag === 0)
          );
        },
        60_000,
      );
    } finally {
      producing = false;
      await producerLoop.catch(() => undefined);
      for (const m of members) {
        m.stop = true;
        await m.loop.catch(() => undefined);
        await m.consumer.close();
      }
      await producer.close();
      await admin.close();
      if (victim > 0) await (cluster as TestCluster).restart(victim);
    }
    expect(acked.size).toBeGreaterThan(1_000);
    expect([...acked].filter((v) => !processed.has(v))).toEqual([]);
  });
});
