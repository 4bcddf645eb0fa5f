import { afterAll, describe, expect, it } from 'vitest';
import { streambusVersion } from '../version.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type {
  CliAcl,
  CliClient,
  CliClientOptions,
  CliConsumeRequest,
  CliClusterFeatures,
  CliDrainStatus,
  CliGroupDescription,
  CliGroupListing,
  CliNewTopic,
  CliOffsetResetPlan,
  CliOffsetResetTarget,
  CliPartitionReassignment,
  CliProduceRecord,
  CliRecord,
  CliTopicDescription,
} from './client.js';
import type { CliDeps, CliIo } from './command.js';
import { runCli } from './run.js';

class TypedError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const encoder = new TextEncoder();

/** Makes a fake call never settle, like a request lost in a retry loop. */
class Hang extends Error {}

/** An in-memory cluster behind the CliClient interface; records every call. */
class FakeClient implements CliClient {
  readonly calls: string[] = [];
  readonly produced: CliProduceRecord[][] = [];
  readonly topics = new Map<string, CliTopicDescription>();
  consumeRequests: Array<Omit<CliConsumeRequest, 'signal'>> = [];
  records: CliRecord[] = [];
  failWith: TypedError | undefined;
  /** A call name (before its arguments) that fails with BROKER_NOT_AVAILABLE. */
  failOn: string | undefined;
  hang = false;
  closed = 0;

  private check(call: string): void {
    this.calls.push(call);
    if (this.hang) throw new Hang();
    if (this.failWith !== undefined) throw this.failWith;
    if (this.failOn !== undefined && call.split(' ')[0] === this.failOn)
      throw new TypedError('BROKER_NOT_AVAILABLE', `broker 3 is not reachable (${this.failOn})`);
  }

  async createTopic(topic: CliNewTopic): Promise<void> {
    this.check(`createTopic ${JSON.stringify(topic)}`);
    if (this.topics.has(topic.name)) throw new TypedError('TOPIC_ALREADY_EXISTS', `topic ${topic.name} exists already`);
    const partitions = Array.from({ length: topic.partitions ?? 1 }, (_, partition) => {
      const replicas = Array.from({ length: topic.replicationFactor ?? 1 }, (__, index) => index + 1);
      return { partition, leaderId: 1, replicas, inSyncReplicas: replicas, highWatermark: 0, logStartOffset: 0 };
    });
    this.topics.set(topic.name, { name: topic.name, partitions });
  }
  async listTopics(): Promise<readonly string[]> {
    try {
      this.check('listTopics');
    } catch (error: unknown) {
      if (error instanceof Hang) return new Promise<readonly string[]>(() => undefined);
      throw error;
    }
    return [...this.topics.keys()];
  }
  async describeTopic(name: string): Promise<CliTopicDescription> {
    this.check(`describeTopic ${name}`);
    const topic = this.topics.get(name);
    if (topic === undefined) throw new TypedError('UNKNOWN_TOPIC_OR_PARTITION', `unknown topic ${name}`);
    return topic;
  }
  async deleteTopic(name: string): Promise<void> {
    this.check(`deleteTopic ${name}`);
    if (!this.topics.delete(name)) throw new TypedError('UNKNOWN_TOPIC_OR_PARTITION', `unknown topic ${name}`);
  }
  /** Like the broker: all or none; the new lists are the topic's replicas at once (no background move here). */
  async reassignPartitions(topic: string, reassignments: readonly CliPartitionReassignment[]): Promise<void> {
    this.check(`reassignPartitions ${topic} ${JSON.stringify(reassignments)}`);
    const description = this.topics.get(topic);
    if (description === undefined)
      throw new TypedError('UNKNOWN_TOPIC_OR_PARTITION', `topic "${topic}": topic ${topic} does not exist`);
    const missing = reassignments.find(({ partition }) =>
      description.partitions.every((existing) => existing.partition !== partition),
    );
    if (missing !== undefined)
      throw new TypedError('INVALID_PARTITIONS', `topic "${topic}" partition ${missing.partition}: no such partition`);
    const targets = new Map(reassignments.map(({ partition, replicas }) => [partition, replicas]));
    this.topics.set(topic, {
      name: topic,
      partitions: description.partitions.map((partition) => ({
        ...partition,
        replicas: targets.get(partition.partition) ?? partition.replicas,
      })),
    });
  }
  async produce(
    records: readonly CliProduceRecord[],
  ): Promise<ReadonlyArray<{ topic: string; partition: number; offset: number }>> {
    this.check(`produce ${records.length}`);
    const offset = this.produced.flat().length;
    this.produced.push([...records]);
    return records.map((record, index) => ({
      topic: record.topic,
      partition: record.partition ?? 0,
      offset: offset + index,
    }));
  }
  async *consume(request: CliConsumeRequest): AsyncIterable<CliRecord> {
    this.check(`consume ${request.topic}`);
    const { signal, ...rest } = request;
    this.consumeRequests.push(rest);
    for (const record of this.records) {
      if (signal.aborted) return;
      yield record;
    }
    // Then wait for new records that never come, until aborted (Ctrl-C, --idle-timeout).
    await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
  }
  async clusterStatus() {
    this.check('clusterStatus');
    return {
      clusterId: 'streambus',
      controllerId: 2,
      brokers: [
        { id: 2, host: '127.0.0.1', port: 9093, alive: true, leaderCount: 3, replicaCount: 6, drained: false },
        { id: 1, host: '127.0.0.1', port: 9092, alive: true, leaderCount: 2, replicaCount: 6, drained: true },
        { id: 3, host: '127.0.0.1', port: 9094, alive: false, leaderCount: 0, replicaCount: 6, drained: false },
      ],
      underReplicatedPartitions: [{ topic: 'events', partition: 4 }],
      offlinePartitions: [],
      topicCount: 1,
      partitionCount: 6,
    };
  }
  /** Groups the drained broker still leads, answered by successive drain calls. */
  drainProgress: number[] = [0];
  async setBrokerDrained(brokerId: number | null, drained: boolean, waitMs: number): Promise<CliDrainStatus> {
    this.check(`setBrokerDrained ${brokerId} ${drained} ${waitMs}`);
    const groupsLed = drained ? (this.drainProgress.shift() ?? 0) : 0;
    return {
      brokerId: brokerId ?? 7,
      drained,
      groupsLed,
      controllerLeader: groupsLed > 1,
      partitionsLed: groupsLed > 0 ? [{ topic: 'events', partition: 2 }] : [],
    };
  }
  features: CliClusterFeatures = {
    finalizedLevel: 1,
    finalizableLevel: 2,
    brokers: [
      { brokerId: 1, version: '0.2.0', levelMin: 1, levelMax: 2, reachable: true, errorMessage: '' },
      { brokerId: 2, version: '', levelMin: 1, levelMax: 1, reachable: true, errorMessage: '' },
    ],
    levels: [
      { level: 1, summary: 'first' },
      { level: 2, summary: 'second' },
    ],
  };
  async describeFeatures(): Promise<CliClusterFeatures> {
    this.check('describeFeatures');
    return this.features;
  }
  async finalizeFeatureLevel(level: number | null, validateOnly: boolean) {
    this.check(`finalizeFeatureLevel ${level} ${validateOnly}`);
    const target = level ?? this.features.finalizableLevel;
    if (target > this.features.finalizableLevel)
      throw new TypedError('INVALID_REQUEST', `broker 2 reads feature levels up to 1, not ${target}; upgrade it first`);
    const previousLevel = this.features.finalizedLevel;
    if (!validateOnly) this.features = { ...this.features, finalizedLevel: target };
    return { finalizedLevel: target, previousLevel, brokers: this.features.brokers };
  }
  async exportControllerState(): Promise<never> {
    this.check('exportControllerState');
    throw new TypedError('UNSUPPORTED_VERSION', 'the fake client has no controller');
  }
  async listOffsets(): Promise<never> {
    this.check('listOffsets');
    throw new TypedError('UNSUPPORTED_VERSION', 'the fake client has no offsets');
  }
  async readBatches(): Promise<never> {
    this.check('readBatches');
    throw new TypedError('UNSUPPORTED_VERSION', 'the fake client has no batches');
  }
  groups = new Map<string, CliGroupDescription>();
  async listGroups(): Promise<readonly CliGroupListing[]> {
    this.check('listGroups');
    return [...this.groups.values()].map((g) => ({
      groupId: g.groupId,
      state: g.state,
      memberCount: g.members.length,
      coordinatorId: g.coordinatorId,
    }));
  }
  async describeGroup(groupId: string): Promise<CliGroupDescription> {
    this.check(`describeGroup ${groupId}`);
    const group = this.groups.get(groupId);
    if (group === undefined) throw new TypedError('GROUP_ID_NOT_FOUND', `group "${groupId}": no such group`);
    return group;
  }
  async deleteGroup(groupId: string): Promise<void> {
    this.check(`deleteGroup ${groupId}`);
    const group = this.groups.get(groupId);
    if (group === undefined) throw new TypedError('GROUP_ID_NOT_FOUND', `group "${groupId}": no such group`);
    if (group.members.length > 0) throw new TypedError('NON_EMPTY_GROUP', `group "${groupId}": the group has members`);
    this.groups.delete(groupId);
  }
  async resetOffsets(
    groupId: string,
    topic: string,
    to: CliOffsetResetTarget,
    execute: boolean,
  ): Promise<CliOffsetResetPlan> {
    this.check(`resetOffsets ${groupId} ${topic} ${JSON.stringify(to)} ${execute}`);
    const group = this.groups.get(groupId);
    const members = group?.members.length ?? 0;
    if (execute && members > 0)
      throw new TypedError(
        'NON_EMPTY_GROUP',
        `group "${groupId}" has members: stop its consumers before resetting its offsets`,
      );
    const newOffset = to === 'earliest' ? 0 : to === 'latest' ? 10 : 'offset' in to ? to.offset : 3;
    return {
      groupId,
      topic,
      executed: execute,
      memberCount: members,
      partitions: [0, 1].map((partition) => ({ partition, currentOffset: partition === 0 ? 7 : -1, newOffset })),
    };
  }
  readonly users = new Map<string, string>();
  acls: CliAcl[] = [];

