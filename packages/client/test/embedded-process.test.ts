/**
 * The SDK inside a real process whose first bootstrap broker is dead: every wait of a retry
 * keeps the process alive until the operation ends. (An unref'd backoff timer let Node's event
 * loop drain mid-retry: the process exited with nothing done, as the CLI did.)
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeStreamBusCluster } from '../src/testing/index.js';

const app = fileURLToPath(new URL('./fixtures/embedded-app.ts', import.meta.url));

function run(bootstrap: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--conditions=@streambus/source', '--import', 'tsx', app, bootstrap],
      { timeout: 30_000 },
      (error, stdout, stderr) => {
        resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stdout, stderr });
      },
    );
  });
}

describe('an application embedding the SDK', () => {
  let cluster: FakeStreamBusCluster;
  beforeEach(async () => {
    cluster = await FakeStreamBusCluster.start({ brokers: 3, faultFronts: true });
    cluster.createTopic('orders', 3);
  });
  afterEach(async () => {
    await cluster.stop();
  });

  it('gets its answers while the first bootstrap broker refuses connections', async () => {
    await cluster.setBrokerFault(1, 'dead');
    const result = await run(cluster.bootstrapServers.join(','));
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const answer = JSON.parse(result.stdout) as { topics: string[]; value: string };
    expect(answer.topics).toEqual(['orders']);
    expect(answer.value).toBe('embedded');
  }, 40_000);
});
