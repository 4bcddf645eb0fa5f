/**
 * security.users_file: the users the controller leader seeds at cluster start.
 *
 *   users:
 *     - name: alice
 *       password: "s3cret"              # or
 *       password_file: /run/secrets/alice  # its first line, or
 *       scram: {salt: <base64>, iterations: 4096, stored_key: <base64>, server_key: <base64>}
 *
 * A password is turned into a SCRAM credential here, at load, and dropped: only credentials
 * reach the controller, and the password is never logged nor shown by `config dump`.
 */
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { LineCounter, isNode, parseDocument } from 'yaml';
import type { ScramCredential } from '@streambus/proto';
import {
  scramCredential,
  ScramError,
  scramIterationsMax,
  scramIterationsMin,
  scramKeyBytes,
  scramSaltBytesMax,
  scramSaltBytesMin,
} from '@streambus/proto';
import { rethrowBug } from '../bugs.js';
import { userNamePattern } from './acl.js';
import { usersMax } from './constants.js';

/** A user of the users file, as its credential. */
export interface SeedUser {
  readonly name: string;
  readonly credential: ScramCredential;
}

/** One thing wrong with the users file (the shape of a ConfigProblem). */
export interface UsersFileProblem {
  readonly path: string;
  readonly message: string;
  readonly hint: string;
}

export type UsersFileResult =
  | { readonly ok: true; readonly users: readonly SeedUser[] }
  | { readonly ok: false; readonly problems: readonly UsersFileProblem[] };

/** The largest users file read, in bytes. */
const usersFileBytesMax = 16 * 1024 * 1024;

/** Reads and parses the users file; a password_file is read relative to the users file. */
export async function loadUsersFile(path: string): Promise<UsersFileResult> {
  const text = await readText(path, usersFileBytesMax);
  if (typeof text !== 'string') return { ok: false, problems: [{ path, ...text, hint: 'check security.users_file' }] };
  return parseUsersFile(path, text, async (file) => {
    const content = await readText(isAbsolute(file) ? file : resolve(dirname(path), file), 64 * 1024);
    return typeof content === 'string' ? (content.split(/\r?\n/)[0] ?? '') : content;
  });
}

/** Parses the users file's text; `readPasswordFile` reads a password_file (its first line). */
export async function parseUsersFile(
  path: string,
  text: string,
  readPasswordFile: (file: string) => Promise<string | { readonly message: string }>,
): Promise<UsersFileResult> {
  const problems: UsersFileProblem[] = [];
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  for (const error of document.errors) {
    const position = lineCounter.linePos(error.pos[0]);
    problems.push({
      path: `${path}:${position.line}:${position.col}`,
      message: error.message.split('\n')[0] ?? error.message,
      hint: 'fix the YAML syntax',
    });
  }
  if (problems.length > 0) return { ok: false, problems };
  const at = (keys: readonly (string | number)[]): string => {
    const node = document.getIn(keys, true);
    const offset = isNode(node) ? node.range?.[0] : undefined;
    return offset === undefined ? path : `${path} line ${lineCounter.linePos(offset).line}`;
  };
  const root: unknown = document.toJS({ maxAliasCount: 100 });
  const list = isMap(root) ? root['users'] : undefined;
  if (!Array.isArray(list))
    return {
      ok: false,
      problems: [{ path, message: 'has no "users:" list', hint: 'write users: [{name, password}]' }],
    };
  if (list.length > usersMax)
    return {
      ok: false,
      problems: [{ path, message: `has ${list.length} users, more than ${usersMax}`, hint: 'remove some' }],
    };
  const users: SeedUser[] = [];
  const seen = new Set<string>();
  for (const [index, entry] of list.entries()) {
    const where = at(['users', index]);
    const problem = (message: string, hint: string): void => {
      problems.push({ path: where, message, hint });
    };
    if (!isMap(entry)) {
      problem('a user is not a map', 'write {name, password}');
      continue;
    }
    const name = entry['name'];
    if (typeof name !== 'string' || !userNamePattern.test(name)) {
      problem(`user name ${JSON.stringify(name)} is not 1..64 characters of A-Za-z0-9._@-`, 'fix the name');
      continue;
    }
    if (seen.has(name)) {
      problem(`user ${name} is listed twice`, 'keep one entry');
      continue;
    }
    seen.add(name);
    const sources = ['password', 'password_file', 'scram'].filter((field) => entry[field] !== undefined);
    if (sources.length !== 1) {
      problem(`user ${name} needs exactly one of password, password_file, scram`, 'keep one');
      continue;
    }
    const credential = await credentialOf(entry, readPasswordFile);
    if ('message' in credential) problem(`user ${name}: ${credential.message}`, credential.hint);
    else users.push({ name, credential });
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, users };
}

