/**
 * The fault schedule of a real-network run (brokers as processes in network namespaces): a list
 * of steps computed from one seed before the run, so a seed replays the same faults at the same
 * planned offsets. The first round plays every chosen kind once, in a seeded order (so that a
 * run long enough to hold that round exercises every fault class); later steps draw kinds at
 * random. Run-time targets (the leader of a partition) are named by rule and resolved when the
 * step fires.
 */
import { Prng } from '@streambus/raft/testing';
import {
  faultStepsMax,
  realBandwidthKbit,
  realClockSkewSecondsMax,
  realClockSkewSecondsMin,
  realFaultActiveMsMax,
  realFaultActiveMsMin,
  realFaultGapMsMax,
  realFaultGapMsMin,
  realLossProbabilityMax,
  realLossProbabilityMin,
  realWarmupMs,
} from '../constants.js';
import { shuffled } from '../nemesis/schedule.js';

/**
 * Fault classes of the real-network mode. Partitions (iptables in the broker namespaces):
 * `isolate` (one broker), `isolate-leader` (the leader of a partition, from Metadata),
 * `majority-minority`, `bridge` (one node sees both sides, which do not see each other),
 * `one-way` (a broker's packets reach no peer; it still hears them). `loss`: random packet loss
 * on every broker. `bandwidth`: a tbf cap on one broker's link, both ways. `kill`: SIGKILL, then
 * restart. `pause`: SIGSTOP, then SIGCONT. `restart`: SIGTERM, then restart. `disk-full`: the
 * broker's tmpfs filled to ENOSPC (its store fails, it exits), then the filler removed and the
 * broker restarted. `clock`: the broker's wall clock (libfaketime) jumps by seconds to minutes,
 * jumps again midway, then is set right.
 */
export const realFaultKinds = [
  'isolate',
  'isolate-leader',
  'majority-minority',
  'bridge',
  'one-way',
  'loss',
  'bandwidth',
  'kill',
  'pause',
  'restart',
  'disk-full',
  'clock',
] as const;
export type RealFaultKind = (typeof realFaultKinds)[number];

export interface RealFaultStep {
  readonly index: number;
  /** Planned start, milliseconds after the workload started. */
  readonly atMs: number;
  readonly activeMs: number;
  readonly kind: RealFaultKind;
  /** Index into the sorted broker ids (the target of a single-broker fault). */
  readonly brokerIndex: number;
  /** Index into the workload's partitions (isolate-leader). */
  readonly partitionIndex: number;
  /** Order of broker ids for majority/minority and bridge splits. */
  readonly shuffleSeed: number;
  readonly lossProbability: number;
  readonly bandwidthKbit: number;
  /** The clock's first jump and its second, midway (signed seconds). */
  readonly clockSkewSeconds: readonly [number, number];
}

export interface RealScheduleOptions {
  readonly seed: number;
  readonly durationMs: number;
  readonly kinds: readonly RealFaultKind[];
}

/** A seed mixed so that the real schedule of seed N is not the in-process schedule of seed N. */
const realSeedSalt = 0x5eed_0b5;

/**
 * murmur3's finaliser: neighbouring seeds (1, 2, 3, ...) become unrelated Prng seeds (the Prng's
 * own scramble is one multiply, and its first draws for nearby seeds came out alike: the first
 * clock jumps of seeds 1, 2, 12 and 13 were all between -98 and -119 s).
 */
