/**
 * The random actions and helpers that the RaftNode simulator (`Simulation`) and the host
 * simulator (`HostSimulation`) share: the weighted draw of the next action, the network faults
 * (partitions, cut links, heal, drop/duplicate/delay rates), proposal payloads, the error a
 * node or host throws turned into a violation, the trace line format, the shared action weights,
 * the resolved Raft settings as a node's config, and a configuration's members. Each draws from the
 * caller's `Prng` in the same order as before, so a seed replays the same run.
 */
import type { RaftNodeConfig, ReadOnlyMode, UnsafeTestingKnobs } from '../../config.js';
import { RaftError } from '../../errors.js';
import type { ConfState, NodeId } from '../../types.js';
import { simPayloadBytesMax } from './constants.js';
import { quietNetworkFaults } from './network.js';
import type { Addressed, NetworkFaults, SimNetwork } from './network.js';
import type { Prng } from './prng.js';
import { SimViolation } from './violation.js';

/** Relative weights of the random actions both simulators draw; 0 turns an action off. */
export interface CommonActionWeights {
  readonly propose: number;
  readonly proposeBatch: number;
  readonly read: number;
  readonly transferLeader: number;
  readonly campaign: number;
  readonly crash: number;
  readonly partition: number;
  readonly oneWay: number;
  readonly isolate: number;
  readonly heal: number;
  readonly networkFaults: number;
  readonly compact: number;
}

export const commonActionWeightsDefault: CommonActionWeights = {
  propose: 30,
  proposeBatch: 6,
  read: 10,
  transferLeader: 3,
  campaign: 1,
  crash: 4,
  partition: 3,
  oneWay: 2,
  isolate: 2,
  heal: 5,
  networkFaults: 3,
  compact: 2,
};

/** The Raft settings a run uses, after the seed chose the unset ones. */
export interface ResolvedRaftOptions {
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly inflightMessagesMax: number;
  readonly messageBytesMax: number;
  readonly readOnlyMode: ReadOnlyMode;
  readonly leaseDriftBoundTicks: number;
  readonly appendBeforePersist: boolean;
  readonly unsafeTestingKnobs: UnsafeTestingKnobs | undefined;
}

/** The Raft settings of a node (or a host's groups) as the seed resolved them. */
export function raftSettings(raft: ResolvedRaftOptions): Omit<RaftNodeConfig, 'id' | 'storage' | 'random'> {
  return {
    electionTicks: raft.electionTicks,
    heartbeatTicks: raft.heartbeatTicks,
    preVote: raft.preVote,
    checkQuorum: raft.checkQuorum,
    inflightMessagesMax: raft.inflightMessagesMax,
    messageBytesMax: raft.messageBytesMax,
    readOnlyMode: raft.readOnlyMode,
    leaseDriftBoundTicks: raft.leaseDriftBoundTicks,
    appendBeforePersist: raft.appendBeforePersist,
    ...(raft.unsafeTestingKnobs === undefined ? {} : { unsafeTestingKnobs: raft.unsafeTestingKnobs }),
  };
}

/** Every member of `confState`: voters and learners, incoming and outgoing, once each. */
export function membersOf(confState: ConfState): NodeId[] {
  return [
    ...new Set([...confState.voters, ...confState.learners, ...confState.votersOutgoing, ...confState.learnersNext]),
  ];
}

/** One row of a weighted action table: its relative weight (0 turns it off) and what it does. */
export type WeightedAction = readonly [weight: number, action: () => void];

/** Runs one action of `table`, drawn in proportion to the weights; none when they sum to 0. */
export function runWeightedAction(prng: Prng, table: readonly WeightedAction[]): void {
  let total = 0;
  for (const [weight] of table) total += weight;
  if (total === 0) return;
  let roll = prng.next() * total;
  for (const [weight, action] of table) {
    roll -= weight;
    if (roll < 0) return action();
  }
}

/** Splits `ids` at random into a side of 1 to half of them and the rest, and partitions the two. */
export function partitionAtRandom<M extends Addressed>(
  prng: Prng,
  network: SimNetwork<M>,
  ids: readonly NodeId[],
  log: (line: () => string) => void,
): void {
  const shuffled = prng.shuffled(ids);
  const size = 1 + prng.int(Math.max(1, Math.floor(shuffled.length / 2)));
  const side = shuffled.slice(0, size);
  network.partition(side, shuffled.slice(size));
  log(() => `partition [${side.join(',')}] | [${shuffled.slice(size).join(',')}]`);
}

/** Cuts the link from one random member of `ids` to another, in that direction only. */
export function cutLinkAtRandom<M extends Addressed>(
  prng: Prng,
  network: SimNetwork<M>,
  ids: readonly NodeId[],
  log: (line: () => string) => void,
): void {
  const [from, to] = prng.shuffled(ids);
  if (from === undefined || to === undefined) return;
  network.blockOneWay(from, to);
  log(() => `cut link ${from} → ${to}`);
}

export function healNetwork<M extends Addressed>(network: SimNetwork<M>, log: (line: () => string) => void): void {
  network.heal();
  log(() => 'heal network');
}

/** New drop, duplicate and delay rates for `network`: quiet three times in ten. */
export function drawNetworkFaults<M extends Addressed>(
  prng: Prng,
  network: SimNetwork<M>,
  log: (line: () => string) => void,
): void {
  const faults: NetworkFaults = prng.chance(0.3)
    ? quietNetworkFaults
    : {
        dropRate: prng.chance(0.5) ? 0 : prng.next() * 0.3,
        duplicateRate: prng.chance(0.5) ? 0 : prng.next() * 0.2,
        delayMsMin: 1,
        delayMsMax: prng.between(1, 40),
        spikeRate: prng.chance(0.5) ? 0 : prng.next() * 0.2,
        spikeDelayMsMax: prng.between(40, 400),
      };
  network.faults = faults;
  log(() => `network faults ${JSON.stringify(faults)}`);
}

/** A proposal id as the first 4 bytes of its payload (big-endian). */
export function encodeId(id: number): Uint8Array {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, id);
  return bytes;
}

/** A proposal's data: its id in the first 4 bytes, then up to `simPayloadBytesMax` random bytes. */
export function randomPayload(prng: Prng, proposalId: number): Uint8Array {
  const bytes = new Uint8Array(4 + prng.int(simPayloadBytesMax + 1));
  bytes.set(encodeId(proposalId));
  for (let i = 4; i < bytes.length; i++) bytes[i] = prng.int(256);
  return bytes;
}

/** What `what` (a node or a host) `id` threw, as a violation: a bug of the code under test. */
export function nodeErrorViolation(what: 'node' | 'host', id: NodeId, error: unknown): SimViolation {
  if (error instanceof SimViolation) return error;
  const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
  return new SimViolation('node-error', `${what} ${id} threw: ${text.split('\n').slice(0, 6).join('\n')}`);
}

/**
 * Calls into `what` (a node or a host) `id`: its typed errors (NotLeaderError, ...) are expected
 * answers and only logged; anything else is a bug, thrown as a violation.
 */
export function tolerateRaftErrors(
  what: 'node' | 'host',
  id: NodeId,
  fn: () => void,
  log: (line: () => string) => void,
): void {
  try {
    fn();
  } catch (error) {
    if (error instanceof RaftError) {
      log(() => `${what} ${id}: ${error.code}`);
      return;
    }
    throw nodeErrorViolation(what, id, error);
  }
}

/** A trace line stamped with the virtual time. */
export function traceLine(nowMs: number, line: string): string {
  return `[${nowMs.toFixed(1).padStart(8)} ms] ${line}`;
}
