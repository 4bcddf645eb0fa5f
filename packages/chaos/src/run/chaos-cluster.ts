/**
 * An InProcessCluster under the nemesis's control: every broker's peer transport passes the
 * FaultNetwork, its Raft host runs on a ChaosTimer (pauses, clock jumps), its store is wrapped by
 * a CrashableStore (a crash loses what was not synced), and every leadership claim is recorded
 * in the history.
 */
import { join } from 'node:path';
import { InProcessCluster } from '@streambus/broker/testing';
import type { UnsafeTestingKnobs } from '@streambus/broker/testing';
import type { Broker, LogLevel } from '@streambus/broker';
import { isRecordBatch } from '@streambus/proto';
import { Role } from '@streambus/raft';
import { KeyKind, LevelRaftStore, makeKey } from '@streambus/storage';
import type { PartitionFinalState, ReplicaLog } from '../checker/final-state.js';
import { readReplicaLog } from '../checker/replica-logs.js';
import type { History } from '../history/history.js';
import { ChaosTimer } from '../nemesis/chaos-timer.js';
import { CrashableStore, rollbackStore } from '../nemesis/crash-store.js';
import type { RollbackResult, WalSyncPolicy } from '../nemesis/crash-store.js';
import { FaultNetwork } from '../nemesis/fault-network.js';
import { groupHeartbeatIntervalMs, groupSessionTimeoutMs, secureSeedWaitMsMax } from '../constants.js';
import { ChaosSecurity } from '../security.js';
import type { ClientSecurity } from '../security.js';

export interface ChaosClusterOptions {
  readonly size: number;
  readonly seed: number;
  readonly history: History;
  readonly walSync?: WalSyncPolicy;
  readonly tickMs?: number;
  readonly unsafeTestingKnobs?: UnsafeTestingKnobs;
  readonly logLevel?: LogLevel;
  /** TLS on every broker (its own certificate from a throwaway CA) and SCRAM-SHA-256 auth on. */
  readonly secure?: boolean;
}

export class ChaosCluster {
  readonly network: FaultNetwork;
  private readonly timers = new Map<number, ChaosTimer>();
  private readonly stores = new Map<number, CrashableStore>();
  private cluster: InProcessCluster | null = null;
  /** The PKI and the clients' credentials of a secure run; null otherwise. */
  security: ChaosSecurity | null = null;
  readonly walSync: WalSyncPolicy;
  /** Totals of what crashes rewound. */
  readonly crashes = { count: 0, groupsRewound: 0, entriesDropped: 0, unrollbackable: 0 };

  private constructor(private readonly options: ChaosClusterOptions) {
    this.network = new FaultNetwork(options.seed ^ 0x5eed);
    this.walSync = options.walSync ?? 'always';
  }

  static async start(options: ChaosClusterOptions): Promise<ChaosCluster> {
    const chaos = new ChaosCluster(options);
    const ids = Array.from({ length: options.size }, (_, index) => index + 1);
    const security = options.secure === true ? await ChaosSecurity.create(ids, options.seed) : null;
    chaos.security = security;
    chaos.cluster = await InProcessCluster.start({
      size: options.size,
      tickMs: options.tickMs ?? 20,
      logLevel: options.logLevel ?? 'error',
      env: {
        STREAMBUS_WAL_SYNC: chaos.walSync,
        // The group workload's rebalances in well under a second (see constants.ts).
        STREAMBUS_GROUPS_HEARTBEAT_INTERVAL_MS: String(groupHeartbeatIntervalMs),
        STREAMBUS_GROUPS_SESSION_TIMEOUT_MS: String(groupSessionTimeoutMs),
        ...security?.env,
      },
      ...(security === null
        ? {}
        : { brokerEnv: (id: number) => security.brokerEnv(id), seedUsers: security.seedUsers() }),
      wrapTransport: (id, transport) => chaos.network.wrap(id, transport),
      timer: (id) => {
        const timer = new ChaosTimer();
        chaos.timers.set(id, timer);
        return timer;
      },
      wrapStore: (id, store) => {
        const crashable = new CrashableStore(store, chaos.walSync);
        chaos.stores.set(id, crashable);
        return crashable;
      },
      ...(options.unsafeTestingKnobs === undefined ? {} : { unsafeTestingKnobs: options.unsafeTestingKnobs }),
    });
    for (const broker of chaos.cluster.running()) chaos.watch(broker);
    return chaos;
  }

