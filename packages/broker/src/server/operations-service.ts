/**
 * The operator RPCs of the StreamBus service (maintenance mode, feature levels), apart from the client data path
 * in ClientService. Each handler answers a typed error; an assertion failure still crashes.
 */
import type * as grpc from '@grpc/grpc-js';
import { ErrorCode, makeCallError, messageBytesMax } from '@streambus/proto';
import type {
  ExportControllerStateResponse,
  DescribeFeaturesRequest,
  DescribeFeaturesResponse,
  FinalizeFeatureLevelRequest,
  FinalizeFeatureLevelResponse,
  SetBrokerDrainedRequest,
  SetBrokerDrainedResponse,
  StreamBusHandlers,
} from '@streambus/proto';
import { rethrowBug } from '../bugs.js';
import { featureLevels } from '../controller/features.js';
import type { Logger } from '../logging/logger.js';
import { ControllerUnavailableError } from './controller-gateway.js';
import type { ClusterFeatures, FinalizeOutcome } from './feature-levels.js';
import { DrainRefusedError } from './maintenance.js';
import type { DrainStatus } from './maintenance.js';

/** The RPCs this service serves. */
export type OperationsMethodName =
  'SetBrokerDrained' | 'DescribeFeatures' | 'FinalizeFeatureLevel' | 'ExportControllerState';

/** Maintenance mode as the service uses it (Maintenance). */
export interface OperationsMaintenance {
  setDrained(brokerId: number, drained: boolean, waitMs: number): Promise<DrainStatus>;
}

/** Feature levels as the service uses them (FeatureLevels). */
export interface OperationsFeatures {
  local(): ClusterFeatures['brokers'][number];
  describe(timeoutMs: number): Promise<ClusterFeatures>;
  finalize(level: number, validateOnly: boolean, timeoutMs: number): Promise<FinalizeOutcome>;
}

export interface OperationsServiceDeps {
  readonly nodeId: number;
  readonly maintenance: OperationsMaintenance;
  readonly features: OperationsFeatures;
  /** The finalized feature level as applied here. */
  finalizedLevel(): number;
  readonly clusterId: string;
  /**
   * The controller state as a snapshot, after catching up with the controller leader. Throws
   * ControllerUnavailableError when it could not catch up.
   */
  controllerSnapshot(): Promise<{ readonly bytes: Uint8Array; readonly appliedIndex: number }>;
  /** Why this broker stopped serving (its store failed), or null. */
  fatal(): Error | null;
}

export class OperationsService {
  constructor(
    private readonly deps: OperationsServiceDeps,
    private readonly logger: Logger,
  ) {}

  handlers(): Pick<StreamBusHandlers, OperationsMethodName> {
    return {
      SetBrokerDrained: this.unary('SetBrokerDrained', (request: SetBrokerDrainedRequest) =>
        this.setBrokerDrained(request),
      ),
      DescribeFeatures: this.unary('DescribeFeatures', (request: DescribeFeaturesRequest) =>
        this.describeFeatures(request),
      ),
      FinalizeFeatureLevel: this.unary('FinalizeFeatureLevel', (request: FinalizeFeatureLevelRequest) =>
        this.finalizeFeatureLevel(request),
      ),
      ExportControllerState: this.unary('ExportControllerState', () => this.exportControllerState()),
    };
  }

  private async exportControllerState(): Promise<ExportControllerStateResponse> {
    const snapshot = await this.deps.controllerSnapshot();
    if (snapshot.bytes.byteLength > exportSnapshotBytesMax)
      throw new RequestError(
        ErrorCode.REQUEST_TOO_LARGE,
        `the controller state is ${snapshot.bytes.byteLength} bytes, more than one message carries (${exportSnapshotBytesMax})`,
      );
    return {
      brokerId: this.deps.nodeId,
      clusterId: this.deps.clusterId,
      appliedIndex: snapshot.appliedIndex,
      finalizedLevel: this.deps.finalizedLevel(),
      snapshot: snapshot.bytes,
    };
  }

