/**
 * The replay command both runners (`run`, in-process; `real`, broker processes) print: the
 * command, the flags every run has, the runner's own flags, and the planted faults that are on.
 */
import type { UnsafeTestingKnobs } from '@streambus/broker/testing';
import { partitionsDefault } from '../constants.js';

/** What every run names in its replay command (a default stands in for what is unset). */
export interface ReplayedRun {
  readonly seed: number;
  readonly durationMs?: number;
  readonly brokers?: number;
  readonly partitions?: number;
  readonly unsafeTestingKnobs?: UnsafeTestingKnobs;
}

/** `command --seed S --duration Ds --brokers B --partitions P`. */
export function replayFlags(
  command: string,
  options: ReplayedRun,
  durationMsDefault: number,
  brokersDefault: number,
): string[] {
  return [
    command,
    `--seed ${options.seed}`,
    `--duration ${Math.round((options.durationMs ?? durationMsDefault) / 1000)}s`,
    `--brokers ${options.brokers ?? brokersDefault}`,
    `--partitions ${options.partitions ?? partitionsDefault}`,
  ];
}

/** `parts` as one command line, ending with `--unsafe` and the planted faults that are on (if any). */
export function replayLine(parts: readonly string[], options: ReplayedRun): string {
  const knobs = Object.entries(options.unsafeTestingKnobs ?? {})
    .filter(([, on]) => on === true)
    .map(([name]) => name);
  return (knobs.length === 0 ? parts : [...parts, `--unsafe ${knobs.join(',')}`]).join(' ');
}
