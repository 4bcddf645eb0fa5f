/**
 * Cluster feature levels on a broker (see controller/features.ts): what this broker reads, what
 * every registered broker says it reads (asked over the client API of each peer, DescribeFeatures
 * with local_only; a broker older than feature levels answers UNIMPLEMENTED and reads level 1),
 * and the finalize: planned here from those answers, checked again by the controller when it
 * applies the command (every registered broker listed, each reading the level). It also keeps the
 * data directory's marker (feature-marker.ts) at the level this broker applied.
 */
import * as grpc from '@grpc/grpc-js';
import { adminTimeoutMsMax, readCallError } from '@streambus/proto';
import type { BrokerFeatures, DescribeFeaturesResponse } from '@streambus/proto';
import type { NodeId } from '@streambus/raft';
import { rethrowBug } from '../bugs.js';
import type { ControllerCommand, ControllerResult } from '../controller/commands.js';
import { featureLevelMax, featureLevelMin, featureLevels } from '../controller/features.js';
import type { FeatureLevel } from '../controller/features.js';
import type { ControllerState } from '../controller/state.js';
import type { Logger } from '../logging/logger.js';
import { preFeatureLevelsRelease } from '../releases.js';
import { streambusVersion } from '../version.js';
import { featuresAskMsMax, featuresDescribeMsDefault } from './constants.js';
import { writeFeatureMarker } from './feature-marker.js';

/** Asks a peer broker what it reads (Forwarder.describeFeatures). */
export type AskFeatures = (brokerId: NodeId, deadlineMs: number) => Promise<DescribeFeaturesResponse>;

export interface FeatureLevelsOptions {
  readonly nodeId: NodeId;
  readonly state: () => Pick<ControllerState, 'brokers' | 'finalizedFeatureLevel'>;
  readonly propose: (command: ControllerCommand, deadlineMs: number) => Promise<ControllerResult>;
  readonly ask: AskFeatures;
  /** Where the marker goes; undefined: no marker (in-process test clusters). */
  readonly dataDir?: string;
  /** The level the marker recorded at start-up. */
  readonly markerLevel?: number;
  readonly logger: Logger;
}

/** The cluster's levels as one broker sees them. */
export interface ClusterFeatures {
  readonly finalizedLevel: number;
  /** The highest level every registered broker reads; 0 when one did not answer. */
  readonly finalizableLevel: number;
  readonly brokers: readonly BrokerFeatures[];
  readonly levels: readonly FeatureLevel[];
}

export type FinalizeOutcome =
  | { readonly ok: true; readonly finalizedLevel: number; readonly brokers: readonly BrokerFeatures[] }
  | { readonly ok: false; readonly message: string; readonly brokers: readonly BrokerFeatures[] };

export class FeatureLevels {
  private markerLevel: number;
  private markerWrite: Promise<void> = Promise.resolve();

  constructor(private readonly options: FeatureLevelsOptions) {
    this.markerLevel = options.markerLevel ?? 0;
  }

  /** What this broker reads. */
  local(): BrokerFeatures {
    return {
      brokerId: this.options.nodeId,
      version: streambusVersion,
      levelMin: featureLevelMin,
      levelMax: featureLevelMax,
      reachable: true,
      errorMessage: '',
    };
  }

  /** The finalized level and what each registered broker reads, asked within `timeoutMs`. */
  async describe(timeoutMs: number): Promise<ClusterFeatures> {
    const deadlineMs = Math.min(Math.max(1, timeoutMs || featuresDescribeMsDefault), adminTimeoutMsMax);
    const state = this.options.state();
    const ids = new Set(state.brokers().map((broker) => broker.id));
    ids.add(this.options.nodeId);
    const brokers = await Promise.all(
      [...ids]
        .sort((a, b) => a - b)
        .map((id) => (id === this.options.nodeId ? Promise.resolve(this.local()) : this.askPeer(id, deadlineMs))),
    );
    const finalizableLevel = brokers.every((broker) => broker.reachable)
      ? Math.min(...brokers.map((broker) => broker.levelMax))
      : 0;
    return { finalizedLevel: state.finalizedFeatureLevel, finalizableLevel, brokers, levels: featureLevels };
  }

