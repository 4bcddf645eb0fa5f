import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addStreamBusService, type StreamBusHandlers } from './server.js';
import { createStreamBusRpcClient, type StreamBusRpcClient } from './client.js';
import { makeCallError, readCallError } from './call-error.js';
import { ErrorCode, errorCodeFromName, errorCodeName, isRetriableErrorCode } from './error-code.js';
import { Acks, type ProduceRequest } from './types.js';
import { loadStreamBusPackageDefinition } from './load.js';

const unimplemented = (_call: unknown, callback: (error: Partial<grpc.StatusObject>) => void): void =>
  callback({ code: grpc.status.UNIMPLEMENTED, details: 'not in this test' });

describe('rpc: StreamBus service over grpc-js', () => {
  let server: grpc.Server;
  let client: StreamBusRpcClient;
  let lastProduce: ProduceRequest | undefined;

  beforeAll(async () => {
    server = new grpc.Server();
    const handlers: StreamBusHandlers = {
      Metadata: (call, callback) =>
        callback(null, {
          apiVersion: 1,
          clusterId: 'c1',
          controllerId: 2,
          brokerId: 1,
          brokers: [{ id: 1, host: '127.0.0.1', port: 9, rack: '' }],
          topics: call.request.topics.map((name) => ({
            errorCode: ErrorCode.NONE,
            name,
            configs: { 'retention.ms': '1000' },
            partitions: [
              {
                errorCode: ErrorCode.NONE,
                partition: 0,
                leaderId: 1,
                leaderEpoch: 7,
                replicas: [1, 2, 3],
                inSyncReplicas: [1, 2],
                highWatermark: 2 ** 40,
                logStartOffset: 0,
              },
            ],
          })),
        }),
      Produce: (call, callback) => {
        lastProduce = call.request;
        if (call.request.partitions.length > 2) {
          callback(makeCallError(ErrorCode.REQUEST_TOO_LARGE, 'too many partitions'));
          return;
        }
        callback(null, { throttleTimeMs: 0, partitions: [] });
      },
      CreateTopics: unimplemented,
      DeleteTopics: unimplemented,
      ReassignPartitions: unimplemented,
      ClusterStatus: (_call, callback) => callback(makeCallError(ErrorCode.NOT_CONTROLLER, 'ask broker 3', 3)),
      InitProducerId: unimplemented,
      Fetch: unimplemented,
      ListOffsets: () => undefined, // never answers: the call ends by its deadline or a cancel
      SetBrokerDrained: unimplemented,
      DescribeFeatures: unimplemented,
      FinalizeFeatureLevel: unimplemented,
      ExportControllerState: unimplemented,
      FindCoordinator: unimplemented,
      ConsumerGroupHeartbeat: unimplemented,
      OffsetCommit: unimplemented,
      OffsetFetch: unimplemented,
      ListGroups: unimplemented,
      DescribeGroups: unimplemented,
      DeleteGroups: unimplemented,
      Authenticate: unimplemented,
      UpsertUser: unimplemented,
      DeleteUser: unimplemented,
      ListUsers: unimplemented,
      CreateAcls: unimplemented,
      DeleteAcls: unimplemented,
      ListAcls: unimplemented,
    };
    addStreamBusService(server, handlers);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      ),
    );
    client = createStreamBusRpcClient(`127.0.0.1:${port}`);
  });

  afterAll(() => {
    client.close();
    server.forceShutdown();
  });

  it('cancels a call in flight when its signal is aborted, and one whose signal is already aborted', async () => {
    const abort = new AbortController();
    const started = Date.now();
    const pending = client
      .ListOffsets({ partitions: [] }, { deadlineMs: 5_000, signal: abort.signal })
      .catch((e: unknown) => e);
    setTimeout(() => abort.abort(), 50);
    expect(((await pending) as grpc.ServiceError).code).toBe(grpc.status.CANCELLED);
    expect(Date.now() - started).toBeLessThan(2_000);
    const again = await client
      .ListOffsets({ partitions: [] }, { deadlineMs: 5_000, signal: abort.signal })
      .catch((e: unknown) => e);
    expect((again as grpc.ServiceError).code).toBe(grpc.status.CANCELLED);
  });

  it('loads both .proto files', () => {
    const definition = loadStreamBusPackageDefinition();
    expect(Object.keys(definition)).toContain('streambus.v1.StreamBus');
    expect(Object.keys(definition)).toContain('streambus.v1.ErrorCode');
  });

  it('round-trips Metadata with int64 as number, maps and repeated fields', async () => {
    const response = await client.Metadata({ topics: ['a', 'b'], brokersOnly: false }, { deadlineMs: 5000 });
    expect(response.apiVersion).toBe(1);
    expect(response.topics.map((t) => t.name)).toEqual(['a', 'b']);
    expect(response.topics[0]?.partitions[0]?.highWatermark).toBe(2 ** 40);
    expect(response.topics[0]?.partitions[0]?.leaderEpoch).toBe(7);
    expect(response.topics[0]?.configs).toEqual({ 'retention.ms': '1000' });
  });

  it('carries record batches as bytes and fills defaults', async () => {
    const records = new Uint8Array([0xb5, 1, 2, 3]);
    await client.Produce(
      { acks: Acks.LEADER, timeoutMs: 100, transactionalId: '', partitions: [{ topic: 't', partition: 3, records }] },
      { deadlineMs: 5000 },
    );
    expect(lastProduce?.acks).toBe(Acks.LEADER);
    expect(Buffer.from(lastProduce?.partitions[0]?.records ?? [])).toEqual(Buffer.from(records));
  });

  it('maps request-level failures to gRPC status plus the error code in metadata', async () => {
    const tooMany = [0, 1, 2].map((partition) => ({ topic: 't', partition, records: new Uint8Array() }));
    const error: unknown = await client
      .Produce({ acks: Acks.ALL, timeoutMs: 0, transactionalId: '', partitions: tooMany }, { deadlineMs: 5000 })
      .catch((e: unknown) => e);
    const info = readCallError(error);
    expect(info.grpcStatus).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(info.errorCode).toBe(ErrorCode.REQUEST_TOO_LARGE);

    const notController = readCallError(await client.ClusterStatus({}, { deadlineMs: 5000 }).catch((e: unknown) => e));
    expect(notController.errorCode).toBe(ErrorCode.NOT_CONTROLLER);
    expect(notController.leaderId).toBe(3);
  });

  it('names codes stably and reads unknown ones as INTERNAL', () => {
    expect(errorCodeName(ErrorCode.NOT_LEADER)).toBe('NOT_LEADER');
    expect(errorCodeName(999)).toBe('INTERNAL');
    expect(errorCodeFromName('OFFSET_OUT_OF_RANGE')).toBe(ErrorCode.OFFSET_OUT_OF_RANGE);
    expect(errorCodeFromName('nope')).toBe(ErrorCode.INTERNAL);
    expect(isRetriableErrorCode(ErrorCode.NOT_LEADER)).toBe(true);
    expect(isRetriableErrorCode(ErrorCode.INVALID_PRODUCER_EPOCH)).toBe(false);
  });

  it('the TypeScript enum matches the .proto enum', () => {
    const definition = loadStreamBusPackageDefinition();
    const enumType = definition['streambus.v1.ErrorCode'] as { type: { value: { name: string; number: number }[] } };
    for (const value of enumType.type.value) {
      expect(ErrorCode[value.name.replace('ERROR_CODE_', '') as keyof typeof ErrorCode]).toBe(value.number);
    }
    expect(enumType.type.value.length).toBe(Object.keys(ErrorCode).length);
  });
});
