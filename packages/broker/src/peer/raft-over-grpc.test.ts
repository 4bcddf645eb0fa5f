/**
 * Three RaftHosts (MemoryRaftStore, real timers) connected by PeerTransports over real gRPC on
 * 127.0.0.1: they elect a leader per group, commit proposals on every replica in the same order,
 * and survive the loss of a leader broker.
 */
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '@streambus/proto';
import { RaftHost, Role } from '@streambus/raft';
import type { GroupId, NodeId } from '@streambus/raft';
import { MemoryRaftStore, RecordingStateMachine } from '@streambus/raft/testing';
import { addPeerService } from './peer-service.js';
import type { PeerServiceHandle } from './peer-service.js';
import { PeerTransport } from './peer-transport.js';

interface Broker {
  readonly nodeId: NodeId;
  readonly server: grpc.Server;
  readonly port: number;
  readonly service: PeerServiceHandle;
  transport?: PeerTransport;
  host?: RaftHost;
  readonly machine: RecordingStateMachine;
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

async function startCluster(nodeIds: readonly NodeId[], groupIds: readonly GroupId[]): Promise<Broker[]> {
  for (const nodeId of nodeIds) {
    const server = new grpc.Server();
    const machine = new RecordingStateMachine();
    const partial: { broker?: Broker } = {};
    const service = addPeerService(
      server,
      {
        onFrame: (frame) => partial.broker?.host?.receive(frame),
        proposeControllerCommand: () => Promise.resolve({ errorCode: ErrorCode.NOT_CONTROLLER, leaderHint: 0, result: new Uint8Array(0) }),
      },
      { nodeId },
    );
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
    );
    const broker: Broker = { nodeId, server, port, service, machine, stopped: false };
    partial.broker = broker;
    brokers.push(broker);
  }
  for (const broker of brokers) {
    const peers = new Map(brokers.filter((other) => other !== broker).map((other) => [other.nodeId, `127.0.0.1:${other.port}`] as const));
    broker.transport = new PeerTransport({ nodeId: broker.nodeId, peers, reconnectBackoffMsMax: 200 });
    broker.host = new RaftHost({
      nodeId: broker.nodeId,
      store: new MemoryRaftStore(),
      transport: broker.transport,
      stateMachine: broker.machine,
      tickMs: 20,
      groupDefaults: { electionTicks: 10, heartbeatTicks: 1, preVote: true, checkQuorum: true },
    });
    for (const groupId of groupIds) broker.host.createGroup(groupId, { voters: [...nodeIds], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false });
    broker.host.start();
  }
  return brokers;
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

async function waitFor(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
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

    const proposals = new Map(groupIds.map((groupId) => [groupId, Array.from({ length: 20 }, (_, i) => `g${groupId}-r${i}`)] as const));
    await Promise.all(groupIds.map((groupId) => proposeAll(groupId, proposals.get(groupId)!)));
    // A large entry travels as one protobuf bytes field.
    const big = 'x'.repeat(512 * 1024);
    await proposeAll(1, [big]);
    for (const groupId of groupIds) {
      const expected = groupId === 1 ? [...proposals.get(groupId)!, big] : proposals.get(groupId)!;
      await waitFor(() => brokers.every((broker) => broker.machine.texts(groupId).length === expected.length), `group ${groupId} applied everywhere`);
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
    await waitFor(() => survivors.every((broker) => broker.machine.texts(1).length === expected.length), 'group 1 applied on the survivors');
    for (const broker of survivors) expect(broker.machine.texts(1)).toEqual(expected);

    for (const broker of survivors) {
      expect(broker.service.stats.framesReceived).toBeGreaterThan(0);
      expect(broker.service.stats.framesMalformed).toBe(0);
      const toLost = broker.transport!.stats.peers.get(lost.nodeId)!;
      expect(toLost.framesSent).toBeGreaterThan(0);
      expect(toLost.framesQueued).toBeLessThanOrEqual(1024);
    }
  });
});
