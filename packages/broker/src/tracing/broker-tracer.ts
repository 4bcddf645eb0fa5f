/**
 * `BrokerTracer`: the broker's spans, made with an OpenTelemetry tracer provider passed in
 * (`streambus server` registers one per process with NodeSDK, see setup.ts; in-process tests pass
 * their own per broker). Without a provider every method is a cheap no-op.
 *
 * Context is passed explicitly (an OpenTelemetry `Context` value handed down the call), never
 * through async-local storage: a produce crosses timers, Raft loop turns and peers, and an
 * explicit value costs nothing for the 90% of produces a 0.1 sampling rate leaves out.
 *
 * The spans of one produce (see raft-tracer.ts for the Raft part):
 *
 *   send <topic>            client SDK, PRODUCER
 *   └ produce <topic>       the broker the client called, SERVER
 *     ├ forward <topic>     that broker when it is a follower, CLIENT (traceparent in metadata)
 *     │ └ produce <topic>   the leader, SERVER
 *     │   ├ propose         the leader: the batch's life in Raft, to its commit
 *     │   │ ├ persist       the leader's group commit (fsync); links to other produces in it
 *     │   │ ├ replicate     the leader's frame to one follower, to its answer (one per follower)
 *     │   │ │ └ append      that follower: frame received to reply sent
 *     │   │ │   └ persist   the follower's group commit
 *     │   │ └ commit        the leader: own persist done to quorum commit
 *     │   └ ack             the leader's answer
 *     └ ack                 the answer to the client
 */
import type * as grpc from '@grpc/grpc-js';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Attributes, Context, Link, Span, Tracer, TracerProvider } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { messagingAttributes, messagingSystemName, metadataTraceGetter, metadataTraceSetter } from '@streambus/proto';
import type { MessagingOperationType } from '@streambus/proto';
import type { NodeId } from '@streambus/raft';
import { spanLinksMax, tracerName } from './constants.js';

/** The W3C header a caller's span context travels in. */
const traceparentHeader = 'traceparent';
/** gRPC service name of the client API, for `rpc.service`. */
const clientServiceName = 'streambus.v1.StreamBus';

/** A span and the context that has it as the active span (hand the context to children). */
export interface SpanHandle {
  readonly span: Span;
  readonly context: Context;
}

/** Where a broker's own span sits among the messaging conventions. */
export interface MessagingTarget {
  readonly topic?: string;
  readonly partition?: number;
  readonly operationType?: MessagingOperationType;
  readonly operationName?: string;
  readonly messageCount?: number;
}

const propagator = new W3CTraceContextPropagator();

export class BrokerTracer {
  /** True when spans are made (a tracer provider was given). */
  readonly enabled: boolean;
  readonly brokerId: NodeId;
  private readonly tracer: Tracer | undefined;

  constructor(provider: TracerProvider | undefined, brokerId: NodeId) {
    this.enabled = provider !== undefined;
    this.brokerId = brokerId;
    this.tracer = provider?.getTracer(tracerName);
  }

  /** A tracer that makes nothing. */
  static disabled(brokerId: NodeId): BrokerTracer {
    return new BrokerTracer(undefined, brokerId);
  }

  /**
   * The server span of one client RPC, child of the caller's `traceparent` when the metadata has
   * one (sampled or not: the caller's decision holds), else a root sampled by this broker's rate.
   * Undefined when tracing is off.
   */
  startRpc(method: string, metadata: grpc.Metadata): SpanHandle | undefined {
    if (this.tracer === undefined) return undefined;
    // Most calls carry no traceparent (an untraced client): no need to parse the metadata.
    const parent =
      metadata.get(traceparentHeader).length === 0
        ? ROOT_CONTEXT
        : propagator.extract(ROOT_CONTEXT, metadata, metadataTraceGetter);
    const handle = this.start(parent, method, SpanKind.SERVER, {});
    // Attributes only on a sampled span (the ratio sampler does not look at them).
    if (handle.span.isRecording())
      handle.span.setAttributes({
        [messagingAttributes.rpcSystem]: 'grpc',
        [messagingAttributes.rpcService]: clientServiceName,
        [messagingAttributes.rpcMethod]: method,
        [messagingAttributes.system]: messagingSystemName,
        'streambus.broker.id': this.brokerId,
      });
    return handle;
  }

  /**
   * True when children of `parent` are made: tracing is on and `parent` is sampled. Callers check
   * it before building a child's attributes, which most produces (the unsampled ones) never need.
   */
  records(parent: Context | undefined): parent is Context {
    return this.tracer !== undefined && parent !== undefined && isRecording(parent);
  }

