/**
 * `npm run cluster -- --secure` and the security tests: a throwaway PKI (generatePki), one config
 * file per broker with TLS (mutual between brokers) and SCRAM-SHA-256 authentication on, and an
 * admin super user whose random password is written to a 0600 file. The users file holds the
 * admin's SCRAM credential only, never the password.
 *
 * Layout under `dir`: pki/ (ca.crt, ca.key, broker-N.crt/.key), admin.password, users.yaml,
 * broker-N.yaml. Running it again on the same directory keeps the PKI and the password, so a
 * restarted cluster's clients keep working.
 */
import { randomBytes } from 'node:crypto';
import { access, chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generatePki } from '@streambus/broker/testing';
import { Admin, AuthenticationError } from '@streambus/client';
import { scramCredential } from '@streambus/proto';

/** The super user that `--secure` creates. */
export const secureAdminUser = 'admin';

export interface SecureSetup {
  readonly caCert: string;
  readonly adminUser: string;
  /** File holding the admin's password (mode 0600, one line). */
  readonly adminPasswordFile: string;
  readonly adminPassword: string;
  /** Broker id -> its config file (security block), for `streambus server --config`. */
  readonly brokerConfigs: ReadonlyMap<number, string>;
  /** The `export ...` lines a client shell needs. */
  readonly exports: readonly string[];
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * The security block of one broker's server.yaml. The keys are those of the seeds' checklist
 * (`tls_*`, `auth_*`, `users_file`) plus `super_users` (comma-separated principals).
 */
export function brokerSecurityYaml(files: {
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
  readonly usersFile: string;
}): string {
  return [
    'security:',
    '  tls_enabled: true',
    `  tls_cert: ${JSON.stringify(files.cert)}`,
    `  tls_key: ${JSON.stringify(files.key)}`,
    `  tls_ca: ${JSON.stringify(files.ca)}`,
    '  auth_enabled: true',
    '  auth_mechanism: "SCRAM-SHA-256"',
    `  users_file: ${JSON.stringify(files.usersFile)}`,
    `  super_users: "user:${secureAdminUser}"`,
    '',
  ].join('\n');
}

/**
 * users.yaml (security.users_file) with one user's SCRAM-SHA-256 credential, never its password:
 * `users: [{name, scram: {salt, iterations, stored_key, server_key}}]`, base64 keys.
 */
export function usersYaml(name: string, password: string): string {
  const credential = scramCredential(password);
  return [
    'users:',
    `  - name: ${JSON.stringify(name)}`,
    '    scram:',
    `      salt: "${credential.salt.toString('base64')}"`,
    `      iterations: ${credential.iterations}`,
    `      stored_key: "${credential.storedKey.toString('base64')}"`,
    `      server_key: "${credential.serverKey.toString('base64')}"`,
    '',
  ].join('\n');
}

/** Writes (or reuses) the PKI, the admin's password and credential, and each broker's config. */
export async function prepareSecureCluster(options: {
  readonly dir: string;
  readonly brokerIds: readonly number[];
  readonly hosts?: readonly string[];
  readonly bootstrap: string;
}): Promise<SecureSetup> {
  const pkiDir = join(options.dir, 'pki');
  const caCert = join(pkiDir, 'ca.crt');
  const hosts = options.hosts ?? ['127.0.0.1', 'localhost'];
  const brokerFiles = (id: number): { cert: string; key: string } => ({
    cert: join(pkiDir, `broker-${id}.crt`),
    key: join(pkiDir, `broker-${id}.key`),
  });
  const complete =
    (await exists(caCert)) &&
    (await Promise.all(options.brokerIds.map((id) => exists(brokerFiles(id).cert)))).every(Boolean);
  if (!complete) await generatePki({ dir: pkiDir, brokerIds: options.brokerIds, hosts });

  const adminPasswordFile = join(options.dir, 'admin.password');
  let adminPassword: string;
  if (await exists(adminPasswordFile)) adminPassword = (await readFile(adminPasswordFile, 'utf8')).split('\n')[0] ?? '';
  else {
    adminPassword = randomBytes(18).toString('base64url');
    await writeFile(adminPasswordFile, `${adminPassword}\n`, { mode: 0o600 });
  }
  // Also when the file was there: a copied directory may have lost its mode.
  await chmod(adminPasswordFile, 0o600);

  const usersFile = join(options.dir, 'users.yaml');
  await writeFile(usersFile, usersYaml(secureAdminUser, adminPassword), { mode: 0o600 });
  const brokerConfigs = new Map<number, string>();
  for (const id of options.brokerIds) {
    const path = join(options.dir, `broker-${id}.yaml`);
    await writeFile(path, brokerSecurityYaml({ ...brokerFiles(id), ca: caCert, usersFile }));
    brokerConfigs.set(id, path);
  }
  return {
    caCert,
    adminUser: secureAdminUser,
    adminPasswordFile,
    adminPassword,
    brokerConfigs,
    exports: [
      `export STREAMBUS_BOOTSTRAP=${options.bootstrap}`,
      `export STREAMBUS_TLS_CA=${caCert}`,
      `export STREAMBUS_SASL_USERNAME=${secureAdminUser}`,
      `export STREAMBUS_SASL_PASSWORD_FILE=${adminPasswordFile}`,
    ],
  };
}

/**
 * Waits until the admin can authenticate: the controller seeds the users file's users once it
 * has a leader, a moment after the brokers report ready, and until then the admin is unknown.
 */
export async function waitForSecureAdmin(bootstrap: string, setup: SecureSetup, timeoutMs = 30_000): Promise<void> {
  const admin = new Admin({
    bootstrapServers: bootstrap.split(','),
    tls: { ca: await readFile(setup.caCert) },
    sasl: { username: setup.adminUser, password: setup.adminPassword },
    connectTimeoutMs: 2_000,
    requestTimeoutMs: 5_000,
  });
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      try {
        await admin.listTopics();
        return;
      } catch (error) {
        if (!(error instanceof AuthenticationError) || Date.now() >= deadline) throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  } finally {
    await admin.close();
  }
}
