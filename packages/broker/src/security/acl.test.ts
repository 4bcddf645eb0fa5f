import { describe, expect, it } from 'vitest';
import type { Acl, AclOperation, AclResource, Principal } from './acl.js';
import { aclProblem, describeRefusal, isAllowed } from './acl.js';

const alice: Principal = { kind: 'user', name: 'alice' };
const bob: Principal = { kind: 'user', name: 'bob' };
const topic = (name: string): AclResource => ({ kind: 'topic', name });
const group = (name: string): AclResource => ({ kind: 'group', name });
const cluster: AclResource = { kind: 'cluster' };
const allow = (principal: string, operation: Acl['operation'], resource: string): Acl => ({
  principal,
  operation,
  resource,
  permission: 'allow',
});
const deny = (principal: string, operation: Acl['operation'], resource: string): Acl => ({
  ...allow(principal, operation, resource),
  permission: 'deny',
});

function allowed(
  acls: Acl[],
  principal: Principal,
  operation: AclOperation,
  resource: AclResource,
  superUsers: string[] = [],
): boolean {
  return isAllowed({ acls, superUsers: new Set(superUsers) }, principal, operation, resource);
}

describe('ACL evaluator', () => {
  const cases: Array<[string, Acl[], Principal, AclOperation, AclResource, boolean]> = [
    ['nothing is allowed without a binding', [], alice, 'read', topic('orders'), false],
    ['an exact binding allows', [allow('user:alice', 'read', 'topic:orders')], alice, 'read', topic('orders'), true],
    [
      'another operation is not allowed',
      [allow('user:alice', 'read', 'topic:orders')],
      alice,
      'write',
      topic('orders'),
      false,
    ],
    [
      'another topic is not allowed',
      [allow('user:alice', 'read', 'topic:orders')],
      alice,
      'read',
      topic('orders2'),
      false,
    ],
    ['another user is not allowed', [allow('user:alice', 'read', 'topic:orders')], bob, 'read', topic('orders'), false],
    ['a prefix is literal', [allow('user:alice', 'read', 'topic:ord*')], alice, 'read', topic('orders'), true],
    [
      'a prefix does not match others',
      [allow('user:alice', 'read', 'topic:ord*')],
      alice,
      'read',
      topic('xorders'),
      false,
    ],
    ['"*" is every topic', [allow('user:alice', 'read', 'topic:*')], alice, 'read', topic('anything'), true],
    [
      'a topic binding is not a group binding',
      [allow('user:alice', 'read', 'topic:*')],
      alice,
      'read',
      group('g'),
      false,
    ],
    ['user:* is every user', [allow('user:*', 'describe', 'cluster')], bob, 'describe', cluster, true],
    ['all is every operation', [allow('user:alice', 'all', 'group:g')], alice, 'delete', group('g'), true],
    [
      'deny wins',
      [allow('user:alice', 'all', 'topic:*'), deny('user:alice', 'write', 'topic:orders')],
      alice,
      'write',
      topic('orders'),
      false,
    ],
    [
      'deny wins in either order',
      [deny('user:*', 'write', 'topic:ord*'), allow('user:alice', 'write', 'topic:orders')],
      alice,
      'write',
      topic('orders'),
      false,
    ],
    [
      'deny of another operation leaves allow',
      [allow('user:alice', 'all', 'topic:*'), deny('user:alice', 'write', 'topic:orders')],
      alice,
      'read',
      topic('orders'),
      true,
    ],
    [
      'a broker may do everything',
      [deny('user:*', 'all', 'cluster')],
      { kind: 'broker', brokerId: 2 },
      'alter',
      cluster,
      true,
    ],
  ];
  it.each(cases)('%s', (_, acls, principal, operation, resource, expected) => {
    expect(allowed(acls, principal, operation, resource)).toBe(expected);
  });

  it('a super user may do everything, even denied', () => {
    expect(
      allowed([deny('user:admin', 'all', 'cluster')], { kind: 'user', name: 'admin' }, 'alter', cluster, [
        'user:admin',
      ]),
    ).toBe(true);
    expect(allowed([], alice, 'alter', cluster, ['user:admin'])).toBe(false);
  });

  it('refusals read as security.proto says', () => {
    expect(describeRefusal(alice, 'write', topic('orders'))).toBe('user alice may not write topic orders');
    expect(describeRefusal(alice, 'alter', cluster)).toBe('user alice may not alter the cluster');
  });

  it('malformed bindings are named', () => {
    expect(aclProblem({ principal: 'alice', operation: 'read', resource: 'topic:a' })).toContain('principal');
    expect(aclProblem({ principal: 'user:alice', operation: 'reed', resource: 'topic:a' })).toContain('operation');
    expect(aclProblem({ principal: 'user:alice', operation: 'read', resource: 'topic:a*b' })).toContain('resource');
    expect(aclProblem({ principal: 'user:alice', operation: 'read', resource: 'queue:a' })).toContain('resource');
    expect(aclProblem({ principal: 'user:*', operation: 'all', resource: 'cluster' })).toBeUndefined();
  });
});
