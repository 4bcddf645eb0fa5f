/**
 * Maintenance mode through the CLI on three broker processes: `streambus broker drain` moves every
 * leadership (partitions and the controller) off a broker while a producer keeps writing, the
 * broker stays without leaderships after the preferred-leader check has run, it stays drained
 * across a restart, and `streambus broker undrain` gives it its preferred leaderships back.
 */
import { Admin, Producer } from '@streambus/client';
import { describe, expect, it } from 'vitest';
import { runStreambus, useCluster } from './helpers.js';

const topic = 'drained';
const partitions = 6;

async function leadersOf(admin: Admin): Promise<number[]> {
  return (await admin.describeTopic(topic)).partitions.map((partition) => partition.leaderId);
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() >= deadline) throw new Error(`${what} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

describe('broker drain and undrain (real processes, CLI)', () => {
  const setup = useCluster('drain');

  it('drains a broker of every leadership under load, keeps it drained across a restart, undrains it', async () => {
    const cluster = setup.cluster;
    const bootstrap = cluster.bootstrap;
    const admin = new Admin({ bootstrapServers: bootstrap.split(',') });
    await admin.createTopic({ name: topic, partitions, replicationFactor: 3 });
    // Wait until broker 1 leads what it is the preferred leader of.
    await until('broker 1 leads its preferred partitions', 30_000, async () => {
      const description = await admin.describeTopic(topic);
      return description.partitions.every((p) => p.leaderId === p.replicas[0]) ? true : undefined;
    });

    const producer = new Producer({ bootstrapServers: bootstrap.split(','), lingerMs: 1 });
    let acknowledged = 0;
    let failed = 0;
    let producing = true;
    const load = (async () => {
      for (let i = 0; producing; i++) {
        await producer
          .send({ topic, partition: i % partitions, value: `v-${i}` })
          .then(() => void (acknowledged += 1))
          .catch(() => void (failed += 1));
      }
    })();

    const drain = await runStreambus(['broker', 'drain', '--broker', '1', '--timeout', '60s'], { bootstrap });
    expect(drain.stderr).not.toContain('TIMEOUT');
    expect(drain.code).toBe(0);
    expect(drain.stdout).toBe(
      'broker 1 drained: it leads nothing and is no preferred leader until: streambus broker undrain --broker 1\n',
    );
    expect(await leadersOf(admin)).not.toContain(1);
    const status = await runStreambus(['cluster', 'status', '--json'], { bootstrap });
    const parsed = JSON.parse(status.stdout) as { controller: number; brokers: { id: number; drained: boolean }[] };
    expect(parsed.controller).not.toBe(1);
    expect(parsed.brokers.find((broker) => broker.id === 1)?.drained).toBe(true);
    expect(parsed.brokers.filter((broker) => broker.drained)).toHaveLength(1);

    // The preferred-leader check (every 3 s) does not hand anything back to a drained broker.
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    expect(await leadersOf(admin)).not.toContain(1);

    // A drained broker stays drained across a restart; a second drain answers at once.
    expect(await cluster.stop(1)).toBe(0);
    await cluster.restart(1, 60_000);
    const again = await runStreambus(['broker', 'drain', '--json'], { bootstrap: cluster.brokers[0]?.listen ?? '' });
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ broker: 1, drained: true, groups_led: 0 });
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    expect(await leadersOf(admin)).not.toContain(1);

    const undrain = await runStreambus(['broker', 'undrain', '--broker', '1'], { bootstrap });
    expect(undrain.code).toBe(0);
    await until('broker 1 takes its preferred leaderships back', 30_000, async () => {
      const description = await admin.describeTopic(topic);
      return description.partitions.every((p) => p.leaderId === p.replicas[0]) ? true : undefined;
    });
    producing = false;
    await load;
    await producer.close();
    await admin.close();
    expect(acknowledged).toBeGreaterThan(0);
    expect(failed).toBe(0);
  });
});
