/**
 * Real brokers in one process with security.tls_enabled: a 3-broker cluster produces (acks all)
 * and fetches over TLS; plaintext is refused; a client connection (without a certificate, or with
 * a client certificate) can deliver neither a Raft frame nor a controller command; and a broker
 * holding broker 2's certificate while configured as broker 3 cannot join: its frames and
 * commands are refused and the honest two elect and serve without it.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { Acks, ErrorCode, createStreamBusRpcClient, encodeRecordBatch, peerServiceDefinition } from '@streambus/proto';
import type { ControllerCommandResponse, RaftStreamClosed, StreamBusRpcClient } from '@streambus/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { controllerGroupId } from '../../src/controller/constants.js';
import { encodeCommand } from '../../src/controller/codec.js';
import { encodeFrame } from '../../src/peer/frame-codec.js';
import { generatePki } from '../../src/security/pki.js';
import type { PkiFiles } from '../../src/security/pki.js';
import { InProcessCluster } from '../../src/testing/index.js';

let dir = '';
let pki: PkiFiles;
const clients: { close(): void }[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'streambus-tls-cluster-'));
  pki = await generatePki({ dir, brokerIds: [1, 2, 3], clients: ['alice'] });
});
afterAll(async () => {
  for (const client of clients.splice(0)) client.close();
  await rm(dir, { recursive: true, force: true });
});

function files(id: number): { cert: string; key: string } {
  const broker = pki.brokers.get(id);
  if (broker === undefined) throw new Error(`no certificate for broker ${id}`);
  return broker;
}

/** Broker `id` with the certificate of broker `certificateOf`. */
function tlsEnv(id: number, certificateOf = id): Record<string, string> {
  return {
    STREAMBUS_TLS_ENABLED: 'true',
    STREAMBUS_BROKER_TLS_CERT: files(certificateOf).cert,
    STREAMBUS_BROKER_TLS_KEY: files(certificateOf).key,
    STREAMBUS_BROKER_TLS_CA: pki.caCert,
  };
}

const caBytes = (): Buffer => readFileSync(pki.caCert);

function rpc(address: string, credentials: grpc.ChannelCredentials = grpc.credentials.createSsl(caBytes())) {
  const client = createStreamBusRpcClient(address, { credentials });
  clients.push(client);
  return client;
}

const PeerClient = grpc.makeGenericClientConstructor(peerServiceDefinition(), 'Peer');
interface RawPeerClient {
  Raft(callback: grpc.requestCallback<RaftStreamClosed>): grpc.ClientWritableStream<Buffer>;
  ProposeControllerCommand(
    request: { command: Uint8Array; fromBroker: number },
    options: grpc.CallOptions,
    callback: grpc.requestCallback<ControllerCommandResponse>,
  ): void;
  close(): void;
}

function peerClient(address: string, credentials: grpc.ChannelCredentials): RawPeerClient {
  const client = new PeerClient(address, credentials) as unknown as RawPeerClient;
  clients.push(client);
  return client;
}

/** Opens a Raft stream, writes one well-formed frame, ends it: the status the broker answered. */
function sendFrame(client: RawPeerClient, frame: Buffer): Promise<grpc.status> {
  return new Promise((resolve) => {
    const stream = client.Raft((error) => resolve(error === null ? grpc.status.OK : error.code));
    stream.write(frame);
    stream.end();
  });
}

function propose(client: RawPeerClient, command: Uint8Array, fromBroker: number): Promise<grpc.status> {
  return new Promise((resolve) =>
    client.ProposeControllerCommand({ command, fromBroker }, { deadline: Date.now() + 5_000 }, (error) =>
      resolve(error === null ? grpc.status.OK : error.code),
    ),
  );
}

/** A heartbeat of the controller group at a term far ahead: a follower that took it would jump there. */
function takeoverFrame(from: number, to: number): Buffer {
  return encodeFrame({
    from,
    to,
    session: 7,
    messages: [],
    heartbeats: [{ groupId: controllerGroupId, term: 1_000_000, commit: 0 }],
    heartbeatResponses: [],
    quiesce: [],
  });
}

const sneakyTopic = encodeCommand({
  type: 'createTopic',
  name: 'sneaky',
  replicationFactor: 1,
  configs: [],
  assignments: [[1]],
});

