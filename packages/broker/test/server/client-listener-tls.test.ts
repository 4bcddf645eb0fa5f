/**
 * The client listener with security.tls_enabled: TLS only on the one port, gRPC and the probes
 * over it, plaintext closed, certificates of another CA refused, TLS 1.2 refused under a 1.3
 * minimum, and a rotated certificate served to new connections without a restart.
 */
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import type { ConnectionOptions, TLSSocket } from 'node:tls';
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HealthRegistry } from '../../src/admin/health.js';
import { createAdminHttpServer, probeEndpoints, startAdminServer } from '../../src/admin/server.js';
import { provenBrokerId } from '../../src/security/peer-identity.js';
import { generatePki } from '../../src/security/pki.js';
import type { PkiFiles } from '../../src/security/pki.js';
import { TlsContexts } from '../../src/security/tls/tls-contexts.js';
import type { TlsFiles } from '../../src/security/tls/tls-material.js';
import { ClientListener } from '../../src/server/client-listener.js';
import type { ConnectionErrorReason } from '../../src/server/client-listener.js';

const echo = {
  echo: {
    path: '/test.Test/Echo',
    requestStream: false,
    responseStream: false,
    requestSerialize: (value: Buffer) => value,
    requestDeserialize: (value: Buffer) => value,
    responseSerialize: (value: Buffer) => value,
    responseDeserialize: (value: Buffer) => value,
  },
} satisfies grpc.ServiceDefinition;

interface EchoClient {
  echo(request: Buffer, options: grpc.CallOptions, callback: grpc.requestCallback<Buffer>): void;
  close(): void;
}

let dir = '';
let pki: PkiFiles;
let otherPki: PkiFiles;
const cleanups: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'streambus-listener-tls-'));
  pki = await generatePki({ dir: join(dir, 'pki'), brokerIds: [1, 2], clients: ['alice'] });
  otherPki = await generatePki({ dir: join(dir, 'other'), brokerIds: [2], clients: ['mallory'], caName: 'Other CA' });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function brokerFiles(files: PkiFiles, id: number): { cert: string; key: string } {
  const broker = files.brokers.get(id);
  if (broker === undefined) throw new Error(`no certificate for broker ${id}`);
  return broker;
}

async function start(options: { files?: TlsFiles; firstBytesTimeoutMs?: number } = {}) {
  const broker = brokerFiles(pki, 1);
  const files: TlsFiles = options.files ?? {
    certPath: broker.cert,
    keyPath: broker.key,
    caPath: pki.caCert,
    keyPassword: '',
    versionMin: '1.3',
  };
  const contexts = await TlsContexts.load({ files, pollMs: 60_000 });
  const server = new grpc.Server();
  server.addService(echo, {
    echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) =>
      callback(null, Buffer.from(`echo ${String(call.request)} from broker ${provenBrokerId(call) ?? 'none'}`)),
  });
  const health = new HealthRegistry({ brokerId: 1, version: 'test' });
  health.registerComponent('raft', () => ({ status: 'healthy', detail: 'fine' }));
  const events = { failed: [] as ConnectionErrorReason[] };
  const listener = await ClientListener.start({
    listen: { host: '127.0.0.1', port: 0 },
    grpc: server.createConnectionInjector(grpc.ServerCredentials.createInsecure()),
    http: createAdminHttpServer({ health, endpoints: probeEndpoints }),
    connectionsMax: 16,
    firstBytesTimeoutMs: options.firstBytesTimeoutMs ?? 5_000,
    observer: { opened: () => undefined, closed: () => undefined, failed: (reason) => events.failed.push(reason) },
    tls: contexts,
  });
  cleanups.push(async () => {
    contexts.close();
    await listener.stopAccepting();
    server.forceShutdown();
    listener.destroyAll();
  });
  return { listener, events, contexts, address: `127.0.0.1:${listener.port}` };
}

const Client = grpc.makeGenericClientConstructor(echo, 'Test');

function client(address: string, credentials: grpc.ChannelCredentials): EchoClient {
  const made = new Client(address, credentials) as unknown as EchoClient;
  cleanups.push(() => made.close());
  return made;
}

function call(target: EchoClient, text: string): Promise<string> {
  return new Promise((resolve, reject) =>
    target.echo(Buffer.from(text), { deadline: Date.now() + 3_000 }, (error, value) =>
      error ? reject(error) : resolve(String(value)),
    ),
  );
}

/** What node:tls says of a server certificate its CA did not sign (the chain may carry that CA). */
const unknownIssuer = /^(UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN)$/;

