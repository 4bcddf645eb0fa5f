import { scramCredential } from '@streambus/proto';
import { describe, expect, it } from 'vitest';
import { ControllerState } from '../controller/state.js';
import { createLogger } from '../logging/logger.js';
import type { Acl } from './acl.js';
import { SecuritySeeder } from './seeder.js';

const alice = scramCredential('alice-pw', { salt: Buffer.alloc(16, 2) });
const bob = scramCredential('bob-pw', { salt: Buffer.alloc(16, 3) });
const readEvents: Acl = { principal: 'user:alice', operation: 'read', resource: 'topic:events', permission: 'allow' };

function seeder(): SecuritySeeder {
  return new SecuritySeeder({
    nodeId: 1,
    users: [
      { name: 'alice', credential: alice },
      { name: 'bob', credential: bob },
    ],
    acls: [readEvents],
    authEnabled: true,
    state: () => new ControllerState(),
    controllerLeaderId: () => 1,
    controllerCaughtUp: () => true,
    propose: () => Promise.reject(new Error('not in this test')),
    finalizeLevel: () => Promise.resolve({ ok: true }),
    logger: createLogger({ level: 'error' }),
  });
}

describe('seeding users and ACLs', () => {
  it('proposes what is absent, one command at a time, and leaves a changed user alone', () => {
    const state = new ControllerState();
    state.apply({ type: 'finalizeFeatureLevel', level: 3, brokers: [] });
    const seeds = seeder();
    expect(seeds.nextCommand(state)).toEqual({ type: 'upsertUser', name: 'alice', credential: alice });
    // alice changed her password since: the seed does not put the old credential back.
    state.apply({ type: 'upsertUser', name: 'alice', credential: bob });
    expect(seeds.nextCommand(state)).toEqual({ type: 'upsertUser', name: 'bob', credential: bob });
    state.apply({ type: 'upsertUser', name: 'bob', credential: bob });
    expect(seeds.nextCommand(state)).toEqual({ type: 'createAcls', acls: [readEvents] });
    state.apply({ type: 'createAcls', acls: [readEvents] });
    expect(seeds.nextCommand(state)).toBeUndefined();
  });
});
