/**
 * A broker's TLS material: its certificate (and chain), private key and the cluster CA, read from
 * PEM files and checked before use, so that a wrong file is a clear one-line error at start (and
 * a rotation to a wrong file is refused) instead of a handshake failure on every connection.
 *
 * The same options serve both sides: `serverOptions` for node:tls and node:https servers
 * (`setSecureContext` on rotation), `clientContext` for the broker's own dials (its certificate is
 * its client certificate, the CA verifies the peer).
 */
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import type { SecureContext, SecureContextOptions, SecureVersion } from 'node:tls';
import type { SecurityConfig, TlsVersion } from '../../config/types.js';
import { rethrowBug } from '../../bugs.js';
import { tlsCertificatesPerFileMax, tlsChainLengthMax, tlsFileBytesMax } from './constants.js';

/** Where the material lives (security.tls_cert, tls_key, tls_ca, tls_key_password, min_tls_version). */
export interface TlsFiles {
  readonly certPath: string;
  readonly keyPath: string;
  readonly caPath: string;
  /** '' when the key is not encrypted. A secret: never logged, never in an error. */
  readonly keyPassword: string;
  readonly versionMin: TlsVersion;
}

/** The files of a configuration's security.tls_* keys. */
export function tlsFilesOf(security: SecurityConfig): TlsFiles {
  return {
    certPath: security.tlsCertPath,
    keyPath: security.tlsKeyPath,
    caPath: security.tlsCaPath,
    keyPassword: security.tlsKeyPassword,
    versionMin: security.tlsVersionMin,
  };
}

/** Which file a problem is about: the config key is `security.tls_<role>`. */
export type TlsFileRole = 'cert' | 'key' | 'ca';

/** The raw bytes of the three files, as read together. */
export interface TlsFileContents {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly ca: Buffer;
}

export interface TlsMaterial {
  /** For `tls.createServer`/`https.createServer` and their `setSecureContext`. */
  readonly serverOptions: SecureContextOptions;
  /** The same material as a context for the broker's outgoing connections. */
  readonly clientContext: SecureContext;
  /** The broker's own (leaf) certificate. */
  readonly certificate: X509Certificate;
  /** SHA-256 over the three files' bytes: tells a changed file from the same one re-read. */
  readonly digest: string;
}

/** A file that cannot be used, and why (one line, naming the file, never the key password). */
export class TlsMaterialError extends Error {
  override readonly name = 'TlsMaterialError';

  constructor(
    readonly role: TlsFileRole,
    readonly path: string,
    readonly reason: string,
  ) {
    super(`security.tls_${role} ${path}: ${reason}`);
  }
}

const tlsVersionNames: Readonly<Record<TlsVersion, SecureVersion>> = { '1.2': 'TLSv1.2', '1.3': 'TLSv1.3' };

/** node:tls's name of a security.min_tls_version value. */
export function secureVersionOf(version: TlsVersion): SecureVersion {
  return tlsVersionNames[version];
}

/** Reads the three files (each bounded in size); throws TlsMaterialError naming the one that fails. */
export async function readTlsFiles(files: TlsFiles): Promise<TlsFileContents> {
  const [cert, key, ca] = await Promise.all([
    readBounded('cert', files.certPath),
    readBounded('key', files.keyPath),
    readBounded('ca', files.caPath),
  ]);
  return { cert, key, ca };
}

/** Reads and checks the material (see `buildTlsMaterial`). */
export async function loadTlsMaterial(files: TlsFiles, nowMs = Date.now()): Promise<TlsMaterial> {
  return buildTlsMaterial(files, await readTlsFiles(files), nowMs);
}

/** SHA-256 over the three files' bytes, each length-prefixed. */
export function digestOf(contents: TlsFileContents): string {
  const hash = createHash('sha256');
  for (const bytes of [contents.cert, contents.key, contents.ca]) {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.byteLength);
    hash.update(length).update(bytes);
  }
  return hash.digest('hex');
}

/**
 * Checks the files' contents and builds the contexts: the certificate file holds PEM certificates,
 * the first valid now; the key opens (with the password when it is encrypted) and is the
 * certificate's; the CA file holds PEM certificates and the certificate chains up to one of them.
 * Throws TlsMaterialError.
 */
