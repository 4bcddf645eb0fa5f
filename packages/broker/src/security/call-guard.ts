/**
 * The ONE wrapper every StreamBus handler goes through (ClientService, GroupsService,
 * OperationsService and the security service alike: the broker wraps the assembled handler map
 * once, see guardHandlers). In order:
 *
 *  1. Forwarded-call guard, whenever TLS is on (even with authentication off): a call carrying
 *     `streambus-forwarded-by: N` is served only when its connection proved broker N by
 *     certificate (provenBrokerId), else UNAUTHENTICATED. Such a call is authorized as broker N:
 *     the forwarding broker ran this same guard on the user's call before forwarding it.
 *  2. With authentication on, the principal: a broker certificate (broker:<id>), the session of
 *     `streambus-session` made on this very connection (user:<name>), or, with
 *     security.tls_client_auth, a CA-verified client certificate (user:<CN>). None: UNAUTHENTICATED
 *     with SESSION_EXPIRED. Authenticate alone needs none.
 *  3. The RPC's needs from rpc-permissions.ts, checked against the local controller state's ACLs.
 *     Every broker applies the controller log, so that state is the ACL cache; it may lag the
 *     controller leader by the replication delay (milliseconds normally; an election timeout at
 *     worst), so an ACL just removed can still allow a call on a broker that has not applied it.
 *     A refusal is PERMISSION_DENIED with AUTHORIZATION_FAILED ("user alice may not write topic
 *     orders"); an all-topics Metadata and ListGroups leave out what may not be described.
 */
import type * as grpc from '@grpc/grpc-js';
import { ErrorCode, makeCallError, sessionMetadataKey } from '@streambus/proto';
import type { StreamBusHandler, StreamBusHandlers, StreamBusMethodName, StreamBusMethods } from '@streambus/proto';
import type { AclContext, Principal } from './acl.js';
import { isAllowed } from './acl.js';
import type { CallWithAuthContext } from './peer-identity.js';
import { brokerIdsOfCertificate, provenBrokerId } from './peer-identity.js';
import { splitByGroup, splitByTopic } from './per-entry.js';
import { decideCall, describeNeed, needMet, rpcRules } from './rpc-permissions.js';
import { connectionKeyOfPeer } from './sessions.js';
import type { SessionRegistry } from './sessions.js';

/** The metadata key of a forwarded call (server/forwarder.ts sets it); repeated here to keep security/ free of server/. */
export const forwardedByMetadataKey = 'streambus-forwarded-by';

export interface CallGuardOptions {
  readonly tlsEnabled: boolean;
  readonly authEnabled: boolean;
  readonly tlsClientAuth: boolean;
  readonly sessions: SessionRegistry;
  /** The ACLs and super users as this broker's controller state has them now. */
  readonly aclContext: () => AclContext;
  /** Whether the user still exists: a deleted user's sessions end at their next call. */
  readonly userExists: (name: string) => boolean;
}

type GuardedCall = grpc.ServerUnaryCall<unknown, unknown> & CallWithAuthContext;

export type Identification =
  | { readonly ok: true; readonly principal: Principal | undefined }
  | { readonly ok: false; readonly error: Partial<grpc.StatusObject> };

export class CallGuard {
  constructor(private readonly options: CallGuardOptions) {}

  /** Steps 1 and 2: who makes this call (undefined with authentication off and no forward). */
  identify(call: GuardedCall, method: StreamBusMethodName): Identification {
    const forwardedBy = call.metadata.get(forwardedByMetadataKey)[0];
    if (this.options.tlsEnabled && forwardedBy !== undefined) {
      const claimed = Number(String(forwardedBy));
      const proven = provenBrokerId(call);
      if (proven === undefined || proven !== claimed)
        return refuse(
          ErrorCode.AUTHENTICATION_FAILED,
          `a call forwarded by broker ${String(forwardedBy)} must come over that broker's certificate`,
        );
      return { ok: true, principal: { kind: 'broker', brokerId: proven } };
    }
    if (!this.options.authEnabled || rpcRules[method].public === true) return { ok: true, principal: undefined };
    const brokerId = provenBrokerId(call);
    if (brokerId !== undefined) return { ok: true, principal: { kind: 'broker', brokerId } };
    const sessionId = call.metadata.get(sessionMetadataKey)[0];
    const connection = connectionKeyOfPeer(call.getPeer());
    if (sessionId !== undefined && connection !== undefined) {
      const found = this.options.sessions.principalOf(connection, String(sessionId));
      const name = found.ok ? found.principal.slice('user:'.length) : undefined;
      if (name !== undefined && this.options.userExists(name)) return { ok: true, principal: { kind: 'user', name } };
    }
    const certificate = call.getAuthContext().sslPeerCertificate;
    const commonName = certificate?.subject?.CN;
    if (
      this.options.tlsClientAuth &&
      typeof commonName === 'string' &&
      commonName !== '' &&
      brokerIdsOfCertificate(certificate).length === 0 &&
      !(certificate?.subjectaltname ?? '').includes('URI:streambus://')
    )
      return { ok: true, principal: { kind: 'user', name: commonName } };
    return refuse(
      ErrorCode.SESSION_EXPIRED,
      sessionId === undefined
        ? 'this call needs a session: Authenticate on this connection, then send streambus-session'
        : 'the session is unknown on this connection or ended; authenticate again on this connection',
    );
  }

