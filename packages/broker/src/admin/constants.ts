/** Bounds of the admin HTTP server. Names carry units last. */
import { assert } from '@streambus/raft';

/** Probes and scrapes send tiny requests; anything bigger is not for us. */
export const adminHeaderBytesMax = 8 * 1024;
/** A client must send its whole request (headers included) within this. */
export const adminRequestTimeoutMs = 5_000;
export const adminHeadersTimeoutMs = 5_000;
export const adminKeepAliveTimeoutMs = 5_000;
/** Probes, scrapers and operators together: a small number suffices. */
export const adminConnectionsMax = 64;
/** A component health provider that takes longer is reported down. */
export const healthProviderTimeoutMs = 2_000;
/** Longest detail string kept per component, so that /health stays small. */
export const healthDetailCharsMax = 1_000;
/** At most this many components and readiness checks may be registered. */
export const healthProvidersMax = 64;
/** A CPU profile lasts this long unless ?seconds= says otherwise, and never longer than the max. */
export const profileSecondsDefault = 30;
export const profileSecondsMax = 60;
/** At most this many samplers run before a scrape (one per concern of the broker). */
export const scrapeSamplersMax = 16;

assert(adminHeadersTimeoutMs <= adminRequestTimeoutMs, 'headers arrive within the request timeout');
assert(profileSecondsDefault <= profileSecondsMax, 'the default profile fits the bound');
assert(healthProviderTimeoutMs < adminRequestTimeoutMs, 'a slow provider cannot outlast the request');
