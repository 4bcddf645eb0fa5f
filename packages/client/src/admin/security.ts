/**
 * Users and ACLs (security.proto): Admin.createUser derives the SCRAM-SHA-256 credential here, so
 * the password never leaves the client; the ACL calls translate between the SDK's named values
 * and the wire's. Each request goes to any broker (it forwards to the controller) and is retried
 * on retriable failures; an AUTHORIZATION_FAILED is final.
 */
import {
  AclPermission,
  ErrorCode,
  scramCredential,
  scramIterationsDefault,
  scramIterationsMax,
  scramIterationsMin,
  scramSha256Mechanism,
  type AclBinding,
} from '@streambus/proto';
import type { Cluster } from '../cluster/cluster.js';
import { InvalidConfigError, errorFromCode } from '../errors.js';

/** What an ACL allows or denies (Kafka's operations; `all` is every one). */
export type AclOperation = 'read' | 'write' | 'create' | 'delete' | 'describe' | 'alter' | 'cluster-action' | 'all';

/** The operations, in the order `streambus acl` lists them. */
export const aclOperations: readonly AclOperation[] = [
  'read',
  'write',
  'create',
  'delete',
  'describe',
  'alter',
  'cluster-action',
  'all',
];

/** One ACL. */
export interface AclEntry {
  /** `user:NAME`, or `user:*` (every authenticated user). */
  principal: string;
  operation: AclOperation;
  /** `topic:NAME`, `topic:PREFIX*` (`topic:*`: every topic), `group:NAME`, `group:PREFIX*` or `cluster`. */
  resource: string;
  permission: 'allow' | 'deny';
}

/** Which ACLs `listAcls` returns: those of this principal and/or resource (exact), or all. */
export interface AclFilter {
  principal?: string;
  resource?: string;
}

/** A user as listed: never its credential. */
export interface UserDescription {
  name: string;
  mechanism: string;
  iterations: number;
}

/** The protocol's user names: 1..64 of [A-Za-z0-9._@-]. */
const userNamePattern = /^[A-Za-z0-9._@-]{1,64}$/;
/** ACLs per CreateAcls request (security.proto). */
export const aclsPerRequestMax = 1_000;

function checkUserName(name: string): void {
  if (!userNamePattern.test(name))
    throw new InvalidConfigError(`user name "${name}" must be 1 to 64 characters of A-Z a-z 0-9 . _ @ -`);
}

/** Checks an ACL's fields before anything is sent (a typo is a usage error, not a broker refusal). */
export function checkAcl(acl: AclEntry): void {
  const user = acl.principal.startsWith('user:') ? acl.principal.slice('user:'.length) : undefined;
  if (user === undefined || (user !== '*' && !userNamePattern.test(user)))
    throw new InvalidConfigError(`ACL principal "${acl.principal}" must be user:NAME or user:*`);
  if (!aclOperations.includes(acl.operation))
    throw new InvalidConfigError(`ACL operation "${String(acl.operation)}" must be one of ${aclOperations.join(', ')}`);
  if (acl.permission !== 'allow' && acl.permission !== 'deny')
    throw new InvalidConfigError(`ACL permission "${String(acl.permission)}" must be allow or deny`);
  const resource = acl.resource;
  const named = /^(topic|group):(.+)$/.exec(resource);
  if (resource !== 'cluster' && (named === null || (named[2] ?? '').slice(0, -1).includes('*')))
    throw new InvalidConfigError(
      `ACL resource "${resource}" must be topic:NAME, topic:PREFIX*, group:NAME, group:PREFIX* or cluster`,
    );
}

function toWire(acl: AclEntry): AclBinding {
  checkAcl(acl);
  return {
    principal: acl.principal,
    operation: acl.operation,
    resource: acl.resource,
    permission: acl.permission === 'allow' ? AclPermission.ALLOW : AclPermission.DENY,
  };
}

function fromWire(acl: AclBinding): AclEntry {
  return {
    principal: acl.principal,
    operation: acl.operation as AclOperation,
    resource: acl.resource,
    permission: acl.permission === AclPermission.DENY ? 'deny' : 'allow',
  };
}

function throwIfError(code: ErrorCode, message: string, what: string): void {
  if (code !== ErrorCode.NONE) throw errorFromCode(code, message === '' ? what : `${what}: ${message}`);
}

/** Creates user `name` or replaces its password, with a credential derived here. */
export async function createUser(
  cluster: Cluster,
  name: string,
  password: string,
  options: { iterations?: number } = {},
): Promise<void> {
  checkUserName(name);
  if (password === '') throw new InvalidConfigError(`the password of user ${name} is empty`);
  const iterations = options.iterations ?? scramIterationsDefault;
  if (!Number.isInteger(iterations) || iterations < scramIterationsMin || iterations > scramIterationsMax)
    throw new InvalidConfigError(`iterations must be ${scramIterationsMin}..${scramIterationsMax}, got ${iterations}`);
  const credential = scramCredential(password, { iterations });
  const response = await cluster.callWithRetries('any', 'UpsertUser', { name, credential });
  throwIfError(response.errorCode, response.errorMessage, `user ${name}`);
}

/** Deletes user `name` (its ACLs stay). USER_NOT_FOUND when there is none. */
export async function deleteUser(cluster: Cluster, name: string): Promise<void> {
  checkUserName(name);
  const response = await cluster.callWithRetries('any', 'DeleteUser', { name });
  throwIfError(response.errorCode, response.errorMessage, `user ${name}`);
}

/** Every user, sorted by name. */
export async function listUsers(cluster: Cluster): Promise<UserDescription[]> {
  const response = await cluster.callWithRetries('any', 'ListUsers', {});
  return response.users
    .map((user) => ({
      name: user.name,
      mechanism: user.mechanism || scramSha256Mechanism,
      iterations: user.iterations,
    }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Adds ACLs (an identical one already there is left as is). */
export async function createAcls(cluster: Cluster, acls: readonly AclEntry[]): Promise<void> {
  if (acls.length === 0) return;
  if (acls.length > aclsPerRequestMax) throw new InvalidConfigError(`at most ${aclsPerRequestMax} ACLs per call`);
  const response = await cluster.callWithRetries('any', 'CreateAcls', { acls: acls.map(toWire) });
  throwIfError(response.errorCode, response.errorMessage, 'CreateAcls');
}

/** Removes the ACLs equal to the given ones; resolves with how many there were. */
export async function deleteAcls(cluster: Cluster, acls: readonly AclEntry[]): Promise<number> {
  if (acls.length === 0) return 0;
  if (acls.length > aclsPerRequestMax) throw new InvalidConfigError(`at most ${aclsPerRequestMax} ACLs per call`);
  const response = await cluster.callWithRetries('any', 'DeleteAcls', { acls: acls.map(toWire) });
  throwIfError(response.errorCode, response.errorMessage, 'DeleteAcls');
  return response.removed;
}

/** The ACLs that match `filter` (every ACL without one). */
export async function listAcls(cluster: Cluster, filter: AclFilter = {}): Promise<AclEntry[]> {
  const response = await cluster.callWithRetries('any', 'ListAcls', {
    principal: filter.principal ?? '',
    resource: filter.resource ?? '',
  });
  return response.acls.map(fromWire);
}
