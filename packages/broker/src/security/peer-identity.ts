/**
 * Who is at the other end of a call, as its TLS connection proves it (security.proto, "Broker
 * identity"): a broker certificate signed by the cluster CA names its broker id in a URI subject
 * alternative name `streambus://broker/<id>`.
 */
import type { PeerCertificate } from 'node:tls';
import { brokerIdentityUriPrefix } from '@streambus/proto';

/** What a gRPC server call exposes of its connection (grpc-js `getAuthContext()`). */
export interface CallWithAuthContext {
  getAuthContext(): { transportSecurityType?: string; sslPeerCertificate?: PeerCertificate };
}

/** The broker ids a certificate's SAN names (`URI:streambus://broker/<id>`); usually one. */
export function brokerIdsOfCertificate(certificate: PeerCertificate | undefined): number[] {
  return brokerIdsOfSubjectAltName(certificate?.subjectaltname);
}

/** The broker ids a SAN text names, as node:tls and X509Certificate.subjectAltName spell it. */
export function brokerIdsOfSubjectAltName(san: string | undefined): number[] {
  if (san === undefined || san === '') return [];
  const ids: number[] = [];
  for (const entry of san.split(', ')) {
    if (!entry.startsWith('URI:')) continue;
    const uri = entry.slice('URI:'.length);
    if (!uri.startsWith(brokerIdentityUriPrefix)) continue;
    const digits = uri.slice(brokerIdentityUriPrefix.length);
    if (!/^[1-9][0-9]{0,9}$/.test(digits)) continue;
    const id = Number(digits);
    if (id <= 0x7fffffff) ids.push(id);
  }
  return ids;
}

/**
 * The broker id the call's connection proved with a CA-verified certificate, or undefined (no TLS,
 * no client certificate, not verified by the CA, or no broker SAN). grpc-js reports a peer
 * certificate only when the TLS socket says `authorized`.
 */
export function provenBrokerId(call: CallWithAuthContext): number | undefined {
  const context = call.getAuthContext();
  const ids = brokerIdsOfCertificate(context.sslPeerCertificate);
  return ids.length === 1 ? ids[0] : undefined;
}
