/**
 * Loads the effective configuration: defaults < server.yaml < STREAMBUS_* environment < flags.
 * Every problem is collected (not just the first) so that one start-up attempt shows the operator
 * all that is wrong, one line each.
 */
import { readFile, stat } from 'node:fs/promises';
import { LineCounter, isNode, parseDocument } from 'yaml';
import { assert } from '@streambus/raft';
import type { HostPort, Peer } from './address.js';
import { formatHostPort } from './address.js';
import { configFileBytesMax, configProblemsMax, portMax } from './constants.js';
import type { ConfigValue, KeySpec } from './schema.js';
import {
  describeKind,
  envNameOf,
  keySpecs,
  parseTextValue,
  parseYamlValue,
  specsByEnvName,
  specsByPath,
  typeName,
  unsupportedByEnvName,
  unsupportedByPath,
  unsupportedKeys,
} from './schema.js';
import type { UnsupportedKey } from './schema.js';
import { suggest } from './suggest.js';
import type {
  BrokerConfig,
  ConfigFlags,
  ConfigOrigin,
  ConfigProblem,
  AuthMechanism,
  GroupAssignor,
  LogLevel,
  TlsVersion,
  TracingExporter,
  WalSyncPolicy,
} from './types.js';
import { rethrowBug } from '../bugs.js';
import type { Acl } from '../security/acl.js';
import { aclKey, aclProblem, principalUserName } from '../security/acl.js';
import { aclsMax, superUsersMax } from '../security/constants.js';
import { loadUsersFile } from '../security/users-file.js';
import { brokerIdsOfSubjectAltName } from '../security/peer-identity.js';
import { TlsMaterialError, loadTlsMaterial, tlsFilesOf } from '../security/tls/tls-material.js';

export interface ConfigFile {
  /** As given by the user; shown in origins and errors. */
  readonly path: string;
  readonly text: string;
}

export interface ConfigSources {
  readonly file?: ConfigFile;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly flags: ConfigFlags;
}

/** The effective configuration with the raw value and origin of every key, for `config dump`. */
export interface LoadedConfig {
  readonly config: BrokerConfig;
  readonly values: ReadonlyMap<string, ConfigValue>;
  readonly origins: ReadonlyMap<string, ConfigOrigin>;
  /** Things worth a line on stderr that do not stop start-up (an unknown STREAMBUS_ variable). */
  readonly warnings: readonly string[];
}

export type LoadResult =
  | { readonly ok: true; readonly loaded: LoadedConfig }
  | { readonly ok: false; readonly problems: readonly ConfigProblem[] };

export function formatConfigProblem(problem: ConfigProblem): string {
  return `config error: ${problem.path}: ${problem.message}; ${problem.hint}`;
}

/** Environment variables for clients, not the server: known, so never warned about. */
export const clientEnvNames: readonly string[] = [
  'STREAMBUS_BOOTSTRAP',
  'STREAMBUS_ADMIN',
  // The CLI's SASL settings (cli/security-options.ts); a broker has no such keys.
  'STREAMBUS_SASL_USERNAME',
  'STREAMBUS_SASL_PASSWORD',
  'STREAMBUS_SASL_PASSWORD_FILE',
];

/**
 * Kubernetes injects `<SERVICE>_SERVICE_HOST`, `<SERVICE>_PORT`, `<SERVICE>_PORT_9092_TCP...`
 * for a Service named streambus; they are not config and must not be warned about.
 */
const serviceLinkPattern = /^STREAMBUS_(SERVICE_HOST|SERVICE_PORT(_.+)?|PORT(_\d+_(TCP|UDP|SCTP)(_.+)?)?)$/;

const flagPaths: ReadonlyArray<readonly [keyof ConfigFlags, string, string]> = [
  ['id', '--id', 'server.broker_id'],
  ['listen', '--listen', 'server.listen'],
  ['admin', '--admin', 'server.admin_listen'],
  ['dataDir', '--data-dir', 'server.data_dir'],
  ['peers', '--peers', 'server.peers'],
  ['logLevel', '--log-level', 'server.log_level'],
];

