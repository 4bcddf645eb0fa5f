// SCRAM-SHA-256 (RFC 5802, RFC 7677) without channel binding: the gs2 header is always "n,,"
// (or "y,,": the client could bind but believes the server cannot, which is true here), no
// authzid, no extensions. Pure node:crypto; both ends are here so the broker and the SDK share
// one implementation (security.proto describes how Authenticate carries the messages).
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ScramCredential } from '../rpc/types.js';
import {
  scramIterationsDefault,
  scramIterationsMax,
  scramIterationsMin,
  scramKeyBytes,
  scramMessageBytesMax,
  scramNonceBytes,
  scramPasswordLengthMax,
  scramSaltBytesDefault,
  scramSaltBytesMax,
  scramSaltBytesMin,
} from './constants.js';

/** Why a SCRAM step failed. Stable codes; the broker logs them, never sends them to a client. */
export type ScramErrorCode =
  | 'MALFORMED_MESSAGE'
  | 'UNSUPPORTED'
  | 'BAD_NONCE'
  | 'BAD_ITERATIONS'
  | 'BAD_SALT'
  | 'BAD_PROOF'
  | 'BAD_SERVER_SIGNATURE'
  | 'SERVER_ERROR'
  | 'BAD_PASSWORD'
  | 'OUT_OF_ORDER';

/** A failed SCRAM step: a malformed message, a wrong proof, a server that cannot prove itself. */
export class ScramError extends Error {
  override readonly name = 'ScramError';
  constructor(
    readonly code: ScramErrorCode,
    detail: string,
  ) {
    super(`scram: ${detail}`);
  }
}

/** The SCRAM-SHA-256 credential of `password` (RFC 5802 section 3); the password is not kept. */
export function scramCredential(
  password: string,
  options: { salt?: Buffer; iterations?: number } = {},
): ScramCredential {
  const salt = options.salt ?? randomBytes(scramSaltBytesDefault);
  const iterations = options.iterations ?? scramIterationsDefault;
  checkSalt(salt);
  checkIterations(iterations);
  const saltedPassword = hi(normalizePassword(password), salt, iterations);
  return {
    salt: Buffer.from(salt),
    iterations,
    storedKey: sha256(hmac(saltedPassword, 'Client Key')),
    serverKey: hmac(saltedPassword, 'Server Key'),
  };
}

/**
 * The password as SASLprep (RFC 4013) would give it. For ASCII that is the identity, except
 * that control characters (U+0000..U+001F, U+007F) are refused. Beyond ASCII this is an
 * approximation without a table of unassigned code points: non-ASCII spaces (C.1.2) become
 * U+0020, the characters "commonly mapped to nothing" (B.1) are removed, the result is NFKC,
 * and control, private-use, surrogate and unassigned code points (per the running Node's
 * Unicode data) are refused; the bidirectional rules are not checked. Clients and the broker
 * run this same code, so they agree.
 */
export function normalizePassword(password: string): string {
  const mapped = password.replace(nonAsciiSpaces, ' ').replace(mappedToNothing, '').normalize('NFKC');
  if (mapped.length === 0) throw new ScramError('BAD_PASSWORD', 'the password is empty');
  if (mapped.length > scramPasswordLengthMax)
    throw new ScramError('BAD_PASSWORD', `the password is longer than ${scramPasswordLengthMax} characters`);
  if (prohibited.test(mapped))
    throw new ScramError('BAD_PASSWORD', 'the password holds a control, private-use or unassigned character');
  return mapped;
}

// RFC 3454 C.1.2 (non-ASCII space characters) and B.1 (commonly mapped to nothing).
const nonAsciiSpaces = /[\u00A0\u1680\u2000-\u200B\u202F\u205F\u3000]/gu;
// Code points rather than a character class: several are combining marks, which a class would
// mislead about (no-misleading-character-class).
const mappedToNothingCodePoints = [0xad, 0x34f, 0x1806, 0x180b, 0x180c, 0x180d, 0x200c, 0x200d, 0x2060, 0xfeff].concat(
  Array.from({ length: 16 }, (_, index) => 0xfe00 + index),
);
const mappedToNothing = new RegExp(
  mappedToNothingCodePoints.map((codePoint) => `\\u{${codePoint.toString(16)}}`).join('|'),
  'gu',
);
const prohibited = /[\p{Cc}\p{Co}\p{Cs}\p{Cn}]/u;

/** RFC 5802's saslname: "=" as "=3D" and "," as "=2C". */
export function escapeSaslName(name: string): string {
  return name.replace(/=/g, '=3D').replace(/,/g, '=2C');
}