  /** The SDK's `tls` and `sasl` options for a workload client; undefined when the run is not secure. */
  get clientSecurity(): ClientSecurity | undefined {
    return this.security?.client;
  }

  /** Waits until the cluster is ready and, in a secure run, the workload's user is seeded. */
  async waitReady(boundMs: number): Promise<void> {
    await this.inner.waitReady(boundMs);
    if (this.security === null) return;
    const deadline = Date.now() + secureSeedWaitMsMax;
    // The controller seeds the users a moment after the cluster is ready; every broker must know them.
    while (!this.running().every((broker) => broker.controller.state.securityRecords.userCount >= 1)) {
      if (Date.now() > deadline) throw new Error(`the workload's user was not seeded within ${secureSeedWaitMsMax} ms`);
      await sleep(50);
    }
  }

  get inner(): InProcessCluster {
    if (this.cluster === null) throw new Error('chaos cluster is closed');
    return this.cluster;
  }

  get bootstrapServers(): string[] {
    return this.inner.bootstrapServers;
  }

  ids(): number[] {
    return this.inner.ids();
  }

  isRunning(id: number): boolean {
    return this.inner.isRunning(id);
  }

  running(): Broker[] {
    return this.inner.running();
  }

  timer(id: number): ChaosTimer | undefined {
    return this.timers.get(id);
  }

  async kill(id: number): Promise<void> {
    await this.inner.killBroker(id);
  }

  async stop(id: number): Promise<void> {
    await this.inner.stopBroker(id);
  }

  /** A power loss on one broker: killed, and every write no sync covered is gone. */
  async crash(id: number): Promise<RollbackResult> {
    const [result] = await this.crashMany([id]);
    return result ?? { groupsRewound: 0, entriesDropped: 0, unrollbackable: 0 };
  }

  /** A power loss of the whole cluster: every broker loses its unsynced writes at the same instant. */
  async crashAll(): Promise<RollbackResult[]> {
    return this.crashMany(this.ids().filter((id) => this.isRunning(id)));
  }

  private async crashMany(ids: readonly number[]): Promise<RollbackResult[]> {
    // The instant of the power loss: nothing leaves or reaches these brokers any more (an ack of
    // a write about to be rewound must not escape), and no later sync counts.
    for (const id of ids) {
      this.network.pause(id);
      this.stores.get(id)?.crash();
    }
    await Promise.all(ids.map((id) => this.inner.killBroker(id)));
    const results: RollbackResult[] = [];
    for (const id of ids) {
      const rewinds = this.stores.get(id)?.rewinds() ?? [];
      const result = await rollbackStore(join(this.inner.config(id).server.dataDir, 'raft'), rewinds);
      this.crashes.count += 1;
      this.crashes.groupsRewound += result.groupsRewound;
      this.crashes.entriesDropped += result.entriesDropped;
      this.crashes.unrollbackable += result.unrollbackable;
      results.push(result);
      this.network.resume(id);
    }
    return results;
  }

  /** Makes every running broker's writes durable now (as if the OS wrote its cache back). */
  async syncAll(): Promise<void> {
    for (const id of this.ids()) {
      if (this.isRunning(id)) await this.stores.get(id)?.syncNow();
    }
  }

  async restart(id: number): Promise<void> {
    if (this.inner.isRunning(id)) return;
    const broker = await this.inner.startBroker(id);
    this.watch(broker);
  }

  /**
   * Bit rot on one replica: the broker is killed, one bit of a stored record batch of `groupId`
   * (a committed one, below its commit index) is flipped on its disk, and the broker stays down
   * until `restart`. Returns what was flipped, or null when no batch was found.
   */
  async corrupt(id: number, groupId: number): Promise<string | null> {
    await this.inner.killBroker(id);
    const store = await LevelRaftStore.open(join(this.inner.config(id).server.dataDir, 'raft'), { walSync: 'always' });
    try {
      if (!store.groupIds().includes(groupId)) return null;
      const log = store.openGroup(groupId, null);
      const commit = Math.min(log.lastIndex(), log.initialState().hardState.commit);
      for (let index = commit; index >= log.firstIndex() && index > commit - 200; index--) {
        const key = makeKey(KeyKind.entry, groupId, index);
        const value = (await store.db.get(key)) as Buffer | undefined;
        // Entry value: [term u64][type u8][data]; the batch's records start well past its header.
        if (value === undefined || value.byteLength < 9 + 80 || !isRecordBatch(value.subarray(9))) continue;
        const flipped = Buffer.from(value);
        const at = value.byteLength - 3;
        flipped[at] = (flipped[at] as number) ^ 0x10;
        await store.db.put(key, flipped, { sync: true });
        return `broker ${id} group ${groupId} entry ${index} byte ${at}`;
      }
      return null;
    } finally {
      await store.close();
    }
  }

