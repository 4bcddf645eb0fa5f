/**
 * TLS and SCRAM-SHA-256 sessions of the client (security.proto): the channel credentials built
 * once from the `tls` option, the reason a TLS connection failed, and one authenticated session
 * per broker connection.
 *
 * A session is bound to the TCP connection it was made on. A channel keeps one connection at a
 * time and makes a new one after a failure; the broker then answers the old session with
 * SESSION_EXPIRED, and the caller authenticates again on the new connection and retries once
 * (`Sessions.expire`, then `Sessions.sessionFor`). So the handshake costs two calls per connection,
 * never per call, and concurrent first calls on a connection share one handshake.
 */
import { isIP } from 'node:net';
import * as tls from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import {
  ErrorCode,
  ScramClient,
  ScramError,
  scramSha256Mechanism,
  type AuthenticateResponse,
  type StreamBusRpcClient,
} from '@streambus/proto';
import { AuthenticationError, InvalidConfigError, errorFromCall, errorFromCode, tlsFailureReason } from '../errors.js';
import type { SaslOptions, TlsOptions } from './options.js';

/** TLS settled from the options: one secure context shared by every channel. */
export interface ResolvedTls {
  readonly secureContext: tls.SecureContext;
  readonly credentials: grpc.ChannelCredentials;
  /** The name certificates must carry instead of the host dialled; undefined: the host. */
  readonly servername: string | undefined;
}