/** The inverse of escapeSaslName; any other "=" is malformed (RFC 5802 section 5.1). */
export function unescapeSaslName(escaped: string): string {
  if (/=(?!3D|2C)/.test(escaped)) throw new ScramError('MALFORMED_MESSAGE', 'the user name has a bad "=" escape');
  return escaped.replace(/=2C/g, ',').replace(/=3D/g, '=');
}

/**
 * The client's side of one handshake: clientFirst, then clientFinal(server-first), then
 * verifyServerFinal(server-final). Each step throws a ScramError when the server's message is
 * wrong; a successful verifyServerFinal means the server holds this user's credential.
 */
export class ScramClient {
  private readonly clientNonce: string;
  private readonly password: string;
  private clientFirstBare: string | undefined;
  private expectedServerSignature: Buffer | undefined;
  private verified = false;

  constructor(
    private readonly username: string,
    password: string,
    nonce?: string,
  ) {
    if (username.length === 0) throw new ScramError('MALFORMED_MESSAGE', 'the user name is empty');
    this.password = normalizePassword(password);
    this.clientNonce = nonce ?? randomNonce();
    checkNonceCharacters(this.clientNonce);
  }

  /** client-first-message: "n,,n=<user>,r=<client nonce>". */
  clientFirst(): string {
    if (this.clientFirstBare !== undefined) throw new ScramError('OUT_OF_ORDER', 'clientFirst was already called');
    this.clientFirstBare = `n=${escapeSaslName(this.username)},r=${this.clientNonce}`;
    return gs2Header + this.clientFirstBare;
  }

  /** client-final-message for `serverFirst` ("r=...,s=...,i=..."): "c=biws,r=<nonce>,p=<proof>". */
  clientFinal(serverFirst: string): string {
    if (this.clientFirstBare === undefined) throw new ScramError('OUT_OF_ORDER', 'call clientFirst first');
    if (this.expectedServerSignature !== undefined)
      throw new ScramError('OUT_OF_ORDER', 'clientFinal was already called');
    checkMessageBytes(serverFirst);
    const attributes = parseAttributes(serverFirst, ['r', 's', 'i'], 'server-first-message');
    const nonce = attributes.get('r') ?? '';
    if (!nonce.startsWith(this.clientNonce) || nonce.length === this.clientNonce.length)
      throw new ScramError('BAD_NONCE', "the server's nonce does not extend the client's");
    checkNonceCharacters(nonce);
    const salt = decodeBase64(attributes.get('s') ?? '', 'salt');
    checkSalt(salt);
    const iterations = parseIterations(attributes.get('i') ?? '');
    const saltedPassword = hi(this.password, salt, iterations);
    const clientKey = hmac(saltedPassword, 'Client Key');
    const storedKey = sha256(clientKey);
    const withoutProof = `c=${gs2HeaderBase64},r=${nonce}`;
    const authMessage = `${this.clientFirstBare},${serverFirst},${withoutProof}`;
    const clientSignature = hmac(storedKey, authMessage);
    this.expectedServerSignature = hmac(hmac(saltedPassword, 'Server Key'), authMessage);
    return `${withoutProof},p=${xor(clientKey, clientSignature).toString('base64')}`;
  }

  /** Checks server-final-message ("v=<signature>"); throws unless the server proved itself. */
  verifyServerFinal(serverFinal: string): void {
    if (this.expectedServerSignature === undefined) throw new ScramError('OUT_OF_ORDER', 'call clientFinal first');
    if (this.verified) throw new ScramError('OUT_OF_ORDER', 'verifyServerFinal was already called');
    checkMessageBytes(serverFinal);
    if (serverFinal.startsWith('e='))
      throw new ScramError('SERVER_ERROR', `the server refused: ${serverFinal.slice(2)}`);
    const attributes = parseAttributes(serverFinal, ['v'], 'server-final-message');
    const signature = decodeBase64(attributes.get('v') ?? '', 'server signature');
    if (signature.length !== scramKeyBytes || !timingSafeEqual(signature, this.expectedServerSignature))
      throw new ScramError(
        'BAD_SERVER_SIGNATURE',
        "the server's signature is wrong: it does not hold this user's credential",
      );
    this.verified = true;
  }
}

/** Where the server finds a user's credential; undefined for an unknown user. */
export type ScramCredentialLookup = (username: string) => ScramCredential | undefined;

