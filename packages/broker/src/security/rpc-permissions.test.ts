import { streamBusServiceDefinition } from '@streambus/proto';
import type { StreamBusMethodName } from '@streambus/proto';
import { describe, expect, it } from 'vitest';
import type { Acl, Principal } from './acl.js';
import { decideCall, rpcRules } from './rpc-permissions.js';

const alice: Principal = { kind: 'user', name: 'alice' };
const context = (acls: Acl[]) => ({ acls, superUsers: new Set<string>() });
const allow = (operation: Acl['operation'], resource: string): Acl => ({
  principal: 'user:alice',
  operation,
  resource,
  permission: 'allow',
});

describe('the RPC permission table', () => {
  it('has an entry for every RPC of the StreamBus service, and nothing else', () => {
    const methods = Object.values(streamBusServiceDefinition()).map((method) => method.path.split('/').at(-1) ?? '');
    expect(methods.length).toBeGreaterThan(20);
    expect(Object.keys(rpcRules).sort()).toEqual([...methods].sort());
  });

  it('every rule answered per topic says what one topic needs', () => {
    for (const method of Object.keys(rpcRules) as StreamBusMethodName[])
      if (rpcRules[method].perEntry === 'topics')
        expect({ method, topicNeed: typeof rpcRules[method].topicNeed }).toEqual({ method, topicNeed: 'function' });
  });

  it('only Authenticate is public', () => {
    const publicMethods = (Object.keys(rpcRules) as StreamBusMethodName[]).filter((method) => rpcRules[method].public);
    expect(publicMethods).toEqual(['Authenticate']);
  });

  it('Produce needs write on each topic and names the first refused one', () => {
    const request = {
      acks: 1 as const,
      timeoutMs: 1000,
      transactionalId: '',
      partitions: [
        { topic: 'events', partition: 0, records: new Uint8Array() },
        { topic: 'orders', partition: 0, records: new Uint8Array() },
      ],
    };
    expect(decideCall(context([allow('write', 'topic:events')]), alice, 'Produce', request)).toEqual({
      allowed: false,
      message: 'user alice may not write topic orders',
    });
    expect(decideCall(context([allow('write', 'topic:*')]), alice, 'Produce', request)).toEqual({ allowed: true });
  });

  it('CreateTopics: create on the topic or on the cluster', () => {
    const request = {
      topics: [{ name: 't', partitions: 1, replicationFactor: 1, configs: {} }],
      timeoutMs: 0,
      validateOnly: false,
    };
    expect(decideCall(context([]), alice, 'CreateTopics', request).allowed).toBe(false);
    expect(decideCall(context([allow('create', 'topic:t')]), alice, 'CreateTopics', request).allowed).toBe(true);
    expect(decideCall(context([allow('create', 'cluster')]), alice, 'CreateTopics', request).allowed).toBe(true);
  });

  it('InitProducerId: write on the cluster or on any topic', () => {
    const request = { transactionalId: '', producerId: 0, producerEpoch: 0 };
    expect(decideCall(context([allow('read', 'topic:x')]), alice, 'InitProducerId', request).allowed).toBe(false);
    expect(decideCall(context([allow('write', 'topic:x')]), alice, 'InitProducerId', request).allowed).toBe(true);
  });

  it('admin RPCs need alter on the cluster; a broker may do everything', () => {
    const upsert = { name: 'bob', credential: null };
    expect(decideCall(context([allow('describe', 'cluster')]), alice, 'UpsertUser', upsert)).toEqual({
      allowed: false,
      message: 'user alice may not alter the cluster',
    });
    expect(decideCall(context([]), { kind: 'broker', brokerId: 2 }, 'UpsertUser', upsert).allowed).toBe(true);
  });

  it('OffsetCommit needs read on the group and on each topic', () => {
    const request = {
      groupId: 'g',
      memberId: 'm',
      memberEpoch: 1,
      partitions: [{ topic: 'events', partition: 0, offset: 1, metadata: '' }],
    };
    expect(decideCall(context([allow('read', 'group:g')]), alice, 'OffsetCommit', request).allowed).toBe(false);
    expect(
      decideCall(context([allow('read', 'group:g'), allow('read', 'topic:events')]), alice, 'OffsetCommit', request)
        .allowed,
    ).toBe(true);
  });
});