  /** Wraps one handler with the three steps. */
  wrap<M extends StreamBusMethodName>(method: M, handler: StreamBusHandler<M>): StreamBusHandler<M> {
    const rule = rpcRules[method];
    return (call, callback) => {
      const identified = this.identify(call, method);
      if (!identified.ok) {
        callback(identified.error);
        return;
      }
      const principal = identified.principal;
      if (principal === undefined || principal.kind === 'broker') {
        handler(call, callback);
        return;
      }
      const context = this.options.aclContext();
      // Answered per entry: the refused topics or groups get AUTHORIZATION_FAILED in their entries.
      const entryNeed = rule.topicNeed ?? rule.groupNeed;
      if (entryNeed !== undefined) {
        const refusal = (name: string): string | undefined => {
          const need = entryNeed(name);
          return needMet(context, principal, need) ? undefined : describeNeed(principal, need, method);
        };
        const split =
          rule.topicNeed === undefined
            ? splitByGroup(method, call.request, refusal)
            : splitByTopic(method, call.request, refusal);
        if (split !== undefined) {
          if (split.allowedRequest === undefined) {
            callback(null, split.merge(undefined));
            return;
          }
          (call as { request: unknown }).request = split.allowedRequest;
          handler(call, (error, value, trailer, flags) => {
            if (error === null && value !== undefined && value !== null)
              callback(null, split.merge(value), trailer, flags);
            else callback(error, value, trailer, flags);
          });
          return;
        }
      }
      const decision = decideCall(context, principal, method, call.request);
      if (!decision.allowed) {
        callback(makeCallError(ErrorCode.AUTHORIZATION_FAILED, decision.message));
        return;
      }
      if (rule.filter === undefined) {
        handler(call, callback);
        return;
      }
      handler(call, (error, value, trailer, flags) => {
        if (error === null && value !== undefined && value !== null)
          callback(null, filterAnswer(method, value, context, principal) as typeof value, trailer, flags);
        else callback(error, value, trailer, flags);
      });
    };
  }
}

/** Wraps every handler of the map (the broker calls this once, where it registers the service). */
export function guardHandlers(guard: CallGuard, handlers: StreamBusHandlers): StreamBusHandlers {
  const wrapped: Partial<Record<StreamBusMethodName, unknown>> = {};
  for (const method of Object.keys(handlers) as StreamBusMethodName[])
    wrapped[method] = guard.wrap(method, handlers[method] as StreamBusHandler<typeof method>);
  return wrapped as StreamBusHandlers;
}

/** Leaves out of list answers what the principal may not describe (Kafka's behaviour). */
function filterAnswer(method: StreamBusMethodName, value: unknown, context: AclContext, principal: Principal): unknown {
  if (method === 'Metadata') {
    const answer = value as StreamBusMethods['Metadata']['response'];
    return {
      ...answer,
      topics: answer.topics.filter((entry) =>
        isAllowed(context, principal, 'describe', { kind: 'topic', name: entry.name }),
      ),
    };
  }
  if (method === 'ListGroups') {
    const answer = value as StreamBusMethods['ListGroups']['response'];
    return {
      ...answer,
      groups: answer.groups.filter((entry) =>
        isAllowed(context, principal, 'describe', { kind: 'group', name: entry.groupId }),
      ),
    };
  }
  return value;
}

function refuse(code: ErrorCode, message: string): Identification {
  const error = makeCallError(code, message);
  // Both are UNAUTHENTICATED by grpcStatusForErrorCode; the code says which.
  return { ok: false, error };
}
