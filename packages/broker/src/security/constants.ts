// Bounds of authentication and authorization (issue 14). Kept together so their relations are
// checked at load.
import { assert } from '@streambus/raft';

/** Users the controller holds. */
export const usersMax = 10_000;
/** ACL bindings the controller holds. */
export const aclsMax = 10_000;
/** ACL bindings of one CreateAcls or DeleteAcls request (security.proto). */
export const aclsPerRequestMax = 1000;
/** A SCRAM handshake not finished within this is dropped (security.proto: 10 s). */
export const handshakeTimeoutMs = 10_000;
/** Sessions, finished or not, one connection may hold (security.proto: 16). */
export const sessionsPerConnectionMax = 16;
/** Sessions one broker holds over all its connections. */
export const sessionsMax = 65_536;
/** How often the controller leader looks for users and ACLs to seed (security/seeder.ts). */
export const securitySeedCheckMs = 1_000;
/** How long one seeding proposal may take before the next check tries again. */
export const securitySeedDeadlineMs = 5_000;
/** Principals of security.super_users. */
export const superUsersMax = 100;

assert(aclsPerRequestMax <= aclsMax, 'one request can fit in the controller');
assert(sessionsPerConnectionMax <= sessionsMax, 'one connection can have its sessions');
assert(securitySeedCheckMs < securitySeedDeadlineMs, 'a seeding proposal outlives one check period');
