/**
 * Three RaftHosts (MemoryRaftStore, real timers) connected by PeerTransports over real gRPC on
 * 127.0.0.1: they elect a leader per group, commit proposals on every replica in the same order,
 * and survive the loss of a leader broker.
 */
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '@streambus/proto';
import { RaftHost, Role } from '@streambus/raft';
import type { GroupConfig, GroupId, NodeId } from '@streambus/raft';
import { MemoryRaftStore, RecordingStateMachine } from '@streambus/raft/testing';
import { addPeerService } from './peer-service.js';
import type { PeerServiceHandle } from './peer-service.js';
import { PeerTransport } from './peer-transport.js';

interface Broker {
  readonly nodeId: NodeId;
  server: grpc.Server;
  port: number;
  service: PeerServiceHandle;
  transport?: PeerTransport;
  host?: RaftHost;
  machine: RecordingStateMachine;
  /** Survives a restart, like a disk. */
  readonly store: MemoryRaftStore;
  stopped: boolean;
}

const brokers: Broker[] = [];

async function stopBroker(broker: Broker): Promise<void> {
  if (broker.stopped) return;
  broker.stopped = true;
  if (broker.host !== undefined) await broker.host.stop();
  broker.service.closeStreams();
  broker.server.forceShutdown();
  broker.transport?.close();
}

afterEach(async () => {
  for (const broker of brokers.splice(0)) await stopBroker(broker);
});

/** Serves the Peer service for `broker` on `port` (0: any); frames go to its current host. */
async function serve(
  broker: { readonly nodeId: NodeId; host?: RaftHost },
  port: number,
): Promise<{ server: grpc.Server; service: PeerServiceHandle; port: number }> {
  const server = new grpc.Server();
  const service = addPeerService(
    server,
    {
      onFrame: (frame) => broker.host?.receive(frame),
      proposeControllerCommand: () =>
        Promise.resolve({ errorCode: ErrorCode.NOT_CONTROLLER, leaderHint: 0, result: new Uint8Array(0) }),
    },
    { nodeId: broker.nodeId },
  );
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (error, boundPort) =>
      error ? reject(error) : resolve(boundPort),
    ),
  );
  return { server, service, port: bound };
}

/** Creates the broker's transport and RaftHost (recovering its groups from its store) and starts it. */
function boot(broker: Broker, nodeIds: readonly NodeId[], groupIds: readonly GroupId[], overrides: GroupConfig): void {
  const peers = new Map(
    brokers
      .filter((other) => other.nodeId !== broker.nodeId)
      .map((other) => [other.nodeId, `127.0.0.1:${other.port}`] as const),
  );
  broker.transport = new PeerTransport({ nodeId: broker.nodeId, peers, reconnectBackoffMsMax: 200 });
  broker.host = new RaftHost({
    nodeId: broker.nodeId,
    store: broker.store,
    transport: broker.transport,
    stateMachine: broker.machine,
    tickMs: 20,
    groupDefaults: { electionTicks: 10, heartbeatTicks: 1, preVote: true, checkQuorum: true },
  });
  for (const groupId of groupIds)
    broker.host.createGroup(
      groupId,
      { voters: [...nodeIds], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false },
      overrides,
    );
  broker.host.start();
}

async function startCluster(
  nodeIds: readonly NodeId[],
  groupIds: readonly GroupId[],
  overrides: GroupConfig = {},
): Promise<Broker[]> {
  for (const nodeId of nodeIds) {
    const broker = {
      nodeId,
      machine: new RecordingStateMachine(),
      store: new MemoryRaftStore(),
      stopped: false,
    } as Broker;
    Object.assign(broker, await serve(broker, 0));
    brokers.push(broker);
  }
  for (const broker of brokers) boot(broker, nodeIds, groupIds, overrides);
  return brokers;
}

/** Brings a stopped broker back on its old port with its old store and a fresh state machine. */
async function restartBroker(
  broker: Broker,
  nodeIds: readonly NodeId[],
  groupIds: readonly GroupId[],
  overrides: GroupConfig = {},
): Promise<void> {
  broker.machine = new RecordingStateMachine();
  delete broker.host;
  Object.assign(broker, await serve(broker, broker.port));
  broker.stopped = false;
  boot(broker, nodeIds, groupIds, overrides);
}

function hostOf(broker: Broker): RaftHost {
  const host = broker.host;
  if (host === undefined) throw new Error('broker has no host');
  return host;
}

/** The leader that every running broker agrees on, or 0. */
function agreedLeader(groupId: GroupId): NodeId {
  const live = brokers.filter((broker) => !broker.stopped);
  const leaders = new Set(live.map((broker) => hostOf(broker).leaderOf(groupId)));
  const [leader] = [...leaders];
  if (leaders.size !== 1 || leader === undefined || leader === 0) return 0;
  const leaderBroker = live.find((broker) => broker.nodeId === leader);
  return leaderBroker !== undefined && hostOf(leaderBroker).roleOf(groupId) === Role.leader ? leader : 0;
}

async function waitFor(
  condition: () => boolean,
  what: string,
  timeoutMs = 20_000,
  state: () => string = () => '',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} ${state()}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function waitLeader(groupId: GroupId): Promise<Broker> {
  await waitFor(() => agreedLeader(groupId) !== 0, `a leader of group ${groupId}`);
  const leader = brokers.find((broker) => broker.nodeId === agreedLeader(groupId));
  if (leader === undefined) throw new Error('leader broker is known');
  return leader;
}

