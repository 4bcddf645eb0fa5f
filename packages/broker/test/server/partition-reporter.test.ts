import { Role } from '@streambus/raft';
import type { GroupId } from '@streambus/raft';
import { describe, expect, it } from 'vitest';
import type { ControllerCommand, ControllerResult, PartitionReport } from '../../src/controller/commands.js';
import { controllerGroupId } from '../../src/controller/constants.js';
import type { ControllerState } from '../../src/controller/state.js';
import { controllerCompactEntries, partitionReportRefreshMs } from '../../src/server/constants.js';
import { PartitionReporter } from '../../src/server/partition-reporter.js';
import { controllerStateWith, FakeHost, settle, silentLogger } from './fakes.js';

interface Proposal {
  readonly command: ControllerCommand;
  readonly settle: (outcome: ControllerResult | Error) => void;
}

function setUp(state: ControllerState = controllerStateWith(3, [])) {
  const host = new FakeHost(1);
  const replicas = new Map<GroupId, { highWatermark: number }>();
  const proposals: Proposal[] = [];
  const controller = { state, appliedIndex: 0, snapshot: () => new Uint8Array([1, 2, 3]) };
  let registered = true;
  let nowMs = 1_000;
  const reporter = new PartitionReporter({
    nodeId: 1,
    host,
    controller,
    propose: (command) =>
      new Promise<ControllerResult>((resolve, reject) => {
        proposals.push({
          command,
          settle: (outcome) => (outcome instanceof Error ? reject(outcome) : resolve(outcome)),
        });
      }),
    replicas,
    registered: () => registered,
    logger: silentLogger,
    nowMs: () => nowMs,
  });
  return {
    host,
    replicas,
    proposals,
    controller,
    reporter,
    unregister: () => (registered = false),
    advance: (ms: number) => (nowMs += ms),
    reported: (): PartitionReport[][] =>
      proposals.map((p) => (p.command.type === 'reportPartitions' ? [...p.command.reports] : [])),
  };
}

const ok: ControllerResult = { ok: true, detail: { kind: 'none' } } as ControllerResult;

describe('PartitionReporter: reports', () => {
  it('reports the groups this broker leads (term, ISR, high watermark), and a group again only when its term or ISR changed or the last report is old', async () => {
    const t = setUp();
    t.host.groups.set(1, { voters: [1, 2, 3], role: Role.leader, term: 4, inactive: [3] });
    t.host.groups.set(2, { voters: [1, 2, 3], role: Role.follower, leaderId: 2 });
    t.replicas.set(1, { highWatermark: 17 });
    t.replicas.set(2, { highWatermark: 5 });
    t.reporter.report();
    expect(t.reported()).toEqual([[{ groupId: 1, leaderId: 1, term: 4, isr: [1, 2], highWatermark: 17 }]]);
    t.proposals[0]?.settle(ok);
    await settle();
    t.replicas.set(1, { highWatermark: 18 });
    t.reporter.report();
    expect(t.proposals).toHaveLength(1);
    t.host.groups.set(1, { voters: [1, 2, 3], role: Role.leader, term: 4 });
    t.reporter.report();
    expect(t.reported()[1]).toEqual([{ groupId: 1, leaderId: 1, term: 4, isr: [1, 2, 3], highWatermark: 18 }]);
    t.proposals[1]?.settle(ok);
    await settle();
    t.advance(partitionReportRefreshMs);
    t.reporter.report();
    expect(t.proposals).toHaveLength(3);
  });

  it('sends one report command at a time, and re-sends what one that failed carried', async () => {
    const t = setUp();
    t.host.groups.set(1, { voters: [1, 2, 3], role: Role.leader });
    t.replicas.set(1, { highWatermark: 0 });
    t.reporter.report();
    t.reporter.report();
    expect(t.proposals).toHaveLength(1);
    t.proposals[0]?.settle(new Error('no controller leader'));
    await settle();
    t.reporter.report();
    expect(t.reported()).toHaveLength(2);
    expect(t.reported()[1]?.map((report) => report.groupId)).toEqual([1]);
  });

  it('reports a new leadership at once, and nothing before registration or after stop', async () => {
    const t = setUp();
    t.host.groups.set(1, { voters: [1, 2, 3], role: Role.leader });
    t.replicas.set(1, { highWatermark: 0 });
    t.reporter.report();
    t.proposals[0]?.settle(ok);
    await settle();
    t.reporter.onLeaderChange(1, Role.leader);
    t.reporter.report();
    expect(t.proposals).toHaveLength(2);
    t.proposals[1]?.settle(ok);
    await settle();
    t.reporter.onLeaderChange(1, Role.leader);
    t.unregister();
    t.reporter.report();
    expect(t.proposals).toHaveLength(2);
  });

  it('forgets a dropped group: hosted again, it is reported again', async () => {
    const t = setUp();
    t.host.groups.set(1, { voters: [1, 2, 3], role: Role.leader });
    t.replicas.set(1, { highWatermark: 0 });
    t.reporter.report();
    t.proposals[0]?.settle(ok);
    await settle();
    t.reporter.forget(1);
    t.reporter.report();
    expect(t.proposals).toHaveLength(2);
  });
});

describe('PartitionReporter: preferred leaders and compaction', () => {
  it('hands leadership to the preferred replica once it is live and has the whole log', () => {
    const state = controllerStateWith(3, [{ name: 't', partitions: 3, replicationFactor: 3 }]);
    const t = setUp(state);
    const partitions = state.partitionsOf('t');
    const notPreferred = partitions.filter((info) => info.replicas[0] !== 1);
    const [lagging, ready] = notPreferred;
    if (lagging === undefined || ready === undefined)
      throw new Error('placement gives broker 1 at most one preferred partition of three');
    t.host.groups.set(lagging.groupId, {
      voters: [1, 2, 3],
      role: Role.leader,
      match: { [lagging.replicas[0] as number]: 10 },
    });
    t.host.groups.set(ready.groupId, { voters: [1, 2, 3], role: Role.leader });
    const own = partitions.find((info) => info.replicas[0] === 1);
    if (own !== undefined) t.host.groups.set(own.groupId, { voters: [1, 2, 3], role: Role.leader });
    t.host.groups.set(controllerGroupId, { voters: [1, 2, 3], role: Role.leader });
    t.reporter.restorePreferredLeaders();
    expect(t.host.transfers).toEqual([{ groupId: ready.groupId, to: ready.replicas[0] }]);
  });

  it('compacts the controller log every controllerCompactEntries applied entries, counted from its last snapshot', () => {
    const t = setUp();
    t.reporter.onControllerSnapshot(500);
    t.controller.appliedIndex = 500 + controllerCompactEntries - 1;
    t.reporter.restorePreferredLeaders();
    expect(t.host.compactions).toEqual([]);
    t.controller.appliedIndex = 500 + controllerCompactEntries;
    t.reporter.restorePreferredLeaders();
    expect(t.host.compactions).toEqual([{ groupId: controllerGroupId, appliedIndex: 500 + controllerCompactEntries }]);
    t.reporter.restorePreferredLeaders();
    expect(t.host.compactions).toHaveLength(1);
  });
});
