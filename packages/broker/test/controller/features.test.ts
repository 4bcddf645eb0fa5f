import { crc32c } from '@node-rs/crc32';
import { describe, expect, it } from 'vitest';
import { decodeCommand, encodeCommand } from '../../src/controller/codec.js';
import type { ControllerEvent } from '../../src/controller/state.js';
import { ControllerState } from '../../src/controller/state.js';
import { ControllerCodecError } from '../../src/controller/errors.js';
import { featureLevelMax, snapshotVersionForLevel } from '../../src/controller/features.js';
import { decodeSnapshot, encodeSnapshot } from '../../src/controller/snapshot.js';
import { clusterOf, expectFailure, expectOk } from './helpers.js';

const everyBroker = (levelMax: number) => [1, 2, 3].map((brokerId) => ({ brokerId, levelMax }));

describe('cluster feature levels in the controller', () => {
  it('a new cluster is at level 1 and writes snapshot version 2, which brokers without levels read', () => {
    const state = clusterOf(3);
    expect(state.finalizedFeatureLevel).toBe(1);
    const bytes = encodeSnapshot(state);
    expect(bytes[1]).toBe(2);
    expect(decodeSnapshot(bytes).finalizedFeatureLevel).toBe(1);
  });

  it('finalizing level 2 needs every registered broker to read it; then snapshots are version 3', () => {
    const state = clusterOf(3);
    expectFailure(
      state.apply({ type: 'finalizeFeatureLevel', level: 2, brokers: everyBroker(2).slice(0, 2) }),
      'FEATURE_LEVEL_UNSUPPORTED',
    );
    const old = state.apply({
      type: 'finalizeFeatureLevel',
      level: 2,
      brokers: [...everyBroker(2).slice(0, 2), { brokerId: 3, levelMax: 1 }],
    });
    expectFailure(old, 'FEATURE_LEVEL_UNSUPPORTED');
    if (!old.ok) expect(old.message).toBe('broker 3 reads feature levels up to 1, not 2; upgrade it first');
    expect(state.finalizedFeatureLevel).toBe(1);

    const events: ControllerEvent[] = [];
    const command = decodeCommand(encodeCommand({ type: 'finalizeFeatureLevel', level: 2, brokers: everyBroker(2) }));
    expect(expectOk(state.apply(command, events)).changed).toBe(true);
    expect(events).toEqual([{ type: 'featureLevelFinalized', level: 2, previousLevel: 1 }]);
    expect(state.finalizedFeatureLevel).toBe(2);
    const bytes = encodeSnapshot(state);
    expect(bytes[1]).toBe(snapshotVersionForLevel(2));
    expect(bytes[1]).toBe(3);
    const restored = decodeSnapshot(bytes);
    expect(restored.finalizedFeatureLevel).toBe(2);
    expect(restored.toParts()).toEqual(state.toParts());
    // Once level 2 is finalized the old format cannot carry the state.
    expect(() => encodeSnapshot(state, 2)).toThrow(/cannot carry a finalized feature level/);
  });

  it('a finalized level never goes down; finalizing it again changes nothing', () => {
    const state = clusterOf(3);
    expectOk(state.apply({ type: 'finalizeFeatureLevel', level: 2, brokers: everyBroker(2) }));
    expect(expectOk(state.apply({ type: 'finalizeFeatureLevel', level: 2, brokers: [] })).changed).toBe(false);
    expectFailure(
      state.apply({ type: 'finalizeFeatureLevel', level: 1, brokers: everyBroker(2) }),
      'INVALID_FEATURE_LEVEL',
    );
    expectFailure(state.apply({ type: 'finalizeFeatureLevel', level: 0, brokers: [] }), 'INVALID_FEATURE_LEVEL');
    expect(state.finalizedFeatureLevel).toBe(2);
  });

  it('a broker too old for a finalized level refuses the command and the snapshot with what to do', () => {
    const encoded = encodeCommand({ type: 'finalizeFeatureLevel', level: featureLevelMax, brokers: [] });
    const higher = encoded.slice();
    // [magic][type][version][level varint]: one level more than this code reads.
    higher[3] = featureLevelMax + 1;
    let error: unknown;
    try {
      decodeCommand(higher);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ControllerCodecError);
    expect((error as ControllerCodecError).needsUpgrade).toBe(true);
    expect((error as ControllerCodecError).message).toMatch(
      new RegExp(
        `^the cluster finalized feature level ${featureLevelMax + 1}; this broker \\(StreamBus .*\\) reads feature levels 1\\.\\.${featureLevelMax}: upgrade it`,
      ),
    );

    const state = new ControllerState();
    expectOk(state.apply({ type: 'finalizeFeatureLevel', level: 2, brokers: [] }));
    const snapshot = encodeSnapshot(state);
    // [magic][version][next group][next topic][next producer][level] for an empty state.
    expect(snapshot[5]).toBe(2);
    const patched = snapshot.slice();
    patched[5] = featureLevelMax + 1;
    const end = patched.length - 4;
    new DataView(patched.buffer).setUint32(end, crc32c(Buffer.from(patched.subarray(0, end))));
    expect(() => decodeSnapshot(patched)).toThrow(
      new RegExp(`reads feature levels 1\\.\\.${featureLevelMax}: upgrade it`),
    );
  });
});