export function mixSeed(seed: number): number {
  let h = (seed ^ realSeedSalt) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

export function planRealSchedule(options: RealScheduleOptions): RealFaultStep[] {
  const random = new Prng(mixSeed(options.seed));
  const steps: RealFaultStep[] = [];
  if (options.kinds.length === 0) return steps;
  const firstRound = shuffled(
    options.kinds.map((_, i) => i),
    random.int(1 << 30),
  ).map((i) => options.kinds[i] as RealFaultKind);
  let atMs = realWarmupMs;
  while (steps.length < faultStepsMax) {
    const activeMs = random.between(realFaultActiveMsMin, realFaultActiveMsMax);
    if (atMs + activeMs > options.durationMs) break;
    const drawn = options.kinds[random.int(options.kinds.length)] as RealFaultKind;
    const sign = (): number => (random.next() < 0.5 ? -1 : 1);
    const skew = (): number => sign() * random.between(realClockSkewSecondsMin, realClockSkewSecondsMax);
    const step: RealFaultStep = {
      index: steps.length,
      atMs,
      activeMs,
      kind: steps.length < firstRound.length ? (firstRound[steps.length] as RealFaultKind) : drawn,
      brokerIndex: random.int(1 << 16),
      partitionIndex: random.int(1 << 16),
      shuffleSeed: random.int(1 << 30),
      lossProbability:
        Math.round((realLossProbabilityMin + random.next() * (realLossProbabilityMax - realLossProbabilityMin)) * 100) /
        100,
      bandwidthKbit: realBandwidthKbit[random.int(realBandwidthKbit.length)] as number,
      clockSkewSeconds: [skew(), skew()],
    };
    steps.push(step);
    atMs += activeMs + random.between(realFaultGapMsMin, realFaultGapMsMax);
  }
  return steps;
}

export function parseRealFaults(list: string): RealFaultKind[] {
  if (list.trim() === '' || list === 'none') return [];
  if (list === 'all') return [...realFaultKinds];
  const kinds = list.split(',').map((item) => item.trim());
  for (const kind of kinds) {
    if (!(realFaultKinds as readonly string[]).includes(kind))
      throw new Error(`unknown fault "${kind}"; choose from ${realFaultKinds.join(', ')}, all or none`);
  }
  return kinds as RealFaultKind[];
}

/** The broker a single-broker step targets. */
export function stepBroker(step: RealFaultStep, brokerIds: readonly number[]): number {
  return brokerIds[step.brokerIndex % brokerIds.length] as number;
}

export function describeRealStep(step: RealFaultStep, brokerIds: readonly number[]): string {
  const broker = stepBroker(step, brokerIds);
  const held = `for ${step.activeMs} ms`;
  switch (step.kind) {
    case 'isolate':
      return `isolate broker ${broker} ${held}`;
    case 'isolate-leader':
      return `isolate the leader of partition ${step.partitionIndex} ${held}`;
    case 'majority-minority':
    case 'bridge':
      return `partition ${step.kind} (order ${shuffled(brokerIds, step.shuffleSeed).join(',')}) ${held}`;
    case 'one-way':
      return `one-way: broker ${broker}'s packets reach no peer ${held}`;
    case 'loss':
      return `packet loss ${Math.round(step.lossProbability * 100)}% on every broker ${held}`;
    case 'bandwidth':
      return `bandwidth of broker ${broker} capped at ${step.bandwidthKbit} kbit/s ${held}`;
    case 'kill':
      return `SIGKILL broker ${broker}, restart after ${step.activeMs} ms`;
    case 'pause':
      return `SIGSTOP broker ${broker}, SIGCONT after ${step.activeMs} ms`;
    case 'restart':
      return `SIGTERM broker ${broker}, restart after ${step.activeMs} ms`;
    case 'disk-full':
      return `fill broker ${broker}'s disk ${held}, then free it and restart the broker`;
    case 'clock':
      return `clock of broker ${broker} ${signed(step.clockSkewSeconds[0])} s, then ${signed(step.clockSkewSeconds[1])} s midway, ${held}`;
  }
}

function signed(seconds: number): string {
  return seconds < 0 ? `${seconds}` : `+${seconds}`;
}

/** Partition sides for majority/minority and bridge steps: [left, right] plus the bridge node (if any). */
export function splitSides(
  step: RealFaultStep,
  brokerIds: readonly number[],
): { left: number[]; right: number[]; bridge: number | null } {
  const order = shuffled(brokerIds, step.shuffleSeed);
  if (step.kind === 'bridge' && order.length >= 3) {
    const rest = order.slice(1);
    const half = Math.ceil(rest.length / 2);
    return { left: rest.slice(0, half), right: rest.slice(half), bridge: order[0] as number };
  }
  const minority = order.slice(0, Math.max(1, Math.floor((order.length - 1) / 2)));
  return { left: minority, right: order.slice(minority.length), bridge: null };
}
