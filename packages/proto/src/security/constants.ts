// Bounds of SCRAM-SHA-256 (RFC 5802, RFC 7677) as StreamBus uses it (security.proto).
import assert from 'node:assert/strict';

/** Fewest PBKDF2 iterations a credential may have: RFC 7677 section 4 asks for at least 4096. */
export const scramIterationsMin = 4096;
/** Most iterations a client accepts: more would let a hostile server burn the client's CPU. */
export const scramIterationsMax = 1_000_000;
/** Iterations of a new credential unless told otherwise. */
export const scramIterationsDefault = 4096;
/** Bytes of a new credential's random salt (security.proto asks for at least 16). */
export const scramSaltBytesDefault = 16;
/** Fewest salt bytes a credential may have. */
export const scramSaltBytesMin = 16;
/** Most salt bytes a credential may have: it is replicated and sent on every handshake. */
export const scramSaltBytesMax = 64;
/** Bytes of SHA-256 output: StoredKey, ServerKey, proofs and signatures. */
export const scramKeyBytes = 32;
/** Random bytes of a nonce (client's or server's part), 24 base64 characters. */
export const scramNonceBytes = 18;
/** Longest SCRAM message accepted (security.proto: at most 4096 bytes). */
export const scramMessageBytesMax = 4096;
/** Longest password accepted, in characters after normalization. */
export const scramPasswordLengthMax = 1024;

assert.ok(scramIterationsMin <= scramIterationsDefault, 'the default iterations must be allowed');
assert.ok(scramIterationsDefault <= scramIterationsMax, 'the default iterations must be accepted by clients');
assert.ok(scramSaltBytesMin <= scramSaltBytesDefault, 'the default salt must be long enough');
assert.ok(scramSaltBytesDefault <= scramSaltBytesMax, 'the default salt must not be too long');
