/**
 * Polling consumers through the SDK (@streambus/client Consumer), as an application reads: each
 * is assigned every partition from offset 0 and polls as the run goes, and every record a poll
 * returns is recorded with the poll's number, so the checker can judge the sequence each
 * consumer returned (non-monotonic, skipped, inconsistent). Offset reset is `none`: a broker
 * answering OFFSET_OUT_OF_RANGE surfaces as a counted error instead of a silent jump.
 */
import { Consumer, StreamBusError } from '@streambus/client';
import { pollTimeoutMs } from '../constants.js';
import type { History } from '../history/history.js';
import type { ClientSecurity } from '../security.js';

export interface PollerWorkloadOptions {
  readonly bootstrapServers: readonly string[];
  /** The SDK's `tls` and `sasl` options of a `--secure` run. */
  readonly security?: ClientSecurity | undefined;
  readonly topic: string;
  readonly partitions: number;
  readonly consumers: number;
  readonly history: History;
}

export class PollerWorkload {
  private running = false;
  private readonly loops: Promise<void>[] = [];
  private readonly consumers: Consumer[] = [];
  /** Next offset each consumer expects per partition (the one after the last it got). */
  private readonly next: number[][] = [];
  /** Poll errors by code. */
  readonly errors = new Map<string, number>();
  /** Polls that returned nothing for this long in a row, the longest seen (a stalled consumer). */
  longestEmptyStretchMs = 0;

  constructor(private readonly options: PollerWorkloadOptions) {}

  start(): void {
    this.running = true;
    const { topic, partitions } = this.options;
    for (let index = 0; index < this.options.consumers; index++) {
      const consumer = new Consumer({
        bootstrapServers: this.options.bootstrapServers,
        clientId: `chaos-poller-${index}`,
        autoOffsetReset: 'none',
        fetchMaxWaitMs: 200,
        requestTimeoutMs: 5_000,
        retryBackoffMs: 50,
        retryBackoffMsMax: 500,
        metadataMaxAgeMs: 2_000,
        ...this.options.security,
      });
      const assignment = Array.from({ length: partitions }, (_, partition) => ({ topic, partition }));
      consumer.assign(assignment);
      for (const tp of assignment) consumer.seek(tp, 0);
      this.consumers.push(consumer);
      this.next.push(Array.from({ length: partitions }, () => 0));
      this.loops.push(this.loop(index, consumer));
    }
  }

  /** True when every consumer got every partition up to `ends[partition]`. */
  caughtUp(ends: readonly number[]): boolean {
    return this.next.every((positions) => positions.every((position, partition) => position >= (ends[partition] ?? 0)));
  }

  positions(): number[][] {
    return this.next.map((positions) => [...positions]);
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.consumers.map((consumer) => consumer.close()));
    await Promise.all(this.loops);
  }

  private async loop(index: number, consumer: Consumer): Promise<void> {
    const next = this.next[index] as number[];
    let poll = 0;
    let lastRecordsAtMs = Date.now();
    while (this.running) {
      try {
        const records = await consumer.poll(pollTimeoutMs);
        poll += 1;
        const now = Date.now();
        if (records.length === 0) {
          this.longestEmptyStretchMs = Math.max(this.longestEmptyStretchMs, now - lastRecordsAtMs);
          continue;
        }
        lastRecordsAtMs = now;
        for (const record of records) {
          const value = record.value === null ? '' : record.value.toString('utf8');
          this.options.history.poll({
            consumer: index,
            topic: record.topic,
            partition: record.partition,
            offset: record.offset,
            value,
            poll,
          });
          if (record.offset + 1 > (next[record.partition] ?? 0)) next[record.partition] = record.offset + 1;
        }
      } catch (error) {
        if (!this.running) return;
        const code = error instanceof StreamBusError ? error.code : 'ERROR';
        this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
        if (code === 'CLIENT_CLOSED') return;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }
}
