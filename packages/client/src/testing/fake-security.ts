/**
 * Security of the fake cluster (security.proto, simplified for client tests): SCRAM-SHA-256
 * handshakes with the proto package's server side, sessions bound to the caller's connection (its
 * peer address), users and ACLs kept in memory. Only Produce (write on the topic: the refused
 * topics' partitions carry AUTHORIZATION_FAILED, nothing of the request is appended) and Fetch
 * (read: the whole call is refused) are authorized, and InitProducerId needs write on some topic; the user and ACL RPCs need a super user. Never
 * for production.
 */
import { randomBytes } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import {
  AclPermission,
  ErrorCode,
  ScramError,
  ScramServerExchange,
  makeCallError,
  scramCredential,
  sessionMetadataKey,
  type AclBinding,
  type ScramCredential,
  type StreamBusHandlers,
} from '@streambus/proto';

/** Options of the fake's security (FakeClusterOptions.security). */
export interface FakeSecurityOptions {
  /** Users and their passwords; turns authentication on. */
  readonly users: Readonly<Record<string, string>>;
  /** Users allowed everything. */
  readonly superUsers?: readonly string[];
}

type SecurityMethod =
  'Authenticate' | 'UpsertUser' | 'DeleteUser' | 'ListUsers' | 'CreateAcls' | 'DeleteAcls' | 'ListAcls';

interface PendingHandshake {
  readonly peer: string;
  readonly exchange: ScramServerExchange;
}

interface Session {
  readonly peer: string;
  readonly user: string;
}

/** Any unary call of the service, as far as the guard needs it. */
interface GuardedCall {
  readonly metadata: grpc.Metadata;
  getPeer(): string;
}

export class FakeSecurity {
  private readonly credentials = new Map<string, ScramCredential>();
  private readonly superUsers: ReadonlySet<string>;
  private readonly acls: AclBinding[] = [];
  private readonly pending = new Map<string, PendingHandshake>();
  private readonly sessions = new Map<string, Session>();
  private readonly fakeSecret = randomBytes(32);
  /** Completed handshakes, for assertions (one per connection, not per call). */
  handshakes = 0;
  /** Authenticate requests received (both steps, failed ones included). */
  authenticateRequests = 0;

  constructor(options: FakeSecurityOptions) {
    for (const [name, password] of Object.entries(options.users))
      this.credentials.set(name, scramCredential(password, { iterations: 4096 }));
    this.superUsers = new Set(options.superUsers ?? []);
  }

  /** Ends every session, as if every connection had closed: the next calls get SESSION_EXPIRED. */
  expireSessions(): void {
    this.sessions.clear();
  }

  /** The user a call's session authenticated, or the error to answer it with. */
  userOf(call: GuardedCall): string | Partial<grpc.StatusObject> {
    const id = call.metadata.get(sessionMetadataKey)[0];
    const session = id === undefined ? undefined : this.sessions.get(String(id));
    if (session === undefined || session.peer !== call.getPeer())
      return makeCallError(ErrorCode.SESSION_EXPIRED, 'no session on this connection: authenticate first');
    return session.user;
  }

  /** True when `user` may do `operation` on `resource` (deny wins; super users may do everything). */
  allows(user: string, operation: string, resource: string): boolean {
    if (this.superUsers.has(user)) return true;
    const matching = this.acls.filter(
      (acl) =>
        (acl.principal === `user:${user}` || acl.principal === 'user:*') &&
        (acl.operation === operation || acl.operation === 'all') &&
        (acl.resource === resource || (acl.resource.endsWith('*') && resource.startsWith(acl.resource.slice(0, -1)))),
    );
    if (matching.some((acl) => acl.permission === AclPermission.DENY)) return false;
    return matching.some((acl) => acl.permission === AclPermission.ALLOW);
  }

  /** True when `user` may do `operation` on some topic (Kafka's IdempotentWrite for InitProducerId). */
  allowsAnyTopic(user: string, operation: string): boolean {
    if (this.superUsers.has(user)) return true;
    return this.acls.some(
      (acl) =>
        (acl.principal === `user:${user}` || acl.principal === 'user:*') &&
        (acl.operation === operation || acl.operation === 'all') &&
        acl.resource.startsWith('topic:') &&
        acl.permission === AclPermission.ALLOW,
    );
  }

