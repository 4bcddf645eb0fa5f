/**
 * The controller group's `StateMachine`: decodes committed entries into commands and applies
 * them to a `ControllerState`, restores from snapshots, and tells listeners what changed (the
 * broker core creates and removes partition groups from these events).
 *
 * Entries it skips: conf changes (membership is the host's business), empty normal entries (the
 * leader's no-op of each term), and malformed payloads. A malformed entry is skipped the same way
 * on every broker (Raft gives all of them the same bytes) and reported to `onRejected`. A command
 * from a newer broker (unknown type or version) is not skippable: skipping it would let this
 * broker's state silently diverge, so `apply` throws the ControllerCodecError and this broker
 * must be upgraded before it can go on.
 */
import { assert, EntryType } from '@streambus/raft';
import type { Entry, GroupId, Snapshot, StateMachine } from '@streambus/raft';
import { decodeCommand } from './codec.js';
import type { ControllerCommand, ControllerResult } from './commands.js';
import { controllerGroupId } from './constants.js';
import { ControllerCodecError } from './errors.js';
import { decodeSnapshot, encodeSnapshot } from './snapshot.js';
import { ControllerState } from './state.js';
import type { ControllerEvent } from './state.js';

/** One applied command with its outcome; the leader matches (index, term) to its proposals. */
export interface AppliedCommand {
  readonly index: number;
  readonly term: number;
  readonly command: ControllerCommand;
  readonly result: ControllerResult;
}

export interface RejectedEntry {
  readonly index: number;
  readonly term: number;
  readonly error: ControllerCodecError;
}

export type ControllerEventListener = (event: ControllerEvent, state: ControllerState) => void;
export type AppliedListener = (applied: AppliedCommand, state: ControllerState) => void;
export type RestoredListener = (state: ControllerState, snapshot: Snapshot) => void;
export type RejectedListener = (rejected: RejectedEntry) => void;

/** Removes the listener it was returned for. */
export type Unsubscribe = () => void;

function subscribe<L>(listeners: L[], listener: L): Unsubscribe {
  listeners.push(listener);
  return () => {
    const i = listeners.indexOf(listener);
    if (i >= 0) listeners.splice(i, 1);
  };
}

export class ControllerStateMachine implements StateMachine {
  private current: ControllerState;
  private applied = 0;
  private appliedAtTerm = 0;
  private readonly eventListeners: ControllerEventListener[] = [];
  private readonly appliedListeners: AppliedListener[] = [];
  private readonly restoredListeners: RestoredListener[] = [];
  private readonly rejectedListeners: RejectedListener[] = [];

  constructor(
    private readonly groupId: GroupId = controllerGroupId,
    initial: ControllerState = new ControllerState(),
  ) {
    this.current = initial;
  }

  get state(): ControllerState {
    return this.current;
  }
  /** The index of the last entry applied (or covered by the restored snapshot). */
  get appliedIndex(): number {
    return this.applied;
  }
  get appliedTerm(): number {
    return this.appliedAtTerm;
  }

  onEvent(listener: ControllerEventListener): Unsubscribe {
    return subscribe(this.eventListeners, listener);
  }
  onApplied(listener: AppliedListener): Unsubscribe {
    return subscribe(this.appliedListeners, listener);
  }
  onRestored(listener: RestoredListener): Unsubscribe {
    return subscribe(this.restoredListeners, listener);
  }
  onRejected(listener: RejectedListener): Unsubscribe {
    return subscribe(this.rejectedListeners, listener);
  }

  apply(groupId: GroupId, entries: readonly Entry[]): void {
    assert(groupId === this.groupId, 'entries are for the controller group');
    for (const entry of entries) {
      // Entries a restored snapshot already covers are skipped; a gap would lose commands.
      if (entry.index <= this.applied) continue;
      assert(entry.index === this.applied + 1, 'committed entries are applied without gaps');
      assert(entry.term >= this.appliedAtTerm, 'terms do not go back along the log');
      this.applyEntry(entry);
    }
  }

  private markApplied(entry: Entry): void {
    this.applied = entry.index;
    this.appliedAtTerm = entry.term;
  }

  /** Applies one entry and records it applied before any listener runs (a throwing listener must not make it apply twice). */
  private applyEntry(entry: Entry): void {
    if (entry.type === EntryType.confChange || entry.data.length === 0) {
      this.markApplied(entry);
      return;
    }
    let command: ControllerCommand;
    try {
      command = decodeCommand(entry.data);
    } catch (error) {
      if (!(error instanceof ControllerCodecError) || error.needsUpgrade) throw error;
      this.markApplied(entry);
      const rejected: RejectedEntry = { index: entry.index, term: entry.term, error };
      for (const listener of [...this.rejectedListeners]) listener(rejected);
      return;
    }
    const events: ControllerEvent[] = [];
    const result = this.current.apply(command, events);
    this.markApplied(entry);
    for (const event of events) for (const listener of [...this.eventListeners]) listener(event, this.current);
    const applied: AppliedCommand = { index: entry.index, term: entry.term, command, result };
    for (const listener of [...this.appliedListeners]) listener(applied, this.current);
  }

  restore(groupId: GroupId, snapshot: Snapshot): void {
    assert(groupId === this.groupId, 'snapshot is for the controller group');
    // A bootstrapped group's storage starts from an empty snapshot at index 0: the empty state.
    const empty = snapshot.metadata.index === 0 && snapshot.data.length === 0;
    this.current = empty ? new ControllerState() : decodeSnapshot(snapshot.data);
    this.applied = snapshot.metadata.index;
    this.appliedAtTerm = snapshot.metadata.term;
    for (const listener of [...this.restoredListeners]) listener(this.current, snapshot);
  }

  /** The state as snapshot bytes, covering `appliedIndex` at `appliedTerm`. */
  snapshot(): Uint8Array {
    return encodeSnapshot(this.current);
  }
}
