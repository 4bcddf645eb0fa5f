/**
 * The group coordinators of one broker: one CoordinatorPartition per __consumer_offsets
 * partition this broker leads, created when it becomes leader (for that term) and closed when it
 * loses the leadership. Leadership is followed from the host's leader changes and, every
 * coordinatorTickMs, reconciled against the controller's list of offsets partitions (the
 * controller state may learn of the topic after the groups elected their leaders). The same
 * timer ticks every loaded shard (session timeouts, offset retention).
 */
import { Role } from '@streambus/raft';
import type { GroupId, NodeId } from '@streambus/raft';
import type { Logger } from '../logging/logger.js';
import { CoordinatorPartition } from './coordinator-partition.js';
import type { CoordinatorHost, CoordinatorReplica } from './coordinator-partition.js';
import type { CoordinatorConfig, CoordinatorShard, ShardKit, TopicView } from './shard.js';

/** The RaftHost as the coordinators ask it. */
export interface GroupCoordinatorsHost extends CoordinatorHost {
  hasGroup(groupId: GroupId): boolean;
  isLeader(groupId: GroupId): boolean;
  /** The group's current term on this broker. */
  term(groupId: GroupId): number;
}

export interface GroupCoordinatorsOptions<R> {
  readonly nodeId: NodeId;
  readonly host: GroupCoordinatorsHost;
  /** The Raft group of each __consumer_offsets partition, by partition index; empty until the topic exists. */
  readonly offsetsPartitions: () => readonly GroupId[];
  /** The replica of a group hosted here. */
  readonly replica: (groupId: GroupId) => CoordinatorReplica | undefined;
  readonly kit: ShardKit<R>;
  readonly config: CoordinatorConfig;
  readonly topics: TopicView;
  readonly cutBelow: (groupId: GroupId, offset: number) => Promise<boolean>;
  readonly logger: Logger;
  readonly nowMs?: () => number;
  readonly onLoaded?: (records: number, ms: number) => void;
}

export class GroupCoordinators<R> {
  private readonly partitions = new Map<number, CoordinatorPartition<R>>();
  private stopped = false;

  constructor(private readonly options: GroupCoordinatorsOptions<R>) {}

  /** The coordinator of partition `index` if this broker leads it (loading or loaded), else undefined. */
  partition(index: number): CoordinatorPartition<R> | undefined {
    return this.partitions.get(index);
  }

  /** Every coordinator partition of this broker (loading or loaded). */
  all(): IterableIterator<CoordinatorPartition<R>> {
    return this.partitions.values();
  }

  /** The loaded shards, by partition index (metrics). */
  *loadedShards(): Generator<{ readonly partition: number; readonly shard: CoordinatorShard<R> }> {
    for (const [partition, coordinator] of this.partitions) {
      const shard = coordinator.activeShard;
      if (shard !== null) yield { partition, shard };
    }
  }

  /** Called on every leader change of a group: an offsets partition's coordinator follows at once. */
  onLeaderChange(groupId: GroupId, role: Role): void {
    const index = this.options.offsetsPartitions().indexOf(groupId);
    if (index < 0) return;
    if (role !== Role.leader) {
      this.drop(index);
      return;
    }
    this.follow(index, groupId);
  }

  /** Every coordinatorTickMs: leadership reconciled, loaded shards ticked. */
  tick(): void {
    if (this.stopped) return;
    const groups = this.options.offsetsPartitions();
    for (const index of [...this.partitions.keys()]) if (index >= groups.length) this.drop(index);
    groups.forEach((groupId, index) => this.follow(index, groupId));
    for (const coordinator of this.partitions.values()) coordinator.tick();
  }

  stop(): void {
    this.stopped = true;
    for (const index of [...this.partitions.keys()]) this.drop(index);
  }

  private follow(index: number, groupId: GroupId): void {
    const existing = this.partitions.get(index);
    const host = this.options.host;
    const leads = !this.stopped && host.hasGroup(groupId) && host.isLeader(groupId);
    const term = leads ? host.term(groupId) : 0;
    if (existing !== undefined && (!leads || existing.term !== term || existing.groupId !== groupId)) this.drop(index);
    if (!leads || this.partitions.has(index)) return;
    const replica = this.options.replica(groupId);
    if (replica === undefined) return;
    const coordinator = new CoordinatorPartition<R>({
      nodeId: this.options.nodeId,
      groupId,
      partition: index,
      term,
      replica,
      host,
      newShard: () =>
        this.options.kit.create({ partition: index, config: this.options.config, topics: this.options.topics }),
      kit: this.options.kit,
      cutBelow: this.options.cutBelow,
      logger: this.options.logger,
      ...(this.options.nowMs === undefined ? {} : { nowMs: this.options.nowMs }),
      ...(this.options.onLoaded === undefined ? {} : { onLoaded: this.options.onLoaded }),
    });
    this.partitions.set(index, coordinator);
    this.options.logger.info({ partition: index, term }, 'group coordinator loading');
    coordinator.start();
  }

  private drop(index: number): void {
    const coordinator = this.partitions.get(index);
    if (coordinator === undefined) return;
    this.partitions.delete(index);
    coordinator.close();
    this.options.logger.info({ partition: index, term: coordinator.term }, 'group coordinator closed');
  }
}
