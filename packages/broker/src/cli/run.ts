/**
 * The `streambus` dispatcher: finds the verb, parses its flags strictly (node:util parseArgs),
 * prints help, runs it, and turns every outcome into a documented exit code.
 */
import { parseArgs } from 'node:util';
import { suggest } from '../config/suggest.js';
import { streambusVersion } from '../version.js';
import type { CliDeps, Command, OptionValues } from './command.js';
import { UsageError } from './command.js';
import { backupCreate, backupList, backupRestore, backupVerify } from './commands/backup.js';
import { brokerDrain, brokerUndrain } from './commands/broker.js';
import { clusterStatus, status } from './commands/cluster.js';
import { compatibilityCheck, featuresDescribe, featuresFinalize } from './commands/features.js';
import { configDump, configKeys } from './commands/config.js';
import { consume } from './commands/consume.js';
import {
  consumerGroupsDelete,
  consumerGroupsDescribe,
  consumerGroupsList,
  consumerGroupsResetOffsets,
} from './commands/consumer-groups.js';
import { health } from './commands/health.js';
import { produce } from './commands/produce.js';
import { server } from './commands/server.js';
import { topicCreate, topicDelete, topicDescribe, topicList } from './commands/topic.js';
import { topicReassign } from './commands/topic-reassign.js';
import { walVerify } from './commands/wal.js';
import { userCreate, userDelete, userList } from './commands/user.js';
import { aclAdd, aclList, aclRemove } from './commands/acl.js';
import { ExitCode } from './exit-codes.js';
import { rethrowBug } from '../bugs.js';

export const commands: readonly Command[] = [
  server,
  topicCreate,
  topicList,
  topicDescribe,
  topicDelete,
  topicReassign,
  produce,
  consume,
  consumerGroupsList,
  consumerGroupsDescribe,
  consumerGroupsDelete,
  consumerGroupsResetOffsets,
  clusterStatus,
  status,
  brokerDrain,
  brokerUndrain,
  featuresDescribe,
  featuresFinalize,
  compatibilityCheck,
  userCreate,
  userDelete,
  userList,
  aclAdd,
  aclRemove,
  aclList,
  backupCreate,
  backupList,
  backupVerify,
  backupRestore,
  health,
  configDump,
  configKeys,
  walVerify,
];

const exitCodeHelp = [
  'Exit codes:',
  '  0  ok',
  '  1  the operation failed (e.g. topic exists, unknown topic, broker down, damage found)',
  '  2  usage or configuration error: nothing was attempted',
  '  3  unavailable or timed out: no broker, leader or answer in time; retrying may help',
];

export function generalHelp(): string {
  const width = Math.max(...commands.map((command) => command.path.join(' ').length));
  return [
    'usage: streambus <command> [flags]',
    '',
    'Commands:',
    ...commands.map((command) => `  ${command.path.join(' ').padEnd(width)}  ${command.summary}`),
    '',
    'Flags:',
    '  -h, --help     help for any command: streambus topic create --help',
    '  -V, --version  print the version',
    '',
    'Client commands take --bootstrap HOST:PORT[,...] (default $STREAMBUS_BOOTSTRAP, else 127.0.0.1:9092) and --json;',
    'on a secure cluster --tls-ca FILE, --sasl-username NAME and --sasl-password-file FILE (or STREAMBUS_TLS_CA,',
    'STREAMBUS_SASL_USERNAME, STREAMBUS_SASL_PASSWORD_FILE or STREAMBUS_SASL_PASSWORD).',
    '',
    ...exitCodeHelp,
    '',
  ].join('\n');
}

export function commandHelp(command: Command): string {
  return [
    `usage: streambus ${command.synopsis}`,
    '',
    `${command.summary[0]?.toUpperCase() ?? ''}${command.summary.slice(1)}.`,
    '',
    'Flags:',
    ...command.optionHelp.map((line) => `  ${line}`),
    '  -h, --help                       this help',
    '',
  ].join('\n');
}

