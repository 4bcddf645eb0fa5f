/**
 * Named run profiles and unsafe knobs, so that every run the tests make can be replayed from the
 * command line: `npm run sim -- --seed 28 --profile crash-heavy --knob skipVotePersistence`.
 */
import type { UnsafeTestingKnobs } from '../../config.js';
import type { SimulationOptions } from './simulation.js';

type ProfileOptions = Omit<SimulationOptions, 'seed' | 'trace' | 'nodes' | 'steps'>;

export const simProfiles = {
  /** Every fault and action, each seed choosing its Raft settings. */
  default: {},
  /**
   * Crashes with very short downtimes, concurrent campaigns and late duplicates of vote requests,
   * without PreVote or CheckQuorum: what it takes for a node that forgets its vote to vote twice.
   * The durability check is off so that such a vote shows up as two leaders in a term.
   */
  'crash-heavy': {
    checkDurability: false,
    raft: { preVote: false, checkQuorum: false },
    weights: {
      crash: 40,
      campaign: 40,
      propose: 10,
      read: 0,
      membership: 0,
      partition: 0,
      isolate: 0,
      oneWay: 0,
      networkFaults: 0,
    },
    downtimeMsMax: 10,
    networkFaults: {
      dropRate: 0,
      duplicateRate: 0.5,
      delayMsMin: 1,
      delayMsMax: 30,
      spikeRate: 0.3,
      spikeDelayMsMax: 100,
    },
  },
  /**
   * Crashes, isolations and campaigns on a lossy network, one entry per append and one append in
   * flight, without PreVote: random runs that reach Figure 8 of the Raft paper (an old-term entry
   * replicated on a quorum, then overwritten) within a few hundred seeds.
   */
  'figure8-hunt': {
    raft: { messageBytesMax: 1, inflightMessagesMax: 1, preVote: false, checkQuorum: true },
    weights: {
      crash: 25,
      isolate: 15,
      partition: 10,
      heal: 10,
      campaign: 10,
      propose: 30,
      membership: 0,
      compact: 0,
      read: 0,
    },
    downtimeMsMax: 200,
    networkFaults: {
      dropRate: 0.1,
      duplicateRate: 0.05,
      delayMsMin: 1,
      delayMsMax: 15,
      spikeRate: 0.1,
      spikeDelayMsMax: 150,
    },
  },
  /**
   * Every fault plus corrupt logs: a follower restarts with a suffix of its log dropped, as the
   * broker's repair of a corrupt replica does, and must never help elect a leader lacking what it
   * had acknowledged. `--knob voteWhileRepairing` drops that rule: the checkers then see committed
   * entries lost. Membership changes are off: a removal can leave too few healthy voters.
   */
  'corrupt-repair': { weights: { corrupt: 4, membership: 0 } },
  /** The default run without the host's snapshot-on-membership-change policy. */
  'no-conf-snapshot': { snapshotOnConfChange: false },
} satisfies Record<string, ProfileOptions>;

export type SimProfileName = keyof typeof simProfiles;

export function isSimProfileName(name: string): name is SimProfileName {
  return Object.hasOwn(simProfiles, name);
}

export type SimKnob = keyof UnsafeTestingKnobs;

export const simKnobs: readonly SimKnob[] = ['skipVotePersistence', 'commitOldTermEntries', 'voteWhileRepairing'];

export function isSimKnob(name: string): name is SimKnob {
  return (simKnobs as readonly string[]).includes(name);
}

/** The options of a profile, with `knobs` switched on in its Raft settings. */
export function profileOptions(profile: SimProfileName, knobs: readonly SimKnob[]): ProfileOptions {
  const base: ProfileOptions = simProfiles[profile];
  if (knobs.length === 0) return base;
  const unsafeTestingKnobs: UnsafeTestingKnobs = Object.fromEntries(knobs.map((knob) => [knob, true]));
  return { ...base, raft: { ...base.raft, unsafeTestingKnobs } };
}