/** Checks the `tls` option and builds its secure context (TLS 1.3 minimum unless it says 1.2). */
export function resolveTls(options: TlsOptions | undefined): ResolvedTls | undefined {
  if (options === undefined) return undefined;
  if ((options.cert === undefined) !== (options.key === undefined))
    throw new InvalidConfigError('tls.cert and tls.key go together: give both (a client certificate) or neither');
  const versionMin = options.versionMin ?? 'TLSv1.3';
  if (versionMin !== 'TLSv1.3' && versionMin !== 'TLSv1.2')
    throw new InvalidConfigError(`tls.versionMin must be 'TLSv1.3' or 'TLSv1.2', got ${versionMin as string}`);
  for (const [name, value] of [
    ['tls.ca', options.ca],
    ['tls.cert', options.cert],
  ] as const) {
    if (value !== undefined && !value.toString().includes('-----BEGIN CERTIFICATE-----'))
      throw new InvalidConfigError(`${name} must be PEM certificate contents (read the file first), not a path`);
  }
  if (options.servername !== undefined && (options.servername === '' || isIP(options.servername) !== 0))
    throw new InvalidConfigError('tls.servername must be a DNS name (a certificate names IP addresses itself)');
  let secureContext: tls.SecureContext;
  try {
    secureContext = tls.createSecureContext({
      minVersion: versionMin,
      ...(options.ca === undefined ? {} : { ca: options.ca }),
      ...(options.cert === undefined ? {} : { cert: options.cert }),
      ...(options.key === undefined ? {} : { key: options.key }),
    });
  } catch (error) {
    throw new InvalidConfigError(`tls: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  return {
    secureContext,
    credentials: grpc.credentials.createFromSecureContext(secureContext),
    servername: options.servername,
  };
}

/** Channel options that make grpc-js verify `servername` instead of the host dialled. */
export function tlsChannelOptions(resolved: ResolvedTls | undefined): grpc.ChannelOptions {
  return resolved?.servername === undefined ? {} : { 'grpc.ssl_target_name_override': resolved.servername };
}

/**
 * Why a TLS connection to `address` fails, or undefined when it does not fail for a TLS reason
 * (nothing listens, the broker is paused, or the handshake succeeds now). Opens one connection of
 * its own with the channel's settings: only after the channel reported a failed connection, since
 * grpc-js does not say why a connection failed until a call is made on it.
 */
export function diagnoseTls(address: string, resolved: ResolvedTls, timeoutMs: number): Promise<string | undefined> {
  const at = address.lastIndexOf(':');
  const host = address.slice(0, at).replace(/^\[(.*)\]$/, '$1');
  const port = Number(address.slice(at + 1));
  const servername = resolved.servername ?? (isIP(host) === 0 ? host : undefined);
  return new Promise((resolve) => {
    const socket = tls.connect({
      host,
      port,
      secureContext: resolved.secureContext,
      ALPNProtocols: ['h2'],
      // Node sends no SNI for an IP address; the certificate check still uses the host.
      ...(servername === undefined ? {} : { servername }),
      checkServerIdentity: (_host, certificate) => tls.checkServerIdentity(servername ?? host, certificate),
    });
    const finish = (reason: string | undefined): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(reason);
    };
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    socket.once('secureConnect', () =>
      finish(socket.authorized ? undefined : tlsReasonOf(socket.authorizationError ?? 'not authorized')),
    );
    socket.once('error', (error: NodeJS.ErrnoException) => finish(tlsReasonOf(error)));
  });
}

function tlsReasonOf(error: Error | string): string | undefined {
  const text = typeof error === 'string' ? error : `${error.message} ${(error as NodeJS.ErrnoException).code ?? ''}`;
  const reason = tlsFailureReason(text);
  return reason === undefined ? undefined : `${reason} (${typeof error === 'string' ? error : error.message})`;
}

/** What a handshake needs to make its two Authenticate calls. */
export interface HandshakeCalls {
  readonly deadlineMs: number;
  readonly metadata: () => grpc.Metadata;
}

/** The authenticated session of each broker connection (see the file comment). */
export class Sessions {
  /** Address -> the session (or the handshake under way) of its channel's current connection. */
  private readonly sessions = new Map<string, Promise<string>>();

  constructor(private readonly sasl: SaslOptions) {}

  /** The session id for the channel's connection; runs the handshake when there is none yet. */
  sessionFor(channel: StreamBusRpcClient, calls: HandshakeCalls): Promise<string> {
    const known = this.sessions.get(channel.address);
    if (known !== undefined) return known;
    const handshake = authenticate(channel, this.sasl, calls);
    this.sessions.set(channel.address, handshake);
    // A failed handshake is not kept: the next call tries again (the error reaches every caller
    // that shared this one).
    handshake.catch(() => {
      if (this.sessions.get(channel.address) === handshake) this.sessions.delete(channel.address);
    });
    return handshake;
  }

  /**
   * Forgets `sessionId` after the broker answered SESSION_EXPIRED for it. Only that session:
   * calls that failed with it all at once start one new handshake between them, not one each.
   */
  async expire(channel: StreamBusRpcClient, sessionId: string): Promise<void> {
    const known = this.sessions.get(channel.address);
    if (known === undefined) return;
    const current = await known.catch(() => undefined);
    if (current === sessionId && this.sessions.get(channel.address) === known) this.sessions.delete(channel.address);
  }

  /** Forgets every session (the client closed its channels). */
  clear(): void {
    this.sessions.clear();
  }
}

/**
 * One SCRAM-SHA-256 handshake on `channel` (security.proto steps 1 and 2); resolves with the
 * session id once the broker proved it holds the user's credential.
 */
export async function authenticate(
  channel: StreamBusRpcClient,
  sasl: SaslOptions,
  calls: HandshakeCalls,
): Promise<string> {
  const user = sasl.username;
  const failed = (why: string): AuthenticationError =>
    new AuthenticationError(`${channel.address}: authentication failed for user ${user}: ${why}`);
  const step = async (sessionId: string, message: string): Promise<AuthenticateResponse> => {
    let response: AuthenticateResponse;
    try {
      response = await channel.Authenticate(
        { mechanism: scramSha256Mechanism, sessionId, message: Buffer.from(message, 'utf8') },
        { deadlineMs: calls.deadlineMs, metadata: calls.metadata() },
      );
    } catch (error) {
      throw errorFromCall(error, channel.address);
    }
    if (response.errorCode !== ErrorCode.NONE)
      throw errorFromCode(response.errorCode, `${channel.address}: ${response.errorMessage}`);
    return response;
  };
  const scram = new ScramClient(user, sasl.password);
  const first = await step('', scram.clientFirst());
  if (first.sessionId === '') throw failed('the broker answered no session id');
  let clientFinal: string;
  try {
    clientFinal = scram.clientFinal(first.message.toString('utf8'));
  } catch (error) {
    throw failed(scramDetail(error));
  }
  const second = await step(first.sessionId, clientFinal);
  if (!second.complete) throw failed('the broker did not complete the handshake');
  try {
    scram.verifyServerFinal(second.message.toString('utf8'));
  } catch (error) {
    // The broker accepted the proof but could not prove that it holds the credential itself.
    throw failed(`the broker did not prove it knows the user (${scramDetail(error)})`);
  }
  return second.sessionId === '' ? first.sessionId : second.sessionId;
}

function scramDetail(error: unknown): string {
  if (error instanceof ScramError) return error.message;
  throw error;
}