export function buildTlsMaterial(files: TlsFiles, contents: TlsFileContents, nowMs: number): TlsMaterial {
  const chain = parseCertificates('cert', files.certPath, contents.cert);
  const certificate = chain[0];
  if (certificate === undefined) throw new TlsMaterialError('cert', files.certPath, 'holds no PEM certificate');
  checkValidity(files.certPath, certificate, nowMs);
  const authorities = parseCertificates('ca', files.caPath, contents.ca);
  if (authorities.length === 0) throw new TlsMaterialError('ca', files.caPath, 'holds no PEM certificate');
  const key = openKey(files, contents.key);
  if (!certificate.checkPrivateKey(key))
    throw new TlsMaterialError('key', files.keyPath, `is not the key of the certificate in ${files.certPath}`);
  if (!chainsToAuthority(chain, authorities))
    throw new TlsMaterialError(
      'cert',
      files.certPath,
      `is not signed by the CA in ${files.caPath} (security.tls_ca): issued by ${certificate.issuer.replace(/\n/g, ', ')}`,
    );
  const versionMin = secureVersionOf(files.versionMin);
  const serverOptions: SecureContextOptions = {
    cert: contents.cert,
    key: contents.key,
    ca: contents.ca,
    ...(files.keyPassword === '' ? {} : { passphrase: files.keyPassword }),
    minVersion: versionMin,
  };
  let clientContext: SecureContext;
  try {
    clientContext = createSecureContext(serverOptions);
  } catch (error) {
    rethrowBug(error);
    throw new TlsMaterialError('cert', files.certPath, `is refused by node:tls: ${messageOf(error)}`);
  }
  return { serverOptions, clientContext, certificate, digest: digestOf(contents) };
}

async function readBounded(role: TlsFileRole, path: string): Promise<Buffer> {
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new TlsMaterialError(role, path, 'is not a file');
    if (info.size > tlsFileBytesMax)
      throw new TlsMaterialError(role, path, `is ${info.size} bytes, more than ${tlsFileBytesMax} (not a PEM file?)`);
    const bytes = await readFile(path);
    // The file may have grown between stat and read (a rotation being written).
    if (bytes.byteLength > tlsFileBytesMax)
      throw new TlsMaterialError(role, path, `is more than ${tlsFileBytesMax} bytes (not a PEM file?)`);
    return bytes;
  } catch (error) {
    if (error instanceof TlsMaterialError) throw error;
    rethrowBug(error);
    const code = error instanceof Error && 'code' in error ? String(error.code) : 'unknown';
    const reason =
      code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : `cannot be read (${code})`;
    throw new TlsMaterialError(role, path, reason);
  }
}

const pemCertificatePattern = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

function parseCertificates(role: TlsFileRole, path: string, bytes: Buffer): X509Certificate[] {
  const blocks = bytes.toString('latin1').match(pemCertificatePattern) ?? [];
  if (blocks.length > tlsCertificatesPerFileMax)
    throw new TlsMaterialError(
      role,
      path,
      `holds ${blocks.length} certificates, more than ${tlsCertificatesPerFileMax}`,
    );
  return blocks.map((block, index) => {
    try {
      return new X509Certificate(block);
    } catch (error) {
      rethrowBug(error);
      throw new TlsMaterialError(role, path, `certificate ${index + 1} does not parse: ${messageOf(error)}`);
    }
  });
}

function checkValidity(path: string, certificate: X509Certificate, nowMs: number): void {
  const validFromMs = Date.parse(certificate.validFrom);
  const validToMs = Date.parse(certificate.validTo);
  if (nowMs < validFromMs) throw new TlsMaterialError('cert', path, `is not valid before ${certificate.validFrom}`);
  if (nowMs > validToMs) throw new TlsMaterialError('cert', path, `expired on ${certificate.validTo}`);
}

function openKey(files: TlsFiles, bytes: Buffer): KeyObject {
  try {
    return createPrivateKey({
      key: bytes,
      format: 'pem',
      ...(files.keyPassword === '' ? {} : { passphrase: files.keyPassword }),
    });
  } catch (error) {
    rethrowBug(error);
    const code = error instanceof Error && 'code' in error ? String(error.code) : '';
    // Never the password, never OpenSSL's text (it may quote the key's bytes).
    const reason =
      code === 'ERR_MISSING_PASSPHRASE'
        ? 'is encrypted: set security.tls_key_password'
        : files.keyPassword === ''
          ? 'is not a PEM private key'
          : 'is not a PEM private key, or security.tls_key_password does not open it';
    throw new TlsMaterialError('key', files.keyPath, reason);
  }
}

/** True when `chain[0]` is signed by an authority, directly or through the chain's intermediates. */
function chainsToAuthority(chain: readonly X509Certificate[], authorities: readonly X509Certificate[]): boolean {
  const signedBy = (child: X509Certificate, parent: X509Certificate): boolean =>
    child.checkIssued(parent) && child.verify(parent.publicKey);
  let current = chain[0];
  for (let link = 0; current !== undefined && link < tlsChainLengthMax; link++) {
    const child: X509Certificate = current;
    if (authorities.some((authority) => signedBy(child, authority))) return true;
    current = chain.slice(1).find((parent) => parent !== child && signedBy(child, parent));
  }
  return false;
}

function messageOf(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';
}
