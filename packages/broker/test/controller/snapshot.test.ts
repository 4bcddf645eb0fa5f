import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeCommand, encodeCommand } from '../../src/controller/codec.js';
import type { ControllerCommand, ControllerResult } from '../../src/controller/commands.js';
import { decodeSnapshot, encodeSnapshot } from '../../src/controller/snapshot.js';
import { ControllerState } from '../../src/controller/state.js';
import { ControllerCodecError } from '../../src/controller/errors.js';
import { snapshotVersion } from '../../src/controller/constants.js';
import { clusterCommands } from './arbitraries.js';
import { fcOptions } from './seed.js';

const file = 'test/controller/snapshot.test.ts';

function run(commands: readonly ControllerCommand[]): { state: ControllerState; results: ControllerResult[] } {
  const state = new ControllerState();
  const results = commands.map((command) => state.apply(command));
  return { state, results };
}

const commandsArb = clusterCommands;

describe('controller snapshots', () => {
  it('round trip: decode(encode(state)) equals the state, and encodes to the same bytes', () => {
    fc.assert(
      fc.property(commandsArb, (commands) => {
        const { state } = run(commands);
        state.checkInvariants();
        const bytes = encodeSnapshot(state);
        const restored = decodeSnapshot(bytes);
        expect(restored.toParts()).toEqual(state.toParts());
        expect(encodeSnapshot(restored)).toEqual(bytes);
      }),
      fcOptions(file, 100),
    );
  });

  it('a restored state goes on exactly like the original', () => {
    fc.assert(
      fc.property(commandsArb, commandsArb, (before, after) => {
        const { state } = run(before);
        const restored = decodeSnapshot(encodeSnapshot(state));
        const results = after.map((command) => state.apply(command));
        const restoredResults = after.map((command) => restored.apply(command));
        expect(restoredResults).toEqual(results);
        expect(encodeSnapshot(restored)).toEqual(encodeSnapshot(state));
      }),
      fcOptions(file, 100),
    );
  });

  it('is deterministic: the same commands (through the codec) give the same results and byte-equal snapshots', () => {
    fc.assert(
      fc.property(commandsArb, (commands) => {
        const first = run(commands);
        const second = run(commands.map((command) => decodeCommand(encodeCommand(command))));
        expect(second.results).toEqual(first.results);
        expect(encodeSnapshot(second.state)).toEqual(encodeSnapshot(first.state));
      }),
      fcOptions(file, 100),
    );
  });

  it('rejects corrupted snapshots with a typed error', () => {
    fc.assert(
      fc.property(commandsArb, fc.nat(), fc.integer({ min: 1, max: 255 }), (commands, at, xor) => {
        const bytes = encodeSnapshot(run(commands).state);
        const flipped = bytes.slice();
        const i = at % bytes.length;
        flipped[i] = (flipped[i] as number) ^ xor;
        expect(() => decodeSnapshot(flipped)).toThrow(ControllerCodecError);
        expect(() => decodeSnapshot(bytes.subarray(0, i))).toThrow(ControllerCodecError);
      }),
      fcOptions(file, 100),
    );
  });

  it('rejects a newer snapshot version clearly', () => {
    const bytes = encodeSnapshot(new ControllerState());
    const newer = bytes.slice();
    newer[1] = snapshotVersion + 1;
    try {
      decodeSnapshot(newer);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ControllerCodecError);
      expect((error as ControllerCodecError).code).toBe('CONTROLLER_UNSUPPORTED_VERSION');
      expect((error as ControllerCodecError).message).toMatch(/upgrade this broker/);
    }
  });

  it('keeps initial replicas across a reassignment (version 2), and reads version 1 with initial = current replicas', () => {
    const brokers: ControllerCommand[] = [1, 2, 3, 4].map((brokerId) => ({
      type: 'registerBroker',
      brokerId,
      host: 'h',
      port: 1,
      adminAddress: '',
      rack: null,
      nowMs: 0,
    }));
    const { state } = run([
      ...brokers,
      {
        type: 'createTopic',
        name: 't',
        replicationFactor: 3,
        configs: [],
        assignments: [
          [1, 2, 3],
          [2, 3, 4],
        ],
      },
      { type: 'reassignPartitions', name: 't', reassignments: [{ partition: 0, replicas: [1, 2, 4] }] },
    ]);
    const restored = decodeSnapshot(encodeSnapshot(state));
    expect(restored.partitionOf('t', 0)).toMatchObject({ replicas: [1, 2, 4], initialReplicas: [1, 2, 3] });
    const v1 = encodeSnapshot(state, 1);
    expect(v1[1]).toBe(1);
    const old = decodeSnapshot(v1);
    expect(old.partitionOf('t', 0)).toMatchObject({ replicas: [1, 2, 4], initialReplicas: [1, 2, 4] });
    expect(old.partitionOf('t', 1)).toMatchObject({ replicas: [2, 3, 4], initialReplicas: [2, 3, 4] });
    // Written again, it is version 2 and keeps what version 1 gave it.
    expect(decodeSnapshot(encodeSnapshot(old)).toParts()).toEqual(old.toParts());
  });

  it('keeps the producer id counter, so allocations survive a restart', () => {
    const { state } = run([
      { type: 'registerBroker', brokerId: 1, host: 'h', port: 1, adminAddress: '', rack: null, nowMs: 0 },
      { type: 'allocateProducerIds', brokerId: 1, count: 500 },
    ]);
    const restored = decodeSnapshot(encodeSnapshot(state));
    expect(restored.apply({ type: 'allocateProducerIds', brokerId: 1, count: 1 })).toEqual({
      ok: true,
      changed: true,
      detail: { kind: 'producerIds', firstProducerId: 501, count: 1 },
    });
  });
});
