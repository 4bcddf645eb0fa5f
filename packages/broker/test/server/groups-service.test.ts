/**
 * GroupsService against fake deps: FindCoordinator from the metadata (no offsets topic yet, no
 * leader, a bad group id), routing to the local coordinator, NOT_COORDINATOR with the leader
 * hint, COORDINATOR_LOAD_IN_PROGRESS, and the answers each RPC shapes from a failure.
 */
import * as grpc from '@grpc/grpc-js';
import { ErrorCode } from '@streambus/proto';
import type { OffsetCommitResponse, StreamBusHandlers } from '@streambus/proto';
import { describe, expect, it } from 'vitest';
import { failure } from '../../src/coordinator/coordinator-partition.js';
import type { CallOutcome } from '../../src/coordinator/coordinator-partition.js';
import { offsetsPartitionFor, offsetsTopicName } from '../../src/coordinator/internal-topics.js';
import type { ControllerState } from '../../src/controller/state.js';
import { GroupsService, clientHostOf } from '../../src/server/groups-service.js';
import type { ServedCoordinator } from '../../src/server/groups-service.js';
import { silentLogger } from './fakes.js';

/** Offsets partitions 0..2 are groups 100..102; broker 2 leads them all. */
function state(withTopic: boolean): ControllerState {
  const fake = {
    topic: (name: string) => (withTopic && name === offsetsTopicName ? { groupIds: [100, 101, 102] } : undefined),
    broker: (id: number) => (id === 2 ? { id: 2, host: 'b2.local', port: 9092 } : undefined),
  };
  return fake as unknown as ControllerState;
}

function coordinator(partition: number, status: ServedCoordinator<never>['status']): ServedCoordinator<never> {
  const answer = async <T>(response: T): Promise<CallOutcome<T>> =>
    status === 'loading' ? failure(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, 'loading', 1) : { ok: true, response };
  return {
    partition,
    status,
    call: (operation) => {
      const shard = {
        commitOffsets: (): { response: OffsetCommitResponse; records: never[] } => ({
          response: { partitions: [], leaderId: 0 },
          records: [],
        }),
      };
      return answer(operation(shard as never, 0).response);
    },
    read: (operation) =>
      answer(
        operation({ listGroups: () => [{ groupId: 'g', state: 'empty', memberCount: 0, coordinatorId: 0 }] } as never),
      ),
  };
}

function service(options: { withTopic?: boolean; local?: Map<number, ServedCoordinator<never>> } = {}) {
  const local = options.local ?? new Map<number, ServedCoordinator<never>>();
  return new GroupsService<never>(
    {
      nodeId: 1,
      controllerState: () => state(options.withTopic ?? true),
      partitionLeader: (groupId) => (groupId === 102 ? 0 : 2),
      coordinator: (partition) => local.get(partition),
      coordinators: () => local.values(),
      fatal: () => null,
    },
    silentLogger,
  ).handlers();
}

/** Calls one handler as grpc-js would, with a peer address. */
function invoke<M extends keyof ReturnType<typeof service>>(
  handlers: Pick<StreamBusHandlers, M>,
  method: M,
  request: unknown,
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const call = { request, getPeer: () => 'ipv4:10.0.0.7:5000', metadata: new grpc.Metadata() };
    const handler = handlers[method] as unknown as (
      call: unknown,
      callback: (error: unknown, value?: unknown) => void,
    ) => void;
    handler(call, (error, value) =>
      error === null ? resolve(value) : reject(error instanceof Error ? error : new Error('call failed')),
    );
  });
}

/** A group id that lives in `partition` of a 3-partition offsets topic. */
function groupIn(partition: number): string {
  for (let i = 0; ; i++) if (offsetsPartitionFor(`g${i}`, 3) === partition) return `g${i}`;
}

describe('GroupsService', () => {
  it('FindCoordinator: the leader of the group partition with its address; typed errors otherwise', async () => {
    const found = (await invoke(service(), 'FindCoordinator', { groupIds: [groupIn(0), groupIn(2), 'bad id'] })) as {
      coordinators: unknown[];
    };
    expect(found.coordinators).toEqual([
      {
        groupId: groupIn(0),
        errorCode: ErrorCode.NONE,
        errorMessage: '',
        nodeId: 2,
        host: 'b2.local',
        port: 9092,
        partition: 0,
      },
      expect.objectContaining({
        groupId: groupIn(2),
        errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE,
        nodeId: 0,
        partition: 2,
      }),
      expect.objectContaining({ groupId: 'bad id', errorCode: ErrorCode.INVALID_GROUP_ID }),
    ]);
    const early = (await invoke(service({ withTopic: false }), 'FindCoordinator', { groupIds: ['g'] })) as {
      coordinators: { errorCode: number; errorMessage: string }[];
    };
    expect(early.coordinators[0]?.errorCode).toBe(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    expect(early.coordinators[0]?.errorMessage).toContain('does not exist yet');
  });

  it('routes to the local coordinator; elsewhere NOT_COORDINATOR with the leader; loading: COORDINATOR_LOAD_IN_PROGRESS', async () => {
    const handlers = service({
      local: new Map([
        [0, coordinator(0, 'active')],
        [1, coordinator(1, 'loading')],
      ]),
    });
    const commit = (groupId: string) =>
      invoke(handlers, 'OffsetCommit', {
        groupId,
        memberId: '',
        memberEpoch: -1,
        partitions: [{ topic: 't', partition: 0, offset: 1, metadata: '' }],
      }) as Promise<OffsetCommitResponse>;
    expect(await commit(groupIn(0))).toEqual({ partitions: [], leaderId: 0 });
    expect(await commit(groupIn(1))).toMatchObject({
      partitions: [{ topic: 't', partition: 0, errorCode: ErrorCode.COORDINATOR_LOAD_IN_PROGRESS }],
    });
    expect(await commit(groupIn(2))).toMatchObject({
      leaderId: 0,
      partitions: [{ errorCode: ErrorCode.NOT_COORDINATOR }],
    });
    const fetched = await invoke(handlers, 'OffsetFetch', { groupId: groupIn(2), partitions: [] });
    expect(fetched).toMatchObject({ errorCode: ErrorCode.NOT_COORDINATOR, partitions: [] });
    const listed = await invoke(handlers, 'ListGroups', { states: [] });
    expect(listed).toEqual({
      groups: [{ groupId: 'g', state: 'empty', memberCount: 0, coordinatorId: 1 }],
      partitionsLoading: 1,
    });
    const described = (await invoke(handlers, 'DescribeGroups', { groupIds: ['bad id'] })) as {
      groups: { errorCode: number }[];
    };
    expect(described.groups[0]?.errorCode).toBe(ErrorCode.INVALID_GROUP_ID);
  });

  it('NOT_COORDINATOR names the leader this broker knows', async () => {
    const heartbeat = await invoke(service(), 'ConsumerGroupHeartbeat', {
      groupId: groupIn(0),
      memberId: 'm',
      memberEpoch: 3,
      instanceId: '',
      rebalanceTimeoutMs: 0,
      serverAssignor: '',
      clientId: '',
    });
    expect(heartbeat).toMatchObject({
      errorCode: ErrorCode.NOT_COORDINATOR,
      leaderId: 2,
      memberId: 'm',
      memberEpoch: 3,
    });
  });

  it("reads the client's host from grpc-js's peer string", () => {
    expect(clientHostOf('ipv4:10.0.0.7:5000')).toBe('10.0.0.7');
    expect(clientHostOf('ipv6:[::1]:5000')).toBe('::1');
    expect(clientHostOf('127.0.0.1:1')).toBe('127.0.0.1');
  });
});
