/**
 * The raw RPC client of `--secure` runs (the readers' and the recovery checks') against a real
 * in-process broker with TLS and SCRAM on: it authenticates on first use, and when the broker
 * restarted (its sessions are gone, the connection is remade) it authenticates again and the
 * call still succeeds. An anonymous call is refused.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ChaosCluster, History, rpcClient } from '../src/index.js';

let chaos: ChaosCluster | null = null;

afterEach(async () => {
  await chaos?.close();
  chaos = null;
});

describe('secure raw RPC client', () => {
  it('authenticates on first use and again after the broker restarted', async () => {
    chaos = await ChaosCluster.start({ size: 1, seed: 1, history: new History(), secure: true });
    await chaos.waitReady(30_000);
    const security = chaos.security;
    expect(security).not.toBeNull();
    const address = chaos.bootstrapServers[0] as string;
    const client = rpcClient(address, chaos.clientSecurity, security?.stats);
    try {
      const first = await client.Metadata({ topics: [], brokersOnly: true }, { deadlineMs: 5_000 });
      expect(first.brokers.map((broker) => broker.id)).toEqual([1]);
      expect(security?.stats.handshakes).toBe(1);
      await client.Metadata({ topics: [], brokersOnly: true }, { deadlineMs: 5_000 });
      expect(security?.stats.handshakes).toBe(1);

      await chaos.kill(1);
      await chaos.restart(1);
      await chaos.waitReady(30_000);
      const again = await client.Metadata({ topics: [], brokersOnly: true }, { deadlineMs: 5_000 });
      expect(again.brokers.map((broker) => broker.id)).toEqual([1]);
      expect(security?.stats.handshakes).toBe(2);

      await security?.probeAnonymous(address);
      expect(security?.stats.anonymousRefused).toBe(1);
      expect(security?.stats.anonymousServed).toBe(0);
    } finally {
      client.close();
    }
  }, 90_000);
});
