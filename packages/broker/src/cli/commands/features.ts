/**
 * Cluster feature levels (controller/features.ts) from the command line:
 *   `features describe`             the finalized level and what each broker reads
 *   `features finalize [--level N]` raise the finalized level once every broker reads it
 *   `compatibility check --version V`  can StreamBus V run in this cluster (upgrade or downgrade)?
 * A cluster whose brokers predate feature levels answers UNSUPPORTED_VERSION; the verbs read that
 * as level 1, which is what such brokers run.
 */
import type { CliBrokerFeatures, CliClusterFeatures } from '../client.js';
import type { Command } from '../command.js';
import { UsageError, booleanOption, clientOptionHelp, clientOptions, integerOption, stringOption } from '../command.js';
import { ExitCode, errorCode } from '../exit-codes.js';
import { formatTable, jsonLine } from '../format.js';
import { featureLevelInitial } from '../../controller/features.js';
import { preFeatureLevelsRelease, release, releases } from '../../releases.js';
import type { Release } from '../../releases.js';
import { streambusVersion } from '../../version.js';
import type { ClientRun } from './with-client.js';
import { withClient } from './with-client.js';

/** A feature level on the command line: 1..this. */
const featureLevelArgumentMax = 0xffff;

export const featuresDescribe: Command = {
  path: ['features', 'describe'],
  summary: 'the finalized cluster feature level and the levels each broker reads',
  synopsis: 'features describe',
  optionHelp: clientOptionHelp,
  options: clientOptions,
  positionalsMin: 0,
  positionalsMax: 0,
  run: (input) =>
    withClient(input, 'features describe', async ({ client, json, out }) => {
      const cluster = await clusterFeatures(client);
      if (json) {
        out(jsonLine(featuresJson(cluster)));
        return ExitCode.ok;
      }
      const finalizable =
        cluster.finalizableLevel === 0 ? 'unknown (a broker did not answer)' : String(cluster.finalizableLevel);
      out(
        `finalized feature level ${cluster.finalizedLevel}; every broker reads up to ${finalizable}\n` +
          brokerTable(cluster.brokers) +
          cluster.levels
            .map(
              (entry) =>
                `level ${entry.level}${entry.level <= cluster.finalizedLevel ? ' (on)' : ''}: ${entry.summary}\n`,
            )
            .join(''),
      );
      return ExitCode.ok;
    }),
};

export const featuresFinalize: Command = {
  path: ['features', 'finalize'],
  summary: 'raise the cluster feature level once every broker reads it (never lowered again)',
  synopsis: 'features finalize [--level N] [--dry-run]',
  optionHelp: [
    '    --level N                    the level (default: the highest every broker reads)',
    '    --dry-run                    check only, finalize nothing',
    ...clientOptionHelp,
  ],
  options: { ...clientOptions, level: { type: 'string' }, 'dry-run': { type: 'boolean' } },
  positionalsMin: 0,
  positionalsMax: 0,
  run: (input) => {
    const level = integerOption(input.values, 'level', 1, featureLevelArgumentMax) ?? null;
    const dryRun = booleanOption(input.values, 'dry-run');
    return withClient(input, 'features finalize', async ({ client, json, out }) => {
      const result = await client.finalizeFeatureLevel(level, dryRun);
      const unchanged = result.finalizedLevel === result.previousLevel;
      if (json)
        out(
          jsonLine({ finalized_level: result.finalizedLevel, previous_level: result.previousLevel, dry_run: dryRun }),
        );
      else if (unchanged)
        out(
          `feature level ${result.finalizedLevel} is finalized already; nothing to raise${level === null ? ' (no higher level is read by every broker)' : ''}\n`,
        );
      else
        out(
          dryRun
            ? `feature level ${result.finalizedLevel} can be finalized: every broker reads it (nothing changed)\n`
            : `finalized feature level ${result.finalizedLevel}: its formats are on, and brokers that do not read it can no longer start\n`,
        );
      return ExitCode.ok;
    });
  },
};

export const compatibilityCheck: Command = {
  path: ['compatibility', 'check'],
  summary: 'can StreamBus VERSION run in this cluster (rolling upgrade or downgrade)?',
  synopsis: 'compatibility check --version V',
  optionHelp: ['    --version V                  the StreamBus version to check, e.g. 0.2.0', ...clientOptionHelp],
  options: { ...clientOptions, version: { type: 'string' } },
  positionalsMin: 0,
  positionalsMax: 0,
  run: (input) => {
    const version = stringOption(input.values, 'version');
    if (version === undefined || version === '') throw new UsageError('--version V is required');
    return withClient(input, 'compatibility check', async (run) => {
      const target = release(version);
      if (target === undefined) {
        const known = releases.map((entry) => entry.version).join(', ');
        const message = `StreamBus ${version} is unknown to this CLI (StreamBus ${streambusVersion} knows ${known}); check with the CLI of ${version} or newer`;
        run.out(run.json ? jsonLine({ version, compatible: false, reason: message }) : `${message}\n`);
        return ExitCode.failed;
      }
      return report(run, target, await clusterFeatures(run.client));
    });
  },
};