const groupPaths: ReadonlySet<string> = new Set(
  [...keySpecs, ...unsupportedKeys].flatMap((spec) => {
    const parts = spec.path.split('.');
    return parts.slice(0, -1).map((_, index) => parts.slice(0, index + 1).join('.'));
  }),
);

class Collector {
  readonly values = new Map<string, ConfigValue>();
  readonly origins = new Map<string, ConfigOrigin>();
  readonly problems: ConfigProblem[] = [];
  readonly warnings: string[] = [];
  /** The top-level `acls:` list of server.yaml. */
  acls: readonly Acl[] = [];

  constructor() {
    for (const spec of keySpecs) {
      this.values.set(spec.path, spec.defaultValue);
      this.origins.set(spec.path, { kind: 'default' });
    }
  }

  problem(path: string, message: string, hint: string): void {
    if (this.problems.length < configProblemsMax) this.problems.push({ path, message, hint });
  }

  badValue(path: string, spec: KeySpec, reason: string): void {
    this.problem(path, reason, `set it to ${describeKind(spec.kind)}`);
  }

  set(spec: KeySpec, value: ConfigValue, origin: ConfigOrigin): void {
    this.values.set(spec.path, value);
    this.origins.set(spec.path, origin);
  }

  value(path: string): ConfigValue {
    const value = this.values.get(path);
    assert(value !== undefined, `config key ${path} has a value`);
    return value;
  }

  origin(path: string): ConfigOrigin {
    const origin = this.origins.get(path);
    assert(origin !== undefined, `config key ${path} has an origin`);
    return origin;
  }
}

/** Resolves configuration from sources already in memory. Pure: no I/O. */
export function resolveConfig(sources: ConfigSources): LoadResult {
  const collector = new Collector();
  if (sources.file !== undefined) applyFile(collector, sources.file);
  applyEnv(collector, sources.env);
  applyFlags(collector, sources.flags);
  applyPortFlag(collector, sources.flags);
  deriveAdminAddress(collector);
  checkRelations(collector);
  if (collector.problems.length > 0) return { ok: false, problems: collector.problems };
  return {
    ok: true,
    loaded: {
      config: assemble(collector),
      values: collector.values,
      origins: collector.origins,
      warnings: collector.warnings,
    },
  };
}

/**
 * Reads the config file named by `--config` (or STREAMBUS_CONFIG), then resolves. File problems
 * (missing, too large) are reported like any other problem.
 */
export async function loadConfig(sources: Omit<ConfigSources, 'file'>): Promise<LoadResult> {
  const filePath = sources.flags.config ?? sources.env['STREAMBUS_CONFIG'];
  let result: LoadResult;
  if (filePath === undefined) result = resolveConfig(sources);
  else {
    const file = await readConfigFile(filePath);
    if ('problem' in file) return { ok: false, problems: [file.problem] };
    result = resolveConfig({ ...sources, file });
  }
  if (!result.ok) return result;
  const problems = await checkTlsFiles(result.loaded.config);
  return problems.length === 0 ? withUsers(result) : { ok: false, problems };
}

/** Reads security.users_file (I/O, so not in resolveConfig): its users as credentials only. */
async function withUsers(result: LoadResult): Promise<LoadResult> {
  if (!result.ok || result.loaded.config.security.usersFile === '') return result;
  const users = await loadUsersFile(result.loaded.config.security.usersFile);
  if (!users.ok) return { ok: false, problems: users.problems };
  const config = result.loaded.config;
  return {
    ok: true,
    loaded: { ...result.loaded, config: { ...config, security: { ...config.security, seedUsers: users.users } } },
  };
}

/**
 * With TLS on, the certificate, key and CA must load now (readable, PEM, the key the
 * certificate's, signed by the CA, valid today), and in a cluster the certificate must name this
 * broker's id: a swapped file is a line at start, not handshakes refused by every peer.
 */
