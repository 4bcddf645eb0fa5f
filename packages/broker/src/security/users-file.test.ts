import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scramCredential, ScramClient, ScramServerExchange } from '@streambus/proto';
import { configToYamlObject, dumpConfig } from '../config/dump.js';
import { formatConfigProblem, loadConfig, resolveConfig } from '../config/load.js';
import { generatePki } from './pki.js';
import { loadUsersFile } from './users-file.js';

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'streambus-users-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const rfcSalt = Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64');

describe('security.users_file', () => {
  it('takes password, password_file and scram, and keeps credentials only', async () => {
    const pencil = scramCredential('pencil', { salt: rfcSalt });
    await writeFile(join(dir, 'bob.password'), 'b0b-pass\n');
    const path = join(dir, 'users.yaml');
    await writeFile(
      path,
      [
        'users:',
        '  - name: alice',
        '    password: "alice-secret-1"',
        '  - name: bob',
        '    password_file: bob.password',
        '  - name: user',
        '    scram:',
        `      salt: ${pencil.salt.toString('base64')}`,
        '      iterations: 4096',
        `      stored_key: ${pencil.storedKey.toString('base64')}`,
        `      server_key: ${pencil.serverKey.toString('base64')}`,
        '',
      ].join('\n'),
    );
    const result = await loadUsersFile(path);
    if (!result.ok) throw new Error(result.problems.map((problem) => problem.message).join('\n'));
    expect(result.users.map((user) => user.name)).toEqual(['alice', 'bob', 'user']);
    expect(result.users[2]?.credential).toEqual(pencil);
    expect(JSON.stringify(result.users)).not.toContain('alice-secret-1');
    // bob's credential is of the password file's first line.
    const bob = result.users[1]?.credential;
    const client = new ScramClient('bob', 'b0b-pass');
    const exchange = new ScramServerExchange({
      lookup: (name) => (name === 'bob' ? bob : undefined),
      fakeCredentialSecret: Buffer.alloc(32, 1),
    });
    const serverFinal = exchange.serverFinal(client.clientFinal(exchange.serverFirst(client.clientFirst())));
    expect(() => client.verifyServerFinal(serverFinal)).not.toThrow();
  });

  it('names the line of a bad entry', async () => {
    const path = join(dir, 'bad.yaml');
    await writeFile(
      path,
      'users:\n  - name: alice\n    password: x\n  - name: "no spaces"\n    password: y\n  - name: carol\n',
    );
    const result = await loadUsersFile(path);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems.map((problem) => `${problem.path}: ${problem.message}`)).toEqual([
      `${path} line 4: user name "no spaces" is not 1..64 characters of A-Za-z0-9._@-`,
      `${path} line 6: user carol needs exactly one of password, password_file, scram`,
    ]);
  });

  it('loadConfig seeds the users, and neither config dump nor a problem shows a password', async () => {
    const users = join(dir, 'seed-users.yaml');
    await writeFile(users, 'users:\n  - name: admin\n    password: "hunter2-admin"\n');
    const pki = await generatePki({ dir: join(dir, 'pki'), brokerIds: [1] });
    const broker = pki.brokers.get(1);
    const config = join(dir, 'server.yaml');
    await writeFile(
      config,
      [
        'security:',
        '  tls_enabled: true',
        `  tls_cert: ${broker?.cert ?? ''}`,
        `  tls_key: ${broker?.key ?? ''}`,
        `  tls_ca: ${pki.caCert}`,
        '  auth_enabled: true',
        `  users_file: ${users}`,
        '  super_users: "user:admin"',
        '',
      ].join('\n'),
    );
    const result = await loadConfig({ env: {}, flags: { config } });
    if (!result.ok) throw new Error(result.problems.map(formatConfigProblem).join('\n'));
    expect(result.loaded.config.security.seedUsers.map((user) => user.name)).toEqual(['admin']);
    const dump = dumpConfig(result.loaded, { showOrigin: true });
    expect(dump).toContain('users_file');
    expect(dump).not.toContain('hunter2');
    await writeFile(users, 'users:\n  - name: admin\n    password: "hunter2\u0007"\n');
    const refused = await loadConfig({ env: {}, flags: { config } });
    expect(refused.ok).toBe(false);
    if (refused.ok) return;
    expect(refused.problems.map(formatConfigProblem).join('\n')).not.toContain('hunter2');
  });
});

describe('the admin port', () => {
  it("/config's view leaves out the acls that config dump shows", () => {
    const text = 'acls:\n  - principal: "user:alice"\n    operations: [read]\n    resources: ["topic:events"]\n';
    const result = resolveConfig({ file: { path: 'server.yaml', text }, env: {}, flags: {} });
    if (!result.ok) throw new Error('expected a valid config');
    expect(configToYamlObject(result.loaded)['acls']).toHaveLength(1);
    expect(configToYamlObject(result.loaded, false)['acls']).toBeUndefined();
  });
});