  private async describeFeatures(request: DescribeFeaturesRequest): Promise<DescribeFeaturesResponse> {
    const levels = featureLevels.map((entry) => ({ level: entry.level, summary: entry.summary }));
    if (request.localOnly) {
      const local = this.deps.features.local();
      return {
        brokerId: this.deps.nodeId,
        finalizedLevel: this.deps.finalizedLevel(),
        finalizableLevel: local.levelMax,
        brokers: [local],
        levels,
      };
    }
    const cluster = await this.deps.features.describe(request.timeoutMs);
    return {
      brokerId: this.deps.nodeId,
      finalizedLevel: cluster.finalizedLevel,
      finalizableLevel: cluster.finalizableLevel,
      brokers: cluster.brokers.map((broker) => ({ ...broker })),
      levels,
    };
  }

  private async finalizeFeatureLevel(request: FinalizeFeatureLevelRequest): Promise<FinalizeFeatureLevelResponse> {
    if (!Number.isInteger(request.level) || request.level < 0)
      throw new RequestError(ErrorCode.INVALID_REQUEST, `feature level ${request.level} is not a level`);
    const previousLevel = this.deps.finalizedLevel();
    let outcome: FinalizeOutcome;
    try {
      outcome = await this.deps.features.finalize(request.level, request.validateOnly, request.timeoutMs);
    } catch (error) {
      rethrowBug(error);
      if (!(error instanceof ControllerUnavailableError)) throw error;
      return {
        errorCode: ErrorCode.REQUEST_TIMED_OUT,
        errorMessage: error.message,
        finalizedLevel: this.deps.finalizedLevel(),
        brokers: [],
        previousLevel,
      };
    }
    const brokers = outcome.brokers.map((broker) => ({ ...broker }));
    if (!outcome.ok)
      return {
        errorCode: ErrorCode.INVALID_REQUEST,
        errorMessage: outcome.message,
        finalizedLevel: this.deps.finalizedLevel(),
        brokers,
        previousLevel,
      };
    return {
      errorCode: ErrorCode.NONE,
      errorMessage: '',
      finalizedLevel: outcome.finalizedLevel,
      brokers,
      previousLevel,
    };
  }

  private async setBrokerDrained(request: SetBrokerDrainedRequest): Promise<SetBrokerDrainedResponse> {
    if (!Number.isInteger(request.brokerId) || request.brokerId < 0)
      throw new RequestError(ErrorCode.INVALID_REQUEST, `broker id ${request.brokerId} is not a broker id`);
    const status = await this.deps.maintenance.setDrained(request.brokerId, request.drained, request.waitMs);
    return {
      brokerId: status.brokerId,
      drained: status.drained,
      groupsLed: status.groupsLed,
      controllerLeader: status.controllerLeader,
      partitionsLed: status.partitionsLed.map((ref) => ({ topic: ref.topic, partition: ref.partition })),
      answeredBy: status.answeredBy,
    };
  }

  private unary<Req, Res>(name: string, run: (request: Req) => Promise<Res>): grpc.handleUnaryCall<Req, Res> {
    return (call, callback) => {
      const fatal = this.deps.fatal();
      if (fatal !== null) {
        callback(
          makeCallError(
            ErrorCode.BROKER_NOT_AVAILABLE,
            `this broker stopped serving after a storage failure: ${fatal.message}`,
          ),
        );
        return;
      }
      run(call.request).then(
        (response) => callback(null, response),
        (error: unknown) => {
          rethrowBug(error);
          if (error instanceof RequestError) callback(makeCallError(error.errorCode, error.message));
          else if (error instanceof DrainRefusedError)
            callback(makeCallError(ErrorCode.INVALID_REQUEST, error.message));
          else if (error instanceof ControllerUnavailableError)
            callback(makeCallError(ErrorCode.REQUEST_TIMED_OUT, error.message));
          else {
            this.logger.error(
              { rpc: name, err: error instanceof Error ? error.stack : String(error) },
              'request failed',
            );
            callback(makeCallError(ErrorCode.INTERNAL, `internal error in ${name}; see the broker log`));
          }
        },
      );
    };
  }
}

/** A controller snapshot larger than this does not fit one response (the rest of the message is small). */
const exportSnapshotBytesMax = messageBytesMax - 64 * 1024;

/** A request refused with a protocol error code. */
class RequestError extends Error {
  constructor(
    readonly errorCode: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}