  /** The security RPCs. */
  handlers(): Pick<StreamBusHandlers, SecurityMethod> {
    const superOnly = (call: GuardedCall): Partial<grpc.StatusObject> | undefined => {
      const user = this.userOf(call);
      if (typeof user !== 'string') return user;
      return this.superUsers.has(user)
        ? undefined
        : makeCallError(ErrorCode.AUTHORIZATION_FAILED, `user ${user} may not alter cluster`);
    };
    return {
      Authenticate: (call, callback) => {
        this.authenticateRequests++;
        const request = call.request;
        const peer = call.getPeer();
        const message = Buffer.from(request.message).toString('utf8');
        const failed = (user: string): void =>
          callback(makeCallError(ErrorCode.AUTHENTICATION_FAILED, `authentication failed for user ${user}`));
        if (request.sessionId === '') {
          const exchange = new ScramServerExchange({
            lookup: (name) => this.credentials.get(name),
            fakeCredentialSecret: this.fakeSecret,
          });
          let serverFirst: string;
          try {
            serverFirst = exchange.serverFirst(message);
          } catch (error) {
            if (!(error instanceof ScramError)) throw error;
            return failed(exchange.username ?? '');
          }
          const sessionId = randomBytes(16).toString('hex');
          this.pending.set(sessionId, { peer, exchange });
          return callback(null, {
            errorCode: ErrorCode.NONE,
            errorMessage: '',
            sessionId,
            message: Buffer.from(serverFirst),
            complete: false,
            principal: '',
          });
        }
        const pending = this.pending.get(request.sessionId);
        this.pending.delete(request.sessionId);
        if (pending === undefined || pending.peer !== peer)
          return callback(makeCallError(ErrorCode.SESSION_EXPIRED, 'no such handshake on this connection'));
        const user = pending.exchange.username ?? '';
        let serverFinal: string;
        try {
          serverFinal = pending.exchange.serverFinal(message);
        } catch (error) {
          if (!(error instanceof ScramError)) throw error;
          return failed(user);
        }
        this.sessions.set(request.sessionId, { peer, user });
        this.handshakes++;
        callback(null, {
          errorCode: ErrorCode.NONE,
          errorMessage: '',
          sessionId: request.sessionId,
          message: Buffer.from(serverFinal),
          complete: true,
          principal: `user:${user}`,
        });
      },
      UpsertUser: (call, callback) => {
        const refused = superOnly(call);
        if (refused !== undefined) return callback(refused);
        const credential = call.request.credential;
        if (credential === null)
          return callback(makeCallError(ErrorCode.INVALID_REQUEST, 'UpsertUser needs a credential'));
        this.credentials.set(call.request.name, {
          salt: Buffer.from(credential.salt),
          iterations: credential.iterations,
          storedKey: Buffer.from(credential.storedKey),
          serverKey: Buffer.from(credential.serverKey),
        });
        callback(null, { errorCode: ErrorCode.NONE, errorMessage: '' });
      },
      DeleteUser: (call, callback) => {
        const refused = superOnly(call);
        if (refused !== undefined) return callback(refused);
        if (!this.credentials.delete(call.request.name))
          return callback(null, {
            errorCode: ErrorCode.USER_NOT_FOUND,
            errorMessage: `no user ${call.request.name}`,
          });
        callback(null, { errorCode: ErrorCode.NONE, errorMessage: '' });
      },
      ListUsers: (call, callback) => {
        const refused = superOnly(call);
        if (refused !== undefined) return callback(refused);
        callback(null, {
          users: [...this.credentials].map(([name, credential]) => ({
            name,
            mechanism: 'SCRAM-SHA-256',
            iterations: credential.iterations,
          })),
        });
      },
      CreateAcls: (call, callback) => {
        const refused = superOnly(call);
        if (refused !== undefined) return callback(refused);
        for (const acl of call.request.acls) if (!this.acls.some((known) => sameAcl(known, acl))) this.acls.push(acl);
        callback(null, { errorCode: ErrorCode.NONE, errorMessage: '' });
      },
      DeleteAcls: (call, callback) => {
        const refused = superOnly(call);
        if (refused !== undefined) return callback(refused);
        let removed = 0;
        for (const acl of call.request.acls) {
          const at = this.acls.findIndex((known) => sameAcl(known, acl));
          if (at < 0) continue;
          this.acls.splice(at, 1);
          removed++;
        }
        callback(null, { errorCode: ErrorCode.NONE, errorMessage: '', removed });
      },
      ListAcls: (call, callback) => {
        const refused = superOnly(call);
        if (refused !== undefined) return callback(refused);
        const { principal, resource } = call.request;
        callback(null, {
          acls: this.acls.filter(
            (acl) =>
              (principal === '' || acl.principal === principal) && (resource === '' || acl.resource === resource),
          ),
        });
      },
    };
  }
}

function sameAcl(a: AclBinding, b: AclBinding): boolean {
  return (
    a.principal === b.principal &&
    a.operation === b.operation &&
    a.resource === b.resource &&
    a.permission === b.permission
  );
}
