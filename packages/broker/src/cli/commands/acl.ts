/**
 * `streambus acl add|remove|list`: who may do what on which resource (security.proto,
 * "Authorization"). One command names one principal, one resource and one or more operations:
 *   streambus acl add --allow user:alice --operation read --topic orders
 *   streambus acl add --deny user:bob --operation write --operation delete --topic tmp- --prefix
 */
import type { CliAcl } from '../client.js';
import type { Command, CommandInput, OptionSpec } from '../command.js';
import {
  UsageError,
  booleanOption,
  clientOptionHelp,
  clientOptions,
  stringListOption,
  stringOption,
} from '../command.js';
import { ExitCode } from '../exit-codes.js';
import { formatTable, jsonLine } from '../format.js';
import { withClient } from './with-client.js';

const operations = ['read', 'write', 'create', 'delete', 'describe', 'alter', 'cluster-action', 'all'] as const;
const principalShape = /^user:(\*|[A-Za-z0-9._@-]{1,64})$/;
/** Topic and group names as the broker accepts them (a prefix is checked the same way). */
const resourceNameShape = /^[a-zA-Z0-9._-]{1,249}$/;

const resourceOptions: Readonly<Record<string, OptionSpec>> = {
  topic: { type: 'string' },
  group: { type: 'string' },
  cluster: { type: 'boolean' },
  prefix: { type: 'boolean' },
};

const resourceHelp = [
  '    --topic T                    the topic T (with --prefix: every topic whose name starts with T)',
  '    --group G                    the consumer group G (with --prefix: every group starting with G)',
  '    --cluster                    the cluster (topic creation, users and ACLs, broker operations)',
  '    --prefix                     --topic or --group is a name prefix',
];

function principalOption(value: string | undefined, flag: string): string {
  if (value === undefined || !principalShape.test(value))
    throw new UsageError(`${flag} takes a principal user:NAME or user:*, got "${value ?? ''}"`);
  return value;
}

/** The resource of --topic / --group / --cluster [--prefix]; undefined when none is given and `optional`. */
function resourceOf(input: CommandInput, optional: boolean): string | undefined {
  const topic = stringOption(input.values, 'topic');
  const group = stringOption(input.values, 'group');
  const cluster = booleanOption(input.values, 'cluster');
  const prefix = booleanOption(input.values, 'prefix');
  const given = [topic, group, cluster ? 'cluster' : undefined].filter((value) => value !== undefined);
  if (given.length === 0) {
    if (prefix) throw new UsageError('--prefix goes with --topic or --group');
    if (optional) return undefined;
    throw new UsageError('name the resource: --topic T, --group G or --cluster');
  }
  if (given.length > 1) throw new UsageError('give one resource: --topic, --group or --cluster');
  if (cluster) {
    if (prefix) throw new UsageError('--prefix goes with --topic or --group, not --cluster');
    return 'cluster';
  }
  const kind = topic !== undefined ? 'topic' : 'group';
  const name = topic ?? group ?? '';
  if (!resourceNameShape.test(name))
    throw new UsageError(`--${kind} must be 1..249 characters of [a-zA-Z0-9._-], got "${name}"`);
  return `${kind}:${name}${prefix ? '*' : ''}`;
}

/** The ACLs one add or remove names: a permission and principal, operations, one resource. */
function aclsOf(input: CommandInput): CliAcl[] {
  const allow = stringOption(input.values, 'allow');
  const deny = stringOption(input.values, 'deny');
  if ((allow === undefined) === (deny === undefined))
    throw new UsageError('give exactly one of --allow user:NAME or --deny user:NAME');
  const permission = allow !== undefined ? 'allow' : 'deny';
  const principal = principalOption(allow ?? deny, `--${permission}`);
  const named = stringListOption(input.values, 'operation');
  if (named.length === 0) throw new UsageError(`give at least one --operation (${operations.join('|')})`);
  for (const operation of named)
    if (!(operations as readonly string[]).includes(operation))
      throw new UsageError(`--operation must be one of ${operations.join(', ')}, got "${operation}"`);
  const resource = resourceOf(input, false) ?? '';
  return [...new Set(named)].map((operation) => ({ principal, permission, operation, resource }));
}

