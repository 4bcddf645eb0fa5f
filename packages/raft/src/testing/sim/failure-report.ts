/**
 * The failure report both seed runners print (`describeFailure`, `describeHostFailure`): the
 * seed and check, the details, the last trace lines of a deterministic re-run, and the commands
 * that replay the run, trace it, and (for a random-phase failure) replay it up to the failure.
 */
import { simTraceLinesKept } from './constants.js';
import type { SimViolation } from './violation.js';

/** A trace sink that keeps the last `simTraceLinesKept` lines. */
export function traceTail(): { readonly lines: string[]; readonly trace: (line: string) => void } {
  const lines: string[] = [];
  return {
    lines,
    trace: (line) => {
      lines.push(line);
      if (lines.length > simTraceLinesKept) lines.shift();
    },
  };
}

/** The `shorter:` line's command: the same run up to the failure, at random step `stepsDone`. */
export function shorterLine(command: string, stepsDone: number): string {
  return `  shorter: ${command} (the same run up to the failure, at random step ${stepsDone})`;
}

/** `what` names the run (`seed 7`, `host seed 7`); `shorter` lines go last. */
export function formatFailure(
  what: string,
  violation: SimViolation,
  tail: readonly string[],
  replay: string,
  shorter: readonly string[],
): string {
  return [
    `sim: ${what} FAILED check ${violation.check}`,
    `  ${violation.details}`,
    `  last ${tail.length} trace lines:`,
    ...tail.map((line) => `    ${line}`),
    `  replay: ${replay}`,
    `  trace:  ${replay} --verbose`,
    ...shorter,
  ].join('\n');
}
