/**
 * The nemesis schedule: a list of fault steps computed from ONE seed before the run starts, so a
 * seed names the same faults at the same offsets every time. Targets that only exist at run time
 * (the current leader of a partition) are named by rule ("the leader of partition 2"), resolved
 * when the step fires.
 */
import { assert } from '@streambus/raft';
import { Prng } from '@streambus/raft/testing';
import {
  clockSkewMsMax,
  faultActiveMsMax,
  faultActiveMsMin,
  faultGapMsMax,
  faultGapMsMin,
  faultStepsMax,
} from '../constants.js';

/** Faults the nemesis can combine. `transfer`, `topic` and `reassign` happen while another fault is active. */
export const nemesisKinds = [
  'kill',
  'stop',
  'crash',
  'power',
  'partition',
  'pause',
  'delay',
  'drop',
  'duplicate',
  'reorder',
  'disk',
  'disk-fail',
  'corrupt',
  'clock',
  'transfer',
  'topic',
  'reassign',
] as const;
export type NemesisKind = (typeof nemesisKinds)[number];

export const partitionShapes = ['majority-minority', 'isolate-leader', 'one-way', 'bridge'] as const;
export type PartitionShape = (typeof partitionShapes)[number];

/**
 * Actions that happen in the middle of a fault window. `reassign` moves one replica of a
 * partition (Raft membership change: learner, promotion, removal) and goes on in the background.
 */
export type ExtraAction = 'transfer' | 'topic' | 'reassign';

const extraActions: readonly NemesisKind[] = ['transfer', 'topic', 'reassign'];

function isExtra(kind: NemesisKind): kind is ExtraAction {
  return extraActions.includes(kind);
}

export interface FaultStep {
  readonly index: number;
  readonly atMs: number;
  readonly activeMs: number;
  readonly kind: Exclude<NemesisKind, ExtraAction>;
  /** Index into the sorted broker ids (kill, stop, crash, pause, clock, and the bridge node). */
  readonly brokerIndex: number;
  /** Index into the workload's partitions (isolate-leader, one-way, transfer, reassign). */
  readonly partitionIndex: number;
  readonly shape: PartitionShape;
  /** Order of broker ids for majority/minority and bridge splits (a permutation seed). */
  readonly shuffleSeed: number;
  /** Clock jump of a `clock` step, signed. */
  readonly clockJumpMs: number;
  readonly extra: ExtraAction | null;
}

export interface ScheduleOptions {
  readonly seed: number;
  readonly durationMs: number;
  readonly kinds: readonly NemesisKind[];
  /** Quiet time at the start (cluster warm, workload flowing). */
  readonly warmupMs?: number;
}

export function planSchedule(options: ScheduleOptions): FaultStep[] {
  const random = new Prng(options.seed);
  const faults = options.kinds.filter((kind): kind is FaultStep['kind'] => !isExtra(kind));
  const extras = options.kinds.filter(isExtra);
  const steps: FaultStep[] = [];
  if (faults.length === 0 && extras.length === 0) return steps;
  let atMs = options.warmupMs ?? 1_000;
  while (steps.length < faultStepsMax) {
    const activeMs = random.between(faultActiveMsMin, faultActiveMsMax);
    if (atMs + activeMs > options.durationMs) break;
    const kind: FaultStep['kind'] =
      faults.length === 0 ? 'delay' : (faults[random.int(faults.length)] as FaultStep['kind']);
    const step: FaultStep = {
      index: steps.length,
      atMs,
      activeMs,
      kind: faults.length === 0 ? 'delay' : kind,
      brokerIndex: random.int(1 << 16),
      partitionIndex: random.int(1 << 16),
      shape: partitionShapes[random.int(partitionShapes.length)] as PartitionShape,
      shuffleSeed: random.int(1 << 30),
      clockJumpMs: random.between(-clockSkewMsMax, clockSkewMsMax),
      extra: extras.length > 0 && random.next() < 0.5 ? (extras[random.int(extras.length)] as ExtraAction) : null,
    };
    steps.push(step);
    atMs += activeMs + random.between(faultGapMsMin, faultGapMsMax);
  }
  return steps;
}

export function parseNemesis(list: string): NemesisKind[] {
  if (list.trim() === '' || list === 'none') return [];
  if (list === 'all') return [...nemesisKinds];
  const kinds = list.split(',').map((item) => item.trim());
  for (const kind of kinds) {
    if (!(nemesisKinds as readonly string[]).includes(kind))
      throw new Error(`unknown nemesis "${kind}"; choose from ${nemesisKinds.join(', ')}, all or none`);
  }
  return kinds as NemesisKind[];
}

/** A deterministic shuffle of `ids` for one step. */
export function shuffled(ids: readonly number[], seed: number): number[] {
  const random = new Prng(seed);
  const out = [...ids];
  for (let i = out.length - 1; i > 0; i--) {
    const j = random.int(i + 1);
    const a = out[i] as number;
    out[i] = out[j] as number;
    out[j] = a;
  }
  assert(out.length === ids.length, 'shuffle keeps every id');
  return out;
}

export function describeStep(step: FaultStep, brokerIds: readonly number[]): string {
  const broker = brokerIds[step.brokerIndex % brokerIds.length];
  const extra = step.extra === null ? '' : ` + ${step.extra}`;
  switch (step.kind) {
    case 'partition':
      return `partition ${step.shape} for ${step.activeMs} ms${extra}`;
    case 'clock':
      return `clock of broker ${broker} jumps ${step.clockJumpMs} ms and runs at x${(2 ** (step.clockJumpMs / clockSkewMsMax)).toFixed(2)} for ${step.activeMs} ms${extra}`;
    case 'power':
      return `power loss of every broker for ${step.activeMs} ms${extra}`;
    case 'corrupt':
      return `bit flip in a stored batch on a follower for ${step.activeMs} ms${extra}`;
    case 'disk-fail':
      return `failing disk on broker ${broker} for ${step.activeMs} ms, then a restart${extra}`;
    case 'disk':
      return `slow disk on broker ${broker} for ${step.activeMs} ms${extra}`;
    case 'delay':
    case 'drop':
    case 'duplicate':
    case 'reorder':
      return `${step.kind} frames on every link for ${step.activeMs} ms${extra}`;
    default:
      return `${step.kind} broker ${broker} for ${step.activeMs} ms${extra}`;
  }
}
