import { describe, expect, it } from 'vitest';
import { runDoubleVote } from './double-vote.js';
import { runFigure8 } from './figure8.js';
import { runLeaseLateAck } from './lease-late-ack.js';
import { runLeaseRestart } from './lease-restart.js';
import { runLeaseTransfer } from './lease-transfer.js';
import { describeFailure, replayCommand, runSeed } from './run-seeds.js';
import type { SeedRunOptions } from './run-seeds.js';
import { Simulation } from './simulation.js';
import type { SimulationResult } from './simulation.js';
import { RaftNode } from '../../node/raft-node.js';
import { assert } from '../../errors.js';
import type { Ready } from '../../types.js';

/** Runs seeds first..first+count-1; returns the failures, printing each with its replay command. */
function runSeeds(first: number, count: number, options: SeedRunOptions = {}): SimulationResult[] {
  const failures: SimulationResult[] = [];
  for (let seed = first; seed < first + count; seed++) {
    const result = runSeed(seed, options);
    if (!result.passed) failures.push(result);
  }
  return failures;
}

/** The first seed in [1, limit] whose run fails, or null. */
function firstFailingSeed(limit: number, options: SeedRunOptions): SimulationResult | null {
  for (let seed = 1; seed <= limit; seed++) {
    const result = runSeed(seed, options);
    if (!result.passed) return result;
  }
  return null;
}

describe('Raft simulator', () => {
  it('passes every check on seeds 1..50', () => {
    const failures = runSeeds(1, 50);
    for (const failure of failures) console.error(describeFailure(failure, {}));
    expect(failures.map((f) => `${f.seed}: ${f.violation?.message ?? ''}`)).toEqual([]);
  });

  it('replays a seed exactly', () => {
    const traceOf = (seed: number): string[] => {
      const lines: string[] = [];
      runSeed(seed, { trace: (line) => lines.push(line) });
      return lines;
    };
    const a = traceOf(7);
    expect(a.length).toBeGreaterThan(100);
    expect(traceOf(7)).toEqual(a);
    expect(traceOf(8)).not.toEqual(a);
    expect(runSeed(7).stats).toEqual(runSeed(7).stats);
  });

  it('does real work under faults: elections, commits, reads, crashes, snapshots, membership', () => {
    const totals = {
      proposalsCommitted: 0,
      readsAnswered: 0,
      crashes: 0,
      leaderElections: 0,
      snapshotsInstalled: 0,
      confChangesCommitted: 0,
      transfersRequested: 0,
    };
    for (let seed = 100; seed < 110; seed++) {
      const { stats } = runSeed(seed);
      for (const key of Object.keys(totals) as Array<keyof typeof totals>) totals[key] += stats[key];
    }
    console.log(`seeds 100..109: ${JSON.stringify(totals)}`);
    expect(totals.proposalsCommitted).toBeGreaterThan(100);
    expect(totals.readsAnswered).toBeGreaterThan(10);
    expect(totals.crashes).toBeGreaterThan(5);
    expect(totals.leaderElections).toBeGreaterThan(10);
    expect(totals.snapshotsInstalled).toBeGreaterThan(0);
    expect(totals.confChangesCommitted).toBeGreaterThan(5);
    expect(totals.transfersRequested).toBeGreaterThan(0);
  });
});

describe('Simulation with another RaftNodeApi implementation', () => {
  it('boots every node through createNode, and checks what that node does', () => {
    let boots = 0;
    const passing = new Simulation({
      seed: 5,
      nodes: 3,
      steps: 60,
      createNode: (config) => {
        boots++;
        return new RaftNode(config);
      },
    }).run();
    expect(passing.violation?.message ?? null).toBeNull();
    expect(boots).toBeGreaterThanOrEqual(3);
    // A node that hands its host a hard state without the vote (the vote is never stored).
    const forgetful = new Simulation({
      seed: 5,
      nodes: 3,
      steps: 60,
      createNode: (config) => {
        const node = new RaftNode(config);
        const ready = node.ready.bind(node);
        const advance = node.advance.bind(node);
        let original: Ready | null = null;
        node.ready = () => {
          original = ready();
          const hard = original.hardState;
          return hard === null ? original : { ...original, hardState: { ...hard, vote: 0 } };
        };
        node.advance = () => {
          assert(original !== null, 'advance after ready');
          return advance(original);
        };
        return node;
      },
    }).run();
    expect(forgetful.violation?.check).toBe('durability');
  });
});

