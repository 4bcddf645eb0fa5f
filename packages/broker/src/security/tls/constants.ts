/** Bounds of the TLS material and of its reloading (security/tls). */
import { assert } from '@streambus/raft';

/** How often the certificate, key and CA files are re-read to notice a rotation. */
export const tlsReloadPollMsDefault = 5_000;
/** Reloads are never polled faster than this (tests use it; a broker keeps the default). */
export const tlsReloadPollMsMin = 50;
/** A PEM file larger than this is refused: certificate chains and keys are a few KiB. */
export const tlsFileBytesMax = 1024 * 1024;
/** Certificates read from one PEM file (a chain, or a CA bundle). */
export const tlsCertificatesPerFileMax = 64;
/** Links followed from the broker's certificate up to a CA certificate. */
export const tlsChainLengthMax = 8;

assert(tlsReloadPollMsMin <= tlsReloadPollMsDefault, 'the default reload poll respects the floor');
assert(tlsChainLengthMax <= tlsCertificatesPerFileMax, 'a chain fits in one file');
