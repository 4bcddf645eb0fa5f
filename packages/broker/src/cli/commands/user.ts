/**
 * `streambus user create|delete|list`: SCRAM-SHA-256 users. The password comes from stdin
 * (--password-stdin) or a prompt without echo, never from argv; the SDK derives the credential
 * (salt, iterations, StoredKey, ServerKey), so the password does not leave this machine.
 */
import type { Command, CommandInput } from '../command.js';
import { UsageError, booleanOption, clientOptionHelp, clientOptions } from '../command.js';
import { passwordLengthMax } from '../constants.js';
import { ExitCode } from '../exit-codes.js';
import { formatTable, jsonLine } from '../format.js';
import { withClient } from './with-client.js';

const userNameShape = /^[A-Za-z0-9._@-]{1,64}$/;

function userArgument(input: CommandInput): string {
  const name = input.positionals[0] ?? '';
  if (!userNameShape.test(name))
    throw new UsageError(`NAME must be 1..64 characters of [A-Za-z0-9._@-], got "${name}"`);
  return name;
}

/** The new password: stdin's first line with --password-stdin, else typed twice at a terminal. */
async function newPassword(input: CommandInput, name: string): Promise<string> {
  let password: string | undefined;
  if (booleanOption(input.values, 'password-stdin')) {
    for await (const line of input.deps.io.stdinLines()) {
      password = line;
      break;
    }
    if (password === undefined || password === '')
      throw new UsageError('--password-stdin: standard input has no password (its first line is empty)');
  } else {
    const readSecret = input.deps.io.readSecret;
    password = readSecret === undefined ? undefined : await readSecret(`password for user ${name}: `);
    if (password === undefined)
      throw new UsageError(
        'standard input is not a terminal: pipe the password with --password-stdin (it is never taken from the command line)',
      );
    const again = readSecret === undefined ? undefined : await readSecret('again: ');
    if (again !== password) throw new UsageError('the two passwords differ; nothing was changed');
    if (password === '') throw new UsageError('the password is empty');
  }
  if (password.length > passwordLengthMax)
    throw new UsageError(`the password is longer than ${passwordLengthMax} characters`);
  return password;
}

export const userCreate: Command = {
  path: ['user', 'create'],
  summary: 'create a SCRAM-SHA-256 user, or change its password',
  synopsis: 'user create NAME [--password-stdin]',
  optionHelp: [
    '    --password-stdin             read the password from the first line of stdin (else: a prompt)',
    ...clientOptionHelp,
  ],
  options: { ...clientOptions, 'password-stdin': { type: 'boolean' } },
  positionalsMin: 1,
  positionalsMax: 1,
  run: async (input) => {
    const name = userArgument(input);
    const password = await newPassword(input, name);
    return withClient(input, 'user create', async ({ client, json, out }) => {
      await client.createUser(name, password);
      out(
        json
          ? jsonLine({ user: name, mechanism: 'SCRAM-SHA-256' })
          : `user ${name} saved (SCRAM-SHA-256; the cluster stores a salted credential, not the password)\n`,
      );
      return ExitCode.ok;
    });
  },
};

export const userDelete: Command = {
  path: ['user', 'delete'],
  summary: 'delete a user (its ACLs stay)',
  synopsis: 'user delete NAME',
  optionHelp: clientOptionHelp,
  options: clientOptions,
  positionalsMin: 1,
  positionalsMax: 1,
  run: (input) => {
    const name = userArgument(input);
    return withClient(input, 'user delete', async ({ client, json, out }) => {
      await client.deleteUser(name);
      out(json ? jsonLine({ user: name, deleted: true }) : `deleted user ${name}\n`);
      return ExitCode.ok;
    });
  },
};

export const userList: Command = {
  path: ['user', 'list'],
  summary: 'list users (names and mechanisms, never credentials)',
  synopsis: 'user list',
  optionHelp: clientOptionHelp,
  options: clientOptions,
  positionalsMin: 0,
  positionalsMax: 0,
  run: (input) =>
    withClient(input, 'user list', async ({ client, json, out }) => {
      const users = await client.listUsers();
      if (json)
        out(
          jsonLine({ users: users.map((u) => ({ name: u.name, mechanism: u.mechanism, iterations: u.iterations })) }),
        );
      else
        out(
          formatTable(
            ['NAME', 'MECHANISM', 'ITERATIONS'],
            users.map((u) => [u.name, u.mechanism, String(u.iterations)]),
          ),
        );
      return ExitCode.ok;
    }),
};
