/** `streambus config dump`: the effective configuration as YAML, secrets masked. */
import type { Command } from '../command.js';
import { booleanOption } from '../command.js';
import { dumpConfig, renderValue } from '../../config/dump.js';
import { describeKind, envNameOf, keySpecs, unsupportedKeys } from '../../config/schema.js';
import { formatTable, jsonLine } from '../format.js';
import { ExitCode } from '../exit-codes.js';
import { loadForCommand, serverOptionHelp, serverOptions } from './server-flags.js';

export const configDump: Command = {
  path: ['config', 'dump'],
  summary: 'print the effective configuration (file < env < flags), secrets masked',
  synopsis: 'config dump [--show-origin] [server flags]',
  optionHelp: ['    --show-origin                comment each key with where its value came from', ...serverOptionHelp],
  options: { ...serverOptions, 'show-origin': { type: 'boolean' } },
  positionalsMin: 0,
  positionalsMax: 0,
  run: async (input) => {
    const loaded = await loadForCommand(input);
    if ('exitCode' in loaded) return loaded.exitCode;
    input.deps.io.stdout(dumpConfig(loaded.result.loaded, { showOrigin: booleanOption(input.values, 'show-origin') }));
    return ExitCode.ok;
  },
};

export const configKeys: Command = {
  path: ['config', 'keys'],
  summary: 'list every config key with its environment variable, type and default, then the unsupported ones',
  synopsis: 'config keys [--json]',
  optionHelp: ['    --json                       one JSON document per key'],
  options: { json: { type: 'boolean' } },
  positionalsMin: 0,
  positionalsMax: 0,
  run: async (input) => {
    const rows = keySpecs.map((spec) => ({
      key: spec.path,
      env: envNameOf(spec.path),
      type: describeKind(spec.kind),
      default: renderValue(spec, spec.defaultValue),
      secret: spec.secret,
      supported: true,
      help: spec.help,
    }));
    // The seeds' keys that would change nothing here: refused at start, listed so that nobody wonders.
    const unsupportedRows = unsupportedKeys.map((unsupported) => ({
      key: unsupported.path,
      env: envNameOf(unsupported.path),
      supported: false,
      help: `not supported: ${unsupported.reason}`,
    }));
    if (booleanOption(input.values, 'json')) {
      input.deps.io.stdout([...rows, ...unsupportedRows].map((row) => jsonLine(row)).join(''));
      return ExitCode.ok;
    }
    input.deps.io.stdout(
      formatTable(
        ['KEY', 'ENV', 'DEFAULT', 'MEANING'],
        [
          ...rows.map((row) => [row.key, row.env, JSON.stringify(row.default), row.help]),
          ...unsupportedRows.map((row) => [row.key, row.env, '-', row.help]),
        ],
      ),
    );
    return ExitCode.ok;
  },
};