export interface ScramServerOptions {
  /** The user's credential, or undefined when there is no such user. */
  lookup: ScramCredentialLookup;
  /**
   * A per-broker secret (at least 16 bytes) from which an unknown user's fake credential is
   * derived, so that its salt and iterations stay the same from one handshake to the next and
   * the exchange does exactly the same work as for a real user.
   */
  fakeCredentialSecret: Buffer;
  /** The server's part of the nonce (tests); random by default. */
  nonce?: string;
}

/**
 * The server's side of one handshake: serverFirst(client-first), then serverFinal(client-final).
 * An unknown user goes through the same steps with a fake credential and fails at the proof
 * like a wrong password, so neither the answers nor their timing say whether a user exists.
 */
export class ScramServerExchange {
  private usernameValue: string | undefined;
  private credential: ScramCredential | undefined;
  private known = false;
  private clientFirstBare = '';
  private serverFirstMessage = '';
  private nonce = '';
  private gs2HeaderBase64 = '';
  private done = false;

  constructor(private readonly options: ScramServerOptions) {
    if (options.fakeCredentialSecret.length < 16)
      throw new ScramError('UNSUPPORTED', 'the fake credential secret must be at least 16 bytes');
  }

  /** The user name of client-first, once serverFirst has parsed it. */
  get username(): string | undefined {
    return this.usernameValue;
  }

  /** server-first-message ("r=<nonce>,s=<salt>,i=<iterations>") for `clientFirst`. */
  serverFirst(clientFirst: string): string {
    if (this.credential !== undefined) throw new ScramError('OUT_OF_ORDER', 'serverFirst was already called');
    checkMessageBytes(clientFirst);
    const { gs2, bare, username, clientNonce } = parseClientFirst(clientFirst);
    this.gs2HeaderBase64 = Buffer.from(gs2).toString('base64');
    this.usernameValue = username;
    const found = this.options.lookup(username);
    this.known = found !== undefined;
    this.credential = found ?? fakeCredential(this.options.fakeCredentialSecret, username);
    const serverNonce = this.options.nonce ?? randomNonce();
    checkNonceCharacters(serverNonce);
    this.nonce = clientNonce + serverNonce;
    this.clientFirstBare = bare;
    this.serverFirstMessage = `r=${this.nonce},s=${this.credential.salt.toString('base64')},i=${this.credential.iterations}`;
    return this.serverFirstMessage;
  }

  /** Verifies client-final's proof; server-final-message ("v=<signature>") when it holds. */
  serverFinal(clientFinal: string): string {
    const credential = this.credential;
    if (credential === undefined) throw new ScramError('OUT_OF_ORDER', 'call serverFirst first');
    if (this.done) throw new ScramError('OUT_OF_ORDER', 'serverFinal was already called');
    this.done = true;
    checkMessageBytes(clientFinal);
    const proofAt = clientFinal.lastIndexOf(',p=');
    if (proofAt < 0) throw new ScramError('MALFORMED_MESSAGE', 'client-final-message has no proof');
    const withoutProof = clientFinal.slice(0, proofAt);
    const attributes = parseAttributes(withoutProof, ['c', 'r'], 'client-final-message');
    const binding = attributes.get('c') ?? '';
    if (binding !== this.gs2HeaderBase64)
      throw new ScramError(
        'UNSUPPORTED',
        'the channel binding must repeat the gs2 header (no channel binding: "biws")',
      );
    if (attributes.get('r') !== this.nonce)
      throw new ScramError('BAD_NONCE', 'client-final-message has the wrong nonce');
    const proof = decodeBase64(clientFinal.slice(proofAt + 3), 'proof');
    const authMessage = `${this.clientFirstBare},${this.serverFirstMessage},${withoutProof}`;
    const clientSignature = hmac(credential.storedKey, authMessage);
    // A wrong-length proof is compared against a zero key so the work stays the same.
    const clientKey = xor(proof.length === scramKeyBytes ? proof : Buffer.alloc(scramKeyBytes), clientSignature);
    const matches = timingSafeEqual(sha256(clientKey), credential.storedKey);
    if (!matches || proof.length !== scramKeyBytes || !this.known)
      throw new ScramError('BAD_PROOF', `the proof for user ${this.usernameValue ?? ''} is wrong`);
    return `v=${hmac(credential.serverKey, authMessage).toString('base64')}`;
  }
}

const gs2Header = 'n,,';
const gs2HeaderBase64 = Buffer.from('n,,').toString('base64'); // "biws"