export async function checkTlsFiles(config: BrokerConfig): Promise<ConfigProblem[]> {
  const security = config.security;
  if (!security.tlsEnabled) return [];
  const files = tlsFilesOf(security);
  let certificateSan: string | undefined;
  try {
    certificateSan = (await loadTlsMaterial(files)).certificate.subjectAltName;
  } catch (error) {
    if (!(error instanceof TlsMaterialError)) throw error;
    return [
      {
        path: `security.tls_${error.role}`,
        message: `${error.path}: ${error.reason}`,
        hint: 'fix the file or the path (the broker re-reads it every few seconds once running)',
      },
    ];
  }
  const brokerId = config.server.brokerId;
  const clustered = config.server.peers.some((peer) => peer.id !== brokerId);
  const ids = brokerIdsOfSubjectAltName(certificateSan);
  if (!clustered || (ids.length === 1 && ids[0] === brokerId)) return [];
  return [
    {
      path: 'security.tls_cert',
      message: `${security.tlsCertPath} names ${ids.length === 0 ? 'no broker id' : `broker ${ids.join(', ')}`}, not this broker ${brokerId}`,
      hint: `give each broker its own certificate with the URI SAN streambus://broker/${brokerId}`,
    },
  ];
}

async function readConfigFile(path: string): Promise<ConfigFile | { problem: ConfigProblem }> {
  try {
    const info = await stat(path);
    if (!info.isFile()) return { problem: { path, message: 'is not a file', hint: 'pass a YAML file to --config' } };
    if (info.size > configFileBytesMax) {
      return {
        problem: {
          path,
          message: `is ${info.size} bytes, more than ${configFileBytesMax}`,
          hint: 'pass the server.yaml file to --config',
        },
      };
    }
    return { path, text: await readFile(path, 'utf8') };
  } catch (error: unknown) {
    rethrowBug(error);
    const code = error instanceof Error && 'code' in error ? String(error.code) : 'unknown';
    const message =
      code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : `cannot be read (${code})`;
    return { problem: { path, message, hint: 'check the path given to --config' } };
  }
}

