/**
 * Fakes for the unit tests of src/server: a group status built from a few facts, and a Raft host
 * that records what it is asked to do. Each module declares the narrow host it needs; FakeHost
 * has all of those methods.
 */
import { Role } from '@streambus/raft';
import type { ConfState, GroupId, HostGroupStatus, NodeId, ProgressStatus } from '@streambus/raft';
import { pino } from 'pino';
import { planCreateTopic } from '../../src/controller/plan.js';
import type { ControllerState } from '../../src/controller/state.js';
import { clusterOf, expectOk } from '../controller/helpers.js';

export const silentLogger = pino({ level: 'silent' });

/** The few facts a test gives about a group; the rest of its status follows. */
export interface GroupShape {
  voters: NodeId[];
  learners?: NodeId[];
  role?: Role;
  /** Default: this broker when it leads, else 0. */
  leaderId?: NodeId;
  term?: number;
  lastIndex?: number;
  commit?: number;
  applied?: number;
  /** Per member; default lastIndex (caught up). */
  match?: Record<number, number>;
  /** Members not heard from recently. */
  inactive?: NodeId[];
}

export function groupStatus(selfId: NodeId, shape: GroupShape): HostGroupStatus {
  const learners = shape.learners ?? [];
  const lastIndex = shape.lastIndex ?? 100;
  const role = shape.role ?? Role.follower;
  const progress = new Map<NodeId, ProgressStatus>();
  if (role === Role.leader) {
    for (const id of [...shape.voters, ...learners]) {
      progress.set(id, {
        match: shape.match?.[id] ?? lastIndex,
        next: lastIndex + 1,
        state: 'replicate',
        inflightMessages: 0,
        recentActive: !(shape.inactive ?? []).includes(id),
        isLearner: learners.includes(id),
      });
    }
  }
  const commit = shape.commit ?? lastIndex;
  return {
    id: selfId,
    hardState: { term: shape.term ?? 1, vote: 0, commit },
    role,
    leaderId: shape.leaderId ?? (role === Role.leader ? selfId : 0),
    applied: shape.applied ?? commit,
    lastIndex,
    confState: confState(shape.voters, learners),
    progress,
    leadTransferee: 0,
    repairIndex: 0,
    quiesced: false,
    proposalsPending: 0,
  };
}

export function confState(voters: readonly NodeId[], learners: readonly NodeId[] = []): ConfState {
  return { voters: [...voters], learners: [...learners], votersOutgoing: [], learnersNext: [], autoLeave: false };
}

/** A Raft host whose groups are shapes; every request is recorded. */
export class FakeHost {
  readonly groups = new Map<GroupId, GroupShape>();
  readonly transfers: { groupId: GroupId; to: NodeId }[] = [];
  readonly created: { groupId: GroupId; bootstrap: ConfState | null; joining: boolean }[] = [];
  readonly campaigns: GroupId[] = [];
  readonly removed: GroupId[] = [];
  readonly repairs: { groupId: GroupId; fromIndex: number }[] = [];
  readonly compactions: { groupId: GroupId; appliedIndex: number }[] = [];
  /** What repairGroup does; default: reopen at once. */
  repair: (groupId: GroupId, fromIndex: number, beforeReopen: () => void) => Promise<void> = async (
    _groupId,
    _fromIndex,
    beforeReopen,
  ) => beforeReopen();

  /** Peers not heard from (peerAlive answers false for them). */
  readonly silentPeers = new Set<NodeId>();

  constructor(readonly selfId: NodeId) {}

  peerAlive(nodeId: NodeId): boolean {
    return !this.silentPeers.has(nodeId);
  }

  hasGroup(groupId: GroupId): boolean {
    return this.groups.has(groupId);
  }
  groupIds(): GroupId[] {
    return [...this.groups.keys()];
  }
  isLeader(groupId: GroupId): boolean {
    return this.groups.get(groupId)?.role === Role.leader;
  }
  leaderOf(groupId: GroupId): NodeId {
    return this.status(groupId).leaderId;
  }
  status(groupId: GroupId): HostGroupStatus {
    const shape = this.groups.get(groupId);
    if (shape === undefined) throw new Error(`no group ${groupId}`);
    return groupStatus(this.selfId, shape);
  }
  transferLeadership(groupId: GroupId, to: NodeId): void {
    this.transfers.push({ groupId, to });
  }
  createGroup(
    groupId: GroupId,
    bootstrap: ConfState | null,
    _overrides: object = {},
    options: { joining?: boolean } = {},
  ): void {
    this.created.push({ groupId, bootstrap, joining: options.joining === true });
    this.groups.set(groupId, { voters: [...(bootstrap?.voters ?? [])] });
  }
  campaign(groupId: GroupId): void {
    this.campaigns.push(groupId);
  }
  async removeGroup(groupId: GroupId): Promise<void> {
    this.removed.push(groupId);
    this.groups.delete(groupId);
  }
  repairGroup(groupId: GroupId, fromIndex: number, beforeReopen: () => void): Promise<void> {
    this.repairs.push({ groupId, fromIndex });
    return this.repair(groupId, fromIndex, beforeReopen);
  }
  async compact(groupId: GroupId, _data: Uint8Array, appliedIndex: number): Promise<void> {
    this.compactions.push({ groupId, appliedIndex });
  }
  confStateAt(groupId: GroupId): ConfState | undefined {
    const shape = this.groups.get(groupId);
    return shape === undefined ? undefined : confState(shape.voters, shape.learners);
  }
}

/** Lets pending promise callbacks run. */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** A controller state with brokers 1..brokers registered and the topics created (placement as the controller plans it). */
export function controllerStateWith(
  brokers: number,
  topics: readonly { name: string; partitions: number; replicationFactor: number }[],
): ControllerState {
  const state = clusterOf(brokers);
  for (const topic of topics) {
    const plan = planCreateTopic(state, { ...topic, configs: [] });
    if (!plan.ok) throw new Error(`topic ${topic.name} not planned: ${plan.message}`);
    expectOk(state.apply(plan.command));
  }
  return state;
}
