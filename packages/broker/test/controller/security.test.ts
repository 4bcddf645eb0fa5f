import { scramCredential } from '@streambus/proto';
import { describe, expect, it } from 'vitest';
import { decodeCommand, encodeCommand } from '../../src/controller/codec.js';
import type { ControllerCommand } from '../../src/controller/commands.js';
import { securityFeatureLevel } from '../../src/controller/features.js';
import { decodeSnapshot, encodeSnapshot } from '../../src/controller/snapshot.js';
import { ControllerState } from '../../src/controller/state.js';
import type { Acl } from '../../src/security/acl.js';
import { usersMax } from '../../src/security/constants.js';
import { clusterOf, expectFailure, expectOk } from './helpers.js';

const alice = scramCredential('alice-password', { salt: Buffer.alloc(16, 1) });
const readEvents: Acl = { principal: 'user:alice', operation: 'read', resource: 'topic:events', permission: 'allow' };
const denyWrites: Acl = { principal: 'user:*', operation: 'write', resource: 'topic:ev*', permission: 'deny' };
const allGroups: Acl = { principal: 'user:bob', operation: 'all', resource: 'group:*', permission: 'allow' };

function securedState(): ControllerState {
  const state = clusterOf(3);
  expectOk(
    state.apply({
      type: 'finalizeFeatureLevel',
      level: securityFeatureLevel,
      brokers: [1, 2, 3].map((brokerId) => ({ brokerId, levelMax: securityFeatureLevel })),
    }),
  );
  return state;
}

describe('users and ACLs in the controller', () => {
  it('the four commands round-trip through the codec', () => {
    const commands: ControllerCommand[] = [
      { type: 'upsertUser', name: 'alice', credential: alice },
      { type: 'deleteUser', name: 'alice' },
      { type: 'createAcls', acls: [readEvents, denyWrites, allGroups] },
      { type: 'deleteAcls', acls: [denyWrites] },
    ];
    for (const command of commands) expect(decodeCommand(encodeCommand(command))).toEqual(command);
  });

  it('are refused until the cluster finalized level 3, the same on every broker', () => {
    const state = clusterOf(3);
    expectFailure(state.apply({ type: 'upsertUser', name: 'alice', credential: alice }), 'FEATURE_LEVEL_UNSUPPORTED');
    expectFailure(state.apply({ type: 'createAcls', acls: [readEvents] }), 'FEATURE_LEVEL_UNSUPPORTED');
    expect(state.securityRecords.userCount).toBe(0);
  });

  it('upsert, replace, delete a user; bad names and credentials refused', () => {
    const state = securedState();
    expect(expectOk(state.apply({ type: 'upsertUser', name: 'alice', credential: alice })).changed).toBe(true);
    expect(expectOk(state.apply({ type: 'upsertUser', name: 'alice', credential: alice })).changed).toBe(false);
    const other = scramCredential('new-password');
    expect(expectOk(state.apply({ type: 'upsertUser', name: 'alice', credential: other })).changed).toBe(true);
    expect(state.securityRecords.user('alice')?.credential).toEqual(other);
    expectFailure(state.apply({ type: 'upsertUser', name: 'no spaces', credential: alice }), 'INVALID_USER');
    expectFailure(
      state.apply({ type: 'upsertUser', name: 'bob', credential: { ...alice, iterations: 1000 } }),
      'INVALID_USER',
    );
    expectOk(state.apply({ type: 'deleteUser', name: 'alice' }));
    expectFailure(state.apply({ type: 'deleteUser', name: 'alice' }), 'USER_NOT_FOUND');
  });

  it('ACLs: added all or nothing, duplicates kept once, removed by equality', () => {
    const state = securedState();
    expectOk(state.apply({ type: 'createAcls', acls: [readEvents, denyWrites] }));
    expect(expectOk(state.apply({ type: 'createAcls', acls: [readEvents] })).changed).toBe(false);
    const bad: Acl = { principal: 'alice', operation: 'read', resource: 'topic:x', permission: 'allow' };
    expectFailure(state.apply({ type: 'createAcls', acls: [allGroups, bad] }), 'INVALID_ACL');
    expect(state.securityRecords.aclCount).toBe(2);
    const removed = expectOk(state.apply({ type: 'deleteAcls', acls: [denyWrites, allGroups] }));
    expect(removed.detail).toEqual({ kind: 'aclsRemoved', removed: 1 });
    expect(state.securityRecords.acls()).toEqual([readEvents]);
  });

  it(`at most ${usersMax} users`, () => {
    const state = securedState();
    for (let index = 0; index < usersMax; index++)
      expectOk(state.apply({ type: 'upsertUser', name: `user${index}`, credential: alice }));
    expectFailure(state.apply({ type: 'upsertUser', name: 'one-more', credential: alice }), 'USER_LIMIT_REACHED');
  });

  it('the snapshot (version 4) carries users and ACLs, canonical bytes, and refuses tampering', () => {
    const state = securedState();
    expectOk(state.apply({ type: 'upsertUser', name: 'bob', credential: scramCredential('b') }));
    expectOk(state.apply({ type: 'upsertUser', name: 'alice', credential: alice }));
    expectOk(state.apply({ type: 'createAcls', acls: [allGroups, readEvents, denyWrites] }));
    const bytes = encodeSnapshot(state);
    expect(bytes[1]).toBe(4);
    const restored = decodeSnapshot(bytes);
    expect(restored.toParts()).toEqual(state.toParts());
    expect(restored.securityRecords.users().map((user) => user.name)).toEqual(['alice', 'bob']);
    expect(restored.securityRecords.aclCount).toBe(3);
    expect(Buffer.from(encodeSnapshot(restored)).equals(Buffer.from(bytes))).toBe(true);
  });

  it('a level-2 snapshot has no users section and still reads', () => {
    const state = clusterOf(1);
    expectOk(state.apply({ type: 'finalizeFeatureLevel', level: 2, brokers: [{ brokerId: 1, levelMax: 2 }] }));
    const bytes = encodeSnapshot(state);
    expect(bytes[1]).toBe(3);
    expect(decodeSnapshot(bytes).toParts()).toEqual(state.toParts());
  });
});
