/**
 * Membership as the core uses it (sets, not arrays) and the leader's per-member progress.
 */
import type { ConfState, NodeId } from '../types.js';
import { jointCommittedIndex, jointVoteResult } from '../quorum/quorum.js';
import type { VoteResult } from '../quorum/quorum.js';
import { Progress } from './progress.js';

export interface TrackerConfig {
  readonly voters: ReadonlySet<NodeId>;
  /** Non-empty only in a joint configuration. */
  readonly votersOutgoing: ReadonlySet<NodeId>;
  readonly learners: ReadonlySet<NodeId>;
  /** Outgoing voters that become learners when the joint configuration is left. */
  readonly learnersNext: ReadonlySet<NodeId>;
  readonly autoLeave: boolean;
}

export function configFromConfState(cs: ConfState): TrackerConfig {
  return {
    voters: new Set(cs.voters),
    votersOutgoing: new Set(cs.votersOutgoing),
    learners: new Set(cs.learners),
    learnersNext: new Set(cs.learnersNext),
    autoLeave: cs.autoLeave,
  };
}

const ascending = (a: number, b: number): number => a - b;

export function confStateFromConfig(config: TrackerConfig): ConfState {
  return {
    voters: [...config.voters].sort(ascending),
    learners: [...config.learners].sort(ascending),
    votersOutgoing: [...config.votersOutgoing].sort(ascending),
    learnersNext: [...config.learnersNext].sort(ascending),
    autoLeave: config.autoLeave,
  };
}

export function isJoint(config: TrackerConfig): boolean {
  return config.votersOutgoing.size > 0;
}

/** Every member that votes in either half. */
export function allVoters(config: TrackerConfig): Set<NodeId> {
  return new Set([...config.voters, ...config.votersOutgoing]);
}

/** Every member that receives the log: voters of both halves and learners. */
export function allMembers(config: TrackerConfig): Set<NodeId> {
  return new Set([...config.voters, ...config.votersOutgoing, ...config.learners, ...config.learnersNext]);
}

export function isVoter(config: TrackerConfig, id: NodeId): boolean {
  return config.voters.has(id) || config.votersOutgoing.has(id);
}

export interface ProgressLimits {
  readonly inflightMessagesMax: number;
  readonly inflightBytesMax: number;
}

export class ProgressTracker {
  config: TrackerConfig;
  progress = new Map<NodeId, Progress>();
  readonly votes = new Map<NodeId, boolean>();

  constructor(
    config: TrackerConfig,
    private readonly limits: ProgressLimits,
  ) {
    this.config = config;
  }

  /** Replaces the config and makes the progress map match it (new members start probing at `next`). */
  setConfig(config: TrackerConfig, next: number): void {
    this.config = config;
    const members = allMembers(config);
    for (const id of [...this.progress.keys()]) if (!members.has(id)) this.progress.delete(id);
    for (const id of members) {
      const learner = !isVoter(config, id);
      const existing = this.progress.get(id);
      if (existing === undefined) this.progress.set(id, this.newProgress(next, learner));
      else existing.isLearner = learner;
    }
  }

  newProgress(next: number, isLearner: boolean): Progress {
    return new Progress(next, this.limits.inflightMessagesMax, this.limits.inflightBytesMax, isLearner);
  }

  /** The largest index a quorum of voters has persisted. */
  committed(): number {
    return jointCommittedIndex(this.config.voters, this.config.votersOutgoing, (id) => this.progress.get(id)?.match);
  }

  /** The election outcome of the votes recorded so far; non-voters' votes never count. */
  voteResult(): VoteResult {
    return jointVoteResult(this.config.voters, this.config.votersOutgoing, this.votes);
  }

  recordVote(id: NodeId, granted: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, granted);
  }

  resetVotes(): void {
    this.votes.clear();
  }

  /** True when a quorum of voters was recently active (`self` always counts). */
  quorumActive(self: NodeId): boolean {
    const votes = new Map<NodeId, boolean>();
    for (const [id, pr] of this.progress) if (!pr.isLearner) votes.set(id, id === self || pr.recentActive);
    return this.resultOf(votes) === 'won';
  }

  /**
   * Lease reads: the latest send tick of a heartbeat round a quorum acknowledged (`now` for
   * `self`), 0 when no quorum acknowledged one.
   */
  leaseQuorumTick(self: NodeId, now: number): number {
    return jointCommittedIndex(this.config.voters, this.config.votersOutgoing, (id) =>
      id === self ? now : this.progress.get(id)?.leaseAckTick,
    );
  }

  private resultOf(votes: ReadonlyMap<NodeId, boolean>): VoteResult {
    return jointVoteResult(this.config.voters, this.config.votersOutgoing, votes);
  }
}
