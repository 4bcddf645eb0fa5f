import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { HealthRegistry } from './health.js';
import { createBrokerMetrics } from './metrics.js';
import type { AdminServer } from './server.js';
import { startAdminServer } from './server.js';

const started: AdminServer[] = [];

afterEach(async () => {
  await Promise.all(started.splice(0).map((server) => server.close()));
});

async function start(health: HealthRegistry, withMetrics = true): Promise<string> {
  const metrics = withMetrics ? createBrokerMetrics({ processMetrics: true, brokerId: 1 }) : undefined;
  const server = await startAdminServer({
    listen: { host: '127.0.0.1', port: 0 },
    health,
    ...(metrics === undefined ? {} : { metrics }),
    configView: () => ({ server: { broker_id: 1 } }),
  });
  started.push(server);
  expect(server.address.port).toBeGreaterThan(0);
  return `http://127.0.0.1:${server.address.port}`;
}

function rawRequest(url: string, method: string, headers: Record<string, string>, body?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const outgoing = request(url, { method, headers }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

describe('admin server', () => {
  it('/live answers 200 while the event loop runs', async () => {
    const base = await start(new HealthRegistry({ brokerId: 1, version: '0.1.0' }));
    const response = await fetch(`${base}/live`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'live' });
  });

  it('/ready is 503 with a reason until every readiness check passes, then 200', async () => {
    const health = new HealthRegistry({ brokerId: 1, version: '0.1.0' });
    const base = await start(health);
    const unregistered = await fetch(`${base}/ready`);
    expect(unregistered.status).toBe(503);
    expect(await unregistered.json()).toEqual({
      ready: false,
      reason: 'starting: the broker has not registered its readiness checks yet',
    });

    let caughtUp = false;
    health.registerReadinessCheck('controller', () => ({ ready: true, reason: '' }));
    health.registerReadinessCheck('replicas', () =>
      caughtUp ? { ready: true, reason: '' } : { ready: false, reason: '3 of 12 replicas are catching up' },
    );
    const catchingUp = await fetch(`${base}/ready`);
    expect(catchingUp.status).toBe(503);
    expect(await catchingUp.json()).toEqual({ ready: false, reason: 'replicas: 3 of 12 replicas are catching up' });

    caughtUp = true;
    const ready = await fetch(`${base}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ ready: true });
  });

  it('/health reports status, version, uptime, broker id and each component', async () => {
    let nowMs = 1_000;
    const health = new HealthRegistry({ brokerId: 2, version: '0.1.0', nowMs: () => nowMs, providerTimeoutMs: 50 });
    health.registerComponent('raft', () => ({ status: 'healthy', detail: 'leader of 4 of 12 groups' }));
    health.registerComponent('storage', async () => ({ status: 'degraded', detail: 'disk 91% full' }));
    health.registerComponent('controller', () => {
      throw new Error('no quorum');
    });
    const base = await start(health);
    nowMs += 61_500;
    const response = await fetch(`${base}/health`);
    expect(response.status).toBe(503);
    expect(response.headers.get('content-type')).toContain('application/json');
    expect(await response.json()).toEqual({
      status: 'unhealthy',
      version: '0.1.0',
      uptime_seconds: 61,
      uptime: '1m1s',
      broker_id: 2,
      ready: false,
      components: {
        controller: { status: 'unhealthy', detail: 'controller check failed: no quorum' },
        raft: { status: 'healthy', detail: 'leader of 4 of 12 groups' },
        storage: { status: 'degraded', detail: 'disk 91% full' },
      },
    });
  });

  it('/health is 200 when degraded, and a hanging provider is reported down, not waited for', async () => {
    const health = new HealthRegistry({ brokerId: 1, version: '0.1.0', providerTimeoutMs: 20 });
    const unregisterSlow = health.registerComponent('slow', () => new Promise(() => undefined));
    health.registerComponent('storage', () => ({ status: 'degraded', detail: 'compacting' }));
    const base = await start(health);
    const hung = (await (await fetch(`${base}/health`)).json()) as { components: Record<string, unknown> };
    expect(hung.components['slow']).toEqual({ status: 'unhealthy', detail: 'slow did not answer within 20ms' });
    unregisterSlow();
    const degraded = await fetch(`${base}/health`);
    expect(degraded.status).toBe(200);
    expect(((await degraded.json()) as { status: string }).status).toBe('degraded');
  });

  it('/metrics serves Prometheus text with process metrics and the seed metric names', async () => {
    const base = await start(new HealthRegistry({ brokerId: 1, version: '0.1.0' }));
    const response = await fetch(`${base}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/plain');
    const text = await response.text();
    for (const name of [
      'process_cpu_user_seconds_total',
      'nodejs_eventloop_lag_seconds',
      'streambus_messages_produced_total',
      'streambus_messages_consumed_total',
      'streambus_bytes_in_total',
      'streambus_bytes_out_total',
      'streambus_produce_latency_seconds',
      'streambus_fetch_latency_seconds',
      'streambus_storage_bytes_used',
      'streambus_storage_bytes_available',
      'streambus_wal_size_bytes',
      'streambus_memtable_size_bytes',
      'streambus_connections_active',
      'streambus_connection_errors_total',
      'streambus_raft_leader_changes_total',
    ]) {
      expect(text).toContain(`# TYPE ${name} `);
    }
    expect(text).toContain('streambus_connections_active{broker_id="1"} 0');
  });

  it('feeds a metric through to the scrape', async () => {
    const metrics = createBrokerMetrics({ processMetrics: false });
    const server = await startAdminServer({
      listen: { host: '127.0.0.1', port: 0 },
      health: new HealthRegistry({ brokerId: 1, version: 'x' }),
      metrics,
    });
    started.push(server);
    metrics.messagesProducedTotal.inc({ topic: 'events' }, 5);
    const text = await (await fetch(`http://127.0.0.1:${server.address.port}/metrics`)).text();
    expect(text).toContain('streambus_messages_produced_total{topic="events"} 5');
  });

  it('/metrics is 404 with a hint when metrics are disabled; /config serves the view', async () => {
    const base = await start(new HealthRegistry({ brokerId: 1, version: '0.1.0' }), false);
    const metrics = await fetch(`${base}/metrics`);
    expect(metrics.status).toBe(404);
    expect(await metrics.json()).toEqual({
      error: 'NOT_FOUND',
      message: 'metrics are disabled; set monitoring.metrics_enabled to true',
    });
    expect(await (await fetch(`${base}/config`)).json()).toEqual({ server: { broker_id: 1 } });
  });

  it('refuses other methods, bodies, unknown paths and oversized headers', async () => {
    const base = await start(new HealthRegistry({ brokerId: 1, version: '0.1.0' }));
    const post = await fetch(`${base}/health`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    expect(
      await rawRequest(`${base}/live`, 'GET', { 'Content-Type': 'text/plain', 'Content-Length': '5' }, 'hello'),
    ).toBe(413);
    const missing = await fetch(`${base}/nope`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: string }).error).toBe('NOT_FOUND');
    expect(await rawRequest(`${base}/live`, 'GET', { 'X-Big': 'x'.repeat(16 * 1024) })).toBe(431);
    const head = await fetch(`${base}/live`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
  });

  it('closes cleanly even with an idle keep-alive connection', async () => {
    const health = new HealthRegistry({ brokerId: 1, version: '0.1.0' });
    const server = await startAdminServer({ listen: { host: '127.0.0.1', port: 0 }, health });
    await fetch(`http://127.0.0.1:${server.address.port}/live`);
    await server.close();
    await expect(fetch(`http://127.0.0.1:${server.address.port}/live`)).rejects.toThrow();
  });
});
