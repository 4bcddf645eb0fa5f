/**
 * The security RPCs (security.proto): Authenticate (the SCRAM-SHA-256 handshake, sessions bound
 * to the caller's connection) and the users and ACLs admin RPCs. Any broker serves them: the
 * admin RPCs are proposed to the controller through the gateway, like CreateTopics, and answered
 * once applied. Who may call what is the call guard's (security/call-guard.ts), not this file's.
 */
import * as grpc from '@grpc/grpc-js';
import { ErrorCode, makeCallError, AclPermission } from '@streambus/proto';
import type {
  AclBinding,
  CreateAclsRequest,
  CreateAclsResponse,
  DeleteAclsRequest,
  DeleteAclsResponse,
  DeleteUserRequest,
  ListAclsRequest,
  ListAclsResponse,
  ListUsersResponse,
  StreamBusHandlers,
  UpsertUserRequest,
  UpsertUserResponse,
} from '@streambus/proto';
import { adminTimeoutMsMax } from '@streambus/proto';
import { rethrowBug } from '../bugs.js';
import type { ControllerCommand, ControllerFailureCode, ControllerResult } from '../controller/commands.js';
import { credentialProblem } from '../controller/security-state.js';
import type { SecurityRecords } from '../controller/security-state.js';
import type { Logger } from '../logging/logger.js';
import type { Acl } from '../security/acl.js';
import { aclProblem, userNamePattern } from '../security/acl.js';
import type { Authenticator } from '../security/authenticator.js';
import { aclsPerRequestMax } from '../security/constants.js';
import { connectionKeyOfPeer } from '../security/sessions.js';

/** The StreamBus RPCs this service serves. */
export type SecurityMethodName =
  'Authenticate' | 'UpsertUser' | 'DeleteUser' | 'ListUsers' | 'CreateAcls' | 'DeleteAcls' | 'ListAcls';

export interface SecurityServiceDeps {
  readonly authenticator: Authenticator;
  readonly records: () => Pick<SecurityRecords, 'users' | 'acls'>;
  /** Proposes through the controller gateway; throws ControllerUnavailableError without a controller. */
  readonly propose: (command: ControllerCommand, deadlineMs: number) => Promise<ControllerResult>;
  readonly logger: Logger;
}

/** The placeholder of a broker built without security (kept for tests that need no SCRAM). */
export function securityHandlersUnavailable(): Pick<StreamBusHandlers, SecurityMethodName> {
  const unimplemented = (_call: unknown, callback: (error: Partial<grpc.StatusObject>) => void): void =>
    callback({ code: grpc.status.UNIMPLEMENTED, details: 'security is not available on this broker' });
  return {
    Authenticate: unimplemented,
    UpsertUser: unimplemented,
    DeleteUser: unimplemented,
    ListUsers: unimplemented,
    CreateAcls: unimplemented,
    DeleteAcls: unimplemented,
    ListAcls: unimplemented,
  };
}

type Answer = { errorCode: ErrorCode; errorMessage: string };

export class SecurityService {
  constructor(private readonly deps: SecurityServiceDeps) {}

  handlers(): Pick<StreamBusHandlers, SecurityMethodName> {
    return {
      Authenticate: (call, callback) => {
        const connection = connectionKeyOfPeer(call.getPeer());
        if (connection === undefined) {
          callback(makeCallError(ErrorCode.AUTHENTICATION_FAILED, 'this connection cannot hold a session'));
          return;
        }
        const outcome = this.deps.authenticator.authenticate(connection, call.request);
        if (outcome.ok) callback(null, outcome.response);
        else callback(makeCallError(outcome.errorCode, outcome.message));
      },
      UpsertUser: this.unary('UpsertUser', (request: UpsertUserRequest) => this.upsertUser(request)),
      DeleteUser: this.unary('DeleteUser', (request: DeleteUserRequest) =>
        this.apply({ type: 'deleteUser', name: request.name }),
      ),
      ListUsers: this.unary('ListUsers', () => Promise.resolve(this.listUsers())),
      CreateAcls: this.unary('CreateAcls', (request: CreateAclsRequest) => this.changeAcls('createAcls', request.acls)),
      DeleteAcls: this.unary('DeleteAcls', (request: DeleteAclsRequest) => this.deleteAcls(request)),
      ListAcls: this.unary('ListAcls', (request: ListAclsRequest) => Promise.resolve(this.listAcls(request))),
    };
  }

  private upsertUser(request: UpsertUserRequest): Promise<UpsertUserResponse> {
    // Checked before proposing: the codec bounds lengths, and a command it cannot read back
    // would be skipped by every broker and never answered.
    const invalid = (errorMessage: string): Promise<UpsertUserResponse> =>
      Promise.resolve({ errorCode: ErrorCode.INVALID_REQUEST, errorMessage });
    if (request.credential === null) return invalid('UpsertUser needs a credential');
    if (!userNamePattern.test(request.name))
      return invalid(`user name "${request.name}" is not 1..64 characters of A-Za-z0-9._@-`);
    const problem = credentialProblem(request.credential);
    if (problem !== undefined) return invalid(`the credential of user ${request.name}: ${problem}`);
    return this.apply({ type: 'upsertUser', name: request.name, credential: request.credential });
  }

