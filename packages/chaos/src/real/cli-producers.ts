/**
 * Producers through the command line, as an operator or a shell script writes: one
 * `streambus produce TOPIC --partition P` process after another, a few values on its stdin, each
 * `partition P offset O` line of its stdout the acknowledgement of the value on the same input
 * line (the CLI prints results in input order). The CLI's producer is idempotent within one run.
 * A run that fails, or is still going after `cliRunMsMax` (killed by PID), leaves every value it
 * did not acknowledge unknown: it may have landed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { Prng } from '@streambus/raft/testing';
import {
  cliPauseMs,
  cliRecordsPerRunMax,
  cliRecordsPerRunMin,
  cliRunMsMax,
  realDeliveryTimeoutMs,
} from '../constants.js';
import type { History, ProduceOp } from '../history/history.js';

export interface CliProducerOptions {
  /** Path of the built CLI (packages/broker/dist/cli/main.js). */
  readonly cliPath: string;
  readonly bootstrapServers: readonly string[];
  /** More environment for each CLI run (a `--secure` run's STREAMBUS_TLS_CA and STREAMBUS_SASL_*). */
  readonly env?: Readonly<Record<string, string>> | undefined;
  readonly topic: string;
  readonly partitions: number;
  readonly history: History;
  readonly seed: number;
  /** The history's worker number of this producer (values are `c{worker}-{n}`). */
  readonly worker: number;
}

export interface CliRunStats {
  runs: number;
  succeeded: number;
  failed: number;
  killed: number;
  /** Output lines that were not `partition P offset O` or did not match the asked partition. */
  unexpectedLines: number;
}

/** Distinct failure reasons kept (the rest are counted together). */
const failureReasonsMax = 20;

const resultLine = /^partition (\d+) offset (\d+)$/;

/** The acknowledgements in a CLI run's stdout, in input order; null for a line that is not one. */
export function parseCliResults(stdout: string): ({ partition: number; offset: number } | null)[] {
  return stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const match = resultLine.exec(line.trim());
      return match === null ? null : { partition: Number(match[1]), offset: Number(match[2]) };
    });
}

export class CliProducerWorkload {
  readonly stats: CliRunStats = { runs: 0, succeeded: 0, failed: 0, killed: 0, unexpectedLines: 0 };
  private running = false;
  private loopDone: Promise<void> = Promise.resolve();
  private child: ChildProcess | null = null;
  private readonly random: Prng;
  /** Why runs failed (first line of stderr), by count. */
  readonly failures = new Map<string, number>();

  constructor(private readonly options: CliProducerOptions) {
    this.random = new Prng(options.seed * 7 + options.worker);
  }

  start(): void {
    this.running = true;
    this.loopDone = this.loop();
  }

  /** Stops after the run in progress (bounded by `cliRunMsMax`). */
  async stop(): Promise<void> {
    this.running = false;
    await this.loopDone;
  }

  /** SIGKILL of the run in progress, by PID (interrupt clean-up). */
  killSync(): void {
    const pid = this.child?.pid;
    if (pid === undefined) return;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }

  private async loop(): Promise<void> {
    let n = 0;
    let turn = 0;
    while (this.running) {
      const partition = turn++ % this.options.partitions;
      const count = this.random.between(cliRecordsPerRunMin, cliRecordsPerRunMax);
      const ops: ProduceOp[] = [];
      for (let i = 0; i < count; i++) {
        const op = this.options.history.invokeProduce(
          this.options.worker,
          `c${this.options.worker}-${n++}`,
          this.options.topic,
          partition,
          true,
        );
        if (op !== null) ops.push(op);
      }
      if (ops.length === 0) return;
      await this.runOnce(partition, ops);
      if (this.running) await sleep(cliPauseMs);
    }
  }

  private async runOnce(partition: number, ops: readonly ProduceOp[]): Promise<void> {
    const { history } = this.options;
    this.stats.runs += 1;
    const args = [
      this.options.cliPath,
      'produce',
      this.options.topic,
      '--partition',
      String(partition),
      '--bootstrap',
      this.options.bootstrapServers.join(','),
      '--timeout',
      `${Math.round(realDeliveryTimeoutMs / 1000)}s`,
    ];
    const child = spawn(process.execPath, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      ...(this.options.env === undefined ? {} : { env: { ...process.env, ...this.options.env } }),
    });
    this.child = child;
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr
      .setEncoding('utf8')
      .on('data', (chunk: string) => (stderr.length < 4096 ? (stderr += chunk) : undefined));
    child.stdin.on('error', () => undefined); // a CLI that exits early closes its stdin
    child.stdin.end(ops.map((op) => op.value).join('\n') + '\n');
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, cliRunMsMax);
    const code = await new Promise<number | null>((resolve) => {
      child.once('error', () => resolve(null));
      child.once('close', (exitCode) => resolve(exitCode));
    });
    clearTimeout(timer);
    this.child = null;
    const results = parseCliResults(stdout);
    ops.forEach((op, i) => {
      const result = results[i];
      if (result === undefined || result === null) return;
      if (result.partition !== partition) this.stats.unexpectedLines += 1;
      history.completeProduce(op, { kind: 'ok', partition: result.partition, offset: result.offset });
    });
    this.stats.unexpectedLines += results.filter((result) => result === null).length;
    const ok = code === 0 && !killed && results.length === ops.length;
    if (ok) {
      this.stats.succeeded += 1;
      return;
    }
    if (killed) this.stats.killed += 1;
    else this.stats.failed += 1;
    const reason = killed ? `cli killed after ${cliRunMsMax} ms` : `cli exit ${String(code)}: ${firstLine(stderr)}`;
    const key =
      this.failures.size < failureReasonsMax || this.failures.has(reason.slice(0, 160))
        ? reason.slice(0, 160)
        : 'other reasons';
    this.failures.set(key, (this.failures.get(key) ?? 0) + 1);
    for (const op of ops)
      if (op.outcome === null) history.completeProduce(op, { kind: 'unknown', error: `CLI: ${reason}` });
  }
}

function firstLine(text: string): string {
  return (text.split('\n').find((line) => line.trim() !== '') ?? '(no output)').trim();
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
