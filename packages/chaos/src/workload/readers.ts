/**
 * Checking readers: each reads every partition from offset 0 over the raw RPC (so it sees the
 * high watermark every fetch reports), follows leader changes through Metadata, and records every
 * record with the high watermark that came with it. Readers never skip or reset: a reader that
 * would have to skip an offset records nothing past it.
 */
import { decodeRecordBatch, ErrorCode, RecordBatchError } from '@streambus/proto';
import type { StreamBusRpcClient } from '@streambus/proto';
import { readerFetchBytesMax, readerFetchWaitMs } from '../constants.js';
import type { History } from '../history/history.js';
import { rpcClient } from '../security.js';
import type { ClientSecurity, SecurityStats } from '../security.js';

export interface ReaderWorkloadOptions {
  readonly bootstrapServers: readonly string[];
  /** The SDK's `tls` and `sasl` options of a `--secure` run. */
  readonly security?: ClientSecurity | undefined;
  /** Where the raw clients count their SCRAM handshakes. */
  readonly securityStats?: SecurityStats | undefined;
  readonly topic: string;
  readonly partitions: number;
  readonly readers: number;
  readonly history: History;
}

interface PartitionCursor {
  readonly partition: number;
  position: number;
  leaderAddress: string | null;
  lastHighWatermark: number;
}

export class ReaderWorkload {
  private running = false;
  private readonly loops: Promise<void>[] = [];
  private readonly clients = new Map<string, StreamBusRpcClient>();
  private readonly cursors: PartitionCursor[][] = [];
  private bootstrapIndex = 0;
  errors = 0;
  /** Fetches a broker refused with CORRUPT_MESSAGE (it detected bad stored bytes). */
  corruptRefusals = 0;
  /** Batches that arrived and failed their CRC here: corrupt data a broker served. */
  corruptServed = 0;

  constructor(private readonly options: ReaderWorkloadOptions) {}

  start(): void {
    this.running = true;
    for (let reader = 0; reader < this.options.readers; reader++) {
      const cursors = Array.from({ length: this.options.partitions }, (_, partition): PartitionCursor => ({
        partition,
        position: 0,
        leaderAddress: null,
        lastHighWatermark: 0,
      }));
      this.cursors.push(cursors);
      for (const cursor of cursors) this.loops.push(this.loop(reader, cursor));
    }
  }

  /** True when every reader's position reached `ends[partition]`. */
  caughtUp(ends: readonly number[]): boolean {
    return this.cursors.every((cursors) => cursors.every((cursor) => cursor.position >= (ends[cursor.partition] ?? 0)));
  }

  positions(): number[][] {
    return this.cursors.map((cursors) => cursors.map((cursor) => cursor.position));
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }

  private client(address: string): StreamBusRpcClient {
    let client = this.clients.get(address);
    if (client === undefined) {
      client = rpcClient(address, this.options.security, this.options.securityStats);
      this.clients.set(address, client);
    }
    return client;
  }

  private async loop(reader: number, cursor: PartitionCursor): Promise<void> {
    const { topic } = this.options;
    while (this.running) {
      try {
        if (cursor.leaderAddress === null) {
          cursor.leaderAddress = await this.findLeader(cursor.partition);
          if (cursor.leaderAddress === null) {
            await sleep(100);
            continue;
          }
        }
        const client = this.client(cursor.leaderAddress);
        const response = await client.Fetch(
          {
            maxWaitMs: readerFetchWaitMs,
            minBytes: 1,
            maxBytes: readerFetchBytesMax,
            replicaId: 0,
            partitions: [
              {
                topic,
                partition: cursor.partition,
                fetchOffset: cursor.position,
                partitionMaxBytes: readerFetchBytesMax,
              },
            ],
          },
          { deadlineMs: readerFetchWaitMs + 2_000 },
        );
        const result = response.partitions[0];
        if (result?.errorCode === ErrorCode.CORRUPT_MESSAGE) this.corruptRefusals += 1;
        if (result === undefined || result.errorCode !== ErrorCode.NONE) {
          // NOT_LEADER, out of range on a leader still applying, corrupt data refused: ask again.
          cursor.leaderAddress = null;
          await sleep(50);
          continue;
        }
        cursor.lastHighWatermark = result.highWatermark;
        if (!this.consume(reader, cursor, result.records, result.highWatermark, result.leaderId)) await sleep(100);
      } catch {
        this.errors += 1;
        cursor.leaderAddress = null;
        await sleep(100);
      }
    }
  }

  /** Records what a fetch returned; false when a served batch failed its CRC. */
  private consume(
    reader: number,
    cursor: PartitionCursor,
    bytes: Uint8Array,
    highWatermark: number,
    brokerId: number,
  ): boolean {
    const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let pos = 0;
    while (pos + 14 <= buffer.byteLength) {
      const size = 14 + buffer.readUInt32BE(pos + 10);
      if (pos + size > buffer.byteLength) break;
      let batch;
      try {
        batch = decodeRecordBatch(buffer.subarray(pos, pos + size));
      } catch (error) {
        if (!(error instanceof RecordBatchError)) throw error;
        this.corruptServed += 1;
        return false;
      }
      pos += size;
      for (const record of batch.records) {
        if (record.offset < cursor.position) continue;
        if (record.offset !== cursor.position) return true; // a gap: never skip; the checker sees no read past it
        const value = record.value === null ? '' : Buffer.from(record.value).toString('utf8');
        this.options.history.read({
          reader,
          topic: this.options.topic,
          partition: cursor.partition,
          offset: record.offset,
          value,
          highWatermark,
          brokerId,
        });
        cursor.position = record.offset + 1;
      }
    }
    return true;
  }

  private async findLeader(partition: number): Promise<string | null> {
    const servers = this.options.bootstrapServers;
    for (let attempt = 0; attempt < servers.length; attempt++) {
      const address = servers[this.bootstrapIndex % servers.length] as string;
      this.bootstrapIndex += 1;
      try {
        const metadata = await this.client(address).Metadata(
          { topics: [this.options.topic], brokersOnly: false },
          { deadlineMs: 2_000 },
        );
        const topic = metadata.topics.find((t) => t.name === this.options.topic);
        const leaderId = topic?.partitions.find((p) => p.partition === partition)?.leaderId ?? 0;
        const broker = metadata.brokers.find((b) => b.id === leaderId);
        if (broker !== undefined) return `${broker.host}:${broker.port}`;
      } catch {
        this.errors += 1;
      }
    }
    return null;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
