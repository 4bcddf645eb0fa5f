/**
 * The process's tracing as `streambus server` starts it: spans go out through the OTLP exporter,
 * and nothing follows async context, before or after an export (an AsyncLocalStorage context
 * manager would switch on async hooks for every promise of the broker at the first export).
 */
import { createServer, type Server } from 'node:http';
import { context, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import type { DestinationStream } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../logging/logger.js';
import { startTracing, tracingEndpoint } from './setup.js';

describe('startTracing', () => {
  let server: Server;
  let port = 0;
  let exports = 0;
  const lines: string[] = [];
  const destination: DestinationStream = { write: (line: string) => void lines.push(line) };

  beforeAll(async () => {
    // An OTLP/HTTP collector that takes everything (an empty body is an empty response message).
    server = createServer((request, response) => {
      request.resume();
      request.on('end', () => {
        exports += 1;
        response.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      });
    });
    port = await new Promise<number>((resolve) =>
      server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)),
    );
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('exports spans and leaves async context alone, before and after an export', async () => {
    const tracing = startTracing(
      { enabled: true, exporter: 'otlp', endpoint: `http://127.0.0.1:${port}`, samplingRatio: 1 },
      { brokerId: 1, clusterId: 'test', version: '0.0.0' },
      createLogger({ level: 'warn', destination }),
    );
    expect(tracing?.endpoint).toBe(`http://127.0.0.1:${port}/v1/traces`);
    const tracer = tracing!.provider.getTracer('setup-test');
    const span = tracer.startSpan('first');
    const withSpan = trace.setSpan(ROOT_CONTEXT, span);
    expect(context.with(withSpan, () => context.active())).toBe(ROOT_CONTEXT);
    span.end();
    const deadline = Date.now() + 10_000;
    while (exports === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(exports).toBeGreaterThan(0);
    // After the export, too: context.with sets nothing, across an await or not.
    expect(context.with(withSpan, () => context.active())).toBe(ROOT_CONTEXT);
    const afterAwait = await context.with(withSpan, async () => {
      await new Promise((resolve) => setImmediate(resolve));
      return context.active();
    });
    expect(afterAwait).toBe(ROOT_CONTEXT);
    await tracing!.shutdown();
    expect(lines).toEqual([]);
  });
});

describe('tracingEndpoint', () => {
  it('gives a bare OTLP origin the traces path and keeps a full URL', () => {
    const otlp = { enabled: true, exporter: 'otlp', samplingRatio: 1 } as const;
    expect(tracingEndpoint({ ...otlp, endpoint: 'http://collector:4318' })).toBe('http://collector:4318/v1/traces');
    expect(tracingEndpoint({ ...otlp, endpoint: 'http://collector:4318/custom' })).toBe('http://collector:4318/custom');
    expect(tracingEndpoint({ ...otlp, endpoint: '' })).toBe('http://localhost:4318/v1/traces');
    expect(tracingEndpoint({ ...otlp, exporter: 'jaeger', endpoint: '' })).toBe('http://localhost:14268/api/traces');
  });
});
