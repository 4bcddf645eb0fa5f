/**
 * The binary form of users' SCRAM credentials and of ACL bindings, shared by the controller
 * commands (codec.ts) and the controller snapshot (snapshot.ts). Lengths are bounded here; what
 * a well-formed user or binding is, apply checks (state.ts), like topic names.
 */
import type { ScramCredential } from '@streambus/proto';
import { assert } from '@streambus/raft';
import { scramKeyBytes, scramSaltBytesMax } from '@streambus/proto';
import type { ByteReader, ByteWriter } from './binary.js';
import type { Acl, AclBindingOperation } from '../security/acl.js';
import { aclOperations } from '../security/acl.js';

/** A user name is at most 64 ASCII characters (security.proto); the codec allows any 64-char UTF-8. */
export const userNameBytesMax = 64 * 4;
/** "user:" and a name. */
const principalBytesMax = 5 + userNameBytesMax;
/** "topic:" or "group:" and a pattern of at most 256 characters (acl.ts). */
const resourceBytesMax = 6 + 256 * 4;

/** Wire numbers of ACL operations: never renumber. */
const operationCodes: readonly AclBindingOperation[] = [...aclOperations, 'all'];

export function writeCredential(w: ByteWriter, credential: ScramCredential): void {
  w.bytes(credential.salt);
  w.varint(credential.iterations);
  w.bytes(credential.storedKey);
  w.bytes(credential.serverKey);
}

export function readCredential(r: ByteReader): ScramCredential {
  const salt = r.bytes('salt', 0, scramSaltBytesMax);
  const iterations = r.bounded('iterations', 0, 0xffffffff);
  const storedKey = r.bytes('stored key', 0, scramKeyBytes);
  const serverKey = r.bytes('server key', 0, scramKeyBytes);
  return { salt, iterations, storedKey, serverKey };
}

export function writeAcl(w: ByteWriter, acl: Acl): void {
  const operationCode = operationCodes.indexOf(acl.operation) + 1;
  assert(operationCode > 0, 'an ACL operation is one of the known ones (the type says so)');
  w.string(acl.principal, principalBytesMax, 'ACL principal');
  w.u8(operationCode);
  w.string(acl.resource, resourceBytesMax, 'ACL resource');
  w.u8(acl.permission === 'allow' ? 1 : 2);
}

export function readAcl(r: ByteReader): Acl {
  const principal = r.string('ACL principal', principalBytesMax);
  const operation = operationCodes[r.bounded('ACL operation', 1, operationCodes.length) - 1];
  if (operation === undefined) throw r.malformed('ACL operation');
  const resource = r.string('ACL resource', resourceBytesMax);
  const permission = r.bounded('ACL permission', 1, 2) === 1 ? 'allow' : 'deny';
  return { principal, operation, resource, permission };
}
