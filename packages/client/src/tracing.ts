/**
 * The SDK's OpenTelemetry spans, made with the application's tracer provider (`tracerProvider`
 * in the client options, else the globally registered one; with none registered they cost a
 * no-op span each). The context of each span travels to the broker as W3C `traceparent` in the
 * call's gRPC metadata, which is how a broker's produce, forward and Raft spans join the trace.
 *
 *  - `send <topic>` (PRODUCER): one Produce request. Its parent is the context that was active
 *    when the first of its records was given to `Producer.send`; the other records' contexts are
 *    links (a request carries many records, and one span, not one per record, stands for it).
 *  - `receive <topic>` (CLIENT): one Fetch request, child of the context active at `poll()`.
 *  - `<Method>` (CLIENT): any other call, only as a child of an active span (no root spans for
 *    metadata refreshes and the like).
 */
import type * as grpc from '@grpc/grpc-js';
import { context as contextApi, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Attributes, Context, Link, Span, Tracer, TracerProvider } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { messagingAttributes, messagingSystemName, metadataTraceSetter } from '@streambus/proto';
import { traceLinksMax, tracerName } from './constants.js';

/** How one call is traced: its span's name, kind and attributes, and the contexts it stands for. */
export interface CallTrace {
  readonly name: string;
  readonly kind: SpanKind;
  readonly attributes: Attributes;
  /** The parent (first) and the linked contexts; empty: a root span. */
  readonly contexts: readonly Context[];
}

/** A span in flight and its context (what goes into the call's metadata). */
export interface ActiveCallSpan {
  readonly span: Span;
  readonly context: Context;
}

const propagator = new W3CTraceContextPropagator();

export class ClientTracing {
  private readonly tracer: Tracer;

  constructor(
    provider: TracerProvider | undefined,
    private readonly clientId: string,
  ) {
    this.tracer = (provider ?? trace.getTracerProvider()).getTracer(tracerName);
  }

  /** The active context when it holds a span (worth carrying with a record), else undefined. */
  activeContext(): Context | undefined {
    const active = contextApi.active();
    return trace.getSpanContext(active) === undefined ? undefined : active;
  }

  /**
   * Starts the span of one call: `explicit` when the caller says how (a produce, a fetch), else
   * a child of the active span, else none.
   */
  startCall(method: string, address: string, explicit: CallTrace | undefined): ActiveCallSpan | undefined {
    const [host, port] = splitAddress(address);
    const common: Attributes = {
      [messagingAttributes.system]: messagingSystemName,
      [messagingAttributes.clientId]: this.clientId,
      [messagingAttributes.rpcSystem]: 'grpc',
      [messagingAttributes.rpcService]: 'streambus.v1.StreamBus',
      [messagingAttributes.rpcMethod]: method,
      [messagingAttributes.serverAddress]: host,
      ...(port === undefined ? {} : { [messagingAttributes.serverPort]: port }),
    };
    if (explicit === undefined) {
      const parent = this.activeContext();
      if (parent === undefined) return undefined;
      return this.start(method, SpanKind.CLIENT, common, parent, []);
    }
    const [parent, ...linked] = explicit.contexts;
    return this.start(
      explicit.name,
      explicit.kind,
      { ...common, ...explicit.attributes },
      parent ?? ROOT_CONTEXT,
      linked,
    );
  }

  /** Writes the span's `traceparent` (and `tracestate`) into the call's metadata. */
  inject(call: ActiveCallSpan, metadata: grpc.Metadata): void {
    propagator.inject(call.context, metadata, metadataTraceSetter);
  }

  private start(
    name: string,
    kind: SpanKind,
    attributes: Attributes,
    parent: Context,
    linked: readonly Context[],
  ): ActiveCallSpan {
    const links: Link[] = [];
    for (const context of linked) {
      if (links.length >= traceLinksMax) break;
      const spanContext = trace.getSpanContext(context);
      if (spanContext !== undefined) links.push({ context: spanContext });
    }
    const span = this.tracer.startSpan(name, { kind, attributes, links }, parent);
    return { span, context: trace.setSpan(parent, span) };
  }
}

/** Ends a call's span: an error status (and `error.type`) when it failed. */
export function endCall(
  call: ActiveCallSpan | undefined,
  error?: { readonly code: string; readonly message: string },
): void {
  if (call === undefined) return;
  if (error !== undefined) {
    call.span.setAttribute(messagingAttributes.errorType, error.code);
    call.span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
  }
  call.span.end();
}

/**
 * The trace of a request about `partitions` (`send orders`, `receive orders`; the operation alone
 * when they span several topics), with the messaging attributes of the conventions.
 */
export function messagingCall(
  operation: 'send' | 'receive',
  partitions: readonly { readonly topic: string; readonly partition: number }[],
  messageCount: number | undefined,
  contexts: readonly Context[],
): CallTrace {
  const first = partitions[0];
  const oneTopic = first !== undefined && partitions.every((part) => part.topic === first.topic);
  const attributes: Attributes = {
    [messagingAttributes.operationType]: operation,
    [messagingAttributes.operationName]: operation,
  };
  if (oneTopic) attributes[messagingAttributes.destinationName] = first.topic;
  if (oneTopic && partitions.length === 1) attributes[messagingAttributes.partitionId] = String(first.partition);
  if (messageCount !== undefined) attributes[messagingAttributes.batchMessageCount] = messageCount;
  return {
    name: oneTopic ? `${operation} ${first.topic}` : operation,
    kind: operation === 'send' ? SpanKind.PRODUCER : SpanKind.CLIENT,
    attributes,
    contexts,
  };
}

function splitAddress(address: string): [string, number | undefined] {
  const colon = address.lastIndexOf(':');
  if (colon <= 0) return [address, undefined];
  const port = Number(address.slice(colon + 1));
  return [address.slice(0, colon).replace(/^\[|\]$/g, ''), Number.isInteger(port) ? port : undefined];
}