  private listUsers(): ListUsersResponse {
    return {
      users: this.deps
        .records()
        .users()
        .map((user) => ({
          name: user.name,
          mechanism: 'SCRAM-SHA-256',
          iterations: user.credential.iterations,
        })),
    };
  }

  private changeAcls(type: 'createAcls', bindings: readonly AclBinding[]): Promise<CreateAclsResponse> {
    if (bindings.length > aclsPerRequestMax)
      return Promise.resolve({
        errorCode: ErrorCode.INVALID_REQUEST,
        errorMessage: `${bindings.length} ACLs in one request, more than ${aclsPerRequestMax}`,
      });
    const problem = bindingsProblem(bindings);
    if (problem !== undefined) return Promise.resolve({ errorCode: ErrorCode.INVALID_REQUEST, errorMessage: problem });
    return this.apply({ type, acls: bindings.map(fromWire) });
  }

  private async deleteAcls(request: DeleteAclsRequest): Promise<DeleteAclsResponse> {
    if (request.acls.length > aclsPerRequestMax)
      return {
        errorCode: ErrorCode.INVALID_REQUEST,
        errorMessage: `${request.acls.length} ACLs in one request, more than ${aclsPerRequestMax}`,
        removed: 0,
      };
    const problem = bindingsProblem(request.acls);
    if (problem !== undefined) return { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: problem, removed: 0 };
    const result = await this.propose({ type: 'deleteAcls', acls: request.acls.map(fromWire) });
    if ('errorCode' in result) return { ...result, removed: 0 };
    if (!result.ok) return { errorCode: errorCodeFor(result.code), errorMessage: result.message, removed: 0 };
    const removed = result.detail.kind === 'aclsRemoved' ? result.detail.removed : 0;
    return { errorCode: ErrorCode.NONE, errorMessage: '', removed };
  }

  private listAcls(request: ListAclsRequest): ListAclsResponse {
    return {
      acls: this.deps
        .records()
        .acls()
        .filter((acl) => request.principal === '' || acl.principal === request.principal)
        .filter((acl) => request.resource === '' || acl.resource === request.resource)
        .map(toWire),
    };
  }

  private async apply(command: ControllerCommand): Promise<Answer> {
    const result = await this.propose(command);
    if ('errorCode' in result) return result;
    if (!result.ok) return { errorCode: errorCodeFor(result.code), errorMessage: result.message };
    return { errorCode: ErrorCode.NONE, errorMessage: '' };
  }

  private async propose(command: ControllerCommand): Promise<ControllerResult | Answer> {
    try {
      return await this.deps.propose(command, adminTimeoutMsMax);
    } catch (error) {
      rethrowBug(error);
      return { errorCode: ErrorCode.REQUEST_TIMED_OUT, errorMessage: (error as Error).message };
    }
  }

  private unary<Req, Res>(name: string, run: (request: Req) => Promise<Res>): grpc.handleUnaryCall<Req, Res> {
    return (call, callback) => {
      run(call.request).then(
        (response) => callback(null, response),
        (error: unknown) => {
          rethrowBug(error);
          this.deps.logger.error(
            { rpc: name, err: error instanceof Error ? error.stack : String(error) },
            'request failed',
          );
          callback(makeCallError(ErrorCode.INTERNAL, `internal error in ${name}; see the broker log`));
        },
      );
    };
  }
}

/** The first malformed binding's problem: checked before proposing, the codec writes only known operations. */
function bindingsProblem(bindings: readonly AclBinding[]): string | undefined {
  for (const binding of bindings) {
    const problem = aclProblem(binding);
    if (problem !== undefined) return problem;
    if (
      binding.permission !== AclPermission.ALLOW &&
      binding.permission !== AclPermission.DENY &&
      binding.permission !== AclPermission.UNSPECIFIED
    )
      return `permission ${String(binding.permission)} is not allow or deny`;
  }
  return undefined;
}

function fromWire(binding: AclBinding): Acl {
  return {
    principal: binding.principal,
    // bindingsProblem checked it is one of the operations.
    operation: binding.operation as Acl['operation'],
    resource: binding.resource,
    permission: binding.permission === AclPermission.DENY ? 'deny' : 'allow',
  };
}

function toWire(acl: Acl): AclBinding {
  return {
    principal: acl.principal,
    operation: acl.operation,
    resource: acl.resource,
    permission: acl.permission === 'deny' ? AclPermission.DENY : AclPermission.ALLOW,
  };
}

function errorCodeFor(code: ControllerFailureCode): ErrorCode {
  switch (code) {
    case 'USER_NOT_FOUND':
      return ErrorCode.USER_NOT_FOUND;
    default:
      return ErrorCode.INVALID_REQUEST;
  }
}
