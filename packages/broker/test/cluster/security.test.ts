/**
 * Authentication and authorization against a real in-process broker with a raw gRPC client
 * doing the SCRAM handshake with ScramClient. security.tls_enabled is set so that auth may be on,
 * but until the tls branch lands it starts no TLS listener: these calls are plaintext, which is
 * enough for sessions and ACLs (the forwarded-call and certificate cases need the TLS listener).
 */
import * as grpc from '@grpc/grpc-js';
import {
  AclPermission,
  ErrorCode,
  ScramClient,
  createStreamBusRpcClient,
  readCallError,
  scramCredential,
  sessionMetadataKey,
  streamBusServiceDefinition,
} from '@streambus/proto';
import type { StreamBusMethodName, StreamBusRpcClient } from '@streambus/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generatePki, InProcessCluster } from '../../src/testing/index.js';

const call = { deadlineMs: 10_000 };

interface Session {
  client: StreamBusRpcClient;
  metadata: () => grpc.Metadata;
}

/** A client on a connection of its own (grpc-js shares connections between clients by default). */
function ownConnection(address: string): StreamBusRpcClient {
  return createStreamBusRpcClient(address, {
    credentials: grpc.credentials.createSsl(caPem),
    channelOptions: { 'grpc.use_local_subchannel_pool': 1 },
  });
}

/** The throwaway CA the broker's certificate is from (TLS is on: auth needs it). */
let caPem = Buffer.alloc(0);
let pkiDir = '';

async function authenticate(
  address: string,
  user: string,
  password: string,
  client = ownConnection(address),
): Promise<Session> {
  const scram = new ScramClient(user, password);
  const first = await client.Authenticate(
    { mechanism: 'SCRAM-SHA-256', sessionId: '', message: Buffer.from(scram.clientFirst()) },
    call,
  );
  const final = await client.Authenticate(
    {
      mechanism: 'SCRAM-SHA-256',
      sessionId: first.sessionId,
      message: Buffer.from(scram.clientFinal(first.message.toString())),
    },
    call,
  );
  scram.verifyServerFinal(final.message.toString());
  expect(final.principal).toBe(`user:${user}`);
  return {
    client,
    metadata: () => {
      const metadata = new grpc.Metadata();
      metadata.set(sessionMetadataKey, final.sessionId);
      return metadata;
    },
  };
}

async function failure(
  promise: Promise<unknown>,
): Promise<{ errorCode: ErrorCode; grpcStatus: number; message: string }> {
  try {
    await promise;
  } catch (error) {
    return readCallError(error);
  }
  throw new Error('expected the call to fail');
}

