/**
 * StreamBus client quickstart: create a topic, produce, consume, inspect the cluster.
 *
 *   # against a running cluster
 *   STREAMBUS_BOOTSTRAP=broker-0:9092,broker-1:9092 npx tsx --conditions=@streambus/source packages/client/examples/quickstart.ts
 *   # without one: starts an in-memory fake cluster on loopback
 *   npx tsx --conditions=@streambus/source packages/client/examples/quickstart.ts
 */
import { Admin, Consumer, Producer, StreamBusError, TopicAlreadyExistsError } from '@streambus/client';
import { FakeStreamBusCluster } from '@streambus/client/testing';

async function main(): Promise<void> {
  const fake =
    process.env['STREAMBUS_BOOTSTRAP'] === undefined ? await FakeStreamBusCluster.start({ brokers: 3 }) : undefined;
  const bootstrapServers = fake?.bootstrapServers ?? (process.env['STREAMBUS_BOOTSTRAP'] as string).split(',');

  // 1. Admin: create a topic (idempotently) and look at the cluster.
  const admin = new Admin({ bootstrapServers });
  try {
    await admin.createTopic({ name: 'user-events', partitions: 6, replicationFactor: 3 });
  } catch (error) {
    if (!(error instanceof TopicAlreadyExistsError)) throw error;
  }
  const status = await admin.clusterStatus();
  console.log(`cluster ${status.clusterId}: ${status.brokers.length} brokers, controller ${status.controllerId}`);

  // 2. Producer: idempotent, acks=all by default; batches by lingerMs / batchBytesMax.
  const producer = new Producer({ bootstrapServers, lingerMs: 5, compression: 'gzip' });
  const sends = [];
  for (let i = 0; i < 100; i++) {
    sends.push(
      producer.send({
        topic: 'user-events',
        key: `user-${i % 10}`,
        value: JSON.stringify({ userId: i % 10, n: i }),
        headers: { source: 'quickstart' },
      }),
    );
  }
  const written = await Promise.all(sends);
  console.log(
    `produced ${written.length} records; the first went to partition ${written[0]?.partition} at offset ${written[0]?.offset}`,
  );
  await producer.close(); // flushes first

  // 3. Consumer: assign partitions, start from the beginning, poll.
  const consumer = new Consumer({ bootstrapServers, autoOffsetReset: 'earliest' });
  const topic = await admin.describeTopic('user-events');
  consumer.assign(topic.partitions.map((p) => ({ topic: 'user-events', partition: p.partition })));
  let read = 0;
  while (read < written.length) {
    const records = await consumer.poll(1_000);
    if (records.length === 0) break;
    read += records.length;
  }
  console.log(`consumed ${read} records`);
  await consumer.close();
  await admin.close();
  await fake?.stop();
}

main().catch((error: unknown) => {
  // Every failure the SDK reports is a StreamBusError with a stable code.
  if (error instanceof StreamBusError) console.error(`failed: ${error.code}: ${error.message}`);
  else console.error(error);
  process.exitCode = 1;
});
