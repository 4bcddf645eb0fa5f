/**
 * Applies a ConfChange to a membership config (etcd's confchange.Changer): simple changes (at
 * most one voter added or removed), entering a joint configuration, and leaving it. Returns a
 * new config or an error string; the input is never mutated.
 */
import { ConfChangeTransition, ConfChangeType } from '../types.js';
import type { ConfChange, ConfChangeSingle, NodeId } from '../types.js';
import { isJoint } from '../tracker/tracker.js';
import type { TrackerConfig } from '../tracker/tracker.js';

export type ChangeResult =
  { readonly ok: true; readonly config: TrackerConfig } | { readonly ok: false; readonly reason: string };

interface MutableConfig {
  voters: Set<NodeId>;
  votersOutgoing: Set<NodeId>;
  learners: Set<NodeId>;
  learnersNext: Set<NodeId>;
  autoLeave: boolean;
}

function copy(config: TrackerConfig): MutableConfig {
  return {
    voters: new Set(config.voters),
    votersOutgoing: new Set(config.votersOutgoing),
    learners: new Set(config.learners),
    learnersNext: new Set(config.learnersNext),
    autoLeave: config.autoLeave,
  };
}

/** True when the change leaves a joint configuration (an empty change list). */
export function isLeaveJoint(change: ConfChange): boolean {
  return change.changes.length === 0;
}

/** True when the change enters a joint configuration rather than applying directly. */
export function entersJoint(change: ConfChange): boolean {
  if (isLeaveJoint(change)) return false;
  return change.transition !== ConfChangeTransition.auto || change.changes.length > 1;
}

export function applyChange(config: TrackerConfig, change: ConfChange): ChangeResult {
  // Changes apply on top of the group's membership; a member opened without it (an empty
  // bootstrap) must not build a config of its own from the changes alone (it could elect itself).
  if (config.voters.size === 0)
    return { ok: false, reason: "no voters known: open a joining member with the group's bootstrap membership" };
  if (isLeaveJoint(change)) return leaveJoint(config);
  if (entersJoint(change)) return enterJoint(config, change);
  return simple(config, change.changes);
}

function enterJoint(config: TrackerConfig, change: ConfChange): ChangeResult {
  if (isJoint(config)) return { ok: false, reason: 'already in a joint configuration' };
  if (config.voters.size === 0) return { ok: false, reason: 'cannot enter a joint configuration from no voters' };
  const next = copy(config);
  next.votersOutgoing = new Set(config.voters);
  next.autoLeave = change.transition !== ConfChangeTransition.jointExplicit;
  return finish(next, change.changes);
}

function leaveJoint(config: TrackerConfig): ChangeResult {
  if (!isJoint(config)) return { ok: false, reason: 'not in a joint configuration' };
  const next = copy(config);
  for (const id of next.learnersNext) next.learners.add(id);
  next.learnersNext.clear();
  next.votersOutgoing.clear();
  next.autoLeave = false;
  return check(next);
}

function simple(config: TrackerConfig, changes: readonly ConfChangeSingle[]): ChangeResult {
  if (isJoint(config)) return { ok: false, reason: 'a simple change cannot be applied in a joint configuration' };
  const result = finish(copy(config), changes);
  if (!result.ok) return result;
  let changed = 0;
  for (const id of config.voters) if (!result.config.voters.has(id)) changed++;
  for (const id of result.config.voters) if (!config.voters.has(id)) changed++;
  if (changed > 1) return { ok: false, reason: 'more than one voter changed without joint consensus' };
  return result;
}

function finish(next: MutableConfig, changes: readonly ConfChangeSingle[]): ChangeResult {
  for (const single of changes) {
    if (single.nodeId === 0) continue;
    if (single.type === ConfChangeType.addVoter) addVoter(next, single.nodeId);
    else if (single.type === ConfChangeType.addLearner) addLearner(next, single.nodeId);
    else removeNode(next, single.nodeId);
  }
  if (next.voters.size === 0) return { ok: false, reason: 'removing every voter is not allowed' };
  return check(next);
}

function addVoter(next: MutableConfig, id: NodeId): void {
  next.voters.add(id);
  next.learners.delete(id);
  next.learnersNext.delete(id);
}

function addLearner(next: MutableConfig, id: NodeId): void {
  if (next.learners.has(id)) return;
  next.voters.delete(id);
  next.learners.delete(id);
  next.learnersNext.delete(id);
  // A voter of the outgoing half stays a voter until the joint config is left.
  if (next.votersOutgoing.has(id)) next.learnersNext.add(id);
  else next.learners.add(id);
}

function removeNode(next: MutableConfig, id: NodeId): void {
  next.voters.delete(id);
  next.learners.delete(id);
  next.learnersNext.delete(id);
}

function check(next: MutableConfig): ChangeResult {
  for (const id of next.learners) {
    if (next.voters.has(id) || next.votersOutgoing.has(id))
      return { ok: false, reason: `node ${id} is both learner and voter` };
  }
  for (const id of next.learnersNext) {
    if (!next.votersOutgoing.has(id)) return { ok: false, reason: `next learner ${id} is not an outgoing voter` };
    if (next.voters.has(id)) return { ok: false, reason: `next learner ${id} is an incoming voter` };
  }
  if (next.votersOutgoing.size === 0 && next.autoLeave)
    return { ok: false, reason: 'auto-leave set outside a joint configuration' };
  return { ok: true, config: next };
}
