/**
 * Authentication and authorization against 3 real in-process brokers with TLS on (generatePki)
 * and a raw gRPC client doing the SCRAM handshake with ScramClient.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import {
  encodeRecordBatch,
  AclPermission,
  ErrorCode,
  ScramClient,
  createStreamBusRpcClient,
  readCallError,
  scramCredential,
  sessionMetadataKey,
  streamBusServiceDefinition,
} from '@streambus/proto';
import type { RpcCallOptions, StreamBusMethodName, StreamBusRpcClient } from '@streambus/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Role } from '@streambus/raft';
import { generatePki } from '../../src/security/pki.js';
import type { PkiFiles } from '../../src/security/pki.js';
import { InProcessCluster } from '../../src/testing/index.js';

let pki: PkiFiles;
let pkiDir = '';

const call = { deadlineMs: 10_000 };

interface Session {
  client: StreamBusRpcClient;
  metadata: () => grpc.Metadata;
}

/** A client on a connection of its own (grpc-js shares connections between clients by default). */
function ownConnection(address: string): StreamBusRpcClient {
  return createStreamBusRpcClient(address, {
    credentials: grpc.credentials.createSsl(readFileSync(pki.caCert)),
    channelOptions: { 'grpc.use_local_subchannel_pool': 1 },
  });
}

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
    pkiDir = await mkdtemp(join(tmpdir(), 'streambus-security-'));
    pki = await generatePki({ dir: pkiDir, brokerIds: [1, 2, 3], clients: ['carol'] });
    cluster = await InProcessCluster.start({
      size: 3,
      env: { STREAMBUS_AUTH_ENABLED: 'true', STREAMBUS_SUPER_USERS: 'user:admin', STREAMBUS_TLS_CLIENT_AUTH: 'true' },
      brokerEnv: (id) => ({
        STREAMBUS_TLS_ENABLED: 'true',
        STREAMBUS_TLS_CERT: pki.brokers.get(id)?.cert ?? '',
        STREAMBUS_TLS_KEY: pki.brokers.get(id)?.key ?? '',
        STREAMBUS_TLS_CA: pki.caCert,
      }),
      seedUsers: [
        { name: 'admin', credential: scramCredential('admin-pw-1') },
        { name: 'alice', credential: scramCredential('alice-pw-1') },
      ],
    });
    await cluster.waitReady(30_000);
    address = cluster.bootstrapServers[0] ?? '';
    // The seeder finalizes level 3 and proposes the users within a few seconds.
    const deadline = Date.now() + 20_000;
    while (
      cluster.running().some((broker) => broker.controller.state.securityRecords.userCount < 2) &&
      Date.now() < deadline
    )
      await new Promise((resolve) => setTimeout(resolve, 50));
    admin = await authenticate(address, 'admin', 'admin-pw-1');
    const created = await admin.client.CreateTopics(
      {
        topics: ['orders', 'events'].map((name) => ({ name, partitions: 1, replicationFactor: 3, configs: {} })),
        timeoutMs: 10_000,
        validateOnly: false,
      },
      { ...call, metadata: admin.metadata() },
    );
    expect(created.topics.map((topic) => topic.errorCode)).toEqual([ErrorCode.NONE, ErrorCode.NONE]);
  }, 60_000);

  afterAll(async () => {
    await cluster?.close();
    await rm(pkiDir, { recursive: true, force: true });
  });

  it('a call claiming to be forwarded by a broker over a client connection is UNAUTHENTICATED', async () => {
    const alice = await authenticate(address, 'alice', 'alice-pw-1');
    const metadata = alice.metadata();
    metadata.set('streambus-forwarded-by', '1');
    const refused = await failure(alice.client.Metadata({ topics: [], brokersOnly: false }, { ...call, metadata }));
    expect(refused.grpcStatus).toBe(grpc.status.UNAUTHENTICATED);
  });

  it('with tls_client_auth a client certificate is user:<CN>, without a session', async () => {
    const carolFiles = pki.clients.get('carol');
    const carol = createStreamBusRpcClient(address, {
      credentials: grpc.credentials.createSsl(
        readFileSync(pki.caCert),
        readFileSync(carolFiles?.key ?? ''),
        readFileSync(carolFiles?.cert ?? ''),
      ),
      channelOptions: { 'grpc.use_local_subchannel_pool': 1 },
    });
    const refused = await failure(carol.ListUsers({}, call));
    expect(refused).toMatchObject({
      errorCode: ErrorCode.AUTHORIZATION_FAILED,
      message: 'user carol may not describe the cluster',
    });
    const metadata = await carol.Metadata({ topics: [], brokersOnly: false }, call);
    expect(metadata.topics).toEqual([]);
    carol.close();
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
    // Per topic: the refused topic's entry says so (Kafka's TOPIC_AUTHORIZATION_FAILED).
    const denied = await produce();
    expect(denied.partitions).toMatchObject([
      {
        topic: 'orders',
        errorCode: ErrorCode.AUTHORIZATION_FAILED,
        errorMessage: 'user alice may not write topic orders',
      },
    ]);
    const named = await alice.client.Metadata(
      { topics: ['events'], brokersOnly: false },
      { ...call, metadata: alice.metadata() },
    );
    expect(named.topics).toMatchObject([{ name: 'events', errorCode: ErrorCode.AUTHORIZATION_FAILED, partitions: [] }]);
    expect(named.brokers.length).toBe(3);
    const groups = await alice.client.DescribeGroups({ groupIds: ['g'] }, { ...call, metadata: alice.metadata() });
    expect(groups.groups).toMatchObject([
      { groupId: 'g', errorCode: ErrorCode.AUTHORIZATION_FAILED, errorMessage: 'user alice may not describe group g' },
    ]);
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

  it('a produce through a follower by a user with write is forwarded and acknowledged', async () => {
    const info = cluster.broker(1).controller.state.partitionOf('orders', 0);
    expect(info).toBeDefined();
    let leaderId = 0;
    const deadline = Date.now() + 20_000;
    while (leaderId === 0 && Date.now() < deadline) {
      for (const broker of cluster.running())
        if (broker.host.roleOf(info?.groupId ?? 0) === Role.leader) leaderId = broker.nodeId;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const followerId = cluster.ids().find((id) => id !== leaderId) ?? 0;
    const followerAddress = cluster.bootstrapServers[followerId - 1] ?? '';
    const alice = await authenticate(followerAddress, 'alice', 'alice-pw-1');
    const produced = await alice.client.Produce(
      {
        acks: 1,
        timeoutMs: 5000,
        transactionalId: '',
        partitions: [
          { topic: 'orders', partition: 0, records: encodeRecordBatch({ records: [{ value: Buffer.from('x') }] }) },
        ],
      },
      { ...call, metadata: alice.metadata() },
    );
    expect(produced.partitions.map((partition) => partition.errorCode)).toEqual([ErrorCode.NONE]);
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
      const invoke = alice.client[method] as (request: object, options: RpcCallOptions) => Promise<unknown>;
      const outcome = await invoke({ groupId: 'g' }, { ...call, metadata: alice.metadata() }).then(
        () => ErrorCode.NONE,
        (error: unknown) => readCallError(error).errorCode,
      );
      expect({ method, outcome }).toEqual({ method, outcome: ErrorCode.AUTHORIZATION_FAILED });
    }
  });

  it("a deleted user's session ends at its next call", async () => {
    const alice = await authenticate(address, 'alice', 'alice-pw-1');
    await alice.client
      .ListAcls({ principal: '', resource: '' }, { ...call, metadata: alice.metadata() })
      .catch(() => undefined);
    const deleted = await admin.client.DeleteUser({ name: 'alice' }, { ...call, metadata: admin.metadata() });
    expect(deleted).toEqual({ errorCode: ErrorCode.NONE, errorMessage: '' });
    // Applied on every broker within a moment; this broker answered once applied here.
    const refused = await failure(
      alice.client.Metadata({ topics: [], brokersOnly: true }, { ...call, metadata: alice.metadata() }),
    );
    expect(refused.errorCode).toBe(ErrorCode.SESSION_EXPIRED);
    const again = await failure(authenticate(address, 'alice', 'alice-pw-1'));
    expect(again.message).toBe('authentication failed for user alice');
  });
});