  /** Makes one broker's disk slow (every persist waits `slowMs` more); 0 heals it. */
  slowDisk(id: number, slowMs: number): void {
    const store = this.stores.get(id);
    if (store !== undefined) store.slowMs = slowMs;
  }

  /** Makes one broker's disk fail every write (true) or work again (false). */
  failDisk(id: number, failing: boolean): void {
    const store = this.stores.get(id);
    if (store !== undefined) store.failing = failing;
  }

  /** A pause (long GC, SIGSTOP-like): no ticks, no peer traffic in or out. */
  pause(id: number): void {
    this.network.pause(id);
    this.timers.get(id)?.pause();
  }

  resume(id: number): void {
    this.network.resume(id);
    this.timers.get(id)?.resume();
  }

  /** Heals the network, resumes every pause, restarts every stopped broker. */
  async healAll(): Promise<void> {
    this.network.heal();
    for (const store of this.stores.values()) {
      store.slowMs = 0;
      store.failing = false;
    }
    for (const timer of this.timers.values()) {
      timer.resume();
      timer.setRate(1);
    }
    for (const id of this.ids()) {
      if (!this.isRunning(id)) await this.restart(id);
    }
  }

  /** The running broker that leads `groupId`, or 0. */
  leaderOf(groupId: number): number {
    const leaders = this.running().filter(
      (broker) => broker.host.hasGroup(groupId) && broker.host.roleOf(groupId) === Role.leader,
    );
    return leaders.length === 1 ? (leaders[0] as Broker).nodeId : leaders.length === 0 ? 0 : -1;
  }

  /** Group ids of a topic's partitions, by partition index, from a running broker's controller state. */
  groupsOf(topic: string): number[] {
    const broker = this.running()[0];
    if (broker === undefined) return [];
    return broker.controller.state.partitionsOf(topic).map((info) => info.groupId);
  }

  /**
   * True when every partition of every topic has exactly one leader, its Raft voters are its
   * (final) replica list with no learner left, and every one of them is in the ISR.
   */
  fullyReplicated(): boolean {
    const broker = this.running()[0];
    if (broker === undefined) return false;
    if (this.running().length !== this.ids().length) return false;
    for (const info of broker.controller.state.partitions()) {
      const leaderId = this.leaderOf(info.groupId);
      if (leaderId <= 0) return false;
      const leader = this.inner.broker(leaderId);
      const conf = leader.host.status(info.groupId).confState;
      if (conf.learners.length > 0 || !sameSet(conf.voters, info.replicas)) return false;
      if (!sameSet(leader.isr(info.groupId), info.replicas)) return false;
    }
    return true;
  }

  /**
   * What is wrong with the Raft membership of `topic`'s partitions against their final replica
   * lists (empty when nothing): every replica's applied voters must be the list, no learner may
   * remain, and no broker outside the list may still host the group. Waits up to `boundMs` for a
   * moved-off broker to drop its copy (it does so a few seconds after its leader left it out).
   */
  async membershipProblems(topic: string, boundMs: number): Promise<string[]> {
    const deadline = Date.now() + boundMs;
    for (;;) {
      const problems = this.membershipNow(topic);
      if (problems.length === 0 || Date.now() > deadline) return problems;
      await sleep(200);
    }
  }