function parseClientFirst(message: string): { gs2: string; bare: string; username: string; clientNonce: string } {
  let gs2: string;
  if (message.startsWith('n,,')) gs2 = 'n,,';
  else if (message.startsWith('y,,')) gs2 = 'y,,';
  else if (message.startsWith('p='))
    throw new ScramError('UNSUPPORTED', 'channel binding is not supported (use the gs2 header "n,,")');
  else if (/^[ny],a=/.test(message)) throw new ScramError('UNSUPPORTED', 'an authorization identity is not supported');
  else throw new ScramError('MALFORMED_MESSAGE', 'client-first-message must start with "n,,"');
  const bare = message.slice(gs2.length);
  if (bare.startsWith('m=')) throw new ScramError('UNSUPPORTED', 'SCRAM extensions are not supported');
  const attributes = parseAttributes(bare, ['n', 'r'], 'client-first-message');
  const username = unescapeSaslName(attributes.get('n') ?? '');
  if (username.length === 0) throw new ScramError('MALFORMED_MESSAGE', 'client-first-message has an empty user name');
  const clientNonce = attributes.get('r') ?? '';
  checkNonceCharacters(clientNonce);
  return { gs2, bare, username, clientNonce };
}

/** "k=v,k=v" with exactly the keys `order`, in that order (extensions are not supported). */
function parseAttributes(message: string, order: readonly string[], what: string): Map<string, string> {
  const parts = message.split(',');
  if (parts.length !== order.length) throw new ScramError('MALFORMED_MESSAGE', `${what} must have ${order.join(',')}`);
  const attributes = new Map<string, string>();
  parts.forEach((part, index) => {
    const key = order[index] ?? '';
    if (!part.startsWith(`${key}=`)) throw new ScramError('MALFORMED_MESSAGE', `${what} lacks its "${key}=" attribute`);
    attributes.set(key, part.slice(key.length + 1));
  });
  return attributes;
}

function checkMessageBytes(message: string): void {
  if (Buffer.byteLength(message, 'utf8') > scramMessageBytesMax)
    throw new ScramError('MALFORMED_MESSAGE', `a SCRAM message is longer than ${scramMessageBytesMax} bytes`);
}

/** RFC 5802: a nonce is printable ASCII except ",". */
function checkNonceCharacters(nonce: string): void {
  if (!/^[\x21-\x2b\x2d-\x7e]+$/.test(nonce))
    throw new ScramError('BAD_NONCE', 'a nonce must be printable ASCII characters other than ","');
}

function parseIterations(text: string): number {
  if (!/^[1-9][0-9]{0,9}$/.test(text)) throw new ScramError('MALFORMED_MESSAGE', 'the iteration count is not a number');
  const iterations = Number(text);
  checkIterations(iterations);
  return iterations;
}

function checkIterations(iterations: number): void {
  if (!Number.isInteger(iterations) || iterations < scramIterationsMin || iterations > scramIterationsMax)
    throw new ScramError(
      'BAD_ITERATIONS',
      `the iteration count ${iterations} is outside ${scramIterationsMin}..${scramIterationsMax}`,
    );
}

function checkSalt(salt: Buffer): void {
  if (salt.length < scramSaltBytesMin || salt.length > scramSaltBytesMax)
    throw new ScramError(
      'BAD_SALT',
      `the salt has ${salt.length} bytes, not ${scramSaltBytesMin}..${scramSaltBytesMax}`,
    );
}

function decodeBase64(text: string, what: string): Buffer {
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(text))
    throw new ScramError('MALFORMED_MESSAGE', `the ${what} is not base64`);
  return Buffer.from(text, 'base64');
}

function fakeCredential(secret: Buffer, username: string): ScramCredential {
  const derive = (label: string): Buffer => createHmac('sha256', secret).update(`${label}\u0000${username}`).digest();
  return {
    salt: derive('salt').subarray(0, scramSaltBytesDefault),
    iterations: scramIterationsDefault,
    storedKey: derive('stored-key'),
    serverKey: derive('server-key'),
  };
}

function randomNonce(): string {
  return randomBytes(scramNonceBytes).toString('base64');
}

/** Hi(str, salt, i) of RFC 5802 is PBKDF2 with HMAC-SHA-256 and one output block. */
function hi(password: string, salt: Buffer, iterations: number): Buffer {
  return pbkdf2Sync(Buffer.from(password, 'utf8'), salt, iterations, scramKeyBytes, 'sha256');
}

function hmac(key: Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

function sha256(data: Buffer): Buffer {
  return createHash('sha256').update(data).digest();
}

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.alloc(a.length);
  for (let index = 0; index < a.length; index += 1) out[index] = (a[index] ?? 0) ^ (b[index] ?? 0);
  return out;
}