/** Proposes through whichever broker leads now, retrying across leader changes. */
async function proposeAll(groupId: GroupId, texts: readonly string[]): Promise<void> {
  const encoder = new TextEncoder();
  for (const text of texts) {
    for (let attempt = 0; ; attempt++) {
      const leader = await waitLeader(groupId);
      try {
        await hostOf(leader).propose(groupId, encoder.encode(text));
        break;
      } catch (error) {
        if (attempt >= 20) throw error;
      }
    }
  }
}

describe('RaftHosts over PeerTransports (real gRPC)', () => {
  it('elect a leader per group and commit proposals on every replica in the same order; a lost leader broker is replaced', async () => {
    const groupIds = [0, 1, 2, 3];
    await startCluster([1, 2, 3], groupIds);
    for (const groupId of groupIds) await waitLeader(groupId);

    const proposals = new Map(
      groupIds.map((groupId) => [groupId, Array.from({ length: 20 }, (_, i) => `g${groupId}-r${i}`)] as const),
    );
    await Promise.all(groupIds.map((groupId) => proposeAll(groupId, proposals.get(groupId)!)));
    // A large entry travels as one protobuf bytes field.
    const big = 'x'.repeat(512 * 1024);
    await proposeAll(1, [big]);
    for (const groupId of groupIds) {
      const expected = groupId === 1 ? [...proposals.get(groupId)!, big] : proposals.get(groupId)!;
      await waitFor(
        () => brokers.every((broker) => broker.machine.texts(groupId).length === expected.length),
        `group ${groupId} applied everywhere`,
      );
      for (const broker of brokers) expect(broker.machine.texts(groupId)).toEqual(expected);
    }

    // Lose the leader broker of group 1: the other two elect a new leader and keep committing.
    const lost = await waitLeader(1);
    await stopBroker(lost);
    const survivors = brokers.filter((broker) => !broker.stopped);
    const after = ['after-1', 'after-2', 'after-3'];
    await proposeAll(1, after);
    const newLeader = await waitLeader(1);
    expect(newLeader.nodeId).not.toBe(lost.nodeId);
    const expected = [...proposals.get(1)!, big, ...after];
    await waitFor(
      () => survivors.every((broker) => broker.machine.texts(1).length === expected.length),
      'group 1 applied on the survivors',
    );
    for (const broker of survivors) expect(broker.machine.texts(1)).toEqual(expected);

    for (const broker of survivors) {
      expect(broker.service.stats.framesReceived).toBeGreaterThan(0);
      expect(broker.service.stats.framesMalformed).toBe(0);
      const toLost = broker.transport!.stats.peers.get(lost.nodeId)!;
      expect(toLost.framesSent).toBeGreaterThan(0);
      expect(toLost.framesQueued).toBeLessThanOrEqual(1024);
    }
  });

  it('a broker that was down while the others compacted their logs catches up by a chunked snapshot over gRPC, on its old port', async () => {
    const nodeIds = [1, 2, 3];
    const groupId = 7;
    const overrides: GroupConfig = { snapshotChunkBytes: 64 * 1024 };
    await startCluster(nodeIds, [groupId], overrides);
    const before = Array.from({ length: 10 }, (_, i) => `before-${i}`);
    await proposeAll(groupId, before);
    await waitFor(
      () => brokers.every((broker) => broker.machine.texts(groupId).length === before.length),
      'the first proposals everywhere',
    );

    const leader = await waitLeader(groupId);
    const lagging = brokers.find((broker) => broker !== leader)!;
    await stopBroker(lagging);
    const survivors = brokers.filter((broker) => !broker.stopped);
    const during = Array.from({ length: 10 }, (_, i) => `during-${i}`);
    await proposeAll(groupId, during);
    await waitFor(
      () => survivors.every((broker) => broker.machine.texts(groupId).length === before.length + during.length),
      'proposals on the survivors',
    );
    // The application's state: 300 KiB, so the snapshot travels as several 64 KiB chunks.
    const snapshotData = Uint8Array.from({ length: 300 * 1024 }, (_, i) => (i * 31) % 256);
    for (const broker of survivors) {
      const host = hostOf(broker);
      await host.compact(groupId, snapshotData, host.status(groupId).applied);
    }

    await restartBroker(lagging, nodeIds, [groupId], overrides);
    const progressOf = (): string => {
      const parts = brokers.map((broker) => {
        const status = hostOf(broker).status(groupId);
        const pr = status.progress.get(lagging.nodeId);
        return `${broker.nodeId}: ${status.role} term ${status.hardState.term} last ${status.lastIndex} applied ${status.applied} machine ${broker.machine.applied.get(groupId)?.length ?? 0}/${broker.machine.restored.has(groupId) ? 'restored' : 'not restored'}${pr === undefined ? '' : ` (lagging: ${pr.state} match ${pr.match} next ${pr.next} active ${pr.recentActive})`}`;
      });
      return `[${parts.join('; ')}]`;
    };
    await waitFor(() => lagging.machine.restored.has(groupId), 'the snapshot to be installed', 20_000, progressOf);
    const restored = lagging.machine.restored.get(groupId)!;
    expect(restored.data.byteLength).toBe(snapshotData.byteLength);
    expect(Buffer.from(restored.data).equals(Buffer.from(snapshotData))).toBe(true);
    expect(restored.metadata.confState.voters).toEqual(nodeIds);

    const after = ['after-0', 'after-1'];
    await proposeAll(groupId, after);
    await waitFor(
      () => lagging.machine.texts(groupId).join() === after.join(),
      'entries after the snapshot on the restarted broker',
    );
    for (const broker of survivors) expect(broker.machine.texts(groupId)).toEqual([...before, ...during, ...after]);
    expect(lagging.service.stats.framesMalformed).toBe(0);
  });
});
