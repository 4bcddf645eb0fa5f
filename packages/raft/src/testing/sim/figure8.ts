/**
 * A directed scenario for Figure 8 of the Raft paper, scripted with the simulator's fault
 * primitives on a group of three (A, B, C):
 *  1. A leads term t1; isolated, it appends X at index i that nobody else gets.
 *  2. B wins a later term t2 with C's vote and appends its no-op at index i, which never leaves B
 *     (appends from B and C are dropped); then B crashes.
 *  3. A returns and wins term t3 with C's vote; appends to C are cut short to index i, so C stores
 *     X but not A's no-op. A now holds a quorum for X, an entry of an older term: Raft forbids
 *     committing it, `commitOldTermEntries` commits it anyway.
 *  4. A crashes; B returns and wins term t4 with C's vote (its last term t2 beats t1), then
 *     overwrites index i on C. If X was committed, a committed entry is lost.
 * With correct Raft the run converges and every check passes; with the knob a checker fails.
 */
import { assert } from '../../errors.js';
import type { Message, NodeId } from '../../types.js';
import { MessageType } from '../../types.js';
import { Simulation } from './simulation.js';
import { runScenario, scenarioNeed } from './scenario.js';
import type { SimulationResult } from './simulation.js';

export interface Figure8Options {
  readonly seed: number;
  readonly commitOldTermEntries: boolean;
  readonly trace?: (line: string) => void;
}

/** Virtual time each phase may take before the scenario gives up on it. */
const phaseMsMax = 20_000;

export function runFigure8(options: Figure8Options): SimulationResult {
  const sim = new Simulation({
    seed: options.seed,
    nodes: 3,
    steps: 0,
    asyncDisk: false,
    // One entry per append, so that an append can be cut after index i.
    raft: {
      messageBytesMax: 1,
      preVote: true,
      checkQuorum: true,
      ...(options.commitOldTermEntries ? { unsafeTestingKnobs: { commitOldTermEntries: true } } : {}),
    },
    ...(options.trace === undefined ? {} : { trace: options.trace }),
  });
  return runScenario(sim, script);
}

function script(sim: Simulation): void {
  sim.start();
  need(
    sim.runUntil(() => sim.leader() !== 0, phaseMsMax),
    'a first leader',
  );
  const a = sim.leader();
  const first = sim.propose(a);
  need(first > 0, 'the first leader accepts a proposal');
  need(
    sim.runUntil(() => sim.memberIds().every((id) => sim.describe(id).applied >= first), phaseMsMax),
    'a first entry applied everywhere',
  );
  const [b0, c0] = sim.memberIds().filter((id) => id !== a);
  assert(b0 !== undefined && c0 !== undefined, 'three members');

  // 1. A alone appends X at index i.
  sim.network.partition([a], [b0, c0]);
  const i = sim.propose(a);
  need(i > 0, 'A accepts X');
  sim.runFor(50);
  need(lastOf(sim, a)?.[0] === i, "X is on A's disk");

  // 2. B (whichever of the others wins) appends its no-op at i; nothing of it leaves.
  const dropAppends = sim.network.addFilter(
    (m) => m.from !== a && (m.type === MessageType.append || m.type === MessageType.snapshot),
  );
  need(
    sim.runUntil(() => [b0, c0].some((id) => isLeaderWithEntryAt(sim, id, i)), phaseMsMax),
    'B leads with its no-op at i',
  );
  const b = [b0, c0].find((id) => isLeaderWithEntryAt(sim, id, i));
  assert(b !== undefined, 'B found');
  const c = b === b0 ? c0 : b0;
  sim.crash(b);
  sim.network.removeFilter(dropAppends);

  // 3. A leads again; C gets X but nothing after it.
  sim.network.heal();
  const cutAfterI = sim.network.addRewrite((m) =>
    m.from === a && m.to === c && m.type === MessageType.append ? truncateAfter(m, i) : m,
  );
  need(
    sim.runUntil(() => sim.leader() === a && sim.describe(a).term > sim.describe(b).term, phaseMsMax),
    'A leads a later term',
  );
  need(
    sim.runUntil(() => termAt(sim, c, i) === termAt(sim, a, i), phaseMsMax),
    'C stores X',
  );
  sim.runFor(500);

  // 4. A crashes, B returns and wins with C's vote.
  // (A's appends still in flight stay cut short: C must not learn A's no-op.)
  sim.crash(a);
  sim.restart(b);
  need(
    sim.runUntil(() => sim.leader() === b && termAt(sim, c, i) === termAt(sim, b, i), phaseMsMax),
    'B leads and C follows it',
  );
  sim.network.removeRewrite(cutAfterI);
  sim.restart(a);
}

function need(ok: boolean, what: string): void {
  scenarioNeed('figure 8', ok, what);
}

function lastOf(sim: Simulation, id: NodeId): [number, number] | undefined {
  const log = sim.describe(id).log;
  return log[log.length - 1];
}

function termAt(sim: Simulation, id: NodeId, index: number): number {
  return sim.describe(id).log.find(([at]) => at === index)?.[1] ?? 0;
}

function isLeaderWithEntryAt(sim: Simulation, id: NodeId, index: number): boolean {
  return sim.isUp(id) && sim.leader() === id && termAt(sim, id, index) === sim.describe(id).term;
}

function truncateAfter(message: Message, index: number): Message {
  const entries = message.entries.filter((entry) => entry.index <= index);
  return entries.length === message.entries.length ? message : { ...message, entries };
}
