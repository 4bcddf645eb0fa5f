/**
 * Partition reassignment as Raft membership change, on the partition leader's side.
 *
 * The controller records a partition's target replica list; the group's leader compares it with
 * the group's applied ConfState and takes ONE step towards it at a time, each a single-node conf
 * change (no joint consensus), the next only once the previous one is applied:
 *
 *   1. a target replica outside the configuration joins as a LEARNER (it replicates, never votes);
 *   2. a target learner that has caught up with the leader is promoted to VOTER;
 *   3. once every target replica votes: a voter outside the target is removed (when that voter
 *      is this leader, leadership first goes to a caught-up target voter: a leader never removes
 *      itself); then learners outside the target are removed.
 *
 * Adding before removing keeps the group at the target's size or more during a move, so a move
 * never lowers the replication factor (Kafka's reassignment does the same: adding replicas, then
 * removing). `planMembershipStep` is the pure decision; `Reconfigurer` proposes it.
 */
import {
  assert,
  ConfChangeTransition,
  ConfChangeType,
  GroupNotFoundError,
  NotLeaderError,
  ProposalDroppedError,
  Role,
  StoppedError,
} from '@streambus/raft';
import type { ConfChange, GroupId, HostGroupStatus, NodeId, ProposalReceipt } from '@streambus/raft';
import { rethrowBug } from '../bugs.js';
import type { Logger } from '../logging/logger.js';
import { confChangeWaitMsMax, promoteLagEntriesMax, reconfigureGroupsPerRunMax } from './constants.js';

/** The next move of a group's membership towards its target. */
export type MembershipStep =
  | { readonly kind: 'done' }
  | { readonly kind: 'wait'; readonly reason: string }
  | { readonly kind: 'addLearner'; readonly nodeId: NodeId }
  | { readonly kind: 'promote'; readonly nodeId: NodeId }
  | { readonly kind: 'remove'; readonly nodeId: NodeId }
  | { readonly kind: 'transfer'; readonly to: NodeId };

/**
 * The one step the leader `selfId` of a group in `status` takes towards voters = `target`.
 * Pure: depends on its arguments only.
 */
export function planMembershipStep(selfId: NodeId, target: readonly NodeId[], status: HostGroupStatus): MembershipStep {
  if (status.role !== Role.leader) return { kind: 'wait', reason: 'not the leader' };
  const conf = status.confState;
  if (conf.votersOutgoing.length > 0) return { kind: 'wait', reason: 'joint configuration not left yet' };
  if (status.leadTransferee !== 0)
    return { kind: 'wait', reason: `leadership transfer to ${status.leadTransferee} under way` };
  const voters = new Set(conf.voters);
  const learners = new Set(conf.learners);
  const joiner = target.find((id) => !voters.has(id) && !learners.has(id));
  if (joiner !== undefined) return { kind: 'addLearner', nodeId: joiner };
  for (const id of target) {
    if (!learners.has(id)) continue;
    const progress = status.progress.get(id);
    if (progress !== undefined && progress.recentActive && status.lastIndex - progress.match <= promoteLagEntriesMax)
      return { kind: 'promote', nodeId: id };
    return {
      kind: 'wait',
      reason: `learner ${id} is catching up (match ${progress?.match ?? 0} of ${status.lastIndex})`,
    };
  }
  const leaving = conf.voters.find((id) => !target.includes(id));
  if (leaving !== undefined) {
    if (leaving !== selfId) return { kind: 'remove', nodeId: leaving };
    const successor = successorOf(target, status);
    return successor === 0
      ? { kind: 'wait', reason: 'no caught-up target voter to hand leadership to' }
      : { kind: 'transfer', to: successor };
  }
  const extraLearner = conf.learners.find((id) => !target.includes(id));
  if (extraLearner !== undefined) return { kind: 'remove', nodeId: extraLearner };
  return { kind: 'done' };
}

/** The target voter to lead next: the preferred one (first) when caught up, else the most caught-up live one. */
function successorOf(target: readonly NodeId[], status: HostGroupStatus): NodeId {
  let best: NodeId = 0;
  let bestMatch = -1;
  for (const id of target) {
    const progress = status.progress.get(id);
    if (progress === undefined || progress.isLearner || !progress.recentActive) continue;
    if (status.lastIndex - progress.match > promoteLagEntriesMax) continue;
    if (progress.match > bestMatch) {
      best = id;
      bestMatch = progress.match;
    }
  }
  return best;
}

/** The RaftHost calls the reconfigurer makes (a seam for tests). */
export interface ReconfigurerHost {
  isLeader(groupId: GroupId): boolean;
  status(groupId: GroupId): HostGroupStatus;
  proposeConfChange(groupId: GroupId, change: ConfChange): Promise<ProposalReceipt>;
  transferLeadership(groupId: GroupId, to: NodeId): void;
}

/** A group this broker leads and the replicas the controller wants for it. */
export interface ReconfigureTarget {
  readonly groupId: GroupId;
  readonly replicas: readonly NodeId[];
}

const emptyContext = new Uint8Array(0);

function single(type: ConfChangeType, nodeId: NodeId): ConfChange {
  return { transition: ConfChangeTransition.auto, changes: [{ type, nodeId }], context: emptyContext };
}