function aclText(acl: CliAcl): string {
  return `${acl.permission} ${acl.principal} ${acl.operation} ${acl.resource}`;
}

const changeOptions: Readonly<Record<string, OptionSpec>> = {
  ...clientOptions,
  ...resourceOptions,
  allow: { type: 'string' },
  deny: { type: 'string' },
  operation: { type: 'string', multiple: true },
};

const changeHelp = [
  '    --allow user:NAME            allow the principal (user:* is every authenticated user)',
  '    --deny user:NAME             deny the principal (a deny wins over any allow)',
  `    --operation OP               ${operations.join('|')}; repeatable`,
  ...resourceHelp,
  ...clientOptionHelp,
];

export const aclAdd: Command = {
  path: ['acl', 'add'],
  summary: 'allow or deny a user operations on a topic, group or the cluster',
  synopsis:
    'acl add --allow|--deny user:NAME --operation OP [--operation OP ...] --topic T|--group G|--cluster [--prefix]',
  optionHelp: changeHelp,
  options: changeOptions,
  positionalsMin: 0,
  positionalsMax: 0,
  run: (input) => {
    const acls = aclsOf(input);
    return withClient(input, 'acl add', async ({ client, json, out }) => {
      await client.createAcls(acls);
      if (json) out(jsonLine({ added: acls }));
      else out(acls.map((acl) => `added ACL: ${aclText(acl)}\n`).join(''));
      return ExitCode.ok;
    });
  },
};

export const aclRemove: Command = {
  path: ['acl', 'remove'],
  summary: 'remove ACLs (the same flags as acl add)',
  synopsis:
    'acl remove --allow|--deny user:NAME --operation OP [--operation OP ...] --topic T|--group G|--cluster [--prefix]',
  optionHelp: changeHelp,
  options: changeOptions,
  positionalsMin: 0,
  positionalsMax: 0,
  run: (input) => {
    const acls = aclsOf(input);
    return withClient(input, 'acl remove', async ({ client, json, out }) => {
      const removed = await client.deleteAcls(acls);
      if (json) out(jsonLine({ removed, asked: acls.length }));
      else
        out(
          `removed ${removed} of ${acls.length} ACL${acls.length === 1 ? '' : 's'}${removed < acls.length ? ' (the others did not exist)' : ''}\n`,
        );
      return ExitCode.ok;
    });
  },
};

export const aclList: Command = {
  path: ['acl', 'list'],
  summary: 'list ACLs, of one principal and/or resource',
  synopsis: 'acl list [--principal user:NAME] [--topic T|--group G|--cluster [--prefix]]',
  optionHelp: [
    '    --principal user:NAME        only the ACLs of this principal',
    ...resourceHelp,
    ...clientOptionHelp,
  ],
  options: { ...clientOptions, ...resourceOptions, principal: { type: 'string' } },
  positionalsMin: 0,
  positionalsMax: 0,
  run: (input) => {
    const principalText = stringOption(input.values, 'principal');
    const principal = principalText === undefined ? undefined : principalOption(principalText, '--principal');
    const resource = resourceOf(input, true);
    return withClient(input, 'acl list', async ({ client, json, out }) => {
      const acls = await client.listAcls({
        ...(principal === undefined ? {} : { principal }),
        ...(resource === undefined ? {} : { resource }),
      });
      if (json) out(jsonLine({ acls }));
      else
        out(
          formatTable(
            ['PRINCIPAL', 'PERMISSION', 'OPERATION', 'RESOURCE'],
            acls.map((acl) => [acl.principal, acl.permission, acl.operation, acl.resource]),
          ),
        );
      return ExitCode.ok;
    });
  },
};