  /**
   * One moved partition as the run ends: its final replicas, its leader's applied voters, and the
   * brokers of `formerReplicas` outside the final list that still host the group.
   */
  membershipOf(
    groupId: number,
    formerReplicas: readonly number[],
  ): { replicas: number[]; voters: number[]; stillHosting: number[] } {
    const info = this.running()[0]?.controller.state.partition(groupId);
    const replicas = [...(info?.replicas ?? [])];
    const leaderId = this.leaderOf(groupId);
    const voters =
      leaderId > 0 ? [...this.inner.broker(leaderId).host.status(groupId).confState.voters].sort((a, b) => a - b) : [];
    const stillHosting = formerReplicas.filter(
      (id) => !replicas.includes(id) && this.isRunning(id) && this.inner.broker(id).host.hasGroup(groupId),
    );
    return { replicas, voters, stillHosting };
  }

  private membershipNow(topic: string): string[] {
    const broker = this.running()[0];
    if (broker === undefined) return ['no broker running'];
    const problems: string[] = [];
    for (const info of broker.controller.state.partitionsOf(topic)) {
      const where = `partition ${info.partition} (group ${info.groupId}, replicas [${info.replicas.join(',')}])`;
      for (const member of this.running()) {
        const hosts = member.host.hasGroup(info.groupId);
        if (!info.replicas.includes(member.nodeId)) {
          if (hosts) problems.push(`${where}: broker ${member.nodeId} still hosts the group`);
          continue;
        }
        if (!hosts) {
          problems.push(`${where}: replica ${member.nodeId} does not host the group`);
          continue;
        }
        const conf = member.host.status(info.groupId).confState;
        if (conf.learners.length > 0 || !sameSet(conf.voters, info.replicas)) {
          problems.push(
            `${where}: broker ${member.nodeId} has voters [${conf.voters.join(',')}] learners [${conf.learners.join(',')}]`,
          );
        }
      }
    }
    return problems;
  }

  /** Waits until every partition is fully replicated; the milliseconds it took, or null past `boundMs`. */
  async waitRecovered(boundMs: number): Promise<number | null> {
    const started = Date.now();
    while (Date.now() - started <= boundMs) {
      if (this.fullyReplicated()) return Date.now() - started;
      await sleep(50);
    }
    return null;
  }

  /** Waits (bounded) until every replica (of the final lists) of every group of `topic` has its leader's high watermark. */
  async waitConverged(topic: string, boundMs: number): Promise<boolean> {
    const deadline = Date.now() + boundMs;
    while (Date.now() < deadline) {
      const groups = this.groupsOf(topic);
      const converged = groups.every((groupId) => {
        const hws = this.replicaBrokers(groupId).flatMap((broker) => {
          const replica = broker.replicas.get(groupId);
          if (replica === undefined || !broker.host.hasGroup(groupId)) return [];
          const status = broker.host.status(groupId);
          return [status.applied >= status.hardState.commit ? replica.highWatermark : -1];
        });
        return hws.length > 0 && hws.every((hw) => hw >= 0 && hw === hws[0]);
      });
      if (converged && groups.length > 0) return true;
      await sleep(100);
    }
    return false;
  }

  /** The running brokers of a group's final replica list (the controller's, after any reassignment). */
  private replicaBrokers(groupId: number): Broker[] {
    const info = this.running()[0]?.controller.state.partition(groupId);
    return this.running().filter((broker) => info === undefined || info.replicas.includes(broker.nodeId));
  }

  /** The final state of every replica of every partition of `topic`, on its final replica list. */
  async finalState(topic: string): Promise<PartitionFinalState[]> {
    const broker = this.running()[0];
    if (broker === undefined) return [];
    const out: PartitionFinalState[] = [];
    for (const info of broker.controller.state.partitionsOf(topic)) {
      const replicas: ReplicaLog[] = [];
      for (const member of this.replicaBrokers(info.groupId)) {
        const log = await readReplicaLog(member, info.groupId);
        if (log !== null) replicas.push(log);
      }
      out.push({ topic, partition: info.partition, groupId: info.groupId, replicas });
    }
    return out;
  }

  async close(): Promise<void> {
    this.network.close();
    const cluster = this.cluster;
    this.cluster = null;
    await cluster?.close();
    await this.security?.close();
  }

  private watch(broker: Broker): void {
    const id = broker.nodeId;
    broker.host.onLeaderChange((groupId, _leaderId, term, role) => {
      if (role === Role.leader) this.options.history.leaderClaim(groupId, term, id);
    });
  }
}

function sameSet(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((id) => b.includes(id));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