  /**
   * A child of `parent`; undefined when there is no parent or it is not sampled (children of an
   * unsampled span are never recorded, so none is made).
   */
  startChild(
    parent: Context | undefined,
    name: string,
    kind: SpanKind = SpanKind.INTERNAL,
    attributes: Attributes = {},
    links: readonly Context[] = [],
  ): SpanHandle | undefined {
    if (!this.records(parent)) return undefined;
    return this.start(parent, name, kind, { 'streambus.broker.id': this.brokerId, ...attributes }, links);
  }

  /** A span whose parent is a peer's context (remote), for spans a peer's frame starts. */
  startRemoteChild(
    carrier: { readonly traceparent?: string; readonly tracestate?: string },
    name: string,
    kind: SpanKind,
    attributes: Attributes,
  ): SpanHandle | undefined {
    if (this.tracer === undefined || carrier.traceparent === undefined) return undefined;
    const parent = propagator.extract(ROOT_CONTEXT, carrier, plainGetter);
    if (trace.getSpanContext(parent) === undefined) return undefined;
    return this.start(parent, name, kind, { 'streambus.broker.id': this.brokerId, ...attributes });
  }

  /** Writes `traceparent`/`tracestate` of `context` into gRPC metadata (nothing without a span). */
  injectMetadata(context: Context | undefined, metadata: grpc.Metadata): void {
    if (context === undefined || trace.getSpanContext(context) === undefined) return;
    propagator.inject(context, metadata, metadataTraceSetter);
  }

  /** `traceparent`/`tracestate` of `context`, for a Raft frame. */
  carrierOf(context: Context): { traceparent?: string; tracestate?: string } {
    const carrier: Record<string, string> = {};
    propagator.inject(context, carrier, plainSetter);
    const traceparent = carrier['traceparent'];
    const tracestate = carrier['tracestate'];
    return {
      ...(traceparent === undefined ? {} : { traceparent }),
      ...(tracestate === undefined || tracestate === '' ? {} : { tracestate }),
    };
  }

  private start(
    parent: Context,
    name: string,
    kind: SpanKind,
    attributes: Attributes,
    links: readonly Context[] = [],
  ): SpanHandle {
    const tracer = this.tracer as Tracer;
    const span = tracer.startSpan(name, { kind, attributes, links: linksTo(links) }, parent);
    return { span, context: trace.setSpan(parent, span) };
  }
}

/** True when the span active in `context` records (it is sampled). */
export function isRecording(context: Context): boolean {
  return trace.getSpan(context)?.isRecording() === true;
}

/** The messaging-convention attributes of a span about `target`. */
export function messagingAttributesOf(target: MessagingTarget): Attributes {
  const attributes: Attributes = { [messagingAttributes.system]: messagingSystemName };
  if (target.topic !== undefined) attributes[messagingAttributes.destinationName] = target.topic;
  if (target.partition !== undefined) attributes[messagingAttributes.partitionId] = String(target.partition);
  if (target.operationType !== undefined) attributes[messagingAttributes.operationType] = target.operationType;
  if (target.operationName !== undefined) attributes[messagingAttributes.operationName] = target.operationName;
  if (target.messageCount !== undefined) attributes[messagingAttributes.batchMessageCount] = target.messageCount;
  return attributes;
}

/** Ends a span with an error status naming `errorType` (a StreamBus error code name). */
export function endWithError(span: Span, errorType: string, message: string): void {
  span.setAttribute(messagingAttributes.errorType, errorType);
  span.setStatus({ code: SpanStatusCode.ERROR, message });
  span.end();
}

/** Links to the spans active in `contexts`, at most `spanLinksMax`. */
function linksTo(contexts: readonly Context[]): Link[] {
  const links: Link[] = [];
  for (const context of contexts) {
    if (links.length >= spanLinksMax) break;
    const spanContext = trace.getSpanContext(context);
    if (spanContext !== undefined) links.push({ context: spanContext });
  }
  return links;
}

const plainGetter = {
  keys: (carrier: { readonly traceparent?: string; readonly tracestate?: string }): string[] => Object.keys(carrier),
  get: (carrier: { readonly traceparent?: string; readonly tracestate?: string }, key: string): string | undefined =>
    key === 'traceparent' ? carrier.traceparent : key === 'tracestate' ? carrier.tracestate : undefined,
};

const plainSetter = {
  set: (carrier: Record<string, string>, key: string, value: string): void => {
    carrier[key] = value;
  },
};
