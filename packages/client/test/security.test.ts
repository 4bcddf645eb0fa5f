/**
 * The SDK's TLS and SCRAM-SHA-256 against the fake cluster (TLS listener, sessions bound to the
 * connection, users and ACLs in memory): a trusted CA connects and another CA fails at once with
 * the TLS message; one handshake per connection shared by concurrent first calls; a session that
 * the broker forgot is renewed once; wrong password and unknown user fail alike and are not
 * retried; a refused write names user, operation and topic and is not retried; the user and ACL
 * admin calls send a credential, never the password.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  Admin,
  AuthenticationError,
  AuthorizationError,
  Consumer,
  InvalidConfigError,
  Producer,
  TlsHandshakeError,
  UserNotFoundError,
  tlsFailureReason,
  type ClientOptions,
} from '../src/index.js';
import { FakeStreamBusCluster } from '../src/testing/index.js';
import { expectNoUnhandledRejections } from './helpers.js';

interface Pki {
  readonly ca: Buffer;
  readonly otherCa: Buffer;
  readonly cert: Buffer;
  readonly key: Buffer;
}

/** A CA with a server certificate for 127.0.0.1 and localhost, and a second, unrelated CA. */
function makePki(dir: string): Pki {
  const openssl = (...args: string[]): void => void execFileSync('openssl', args, { stdio: 'ignore' });
  const curve = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  for (const name of ['ca', 'other-ca'])
    openssl(
      'req',
      '-x509',
      '-new',
      ...curve,
      '-keyout',
      join(dir, `${name}.key`),
      '-out',
      join(dir, `${name}.crt`),
      '-days',
      '2',
      '-subj',
      `/CN=${name}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign',
    );
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  openssl(
    'req',
    '-new',
    ...curve,
    '-keyout',
    join(dir, 'server.key'),
    '-out',
    join(dir, 'server.csr'),
    '-subj',
    '/CN=fake',
  );
  openssl(
    'x509',
    '-req',
    '-in',
    join(dir, 'server.csr'),
    '-CA',
    join(dir, 'ca.crt'),
    '-CAkey',
    join(dir, 'ca.key'),
    '-CAcreateserial',
    '-days',
    '2',
    '-out',
    join(dir, 'server.crt'),
    '-extfile',
    join(dir, 'server.ext'),
  );
  const read = (name: string): Buffer => readFileSync(join(dir, name));
  return { ca: read('ca.crt'), otherCa: read('other-ca.crt'), cert: read('server.crt'), key: read('server.key') };
}

const topic = 'orders';
let dir: string;
let pki: Pki;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'streambus-client-security-'));
  pki = makePki(dir);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('tlsFailureReason', () => {
  it.each([
    ['self-signed certificate in certificate chain', 'certificate not signed by the configured CA'],
    ['unable to verify the first certificate', 'certificate not signed by the configured CA'],
    [
      'No connection established. Last error: Error: unable to get local issuer certificate. Resolution note: ',
      'certificate not signed by the configured CA',
    ],
    ['self-signed certificate', 'certificate not signed by the configured CA'],
    ["Hostname/IP does not match certificate's altnames: IP: 10.0.0.1 is not in the cert's list", 'does not name'],
    ['certificate has expired', 'expired'],
    ['tlsv13 alert certificate required', 'requires a client certificate'],
    ['ssl3_get_record:wrong version number', 'did not answer in TLS'],
  ])('%s', (text, expected) => {
    expect(tlsFailureReason(text)).toContain(expected);
  });
  it('is undefined for a failure that is not TLS', () => {
    expect(tlsFailureReason('connect ECONNREFUSED 127.0.0.1:9092')).toBeUndefined();
  });
});

describe('TLS', () => {
  let cluster: FakeStreamBusCluster;
  const closers: (() => Promise<void>)[] = [];
  expectNoUnhandledRejections();

  beforeAll(async () => {
    cluster = await FakeStreamBusCluster.start({ brokers: 2, tls: { cert: pki.cert, key: pki.key } });
    cluster.createTopic(topic, 2);
  });
  afterAll(() => cluster.stop());
  afterEach(async () => {
    for (const close of closers.splice(0)) await close();
  });

  function options(extra: Partial<ClientOptions>): ClientOptions {
    return { bootstrapServers: cluster.bootstrapServers, connectTimeoutMs: 2_000, retryBackoffMs: 50, ...extra };
  }

  it('produces and consumes with the CA that signs the brokers', async () => {
    const producer = new Producer({ ...options({ tls: { ca: pki.ca } }), lingerMs: 1 });
    const consumer = new Consumer({
      ...options({ tls: { ca: pki.ca } }),
      autoOffsetReset: 'earliest',
      fetchMaxWaitMs: 50,
    });
    closers.push(
      () => producer.close(),
      () => consumer.close(),
    );
    const sent = await producer.send({ topic, partition: 1, value: 'over tls' });
    consumer.assign([{ topic, partition: 1 }]);
    const records = await consumer.poll(2_000);
    expect(records.map((record) => record.value?.toString())).toContain('over tls');
    expect(sent.offset).toBeGreaterThanOrEqual(0);
  });

  it('fails at once with the TLS message when the CA is another one', async () => {
    // With a retry backoff of 1 s, a retried error would take at least 2 s over its five attempts.
    const admin = new Admin(options({ tls: { ca: pki.otherCa }, retryBackoffMs: 1_000, retryBackoffMsMax: 1_000 }));
    closers.push(() => admin.close());
    const started = Date.now();
    const error = await admin.listTopics().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TlsHandshakeError);
    expect((error as Error).message).toMatch(/^TLS handshake: certificate not signed by the configured CA/);
    expect(Date.now() - started).toBeLessThan(1_500);
  });

  it('names a certificate that does not list the name asked for', async () => {
    const admin = new Admin(options({ tls: { ca: pki.ca, servername: 'broker.example' } }));
    closers.push(() => admin.close());
    await expect(admin.listTopics()).rejects.toThrow(/TLS handshake: the broker's certificate does not name/);
  });

  it('refuses a path where PEM contents belong, before connecting', () => {
    expect(() => new Admin(options({ tls: { ca: join(dir, 'ca.crt') } }))).toThrow(InvalidConfigError);
    expect(() => new Admin(options({ tls: { ca: pki.ca, cert: pki.cert } }))).toThrow(
      /tls.cert and tls.key go together/,
    );
  });
});

describe('SCRAM-SHA-256 and ACLs', () => {
  let cluster: FakeStreamBusCluster;
  const closers: (() => Promise<void>)[] = [];
  expectNoUnhandledRejections();

  beforeAll(async () => {
    cluster = await FakeStreamBusCluster.start({
      brokers: 1,
      security: { users: { admin: 'admin-secret', alice: 'alice-secret' }, superUsers: ['admin'] },
    });
    cluster.createTopic(topic, 1);
  });
  afterAll(() => cluster.stop());
  afterEach(async () => {
    for (const close of closers.splice(0)) await close();
  });

  function admin(username: string, password: string): Admin {
    const client = new Admin({
      bootstrapServers: cluster.bootstrapServers,
      retryBackoffMs: 20,
      sasl: { username, password },
    });
    closers.push(() => client.close());
    return client;
  }
  function security(): NonNullable<FakeStreamBusCluster['security']> {
    if (cluster.security === undefined) throw new Error('the fake has no security');
    return cluster.security;
  }

  it('runs one handshake per connection, shared by concurrent first calls', async () => {
    const before = security().handshakes;
    const client = admin('admin', 'admin-secret');
    const answers = await Promise.all(Array.from({ length: 10 }, () => client.listTopics()));
    expect(answers.every((names) => names.includes(topic))).toBe(true);
    await client.listTopics();
    expect(security().handshakes - before).toBe(1);
  });

  it('authenticates again and retries once when the broker forgot the session', async () => {
    const client = admin('admin', 'admin-secret');
    await client.listTopics();
    const before = security().handshakes;
    security().expireSessions();
    expect(await client.listTopics()).toContain(topic);
    expect(security().handshakes - before).toBe(1);
  });

  it('fails a wrong password and an unknown user alike, without retrying', async () => {
    const requests = security().authenticateRequests;
    const wrong = await admin('alice', 'not-her-password')
      .listTopics()
      .catch((caught: unknown) => caught);
    const unknown = await admin('mallory', 'whatever')
      .listTopics()
      .catch((caught: unknown) => caught);
    expect(wrong).toBeInstanceOf(AuthenticationError);
    expect(unknown).toBeInstanceOf(AuthenticationError);
    expect((wrong as Error).message).toContain('authentication failed for user alice');
    expect((unknown as Error).message.replace('mallory', 'alice')).toBe((wrong as Error).message);
    // Two steps each: no second handshake.
    expect(security().authenticateRequests - requests).toBe(4);
  });

  it('tells a client without credentials that the cluster requires them', async () => {
    const client = new Admin({ bootstrapServers: cluster.bootstrapServers, retryBackoffMs: 20 });
    closers.push(() => client.close());
    const error = await client.listTopics().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AuthenticationError);
    expect((error as Error).message).toContain('requires authentication');
  });

  it('creates a user from a credential derived on the client, and manages ACLs', async () => {
    const root = admin('admin', 'admin-secret');
    await root.createUser('bob', 'bob-secret');
    expect((await root.listUsers()).map((user) => user.name)).toEqual(['admin', 'alice', 'bob']);
    // bob authenticates with the password whose credential the admin sent.
    const bob = admin('bob', 'bob-secret');
    expect(await bob.listTopics()).toContain(topic);
    const acl = { principal: 'user:bob', operation: 'read', resource: 'topic:orders', permission: 'allow' } as const;
    await root.createAcls([acl]);
    expect(await root.listAcls({ principal: 'user:bob' })).toEqual([acl]);
    expect(await root.deleteAcls([acl])).toBe(1);
    expect(await root.listAcls()).toEqual([]);
    await root.deleteUser('bob');
    await expect(root.deleteUser('bob')).rejects.toBeInstanceOf(UserNotFoundError);
    await expect(bob.createUser('eve', 'x')).rejects.toThrow(/not authorized|may not/);
    // A typo is refused before anything is sent.
    await expect(
      root.createAcls([{ principal: 'alice', operation: 'read', resource: 'topic:orders', permission: 'allow' }]),
    ).rejects.toBeInstanceOf(InvalidConfigError);
  });

  it('refuses a write an ACL does not allow, naming user, operation and topic, without retrying', async () => {
    const root = admin('admin', 'admin-secret');
    await root.createAcls([
      { principal: 'user:alice', operation: 'read', resource: 'topic:orders', permission: 'allow' },
    ]);
    const sasl = { username: 'alice', password: 'alice-secret' };
    const consumer = new Consumer({
      bootstrapServers: cluster.bootstrapServers,
      sasl,
      autoOffsetReset: 'earliest',
      fetchMaxWaitMs: 50,
    });
    const producer = new Producer({ bootstrapServers: cluster.bootstrapServers, sasl, lingerMs: 1, idempotent: false });
    closers.push(
      () => consumer.close(),
      () => producer.close({ timeoutMs: 1_000 }),
    );
    const started = Date.now();
    const error = await producer.send({ topic, partition: 0, value: 'no' }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AuthorizationError);
    expect((error as Error).message).toContain('user alice may not write topic orders');
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(cluster.records(topic, 0)).toEqual([]);
    // An idempotent producer first asks for a producer id, which needs write on some topic:
    // refused at once too, not retried until the delivery timeout.
    const idempotent = new Producer({ bootstrapServers: cluster.bootstrapServers, sasl, lingerMs: 1 });
    closers.push(() => idempotent.close({ timeoutMs: 1_000 }));
    const startedIdempotent = Date.now();
    const refusedId = await idempotent.send({ topic, partition: 0, value: 'no' }).catch((caught: unknown) => caught);
    expect(refusedId).toBeInstanceOf(AuthorizationError);
    expect((refusedId as Error).message).toContain('user alice may not write topic orders');
    expect(Date.now() - startedIdempotent).toBeLessThan(2_000);
    // Her reads are allowed: the admin's record reaches her.
    const adminProducer = new Producer({
      bootstrapServers: cluster.bootstrapServers,
      sasl: { username: 'admin', password: 'admin-secret' },
      lingerMs: 1,
    });
    closers.push(() => adminProducer.close());
    await adminProducer.send({ topic, partition: 0, value: 'for alice' });
    consumer.assign([{ topic, partition: 0 }]);
    const records = await consumer.poll(2_000);
    expect(records.map((record) => record.value?.toString())).toEqual(['for alice']);
  });
});