describe('security on a real broker', () => {
  let cluster: InProcessCluster;
  let address = '';
  let admin: Session;

  beforeAll(async () => {
    pkiDir = await mkdtemp(join(tmpdir(), 'streambus-security-pki-'));
    const pki = await generatePki({ dir: pkiDir, brokerIds: [1] });
    caPem = readFileSync(pki.caCert);
    cluster = await InProcessCluster.start({
      size: 1,
      env: {
        STREAMBUS_TLS_ENABLED: 'true',
        STREAMBUS_TLS_CERT: pki.brokers.get(1)?.cert ?? '',
        STREAMBUS_TLS_KEY: pki.brokers.get(1)?.key ?? '',
        STREAMBUS_TLS_CA: pki.caCert,
        STREAMBUS_AUTH_ENABLED: 'true',
        STREAMBUS_SUPER_USERS: 'user:admin',
      },
      seedUsers: [
        { name: 'admin', credential: scramCredential('admin-pw-1') },
        { name: 'alice', credential: scramCredential('alice-pw-1') },
      ],
    });
    await cluster.waitReady(30_000);
    address = cluster.bootstrapServers[0] ?? '';
    // The seeder finalizes level 3 and proposes the users within a few seconds.
    const deadline = Date.now() + 20_000;
    while (cluster.broker(1).controller.state.securityRecords.userCount < 2 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 50));
    admin = await authenticate(address, 'admin', 'admin-pw-1');
    const created = await admin.client.CreateTopics(
      {
        topics: ['orders', 'events'].map((name) => ({ name, partitions: 1, replicationFactor: 1, configs: {} })),
        timeoutMs: 10_000,
        validateOnly: false,
      },
      { ...call, metadata: admin.metadata() },
    );
    expect(created.topics.map((topic) => topic.errorCode)).toEqual([ErrorCode.NONE, ErrorCode.NONE]);
  }, 60_000);

  afterAll(async () => {
    await cluster?.close();
    if (pkiDir !== '') await rm(pkiDir, { recursive: true, force: true });
  });

  it('a call without a session is SESSION_EXPIRED (UNAUTHENTICATED)', async () => {
    const client = ownConnection(address);
    const refused = await failure(client.Metadata({ topics: [], brokersOnly: false }, call));
    expect(refused.errorCode).toBe(ErrorCode.SESSION_EXPIRED);
    expect(refused.grpcStatus).toBe(grpc.status.UNAUTHENTICATED);
  });

  it('a wrong password and an unknown user get the identical answer', async () => {
    const wrong = await failure(authenticate(address, 'alice', 'nope'));
    const unknown = await failure(authenticate(address, 'alicf', 'nope'));
    expect(wrong.errorCode).toBe(ErrorCode.AUTHENTICATION_FAILED);
    expect(unknown.errorCode).toBe(ErrorCode.AUTHENTICATION_FAILED);
    expect(wrong.message).toBe('authentication failed for user alice');
    expect(unknown.message).toBe('authentication failed for user alicf');
  });

  it('a session is refused on another connection', async () => {
    const alice = await authenticate(address, 'alice', 'alice-pw-1');
    const other = ownConnection(address);
    const refused = await failure(other.ListUsers({}, { ...call, metadata: alice.metadata() }));
    expect(refused.errorCode).toBe(ErrorCode.SESSION_EXPIRED);
  });

  it('produce: denied without write, allowed with it; all-topics Metadata leaves out the undescribable', async () => {
    const alice = await authenticate(address, 'alice', 'alice-pw-1');
    const produce = () =>
      alice.client.Produce(
        {
          acks: 1,
          timeoutMs: 5000,
          transactionalId: '',
          partitions: [{ topic: 'orders', partition: 0, records: new Uint8Array() }],
        },
        { ...call, metadata: alice.metadata() },
      );
    const denied = await failure(produce());
    expect(denied.grpcStatus).toBe(grpc.status.PERMISSION_DENIED);
    expect(denied.errorCode).toBe(ErrorCode.AUTHORIZATION_FAILED);
    expect(denied.message).toBe('user alice may not write topic orders');
    const aclsCreated = await admin.client.CreateAcls(
      {
        acls: [
          { principal: 'user:alice', operation: 'write', resource: 'topic:orders', permission: AclPermission.ALLOW },
          { principal: 'user:alice', operation: 'describe', resource: 'topic:ord*', permission: AclPermission.ALLOW },
        ],
      },
      { ...call, metadata: admin.metadata() },
    );
    expect(aclsCreated).toEqual({ errorCode: ErrorCode.NONE, errorMessage: '' });
    // Past the guard: the empty batch is the handler's to judge, not an authorization failure.
    const allowed = await produce().then(
      () => ErrorCode.NONE,
      (error: unknown) => readCallError(error).errorCode,
    );
    expect(allowed).not.toBe(ErrorCode.AUTHORIZATION_FAILED);
    const metadata = await alice.client.Metadata(
      { topics: [], brokersOnly: false },
      { ...call, metadata: alice.metadata() },
    );
    expect(metadata.topics.map((topic) => topic.name)).toEqual(['orders']);
    const listed = await admin.client.ListAcls(
      { principal: 'user:alice', resource: '' },
      { ...call, metadata: admin.metadata() },
    );
    expect(listed.acls).toHaveLength(2);
  });

  it('every StreamBus RPC but Authenticate is refused to a user with no ACL', async () => {
    const alice = await authenticate(address, 'alice', 'alice-pw-1');
    const definitions = streamBusServiceDefinition();
    // alice has write on orders and describe on ord*: refused anything needing more. Calls with
    // an empty request; those whose needs an empty request meets (Metadata of no topic, ListGroups)
    // are served, filtered.
    const servedEmpty = new Set<StreamBusMethodName>([
      'Authenticate',
      'Metadata',
      'ListGroups',
      'InitProducerId',
      'Produce',
      'Fetch',
      'ListOffsets',
      'CreateTopics',
      'DeleteTopics',
      'FindCoordinator',
      'DescribeGroups',
      'DeleteGroups',
    ]);
    const methods = Object.values(definitions).map(
      (definition) => (definition.path.split('/').at(-1) ?? '') as StreamBusMethodName,
    );
    expect(methods).toHaveLength(27);
    for (const method of methods) {
      if (servedEmpty.has(method)) continue;
      const invoke = alice.client[method] as (request: object, options: typeof call) => Promise<unknown>;
      const outcome = await invoke({ groupId: 'g' }, { ...call, metadata: alice.metadata() }).then(
        () => ErrorCode.NONE,
        (error: unknown) => readCallError(error).errorCode,
      );
      expect({ method, outcome }).toEqual({ method, outcome: ErrorCode.AUTHORIZATION_FAILED });
    }
  });
});