export class Reconfigurer {
  /**
   * Groups with a conf change proposed and not yet applied here, since when: nothing more until
   * it is (or until `confChangeWaitMsMax`, should its outcome never be reported).
   */
  private readonly inFlight = new Map<GroupId, number>();
  /** The last step logged per group, so that a long wait is logged once, not every run. */
  private readonly lastLogged = new Map<GroupId, string>();
  /**
   * Per group, the target its membership was found equal to. Leaders only ever move a group
   * towards its target, so it stays done until the target changes: idle groups cost a string
   * compare per run, not a status.
   */
  private readonly done = new Map<GroupId, string>();

  constructor(
    private readonly nodeId: NodeId,
    private readonly host: ReconfigurerHost,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes at most one step for each led group whose membership differs from its target. */
  run(targets: Iterable<ReconfigureTarget>): void {
    // Another leader may have moved a group meanwhile: "done" holds only while this broker leads.
    for (const groupId of this.done.keys()) {
      if (!this.host.isLeader(groupId)) this.done.delete(groupId);
    }
    let stepped = 0;
    for (const target of targets) {
      if (stepped >= reconfigureGroupsPerRunMax) return;
      if (this.done.get(target.groupId) === target.replicas.join(',')) continue;
      const since = this.inFlight.get(target.groupId);
      if (since !== undefined && this.now() - since < confChangeWaitMsMax) continue;
      if (!this.host.isLeader(target.groupId)) continue;
      if (this.stepGroup(target)) stepped += 1;
    }
  }

  /** Forgets a group (removed from this broker). */
  forget(groupId: GroupId): void {
    this.inFlight.delete(groupId);
    this.lastLogged.delete(groupId);
    this.done.delete(groupId);
  }

  /** One step for one group; true when it proposed something. */
  private stepGroup(target: ReconfigureTarget): boolean {
    const { groupId, replicas } = target;
    assert(this.host.isLeader(groupId), "only the leader steps its group's membership");
    // The membership is about to be looked at (and maybe moved): a "done" recorded for an
    // earlier target no longer holds. (A target that went [1,2,3] -> [1,2] -> [1,2,3] while the
    // removal was in flight would otherwise match the stale "done" and never get 3 back.)
    this.done.delete(groupId);
    const status = this.host.status(groupId);
    const step = planMembershipStep(this.nodeId, replicas, status);
    if (step.kind === 'done') {
      this.done.set(groupId, replicas.join(','));
      if (this.lastLogged.has(groupId))
        this.logger.info(
          { group: groupId, step: 'done', voters: status.confState.voters },
          'partition membership reached its target',
        );
      this.lastLogged.delete(groupId);
      return false;
    }
    const fields = {
      group: groupId,
      step: step.kind,
      target: replicas,
      voters: status.confState.voters,
      learners: status.confState.learners,
    };
    if (step.kind === 'wait') {
      const key = `wait ${step.reason}`;
      if (this.lastLogged.get(groupId) !== key)
        this.logger.info({ ...fields, reason: step.reason }, 'partition membership change waits');
      this.lastLogged.set(groupId, key);
      return false;
    }
    if (step.kind === 'transfer') {
      this.logger.info(
        { ...fields, broker: step.to },
        'partition leader leaves the group: handing leadership over first',
      );
      this.lastLogged.set(groupId, `transfer ${step.to}`);
      try {
        this.host.transferLeadership(groupId, step.to);
      } catch (error) {
        if (!expected(error)) throw error;
      }
      return true;
    }
    const change =
      step.kind === 'addLearner'
        ? single(ConfChangeType.addLearner, step.nodeId)
        : step.kind === 'promote'
          ? single(ConfChangeType.addVoter, step.nodeId)
          : single(ConfChangeType.removeNode, step.nodeId);
    this.logger.info({ ...fields, broker: step.nodeId }, 'partition membership step proposed');
    this.lastLogged.set(groupId, `${step.kind} ${step.nodeId}`);
    const proposedAt = this.now();
    this.inFlight.set(groupId, proposedAt);
    this.host
      .proposeConfChange(groupId, change)
      .then(
        (receipt) =>
          this.logger.info(
            { group: groupId, step: step.kind, broker: step.nodeId, index: receipt.index },
            'partition membership step applied',
          ),
        (error: unknown) => {
          rethrowBug(error);
          // Lost leadership, a conf change already pending, a stopped host: the next run looks again.
          if (!expected(error))
            this.logger.error(
              { group: groupId, step: step.kind, err: (error as Error).message },
              'partition membership step failed',
            );
          else
            this.logger.debug(
              { group: groupId, step: step.kind, err: (error as Error).message },
              'partition membership step not taken; retrying',
            );
        },
      )
      .finally(() => {
        if (this.inFlight.get(groupId) === proposedAt) this.inFlight.delete(groupId);
      });
    return true;
  }
}

function expected(error: unknown): boolean {
  return (
    error instanceof NotLeaderError ||
    error instanceof ProposalDroppedError ||
    error instanceof StoppedError ||
    error instanceof GroupNotFoundError
  );
}
