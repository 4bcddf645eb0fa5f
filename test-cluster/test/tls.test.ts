/**
 * `streambus server` processes with security.tls_enabled (each broker its own certificate from a
 * throwaway CA): the cluster forms over mutual TLS, a client trusting the CA produces with acks
 * all and fetches, plaintext gRPC and HTTP to the client port are refused while HTTPS probes are
 * answered there, and a broker started with another broker's certificate is refused at start.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { generatePki } from '@streambus/broker/testing';
import type { PkiFiles } from '@streambus/broker/testing';
import { Acks, ErrorCode, createStreamBusRpcClient, encodeRecordBatch } from '@streambus/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster } from '../src/index.js';
import { runStreambus } from './helpers.js';

describe('TLS between real broker processes', () => {
  let dir = '';
  let pki: PkiFiles;
  let cluster: TestCluster;
  const clients: { close(): void }[] = [];

  const tlsEnv = (id: number, certificateOf = id): Record<string, string> => {
    const broker = pki.brokers.get(certificateOf);
    if (broker === undefined) throw new Error(`no certificate for broker ${certificateOf}`);
    return {
      STREAMBUS_TLS_ENABLED: 'true',
      STREAMBUS_BROKER_TLS_CERT: broker.cert,
      STREAMBUS_BROKER_TLS_KEY: broker.key,
      STREAMBUS_BROKER_TLS_CA: pki.caCert,
    };
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'streambus-tls-'));
    pki = await generatePki({ dir: join(dir, 'pki'), brokerIds: [1, 2, 3] });
    cluster = await TestCluster.create({ size: 3, dataDir: dir, logLevel: 'warn', brokerEnv: (id) => tlsEnv(id) });
    await cluster.startAll(60_000);
  }, 90_000);
  afterAll(async () => {
    for (const client of clients) client.close();
    await cluster?.stopAll();
    await rm(dir, { recursive: true, force: true });
  });

  const secure = (): grpc.ChannelCredentials => grpc.credentials.createSsl(readFileSync(pki.caCert));
  const rpc = (address: string, credentials: grpc.ChannelCredentials = secure()) => {
    const client = createStreamBusRpcClient(address, { credentials });
    clients.push(client);
    return client;
  };

  it('produces with acks all and fetches over TLS', async () => {
    const address = cluster.brokers[0]?.listen ?? '';
    const client = rpc(address);
    const created = await client.CreateTopics(
      {
        topics: [{ name: 'tls', partitions: 1, replicationFactor: 3, configs: {} }],
        timeoutMs: 10_000,
        validateOnly: false,
      },
      { deadlineMs: 15_000 },
    );
    expect(created.topics[0]?.errorCode).toBe(ErrorCode.NONE);
    const records = encodeRecordBatch({ records: [{ value: Buffer.from('a') }, { value: Buffer.from('b') }] });
    const deadline = Date.now() + 20_000;
    let errorCode: number = -1;
    while (errorCode !== ErrorCode.NONE && Date.now() < deadline) {
      const answer = await client.Produce(
        {
          acks: Acks.ALL,
          timeoutMs: 5_000,
          partitions: [{ topic: 'tls', partition: 0, records }],
          transactionalId: '',
        },
        { deadlineMs: 10_000 },
      );
      errorCode = answer.partitions[0]?.errorCode ?? -1;
      if (errorCode !== ErrorCode.NONE) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(errorCode).toBe(ErrorCode.NONE);
    const watermarks: number[] = [];
    for (const broker of cluster.brokers) {
      const fetched = await rpc(broker.listen).Fetch(
        {
          maxWaitMs: 0,
          minBytes: 0,
          maxBytes: 1 << 20,
          partitions: [{ topic: 'tls', partition: 0, fetchOffset: 0, partitionMaxBytes: 1 << 20 }],
          replicaId: 0,
        },
        { deadlineMs: 5_000 },
      );
      const partition = fetched.partitions[0];
      if (partition?.errorCode === ErrorCode.NONE) watermarks.push(partition.highWatermark);
    }
    expect(watermarks).toContain(2);
  });

  it('refuses plaintext gRPC and HTTP on the client port, and answers HTTPS probes there', async () => {
    const address = cluster.brokers[0]?.listen ?? '';
    await expect(
      rpc(address, grpc.credentials.createInsecure()).Metadata(
        { topics: [], brokersOnly: true },
        { deadlineMs: 3_000 },
      ),
    ).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
    await expect(fetch(`http://${address}/live`, { signal: AbortSignal.timeout(3_000) })).rejects.toThrow();
    const [host, port] = address.split(':');
    const status = await new Promise<number>((resolve, reject) => {
      const request = httpsRequest(
        { host, port: Number(port), path: '/ready', ca: readFileSync(pki.caCert), servername: 'localhost' },
        (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        },
      );
      request.on('error', reject);
      request.end();
    });
    expect(status).toBe(200);
  });

  it("refuses at start a broker configured with another broker's certificate", async () => {
    const result = await runStreambus(['server', '--validate-config', '--id', '3', '--peers', cluster.peersFlag], {
      env: tlsEnv(3, 2),
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`names broker 2, not this broker 3`);
  });
});
