/**
 * The listener of server.listen: one TCP port for gRPC (clients and peers, HTTP/2) and for the
 * health probes over HTTP/1.1 (`curl http://broker:9092/health`, `streambus health --broker
 * broker:9092`). It owns every connection, so that it can bound them (network.max_connections),
 * close the ones that never speak (network.connection_timeout) and count them for the metrics.
 *
 * A connection's first bytes decide where it goes: the HTTP/2 client preface ("PRI * HTTP/2.0")
 * to grpc-js through its connection injector, anything else to the probes' HTTP/1.1 server.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HostPort } from '../config/address.js';
import type { Logger } from '../logging/logger.js';

/** What grpc-js's `createConnectionInjector` returns, as this listener uses it. */
export interface ConnectionSink {
  injectConnection(connection: Socket): void;
}

/** Why a connection was closed by the listener, or failed: the label of connection_errors_total. */
export type ConnectionErrorReason = 'limit' | 'timeout' | 'reset';

export interface ConnectionObserver {
  opened(): void;
  closed(): void;
  failed(reason: ConnectionErrorReason): void;
}

export interface ClientListenerOptions {
  readonly listen: HostPort;
  readonly grpc: ConnectionSink;
  /** The probes' HTTP/1.1 server (admin/server.ts createAdminHttpServer), not listening. */
  readonly http: HttpServer;
  readonly connectionsMax: number;
  /** A connection that sends nothing within this is closed. */
  readonly firstBytesTimeoutMs: number;
  readonly observer?: ConnectionObserver;
  readonly logger?: Logger;
  /** A connection closed, named by its remote "address:port" (ends its SCRAM sessions). */
  readonly onConnectionClosed?: (remote: string) => void;
}

/** "PRI " opens the HTTP/2 client preface; four bytes tell it from any HTTP/1.1 method. */
const http2PrefacePrefix = Buffer.from('PRI ', 'latin1');

export class ClientListener {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private boundPort = 0;

  private constructor(private readonly options: ClientListenerOptions) {
    this.server = createServer({ pauseOnConnect: true, noDelay: true }, (socket) => this.accept(socket));
  }

  static async start(options: ClientListenerOptions): Promise<ClientListener> {
    const listener = new ClientListener(options);
    await new Promise<void>((resolve, reject) => {
      listener.server.once('error', reject);
      listener.server.listen(options.listen.port, options.listen.host, () => {
        listener.server.off('error', reject);
        resolve();
      });
    });
    listener.boundPort = (listener.server.address() as AddressInfo).port;
    return listener;
  }

  get port(): number {
    return this.boundPort;
  }

  /** Connections open now. */
  get connections(): number {
    return this.sockets.size;
  }

  /** Stops accepting; the open connections are left to their servers' shutdown (see `destroyAll`). */
  stopAccepting(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  /** Closes every connection still open (after the servers' graceful shutdown). */
  destroyAll(): void {
    for (const socket of this.sockets) socket.destroy();
  }

  private accept(socket: Socket): void {
    const observer = this.options.observer;
    if (this.sockets.size >= this.options.connectionsMax) {
      observer?.failed('limit');
      this.options.logger?.warn(
        { remote: socket.remoteAddress, connections_max: this.options.connectionsMax },
        'connection refused: network.max_connections reached',
      );
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    observer?.opened();
    // Read now: a closed socket no longer reports its remote end.
    const remote = `${socket.remoteAddress ?? ''}:${socket.remotePort ?? 0}`;
    socket.once('close', () => {
      this.sockets.delete(socket);
      observer?.closed();
      this.options.onConnectionClosed?.(remote);
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      observer?.failed('reset');
      this.options.logger?.debug({ remote: socket.remoteAddress, err: error.message }, 'connection failed');
    });
    socket.setTimeout(this.options.firstBytesTimeoutMs, () => {
      observer?.failed('timeout');
      socket.destroy();
    });
    socket.once('data', (chunk: Buffer) => this.route(socket, chunk));
    socket.resume();
  }

  private route(socket: Socket, chunk: Buffer): void {
    socket.pause();
    socket.setTimeout(0);
    if (chunk.subarray(0, http2PrefacePrefix.length).equals(http2PrefacePrefix)) {
      socket.unshift(chunk);
      this.options.grpc.injectConnection(socket);
      return;
    }
    // Node's HTTP/1.1 server reads the socket natively once it has it: data already read is
    // handed to it as the 'data' event it listens to (unshift would leave it unread).
    this.options.http.emit('connection', socket);
    socket.emit('data', chunk);
    socket.resume();
  }
}
