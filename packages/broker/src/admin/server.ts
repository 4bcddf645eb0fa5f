/**
 * The admin HTTP server of one broker: /live, /ready, /health, /metrics and /config.
 * Bounded on purpose: GET and HEAD only, no request bodies, small headers, short timeouts and
 * few connections, so that a misbehaving scraper cannot hurt the broker it watches.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
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
import { rethrowBug } from '../bugs.js';

export interface AdminServerOptions {
  readonly listen: HostPort;
  readonly health: HealthRegistry;
  /** Absent when monitoring.metrics_enabled is false: /metrics is then 404. */
  readonly metrics?: Registry;
  /** The effective configuration with secrets masked, served as JSON on /config. */
  readonly configView?: () => unknown;
  readonly logger?: Logger;
}

export interface AdminServer {
  /** The bound address (the real port when asked for port 0). */
  readonly address: HostPort;
  close(): Promise<void>;
}

/** Error codes in admin JSON error bodies. */
export type AdminErrorCode = 'NOT_FOUND' | 'METHOD_NOT_ALLOWED' | 'BODY_NOT_ALLOWED' | 'INTERNAL';

const endpoints = ['/live', '/ready', '/health', '/metrics', '/config'] as const;

export async function startAdminServer(options: AdminServerOptions): Promise<AdminServer> {
  const server = createServer(
    {
      maxHeaderSize: adminHeaderBytesMax,
      requestTimeout: adminRequestTimeoutMs,
      headersTimeout: adminHeadersTimeoutMs,
      keepAliveTimeout: adminKeepAliveTimeoutMs,
    },
    (request, response) => {
      handle(options, request, response).catch((error: unknown) => {
        rethrowBug(error);
        options.logger?.error({ err: error, url: request.url }, 'admin request failed');
        if (!response.headersSent)
          sendJson(response, 500, { error: 'INTERNAL', message: 'internal error; see the broker log' });
        else response.destroy();
      });
    },
  );
  server.maxConnections = adminConnectionsMax;
  await listen(server, options.listen);
  const bound = server.address() as AddressInfo;
  options.logger?.info({ address: `${bound.address}:${bound.port}` }, 'admin server listening');
  return {
    address: { host: bound.address, port: bound.port },
    close: () => close(server),
  };
}

async function handle(options: AdminServerOptions, request: IncomingMessage, response: ServerResponse): Promise<void> {
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
      sendJson(response, report.status === 'down' ? 503 : 200, report);
      return;
    }
    case '/metrics':
      if (options.metrics === undefined) {
        sendError(response, 404, 'NOT_FOUND', 'metrics are disabled; set monitoring.metrics_enabled to true');
        return;
      }
      send(response, 200, options.metrics.contentType, await options.metrics.metrics());
      return;
    case '/config':
      if (options.configView === undefined) {
        sendError(response, 404, 'NOT_FOUND', 'no configuration view on this server');
        return;
      }
      sendJson(response, 200, options.configView());
      return;
    default:
      sendError(response, 404, 'NOT_FOUND', `no such endpoint; try ${endpoints.join(', ')}`);
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