function groupHelp(group: string): string {
  const members = commands.filter((command) => command.path[0] === group);
  return [
    `usage: streambus ${group} <${members.map((command) => command.path[1]).join('|')}> [flags]`,
    '',
    ...members.map((command) => `  streambus ${command.synopsis}\n      ${command.summary}`),
    '',
  ].join('\n');
}

/** Runs one invocation; never throws (bugs excepted); returns the exit code. */
export async function runCli(argv: readonly string[], deps: CliDeps): Promise<number> {
  const io = deps.io;
  const first = argv[0];
  if (first === undefined || first === '-h' || first === '--help' || first === 'help') {
    (first === undefined ? io.stderr : io.stdout)(generalHelp());
    return first === undefined ? ExitCode.usage : ExitCode.ok;
  }
  if (first === '-V' || first === '--version' || first === 'version') {
    io.stdout(`streambus ${streambusVersion}\n`);
    return ExitCode.ok;
  }
  const command = commands.find((candidate) => candidate.path.every((word, index) => argv[index] === word));
  if (command === undefined) return unknownCommand(argv, deps);
  const rest = argv.slice(command.path.length);
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout(commandHelp(command));
    return ExitCode.ok;
  }
  try {
    const { values, positionals } = parseArguments(command, rest);
    return await command.run({ values, positionals, deps });
  } catch (error: unknown) {
    if (error instanceof UsageError) {
      io.stderr(
        `streambus ${command.path.join(' ')}: ${error.message}\nusage: streambus ${command.synopsis}\n(see streambus ${command.path.join(' ')} --help)\n`,
      );
      return ExitCode.usage;
    }
    throw error;
  }
}

function unknownCommand(argv: readonly string[], deps: CliDeps): number {
  const io = deps.io;
  const first = argv[0] ?? '';
  const groups = new Set(commands.filter((command) => command.path.length > 1).map((command) => command.path[0] ?? ''));
  if (groups.has(first)) {
    const second = argv[1];
    if (second === undefined || second === '--help' || second === '-h') {
      (second === undefined ? io.stderr : io.stdout)(groupHelp(first));
      return second === undefined ? ExitCode.usage : ExitCode.ok;
    }
    const subcommands = commands.filter((command) => command.path[0] === first).map((command) => command.path[1] ?? '');
    const guess = suggest(second, subcommands);
    io.stderr(
      `streambus ${first}: unknown subcommand "${second}"${guess === undefined ? '' : `; did you mean "streambus ${first} ${guess}"?`}\n${groupHelp(first)}`,
    );
    return ExitCode.usage;
  }
  const verbs = [...new Set(commands.map((command) => command.path[0] ?? ''))];
  const guess = first.startsWith('-') ? undefined : suggest(first, verbs);
  const what = first.startsWith('-') ? `unknown flag "${first}"` : `unknown command "${first}"`;
  io.stderr(
    `streambus: ${what}${guess === undefined ? '' : `; did you mean "streambus ${guess}"?`}\nrun "streambus --help" for the commands\n`,
  );
  return ExitCode.usage;
}

function parseArguments(
  command: Command,
  args: readonly string[],
): { values: OptionValues; positionals: readonly string[] } {
  let parsed: { values: OptionValues; positionals: string[] };
  try {
    parsed = parseArgs({ args: [...args], options: { ...command.options }, allowPositionals: true, strict: true }) as {
      values: OptionValues;
      positionals: string[];
    };
  } catch (error: unknown) {
    rethrowBug(error);
    throw new UsageError(
      error instanceof Error
        ? (error.message.split('\n')[0]?.replace(/\. To specify a positional argument.*$/, '') ?? 'bad arguments')
        : 'bad arguments',
    );
  }
  const count = parsed.positionals.length;
  if (count < command.positionalsMin) {
    throw new UsageError(`missing argument${command.positionalsMin - count > 1 ? 's' : ''}`);
  }
  if (count > command.positionalsMax) {
    throw new UsageError(`unexpected argument "${parsed.positionals[command.positionalsMax] ?? ''}"`);
  }
  return parsed;
}
