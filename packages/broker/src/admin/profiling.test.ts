import { afterEach, describe, expect, it } from 'vitest';
import type { ProfilingServer } from './profiling.js';
import { profilingHost, startProfilingServer } from './profiling.js';

const started: ProfilingServer[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((server) => server.close()));
});

async function start(): Promise<string> {
  const server = await startProfilingServer(0);
  started.push(server);
  return `http://${profilingHost}:${server.port}`;
}

describe('profiling server', () => {
  it('records a V8 CPU profile of ?seconds=N, one at a time', async () => {
    const base = await start();
    const pending = fetch(`${base}/debug/pprof/profile?seconds=1`);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await fetch(`${base}/debug/pprof/heap`)).status).toBe(409);
    const response = await pending;
    expect(response.status).toBe(200);
    expect(response.headers.get('content-disposition')).toContain('.cpuprofile');
    const profile = (await response.json()) as { nodes: unknown[]; startTime: number; endTime: number };
    expect(profile.nodes.length).toBeGreaterThan(0);
    expect(profile.endTime - profile.startTime).toBeGreaterThanOrEqual(900_000);
  });

  it('takes a heap snapshot, and refuses a profile longer than the bound', async () => {
    const base = await start();
    const heap = await fetch(`${base}/debug/pprof/heap`);
    expect(heap.status).toBe(200);
    const snapshot = (await heap.json()) as { snapshot: { node_count: number } };
    expect(snapshot.snapshot.node_count).toBeGreaterThan(0);
    expect((await fetch(`${base}/debug/pprof/profile?seconds=61`)).status).toBe(400);
    expect((await fetch(`${base}/nope`)).status).toBe(404);
  });
});