describe('the checkers can fail', () => {
  // Crash-heavy runs with very short downtimes, concurrent campaigns and late duplicates of vote
  // requests: a node votes, crashes, forgets its vote and votes again in the same term.
  const crashHeavy: SeedRunOptions = { nodes: 3, profile: 'crash-heavy' };
  const crashHeavyKnob: SeedRunOptions = { ...crashHeavy, knobs: ['skipVotePersistence'] };

  it('the crash-heavy profile passes without the knob', () => {
    const failures = runSeeds(1, 50, crashHeavy);
    expect(failures.map((f) => `${f.seed}: ${f.violation?.message ?? ''}`)).toEqual([]);
  });

  it('skipVotePersistence: a seed among the first 200 breaks election safety', () => {
    const failure = firstFailingSeed(200, crashHeavyKnob);
    expect(failure, 'no seed in 1..200 failed').not.toBeNull();
    console.log(
      `skipVotePersistence: seed ${failure?.seed} fails ${failure?.violation?.check}: ${failure?.violation?.details ?? ''}; replay: ${replayCommand(failure?.seed ?? 0, crashHeavyKnob)}`,
    );
    expect(failure?.violation?.check).toBe('election-safety');
    // The run up to a failure does not depend on how many steps follow it: a shorter replay.
    if (failure === null || failure.phase !== 'random') return;
    const shorter = runSeed(failure.seed, { ...crashHeavyKnob, steps: failure.stepsDone + 1 });
    expect(shorter.violation?.message).toBe(failure.violation?.message);
  });

  it('skipVotePersistence: the durability check catches the unpersisted vote on seeds 1..5 of the default profile', () => {
    for (let seed = 1; seed <= 5; seed++) {
      const result = runSeed(seed, { knobs: ['skipVotePersistence'] });
      expect(result.violation?.check, `seed ${seed}`).toBe('durability');
    }
  });

  it('skipVotePersistence: the directed double-vote scenario elects two leaders in one term (seeds 1..5)', () => {
    for (let seed = 1; seed <= 5; seed++) {
      const result = runDoubleVote({ seed, skipVotePersistence: true });
      expect(result.violation?.check, `seed ${seed}`).toBe('election-safety');
    }
  });

  it('the same double-vote scenario without the knob passes every check (seeds 1..5)', () => {
    for (let seed = 1; seed <= 5; seed++) {
      const result = runDoubleVote({ seed, skipVotePersistence: false });
      expect(result.violation?.message ?? null, `seed ${seed}`).toBeNull();
    }
  });

  const figure8Hunt: SeedRunOptions = { nodes: 3, steps: 300, profile: 'figure8-hunt' };

  it('commitOldTermEntries: a random seed among the first 200 loses a committed entry (Figure 8)', () => {
    const options: SeedRunOptions = { ...figure8Hunt, knobs: ['commitOldTermEntries'] };
    const failure = firstFailingSeed(200, options);
    expect(failure, 'no seed in 1..200 failed').not.toBeNull();
    console.log(
      `commitOldTermEntries: seed ${failure?.seed} fails ${failure?.violation?.check}: ${failure?.violation?.details ?? ''}; replay: ${replayCommand(failure?.seed ?? 0, options)}`,
    );
    expect(['committed-entry-lost', 'leader-completeness', 'state-machine-safety']).toContain(
      failure?.violation?.check,
    );
  });

  it('the figure8-hunt profile passes without the knob', () => {
    const failures = runSeeds(1, 70, figure8Hunt);
    expect(failures.map((f) => `${f.seed}: ${f.violation?.message ?? ''}`)).toEqual([]);
  });

  it('commitOldTermEntries: the directed Figure 8 scenario loses a committed entry (seeds 1..5)', () => {
    for (let seed = 1; seed <= 5; seed++) {
      const result = runFigure8({ seed, commitOldTermEntries: true });
      expect(result.passed, `seed ${seed}`).toBe(false);
      expect(['committed-entry-lost', 'leader-completeness', 'state-machine-safety']).toContain(
        result.violation?.check,
      );
    }
  });

  it('the same Figure 8 scenario without the knob passes every check (seeds 1..5)', () => {
    for (let seed = 1; seed <= 5; seed++) {
      const result = runFigure8({ seed, commitOldTermEntries: false });
      expect(result.violation?.message ?? null, `seed ${seed}`).toBeNull();
      expect(result.stats.proposalsCommitted, `seed ${seed}: X is lost, the first entry is not`).toBe(1);
    }
  });
});