  async createUser(name: string, password: string): Promise<void> {
    // The password is recorded only to check that it arrived intact; the real SDK never sends it.
    this.check(`createUser ${name}`);
    this.users.set(name, password);
  }

  async deleteUser(name: string): Promise<void> {
    this.check(`deleteUser ${name}`);
    if (!this.users.delete(name)) throw new TypedError('USER_NOT_FOUND', `user ${name}: no such user`);
  }

  async listUsers(): Promise<readonly { name: string; mechanism: string; iterations: number }[]> {
    this.check('listUsers');
    return [...this.users.keys()].map((name) => ({ name, mechanism: 'SCRAM-SHA-256', iterations: 4096 }));
  }

  async createAcls(acls: readonly CliAcl[]): Promise<void> {
    this.check(`createAcls ${JSON.stringify(acls)}`);
    this.acls.push(...acls);
  }

  async deleteAcls(acls: readonly CliAcl[]): Promise<number> {
    this.check(`deleteAcls ${JSON.stringify(acls)}`);
    const before = this.acls.length;
    const key = (acl: CliAcl): string => JSON.stringify([acl.principal, acl.permission, acl.operation, acl.resource]);
    const gone = new Set(acls.map(key));
    this.acls = this.acls.filter((acl) => !gone.has(key(acl)));
    return before - this.acls.length;
  }

  async listAcls(filter: { readonly principal?: string; readonly resource?: string }): Promise<readonly CliAcl[]> {
    this.check(`listAcls ${JSON.stringify(filter)}`);
    return this.acls.filter(
      (acl) =>
        (filter.principal === undefined || acl.principal === filter.principal) &&
        (filter.resource === undefined || acl.resource === filter.resource),
    );
  }

  async close(): Promise<void> {
    this.closed++;
  }
}

interface Harness {
  readonly deps: CliDeps;
  readonly client: FakeClient;
  readonly stdout: () => string;
  readonly stderr: () => string;
  readonly factoryOptions: CliClientOptions[];
  readonly interrupt: () => void;
}

function harness(
  options: { env?: Record<string, string>; stdin?: readonly string[]; secrets?: readonly string[] } = {},
): Harness {
  const out: string[] = [];
  const err: string[] = [];
  const client = new FakeClient();
  const factoryOptions: CliClientOptions[] = [];
  const controller = new AbortController();
  const secrets = [...(options.secrets ?? [])];
  const io: CliIo = {
    stdout: (text) => void out.push(text),
    stderr: (text) => void err.push(text),
    env: options.env ?? {},
    stdinLines: async function* () {
      yield* options.stdin ?? [];
    },
    signal: controller.signal,
    ...(options.secrets === undefined
      ? {}
      : {
          readSecret: (prompt: string) => {
            err.push(prompt);
            return Promise.resolve(secrets.shift());
          },
        }),
  };
  const deps: CliDeps = {
    io,
    clientFactory: async (clientOptions) => {
      factoryOptions.push(clientOptions);
      return client;
    },
    startBroker: () => Promise.reject(new Error('client verbs never start a broker')),
    verifyWal: () => Promise.reject(new Error('client verbs never verify a data directory')),
  };
  return {
    deps,
    client,
    stdout: () => out.join(''),
    stderr: () => err.join(''),
    factoryOptions,
    interrupt: () => controller.abort(),
  };
}

const lastJson = (text: string): unknown => JSON.parse(text.trimEnd().split('\n').at(-1) ?? '') as unknown;

const jsonLines = (text: string): unknown[] =>
  text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as unknown);

describe('streambus dispatcher', () => {
  it('--version prints the version', async () => {
    const h = harness();
    expect(await runCli(['--version'], h.deps)).toBe(0);
    expect(h.stdout()).toBe(`streambus ${streambusVersion}\n`);
  });

  it('--help lists every verb and the exit codes; no arguments is a usage error', async () => {
    const h = harness();
    expect(await runCli(['--help'], h.deps)).toBe(0);
    for (const verb of [
      'server',
      'topic create',
      'topic list',
      'topic describe',
      'topic delete',
      'topic reassign',
      'produce',
      'consume',
      'cluster status',
      'health',
      'config dump',
      'wal verify',
    ]) {
      expect(h.stdout()).toContain(`  ${verb} `);
    }
    expect(h.stdout()).toContain('3  unavailable or timed out');
    expect(await runCli([], harness().deps)).toBe(2);
  });

  it('--help per verb and per group', async () => {
    const h = harness();
    expect(await runCli(['topic', 'create', '--help'], h.deps)).toBe(0);
    expect(h.stdout()).toContain('usage: streambus topic create NAME');
    expect(h.stdout()).toContain('--replication-factor R');
    const group = harness();
    expect(await runCli(['topic', '--help'], group.deps)).toBe(0);
    expect(group.stdout()).toContain('usage: streambus topic <create|list|describe|delete|reassign>');
    const reassign = harness();
    expect(await runCli(['topic', 'reassign', '--help'], reassign.deps)).toBe(0);
    expect(reassign.stdout()).toContain(
      'usage: streambus topic reassign NAME (--partition P --replicas IDS | --assignment P=IDS [--assignment P=IDS ...])',
    );
    expect(reassign.stdout()).toContain('--assignment P=IDS');
    expect(reassign.client.calls).toEqual([]);
  });

  it('unknown verbs, subcommands and flags are usage errors with a suggestion', async () => {
    const verb = harness();
    expect(await runCli(['tpoic', 'list'], verb.deps)).toBe(2);
    expect(verb.stderr()).toContain('unknown command "tpoic"; did you mean "streambus topic"?');
    const sub = harness();
    expect(await runCli(['topic', 'lsit'], sub.deps)).toBe(2);
    expect(sub.stderr()).toContain('did you mean "streambus topic list"?');
    const flag = harness();
    expect(await runCli(['topic', 'list', '--jsn'], flag.deps)).toBe(2);
    expect(flag.stderr()).toContain("Unknown option '--jsn'");
    expect(flag.stderr()).toContain('usage: streambus topic list');
    expect(flag.client.calls).toEqual([]);
  });
});

