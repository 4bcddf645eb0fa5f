// Public API of @streambus/broker: what its users import (the chaos harness and test-cluster, see
// their imports of '@streambus/broker'); the `streambus` executable starts from bin/streambus.js.
// Named exports only. The package's own tests import its internals by path.

// The broker process, as the chaos harness drives and inspects it in-process.
export { Broker } from './server/broker.js';
export type { BrokerOptions } from './server/broker.js';

// Log levels, for the harness's --log-level flag.
export { logLevels } from './config/schema.js';
export type { LogLevel } from './config/types.js';

// The version this build reports (`streambus --version`, /health), for the rolling-upgrade harness.
export { streambusVersion } from './version.js';

// TLS (security.tls_*): the broker's rotating material, and the peer identity check.
export { TlsContexts } from './security/tls/tls-contexts.js';
export type { TlsContextsOptions, TlsServerSource, TlsClientSource } from './security/tls/tls-contexts.js';
export { TlsMaterialError, loadTlsMaterial } from './security/tls/tls-material.js';
export type { TlsFiles, TlsMaterial } from './security/tls/tls-material.js';
export { checkBrokerIdentity, tlsPeerCredentials } from './security/tls/peer-credentials.js';
export { brokerIdsOfCertificate, provenBrokerId } from './security/peer-identity.js';
