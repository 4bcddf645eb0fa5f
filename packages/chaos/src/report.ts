/** The report of a chaos run and its printer. */
import type { CheckCounts } from './checker/checker.js';
import type { GroupCheckCounts } from './checker/group-checker.js';
import type { SecurityStats } from './security.js';

export interface ChaosReport {
  readonly seed: number;
  readonly ok: boolean;
  /** The command that replays this run's fault schedule. */
  readonly replayCommand: string;
  readonly settings: string;
  readonly counts: CheckCounts;
  /** The consumer-group workload's counts, when it ran. */
  readonly group?: GroupCheckCounts;
  /** A `--secure` run's proof that security was on (handshakes made, anonymous calls refused). */
  readonly security?: SecurityStats;
  /** Milliseconds from healing until every partition had a leader and a full ISR; null if not within the bound. */
  readonly recoveryMs: number | null;
  readonly recoveryMsMax: number;
  readonly faultsInjected: number;
  readonly runMs: number;
  readonly violations: readonly string[];
  readonly examples: readonly string[];
  /** Facts worth reading that are not violations (measured losses, limits hit). */
  readonly notes: readonly string[];
}

export function formatReport(report: ChaosReport): string {
  const c = report.counts;
  const lines = [
    `chaos report  seed ${report.seed}  ${report.settings}`,
    `  acked: ${c.acked}`,
    ...(c.ackedWithoutOffset > 0
      ? [
          `  acked without an offset (DUPLICATE_SEQUENCE: written before, offset no longer known; presence checked): ${c.ackedWithoutOffset}`,
        ]
      : []),
    `  lost: ${c.lost}`,
    `  duplicated: ${c.duplicated}`,
    ...(c.duplicatedNonIdempotent > 0
      ? [`  duplicated by non-idempotent senders (at-least-once, allowed): ${c.duplicatedNonIdempotent}`]
      : []),
    `  unknown: ${c.unknown} (${c.unknownLanded} of them landed)`,
    `  failed: ${c.failed}`,
    `  offset mismatch: ${c.offsetMismatch}`,
    `  divergence: ${c.divergence}`,
    `  offset gaps: ${c.offsetGaps}`,
    `  reads: ${c.reads}  above HW: ${c.readAboveHighWatermark}  rolled back: ${c.readRolledBack}  out of order: ${c.readOutOfOrder}`,
    ...(c.polls > 0
      ? [`  polls: ${c.polls} records  non-monotonic: ${c.pollNonMonotonic}  skipped: ${c.pollSkipped}`]
      : []),
    ...(report.group === undefined ? [] : groupLines(report.group)),
    `  inconsistent offsets: ${c.inconsistentOffsets}`,
    `  leader conflicts: ${c.leaderConflicts}`,
    `  corrupt replicas: ${c.corruptReplicas}`,
    `  recovery time: ${report.recoveryMs === null ? `NOT within ${report.recoveryMsMax} ms` : `${report.recoveryMs} ms (bound ${report.recoveryMsMax} ms)`}`,
    `  faults injected: ${report.faultsInjected}  run: ${(report.runMs / 1000).toFixed(1)} s`,
  ];
  for (const note of report.notes) lines.push(`  note: ${note}`);
  if (report.ok) {
    lines.push('  result: OK');
  } else {
    lines.push('  result: VIOLATIONS');
    for (const violation of report.violations) lines.push(`    - ${violation}`);
    for (const example of report.examples) lines.push(`      ${example}`);
    lines.push(`  seed: ${report.seed}`);
    lines.push(`  replay: ${report.replayCommand}`);
  }
  return lines.join('\n');
}

function groupLines(g: GroupCheckCounts): string[] {
  return [
    `  group: ${g.members} members, ${g.callbacks} callbacks; processed ${g.groupProcessed} of ${g.groupAcked} acknowledged (unprocessed: ${g.groupUnprocessed}, reprocessed: ${g.groupReprocessed})`,
    `  group ownership overlaps: ${g.ownershipOverlaps}`,
    `  group commits: ${g.commitsAcked} acked, ${g.commitsRefused} refused, ${g.commitsUnknown} unknown; fenced accepted: ${g.fencedCommitsAccepted}  backward: ${g.commitsBackward}  lost: ${g.commitsLost}`,
  ];
}