describe('client verbs against a fake client', () => {
  it('topic create passes partitions and replication factor; human and --json output', async () => {
    const h = harness();
    expect(await runCli(['topic', 'create', 'events', '--partitions', '6', '--replication-factor', '3'], h.deps)).toBe(
      0,
    );
    expect(h.client.calls).toEqual(['createTopic {"name":"events","partitions":6,"replicationFactor":3}']);
    expect(h.stdout()).toBe('created topic events (6 partitions, replication factor 3)\n');
    expect(h.client.closed).toBe(1);
    const json = harness();
    expect(await runCli(['topic', 'create', 'orders', '-p', '2', '--json'], json.deps)).toBe(0);
    expect(jsonLines(json.stdout())).toEqual([{ topic: 'orders', created: true, partitions: 2 }]);
  });

  it('topic create refuses bad counts before contacting anyone', async () => {
    const h = harness();
    expect(await runCli(['topic', 'create', 'events', '--partitions', 'six'], h.deps)).toBe(2);
    expect(h.stderr()).toContain('--partitions must be a whole number, got "six"');
    expect(await runCli(['topic', 'create', 'events', '--partitions', '0'], h.deps)).toBe(2);
    expect(await runCli(['topic', 'create'], h.deps)).toBe(2);
    expect(await runCli(['topic', 'create', 'a', 'b'], h.deps)).toBe(2);
    expect(h.client.calls).toEqual([]);
  });

  it('an existing topic fails with exit 1 and its code, unless --if-not-exists', async () => {
    const h = harness();
    await runCli(['topic', 'create', 'events'], h.deps);
    expect(await runCli(['topic', 'create', 'events'], h.deps)).toBe(1);
    expect(h.stderr()).toBe('streambus topic create: topic events exists already (TOPIC_ALREADY_EXISTS)\n');
    expect(await runCli(['topic', 'create', 'events', '--if-not-exists'], h.deps)).toBe(0);
    const json = harness();
    await runCli(['topic', 'create', 'events'], json.deps);
    expect(await runCli(['topic', 'create', 'events', '--json'], json.deps)).toBe(1);
    expect(jsonLines(json.stderr())).toEqual([
      { error: { code: 'TOPIC_ALREADY_EXISTS', message: 'topic events exists already' } },
    ]);
  });

  it('topic list, describe and delete', async () => {
    const h = harness();
    await runCli(['topic', 'create', 'b', '-p', '2', '-r', '3'], h.deps);
    await runCli(['topic', 'create', 'a'], h.deps);
    const list = harness();
    list.client.topics.set('b', h.client.topics.get('b') as CliTopicDescription);
    list.client.topics.set('a', h.client.topics.get('a') as CliTopicDescription);
    expect(await runCli(['topic', 'list'], list.deps)).toBe(0);
    expect(list.stdout()).toBe('a\nb\n');
    expect(await runCli(['topic', 'list', '--json'], list.deps)).toBe(0);
    expect(lastJson(list.stdout())).toEqual({ topics: ['a', 'b'] });

    const describe = harness();
    describe.client.topics.set('b', {
      name: 'b',
      partitions: [
        { partition: 1, leaderId: 0, replicas: [2, 3, 1], inSyncReplicas: [2, 3], highWatermark: 7, logStartOffset: 0 },
        {
          partition: 0,
          leaderId: 1,
          replicas: [1, 2, 3],
          inSyncReplicas: [1, 2, 3],
          highWatermark: 120,
          logStartOffset: 100,
        },
      ],
    });
    expect(await runCli(['topic', 'describe', 'b'], describe.deps)).toBe(0);
    expect(describe.stdout()).toBe(
      [
        'topic b: 2 partitions, replication factor 3, 1 under-replicated',
        'PARTITION  LEADER  REPLICAS  ISR    HIGH-WATERMARK  LOG-START',
        '0          1       1,2,3     1,2,3  120             100',
        '1          none    2,3,1     2,3    7               0',
        '',
      ].join('\n'),
    );
    expect(await runCli(['topic', 'describe', 'b', '--json'], describe.deps)).toBe(0);
    expect(lastJson(describe.stdout())).toEqual({
      topic: 'b',
      partitions: [
        { partition: 1, leader: 0, replicas: [2, 3, 1], isr: [2, 3], high_watermark: 7, log_start_offset: 0 },
        { partition: 0, leader: 1, replicas: [1, 2, 3], isr: [1, 2, 3], high_watermark: 120, log_start_offset: 100 },
      ],
    });
    expect(await runCli(['topic', 'describe', 'nope'], describe.deps)).toBe(1);
    expect(describe.stderr()).toContain('unknown topic nope (UNKNOWN_TOPIC_OR_PARTITION)');

    expect(await runCli(['topic', 'delete', 'b'], describe.deps)).toBe(0);
    expect(await runCli(['topic', 'delete', 'b'], describe.deps)).toBe(1);
    expect(await runCli(['topic', 'delete', 'b', '--if-exists', '--json'], describe.deps)).toBe(0);
    expect(lastJson(describe.stdout())).toEqual({ topic: 'b', deleted: false });
  });

  it('produce --value sends one record and prints its partition and offset', async () => {
    const h = harness();
    expect(await runCli(['produce', 'events', '--partition', '2', '--key', 'k1', '--value', 'hello'], h.deps)).toBe(0);
    expect(h.client.produced).toEqual([
      [{ topic: 'events', partition: 2, key: encoder.encode('k1'), value: encoder.encode('hello') }],
    ]);
    expect(h.stdout()).toBe('partition 2 offset 0\n');
  });

  it('produce without --value sends one record per stdin line, in bounded batches, --json per record', async () => {
    const lines = Array.from({ length: 1203 }, (_, index) => `line ${index}`);
    const h = harness({ stdin: lines });
    expect(await runCli(['produce', 'events', '--json'], h.deps)).toBe(0);
    expect(h.client.produced.map((batch) => batch.length)).toEqual([500, 500, 203]);
    expect(h.client.produced.flat().map((record) => new TextDecoder().decode(record.value))).toEqual(lines);
    const printed = jsonLines(h.stdout());
    expect(printed).toHaveLength(1203);
    expect(printed[1202]).toEqual({ topic: 'events', partition: 0, offset: 1202 });
  });

  it('consume --from-beginning --limit prints records and stops', async () => {
    const h = harness();
    h.client.records = [0, 1, 2].map((offset) => ({
      topic: 'events',
      partition: 1,
      offset,
      timestampMs: 1_700_000_000_000 + offset,
      key: offset === 0 ? null : encoder.encode(`k${offset}`),
      value: encoder.encode(`v${offset}`),
    }));
    expect(await runCli(['consume', 'events', '--from-beginning', '--limit', '2'], h.deps)).toBe(0);
    expect(h.stdout()).toBe('[1@0] v0\n[1@1] k1: v1\n');
    expect(h.client.consumeRequests).toEqual([{ topic: 'events', start: 'beginning' }]);

    const json = harness();
    json.client.records = h.client.records;
    expect(
      await runCli(['consume', 'events', '-P', '1', '--offset', '1', '--json', '--idle-timeout', '20ms'], json.deps),
    ).toBe(0);
    expect(json.client.consumeRequests).toEqual([{ topic: 'events', partition: 1, start: { offset: 1 } }]);
    expect(jsonLines(json.stdout())).toEqual([
      { topic: 'events', partition: 1, offset: 0, timestamp_ms: 1_700_000_000_000, key: null, value: 'v0' },
      { topic: 'events', partition: 1, offset: 1, timestamp_ms: 1_700_000_000_001, key: 'k1', value: 'v1' },
      { topic: 'events', partition: 1, offset: 2, timestamp_ms: 1_700_000_000_002, key: 'k2', value: 'v2' },
    ]);
  });

  it('consume stops cleanly on Ctrl-C', async () => {
    const h = harness();
    const running = runCli(['consume', 'events'], h.deps);
    await new Promise((resolve) => setTimeout(resolve, 10));
    h.interrupt();
    expect(await running).toBe(0);
    expect(h.client.consumeRequests).toEqual([{ topic: 'events', start: 'end' }]);
  });

  it('consume refuses contradictory start positions', async () => {
    const h = harness();
    expect(await runCli(['consume', 'events', '--from-beginning', '--offset', '3', '--partition', '0'], h.deps)).toBe(
      2,
    );
    expect(h.stderr()).toContain('--from-beginning and --offset exclude each other');
    expect(await runCli(['consume', 'events', '--offset', '3'], h.deps)).toBe(2);
    expect(h.stderr()).toContain('--offset needs --partition');
    expect(h.client.calls).toEqual([]);
  });

  it('cluster status: brokers, controller, leaders per broker, under-replicated partitions', async () => {
    const h = harness();
    expect(await runCli(['cluster', 'status'], h.deps)).toBe(0);
    expect(h.stdout()).toBe(
      [
        'cluster streambus: controller broker 2, 3 brokers, 1 topics, 6 partitions',
        'BROKER  ADDRESS         ALIVE  DRAINED  LEADERS  REPLICAS',
        '1       127.0.0.1:9092  yes    yes      2        6',
        '2       127.0.0.1:9093  yes    no       3        6',
        '3       127.0.0.1:9094  NO     no       0        6',
        'under-replicated partitions: events-4',
        'offline partitions: none',
        'consumer groups: 0, none with lag over 10000 records',
        '',
      ].join('\n'),
    );
    const json = harness();
    expect(await runCli(['cluster', 'status', '--json'], json.deps)).toBe(0);
    expect(jsonLines(json.stdout())[0]).toMatchObject({
      cluster_id: 'streambus',
      controller: 2,
      brokers: expect.arrayContaining([
        { id: 3, address: '127.0.0.1:9094', alive: false, drained: false, leaders: 0, replicas: 6 },
      ]),
      under_replicated: [{ topic: 'events', partition: 4 }],
    });
    const alias = harness();
    expect(await runCli(['status'], alias.deps)).toBe(0);
    expect(alias.stdout()).toBe(h.stdout());
  });

  it('broker drain repeats the drain call, printing progress, until the broker leads nothing', async () => {
    const h = harness();
    h.client.drainProgress = [2, 1, 0];
    expect(await runCli(['broker', 'drain', '--broker', '3'], h.deps)).toBe(0);
    expect(h.client.calls).toEqual([
      'setBrokerDrained 3 true 2000',
      'setBrokerDrained 3 true 2000',
      'setBrokerDrained 3 true 2000',
    ]);
    expect(h.stderr()).toMatch(
      /^broker 3: draining, still leads 2 groups \(the controller, events-2\) \(\d+\.\ds of 60s\)\n/,
    );
    expect(h.stderr()).toContain('broker 3: draining, still leads 1 group (events-2)');
    expect(h.stdout()).toBe(
      'broker 3 drained: it leads nothing and is no preferred leader until: streambus broker undrain --broker 3\n',
    );
    expect(h.factoryOptions[0]?.timeoutMs).toBe(60_000);
  });

  it('broker drain without --broker means the single bootstrap broker; several addresses need --broker', async () => {
    const h = harness();
    expect(await runCli(['broker', 'drain', '--bootstrap', 'b1:9092', '--json'], h.deps)).toBe(0);
    expect(h.client.calls).toEqual(['setBrokerDrained null true 2000']);
    expect(lastJson(h.stdout())).toEqual({
      broker: 7,
      drained: true,
      groups_led: 0,
      controller_leader: false,
      partitions_led: [],
    });
    const several = harness();
    expect(await runCli(['broker', 'drain', '--bootstrap', 'b1:9092,b2:9092'], several.deps)).toBe(2);
    expect(several.stderr()).toContain('--bootstrap lists several brokers: say which one with --broker ID');
    expect(several.client.calls).toEqual([]);
  });

  it('broker drain gives up at --timeout with exit 3 and says what the broker still leads', async () => {
    const h = harness();
    h.client.drainProgress = [4, 4, 4, 4, 4, 4];
    expect(await runCli(['broker', 'drain', '--broker', '2', '--timeout', '1s'], h.deps)).toBe(3);
    expect(h.stderr()).toContain('streambus broker drain: broker 2 still leads 4 groups');
    expect(h.stderr()).toContain('it stays drained, run drain again or undrain it (TIMEOUT)');
  });

  it('broker undrain records the flag once', async () => {
    const h = harness();
    expect(await runCli(['broker', 'undrain', '--broker', '2'], h.deps)).toBe(0);
    expect(h.client.calls).toEqual(['setBrokerDrained 2 false 0']);
    expect(h.stdout()).toBe('broker 2 undrained: leaders hand its preferred partitions back once it is in sync\n');
    expect(await runCli(['broker', 'undrain', '--broker', '0'], h.deps)).toBe(2);
  });

  it('features describe shows the finalized level and what each broker reads', async () => {
    const h = harness();
    expect(await runCli(['features', 'describe'], h.deps)).toBe(0);
    expect(h.stdout()).toBe(
      [
        'finalized feature level 1; every broker reads up to 2',
        'BROKER  VERSION         READS LEVELS',
        '1       0.2.0           1..2',
        '2       0.1.0 or older  1..1',
        'level 1 (on): first',
        'level 2: second',
        '',
      ].join('\n'),
    );
  });

  it('features finalize: the default level, --level, --dry-run, and a refusal with the reason', async () => {
    const h = harness();
    expect(await runCli(['features', 'finalize', '--dry-run'], h.deps)).toBe(0);
    expect(h.stdout()).toBe('feature level 2 can be finalized: every broker reads it (nothing changed)\n');
    expect(h.client.features.finalizedLevel).toBe(1);
    expect(await runCli(['features', 'finalize', '--level', '3'], h.deps)).toBe(1);
    expect(h.stderr()).toBe(
      'streambus features finalize: broker 2 reads feature levels up to 1, not 3; upgrade it first (INVALID_REQUEST)\n',
    );
    expect(await runCli(['features', 'finalize', '--json'], h.deps)).toBe(0);
    expect(lastJson(h.stdout())).toEqual({ finalized_level: 2, previous_level: 1, dry_run: false });
    expect(await runCli(['features', 'finalize'], h.deps)).toBe(0);
    expect(h.stdout()).toContain(
      'feature level 2 is finalized already; nothing to raise (no higher level is read by every broker)\n',
    );
    expect(h.client.calls).toEqual([
      'finalizeFeatureLevel null true',
      'finalizeFeatureLevel 3 false',
      'finalizeFeatureLevel null false',
      'finalizeFeatureLevel null false',
    ]);
  });

  it('compatibility check --version: compatible, a downgrade past the finalized level, an unknown version', async () => {
    const h = harness();
    expect(await runCli(['compatibility', 'check', '--version', '0.2.0'], h.deps)).toBe(0);
    expect(h.stdout()).toContain(
      'compatible: StreamBus 0.2.0 reads feature levels 1..3, and this cluster is at level 1: replace brokers one at a time',
    );
    expect(h.stdout()).toContain(
      'then: once every broker runs 0.2.0, streambus features finalize turns on levels 2..3;',
    );
    const down = harness();
    down.client.features = { ...down.client.features, finalizedLevel: 2 };
    expect(await runCli(['compatibility', 'check', '--version', '0.1.0', '--json'], down.deps)).toBe(1);
    expect(lastJson(down.stdout())).toMatchObject({ version: '0.1.0', compatible: false, finalized_level: 2 });
    const unknown = harness();
    expect(await runCli(['compatibility', 'check', '--version', '9.9.9'], unknown.deps)).toBe(1);
    expect(unknown.stdout()).toContain('StreamBus 9.9.9 is unknown to this CLI');
    expect(await runCli(['compatibility', 'check'], unknown.deps)).toBe(2);
  });

  it('compatibility check reads a cluster that predates feature levels as level 1', async () => {
    const h = harness();
    h.client.failWith = new TypedError('UNSUPPORTED_VERSION', 'older');
    expect(await runCli(['compatibility', 'check', '--version', '0.2.0'], h.deps)).toBe(0);
    expect(h.stdout()).toContain('this cluster is at level 1');
  });

  it('maps unavailable and timeout errors to exit 3, other failures to exit 1', async () => {
    for (const [code, exitCode] of [
      ['BROKER_NOT_AVAILABLE', 3],
      ['REQUEST_TIMED_OUT', 3],
      ['NOT_ENOUGH_REPLICAS', 3],
      ['INVALID_REPLICATION_FACTOR', 1],
      ['INTERNAL', 1],
      ['INVALID_CONFIG', 2],
    ] as const) {
      const h = harness();
      h.client.failWith = new TypedError(code, 'nope');
      expect(await runCli(['cluster', 'status'], h.deps)).toBe(exitCode);
      expect(h.client.closed).toBe(1);
    }
  });

  it('--bootstrap, else STREAMBUS_BOOTSTRAP, else 127.0.0.1:9092; --timeout', async () => {
    const byDefault = harness();
    await runCli(['topic', 'list'], byDefault.deps);
    expect(byDefault.factoryOptions).toEqual([{ bootstrap: ['127.0.0.1:9092'], timeoutMs: 10_000 }]);
    const byEnv = harness({ env: { STREAMBUS_BOOTSTRAP: 'a:1, b:2' } });
    await runCli(['topic', 'list', '--timeout', '2s'], byEnv.deps);
    expect(byEnv.factoryOptions).toEqual([{ bootstrap: ['a:1', 'b:2'], timeoutMs: 2000 }]);
    const byFlag = harness({ env: { STREAMBUS_BOOTSTRAP: 'a:1' } });
    await runCli(['topic', 'list', '--bootstrap', 'c:3'], byFlag.deps);
    expect(byFlag.factoryOptions[0]?.bootstrap).toEqual(['c:3']);
    const bad = harness();
    expect(await runCli(['topic', 'list', '-b', 'nohost'], bad.deps)).toBe(2);
    expect(bad.stderr()).toContain('--bootstrap: "nohost" is not HOST:PORT');
    expect(await runCli(['topic', 'list', '--timeout', '10'], bad.deps)).toBe(2);
  });

  it('an operation that never settles ends at --timeout with exit 3', async () => {
    const h = harness();
    h.client.hang = true;
    expect(await runCli(['topic', 'list', '--timeout', '100ms'], h.deps)).toBe(3);
    expect(h.stderr()).toBe(
      'streambus topic list: topic list did not finish within 1100ms; is the cluster reachable? (TIMEOUT)\n',
    );
    expect(h.client.closed).toBe(1);
  });
});

