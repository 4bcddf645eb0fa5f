import { describe, expect, it } from 'vitest';
import { EditableTopics, ShardUnderTest, TestMember } from './test-harness.js';

// A group at groups.max_size's default (1000 members) on a topic of 1000 partitions: every join
// recomputes the target, so the assignor's cost per join must stay near linear.
describe('group coordinator shard: scale', () => {
  it('1000 members join one by one and reconcile to 1 partition each', () => {
    const topics = new EditableTopics().set('events', 1000);
    const harness = new ShardUnderTest(topics, {
      sessionTimeoutMs: 60_000,
      heartbeatIntervalMs: 100,
      groupMembersMax: 1000,
      offsetsRetentionMs: 60_000,
      defaultAssignor: 'uniform',
    });
    const started = performance.now();
    const members = Array.from({ length: 1000 }, () => new TestMember(harness, 'big', ['events']));
    for (const member of members) member.heartbeat();
    const joinedMs = performance.now() - started;
    let rounds = 0;
    while (harness.shard.describeGroup('big').state !== 'stable') {
      expect(++rounds).toBeLessThan(10);
      harness.nowMs += 100;
      for (const member of members) member.heartbeat();
      harness.tick();
    }
    const totalMs = performance.now() - started;
    console.log(
      `1000 joins: ${joinedMs.toFixed(0)} ms; stable after ${rounds} more rounds, ${totalMs.toFixed(0)} ms in all`,
    );
    for (const member of harness.shard.describeGroup('big').members) {
      expect(member.assignment[0]?.partitions).toHaveLength(1);
    }
    expect(totalMs).toBeLessThan(15_000);
  }, 30_000);
});
