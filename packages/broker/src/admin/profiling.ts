/**
 * The profiling server (monitoring.profiling_enabled, seed 004): bound to 127.0.0.1 only, off by
 * default. `/debug/pprof/profile?seconds=N` records a CPU profile of N seconds (V8's
 * `.cpuprofile`, which Chrome DevTools and speedscope open); `/debug/pprof/heap` takes a heap
 * snapshot (`.heapsnapshot`). One profile at a time: a second request meanwhile gets 409.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Session } from 'node:inspector/promises';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { assert } from '@streambus/raft';
import { rethrowBug } from '../bugs.js';
import { profileSecondsDefault, profileSecondsMax } from './constants.js';

/** Localhost only, whatever the configuration says: profiles expose memory contents. */
export const profilingHost = '127.0.0.1';

export interface ProfilingServer {
  readonly port: number;
  close(): Promise<void>;
}

export async function startProfilingServer(port: number, logger?: Logger): Promise<ProfilingServer> {
  let busy = false;
  const server = createServer((request, response) => {
    if (busy) {
      sendText(response, 409, 'a profile is being taken; try again when it is done\n');
      return;
    }
    busy = true;
    handle(request, response)
      .catch((error: unknown) => {
        rethrowBug(error);
        logger?.error({ err: error }, 'profiling request failed');
        if (!response.headersSent) sendText(response, 500, 'profiling failed; see the broker log\n');
        else response.destroy();
      })
      .finally(() => {
        busy = false;
      });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, profilingHost, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  logger?.info({ address: `${profilingHost}:${bound}` }, 'profiling server listening (localhost only)');
  return { port: bound, close: () => close(server) };
}

async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
  if (request.method !== 'GET') {
    sendText(response, 405, 'use GET\n');
    return;
  }
  const url = new URL(request.url ?? '/', `http://${profilingHost}`);
  if (url.pathname === '/debug/pprof/profile') {
    const seconds = parseSeconds(url.searchParams.get('seconds'));
    if (seconds === null) {
      sendText(response, 400, `seconds must be a whole number in 1..${profileSecondsMax}\n`);
      return;
    }
    const profile = await cpuProfile(seconds);
    response.writeHead(200, {
      'Content-Type': 'application/json',
      'Content-Disposition': 'attachment; filename="streambus.cpuprofile"',
    });
    response.end(JSON.stringify(profile));
    return;
  }
  if (url.pathname === '/debug/pprof/heap') {
    response.writeHead(200, {
      'Content-Type': 'application/json',
      'Content-Disposition': 'attachment; filename="streambus.heapsnapshot"',
    });
    await heapSnapshot((chunk) => response.write(chunk));
    response.end();
    return;
  }
  sendText(response, 404, 'try /debug/pprof/profile?seconds=N or /debug/pprof/heap\n');
}

function parseSeconds(raw: string | null): number | null {
  if (raw === null) return profileSecondsDefault;
  if (!/^\d+$/.test(raw)) return null;
  const seconds = Number(raw);
  return seconds >= 1 && seconds <= profileSecondsMax ? seconds : null;
}

async function cpuProfile(seconds: number): Promise<unknown> {
  assert(seconds <= profileSecondsMax, 'a profile is bounded in time');
  const session = new Session();
  session.connect();
  try {
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    const { profile } = await session.post('Profiler.stop');
    return profile;
  } finally {
    session.disconnect();
  }
}

async function heapSnapshot(write: (chunk: string) => void): Promise<void> {
  const session = new Session();
  session.connect();
  try {
    session.on('HeapProfiler.addHeapSnapshotChunk', (message) => write(message.params.chunk));
    await session.post('HeapProfiler.takeHeapSnapshot', { reportProgress: false });
  } finally {
    session.disconnect();
  }
}

function sendText(response: ServerResponse, status: number, text: string): void {
  response.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' });
  response.end(text);
}

function close(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((error) => (error === undefined ? resolve() : reject(error)));
    server.closeAllConnections();
  });
}