describe('corrupt logs repaired from the leader', () => {
  const corruptRepair: SeedRunOptions = { profile: 'corrupt-repair' };

  it('passes every check with followers restarting on cut logs (seeds 1..150)', () => {
    const failures = runSeeds(1, 150, corruptRepair);
    expect(failures.map((f) => `${f.seed}: ${f.violation?.message ?? ''}`)).toEqual([]);
    const corruptions = runSeed(1, corruptRepair).stats.corruptions;
    expect(corruptions, 'seed 1 cuts some logs').toBeGreaterThan(0);
  });

  it('voteWhileRepairing: a seed among the first 100 elects a leader lacking a committed entry', () => {
    const options: SeedRunOptions = { ...corruptRepair, knobs: ['voteWhileRepairing'] };
    const failure = firstFailingSeed(100, options);
    expect(failure, 'no seed in 1..100 failed').not.toBeNull();
    console.log(
      `voteWhileRepairing: seed ${failure?.seed} fails ${failure?.violation?.check}: ${failure?.violation?.details ?? ''}; replay: ${replayCommand(failure?.seed ?? 0, options)}`,
    );
    expect(['committed-entry-lost', 'leader-completeness', 'state-machine-safety']).toContain(
      failure?.violation?.check,
    );
  });
});

describe("a learner added after the leader's last snapshot", () => {
  // Found by the simulator (seed 646 of profile no-conf-snapshot, before clocks drifted): a
  // learner added after the leader's last snapshot could never catch up, because RaftNode ignored
  // a snapshot whose membership did not name it and the leader resent it forever. Fixed in
  // RaftNode by 78db91b; these seeds install exactly such snapshots and must converge.
  // Replay one with: npm run sim -- --seed N --profile no-conf-snapshot --verbose
  it('installs a snapshot that predates its addition and catches up (profile no-conf-snapshot, seeds 1..600)', () => {
    const exercised: number[] = [];
    for (let seed = 1; seed <= 600 && exercised.length < 2; seed++) {
      const result = runSeed(seed, { profile: 'no-conf-snapshot' });
      expect(result.violation?.message ?? null, `seed ${seed}`).toBeNull();
      if (result.stats.snapshotsNotNamingRecipient > 0) exercised.push(seed);
    }
    console.log(`seeds installing a snapshot older than their recipient: ${exercised.join(', ')}`);
    expect(exercised.length).toBeGreaterThanOrEqual(2);
  });
});

describe('lease reads across a leadership transfer', () => {
  // Found by the simulator (random seed 3538 of the default profile, before simulated clocks
  // drifted, and this directed scenario):
  // RaftNode answered lease reads on a leader that had already handed leadership away with
  // TimeoutNow (the transferee's campaign ignores leases), so a read could miss a committed
  // write. Fixed in RaftNode by 64eb2ed (no lease reads once TimeoutNow was sent); kept as a
  // regression scenario. Replay: npm run sim -- --seed 1 --scenario lease-transfer --verbose
  it('the old leader serves no stale lease read after TimeoutNow (scenario seeds 1..5)', () => {
    for (let seed = 1; seed <= 5; seed++) {
      const result = runLeaseTransfer({ seed });
      expect(result.violation?.message ?? null, `seed ${seed}`).toBeNull();
    }
  });
});

describe('lease reads across a restart and a late heartbeat answer (review issue 16)', () => {
  // A restarted follower voted at once although it may have acknowledged the leader's heartbeat
  // just before it went down; and the lease ran from the arrival of the quorum's answer instead of
  // the heartbeat's send. Both let the old leader answer a read below a commit made elsewhere.
  // Replay: npm run sim -- --seed 1 --scenario lease-restart --verbose (or lease-late-ack)
  it('a restarted follower does not help elect a new leader within the lease (scenario seeds 1..5)', () => {
    for (let seed = 1; seed <= 5; seed++) {
      const result = runLeaseRestart({ seed });
      expect(result.violation?.message ?? null, `seed ${seed}`).toBeNull();
    }
  });

  it('the lease runs from the heartbeat’s send, not its late answer (scenario seeds 1..5)', () => {
    for (let seed = 1; seed <= 5; seed++) {
      const result = runLeaseLateAck({ seed });
      expect(result.violation?.message ?? null, `seed ${seed}`).toBeNull();
    }
  });
});