describe('topic reassign against a fake client', () => {
  const withTopic = (): Harness => {
    const h = harness();
    h.client.topics.set('events', {
      name: 'events',
      partitions: [0, 1, 2].map((partition) => ({
        partition,
        leaderId: 1,
        replicas: [1, 2, 3],
        inSyncReplicas: [1, 2, 3],
        highWatermark: 0,
        logStartOffset: 0,
      })),
    });
    return h;
  };

  it('--partition/--replicas moves one partition and says the move runs in the background', async () => {
    const h = withTopic();
    expect(await runCli(['topic', 'reassign', 'events', '--partition', '0', '--replicas', '1,2,4'], h.deps)).toBe(0);
    expect(h.client.calls).toEqual(['reassignPartitions events [{"partition":0,"replicas":[1,2,4]}]']);
    expect(h.stdout()).toBe(
      'reassigning topic events: partition 0 -> [1,2,4]\n' +
        'the move proceeds in the background (new replicas join and catch up, then old ones leave); ' +
        'watch it with: streambus topic describe events (REPLICAS is the target, ISR the replicas caught up)\n',
    );
    expect(h.stderr()).toBe('');
    expect(h.client.closed).toBe(1);
    expect(h.client.topics.get('events')?.partitions.map((partition) => partition.replicas)).toEqual([
      [1, 2, 4],
      [1, 2, 3],
      [1, 2, 3],
    ]);
  });

  it('repeated --assignment moves several partitions in one request, in the order given; --json', async () => {
    const h = withTopic();
    const argv = ['topic', 'reassign', 'events', '--assignment', '2=4,5', '--assignment', ' 0 = 3, 1 ,2', '--json'];
    expect(await runCli(argv, h.deps)).toBe(0);
    expect(h.client.calls).toEqual([
      'reassignPartitions events [{"partition":2,"replicas":[4,5]},{"partition":0,"replicas":[3,1,2]}]',
    ]);
    expect(jsonLines(h.stdout())).toEqual([
      {
        topic: 'events',
        reassignments: [
          { partition: 2, replicas: [4, 5] },
          { partition: 0, replicas: [3, 1, 2] },
        ],
      },
    ]);
    const human = withTopic();
    expect(
      await runCli(['topic', 'reassign', 'events', '--assignment', '1=2,3,4', '--assignment', '0=1'], human.deps),
    ).toBe(0);
    expect(human.stdout().split('\n').slice(0, 2)).toEqual([
      'reassigning topic events: partition 1 -> [2,3,4]',
      'reassigning topic events: partition 0 -> [1]',
    ]);
  });

  it('refuses bad input with one line and exit 2, before contacting anyone', async () => {
    const cases: ReadonlyArray<readonly [readonly string[], string]> = [
      [[], 'nothing to reassign; give --partition P --replicas IDS, or --assignment P=IDS (repeatable)'],
      [['--partition', '0'], '--partition needs --replicas'],
      [['--replicas', '1,2'], '--replicas needs --partition'],
      [
        ['--partition', '0', '--replicas', '1,2', '--assignment', '1=1,2'],
        '--assignment and --partition/--replicas exclude each other',
      ],
      [['--partition', '-1', '--replicas', '1'], "Option '--partition' argument is ambiguous"],
      [['--partition=-1', '--replicas', '1'], '--partition must be a whole number, got "-1"'],
      [['--partition', 'one', '--replicas', '1'], '--partition must be a whole number, got "one"'],
      [['--partition', '10000', '--replicas', '1'], '--partition must be in 0..9999, got 10000'],
      [['--partition', '0', '--replicas', ''], '--replicas: no replicas; give broker ids like 1,2,4'],
      [['--partition', '0', '--replicas', '1,,2'], '--replicas: "" is not a broker id (a whole number from 1)'],
      [['--partition', '0', '--replicas', '1,b'], '--replicas: "b" is not a broker id (a whole number from 1)'],
      [['--partition', '0', '--replicas', '0,1'], '--replicas: broker id 0 is outside 1..2147483647'],
      [['--partition', '0', '--replicas', '1,2147483648'], '--replicas: broker id 2147483648 is outside 1..2147483647'],
      [['--partition', '0', '--replicas', '1,2,1'], '--replicas: broker 1 is listed twice; replicas must be distinct'],
      [['--partition', '0', '--replicas', '1,2,3,4,5,6,7,8'], '--replicas: 8 replicas, at most 7 per partition'],
      [['--assignment', '0:1,2'], '--assignment must be PARTITION=BROKER,BROKER,... (e.g. 0=1,2,4), got "0:1,2"'],
      [['--assignment', 'x=1,2'], '--assignment x=1,2: the partition must be a whole number, got "x"'],
      [['--assignment', '=1,2'], '--assignment =1,2: the partition must be a whole number, got ""'],
      [['--assignment', '10000=1'], '--assignment 10000=1: the partition must be in 0..9999, got 10000'],
      [['--assignment', '0='], '--assignment 0=: no replicas; give broker ids like 1,2,4'],
      [['--assignment', '0=1,1'], '--assignment 0=1,1: broker 1 is listed twice; replicas must be distinct'],
      [['--assignment', '0=1', '--assignment', '1=2', '--assignment', '0=3'], '--assignment names partition 0 twice'],
    ];
    for (const [flags, message] of cases) {
      const h = withTopic();
      expect(await runCli(['topic', 'reassign', 'events', ...flags], h.deps), flags.join(' ')).toBe(2);
      const [first, second] = h.stderr().split('\n');
      expect(first, flags.join(' ')).toContain(`streambus topic reassign: ${message}`);
      expect(second).toMatch(/^usage: streambus topic reassign NAME /);
      expect(h.client.calls).toEqual([]);
    }
    const noName = withTopic();
    expect(await runCli(['topic', 'reassign', '--partition', '0', '--replicas', '1'], noName.deps)).toBe(2);
    expect(noName.stderr()).toContain('streambus topic reassign: missing argument');
  });

  it('broker errors surface with their code: unknown topic or partition, bad replica list; --json on stderr', async () => {
    const unknownTopic = withTopic();
    expect(
      await runCli(['topic', 'reassign', 'orders', '--partition', '0', '--replicas', '1'], unknownTopic.deps),
    ).toBe(1);
    expect(unknownTopic.stderr()).toBe(
      'streambus topic reassign: topic "orders": topic orders does not exist (UNKNOWN_TOPIC_OR_PARTITION)\n',
    );
    expect(unknownTopic.stdout()).toBe('');

    const unknownPartition = withTopic();
    expect(
      await runCli(
        ['topic', 'reassign', 'events', '--assignment', '0=1', '--assignment', '7=1'],
        unknownPartition.deps,
      ),
    ).toBe(1);
    expect(unknownPartition.stderr()).toBe(
      'streambus topic reassign: topic "events" partition 7: no such partition (INVALID_PARTITIONS)\n',
    );
    expect(unknownPartition.client.topics.get('events')?.partitions[0]?.replicas).toEqual([1, 2, 3]);

    const badList = withTopic();
    badList.client.failWith = new TypedError(
      'INVALID_REQUEST',
      'topic "events" partition 0: broker 9 is not registered',
    );
    expect(
      await runCli(['topic', 'reassign', 'events', '--partition', '0', '--replicas', '9', '--json'], badList.deps),
    ).toBe(1);
    expect(jsonLines(badList.stderr())).toEqual([
      { error: { code: 'INVALID_REQUEST', message: 'topic "events" partition 0: broker 9 is not registered' } },
    ]);
    expect(badList.stdout()).toBe('');
    expect(badList.client.closed).toBe(1);

    const down = withTopic();
    down.client.failWith = new TypedError('NOT_CONTROLLER', 'no controller leader');
    expect(await runCli(['topic', 'reassign', 'events', '--partition', '0', '--replicas', '1'], down.deps)).toBe(3);
  });
});

