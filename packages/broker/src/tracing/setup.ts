/**
 * Tracing of a `streambus server` process, from the `tracing.*` keys: OpenTelemetry's NodeSDK
 * with one batch span processor and the configured exporter (OTLP/HTTP protobuf by default, or
 * Jaeger's Thrift collector), a parent-based ratio sampler, and a resource naming the broker.
 *
 * A dead or slow collector never slows or fails a produce: spans are queued (bounded, new ones
 * dropped beyond it) and exported in the background, one export at a time with a deadline, and at
 * most `spanExportsInFlightMax` requests outstanding even when a collector swallows them. Export
 * failures are logged, at most once per `tracingWarnIntervalMs`.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { diag, DiagLogLevel, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import type { Context, ContextManager, DiagLogger, TracerProvider } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import type { ExportResult } from '@opentelemetry/core';
import { JaegerExporter } from '@opentelemetry/exporter-jaeger';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { NodeSDK } from '@opentelemetry/sdk-node';
import {
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  type ReadableSpan,
  type SpanExporter,
} from '@opentelemetry/sdk-trace';
import type { TracingConfig } from '../config/types.js';
import type { Logger } from '../logging/logger.js';
import { WarnLimiter } from '../peer/logger.js';
import {
  jaegerEndpointDefault,
  otlpEndpointDefault,
  otlpTracesPath,
  spanExportBatchSizeMax,
  spanExportDelayMs,
  spanExportTimeoutMs,
  spanExportsInFlightMax,
  spanQueueSizeMax,
  tracingServiceName,
  tracingShutdownMsMax,
  tracingWarnIntervalMs,
} from './constants.js';

/** Who is tracing: the resource of every span. */
export interface TracingIdentity {
  readonly brokerId: number;
  readonly clusterId: string;
  readonly version: string;
}

/** The process's tracing, once started. */
export interface TracingRuntime {
  /** The provider every broker span is made with. */
  readonly provider: TracerProvider;
  /** Where spans go (the endpoint actually used). */
  readonly endpoint: string;
  /** Exports what is queued (within `tracingShutdownMsMax`) and stops. */
  shutdown(): Promise<void>;
}

/** The collector URL `config` sends to: its endpoint, or the exporter's default. */
export function tracingEndpoint(config: TracingConfig): string {
  if (config.exporter === 'jaeger') return config.endpoint === '' ? jaegerEndpointDefault : config.endpoint;
  if (config.endpoint === '') return otlpEndpointDefault;
  const url = new URL(config.endpoint);
  // An OTLP endpoint given as a bare origin (http://collector:4318) gets the traces path.
  if (url.pathname === '' || url.pathname === '/') url.pathname = otlpTracesPath;
  return url.toString();
}

/** Starts tracing for this process (NodeSDK registers it globally); undefined when disabled. */
export function startTracing(
  config: TracingConfig,
  identity: TracingIdentity,
  logger: Logger,
): TracingRuntime | undefined {
  if (!config.enabled) return undefined;
  const endpoint = tracingEndpoint(config);
  const warnings = new WarnLimiter(logger, tracingWarnIntervalMs);
  diag.setLogger(diagLogger(warnings), DiagLogLevel.WARN);
  const inner: SpanExporter =
    config.exporter === 'jaeger'
      ? new JaegerExporter({ endpoint, flushTimeout: tracingShutdownMsMax })
      : new OTLPTraceExporter({ url: endpoint, timeoutMillis: spanExportTimeoutMs });
  const exporter = new BoundedExporter(inner, spanExportsInFlightMax, (fields, message) =>
    warnings.log({ ...fields, exporter: config.exporter, endpoint }, message),
  );
  const processor = new BatchSpanProcessor({
    exporter,
    maxQueueSize: spanQueueSizeMax,
    maxExportBatchSize: spanExportBatchSizeMax,
    scheduledDelayMillis: spanExportDelayMs,
    exportTimeoutMillis: spanExportTimeoutMs,
  });
  const sdk = new NodeSDK({
    resource: resourceFromAttributes({
      'service.name': tracingServiceName,
      'service.version': identity.version,
      'service.instance.id': `broker-${identity.brokerId}`,
      'streambus.broker.id': identity.brokerId,
      'streambus.cluster.id': identity.clusterId,
    }),
    autoDetectResources: false,
    contextManager: new ExplicitContextManager(),
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(config.samplingRatio) }),
    spanProcessors: [processor],
    // Traces only: no auto-instrumentation, and none of the SDK's default log or metric exporters.
    instrumentations: [],
    logRecordProcessors: [],
    metricReaders: [],
  });
  sdk.start();
  logger.info(
    { exporter: config.exporter, endpoint, sampling_rate: config.samplingRatio },
    'tracing: exporting sampled spans',
  );
  return {
    provider: trace.getTracerProvider(),
    endpoint,
    shutdown: async () => {
      const done = sdk.shutdown().then(
        () => true,
        (error: unknown) => {
          logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'tracing: shutdown failed');
          return true;
        },
      );
      const flushed = await Promise.race([done, sleep(tracingShutdownMsMax, false, { ref: false })]);
      if (!flushed)
        logger.warn({ waitedMs: tracingShutdownMsMax }, 'tracing: the last spans were not exported in time');
    },
  };
}

