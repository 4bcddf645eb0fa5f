/**
 * A broker whose disk fails: its Raft host stops (nothing about what is durable can be trusted),
 * the broker says so on /ready, answers clients with a retriable BROKER_NOT_AVAILABLE (not an
 * internal error), and the other brokers take its partitions over; nothing acknowledged is lost.
 */
import { Producer } from '@streambus/client';
import { ErrorCode, createStreamBusRpcClient, readCallError } from '@streambus/proto';
import { describe, expect, it } from 'vitest';
import { History } from '../src/index.js';
import { closeClustersAfterEach, startWithTopic, until } from './helpers.js';

const topic = 'eio';
closeClustersAfterEach();

describe('a failing disk on one broker', () => {
  it('stops that broker serving (not ready, retriable errors) while the others take over', async () => {
    const { chaos, groupId, leader } = await startWithTopic({ size: 3, seed: 11, history: new History() }, topic);
    const producer = new Producer({
      bootstrapServers: chaos.bootstrapServers,
      acks: 'all',
      lingerMs: 0,
      deliveryTimeoutMs: 20_000,
    });
    await producer.send({ topic, partition: 0, value: Buffer.from('before') });

    chaos.failDisk(leader, true);
    const broken = chaos.inner.broker(leader);
    // Any write now fails the store: the host stops, the broker reports it.
    const sent = producer.send({ topic, partition: 0, value: Buffer.from('during') });
    await until(() => (broken.fatal !== null ? 1 : 0));
    expect(broken.notReadyReason()).toMatch(/^storage failed \(injected disk failure/);
    // Clients get a retriable error from it, whatever they ask.
    const direct = createStreamBusRpcClient(`127.0.0.1:${broken.port}`);
    const refused = await direct.Metadata({ topics: [topic], brokersOnly: false }, { deadlineMs: 2_000 }).then(
      () => null,
      (error: unknown) => readCallError(error),
    );
    direct.close();
    expect(refused?.errorCode).toBe(ErrorCode.BROKER_NOT_AVAILABLE);
    expect(refused?.message).toContain('storage failure');
    // The record is acknowledged by the new leader once the client moved on.
    const receipt = await sent;
    expect(receipt.offset).toBe(1);
    expect(chaos.leaderOf(groupId)).not.toBe(leader);
    await producer.close();
  });
});
