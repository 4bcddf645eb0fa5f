/** `streambus config dump`: the effective configuration as YAML, secrets masked. */
import type { Command } from '../command.js';
import { booleanOption } from '../command.js';
import { dumpConfig } from '../../config/dump.js';
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
