/**
 * SCRAM sessions bound to the connection they were made on (security.proto). A session is
 * keyed by its id and remembers its connection, `connectionKey` of the remote address and port
 * (what grpc-js `call.getPeer()` reports, and what the ClientListener sees when the socket
 * closes). A call that names a session of another connection is refused like an unknown one.
 *
 * Pure apart from the injected clock and id source: the broker wires the clock, the listener's
 * close hook and the Authenticate handler (authenticator.ts) to it.
 *
 * A remote address:port names one TCP connection while it is open; the kernel reuses the pair
 * only after the close, and the close ends the connection's sessions, so a later connection
 * with the same pair never inherits them.
 */
import type { ScramServerExchange } from '@streambus/proto';
import { assert } from '@streambus/raft';

export interface SessionLimits {
  readonly handshakeTimeoutMs: number;
  readonly sessionsPerConnectionMax: number;
  readonly sessionsMax: number;
}

/** A session: a handshake under way (`exchange`) or authenticated (`principal`). */
export interface Session {
  readonly id: string;
  readonly connection: string;
  readonly startedAtMs: number;
  /** The handshake's server side, until it completes. */
  exchange: ScramServerExchange | undefined;
  /** "user:NAME" once authenticated. */
  principal: string | undefined;
}

export type SessionLookup =
  | { readonly ok: true; readonly principal: string }
  | { readonly ok: false; readonly reason: 'unknown' | 'other-connection' | 'unfinished' };

export type SessionBegin =
  | { readonly ok: true; readonly session: Session }
  | { readonly ok: false; readonly reason: 'connection-full' | 'broker-full' };

/** "address:port" exactly as grpc-js 1.14's getPeer() builds it (no brackets for IPv6). */
export function connectionKey(address: string, port: number): string {
  return `${address}:${port}`;
}

/**
 * A getPeer() string as a connection key, or undefined when grpc-js could not name the socket
 * ("unknown", or an address without a port): such a call cannot be bound to a session.
 */
export function connectionKeyOfPeer(peer: string): string | undefined {
  const key = peer.replace(/^ipv[46]:/, '');
  return /:\d+$/.test(key) && key !== 'unknown' ? key : undefined;
}

export class SessionRegistry {
  private readonly byId = new Map<string, Session>();
  private readonly byConnection = new Map<string, Set<string>>();

  constructor(
    private readonly limits: SessionLimits,
    private readonly nowMs: () => number,
    private readonly newId: () => string,
  ) {
    assert(limits.sessionsPerConnectionMax <= limits.sessionsMax, 'a connection can hold its sessions');
  }

  get size(): number {
    return this.byId.size;
  }

  /** Starts a handshake on `connection`, after dropping that connection's expired handshakes. */
  begin(connection: string, exchange: ScramServerExchange): SessionBegin {
    this.expireHandshakes(connection);
    const ids = this.byConnection.get(connection);
    if ((ids?.size ?? 0) >= this.limits.sessionsPerConnectionMax) return { ok: false, reason: 'connection-full' };
    if (this.byId.size >= this.limits.sessionsMax) {
      this.expireAllHandshakes();
      if (this.byId.size >= this.limits.sessionsMax) return { ok: false, reason: 'broker-full' };
    }
    const id = this.newId();
    assert(!this.byId.has(id), 'session ids are unique');
    const session: Session = { id, connection, startedAtMs: this.nowMs(), exchange, principal: undefined };
    this.byId.set(id, session);
    const set = ids ?? new Set<string>();
    set.add(id);
    this.byConnection.set(connection, set);
    return { ok: true, session };
  }

  /** The handshake `id` under way on `connection`, unless it expired or belongs elsewhere. */
  handshake(connection: string, id: string): Session | undefined {
    const session = this.byId.get(id);
    if (session === undefined || session.connection !== connection || session.exchange === undefined) return undefined;
    if (this.nowMs() - session.startedAtMs > this.limits.handshakeTimeoutMs) {
      this.drop(id);
      return undefined;
    }
    return session;
  }

  /** Marks a handshake done: the session is now `principal`'s. */
  complete(session: Session, principal: string): void {
    assert(this.byId.get(session.id) === session, 'a session completes once, while registered');
    assert(session.exchange !== undefined, 'a session completes after its handshake');
    session.exchange = undefined;
    session.principal = principal;
  }

  drop(id: string): void {
    const session = this.byId.get(id);
    if (session === undefined) return;
    this.byId.delete(id);
    const ids = this.byConnection.get(session.connection);
    ids?.delete(id);
    if (ids !== undefined && ids.size === 0) this.byConnection.delete(session.connection);
  }

  /** Who a call on `connection` naming session `id` is. */
  principalOf(connection: string, id: string): SessionLookup {
    const session = this.byId.get(id);
    if (session === undefined) return { ok: false, reason: 'unknown' };
    if (session.connection !== connection) return { ok: false, reason: 'other-connection' };
    if (session.principal === undefined) return { ok: false, reason: 'unfinished' };
    return { ok: true, principal: session.principal };
  }

  /** The connection closed (ClientListener's hook): its sessions end. */
  connectionClosed(connection: string): void {
    for (const id of [...(this.byConnection.get(connection) ?? [])]) this.drop(id);
  }

  private expireHandshakes(connection: string): void {
    for (const id of [...(this.byConnection.get(connection) ?? [])]) this.expireIfStale(id);
  }

  private expireAllHandshakes(): void {
    for (const id of [...this.byId.keys()]) this.expireIfStale(id);
  }

  private expireIfStale(id: string): void {
    const session = this.byId.get(id);
    if (session === undefined || session.exchange === undefined) return;
    if (this.nowMs() - session.startedAtMs > this.limits.handshakeTimeoutMs) this.drop(id);
  }
}
