import { ErrorCode, ScramClient, scramCredential, ScramServerExchange } from '@streambus/proto';
import type { AuthenticateRequest, ScramCredential } from '@streambus/proto';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../logging/logger.js';
import { Authenticator } from './authenticator.js';
import type { AuthenticateOutcome } from './authenticator.js';
import { connectionKey, connectionKeyOfPeer, SessionRegistry } from './sessions.js';

const limits = { handshakeTimeoutMs: 10_000, sessionsPerConnectionMax: 16, sessionsMax: 40 };

function harness() {
  let now = 1_000;
  let next = 0;
  const sessions = new SessionRegistry(
    limits,
    () => now,
    () => `s${++next}`,
  );
  const lines: string[] = [];
  const logger = createLogger({ level: 'debug', destination: { write: (line: string) => lines.push(line) } });
  const users = new Map<string, ScramCredential>([['alice', scramCredential('alice-pw-7f3k')]]);
  const authenticator = new Authenticator({
    sessions,
    credential: (name) => users.get(name),
    fakeCredentialSecret: Buffer.alloc(32, 9),
    logger,
  });
  return {
    sessions,
    authenticator,
    lines,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

const request = (sessionId: string, message: string): AuthenticateRequest => ({
  mechanism: 'SCRAM-SHA-256',
  sessionId,
  message: Buffer.from(message),
});

function ok(outcome: AuthenticateOutcome) {
  if (!outcome.ok) throw new Error(`expected success, got ${outcome.message}`);
  return outcome.response;
}

/** A full handshake on `connection`; the outcome of step 2. */
function handshake(h: ReturnType<typeof harness>, connection: string, user: string, password: string) {
  const client = new ScramClient(user, password);
  const first = ok(h.authenticator.authenticate(connection, request('', client.clientFirst())));
  const final = h.authenticator.authenticate(
    connection,
    request(first.sessionId, client.clientFinal(first.message.toString())),
  );
  return { client, first, final };
}

describe('SCRAM sessions bound to the connection', () => {
  it('the right password makes a session of user:alice on that connection only', () => {
    const h = harness();
    const { client, final } = handshake(h, '127.0.0.1:5000', 'alice', 'alice-pw-7f3k');
    const response = ok(final);
    expect(response).toMatchObject({ complete: true, principal: 'user:alice' });
    expect(() => client.verifyServerFinal(response.message.toString())).not.toThrow();
    expect(h.sessions.principalOf('127.0.0.1:5000', response.sessionId)).toEqual({ ok: true, principal: 'user:alice' });
    expect(h.sessions.principalOf('127.0.0.1:5001', response.sessionId)).toEqual({
      ok: false,
      reason: 'other-connection',
    });
    h.sessions.connectionClosed('127.0.0.1:5000');
    expect(h.sessions.principalOf('127.0.0.1:5000', response.sessionId)).toEqual({ ok: false, reason: 'unknown' });
  });

  it('a wrong password and an unknown user get the identical answer, and neither password is logged', () => {
    const h = harness();
    const wrong = handshake(h, 'c1:1', 'alice', 'guess-pw-1').final;
    const unknown = handshake(h, 'c1:1', 'mallory', 'guess-pw-1').final;
    expect(wrong).toEqual({
      ok: false,
      errorCode: ErrorCode.AUTHENTICATION_FAILED,
      message: 'authentication failed for user alice',
    });
    expect(unknown).toEqual({
      ok: false,
      errorCode: ErrorCode.AUTHENTICATION_FAILED,
      message: 'authentication failed for user mallory',
    });
    handshake(h, 'c1:1', 'alice', 'alice-pw-7f3k');
    const log = h.lines.join('');
    expect(log).toContain('authentication failed');
    expect(log).not.toContain('guess-pw-1');
    expect(log).not.toContain('alice-pw-7f3k');
    expect(h.sessions.size).toBe(1);
  });

  it('step 2 on another connection, or after 10 s, is SESSION_EXPIRED', () => {
    const h = harness();
    const client = new ScramClient('alice', 'alice-pw-7f3k');
    const first = ok(h.authenticator.authenticate('a:1', request('', client.clientFirst())));
    const clientFinal = client.clientFinal(first.message.toString());
    const elsewhere = h.authenticator.authenticate('b:2', request(first.sessionId, clientFinal));
    expect(elsewhere.ok ? 0 : elsewhere.errorCode).toBe(ErrorCode.SESSION_EXPIRED);
    h.advance(10_001);
    const late = h.authenticator.authenticate('a:1', request(first.sessionId, clientFinal));
    expect(late.ok ? 0 : late.errorCode).toBe(ErrorCode.SESSION_EXPIRED);
    expect(h.sessions.size).toBe(0);
  });

  it('at most 16 sessions per connection; expired handshakes make room', () => {
    const h = harness();
    const exchange = () => new ScramServerExchange({ lookup: () => undefined, fakeCredentialSecret: Buffer.alloc(16) });
    for (let index = 0; index < 16; index++) expect(h.sessions.begin('a:1', exchange()).ok).toBe(true);
    expect(h.sessions.begin('a:1', exchange())).toEqual({ ok: false, reason: 'connection-full' });
    expect(h.sessions.begin('b:1', exchange()).ok).toBe(true);
    h.advance(10_001);
    expect(h.sessions.begin('a:1', exchange()).ok).toBe(true);
  });

  it('a global bound over all connections', () => {
    const h = harness();
    const exchange = () => new ScramServerExchange({ lookup: () => undefined, fakeCredentialSecret: Buffer.alloc(16) });
    for (let index = 0; index < limits.sessionsMax; index++)
      expect(h.sessions.begin(`c:${index}`, exchange()).ok).toBe(true);
    expect(h.sessions.begin('d:1', exchange())).toEqual({ ok: false, reason: 'broker-full' });
  });

  it('connection keys: the listener and getPeer() agree', () => {
    expect(connectionKey('127.0.0.1', 4000)).toBe('127.0.0.1:4000');
    expect(connectionKey('::1', 4000)).toBe('::1:4000');
    expect(connectionKeyOfPeer('127.0.0.1:4000')).toBe('127.0.0.1:4000');
    expect(connectionKeyOfPeer('::1:4000')).toBe('::1:4000');
    expect(connectionKeyOfPeer('unknown')).toBeUndefined();
  });
});
