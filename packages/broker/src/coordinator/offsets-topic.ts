/**
 * Creates __consumer_offsets at cluster start: the controller leader checks every
 * offsetsTopicCheckMs, and once enough brokers registered for its replication factor (the
 * configured one, or every static member when the cluster is smaller), proposes the topic. A
 * failed or lost proposal is tried again at the next check, until the topic exists.
 */
import type { NodeId } from '@streambus/raft';
import { rethrowBug } from '../bugs.js';
import type { ControllerCommand, ControllerResult } from '../controller/commands.js';
import { planCreateTopic } from '../controller/plan.js';
import type { ControllerState } from '../controller/state.js';
import type { Logger } from '../logging/logger.js';
import { offsetsTopicCreateDeadlineMs, offsetsTopicName } from './constants.js';

export interface OffsetsTopicOptions {
  readonly nodeId: NodeId;
  /** groups.offsets_topic_partitions. */
  readonly partitions: number;
  /** groups.offsets_topic_replication_factor. */
  readonly replicationFactor: number;
  /** Brokers of the static cluster (this one included): the replication factor is at most this. */
  readonly memberCount: number;
  readonly state: () => ControllerState;
  readonly controllerLeaderId: () => NodeId;
  /** True when this broker applied everything the controller committed. */
  readonly controllerCaughtUp: () => boolean;
  readonly propose: (command: ControllerCommand, deadlineMs: number) => Promise<ControllerResult>;
  readonly logger: Logger;
}

export class OffsetsTopicCreator {
  private proposing = false;

  constructor(private readonly options: OffsetsTopicOptions) {}

  /** The replication factor the topic gets: the configured one, or the broker count when smaller. */
  get replicationFactor(): number {
    return Math.min(this.options.replicationFactor, this.options.memberCount);
  }

  /** Creates the topic if this broker leads the controller, it does not exist and enough brokers are live. */
  check(): void {
    const options = this.options;
    if (this.proposing || options.controllerLeaderId() !== options.nodeId || !options.controllerCaughtUp()) return;
    const state = options.state();
    if (state.topic(offsetsTopicName) !== undefined) return;
    const replicationFactor = this.replicationFactor;
    if (state.liveBrokers().length < replicationFactor) return;
    const plan = planCreateTopic(state, {
      name: offsetsTopicName,
      partitions: options.partitions,
      replicationFactor,
      configs: [],
    });
    if (!plan.ok) {
      options.logger.warn({ code: plan.code, err: plan.message }, `${offsetsTopicName} cannot be created yet`);
      return;
    }
    this.proposing = true;
    options
      .propose(plan.command, offsetsTopicCreateDeadlineMs)
      .then((result) => {
        if (result.ok)
          options.logger.info(
            { topic: offsetsTopicName, partitions: options.partitions, replication_factor: replicationFactor },
            'internal topic created',
          );
        else if (result.code !== 'TOPIC_ALREADY_EXISTS')
          options.logger.warn({ code: result.code, err: result.message }, `${offsetsTopicName} not created; retrying`);
      })
      .catch((error: unknown) => {
        rethrowBug(error);
        options.logger.debug({ err: (error as Error).message }, `${offsetsTopicName} not created yet; retrying`);
      })
      .finally(() => {
        this.proposing = false;
      });
  }
}