const ca = (files: PkiFiles): Buffer => readFileSync(files.caCert);

function clientCertificate(files: PkiFiles, name: string): { privateKey: Buffer; certChain: Buffer } {
  const entry = files.clients.get(name);
  if (entry === undefined) throw new Error(`no client certificate ${name}`);
  return { privateKey: readFileSync(entry.key), certChain: readFileSync(entry.cert) };
}

/** A TLS connection's outcome: its peer certificate's serial, or the error that ended it. */
function handshake(port: number, options: ConnectionOptions): Promise<{ serial?: string; error?: string }> {
  return new Promise((resolve) => {
    const socket: TLSSocket = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', ...options }, () => {
      const serial = socket.getPeerCertificate().serialNumber;
      socket.destroy();
      resolve({ serial });
    });
    socket.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
  });
}

function httpsGet(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = httpsRequest(
      { host: '127.0.0.1', port, path, ca: ca(pki), servername: 'localhost', agent: false },
      (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      },
    );
    request.on('error', reject);
    request.end();
  });
}

/** Sends `bytes` in plaintext; resolves with what came back before the listener closed it. */
function plaintext(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect(port, '127.0.0.1', () => socket.write(bytes));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
  });
}

describe('ClientListener with TLS', () => {
  it('serves gRPC over TLS to a client trusting the CA, and the peer certificate reaches the call', async () => {
    const { address } = await start();
    expect(await call(client(address, grpc.credentials.createSsl(ca(pki))), 'a')).toBe('echo a from broker none');
    const broker = brokerFiles(pki, 2);
    const asBroker = grpc.credentials.createSsl(ca(pki), readFileSync(broker.key), readFileSync(broker.cert));
    expect(await call(client(address, asBroker), 'b')).toBe('echo b from broker 2');
    const alice = clientCertificate(pki, 'alice');
    const asAlice = grpc.credentials.createSsl(ca(pki), alice.privateKey, alice.certChain);
    expect(await call(client(address, asAlice), 'c')).toBe('echo c from broker none');
  });

  it('closes plaintext: a gRPC call fails, an HTTP/1.1 probe gets nothing; HTTPS probes work', async () => {
    const { address, listener, events } = await start();
    await expect(call(client(address, grpc.credentials.createInsecure()), 'x')).rejects.toMatchObject({
      code: grpc.status.UNAVAILABLE,
    });
    expect(await plaintext(listener.port, 'GET /health HTTP/1.1\r\nHost: x\r\n\r\n')).toBe('');
    expect(events.failed.filter((reason) => reason === 'tls').length).toBeGreaterThanOrEqual(2);
    expect(await httpsGet(listener.port, '/health')).toBe(200);
    expect(await httpsGet(listener.port, '/live')).toBe(200);
  });

  it('fails the handshake of a client trusting another CA', async () => {
    const { address, listener } = await start();
    await expect(call(client(address, grpc.credentials.createSsl(ca(otherPki))), 'x')).rejects.toMatchObject({
      code: grpc.status.UNAVAILABLE,
    });
    expect((await handshake(listener.port, { ca: ca(otherPki) })).error).toMatch(unknownIssuer);
  });

  it('refuses a client certificate another CA signed, at once', async () => {
    const { address, listener, events } = await start();
    const mallory = clientCertificate(otherPki, 'mallory');
    const asMallory = grpc.credentials.createSsl(ca(pki), mallory.privateKey, mallory.certChain);
    await expect(call(client(address, asMallory), 'x')).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
    // A broker certificate of the other CA naming broker 2 proves nothing either.
    const impostor = brokerFiles(otherPki, 2);
    const asImpostor = grpc.credentials.createSsl(ca(pki), readFileSync(impostor.key), readFileSync(impostor.cert));
    await expect(call(client(address, asImpostor), 'x')).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
    expect(events.failed.filter((reason) => reason === 'tls').length).toBeGreaterThanOrEqual(2);
    void listener;
  });

  it('refuses TLS 1.2 under the 1.3 minimum, and takes it when the minimum is 1.2', async () => {
    const { listener } = await start();
    const outcome = await handshake(listener.port, { ca: ca(pki), maxVersion: 'TLSv1.2' });
    expect(outcome.serial).toBeUndefined();
    expect(outcome.error).toMatch(/ALERT_PROTOCOL_VERSION|UNSUPPORTED_PROTOCOL|WRONG_VERSION/);
    const broker = brokerFiles(pki, 1);
    const relaxed = await start({
      files: { certPath: broker.cert, keyPath: broker.key, caPath: pki.caCert, keyPassword: '', versionMin: '1.2' },
    });
    expect((await handshake(relaxed.listener.port, { ca: ca(pki), maxVersion: 'TLSv1.2' })).serial).toBeDefined();
  });

  it('closes a TLS handshake that does not finish within network.connection_timeout', async () => {
    const { listener, events } = await start({ firstBytesTimeoutMs: 200 });
    // A ClientHello's first bytes, and then nothing.
    const socket = connect(listener.port, '127.0.0.1', () => socket.write(Buffer.from([0x16, 0x03, 0x01])));
    cleanups.push(() => void socket.destroy());
    await new Promise<void>((resolve) => socket.once('close', () => resolve()));
    expect(events.failed).toContain('timeout');
  });

  it('serves a rotated certificate to new connections without a restart; a broken rotation keeps the old one', async () => {
    const live = join(dir, 'live');
    const first = await generatePki({ dir: join(live, 'first'), brokerIds: [1] });
    const second = await generatePki({ dir: join(live, 'second'), brokerIds: [1] });
    const certPath = join(live, 'broker.crt');
    const keyPath = join(live, 'broker.key');
    const caPath = join(live, 'ca.crt');
    const install = async (files: PkiFiles): Promise<void> => {
      await copyFile(brokerFiles(files, 1).cert, certPath);
      await copyFile(brokerFiles(files, 1).key, keyPath);
      await copyFile(files.caCert, caPath);
    };
    await install(first);
    const { listener, contexts } = await start({
      files: { certPath, keyPath, caPath, keyPassword: '', versionMin: '1.3' },
    });
    const firstSerial = contexts.material.certificate.serialNumber;
    expect((await handshake(listener.port, { ca: ca(first) })).serial).toBe(firstSerial);
    // Half a rotation (the new certificate, the old key): refused, the old certificate stays.
    await copyFile(brokerFiles(second, 1).cert, certPath);
    expect(await contexts.reload()).toBe(false);
    expect((await handshake(listener.port, { ca: ca(first) })).serial).toBe(firstSerial);
    await install(second);
    expect(await contexts.reload()).toBe(true);
    const secondSerial = contexts.material.certificate.serialNumber;
    expect(secondSerial).not.toBe(firstSerial);
    expect((await handshake(listener.port, { ca: ca(second) })).serial).toBe(secondSerial);
    expect((await handshake(listener.port, { ca: ca(first) })).error).toMatch(unknownIssuer);
  });

  it('notices a rotation by itself within its poll', async () => {
    const live = join(dir, 'poll');
    const first = await generatePki({ dir: join(live, 'first'), brokerIds: [1] });
    const second = await generatePki({ dir: join(live, 'second'), brokerIds: [1] });
    const certPath = join(live, 'broker.crt');
    const keyPath = join(live, 'broker.key');
    const caPath = join(live, 'ca.crt');
    await copyFile(brokerFiles(first, 1).cert, certPath);
    await copyFile(brokerFiles(first, 1).key, keyPath);
    await copyFile(first.caCert, caPath);
    const files: TlsFiles = { certPath, keyPath, caPath, keyPassword: '', versionMin: '1.3' };
    const contexts = await TlsContexts.load({ files, pollMs: 100 });
    cleanups.push(() => contexts.close());
    await copyFile(brokerFiles(second, 1).cert, certPath);
    await copyFile(brokerFiles(second, 1).key, keyPath);
    await copyFile(second.caCert, caPath);
    const deadline = Date.now() + 5_000;
    while (contexts.generation === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(contexts.generation).toBe(1);
  });
});

describe('the admin server with security.tls_admin_enabled', () => {
  it('serves HTTPS with the broker certificate and nothing in plaintext', async () => {
    const broker = brokerFiles(pki, 1);
    const contexts = await TlsContexts.load({
      files: { certPath: broker.cert, keyPath: broker.key, caPath: pki.caCert, keyPassword: '', versionMin: '1.3' },
      pollMs: 60_000,
    });
    const health = new HealthRegistry({ brokerId: 1, version: 'test' });
    health.registerComponent('raft', () => ({ status: 'healthy', detail: 'fine' }));
    const admin = await startAdminServer({ listen: { host: '127.0.0.1', port: 0 }, health, tls: contexts });
    cleanups.push(async () => {
      contexts.close();
      await admin.close();
    });
    expect(await httpsGet(admin.address.port, '/health')).toBe(200);
    expect(await httpsGet(admin.address.port, '/live')).toBe(200);
    await expect(fetch(`http://127.0.0.1:${admin.address.port}/live`)).rejects.toThrow();
  });
});
