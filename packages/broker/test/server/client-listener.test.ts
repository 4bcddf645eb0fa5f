import { connect } from 'node:net';
import type { Socket } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { HealthRegistry } from '../../src/admin/health.js';
import { createAdminHttpServer, probeEndpoints } from '../../src/admin/server.js';
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

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function start(connectionsMax = 8, firstBytesTimeoutMs = 5_000) {
  const server = new grpc.Server();
  server.addService(echo, {
    echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) =>
      callback(null, Buffer.concat([Buffer.from('echo '), call.request])),
  });
  const health = new HealthRegistry({ brokerId: 4, version: 'test' });
  health.registerComponent('raft', () => ({ status: 'healthy', detail: 'fine' }));
  const events = { opened: 0, closed: 0, failed: [] as ConnectionErrorReason[] };
  const listener = await ClientListener.start({
    listen: { host: '127.0.0.1', port: 0 },
    grpc: server.createConnectionInjector(grpc.ServerCredentials.createInsecure()),
    http: createAdminHttpServer({ health, endpoints: probeEndpoints, elsewhereHint: 'served on the admin address' }),
    connectionsMax,
    firstBytesTimeoutMs,
    observer: {
      opened: () => (events.opened += 1),
      closed: () => (events.closed += 1),
      failed: (reason) => events.failed.push(reason),
    },
  });
  cleanups.push(async () => {
    await listener.stopAccepting();
    server.forceShutdown();
    listener.destroyAll();
  });
  const Client = grpc.makeGenericClientConstructor(echo, 'Test');
  const client = (): EchoClient => {
    const made = new Client(`127.0.0.1:${listener.port}`, grpc.credentials.createInsecure()) as unknown as EchoClient;
    cleanups.push(() => made.close());
    return made;
  };
  return { listener, events, client };
}

interface EchoClient {
  echo(request: Buffer, callback: grpc.requestCallback<Buffer>): void;
  close(): void;
}

function call(client: EchoClient, text: string) {
  return new Promise<string>((resolve, reject) =>
    client.echo(Buffer.from(text), (error, value) => (error ? reject(error) : resolve(String(value)))),
  );
}

function openSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => resolve(socket));
    socket.on('error', reject);
    cleanups.push(() => void socket.destroy());
  });
}

function closed(socket: Socket): Promise<void> {
  return new Promise((resolve) => (socket.closed ? resolve() : socket.once('close', () => resolve())));
}

async function until(check: () => boolean): Promise<void> {
  const deadlineMs = Date.now() + 5_000;
  while (!check()) {
    if (Date.now() > deadlineMs) throw new Error('condition not met within 5 s');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('ClientListener', () => {
  it('serves gRPC and the HTTP/1.1 probes on one port', async () => {
    const { listener, client } = await start();
    const grpcClient = client();
    expect(await call(grpcClient, 'a')).toBe('echo a');
    const health = await fetch(`http://127.0.0.1:${listener.port}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'healthy', broker_id: 4 });
    expect((await fetch(`http://127.0.0.1:${listener.port}/live`)).status).toBe(200);
    const metrics = await fetch(`http://127.0.0.1:${listener.port}/metrics`);
    expect(metrics.status).toBe(404);
    expect(await metrics.json()).toEqual({ error: 'NOT_FOUND', message: 'served on the admin address' });
    expect(await call(grpcClient, 'b')).toBe('echo b');
  });

  it('counts connections, and closes one beyond network.max_connections at once', async () => {
    const { listener, events } = await start(2);
    const first = await openSocket(listener.port);
    await openSocket(listener.port);
    await until(() => events.opened === 2);
    expect(listener.connections).toBe(2);
    const third = await openSocket(listener.port);
    await closed(third);
    expect(events.failed).toEqual(['limit']);
    first.destroy();
    await until(() => events.closed === 1);
    expect(listener.connections).toBe(1);
  });

  it('closes a connection that sends nothing within network.connection_timeout', async () => {
    const { listener, events } = await start(8, 100);
    const silent = await openSocket(listener.port);
    await closed(silent);
    expect(events.failed).toEqual(['timeout']);
    await until(() => events.closed === 1);
  });
});
