/**
 * The channel credentials a broker dials a peer with (the peer transport and the forwarder).
 * With TLS: mutual TLS from the broker's client context, and the peer's certificate must name the
 * broker id being dialled (`streambus://broker/<id>`, security.proto "Broker identity"), so Raft
 * traffic and forwarded calls never reach an impostor holding some other certificate of the CA.
 * The host name is not checked: the broker id is the identity, and peers are often dialled by
 * addresses (pod IPs, headless Service names) that a certificate need not list.
 */
import type { PeerCertificate } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import type { NodeId } from '@streambus/raft';
import { brokerIdsOfCertificate } from '../peer-identity.js';
import type { TlsClientSource } from './tls-contexts.js';

/** Credentials to dial broker `brokerId` with now; a new value after a certificate rotation. */
export type PeerCredentialsFor = (brokerId: NodeId) => grpc.ChannelCredentials;

const insecure = grpc.credentials.createInsecure();

/** Plaintext to every peer (security.tls_enabled false). */
export const insecurePeerCredentials: PeerCredentialsFor = () => insecure;

/** `checkServerIdentity` for a dial of broker `brokerId`: its certificate must name that id alone. */
export function checkBrokerIdentity(
  brokerId: NodeId,
): (host: string, certificate: PeerCertificate) => Error | undefined {
  return (host, certificate) => {
    const ids = brokerIdsOfCertificate(certificate);
    if (ids.length === 1 && ids[0] === brokerId) return undefined;
    const named = ids.length === 0 ? 'no broker id' : `broker ${ids.join(', ')}`;
    return new Error(`TLS handshake: ${host} should be broker ${brokerId} but its certificate names ${named}`);
  };
}

/**
 * Channel options of a dial of broker `brokerId`: the TLS server name is `broker-<id>`, not the
 * dialled address. Peers are often dialled by IP, and Node warns (DEP0123) when an IP is used as
 * the TLS server name; the name is not checked anyway (checkBrokerIdentity checks the broker id).
 * Plaintext channels ignore the option.
 */
export function peerChannelOptions(brokerId: NodeId): grpc.ChannelOptions {
  return { 'grpc.ssl_target_name_override': `broker-${brokerId}` };
}

/** Mutual-TLS credentials per peer, rebuilt when the client context rotates. */
export function tlsPeerCredentials(source: TlsClientSource): PeerCredentialsFor {
  const cache = new Map<NodeId, { readonly generation: number; readonly credentials: grpc.ChannelCredentials }>();
  return (brokerId) => {
    const cached = cache.get(brokerId);
    if (cached !== undefined && cached.generation === source.generation) return cached.credentials;
    const credentials = grpc.credentials.createFromSecureContext(source.clientContext(), {
      checkServerIdentity: checkBrokerIdentity(brokerId),
    });
    cache.set(brokerId, { generation: source.generation, credentials });
    return credentials;
  };
}
