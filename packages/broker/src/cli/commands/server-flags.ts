/** The flags that shape a broker's configuration, shared by `server` and `config dump`. */
import type { CommandInput, OptionSpec } from '../command.js';
import { stringOption } from '../command.js';
import type { LoadResult } from '../../config/load.js';
import { formatConfigProblem, loadConfig } from '../../config/load.js';
import type { ConfigFlags } from '../../config/types.js';
import { ExitCode } from '../exit-codes.js';

export const serverOptions: Readonly<Record<string, OptionSpec>> = {
  config: { type: 'string', short: 'c' },
  id: { type: 'string' },
  'data-dir': { type: 'string' },
  listen: { type: 'string' },
  port: { type: 'string' },
  admin: { type: 'string' },
  peers: { type: 'string' },
  'log-level': { type: 'string' },
};

export const serverOptionHelp: readonly string[] = [
  '-c, --config FILE                server.yaml (default $STREAMBUS_CONFIG)',
  '    --id N                       broker id, or a pod name: streambus-N is broker N+1',
  '    --data-dir DIR               data directory',
  '    --listen HOST:PORT           client and peer address (default 0.0.0.0:9092)',
  '    --port PORT                  the port of --listen alone; the host stays (file, env or 0.0.0.0)',
  '    --admin HOST:PORT            admin HTTP address (default 0.0.0.0:9090)',
  '    --peers 1=H:P,2=H:P,3=H:P    static cluster members',
  '    --log-level LEVEL            debug, info, warn or error',
  'Precedence: defaults < --config file < STREAMBUS_* environment < flags.',
];

export function configFlags(input: CommandInput): ConfigFlags {
  const flags: Record<string, string> = {};
  const pairs: ReadonlyArray<readonly [keyof ConfigFlags, string]> = [
    ['config', 'config'],
    ['id', 'id'],
    ['dataDir', 'data-dir'],
    ['listen', 'listen'],
    ['port', 'port'],
    ['admin', 'admin'],
    ['peers', 'peers'],
    ['logLevel', 'log-level'],
  ];
  for (const [field, option] of pairs) {
    const value = stringOption(input.values, option);
    if (value !== undefined) flags[field] = value;
  }
  return flags;
}

/** Loads the configuration, printing problems (exit 2) and warnings to stderr. */
export async function loadForCommand(
  input: CommandInput,
): Promise<{ readonly exitCode: number } | { readonly result: Extract<LoadResult, { ok: true }> }> {
  const result = await loadConfig({ env: input.deps.io.env, flags: configFlags(input) });
  if (!result.ok) {
    for (const problem of result.problems) input.deps.io.stderr(`${formatConfigProblem(problem)}\n`);
    return { exitCode: ExitCode.usage };
  }
  for (const warning of result.loaded.warnings) input.deps.io.stderr(`${warning}\n`);
  return { result };
}