/** What the cluster says, or level 1 when its brokers predate feature levels. */
async function clusterFeatures(client: ClientRun['client']): Promise<CliClusterFeatures> {
  try {
    return await client.describeFeatures();
  } catch (error: unknown) {
    if (errorCode(error) !== 'UNSUPPORTED_VERSION') throw error;
    return {
      finalizedLevel: featureLevelInitial,
      finalizableLevel: featureLevelInitial,
      brokers: [],
      levels: [],
    };
  }
}

/** The verdict of `compatibility check`: pure, so that it is tested without a cluster. */
export function compatibilityVerdict(
  target: Release,
  cluster: CliClusterFeatures,
): { readonly compatible: boolean; readonly lines: readonly string[] } {
  const finalized = cluster.finalizedLevel;
  const reads = `StreamBus ${target.version} reads feature levels ${target.featureLevelMin}..${target.featureLevelMax}`;
  const lines: string[] = [];
  if (finalized > target.featureLevelMax) {
    lines.push(
      `not compatible: ${reads}, and this cluster finalized level ${finalized}; a finalized level is never lowered, so ${target.version} cannot run here (a broker of it refuses to start)`,
    );
    return { compatible: false, lines };
  }
  if (finalized < target.featureLevelMin) {
    lines.push(
      `not compatible: ${reads}, and this cluster is at level ${finalized}; upgrade to an intermediate version and finalize level ${target.featureLevelMin} first`,
    );
    return { compatible: false, lines };
  }
  lines.push(
    `compatible: ${reads}, and this cluster is at level ${finalized}: replace brokers one at a time (streambus broker drain, stop, start ${target.version}, wait for /ready, streambus broker undrain)`,
  );
  const silent = cluster.brokers.filter((broker) => !broker.reachable);
  if (silent.length > 0)
    lines.push(
      `note: ${silent.map((broker) => `broker ${broker.brokerId}`).join(', ')} did not answer; check it before its turn`,
    );
  if (target.featureLevelMax > finalized)
    lines.push(
      `then: once every broker runs ${target.version}, streambus features finalize turns on ${target.featureLevelMax > finalized + 1 ? `levels ${finalized + 1}..${target.featureLevelMax}` : `level ${target.featureLevelMax}`}; after that a broker that does not read it refuses to start`,
    );
  return { compatible: true, lines };
}

function report(run: ClientRun, target: Release, cluster: CliClusterFeatures): number {
  const verdict = compatibilityVerdict(target, cluster);
  if (run.json)
    run.out(
      jsonLine({
        version: target.version,
        compatible: verdict.compatible,
        finalized_level: cluster.finalizedLevel,
        version_levels: { min: target.featureLevelMin, max: target.featureLevelMax },
        reasons: verdict.lines,
        brokers: cluster.brokers.map(brokerJson),
      }),
    );
  else
    run.out(
      verdict.lines.map((line) => `${line}\n`).join('') +
        (cluster.brokers.length > 0 ? brokerTable(cluster.brokers) : ''),
    );
  return verdict.compatible ? ExitCode.ok : ExitCode.failed;
}

function versionText(broker: CliBrokerFeatures): string {
  if (!broker.reachable) return '-';
  return broker.version === '' ? `${preFeatureLevelsRelease.version} or older` : broker.version;
}

function brokerTable(brokers: readonly CliBrokerFeatures[]): string {
  return formatTable(
    ['BROKER', 'VERSION', 'READS LEVELS'],
    brokers.map((broker) => [
      String(broker.brokerId),
      versionText(broker),
      broker.reachable ? `${broker.levelMin}..${broker.levelMax}` : `no answer: ${broker.errorMessage}`,
    ]),
  );
}

function brokerJson(broker: CliBrokerFeatures): unknown {
  return {
    broker: broker.brokerId,
    version: broker.version,
    level_min: broker.levelMin,
    level_max: broker.levelMax,
    reachable: broker.reachable,
    ...(broker.reachable ? {} : { error: broker.errorMessage }),
  };
}

function featuresJson(cluster: CliClusterFeatures): unknown {
  return {
    finalized_level: cluster.finalizedLevel,
    finalizable_level: cluster.finalizableLevel,
    brokers: cluster.brokers.map(brokerJson),
    levels: cluster.levels.map((entry) => ({ level: entry.level, summary: entry.summary })),
  };
}