function applyFile(collector: Collector, file: ConfigFile): void {
  const lineCounter = new LineCounter();
  const document = parseDocument(file.text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  if (document.errors.length > 0) {
    for (const error of document.errors) {
      const position = lineCounter.linePos(error.pos[0]);
      const firstLine = error.message.split('\n')[0] ?? error.message;
      collector.problem(`${file.path}:${position.line}:${position.col}`, firstLine, 'fix the YAML syntax');
    }
    return;
  }
  const root: unknown = document.toJS({ maxAliasCount: 100 });
  if (root === null || root === undefined) return;
  if (!isPlainMap(root)) {
    collector.problem(
      file.path,
      `expected a map of sections (server, storage, ...), got ${typeName(root)}`,
      'see "streambus config dump" for the layout',
    );
    return;
  }
  const locate = (path: string): string => {
    const node = document.getIn(
      path.split('.').map((part) => (/^\d+$/.test(part) ? Number(part) : part)),
      true,
    );
    const offset = isNode(node) ? node.range?.[0] : undefined;
    return offset === undefined ? '' : ` (${file.path} line ${lineCounter.linePos(offset).line})`;
  };
  walkYaml(collector, file, root, '', locate);
}

/** `locate` names the file line of a key, so that a problem in a long file is found at once. */
function walkYaml(
  collector: Collector,
  file: ConfigFile,
  map: Readonly<Record<string, unknown>>,
  prefix: string,
  locate: (path: string) => string,
): void {
  for (const [name, raw] of Object.entries(map)) {
    const path = prefix === '' ? name : `${prefix}.${name}`;
    const spec = specsByPath.get(path);
    const unsupported = unsupportedByPath.get(path);
    if (path === 'acls') {
      collector.acls = parseAcls(collector, raw, locate);
    } else if (unsupported !== undefined) {
      if (raw !== unsupported.inertValue) refuseUnsupported(collector, path, unsupported, locate(path));
    } else if (spec !== undefined) {
      const parsed = parseYamlValue(spec, raw);
      if (parsed.ok) collector.set(spec, parsed.value, { kind: 'file', file: file.path });
      else collector.badValue(path, spec, `${parsed.reason}${locate(path)}`);
    } else if (groupPaths.has(path)) {
      if (raw === null) continue;
      if (isPlainMap(raw)) walkYaml(collector, file, raw, path, locate);
      else
        collector.problem(
          path,
          `expected a map of keys, got ${typeName(raw)}${locate(path)}`,
          `indent the keys of ${path} under it`,
        );
    } else {
      unknownKey(collector, path, [...specsByPath.keys(), ...groupPaths], locate(path));
    }
  }
}

/**
 * The top-level `acls:` list: `- principal: "user:alice"`, `operations: [read, write]`,
 * `resources: ["topic:events"]`, optional `permission: allow|deny` (allow). Each operation and
 * resource makes one binding; the controller leader seeds the ones it lacks.
 */
function parseAcls(collector: Collector, raw: unknown, locate: (path: string) => string): readonly Acl[] {
  const hint = 'write - {principal: "user:NAME", operations: [read], resources: ["topic:NAME"]}';
  if (raw === null) return [];
  if (!Array.isArray(raw)) {
    collector.problem('acls', `expected a list of ACLs, got ${typeName(raw)}${locate('acls')}`, hint);
    return [];
  }
  const acls = new Map<string, Acl>();
  raw.forEach((entry: unknown, index) => {
    const path = `acls.${index}`;
    if (!isPlainMap(entry)) {
      collector.problem(path, `expected a map, got ${typeName(entry)}${locate(path)}`, hint);
      return;
    }
    const unknown = Object.keys(entry).filter(
      (name) => !['principal', 'operations', 'resources', 'permission'].includes(name),
    );
    if (unknown.length > 0) {
      collector.problem(path, `unknown field ${unknown.join(', ')}${locate(path)}`, hint);
      return;
    }
    const { principal, operations, resources } = entry;
    const permission = entry['permission'] ?? 'allow';
    if (typeof principal !== 'string') return collector.problem(path, `has no principal${locate(path)}`, hint);
    if (!isStringList(operations))
      return collector.problem(path, `operations is not a list of names${locate(path)}`, hint);
    if (!isStringList(resources))
      return collector.problem(path, `resources is not a list of names${locate(path)}`, hint);
    if (permission !== 'allow' && permission !== 'deny')
      return collector.problem(
        path,
        `permission ${JSON.stringify(permission)} is not allow or deny${locate(path)}`,
        hint,
      );
    for (const operation of operations)
      for (const resource of resources) {
        const problem = aclProblem({ principal, operation, resource });
        if (problem !== undefined) return collector.problem(path, `${problem}${locate(path)}`, hint);
        const acl = { principal, operation, resource, permission } as Acl;
        acls.set(aclKey(acl), acl);
      }
    return undefined;
  });
  if (acls.size > aclsMax) collector.problem('acls', `has ${acls.size} bindings, more than ${aclsMax}`, 'use prefixes');
  return [...acls.values()];
}

function isStringList(raw: unknown): raw is string[] {
  return Array.isArray(raw) && raw.length > 0 && raw.every((item) => typeof item === 'string');
}

/** security.super_users: "user:admin,user:ops". */
function checkSuperUsers(collector: Collector): void {
  const raw = collector.value('security.super_users');
  assert(typeof raw === 'string', 'super_users is a string');
  const principals = splitSuperUsers(raw);
  for (const principal of principals)
    if (principalUserName(principal) === undefined)
      collector.problem(
        'security.super_users',
        `"${principal}" is not a principal user:NAME`,
        'write user:admin,user:ops',
      );
  if (principals.length > superUsersMax)
    collector.problem(
      'security.super_users',
      `names ${principals.length} principals, more than ${superUsersMax}`,
      'grant ACLs instead',
    );
}

function splitSuperUsers(raw: string): readonly string[] {
  return raw
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '');
}

/** A key of the seeds this broker does not support: start-up stops, saying why. */
function refuseUnsupported(collector: Collector, path: string, unsupported: UnsupportedKey, location = ''): void {
  collector.problem(path, `not supported${location}: ${unsupported.reason}`, 'remove it');
}

function unknownKey(collector: Collector, path: string, candidates: readonly string[], location = ''): void {
  const suggestion = suggest(path, candidates);
  const hint =
    suggestion === undefined ? 'remove it; "streambus config keys" lists every key' : `did you mean ${suggestion}?`;
  collector.problem(path, `unknown key${location}`, hint);
}

