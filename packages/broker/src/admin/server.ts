/**
 * The admin HTTP server of one broker: /live, /ready, /health, /metrics and /config.
 * Bounded on purpose: GET and HEAD only, no request bodies, small headers, short timeouts and
 * few connections, so that a misbehaving scraper cannot hurt the broker it watches.
 * The client port answers HTTP/1.1 too, with the probes only (`probeEndpoints`, see
 * server/client-listener.ts): `curl http://broker:9092/health` works as the seeds show it.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { HostPort } from '../config/address.js';
import {
  adminConnectionsMax,
  adminHeaderBytesMax,
  adminHeadersTimeoutMs,
  adminKeepAliveTimeoutMs,
  adminRequestTimeoutMs,
} from './constants.js';
import type { HealthRegistry } from './health.js';
import type { BrokerMetrics } from './metrics.js';
import { rethrowBug } from '../bugs.js';
import type { TlsServerSource } from '../security/tls/tls-contexts.js';

export interface AdminServerOptions {
  readonly listen: HostPort;
  readonly health: HealthRegistry;
  /** Absent when monitoring.metrics_enabled is false: /metrics is then 404. */
  readonly metrics?: Pick<BrokerMetrics, 'registry' | 'scrape'>;
  /** The effective configuration with secrets masked, served as JSON on /config. */
  readonly configView?: () => unknown;
  readonly logger?: Logger;
  /** The endpoints served; default every one. Others answer 404 with `elsewhereHint`. */
  readonly endpoints?: readonly AdminEndpoint[];
  readonly elsewhereHint?: string;
  /** Serve HTTPS with this material (security.tls_admin_enabled); a rotation serves new connections. */
  readonly tls?: TlsServerSource;
}

export interface AdminServer {
  /** The bound address (the real port when asked for port 0). */
  readonly address: HostPort;
  close(): Promise<void>;
}

/** Error codes in admin JSON error bodies. */
export type AdminErrorCode = 'NOT_FOUND' | 'METHOD_NOT_ALLOWED' | 'BODY_NOT_ALLOWED' | 'INTERNAL';

export const adminEndpoints = ['/live', '/ready', '/health', '/metrics', '/config'] as const;
export type AdminEndpoint = (typeof adminEndpoints)[number];
/** What the client port answers over HTTP/1.1: what load balancers and the seeds' curl ask. */
export const probeEndpoints: readonly AdminEndpoint[] = ['/live', '/ready', '/health'];

export async function startAdminServer(options: AdminServerOptions): Promise<AdminServer> {
  const tls = options.tls;
  let server: Server;
  let unsubscribe = (): void => undefined;
  if (tls === undefined) server = createAdminHttpServer(options);
  else {
    // The same handling and bounds over HTTPS, with the broker's (rotating) certificate.
    const https = createHttpsServer({ ...tls.serverOptions(), ...serverBounds }, adminRequestListener(options));
    unsubscribe = tls.onReload(() => https.setSecureContext(tls.serverOptions()));
    server = https;
  }
  server.maxConnections = adminConnectionsMax;
  try {
    await listen(server, options.listen);
  } catch (error) {
    unsubscribe();
    throw error;
  }
  const bound = server.address() as AddressInfo;
  options.logger?.info(
    { address: `${bound.address}:${bound.port}`, scheme: tls === undefined ? 'http' : 'https' },
    'admin server listening',
  );
  return {
    address: { host: bound.address, port: bound.port },
    close: () => {
      unsubscribe();
      return close(server);
    },
  };
}

const serverBounds = {
  maxHeaderSize: adminHeaderBytesMax,
  requestTimeout: adminRequestTimeoutMs,
  headersTimeout: adminHeadersTimeoutMs,
  keepAliveTimeout: adminKeepAliveTimeoutMs,
};

/**
 * The admin server's HTTP handling with the same bounds, not listening: connections are handed
 * to it (`server.emit('connection', socket)`) by a listener of its own.
 */
