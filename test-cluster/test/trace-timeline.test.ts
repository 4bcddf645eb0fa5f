import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AlwaysOnSampler, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { describe, expect, it } from 'vitest';
import { decodeOtlpSpans, timelineOf } from '../src/trace-timeline.js';

describe('trace timeline', () => {
  it("decodes the OTLP protobuf a broker's exporter sends, and names the steps of one produce", async () => {
    const bodies: Buffer[] = [];
    const server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        bodies.push(Buffer.concat(chunks));
        response.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const provider = new TracerProvider({
      sampler: new AlwaysOnSampler(),
      resource: resourceFromAttributes({ 'service.instance.id': 'broker-1' }),
      spanProcessors: [
        new SimpleSpanProcessor({ exporter: new OTLPTraceExporter({ url: `http://127.0.0.1:${port}/v1/traces` }) }),
      ],
    });
    const tracer = provider.getTracer('test');
    const root = tracer.startSpan('record');
    const rootContext = trace.setSpan(ROOT_CONTEXT, root);
    const produce = tracer.startSpan('produce t', {}, rootContext);
    const persist = tracer.startSpan('persist', {}, trace.setSpan(rootContext, produce));
    persist.end();
    produce.end();
    root.end();
    await provider.forceFlush();
    await provider.shutdown();
    server.close();

    const spans = bodies.flatMap((body) => decodeOtlpSpans(body));
    expect(spans.map((span) => span.name).sort()).toEqual(['persist', 'produce t', 'record']);
    for (const span of spans) {
      expect(span.process).toBe('broker-1');
      expect(span.traceId).toBe(root.spanContext().traceId);
      expect(span.endUs).toBeGreaterThanOrEqual(span.startUs);
    }
    expect(spans.find((span) => span.name === 'produce t')?.parentSpanId).toBe(root.spanContext().spanId);
    const steps = timelineOf(spans, 'record').map((step) => step.step);
    expect(steps).toContain('leader: produce (gRPC handler)');
    expect(steps).toContain('leader: persist (fsync)');
    expect(steps).toContain("record (application's await)");
  });
});