function applyEnv(collector: Collector, env: Readonly<Record<string, string | undefined>>): void {
  const names = Object.keys(env)
    .filter((name) => name.startsWith('STREAMBUS_'))
    .sort();
  for (const name of names) {
    const raw = env[name];
    if (raw === undefined) continue;
    const spec = specsByEnvName.get(name);
    const unsupported = unsupportedByEnvName.get(name);
    if (unsupported !== undefined) {
      if (raw.trim().toLowerCase() !== String(unsupported.inertValue)) refuseUnsupported(collector, name, unsupported);
      continue;
    }
    if (spec === undefined) {
      if (name === 'STREAMBUS_CONFIG' || clientEnvNames.includes(name) || serviceLinkPattern.test(name)) continue;
      const suggestion = suggest(name, specsByEnvName.keys());
      collector.warnings.push(
        `config warning: ${name}: unknown variable, ignored${suggestion === undefined ? '' : `; did you mean ${suggestion}?`}`,
      );
      continue;
    }
    if (raw.trim() === '' && spec.kind.type !== 'string' && spec.kind.type !== 'peers') {
      collector.problem(name, 'is set but empty', `unset it or set it to ${describeKind(spec.kind)}`);
      continue;
    }
    const parsed = parseTextValue(spec, raw);
    if (parsed.ok) collector.set(spec, parsed.value, { kind: 'env', name });
    else collector.badValue(name, spec, parsed.reason);
  }
}

function applyFlags(collector: Collector, flags: ConfigFlags): void {
  for (const [field, flag, path] of flagPaths) {
    const raw = flags[field];
    if (raw === undefined) continue;
    const spec = specsByPath.get(path);
    assert(spec !== undefined, `flag ${flag} maps to a known key`);
    const parsed = parseTextValue(spec, raw);
    if (parsed.ok) collector.set(spec, parsed.value, { kind: 'flag', name: flag });
    else collector.badValue(flag, spec, parsed.reason);
  }
}

/**
 * `--port N` replaces the port of server.listen and keeps its host (from the file, the
 * environment or the default). With `--listen` as well, the two must name the same port.
 */
function applyPortFlag(collector: Collector, flags: ConfigFlags): void {
  const raw = flags.port;
  if (raw === undefined) return;
  const port = /^\d{1,5}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(port >= 0 && port <= portMax)) {
    collector.problem('--port', `"${raw}" is not a port`, `set it to a whole number in 0..${portMax}`);
    return;
  }
  const listen = asHostPort(collector.value('server.listen'));
  if (flags.listen !== undefined) {
    // A --listen that did not parse is reported on its own.
    const listenFromFlag = collector.origin('server.listen').kind === 'flag';
    if (listenFromFlag && listen.port !== port)
      collector.problem(
        '--port',
        `${port} differs from the port of --listen (${formatHostPort(listen)})`,
        'give the port once: --listen HOST:PORT, or --port PORT alone',
      );
    return;
  }
  const spec = specsByPath.get('server.listen');
  assert(spec !== undefined, 'server.listen is a key');
  collector.set(spec, { host: listen.host, port }, { kind: 'flag', name: '--port' });
}

/** The admin address defaults to the seed's metrics port; two explicit, different ports conflict. */
function deriveAdminAddress(collector: Collector): void {
  const adminOrigin = collector.origin('server.admin_listen');
  const portOrigin = collector.origin('monitoring.metrics_port');
  if (portOrigin.kind === 'default') return;
  const metricsPort = collector.value('monitoring.metrics_port');
  assert(typeof metricsPort === 'number', 'metrics_port is a number');
  const admin = asHostPort(collector.value('server.admin_listen'));
  if (adminOrigin.kind === 'default') {
    const spec = specsByPath.get('server.admin_listen');
    assert(spec !== undefined, 'admin_listen is a key');
    collector.set(spec, { host: admin.host, port: metricsPort }, { kind: 'derived', from: 'monitoring.metrics_port' });
    return;
  }
  if (admin.port !== metricsPort) {
    collector.problem(
      'monitoring.metrics_port',
      `${metricsPort} differs from the port of server.admin_listen (${formatHostPort(admin)})`,
      '/metrics is served on the admin address: set only server.admin_listen',
    );
  }
}

