/**
 * Recovery seen from outside (real processes): poll Metadata until every partition of `topic`
 * has a leader and a full ISR. Returns the milliseconds it took, or null past the bound.
 */
import { rpcClient } from '../security.js';
import type { ClientSecurity } from '../security.js';

export async function waitRecoveredByMetadata(
  bootstrapServers: readonly string[],
  topic: string,
  boundMs: number,
  security?: ClientSecurity,
): Promise<number | null> {
  const clients = bootstrapServers.map((address) => rpcClient(address, security));
  const started = Date.now();
  try {
    let turn = 0;
    while (Date.now() - started <= boundMs) {
      const client = clients[turn++ % clients.length];
      try {
        const metadata = await client!.Metadata({ topics: [topic], brokersOnly: false }, { deadlineMs: 2_000 });
        const partitions = metadata.topics.find((t) => t.name === topic)?.partitions ?? [];
        if (
          partitions.length > 0 &&
          partitions.every(
            (p) =>
              p.leaderId > 0 &&
              p.inSyncReplicas.length === p.replicas.length &&
              p.replicas.every((id) => p.inSyncReplicas.includes(id)),
          )
        )
          return Date.now() - started;
      } catch {
        // that broker is down or slow: ask the next one
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return null;
  } finally {
    for (const client of clients) client.close();
  }
}

/** The high watermark of every partition of `topic` (by partition number) from the first broker that knows them all, or null. */
export async function highWatermarksByMetadata(
  bootstrapServers: readonly string[],
  topic: string,
  partitions: number,
  security?: ClientSecurity,
): Promise<number[] | null> {
  for (const address of bootstrapServers) {
    const client = rpcClient(address, security);
    try {
      const metadata = await client.Metadata({ topics: [topic], brokersOnly: false }, { deadlineMs: 2_000 });
      const list = metadata.topics.find((t) => t.name === topic)?.partitions ?? [];
      if (list.length === partitions)
        return [...list].sort((a, b) => a.partition - b.partition).map((p) => p.highWatermark);
    } catch {
      // the next broker
    } finally {
      client.close();
    }
  }
  return null;
}