/**
 * The process's context manager: one that follows nothing across async calls (`active()` is always
 * the root context). Broker spans are given their parent explicitly (broker-tracer.ts), so none is
 * needed, and NodeSDK's default, an AsyncLocalStorage manager, would cost every produce: at the
 * first export (the batch processor exports inside `context.with`) it switches on Node 20's async
 * hooks for every promise of the process, and an await then took about four times as long (a
 * loop of 10^6 awaits on Node 20 here: 180-200 ms before the first export, 770-820 ms after it).
 */
class ExplicitContextManager implements ContextManager {
  active(): Context {
    return ROOT_CONTEXT;
  }

  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    _context: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    return fn.call(thisArg, ...args);
  }

  bind<T>(_context: Context, target: T): T {
    return target;
  }

  enable(): this {
    return this;
  }

  disable(): this {
    return this;
  }
}

/**
 * An exporter with at most `inFlightMax` exports outstanding: beyond it a batch fails at once
 * (dropped) instead of opening another request to a collector that does not answer.
 */
export class BoundedExporter implements SpanExporter {
  private inFlight = 0;
  /** Spans given up: dropped here or failed in the exporter. */
  spansDropped = 0;

  constructor(
    private readonly inner: SpanExporter,
    private readonly inFlightMax: number,
    private readonly warn: (fields: Record<string, unknown>, message: string) => void,
  ) {}

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    if (this.inFlight >= this.inFlightMax) {
      this.spansDropped += spans.length;
      this.warn(
        { inFlight: this.inFlight, spansDropped: this.spansDropped },
        'tracing: the collector has not answered earlier exports; spans dropped',
      );
      resultCallback({ code: ExportResultCode.FAILED, error: new Error('too many exports in flight') });
      return;
    }
    this.inFlight++;
    let settled = false;
    this.inner.export(spans, (result) => {
      if (settled) return;
      settled = true;
      this.inFlight--;
      if (result.code !== ExportResultCode.SUCCESS) {
        this.spansDropped += spans.length;
        this.warn(
          { err: result.error?.message ?? 'export failed', spansDropped: this.spansDropped },
          'tracing: export to the collector failed; spans dropped',
        );
      }
      resultCallback(result);
    });
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }
}

/** OpenTelemetry's own diagnostics (warnings and errors only) into the broker log, rate-limited. */
function diagLogger(warnings: WarnLimiter): DiagLogger {
  const log = (message: string, ...args: unknown[]): void =>
    warnings.log(
      { detail: args.map((arg) => (arg instanceof Error ? arg.message : String(arg))).join(' ') },
      `tracing: ${message}`,
    );
  const ignore = (): void => undefined;
  return { error: log, warn: log, info: ignore, debug: ignore, verbose: ignore };
}
