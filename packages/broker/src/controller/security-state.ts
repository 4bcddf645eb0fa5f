/**
 * The users (SCRAM credentials only) and ACL bindings of the controller state, and the apply
 * rules of their commands (upsertUser, deleteUser, createAcls, deleteAcls). Pure and
 * deterministic like the rest of the state; ControllerState holds one and delegates.
 */
import type { ScramCredential } from '@streambus/proto';
import {
  scramIterationsMax,
  scramIterationsMin,
  scramKeyBytes,
  scramSaltBytesMax,
  scramSaltBytesMin,
} from '@streambus/proto';
import { assert } from '@streambus/raft';
import type {
  ControllerResult,
  CreateAclsCommand,
  DeleteAclsCommand,
  DeleteUserCommand,
  UpsertUserCommand,
} from './commands.js';
import { failure } from './validation.js';
import type { Acl } from '../security/acl.js';
import { aclKey, aclProblem, userNamePattern } from '../security/acl.js';
import { aclsMax, aclsPerRequestMax, usersMax } from '../security/constants.js';

export interface UserRecord {
  readonly name: string;
  readonly credential: ScramCredential;
}

const unchanged: ControllerResult = { ok: true, changed: false, detail: { kind: 'none' } };
const changed: ControllerResult = { ok: true, changed: true, detail: { kind: 'none' } };

function byString(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Why a credential is not a SCRAM-SHA-256 credential StreamBus keeps, or undefined. */
export function credentialProblem(credential: ScramCredential): string | undefined {
  if (credential.salt.length < scramSaltBytesMin || credential.salt.length > scramSaltBytesMax)
    return `its salt has ${credential.salt.length} bytes, not ${scramSaltBytesMin}..${scramSaltBytesMax}`;
  if (
    !Number.isInteger(credential.iterations) ||
    credential.iterations < scramIterationsMin ||
    credential.iterations > scramIterationsMax
  )
    return `its iteration count ${credential.iterations} is not in ${scramIterationsMin}..${scramIterationsMax}`;
  if (credential.storedKey.length !== scramKeyBytes) return `its stored key is not ${scramKeyBytes} bytes`;
  if (credential.serverKey.length !== scramKeyBytes) return `its server key is not ${scramKeyBytes} bytes`;
  return undefined;
}

function sameCredential(a: ScramCredential, b: ScramCredential): boolean {
  return (
    a.iterations === b.iterations &&
    a.salt.equals(b.salt) &&
    a.storedKey.equals(b.storedKey) &&
    a.serverKey.equals(b.serverKey)
  );
}

export class SecurityRecords {
  private readonly userMap = new Map<string, UserRecord>();
  private readonly aclMap = new Map<string, Acl>();

  static fromParts(users: readonly UserRecord[], acls: readonly Acl[]): SecurityRecords {
    const records = new SecurityRecords();
    for (const user of users) records.userMap.set(user.name, user);
    for (const acl of acls) records.aclMap.set(aclKey(acl), acl);
    records.checkInvariants();
    return records;
  }

  user(name: string): UserRecord | undefined {
    return this.userMap.get(name);
  }
  /** Users by name. */
  users(): UserRecord[] {
    return [...this.userMap.values()].sort((a, b) => byString(a.name, b.name));
  }
  /** Bindings in canonical order (by aclKey). */
  acls(): Acl[] {
    return [...this.aclMap.entries()].sort(([a], [b]) => byString(a, b)).map(([, acl]) => acl);
  }
  /** The bindings as the ACL evaluator iterates them (no copy, no order), as often as it likes. */
  aclValues(): Iterable<Acl> {
    // Not the Map's iterator itself: that is spent after one pass, and one call checks many needs.
    return { [Symbol.iterator]: () => this.aclMap.values() };
  }
  get userCount(): number {
    return this.userMap.size;
  }
  get aclCount(): number {
    return this.aclMap.size;
  }

  upsertUser(command: UpsertUserCommand): ControllerResult {
    if (!userNamePattern.test(command.name))
      return failure('INVALID_USER', `user name "${command.name}" is not 1..64 characters of A-Za-z0-9._@-`);
    const problem = credentialProblem(command.credential);
    if (problem !== undefined) return failure('INVALID_USER', `the credential of user ${command.name}: ${problem}`);
    const previous = this.userMap.get(command.name);
    if (previous !== undefined && sameCredential(previous.credential, command.credential)) return unchanged;
    if (previous === undefined && this.userMap.size >= usersMax)
      return failure('USER_LIMIT_REACHED', `the cluster already has ${usersMax} users; delete some first`);
    this.userMap.set(command.name, { name: command.name, credential: command.credential });
    return changed;
  }

  deleteUser(command: DeleteUserCommand): ControllerResult {
    if (!this.userMap.delete(command.name)) return failure('USER_NOT_FOUND', `user ${command.name} does not exist`);
    return changed;
  }

  createAcls(command: CreateAclsCommand): ControllerResult {
    if (command.acls.length > aclsPerRequestMax)
      return failure('INVALID_ACL', `${command.acls.length} ACLs in one request, more than ${aclsPerRequestMax}`);
    const added = new Map<string, Acl>();
    for (const acl of command.acls) {
      const problem = aclProblem(acl);
      if (problem !== undefined) return failure('INVALID_ACL', problem);
      const key = aclKey(acl);
      if (!this.aclMap.has(key)) added.set(key, acl);
    }
    if (this.aclMap.size + added.size > aclsMax)
      return failure(
        'ACL_LIMIT_REACHED',
        `the cluster would have more than ${aclsMax} ACLs; use prefixes or remove some`,
      );
    for (const [key, acl] of added) this.aclMap.set(key, acl);
    return added.size > 0 ? changed : unchanged;
  }

  deleteAcls(command: DeleteAclsCommand): ControllerResult {
    let removed = 0;
    for (const acl of command.acls) if (this.aclMap.delete(aclKey(acl))) removed += 1;
    return { ok: true, changed: removed > 0, detail: { kind: 'aclsRemoved', removed } };
  }

  checkInvariants(): void {
    assert(this.userMap.size <= usersMax, 'users are bounded');
    assert(this.aclMap.size <= aclsMax, 'ACLs are bounded');
    for (const [name, user] of this.userMap) {
      assert(name === user.name, 'a user is keyed by its name');
      assert(userNamePattern.test(name), 'a user name is legal');
      assert(credentialProblem(user.credential) === undefined, 'a credential is well formed');
    }
    for (const [key, acl] of this.aclMap) {
      assert(key === aclKey(acl), 'an ACL is keyed by its fields');
      assert(aclProblem(acl) === undefined, 'an ACL is well formed');
    }
  }
}