async function credentialOf(
  entry: Readonly<Record<string, unknown>>,
  readPasswordFile: (file: string) => Promise<string | { readonly message: string }>,
): Promise<ScramCredential | { message: string; hint: string }> {
  const scram = entry['scram'];
  if (scram !== undefined) return scramOf(scram);
  let password = entry['password'];
  const passwordFile = entry['password_file'];
  if (passwordFile !== undefined) {
    if (typeof passwordFile !== 'string' || passwordFile === '')
      return { message: 'password_file is not a path', hint: 'give the path of a file holding the password' };
    const read = await readPasswordFile(passwordFile);
    if (typeof read !== 'string')
      return { message: `password_file ${passwordFile} ${read.message}`, hint: 'check the path' };
    password = read;
  }
  if (typeof password !== 'string') return { message: 'password is not a string', hint: 'quote it' };
  try {
    return scramCredential(password);
  } catch (error: unknown) {
    // Never the password itself in the message: only why it was refused.
    if (error instanceof ScramError) return { message: error.message, hint: 'choose another password' };
    throw error;
  }
}

function scramOf(raw: unknown): ScramCredential | { message: string; hint: string } {
  const hint = 'scram needs salt, iterations, stored_key, server_key (base64 but iterations)';
  if (!isMap(raw)) return { message: 'scram is not a map', hint };
  const bytes = (field: string): Buffer | undefined => {
    const value = raw[field];
    if (typeof value !== 'string' || !/^[A-Za-z0-9+/]+={0,2}$/.test(value)) return undefined;
    return Buffer.from(value, 'base64');
  };
  const salt = bytes('salt');
  const storedKey = bytes('stored_key');
  const serverKey = bytes('server_key');
  const iterations = raw['iterations'];
  if (salt === undefined || salt.length < scramSaltBytesMin || salt.length > scramSaltBytesMax)
    return { message: `scram.salt is not ${scramSaltBytesMin}..${scramSaltBytesMax} bytes of base64`, hint };
  if (
    typeof iterations !== 'number' ||
    !Number.isInteger(iterations) ||
    iterations < scramIterationsMin ||
    iterations > scramIterationsMax
  )
    return { message: `scram.iterations is not a whole number in ${scramIterationsMin}..${scramIterationsMax}`, hint };
  if (storedKey === undefined || storedKey.length !== scramKeyBytes)
    return { message: `scram.stored_key is not ${scramKeyBytes} bytes of base64`, hint };
  if (serverKey === undefined || serverKey.length !== scramKeyBytes)
    return { message: `scram.server_key is not ${scramKeyBytes} bytes of base64`, hint };
  return { salt, iterations, storedKey, serverKey };
}

async function readText(path: string, bytesMax: number): Promise<string | { message: string }> {
  try {
    const text = await readFile(path, 'utf8');
    if (Buffer.byteLength(text) > bytesMax) return { message: `is larger than ${bytesMax} bytes` };
    return text;
  } catch (error: unknown) {
    rethrowBug(error);
    const code = error instanceof Error && 'code' in error ? String(error.code) : 'unknown';
    return { message: code === 'ENOENT' ? 'does not exist' : `cannot be read (${code})` };
  }
}

function isMap(raw: unknown): raw is Readonly<Record<string, unknown>> {
  return typeof raw === 'object' && raw !== null && !Array.isArray(raw);
}
