/**
 * The Authenticate RPC's logic (security.proto): step 1 starts a SCRAM-SHA-256 handshake and a
 * session on the caller's connection, step 2 checks the proof and makes the session the user's.
 * Every failure of a handshake (malformed message, unknown user, wrong proof) gives the same
 * error code and text, "authentication failed for user <name>", so an answer never says whether
 * a user exists; why it failed goes to the log (never a password or a proof).
 */
import type { AuthenticateRequest, AuthenticateResponse, ScramCredential } from '@streambus/proto';
import {
  ErrorCode,
  ScramError,
  ScramServerExchange,
  scramMessageBytesMax,
  scramSha256Mechanism,
} from '@streambus/proto';
import type { Logger } from '../logging/logger.js';
import type { SessionRegistry } from './sessions.js';

export type AuthenticateOutcome =
  | { readonly ok: true; readonly response: AuthenticateResponse }
  | { readonly ok: false; readonly errorCode: ErrorCode; readonly message: string };

export interface AuthenticatorOptions {
  readonly sessions: SessionRegistry;
  /** The user's credential from the local controller state; undefined when there is none. */
  readonly credential: (name: string) => ScramCredential | undefined;
  /** Per-broker secret for unknown users' fake credentials (see ScramServerExchange). */
  readonly fakeCredentialSecret: Buffer;
  readonly logger?: Logger;
}

export class Authenticator {
  constructor(private readonly options: AuthenticatorOptions) {}

  authenticate(connection: string, request: AuthenticateRequest): AuthenticateOutcome {
    if (request.mechanism !== scramSha256Mechanism)
      return {
        ok: false,
        errorCode: ErrorCode.AUTHENTICATION_FAILED,
        message: `mechanism "${request.mechanism}" is not supported; use ${scramSha256Mechanism}`,
      };
    if (request.message.length > scramMessageBytesMax) return this.failed(connection, '', 'message too long');
    const message = request.message.toString('utf8');
    return request.sessionId === ''
      ? this.first(connection, message)
      : this.final(connection, request.sessionId, message);
  }

  private first(connection: string, clientFirst: string): AuthenticateOutcome {
    const exchange = new ScramServerExchange({
      lookup: (name) => this.options.credential(name),
      fakeCredentialSecret: this.options.fakeCredentialSecret,
    });
    let serverFirst: string;
    try {
      serverFirst = exchange.serverFirst(clientFirst);
    } catch (error: unknown) {
      if (!(error instanceof ScramError)) throw error;
      return this.failed(connection, exchange.username ?? '', error.code);
    }
    const begun = this.options.sessions.begin(connection, exchange);
    if (!begun.ok)
      return {
        ok: false,
        errorCode: ErrorCode.AUTHENTICATION_FAILED,
        message:
          begun.reason === 'connection-full'
            ? 'this connection already holds 16 sessions; reuse one or open another connection'
            : 'this broker holds too many sessions; retry later or on another broker',
      };
    return { ok: true, response: response(begun.session.id, serverFirst, false, '') };
  }

  private final(connection: string, sessionId: string, clientFinal: string): AuthenticateOutcome {
    const sessions = this.options.sessions;
    const session = sessions.handshake(connection, sessionId);
    const exchange = session?.exchange;
    if (session === undefined || exchange === undefined)
      return {
        ok: false,
        errorCode: ErrorCode.SESSION_EXPIRED,
        message: 'the handshake is unknown on this connection or expired (10 s); authenticate again',
      };
    const username = exchange.username ?? '';
    try {
      const serverFinal = exchange.serverFinal(clientFinal);
      const principal = `user:${username}`;
      sessions.complete(session, principal);
      this.options.logger?.info({ principal, connection }, 'authenticated');
      return { ok: true, response: response(session.id, serverFinal, true, principal) };
    } catch (error: unknown) {
      if (!(error instanceof ScramError)) throw error;
      sessions.drop(session.id);
      return this.failed(connection, username, error.code);
    }
  }

  private failed(connection: string, username: string, reason: string): AuthenticateOutcome {
    this.options.logger?.warn({ user: username, connection, reason }, 'authentication failed');
    return {
      ok: false,
      errorCode: ErrorCode.AUTHENTICATION_FAILED,
      message: `authentication failed for user ${username}`,
    };
  }
}

function response(sessionId: string, message: string, complete: boolean, principal: string): AuthenticateResponse {
  return {
    errorCode: ErrorCode.NONE,
    errorMessage: '',
    sessionId,
    message: Buffer.from(message, 'utf8'),
    complete,
    principal,
  };
}
