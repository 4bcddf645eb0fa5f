/** A broken Raft property found by the simulator: a test failure, with what was seen. */

/** The checks the simulator runs; the name a failure reports. */
export type SimCheck =
  /** At most one leader per term. */
  | 'election-safety'
  /** Two logs with an entry of the same index and term are identical up to it. */
  | 'log-matching'
  /** Every committed entry is in the log of every later leader. */
  | 'leader-completeness'
  /** A stored entry that was committed is truncated or replaced. */
  | 'committed-entry-lost'
  /** No two nodes apply different entries at one index; each applies in order. */
  | 'state-machine-safety'
  /** A committed proposal is the one its receipt promised, and every live member applies it. */
  | 'proposal-applied'
  /** Persist-before-send: no message promises a term, vote or entry that is not on disk. */
  | 'durability'
  /** ReadIndex never answers below the commit index known when the read was issued. */
  | 'read-linearizable'
  /** After faults heal, a leader is elected and every proposal commits in bounded virtual time. */
  | 'liveness'
  /** Host simulator: idle groups quiesce on every member, then cost no tick; a proposal wakes one promptly. */
  | 'quiescence'
  /** The node under test threw (an assertion failure or an unexpected error). */
  | 'node-error';

export class SimViolation extends Error {
  constructor(
    readonly check: SimCheck,
    readonly details: string,
  ) {
    super(`${check}: ${details}`);
    this.name = 'SimViolation';
  }
}