function checkRelations(collector: Collector): void {
  const brokerId = collector.value('server.broker_id');
  assert(typeof brokerId === 'number', 'broker_id is an int');
  const peers = collector.value('server.peers');
  assert(Array.isArray(peers), 'peers is a list');
  if (peers.length > 0 && !peers.some((peer: Peer) => peer.id === brokerId)) {
    collector.problem(
      'server.peers',
      `this broker's id ${brokerId} (${describeOrigin(collector.origin('server.broker_id'))}) is not in the peer list`,
      `add ${brokerId}=HOST:PORT to the peers or fix the broker id`,
    );
  }
  const electionTicks = collector.value('raft.election_ticks');
  const heartbeatTicks = collector.value('raft.heartbeat_ticks');
  if (typeof electionTicks === 'number' && typeof heartbeatTicks === 'number' && heartbeatTicks >= electionTicks) {
    collector.problem(
      'raft.heartbeat_ticks',
      `${heartbeatTicks} is not fewer than raft.election_ticks (${electionTicks})`,
      'make heartbeats more frequent than elections',
    );
  }
  const sessionTimeoutMs = collector.value('groups.session_timeout_ms');
  const heartbeatIntervalMs = collector.value('groups.heartbeat_interval_ms');
  if (
    typeof sessionTimeoutMs === 'number' &&
    typeof heartbeatIntervalMs === 'number' &&
    heartbeatIntervalMs >= sessionTimeoutMs
  ) {
    collector.problem(
      'groups.heartbeat_interval_ms',
      `${heartbeatIntervalMs} is not less than groups.session_timeout_ms (${sessionTimeoutMs})`,
      'make heartbeats more frequent than the session timeout (Kafka: a third of it)',
    );
  }
  checkTlsRelations(collector);
  if (collector.value('security.auth_enabled') === true && collector.value('security.tls_enabled') !== true) {
    collector.problem(
      'security.auth_enabled',
      'needs security.tls_enabled: true: without TLS a session id and a broker identity can be stolen off the wire',
      'enable TLS (security.tls_enabled, tls_cert, tls_key, tls_ca) or turn authentication off',
    );
  }
  checkSuperUsers(collector);
  const listen = asHostPort(collector.value('server.listen'));
  const admin = asHostPort(collector.value('server.admin_listen'));
  if (
    listen.port !== 0 &&
    listen.port === admin.port &&
    (listen.host === admin.host || isWildcard(listen.host) || isWildcard(admin.host))
  ) {
    collector.problem(
      'server.admin_listen',
      `${formatHostPort(admin)} collides with server.listen (${formatHostPort(listen)})`,
      'give the admin server its own port',
    );
  }
}

/** The files TLS needs, with what each holds (the hint of a missing one). */
const tlsFileKeys: ReadonlyArray<readonly [string, string]> = [
  ['security.tls_cert', "the PEM file of this broker's certificate"],
  ['security.tls_key', "the PEM file of this broker's private key"],
  ['security.tls_ca', 'the PEM file of the cluster CA'],
];

/** TLS needs its three files; HTTPS on the admin port needs TLS. Whether the files load is `loadConfig`'s. */
function checkTlsRelations(collector: Collector): void {
  const enabled = collector.value('security.tls_enabled') === true;
  if (enabled) {
    for (const [path, what] of tlsFileKeys) {
      if (collector.value(path) !== '') continue;
      collector.problem(path, 'is required when security.tls_enabled is true', `set it to ${what}`);
    }
  }
  if (!enabled && collector.value('security.tls_admin_enabled') === true) {
    collector.problem(
      'security.tls_admin_enabled',
      'needs security.tls_enabled (the admin port serves the same certificate)',
      'turn security.tls_enabled on, or tls_admin_enabled off',
    );
  }
}

export function describeOrigin(origin: ConfigOrigin): string {
  switch (origin.kind) {
    case 'default':
      return 'default';
    case 'file':
      return `file ${origin.file}`;
    case 'env':
      return `env ${origin.name}`;
    case 'flag':
      return `flag ${origin.name}`;
    case 'derived':
      return `derived from ${origin.from}`;
  }
}

function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::';
}