describe('consumer-groups and consume --group against a fake client', () => {
  const described: CliGroupDescription = {
    groupId: 'g',
    state: 'stable',
    groupEpoch: 4,
    assignor: 'uniform',
    coordinatorId: 2,
    members: [
      {
        memberId: 'm-1',
        instanceId: '',
        clientId: 'streambus-cli',
        clientHost: '/127.0.0.1',
        memberEpoch: 4,
        assignment: [{ topic: 'events', partition: 0 }],
      },
    ],
    partitions: [
      {
        topic: 'events',
        partition: 0,
        committedOffset: 5,
        logEndOffset: 8,
        lag: 3,
        memberId: 'm-1',
        clientHost: '/127.0.0.1',
      },
      { topic: 'events', partition: 1, committedOffset: -1, logEndOffset: 4, lag: 4, memberId: '', clientHost: '' },
    ],
  };

  it('cluster status names the groups whose lag is over --lag-threshold (default 10000), and says so when listing fails', async () => {
    const h = harness();
    h.client.groups.set('g', described);
    h.client.groups.set('quiet', { ...described, groupId: 'quiet', partitions: [] });
    expect(await runCli(['cluster', 'status', '--lag-threshold', '5'], h.deps)).toBe(0);
    expect(h.stdout()).toContain('consumer groups: 2, with lag over 5 records: g (lag 7, max 4 on one partition)\n');
    const json = harness();
    json.client.groups.set('g', described);
    expect(await runCli(['cluster', 'status', '--json'], json.deps)).toBe(0);
    expect(lastJson(json.stdout())).toMatchObject({
      consumer_groups: { count: 1, lag_threshold: 10_000, lagging: [], not_described: 0 },
    });
    const failing = harness();
    failing.client.failOn = 'listGroups';
    expect(await runCli(['cluster', 'status'], failing.deps)).toBe(0);
    expect(failing.stdout()).toMatch(/consumer groups: unknown \(.+\)\n$/);
    const bad = harness();
    expect(await runCli(['cluster', 'status', '--lag-threshold', '-1'], bad.deps)).toBe(2);
  });

  it('list: a table, or --json', async () => {
    const h = harness();
    h.client.groups.set('g', described);
    expect(await runCli(['consumer-groups', 'list'], h.deps)).toBe(0);
    expect(h.stdout()).toMatch(/^GROUP\s+STATE\s+MEMBERS\s+COORDINATOR\n/);
    expect(h.stdout()).toMatch(/g\s+stable\s+1\s+2/);
    const json = harness();
    json.client.groups.set('g', described);
    expect(await runCli(['consumer-groups', 'list', '--json'], json.deps)).toBe(0);
    expect(lastJson(json.stdout())).toEqual({ groups: [{ group: 'g', state: 'stable', members: 1, coordinator: 2 }] });
  });

  it('describe: TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG CONSUMER-ID HOST, members; --json; unknown group exits 1', async () => {
    const h = harness();
    h.client.groups.set('g', described);
    expect(await runCli(['consumer-groups', 'describe', 'g'], h.deps)).toBe(0);
    const text = h.stdout();
    expect(text).toContain('group g: stable, 1 members, assignor uniform, coordinator 2, epoch 4, total lag 7');
    expect(text).toMatch(/TOPIC\s+PARTITION\s+CURRENT-OFFSET\s+LOG-END-OFFSET\s+LAG\s+CONSUMER-ID\s+HOST/);
    expect(text).toMatch(/events\s+0\s+5\s+8\s+3\s+m-1\s+\/127\.0\.0\.1/);
    expect(text).toMatch(/events\s+1\s+-\s+4\s+4\s+-\s+-/);
    expect(text).toContain('members:');
    const json = harness();
    json.client.groups.set('g', described);
    expect(await runCli(['consumer-groups', 'describe', 'g', '--json'], json.deps)).toBe(0);
    const doc = lastJson(json.stdout()) as { partitions: { lag: number; current_offset: number }[] };
    expect(doc.partitions.map((p) => [p.current_offset, p.lag])).toEqual([
      [5, 3],
      [-1, 4],
    ]);
    const missing = harness();
    expect(await runCli(['consumer-groups', 'describe', 'nope'], missing.deps)).toBe(1);
    expect(missing.stderr()).toBe(
      'streambus consumer-groups describe: group "nope": no such group (GROUP_ID_NOT_FOUND)\n',
    );
    const bad = harness();
    expect(await runCli(['consumer-groups', 'describe', 'no spaces'], bad.deps)).toBe(2);
    expect(bad.client.calls).toEqual([]);
  });

  it('delete: an empty group goes, one with members is refused (exit 1)', async () => {
    const h = harness();
    h.client.groups.set('g', described);
    h.client.groups.set('idle', { ...described, groupId: 'idle', members: [] });
    expect(await runCli(['consumer-groups', 'delete', 'idle'], h.deps)).toBe(0);
    expect(h.stdout()).toBe('deleted group idle\n');
    expect(await runCli(['consumer-groups', 'delete', 'g', '--json'], h.deps)).toBe(1);
    expect(lastJson(h.stderr())).toEqual({
      error: { code: 'NON_EMPTY_GROUP', message: 'group "g": the group has members' },
    });
  });

  it('reset-offsets: exactly one target; a dry run prints the plan; --execute applies it, refused with members', async () => {
    const usage = harness();
    expect(await runCli(['consumer-groups', 'reset-offsets', 'g', '--topic', 'events'], usage.deps)).toBe(2);
    expect(usage.stderr()).toContain(
      'give exactly one of --to-earliest, --to-latest, --to-offset N, --to-datetime ISO',
    );
    expect(
      await runCli(
        ['consumer-groups', 'reset-offsets', 'g', '--topic', 'events', '--to-earliest', '--to-latest'],
        usage.deps,
      ),
    ).toBe(2);
    expect(await runCli(['consumer-groups', 'reset-offsets', 'g', '--to-earliest'], usage.deps)).toBe(2);
    expect(
      await runCli(['consumer-groups', 'reset-offsets', 'g', '-t', 'events', '--to-datetime', 'yesterday'], usage.deps),
    ).toBe(2);
    expect(usage.client.calls).toEqual([]);

    const dry = harness();
    dry.client.groups.set('g', described);
    expect(await runCli(['consumer-groups', 'reset-offsets', 'g', '-t', 'events', '--to-offset', '3'], dry.deps)).toBe(
      0,
    );
    expect(dry.client.calls).toEqual(['resetOffsets g events {"offset":3} false']);
    expect(dry.stdout()).toMatch(/TOPIC\s+PARTITION\s+CURRENT-OFFSET\s+NEW-OFFSET/);
    expect(dry.stdout()).toMatch(/events\s+0\s+7\s+3/);
    expect(dry.stdout()).toMatch(/events\s+1\s+-\s+3/);
    expect(dry.stdout()).toContain('dry run: nothing changed; group g has 1 members, stop them before --execute');
    expect(
      await runCli(['consumer-groups', 'reset-offsets', 'g', '-t', 'events', '--to-latest', '--execute'], dry.deps),
    ).toBe(1);
    expect(dry.stderr()).toContain('(NON_EMPTY_GROUP)');

    const run = harness();
    expect(
      await runCli(
        [
          'consumer-groups',
          'reset-offsets',
          'g',
          '-t',
          'events',
          '--to-datetime',
          '2025-01-07T10:30:00Z',
          '--execute',
          '--json',
        ],
        run.deps,
      ),
    ).toBe(0);
    expect(run.client.calls).toEqual([
      `resetOffsets g events {"timestampMs":${Date.parse('2025-01-07T10:30:00Z')}} true`,
    ]);
    expect(lastJson(run.stdout())).toEqual({
      group: 'g',
      topic: 'events',
      executed: true,
      members: 0,
      partitions: [
        { partition: 0, current_offset: 7, new_offset: 3 },
        { partition: 1, current_offset: -1, new_offset: 3 },
      ],
    });
  });

  it('consume --group passes the group; it excludes --partition and --offset', async () => {
    const h = harness();
    h.client.records = [
      { topic: 'events', partition: 1, offset: 4, timestampMs: 1, key: null, value: encoder.encode('x') },
    ];
    expect(await runCli(['consume', 'events', '--group', 'g', '--from-beginning', '--limit', '1'], h.deps)).toBe(0);
    expect(h.client.consumeRequests).toEqual([{ topic: 'events', group: 'g', start: 'beginning' }]);
    expect(h.stdout()).toBe('[1@4] x\n');
    const bad = harness();
    expect(await runCli(['consume', 'events', '--group', 'g', '--partition', '0'], bad.deps)).toBe(2);
    expect(bad.stderr()).toContain('--group excludes --partition and --offset');
    expect(bad.client.calls).toEqual([]);
  });

  it('--help of the group lists the four verbs', async () => {
    const h = harness();
    expect(await runCli(['consumer-groups', '--help'], h.deps)).toBe(0);
    expect(h.stdout()).toContain('usage: streambus consumer-groups <list|describe|delete|reset-offsets>');
  });
});

