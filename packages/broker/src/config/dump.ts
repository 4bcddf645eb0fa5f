/**
 * `streambus config dump`: the effective configuration as server.yaml, secrets masked, and with
 * `showOrigin` a trailing comment on every key saying where its value came from.
 */
import { Document, isMap, isScalar } from 'yaml';
import { assert } from '@streambus/raft';
import type { HostPort, Peer } from './address.js';
import { formatHostPort, formatPeerList } from './address.js';
import type { LoadedConfig } from './load.js';
import { describeOrigin } from './load.js';
import type { ConfigValue, KeySpec } from './schema.js';
import { envNameOf, keySpecs } from './schema.js';
import { formatDurationMs } from './units.js';

/** What a secret looks like in a dump: never the value, only whether one is set. */
export const secretMask = '********';

export interface DumpOptions {
  readonly showOrigin: boolean;
}

/**
 * The effective configuration as a plain object of YAML sections, secrets masked. `withAcls`
 * false leaves out the `acls:` list: the admin port's /config answers anyone who reaches it, and
 * who may do what is not theirs to read (the local `config dump` shows it).
 */
export function configToYamlObject(loaded: LoadedConfig, withAcls = true): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const spec of keySpecs) {
    const value = loaded.values.get(spec.path);
    assert(value !== undefined, `${spec.path} has a value`);
    setPath(root, spec.path.split('.'), renderValue(spec, value));
  }
  // The `acls:` list as one binding per entry; the users file's passwords are never here.
  const acls = loaded.config.security.acls;
  if (withAcls && acls.length > 0)
    root['acls'] = acls.map((acl) => ({
      principal: acl.principal,
      operations: [acl.operation],
      resources: [acl.resource],
      permission: acl.permission,
    }));
  return root;
}

export function dumpConfig(loaded: LoadedConfig, options: DumpOptions): string {
  const document = new Document(configToYamlObject(loaded));
  if (options.showOrigin) {
    for (const spec of keySpecs) {
      const node = document.getIn(spec.path.split('.'), true);
      const origin = loaded.origins.get(spec.path);
      assert(origin !== undefined, `${spec.path} has an origin`);
      const comment =
        origin.kind === 'default' ? ` default; override with ${envNameOf(spec.path)}` : ` ${describeOrigin(origin)}`;
      if (isScalar(node)) node.comment = comment;
      else if (isMap(node)) node.commentBefore = comment;
    }
  }
  return document.toString({ lineWidth: 0 });
}

/** A value as server.yaml would spell it (durations as text, peers as a list string), secrets masked. */
export function renderValue(spec: KeySpec, value: ConfigValue): unknown {
  if (spec.secret) return value === '' ? '' : secretMask;
  switch (spec.kind.type) {
    case 'duration':
      return formatDurationMs(value as number);
    case 'address':
      return formatHostPort(value as HostPort);
    case 'peers':
      return formatPeerList(value as readonly Peer[]);
    default:
      return value;
  }
}

function setPath(root: Record<string, unknown>, parts: readonly string[], value: unknown): void {
  let node = root;
  for (const part of parts.slice(0, -1)) {
    const child = node[part];
    if (typeof child === 'object' && child !== null) {
      node = child as Record<string, unknown>;
    } else {
      const created: Record<string, unknown> = {};
      node[part] = created;
      node = created;
    }
  }
  const last = parts.at(-1);
  assert(last !== undefined, 'a key path has a last part');
  node[last] = value;
}