function isPlainMap(raw: unknown): raw is Readonly<Record<string, unknown>> {
  return typeof raw === 'object' && raw !== null && !Array.isArray(raw) && !(raw instanceof Map);
}

function asHostPort(value: ConfigValue): HostPort {
  assert(typeof value === 'object', 'address values are host/port pairs');
  assert(!Array.isArray(value), 'an address value is one host/port pair');
  return value as HostPort;
}

function assemble(collector: Collector): BrokerConfig {
  const num = (path: string): number => {
    const value = collector.value(path);
    assert(typeof value === 'number', `${path} is a number`);
    return value;
  };
  const bool = (path: string): boolean => {
    const value = collector.value(path);
    assert(typeof value === 'boolean', `${path} is a boolean`);
    return value;
  };
  const str = (path: string): string => {
    const value = collector.value(path);
    assert(typeof value === 'string', `${path} is a string`);
    return value;
  };
  const peers = collector.value('server.peers');
  assert(Array.isArray(peers), 'server.peers is a list');
  return {
    server: {
      brokerId: num('server.broker_id'),
      listen: asHostPort(collector.value('server.listen')),
      adminListen: asHostPort(collector.value('server.admin_listen')),
      dataDir: str('server.data_dir'),
      logLevel: str('server.log_level') as LogLevel,
      peers: peers as readonly Peer[],
      clusterId: str('server.cluster_id'),
    },
    storage: {
      walSync: str('storage.wal_sync') as WalSyncPolicy,
      walSyncIntervalMs: num('storage.wal_sync_interval'),
      memtableFlushThresholdBytes: num('storage.memtable_flush_threshold'),
      sstableBytesMax: num('storage.max_sstable_size'),
      retentionAgeMsMax: num('storage.retention.max_age'),
      retentionBytesMax: num('storage.retention.max_bytes'),
    },
    network: {
      requestBytesMax: num('network.max_request_size'),
      connectionTimeoutMs: num('network.connection_timeout'),
      connectionsMax: num('network.max_connections'),
    },
    monitoring: {
      metricsEnabled: bool('monitoring.metrics_enabled'),
      metricsPort: num('monitoring.metrics_port'),
      profilingEnabled: bool('monitoring.profiling_enabled'),
      profilingPort: num('monitoring.profiling_port'),
    },
    raft: {
      tickMs: num('raft.tick_ms'),
      electionTicks: num('raft.election_ticks'),
      heartbeatTicks: num('raft.heartbeat_ticks'),
      appendBeforePersist: bool('raft.append_before_persist'),
    },
    tracing: {
      enabled: bool('tracing.enabled'),
      exporter: str('tracing.exporter') as TracingExporter,
      endpoint: str('tracing.endpoint'),
      samplingRatio: num('tracing.sampling_rate'),
    },
    groups: {
      offsetsTopicPartitions: num('groups.offsets_topic_partitions'),
      offsetsTopicReplicationFactor: num('groups.offsets_topic_replication_factor'),
      sessionTimeoutMs: num('groups.session_timeout_ms'),
      heartbeatIntervalMs: num('groups.heartbeat_interval_ms'),
      groupMembersMax: num('groups.max_size'),
      offsetsRetentionMs: num('groups.offsets_retention_ms'),
      defaultAssignor: str('groups.default_assignor') as GroupAssignor,
    },
    security: {
      tlsEnabled: bool('security.tls_enabled'),
      tlsCertPath: str('security.tls_cert'),
      tlsKeyPath: str('security.tls_key'),
      tlsCaPath: str('security.tls_ca'),
      tlsKeyPassword: str('security.tls_key_password'),
      tlsVersionMin: str('security.min_tls_version') as TlsVersion,
      tlsAdminEnabled: bool('security.tls_admin_enabled'),
      authEnabled: bool('security.auth_enabled'),
      authMechanism: str('security.auth_mechanism') as AuthMechanism,
      usersFile: str('security.users_file'),
      superUsers: splitSuperUsers(str('security.super_users')),
      tlsClientAuth: bool('security.tls_client_auth'),
      acls: collector.acls,
      seedUsers: [],
    },
  };
}

/** The environment variable that sets a key (for docs and `--help`). */
export { envNameOf };