export function createAdminHttpServer(options: Omit<AdminServerOptions, 'listen'>): Server {
  return createServer(serverBounds, adminRequestListener(options));
}

function adminRequestListener(
  options: Omit<AdminServerOptions, 'listen'>,
): (request: IncomingMessage, response: ServerResponse) => void {
  return (request, response) => {
    handle(options, request, response).catch((error: unknown) => {
      rethrowBug(error);
      options.logger?.error({ err: error, url: request.url }, 'admin request failed');
      if (!response.headersSent)
        sendJson(response, 500, { error: 'INTERNAL', message: 'internal error; see the broker log' });
      else response.destroy();
    });
  };
}

async function handle(
  options: Omit<AdminServerOptions, 'listen'>,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const method = request.method ?? 'GET';
  if (method !== 'GET' && method !== 'HEAD') {
    response.setHeader('Allow', 'GET, HEAD');
    sendError(response, 405, 'METHOD_NOT_ALLOWED', `${method} is not allowed; use GET`);
    return;
  }
  if (hasBody(request)) {
    sendError(response, 413, 'BODY_NOT_ALLOWED', 'admin requests carry no body');
    return;
  }
  const path = (request.url ?? '/').split('?')[0] ?? '/';
  const served = options.endpoints ?? adminEndpoints;
  if (!served.some((endpoint) => endpoint === path)) {
    const hint = adminEndpoints.some((endpoint) => endpoint === path) ? options.elsewhereHint : undefined;
    sendError(response, 404, 'NOT_FOUND', hint ?? `no such endpoint; try ${served.join(', ')}`);
    return;
  }
  switch (path) {
    case '/live':
      sendJson(response, 200, { status: 'live' });
      return;
    case '/ready': {
      const readiness = await options.health.readiness();
      sendJson(
        response,
        readiness.ready ? 200 : 503,
        readiness.ready ? { ready: true } : { ready: false, reason: readiness.reason },
      );
      return;
    }
    case '/health': {
      const report = await options.health.report();
      sendJson(response, report.status === 'unhealthy' ? 503 : 200, report);
      return;
    }
    case '/metrics':
      if (options.metrics === undefined) {
        sendError(response, 404, 'NOT_FOUND', 'metrics are disabled; set monitoring.metrics_enabled to true');
        return;
      }
      send(response, 200, options.metrics.registry.contentType, await options.metrics.scrape());
      return;
    case '/config':
      if (options.configView === undefined) {
        sendError(response, 404, 'NOT_FOUND', 'no configuration view on this server');
        return;
      }
      sendJson(response, 200, options.configView());
      return;
    default:
      sendError(response, 404, 'NOT_FOUND', `no such endpoint; try ${served.join(', ')}`);
  }
}

function hasBody(request: IncomingMessage): boolean {
  const length = request.headers['content-length'];
  if (length !== undefined && length !== '0') return true;
  return request.headers['transfer-encoding'] !== undefined;
}

function sendError(response: ServerResponse, status: number, code: AdminErrorCode, message: string): void {
  sendJson(response, status, { error: code, message });
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  send(response, status, 'application/json; charset=utf-8', `${JSON.stringify(body)}\n`);
}

function send(response: ServerResponse, status: number, contentType: string, body: string): void {
  response.statusCode = status;
  response.setHeader('Content-Type', contentType);
  response.setHeader('Cache-Control', 'no-store');
  response.setHeader('Content-Length', Buffer.byteLength(body));
  // A request that sent a body is answered and its connection closed, rather than read.
  if (status === 413) response.setHeader('Connection', 'close');
  response.end(response.req.method === 'HEAD' ? undefined : body);
}

function listen(server: Server, address: HostPort): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => reject(error);
    server.once('error', onError);
    server.listen(address.port, address.host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((error) => (error === undefined ? resolve() : reject(error)));
    server.closeAllConnections();
  });
}
