/**
 * Producer throughput against the in-memory fake cluster (loopback gRPC, no disk, no
 * replication): measures the client's own cost (batching, encoding, CRC, gRPC framing).
 *
 *   npx tsx --conditions=@streambus/source packages/client/src/bench/producer-bench.ts [records] [valueBytes]
 */
import { Producer } from '../index.js';
import { FakeStreamBusCluster } from '../testing/index.js';

async function main(): Promise<void> {
  const records = Number(process.argv[2] ?? 200_000);
  const valueBytes = Number(process.argv[3] ?? 100);
  const cluster = await FakeStreamBusCluster.start({ brokers: 3 });
  cluster.createTopic('bench', 12);
  const producer = new Producer({ bootstrapServers: cluster.bootstrapServers, lingerMs: 5 });
  const value = Buffer.alloc(valueBytes, 0x61);
  await producer.send({ topic: 'bench', value }); // warm-up: metadata, producer id, channels
  const started = process.hrtime.bigint();
  const sends: Promise<unknown>[] = [];
  for (let i = 0; i < records; i++) sends.push(producer.send({ topic: 'bench', key: `key-${i % 1000}`, value }));
  await Promise.all(sends);
  const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
  const stats = producer.stats();
  await producer.close();
  await cluster.stop();
  const perSecond = (records / elapsedMs) * 1000;
  console.log(
    JSON.stringify({
      what: 'idempotent acks=all producer -> fake cluster (3 brokers, 12 partitions), keyed records',
      records,
      valueBytes,
      elapsedMs: Math.round(elapsedMs),
      recordsPerSecond: Math.round(perSecond),
      megabytesPerSecond: Number(((perSecond * valueBytes) / 1e6).toFixed(1)),
      produceRequests: stats.produceRequests,
      batchesSent: stats.batchesSent,
      recordsPerBatch: Math.round(records / stats.batchesSent),
      node: process.version,
    }),
  );
}

void main();
