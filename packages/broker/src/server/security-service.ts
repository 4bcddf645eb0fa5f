/**
 * The security RPCs (security.proto): the SCRAM-SHA-256 handshake, users and ACLs.
 * Until authentication is built these answer UNIMPLEMENTED.
 */
import * as grpc from '@grpc/grpc-js';
import type { StreamBusHandlers } from '@streambus/proto';

/** The StreamBus RPCs this service serves. */
export type SecurityMethodName =
  'Authenticate' | 'UpsertUser' | 'DeleteUser' | 'ListUsers' | 'CreateAcls' | 'DeleteAcls' | 'ListAcls';

export function securityHandlersUnavailable(): Pick<StreamBusHandlers, SecurityMethodName> {
  const unimplemented = (_call: unknown, callback: (error: Partial<grpc.StatusObject>) => void): void =>
    callback({ code: grpc.status.UNIMPLEMENTED, details: 'security is not available in this version' });
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