describe('security flags, user and acl verbs against a fake client', () => {
  const dir = mkdtempSync(join(tmpdir(), 'streambus-cli-security-'));
  const ca = join(dir, 'ca.crt');
  const passwordFile = join(dir, 'admin.password');
  writeFileSync(ca, '-----BEGIN CERTIFICATE-----\nfake\n-----END CERTIFICATE-----\n');
  writeFileSync(passwordFile, 'from-the-file\n');
  afterAllCleanup(() => rmSync(dir, { recursive: true, force: true }));

  it('reads TLS and SASL from flags, else from STREAMBUS_* variables; flags win', async () => {
    const fromEnv = harness({
      env: { STREAMBUS_TLS_CA: ca, STREAMBUS_SASL_USERNAME: 'admin', STREAMBUS_SASL_PASSWORD: 'from-env' },
    });
    expect(await runCli(['topic', 'list'], fromEnv.deps)).toBe(0);
    expect(fromEnv.factoryOptions[0]?.tls?.ca?.toString()).toContain('BEGIN CERTIFICATE');
    expect(fromEnv.factoryOptions[0]?.sasl).toEqual({ username: 'admin', password: 'from-env' });

    const fromFlags = harness({ env: { STREAMBUS_SASL_USERNAME: 'admin', STREAMBUS_SASL_PASSWORD: 'from-env' } });
    expect(
      await runCli(['topic', 'list', '--sasl-username', 'root', '--sasl-password-file', passwordFile], fromFlags.deps),
    ).toBe(0);
    expect(fromFlags.factoryOptions[0]?.sasl).toEqual({ username: 'root', password: 'from-the-file' });
    expect(fromFlags.factoryOptions[0]?.tls).toBeUndefined();

    const fileVariable = harness({
      env: { STREAMBUS_SASL_USERNAME: 'admin', STREAMBUS_SASL_PASSWORD_FILE: passwordFile },
    });
    expect(await runCli(['topic', 'list'], fileVariable.deps)).toBe(0);
    expect(fileVariable.factoryOptions[0]?.sasl?.password).toBe('from-the-file');
  });

  it('refuses incomplete or unreadable settings before connecting (exit 2)', async () => {
    for (const [argv, env, message] of [
      [['topic', 'list', '--sasl-username', 'admin'], {}, 'no password is set'],
      [['topic', 'list'], { STREAMBUS_SASL_PASSWORD: 'x' }, 'no user'],
      [['topic', 'list', '--tls-ca', join(dir, 'missing.crt')], {}, '--tls-ca: cannot read'],
      [['topic', 'list', '--tls-cert', ca], {}, 'needs its pair'],
    ] as const) {
      const h = harness({ env: { ...env } });
      expect(await runCli([...argv], h.deps)).toBe(2);
      expect(h.stderr()).toContain(message);
      expect(h.factoryOptions).toEqual([]);
    }
    // There is no flag that takes a password itself.
    const h = harness();
    expect(await runCli(['topic', 'list', '--sasl-password', 'secret'], h.deps)).toBe(2);
  });

  it('hints at the flags when the cluster asks for credentials the command lacks', async () => {
    const h = harness({ env: { STREAMBUS_TLS_CA: ca } });
    h.client.failWith = new TypedError('AUTHENTICATION_FAILED', '127.0.0.1:9092: the broker requires authentication');
    expect(await runCli(['topic', 'list'], h.deps)).toBe(1);
    expect(h.stderr()).toContain('--sasl-username NAME and --sasl-password-file FILE');
    expect(h.stderr()).toMatch(/\(AUTHENTICATION_FAILED\)\n$/);
  });

  it('user create takes the password from stdin or a prompt, never argv', async () => {
    const piped = harness({ stdin: ['s3cret', 'ignored'] });
    expect(await runCli(['user', 'create', 'alice', '--password-stdin'], piped.deps)).toBe(0);
    expect(piped.client.users.get('alice')).toBe('s3cret');
    expect(piped.stdout()).toContain('user alice saved');

    const prompted = harness({ secrets: ['typed', 'typed'] });
    expect(await runCli(['user', 'create', 'bob'], prompted.deps)).toBe(0);
    expect(prompted.client.users.get('bob')).toBe('typed');
    expect(prompted.stderr()).toContain('password for user bob: ');

    const mistyped = harness({ secrets: ['typed', 'tpyed'] });
    expect(await runCli(['user', 'create', 'bob'], mistyped.deps)).toBe(2);
    expect(mistyped.client.calls).toEqual([]);

    const noTerminal = harness();
    expect(await runCli(['user', 'create', 'carol'], noTerminal.deps)).toBe(2);
    expect(noTerminal.stderr()).toContain('--password-stdin');
    expect(await runCli(['user', 'create', 'carol', 'password'], harness().deps)).toBe(2);
  });

  it('user list and delete; a missing user exits 1 with its code', async () => {
    const h = harness({ stdin: ['pw'] });
    await runCli(['user', 'create', 'alice', '--password-stdin'], h.deps);
    expect(await runCli(['user', 'list', '--json'], h.deps)).toBe(0);
    expect(lastJson(h.stdout())).toEqual({ users: [{ name: 'alice', mechanism: 'SCRAM-SHA-256', iterations: 4096 }] });
    expect(await runCli(['user', 'delete', 'alice'], h.deps)).toBe(0);
    expect(await runCli(['user', 'delete', 'alice'], h.deps)).toBe(1);
    expect(h.stderr()).toContain('(USER_NOT_FOUND)');
  });

  it('acl add, list and remove name one principal, resource and the operations', async () => {
    const h = harness();
    expect(
      await runCli(
        ['acl', 'add', '--allow', 'user:alice', '--operation', 'read', '--operation', 'describe', '--topic', 'orders'],
        h.deps,
      ),
    ).toBe(0);
    expect(h.stdout()).toContain('added ACL: allow user:alice read topic:orders\n');
    expect(
      await runCli(['acl', 'add', '--deny', 'user:*', '--operation', 'write', '--topic', 'tmp-', '--prefix'], h.deps),
    ).toBe(0);
    expect(await runCli(['acl', 'add', '--allow', 'user:ops', '--operation', 'alter', '--cluster'], h.deps)).toBe(0);
    expect(h.client.acls.map((acl) => acl.resource)).toEqual([
      'topic:orders',
      'topic:orders',
      'topic:tmp-*',
      'cluster',
    ]);
    expect(await runCli(['acl', 'list', '--principal', 'user:alice', '--json'], h.deps)).toBe(0);
    expect(lastJson(h.stdout())).toEqual({
      acls: [
        { principal: 'user:alice', permission: 'allow', operation: 'read', resource: 'topic:orders' },
        { principal: 'user:alice', permission: 'allow', operation: 'describe', resource: 'topic:orders' },
      ],
    });
    expect(
      await runCli(
        ['acl', 'remove', '--allow', 'user:alice', '--operation', 'read', '--operation', 'write', '--topic', 'orders'],
        h.deps,
      ),
    ).toBe(0);
    expect(h.stdout()).toContain('removed 1 of 2 ACLs');
    expect(await runCli(['acl', 'list', '--topic', 'orders'], h.deps)).toBe(0);
    expect(h.stdout()).toContain('user:alice  allow       describe   topic:orders');
  });

  it('acl refuses a bad invocation before contacting anyone (exit 2)', async () => {
    for (const argv of [
      ['acl', 'add', '--operation', 'read', '--topic', 'orders'],
      ['acl', 'add', '--allow', 'alice', '--operation', 'read', '--topic', 'orders'],
      ['acl', 'add', '--allow', 'user:alice', '--deny', 'user:bob', '--operation', 'read', '--topic', 'orders'],
      ['acl', 'add', '--allow', 'user:alice', '--operation', 'reed', '--topic', 'orders'],
      ['acl', 'add', '--allow', 'user:alice', '--topic', 'orders'],
      ['acl', 'add', '--allow', 'user:alice', '--operation', 'read'],
      ['acl', 'add', '--allow', 'user:alice', '--operation', 'read', '--topic', 'a', '--group', 'g'],
      ['acl', 'add', '--allow', 'user:alice', '--operation', 'read', '--cluster', '--prefix'],
      ['acl', 'list', '--principal', 'bob'],
    ]) {
      const h = harness();
      expect(await runCli(argv, h.deps), argv.join(' ')).toBe(2);
      expect(h.client.calls).toEqual([]);
    }
  });
});

function afterAllCleanup(cleanup: () => void): void {
  afterAll(cleanup);
}