async function until(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Creates a topic and produces `count` records (acks all) to partition 0 through `client`, retrying until a leader answers. */
async function createAndProduce(client: StreamBusRpcClient, topic: string, replicationFactor: number, count: number) {
  const created = await client.CreateTopics(
    {
      topics: [{ name: topic, partitions: 1, replicationFactor, configs: {} }],
      timeoutMs: 10_000,
      validateOnly: false,
    },
    { deadlineMs: 15_000 },
  );
  expect(created.topics[0]?.errorCode).toBe(ErrorCode.NONE);
  const records = encodeRecordBatch({
    records: Array.from({ length: count }, (_, index) => ({ value: Buffer.from(`v${index}`) })),
  });
  let errorCode: number = -1;
  await until(
    async () => {
      const answer = await client.Produce(
        { acks: Acks.ALL, timeoutMs: 5_000, partitions: [{ topic, partition: 0, records }], transactionalId: '' },
        { deadlineMs: 10_000 },
      );
      errorCode = answer.partitions[0]?.errorCode ?? -1;
      return errorCode === ErrorCode.NONE;
    },
    20_000,
    `produce to ${topic} (last error code ${errorCode})`,
  );
}

async function highWatermark(cluster: InProcessCluster, topic: string): Promise<number> {
  let best = -1;
  for (const address of cluster.bootstrapServers) {
    const fetched = await rpc(address).Fetch(
      {
        maxWaitMs: 0,
        minBytes: 0,
        maxBytes: 1 << 20,
        partitions: [{ topic, partition: 0, fetchOffset: 0, partitionMaxBytes: 1 << 20 }],
        replicaId: 0,
      },
      { deadlineMs: 5_000 },
    );
    const partition = fetched.partitions[0];
    if (partition?.errorCode === ErrorCode.NONE && partition.records.byteLength > 0)
      best = Math.max(best, partition.highWatermark);
  }
  return best;
}

describe('a 3-broker cluster with TLS', () => {
  let cluster: InProcessCluster;

  beforeAll(async () => {
    cluster = await InProcessCluster.start({ size: 3, brokerEnv: (id) => tlsEnv(id) });
    await cluster.waitReady(30_000);
  }, 60_000);
  afterAll(async () => {
    await cluster?.close();
  });

  it('produces with acks all and fetches over TLS, with peers on mutual TLS', async () => {
    const [first] = cluster.bootstrapServers;
    await createAndProduce(rpc(first ?? ''), 'secure', 3, 10);
    expect(await highWatermark(cluster, 'secure')).toBe(10);
    // The followers took the records over the peer links: every replica holds them.
    for (const broker of cluster.running()) expect(broker.peerServiceStats.framesReceived).toBeGreaterThan(0);
    for (const broker of cluster.running()) expect(broker.peerServiceStats.callsUnauthenticated).toBe(0);
  });

  it('refuses a plaintext client', async () => {
    const [first] = cluster.bootstrapServers;
    await expect(
      rpc(first ?? '', grpc.credentials.createInsecure()).Metadata(
        { topics: [], brokersOnly: true },
        { deadlineMs: 3_000 },
      ),
    ).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
  });

  it('refuses Raft frames and controller commands from client connections, and they change nothing', async () => {
    const target = cluster.broker(1);
    const address = cluster.bootstrapServers[0] ?? '';
    const alice = pki.clients.get('alice');
    if (alice === undefined) throw new Error('no client certificate');
    const withoutCertificate = peerClient(address, grpc.credentials.createSsl(caBytes()));
    const withClientCertificate = peerClient(
      address,
      grpc.credentials.createSsl(caBytes(), readFileSync(alice.key), readFileSync(alice.cert)),
    );
    const before = target.peerServiceStats.callsUnauthenticated;
    for (const client of [withoutCertificate, withClientCertificate]) {
      expect(await sendFrame(client, takeoverFrame(2, 1))).toBe(grpc.status.UNAUTHENTICATED);
      expect(await propose(client, sneakyTopic, 2)).toBe(grpc.status.UNAUTHENTICATED);
    }
    expect(target.peerServiceStats.callsUnauthenticated - before).toBe(4);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(target.host.status(controllerGroupId).hardState.term).toBeLessThan(1_000_000);
    expect(target.controller.state.topic('sneaky')).toBeUndefined();
  });
});

describe("a broker holding broker 2's certificate, configured as broker 3", () => {
  let cluster: InProcessCluster;

  beforeAll(async () => {
    cluster = await InProcessCluster.start({ size: 3, brokerEnv: (id) => tlsEnv(id, id === 3 ? 2 : id) });
  }, 60_000);
  afterAll(async () => {
    await cluster?.close();
  });

  it('cannot join: its frames and commands are refused, and the honest two elect and serve', async () => {
    const honest = [cluster.broker(1), cluster.broker(2)];
    await until(
      () => {
        const leaders = honest.map((broker) => broker.host.leaderOf(controllerGroupId));
        return leaders[0] === leaders[1] && (leaders[0] === 1 || leaders[0] === 2);
      },
      30_000,
      'a controller leader among brokers 1 and 2',
    );
    await until(
      () => honest.every((broker) => broker.peerServiceStats.framesImpersonated > 0),
      10_000,
      "brokers 1 and 2 drop broker 3's frames",
    );
    const [first] = cluster.bootstrapServers;
    await createAndProduce(rpc(first ?? ''), 'honest', 2, 5);
    expect(await highWatermark(cluster, 'honest')).toBe(5);
    // Broker 3 never heard from a leader: nothing it was sent got through to it, nothing it sent counted.
    const impostor = cluster.broker(3);
    expect(impostor.host.leaderOf(controllerGroupId), 'the leader broker 3 knows').toBe(0);
    expect(impostor.peerServiceStats.framesReceived, 'frames broker 3 took').toBe(0);
    for (const broker of honest)
      expect(
        broker.peerServiceStats.framesReceivedByPeer.get(3) ?? 0,
        `frames broker ${broker.nodeId} took from 3`,
      ).toBe(0);
    // What broker 3 would do by hand: a controller command as broker 3 over broker 2's certificate.
    const asBroker2 = grpc.credentials.createSsl(caBytes(), readFileSync(files(2).key), readFileSync(files(2).cert));
    const leader = honest[0]?.host.leaderOf(controllerGroupId) ?? 1;
    const leaderAddress = cluster.bootstrapServers[leader - 1] ?? '';
    expect(await propose(peerClient(leaderAddress, asBroker2), sneakyTopic, 3)).toBe(grpc.status.UNAUTHENTICATED);
    expect(await sendFrame(peerClient(leaderAddress, asBroker2), takeoverFrame(3, leader))).toBe(grpc.status.OK);
    await new Promise((resolve) => setTimeout(resolve, 300));
    for (const broker of honest) {
      expect(broker.host.status(controllerGroupId).hardState.term).toBeLessThan(1_000_000);
      expect(broker.controller.state.topic('sneaky')).toBeUndefined();
    }
  });
});
