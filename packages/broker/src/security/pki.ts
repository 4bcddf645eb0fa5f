/**
 * A throwaway certificate authority for tests and `npm run cluster -- --secure`: a CA, one
 * certificate per broker (URI SAN `streambus://broker/<id>`, DNS and IP SANs for the hosts
 * clients dial, usable as server and as client certificate) and client certificates
 * (CN = the user name). EC P-256 keys, made by the `openssl` command (OpenSSL 1.1 or 3).
 *
 * Never for production: the CA key is left beside the certificates, unencrypted.
 */
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { brokerIdentityUriPrefix } from '@streambus/proto';

const run = promisify(execFile);

export interface PkiOptions {
  /** Directory the files are written to (created). */
  readonly dir: string;
  /** Broker ids to issue certificates for. */
  readonly brokerIds: readonly number[];
  /** Hosts the brokers are dialled by (SANs of every broker certificate); default localhost, 127.0.0.1. */
  readonly hosts?: readonly string[];
  /** Client certificates to issue: their CNs (e.g. user names). */
  readonly clients?: readonly string[];
  /** Days of validity (default 30). */
  readonly days?: number;
  /** CN of the CA (default "StreamBus throwaway CA"). */
  readonly caName?: string;
}

export interface PkiFiles {
  readonly caCert: string;
  readonly caKey: string;
  /** Broker id -> certificate and key paths. */
  readonly brokers: ReadonlyMap<number, { readonly cert: string; readonly key: string }>;
  /** Client CN -> certificate and key paths. */
  readonly clients: ReadonlyMap<string, { readonly cert: string; readonly key: string }>;
}

const curve = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function isIp(host: string): boolean {
  return /^[0-9.]+$/.test(host) || host.includes(':');
}

/** Issues a leaf certificate signed by the CA in `dir`. */
async function issue(
  dir: string,
  name: string,
  subject: string,
  extensions: string,
  days: number,
): Promise<{ cert: string; key: string }> {
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const cert = join(dir, `${name}.crt`);
  const ext = join(dir, `${name}.ext`);
  await writeFile(ext, extensions);
  await run('openssl', ['req', '-new', ...curve, '-keyout', key, '-out', csr, '-subj', subject]);
  await run('openssl', [
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    join(dir, 'ca.crt'),
    '-CAkey',
    join(dir, 'ca.key'),
    '-CAcreateserial',
    '-days',
    String(days),
    '-out',
    cert,
    '-extfile',
    ext,
  ]);
  return { cert, key };
}

/** Writes a CA, broker and client certificates into `options.dir`. */
export async function generatePki(options: PkiOptions): Promise<PkiFiles> {
  const dir = options.dir;
  const days = options.days ?? 30;
  await mkdir(dir, { recursive: true });
  const caCert = join(dir, 'ca.crt');
  const caKey = join(dir, 'ca.key');
  await run('openssl', [
    'req',
    '-x509',
    '-new',
    ...curve,
    '-keyout',
    caKey,
    '-out',
    caCert,
    '-days',
    String(days),
    '-subj',
    `/CN=${options.caName ?? 'StreamBus throwaway CA'}`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  const hosts = options.hosts ?? ['localhost', '127.0.0.1'];
  const hostSans = hosts.map((host) => (isIp(host) ? `IP:${host}` : `DNS:${host}`));
  const brokers = new Map<number, { cert: string; key: string }>();
  for (const id of options.brokerIds) {
    const sans = [`URI:${brokerIdentityUriPrefix}${id}`, ...hostSans].join(',');
    const extensions =
      `subjectAltName=${sans}\nextendedKeyUsage=serverAuth,clientAuth\n` +
      'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n';
    brokers.set(id, await issue(dir, `broker-${id}`, `/CN=broker-${id}`, extensions, days));
  }
  const clients = new Map<string, { cert: string; key: string }>();
  for (const name of options.clients ?? []) {
    const extensions =
      'extendedKeyUsage=clientAuth\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n';
    clients.set(name, await issue(dir, `client-${name}`, `/CN=${name}`, extensions, days));
  }
  return { caCert, caKey, brokers, clients };
}
