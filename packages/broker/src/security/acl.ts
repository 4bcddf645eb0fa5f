/**
 * The ACL model of security.proto as a pure core: parsing principals, operations and resources,
 * and deciding whether a principal may do an operation on a resource. No I/O, no state of its
 * own: the caller passes the bindings (the broker's local copy of the controller state).
 */

/** The operations of security.proto; `all` in a binding matches every one of them. */
export const aclOperations = ['read', 'write', 'create', 'delete', 'describe', 'alter', 'cluster-action'] as const;
export type AclOperation = (typeof aclOperations)[number];
export type AclBindingOperation = AclOperation | 'all';

export type AclPermissionName = 'allow' | 'deny';

/** One ACL binding as the controller stores it (the wire's AclBinding with names, not numbers). */
export interface Acl {
  /** 'user:NAME' or 'user:*'. */
  readonly principal: string;
  readonly operation: AclBindingOperation;
  /** 'topic:NAME', 'topic:PREFIX*', 'group:NAME', 'group:PREFIX*' or 'cluster'. */
  readonly resource: string;
  readonly permission: AclPermissionName;
}

/** What a call touches: a topic, a group or the cluster. */
export type AclResource =
  | { readonly kind: 'topic'; readonly name: string }
  | { readonly kind: 'group'; readonly name: string }
  | { readonly kind: 'cluster' };

/** Who asks: a broker (proven by its certificate) or a user (a session or a client certificate). */
export type Principal =
  { readonly kind: 'broker'; readonly brokerId: number } | { readonly kind: 'user'; readonly name: string };

/** 1..64 characters of [A-Za-z0-9._@-] (security.proto, UpsertUserRequest.name). */
export const userNamePattern = /^[A-Za-z0-9._@-]{1,64}$/;

export function formatPrincipal(principal: Principal): string {
  return principal.kind === 'broker' ? `broker:${principal.brokerId}` : `user:${principal.name}`;
}

export function formatResource(resource: AclResource): string {
  return resource.kind === 'cluster' ? 'cluster' : `${resource.kind}:${resource.name}`;
}

/** "user alice may not write topic orders" (security.proto's wording of a refusal). */
export function describeRefusal(principal: Principal, operation: AclOperation, resource: AclResource): string {
  const who = principal.kind === 'broker' ? `broker ${principal.brokerId}` : `user ${principal.name}`;
  const what = resource.kind === 'cluster' ? 'the cluster' : `${resource.kind} ${resource.name}`;
  return `${who} may not ${operation} ${what}`;
}

/** Why an ACL binding is malformed, or undefined when it is well formed. */
export function aclProblem(acl: {
  readonly principal: string;
  readonly operation: string;
  readonly resource: string;
}): string | undefined {
  if (!(acl.principal === 'user:*' || principalUserName(acl.principal) !== undefined))
    return `principal "${acl.principal}" is not user:NAME or user:*`;
  if (!(acl.operation === 'all' || (aclOperations as readonly string[]).includes(acl.operation)))
    return `operation "${acl.operation}" is not one of ${aclOperations.join(', ')}, all`;
  if (!isResourcePattern(acl.resource))
    return `resource "${acl.resource}" is not topic:NAME, topic:PREFIX*, group:NAME, group:PREFIX* or cluster`;
  return undefined;
}

/** The user name of "user:NAME", or undefined. */
export function principalUserName(principal: string): string | undefined {
  if (!principal.startsWith('user:')) return undefined;
  const name = principal.slice('user:'.length);
  return userNamePattern.test(name) ? name : undefined;
}

function isResourcePattern(resource: string): boolean {
  if (resource === 'cluster') return true;
  const match = /^(topic|group):(.+)$/.exec(resource);
  if (match === null) return false;
  const name = match[2] ?? '';
  // "*" only as the last character: a literal prefix, never a glob in the middle.
  return !name.slice(0, -1).includes('*') && name.length <= 256;
}

function resourceMatches(pattern: string, resource: AclResource): boolean {
  if (resource.kind === 'cluster') return pattern === 'cluster';
  const prefix = `${resource.kind}:`;
  if (!pattern.startsWith(prefix)) return false;
  const name = pattern.slice(prefix.length);
  if (name.endsWith('*')) return resource.name.startsWith(name.slice(0, -1));
  return name === resource.name;
}

function principalMatches(pattern: string, principal: Principal): boolean {
  if (principal.kind !== 'user') return false;
  return pattern === 'user:*' || pattern === `user:${principal.name}`;
}

const impliesDescribe: ReadonlySet<AclBindingOperation> = new Set(['read', 'write', 'delete', 'alter']);

export interface AclContext {
  readonly acls: Iterable<Acl>;
  /** 'user:NAME' principals that may do everything (security.super_users). */
  readonly superUsers: ReadonlySet<string>;
}

/**
 * Whether `principal` may do `operation` on `resource`: a broker and a super user may do
 * everything; anyone else needs an allowing binding and no denying one (deny wins).
 */
export function isAllowed(
  context: AclContext,
  principal: Principal,
  operation: AclOperation,
  resource: AclResource,
): boolean {
  if (principal.kind === 'broker') return true;
  if (context.superUsers.has(formatPrincipal(principal))) return true;
  let allowed = false;
  for (const acl of context.acls) {
    const exact = acl.operation === 'all' || acl.operation === operation;
    // Kafka's implied operation: an allowed read, write, delete or alter also allows describe
    // (a producer may look up the topics it writes). A deny denies only what it names.
    const implied = acl.permission === 'allow' && operation === 'describe' && impliesDescribe.has(acl.operation);
    if (!exact && !implied) continue;
    if (!principalMatches(acl.principal, principal)) continue;
    if (!resourceMatches(acl.resource, resource)) continue;
    if (acl.permission === 'deny') return false;
    allowed = true;
  }
  return allowed;
}

/**
 * Whether some binding allows `principal` `operation` on some resource of `kind` (Kafka's
 * "write on any topic" for IdempotentWrite). Deny bindings are not weighed here: each real
 * resource is still checked with isAllowed when it is used.
 */
export function allowsSomeResource(
  context: AclContext,
  principal: Principal,
  operation: AclOperation,
  kind: 'topic' | 'group',
): boolean {
  if (principal.kind === 'broker') return true;
  if (context.superUsers.has(formatPrincipal(principal))) return true;
  for (const acl of context.acls) {
    if (acl.permission !== 'allow') continue;
    if (acl.operation !== 'all' && acl.operation !== operation) continue;
    if (principalMatches(acl.principal, principal) && acl.resource.startsWith(`${kind}:`)) return true;
  }
  return false;
}

/** Two bindings are the same binding when every field is equal (CreateAcls, DeleteAcls). */
export function aclKey(acl: Acl): string {
  return `${acl.permission}\u0000${acl.principal}\u0000${acl.operation}\u0000${acl.resource}`;
}
