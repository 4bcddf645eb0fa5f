/**
 * The listener of server.listen: one TCP port for gRPC (clients and peers, HTTP/2) and for the
 * health probes over HTTP/1.1 (`curl http://broker:9092/health`, `streambus health --broker
 * broker:9092`). It owns every connection, so that it can bound them (network.max_connections),
 * close the ones that never speak (network.connection_timeout) and count them for the metrics.
 *
 * A connection's first bytes decide where it goes: the HTTP/2 client preface ("PRI * HTTP/2.0")
 * to grpc-js through its connection injector, anything else to the probes' HTTP/1.1 server.
 *
 * With TLS (security.tls_enabled) the first byte must open a TLS handshake record (0x16), else
 * the connection is closed: plaintext is never served. The listener terminates TLS itself, with a
 * node:tls server that never listens (it is handed the accepted socket, as the HTTP/1.1 server
 * is), so that grpc-js sees a tls.TLSSocket and `call.getAuthContext()` reports the verified peer
 * certificate (security/peer-identity.ts). ALPN then routes: "h2" to grpc-js, "http/1.1" (or no
 * ALPN) to the probes. A client certificate is asked for, not required (a client without one
 * authenticates with SCRAM); one the CA did not sign is refused at once. The handshake must end
 * within network.connection_timeout as well. A rotated certificate (TlsContexts) serves every
 * connection accepted after the swap.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { Server as TlsServer, TLSSocket } from 'node:tls';
import type { HostPort } from '../config/address.js';
import type { Logger } from '../logging/logger.js';
import { WarnLimiter } from '../peer/logger.js';
import type { TlsServerSource } from '../security/tls/tls-contexts.js';
import { listenerWarnIntervalMs } from './constants.js';

/** What grpc-js's `createConnectionInjector` returns, as this listener uses it. */
export interface ConnectionSink {
  injectConnection(connection: Socket): void;
}

/** Why a connection was closed by the listener, or failed: the label of connection_errors_total. */
export type ConnectionErrorReason = 'limit' | 'timeout' | 'reset' | 'tls';

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
  /** Serve TLS only, with this material (security.tls_enabled); plaintext when absent. */
  readonly tls?: TlsServerSource;
}

/** "PRI " opens the HTTP/2 client preface; four bytes tell it from any HTTP/1.1 method. */
const http2PrefacePrefix = Buffer.from('PRI ', 'latin1');
/** The content type of a TLS handshake record: every TLS connection's first byte. */
const tlsHandshakeRecordType = 0x16;

export class ClientListener {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private boundPort = 0;
  private readonly tlsServer: TlsServer | null;
  private readonly unsubscribeTls: () => void;
  private readonly warnings: WarnLimiter | null;

  private constructor(private readonly options: ClientListenerOptions) {
    this.server = createServer({ pauseOnConnect: true, noDelay: true }, (socket) => this.accept(socket));
    this.warnings = options.logger === undefined ? null : new WarnLimiter(options.logger, listenerWarnIntervalMs);
    const tls = options.tls;
    if (tls === undefined) {
      this.tlsServer = null;
      this.unsubscribeTls = () => undefined;
      return;
    }
    const tlsServer = createTlsServer({
      ...tls.serverOptions(),
      requestCert: true,
      rejectUnauthorized: false,
      ALPNProtocols: ['h2', 'http/1.1'],
      handshakeTimeout: options.firstBytesTimeoutMs,
    });
    tlsServer.on('secureConnection', (socket: TLSSocket) => this.routeSecure(socket));
    tlsServer.on('tlsClientError', (error: NodeJS.ErrnoException, socket: TLSSocket) => {
      const reason =
        error.code === 'ERR_TLS_HANDSHAKE_TIMEOUT' ? 'timeout' : error.code === 'ECONNRESET' ? 'reset' : 'tls';
      options.observer?.failed(reason);
      options.logger?.debug({ remote: socket.remoteAddress, err: error.message }, 'TLS handshake failed');
      // node:tls leaves the socket to whoever listens for its errors.
      socket.destroy();
    });
    this.tlsServer = tlsServer;
    this.unsubscribeTls = tls.onReload(() => tlsServer.setSecureContext(tls.serverOptions()));
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
    this.unsubscribeTls();
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
    if (this.tlsServer !== null) {
      this.routeTls(this.tlsServer, socket, chunk);
      return;
    }
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

  /** TLS only: a first byte that opens no handshake is plaintext, closed at once. */
  private routeTls(tlsServer: TlsServer, socket: Socket, chunk: Buffer): void {
    if (chunk[0] !== tlsHandshakeRecordType) {
      this.options.observer?.failed('tls');
      this.warnings?.log(
        { remote: socket.remoteAddress },
        'plaintext connection closed: server.listen speaks TLS only (security.tls_enabled)',
      );
      socket.destroy();
      return;
    }
    // node:tls feeds what the socket has buffered to the handshake before it reads on.
    socket.unshift(chunk);
    tlsServer.emit('connection', socket);
  }

  private routeSecure(socket: TLSSocket): void {
    // A certificate is optional, but one the CA did not sign is an impostor or a mistake.
    if (!socket.authorized && socket.getPeerCertificate().raw !== undefined) {
      this.options.observer?.failed('tls');
      this.warnings?.log(
        { remote: socket.remoteAddress, reason: String(socket.authorizationError) },
        'connection refused: its client certificate is not signed by security.tls_ca',
      );
      socket.destroy();
      return;
    }
    if (socket.alpnProtocol === 'h2') {
      this.options.grpc.injectConnection(socket);
      return;
    }
    this.options.http.emit('connection', socket);
  }
}
