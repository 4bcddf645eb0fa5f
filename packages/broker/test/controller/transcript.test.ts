/**
 * Scenario transcripts: testdata/*.txt hold commands (`> {json}` lines, or `> dump`) each followed
 * by what applying it printed. Run with UPDATE_TESTDATA=1 to rewrite the expectations after an
 * intended change of behaviour, then review the diff.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { decodeCommand, encodeCommand } from '../../src/controller/codec.js';
import type { ControllerCommand, ControllerResult } from '../../src/controller/commands.js';
import { preferredLeaderElections, underReplicated } from '../../src/controller/placement.js';
import { planCreateTopic } from '../../src/controller/plan.js';
import type { CreateTopicRequest } from '../../src/controller/plan.js';
import { decodeSnapshot, encodeSnapshot } from '../../src/controller/snapshot.js';
import { ControllerState } from '../../src/controller/state.js';
import type { ControllerEvent } from '../../src/controller/state.js';

const testdata = join(dirname(fileURLToPath(import.meta.url)), 'testdata');
const update = process.env['UPDATE_TESTDATA'] === '1';

function renderResult(result: ControllerResult): string {
  if (!result.ok) return `error ${result.code}: ${result.message}`;
  const detail = result.detail;
  const changed = result.changed ? 'changed' : 'unchanged';
  switch (detail.kind) {
    case 'none':
      return `ok ${changed}`;
    case 'topicCreated':
      return `ok ${changed} topic id ${detail.topicId} groups ${detail.groupIds.join(',')}`;
    case 'partitionsAdded':
      return `ok ${changed} groups ${detail.groupIds.join(',')}`;
    case 'producerIds':
      return `ok ${changed} producer ids ${detail.firstProducerId}..${detail.firstProducerId + detail.count - 1}`;
    case 'reports':
      return `ok ${changed} accepted ${detail.accepted} ignored ${detail.ignored}`;
    case 'aclsRemoved':
      return `ok ${changed} removed ${detail.removed}`;
  }
}

function renderEvent(event: ControllerEvent): string {
  switch (event.type) {
    case 'brokerRegistered':
    case 'brokerFencedChanged':
      return `event ${event.type} ${event.broker.id}`;
    case 'topicCreated':
    case 'topicDeleted':
    case 'partitionsAdded':
      return `event ${event.type} ${event.topic.name} groups ${event.partitions.map((p) => p.groupId).join(',')}`;
    case 'topicConfigChanged':
      return `event ${event.type} ${event.topic.name}`;
    case 'assignmentChanged':
      return `event ${event.type} group ${event.partition.groupId} [${event.previousReplicas.join(',')}] -> [${event.partition.replicas.join(',')}]`;
    case 'leaderChanged':
      return `event ${event.type} group ${event.partition.groupId} ${event.previousLeaderId} -> ${event.partition.leader?.leaderId ?? 0}`;
    case 'featureLevelFinalized':
      return `event ${event.type} ${event.previousLevel} -> ${event.level}`;
  }
}

function renderState(state: ControllerState): string[] {
  const lines = [`next group ${state.nextGroupId} topic ${state.nextTopicId} producer ${state.nextProducerId}`];
  for (const b of state.brokers()) {
    lines.push(
      `broker ${b.id} ${b.host}:${b.port} rack ${b.rack ?? '-'} ${b.fenced ? 'fenced' : 'live'} heartbeat ${b.lastHeartbeatMs}`,
    );
  }
  for (const t of state.topics()) {
    const configs = t.configs.map((c) => `${c.key}=${c.value}`).join(' ');
    lines.push(`topic ${t.name} id ${t.topicId} rf ${t.replicationFactor}${configs === '' ? '' : ` ${configs}`}`);
    for (const p of state.partitionsOf(t.name)) {
      const leader =
        p.leader === null
          ? 'no report'
          : `leader ${p.leader.leaderId} term ${p.leader.term} isr [${p.leader.isr.join(',')}] hw ${p.leader.highWatermark}`;
      lines.push(`  ${p.partition} group ${p.groupId} replicas [${p.replicas.join(',')}] ${leader}`);
    }
  }
  const moves = preferredLeaderElections(state).map(
    (m) => `${m.partition.groupId}:${m.currentLeaderId}->${m.preferredLeaderId}`,
  );
  lines.push(`preferred leader moves ${moves.length === 0 ? '-' : moves.join(' ')}`);
  lines.push(
    `under-replicated ${
      underReplicated(state)
        .map((p) => p.groupId)
        .join(',') || '-'
    }`,
  );
  return lines;
}

/** Runs one script line against the state; returns what it printed. */
function step(state: ControllerState, line: string): string[] {
  if (line === 'dump') return renderState(state);
  const plan = /^plan (.*)$/.exec(line);
  if (plan !== null) {
    const request = JSON.parse(plan[1] as string) as CreateTopicRequest;
    const planned = planCreateTopic(state, request);
    if (!planned.ok) return [`error ${planned.code}: ${planned.message}`];
    return [
      `planned ${planned.command.assignments.map((r) => `[${r.join(',')}]`).join(' ')}`,
      ...step(state, JSON.stringify(planned.command)),
    ];
  }
  // Every command goes through the codec, as it would through the Raft log.
  const command = decodeCommand(encodeCommand(JSON.parse(line) as ControllerCommand));
  const events: ControllerEvent[] = [];
  const result = state.apply(command, events);
  return [renderResult(result), ...events.map(renderEvent)];
}

/** Replays a script; returns it with the actual output under each command. */
function replay(script: string): string {
  const state = new ControllerState();
  const out: string[] = [];
  let skipping = false;
  for (const line of script.split('\n')) {
    if (line.startsWith('> ')) {
      out.push(line, ...step(state, line.slice(2)));
      skipping = true;
    } else if (line.trim() === '' || line.startsWith('#')) {
      out.push(line);
      skipping = false;
    } else if (!skipping) {
      out.push(line);
    }
  }
  // The end state survives a snapshot round trip.
  expect(encodeSnapshot(decodeSnapshot(encodeSnapshot(state)))).toEqual(encodeSnapshot(state));
  return out.join('\n');
}

describe('controller transcripts', () => {
  for (const name of readdirSync(testdata).filter((f) => f.endsWith('.txt'))) {
    it(name, () => {
      const path = join(testdata, name);
      const script = readFileSync(path, 'utf8');
      const actual = replay(script);
      if (update) writeFileSync(path, actual);
      else expect(actual).toBe(script);
    });
  }
});
