/**
 * The test trace receiver against the real exporters, without brokers: what OpenTelemetry's
 * Jaeger and OTLP/HTTP exporters send decodes to the spans that were made (ids, parents, kinds,
 * attributes of each type, links, resource), and what is not their format is refused, not lost.
 */
import { ROOT_CONTEXT, SpanKind, trace } from '@opentelemetry/api';
import { JaegerExporter } from '@opentelemetry/exporter-jaeger';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOnSampler,
  BatchSpanProcessor,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseThriftIdl, TraceReceiver } from './trace-receiver.js';

describe('trace receiver', () => {
  let receiver: TraceReceiver;

  beforeAll(async () => {
    receiver = await TraceReceiver.start();
  });

  afterAll(async () => {
    await receiver?.close();
  });

  it.each(['jaeger', 'otlp'] as const)('decodes what the %s exporter sends', async (exporter) => {
    receiver.clear();
    const memory = new InMemorySpanExporter();
    const provider = new TracerProvider({
      resource: resourceFromAttributes({ 'service.name': `receiver-test-${exporter}`, 'service.instance.id': 'one' }),
      sampler: new AlwaysOnSampler(),
      spanProcessors: [
        new BatchSpanProcessor({
          exporter:
            exporter === 'jaeger'
              ? new JaegerExporter({ endpoint: receiver.jaegerEndpoint })
              : new OTLPTraceExporter({ url: receiver.otlpEndpoint }),
        }),
        new SimpleSpanProcessor({ exporter: memory }),
      ],
    });
    const tracer = provider.getTracer('receiver-test');
    const root = tracer.startSpan('root', {
      kind: SpanKind.PRODUCER,
      attributes: { text: 'a', count: 3, ratio: 0.5, flag: true },
    });
    const rootContext = trace.setSpan(ROOT_CONTEXT, root);
    const other = tracer.startSpan('other', { kind: SpanKind.CONSUMER });
    const kinds = [SpanKind.INTERNAL, SpanKind.SERVER, SpanKind.CLIENT];
    for (const kind of kinds) {
      tracer.startSpan(`child ${kind}`, { kind, links: [{ context: other.spanContext() }] }, rootContext).end();
    }
    other.end();
    root.end();
    await provider.forceFlush();
    await receiver.waitFor('the five spans', 10_000, (spans) => spans.length >= 5);
    // Read before the shutdown, which empties the in-memory exporter.
    const made = memory.getFinishedSpans();
    await provider.shutdown();

    expect(receiver.failures).toEqual([]);
    expect(receiver.requests[exporter]).toBeGreaterThan(0);
    expect(made).toHaveLength(5);
    const got = receiver.spans();
    expect(got).toHaveLength(5);
    for (const span of made) {
      const decoded = got.find((candidate) => candidate.spanId === span.spanContext().spanId);
      expect(decoded).toBeDefined();
      expect(decoded?.protocol).toBe(exporter);
      expect(decoded?.traceId).toBe(span.spanContext().traceId);
      expect(decoded?.parentSpanId).toBe(span.parentSpanContext?.spanId);
      expect(decoded?.name).toBe(span.name);
      expect(decoded?.kind).toBe(span.kind);
      expect(decoded?.serviceName).toBe(`receiver-test-${exporter}`);
      // Jaeger has no resource: its exporter writes the resource's attributes among the span's tags.
      const attributes = exporter === 'jaeger' ? decoded?.attributes : decoded?.resource;
      expect(attributes?.['service.instance.id']).toBe('one');
      expect(decoded?.links).toEqual(
        span.links.map((link) => ({ traceId: link.context.traceId, spanId: link.context.spanId })),
      );
      for (const [key, value] of Object.entries(span.attributes)) expect(decoded?.attributes[key]).toBe(value);
    }
    const children = got.filter((span) => span.name.startsWith('child'));
    expect(children.map((span) => span.links.length)).toEqual([1, 1, 1]);
  });

  it('refuses a body that is not the format of its endpoint, and keeps why', async () => {
    const before = receiver.failures.length;
    const thriftAnswer = await fetch(receiver.jaegerEndpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-thrift' },
      body: Buffer.from([0x0c, 0x00, 0x01, 0xff]),
    });
    expect(thriftAnswer.status).toBe(400);
    const jsonAnswer = await fetch(receiver.otlpEndpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"resourceSpans":[]}',
    });
    expect(jsonAnswer.status).toBe(400);
    const failures = receiver.failures.slice(before);
    expect(failures).toHaveLength(2);
    expect(failures[1]).toBe('POST /v1/traces: content-type is application/json, expected application/x-protobuf');
  });

  it('reads only the IDL it understands', () => {
    expect(() => parseThriftIdl('typedef i64 Id')).toThrow('cannot read this IDL: "typedef i64 Id"');
    expect(() => parseThriftIdl('struct A {\n 1: required map<string,string> m\n}')).toThrow(
      'struct A: cannot read "1: required map<string,string> m"',
    );
    const idl = parseThriftIdl('enum E { X, Y = 5, Z }\nstruct S {\n 1: optional list<E> es\n}');
    expect([...(idl.enums.get('E') ?? new Map<number, string>())]).toEqual([
      [0, 'X'],
      [5, 'Y'],
      [6, 'Z'],
    ]);
    expect(idl.structs.get('S')).toEqual([
      { id: 1, name: 'es', required: false, type: { kind: 'list', element: { kind: 'enum', name: 'E' } } },
    ]);
  });
});
