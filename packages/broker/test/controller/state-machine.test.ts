import { EntryType } from '@streambus/raft';
import type { Entry, Snapshot } from '@streambus/raft';
import { describe, expect, it } from 'vitest';
import { encodeCommand } from '../../src/controller/codec.js';
import type { ControllerCommand } from '../../src/controller/commands.js';
import { commandMagic } from '../../src/controller/constants.js';
import { ControllerCodecError } from '../../src/controller/errors.js';
import { encodeSnapshot } from '../../src/controller/snapshot.js';
import { ControllerStateMachine } from '../../src/controller/state-machine.js';
import type { AppliedCommand, RejectedEntry } from '../../src/controller/state-machine.js';
import type { ControllerEvent } from '../../src/controller/state.js';
import { register } from './helpers.js';

function entry(index: number, data: Uint8Array, term = 1, type: EntryType = EntryType.normal): Entry {
  return { index, term, type, data };
}

function commandEntry(index: number, command: ControllerCommand, term = 1): Entry {
  return entry(index, encodeCommand(command), term);
}

const createOrders: ControllerCommand = {
  type: 'createTopic',
  name: 'orders',
  replicationFactor: 1,
  configs: [],
  assignments: [[1], [1]],
};

describe('ControllerStateMachine', () => {
  it('applies commands, skips no-ops and conf changes, and tells listeners', () => {
    const machine = new ControllerStateMachine();
    const events: ControllerEvent[] = [];
    const applied: AppliedCommand[] = [];
    machine.onEvent((event) => events.push(event));
    const stop = machine.onApplied((a) => applied.push(a));
    machine.apply(0, [
      entry(1, new Uint8Array(), 1),
      entry(2, Uint8Array.from([1, 2, 3]), 1, EntryType.confChange),
      commandEntry(3, register(1)),
      commandEntry(4, createOrders, 2),
    ]);
    expect(machine.appliedIndex).toBe(4);
    expect(machine.appliedTerm).toBe(2);
    expect(machine.state.partitionsOf('orders').map((p) => p.groupId)).toEqual([1, 2]);
    expect(events.map((e) => e.type)).toEqual(['brokerRegistered', 'topicCreated']);
    expect(applied.map((a) => [a.index, a.term, a.command.type, a.result.ok])).toEqual([
      [3, 1, 'registerBroker', true],
      [4, 2, 'createTopic', true],
    ]);
    stop();
    machine.apply(0, [commandEntry(5, createOrders, 2)]);
    expect(applied).toHaveLength(2);
  });

  it('reports the result of a failed command to the proposer, in order', () => {
    const machine = new ControllerStateMachine();
    const applied: AppliedCommand[] = [];
    machine.onApplied((a) => applied.push(a));
    machine.apply(0, [commandEntry(1, register(1)), commandEntry(2, createOrders), commandEntry(3, createOrders)]);
    expect(applied[2]?.result).toMatchObject({ ok: false, code: 'TOPIC_ALREADY_EXISTS' });
  });

  it('skips a malformed entry the same way everywhere and reports it', () => {
    const machine = new ControllerStateMachine();
    const rejected: RejectedEntry[] = [];
    machine.onRejected((r) => rejected.push(r));
    machine.apply(0, [
      entry(1, Uint8Array.from([0x42, 1, 2])),
      entry(2, Uint8Array.from([commandMagic, 5, 1, 9])),
      commandEntry(3, register(1)),
    ]);
    expect(rejected.map((r) => [r.index, r.error.code])).toEqual([
      [1, 'CONTROLLER_MALFORMED'],
      [2, 'CONTROLLER_MALFORMED'],
    ]);
    expect(machine.appliedIndex).toBe(3);
    expect(machine.state.broker(1)).toBeDefined();
  });

  it('stops on a command from a newer broker instead of diverging', () => {
    const machine = new ControllerStateMachine();
    const newer = encodeCommand(register(1));
    newer[2] = 9;
    expect(() => machine.apply(0, [entry(1, newer)])).toThrow(ControllerCodecError);
    expect(machine.appliedIndex).toBe(0);
    expect(() => machine.apply(0, [entry(1, Uint8Array.from([commandMagic, 250, 1]))])).toThrow(/upgrade this broker/);
  });

  it('counts an entry applied even when a listener throws, so it is never applied twice', () => {
    const machine = new ControllerStateMachine();
    machine.onEvent(() => {
      throw new Error('listener bug');
    });
    expect(() => machine.apply(0, [commandEntry(1, register(1))])).toThrow('listener bug');
    expect(machine.appliedIndex).toBe(1);
    expect(() => machine.apply(0, [commandEntry(1, register(1)), commandEntry(2, createOrders)])).toThrow(
      'listener bug',
    );
    expect(machine.appliedIndex).toBe(2);
    expect(machine.state.topicCount).toBe(1);
  });

  it('restores the empty bootstrap snapshot (index 0, no data) as the empty state, and rejects empty data elsewhere', () => {
    const machine = new ControllerStateMachine();
    machine.apply(0, [commandEntry(1, register(1))]);
    const confState = { voters: [1], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
    machine.restore(0, { metadata: { index: 0, term: 0, confState }, data: new Uint8Array() });
    expect(machine.state.brokers()).toEqual([]);
    expect(machine.appliedIndex).toBe(0);
    expect(() => machine.restore(0, { metadata: { index: 5, term: 1, confState }, data: new Uint8Array() })).toThrow(
      ControllerCodecError,
    );
  });

  it('skips entries a snapshot covers and crashes on a gap', () => {
    const source = new ControllerStateMachine();
    source.apply(0, [commandEntry(1, register(1)), commandEntry(2, createOrders)]);
    const snapshot: Snapshot = {
      metadata: {
        index: 2,
        term: 1,
        confState: { voters: [1], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false },
      },
      data: source.snapshot(),
    };
    const machine = new ControllerStateMachine();
    const restored: number[] = [];
    machine.onRestored((state, s) => restored.push(s.metadata.index, state.partitionCount));
    machine.restore(0, snapshot);
    expect(restored).toEqual([2, 2]);
    expect(machine.appliedIndex).toBe(2);
    machine.apply(0, [
      commandEntry(1, register(1)),
      commandEntry(2, createOrders),
      commandEntry(3, { type: 'deleteTopic', name: 'orders' }),
    ]);
    expect(machine.state.topicCount).toBe(0);
    expect(encodeSnapshot(machine.state)).not.toEqual(snapshot.data);
    expect(() => machine.apply(0, [commandEntry(5, register(2))])).toThrow(/without gaps/);
    expect(() => machine.apply(7, [])).toThrow(/controller group/);
  });
});