  /**
   * Finalizes `level` (0: the highest every registered broker reads). Refuses, with a message
   * naming why, a level this broker does not know, a lower one, one a broker does not read or a
   * broker that did not answer. Throws ControllerUnavailableError without a controller.
   */
  async finalize(level: number, validateOnly: boolean, timeoutMs: number): Promise<FinalizeOutcome> {
    const started = Date.now();
    const budgetMs = Math.min(Math.max(1, timeoutMs || adminTimeoutMsMax), adminTimeoutMsMax);
    const cluster = await this.describe(Math.min(featuresAskMsMax, budgetMs));
    const brokers = cluster.brokers;
    const refuse = (message: string): FinalizeOutcome => ({ ok: false, message, brokers });
    const silent = brokers.find((broker) => !broker.reachable);
    if (silent !== undefined)
      return refuse(
        `broker ${silent.brokerId} did not say which feature levels it reads (${silent.errorMessage}); every registered broker must answer: start it, then retry`,
      );
    const target = level === 0 ? cluster.finalizableLevel : level;
    if (target > featureLevelMax)
      return refuse(
        `feature level ${target} is unknown to this broker (StreamBus ${streambusVersion} knows 1..${featureLevelMax}); send the request to a newer broker`,
      );
    if (target < cluster.finalizedLevel)
      return refuse(`feature level ${cluster.finalizedLevel} is finalized; a finalized level never goes down`);
    const short = brokers.find((broker) => broker.levelMax < target);
    if (short !== undefined)
      return refuse(
        `broker ${short.brokerId} (StreamBus ${short.version === '' ? `${preFeatureLevelsRelease.version} or older` : short.version}) reads feature levels up to ${short.levelMax}, not ${target}; upgrade it first`,
      );
    if (validateOnly || target === cluster.finalizedLevel) return { ok: true, finalizedLevel: target, brokers };
    const result = await this.options.propose(
      {
        type: 'finalizeFeatureLevel',
        level: target,
        brokers: brokers.map((broker) => ({ brokerId: broker.brokerId, levelMax: broker.levelMax })),
      },
      Math.max(1, budgetMs - (Date.now() - started)),
    );
    if (!result.ok) return refuse(result.message);
    this.options.logger.info({ level: target }, 'cluster feature level finalized');
    return { ok: true, finalizedLevel: target, brokers };
  }

  /** Keeps the data directory's marker at the finalized level applied here (call after each apply or restore). */
  noteApplied(): void {
    const level = this.options.state().finalizedFeatureLevel;
    const dataDir = this.options.dataDir;
    if (dataDir === undefined || level <= this.markerLevel) return;
    this.markerLevel = level;
    this.markerWrite = this.markerWrite
      .then(() => writeFeatureMarker(dataDir, level))
      .catch((error: unknown) => {
        rethrowBug(error);
        this.options.logger.error(
          { err: (error as Error).message, level },
          'could not record the finalized feature level in the data directory',
        );
      });
  }

  /** Resolves once the marker writes asked so far are done. */
  flushMarker(): Promise<void> {
    return this.markerWrite;
  }

  private async askPeer(id: NodeId, deadlineMs: number): Promise<BrokerFeatures> {
    try {
      const answer = await this.options.ask(id, deadlineMs);
      const self = answer.brokers.find((broker) => broker.brokerId === id);
      if (self === undefined) return unreachable(id, 'its answer did not describe itself');
      return { ...self, reachable: true, errorMessage: '' };
    } catch (error) {
      rethrowBug(error);
      const info = readCallError(error);
      if (info.grpcStatus === grpc.status.UNIMPLEMENTED) {
        // Before feature levels: it reads level 1 only.
        return {
          brokerId: id,
          version: '',
          levelMin: preFeatureLevelsRelease.featureLevelMin,
          levelMax: preFeatureLevelsRelease.featureLevelMax,
          reachable: true,
          errorMessage: '',
        };
      }
      return unreachable(id, info.message === '' ? String(error) : info.message);
    }
  }
}

function unreachable(brokerId: NodeId, why: string): BrokerFeatures {
  return { brokerId, version: '', levelMin: 0, levelMax: 0, reachable: false, errorMessage: why };
}
