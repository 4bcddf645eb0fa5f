/**
 * Every client verb of the `streambus` executable, run as a real process, while broker 1 (the
 * first address of the bootstrap list) is dead, paused or unreachable (the fake cluster's fault
 * fronts; real brokers under the same faults are in packages/chaos). Before the fix a dead first
 * broker made `produce` and `consume` exit 3 within a second ("the operation stalled without an
 * answer"), and a paused or unreachable one made every verb fail at its 10 s --timeout. Each verb
 * has that deadline of its own, so exit 0 is the proof that nothing waited it out.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { FakeStreamBusCluster, type BrokerFault } from '@streambus/client/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const main = fileURLToPath(new URL('./main.ts', import.meta.url));

interface Result {
  readonly args: readonly string[];
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function cli(bootstrap: string, args: readonly string[], stdin?: string): Promise<Result> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      ['--conditions=@streambus/source', '--import', 'tsx', main, ...args],
      { env: { PATH: process.env['PATH'] ?? '', STREAMBUS_BOOTSTRAP: bootstrap }, timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
        resolve({ args, code, stdout, stderr });
      },
    );
    child.stdin?.end(stdin ?? '');
  });
}

describe.each<BrokerFault>(['dead', 'paused', 'unreachable'])('the CLI with broker 1 %s', (fault) => {
  let cluster: FakeStreamBusCluster;
  beforeEach(async () => {
    cluster = await FakeStreamBusCluster.start({ brokers: 3, faultFronts: true });
    cluster.createTopic('orders', 3);
    cluster.createTopic('old', 1);
  });
  afterEach(async () => {
    await cluster.stop();
  });

  it('every client verb exits 0 with its answer', async () => {
    await cluster.setBrokerFault(1, fault);
    const bootstrap = cluster.bootstrapServers.join(',');
    // Records to read back first, so that consume has something to print.
    const seeded = await cli(bootstrap, ['produce', 'orders', '--partition', '1', '--key', 'k', '--value', 'seeded']);
    expect(seeded.stderr).toBe('');
    expect(seeded.stdout).toBe('partition 1 offset 0\n');
    const results = await Promise.all([
      cli(bootstrap, ['produce', 'orders'], 'a\nb\n'),
      cli(bootstrap, ['consume', 'orders', '--partition', '1', '--from-beginning', '--limit', '1']),
      cli(bootstrap, ['consume', 'orders', '--from-beginning', '--limit', '1']),
      cli(bootstrap, ['topic', 'create', 'fresh', '--partitions', '2', '--replication-factor', '3']),
      cli(bootstrap, ['topic', 'list']),
      cli(bootstrap, ['topic', 'describe', 'orders']),
      cli(bootstrap, ['topic', 'delete', 'old']),
      cli(bootstrap, ['topic', 'reassign', 'orders', '--partition', '0', '--replicas', '2,3,1']),
      cli(bootstrap, ['cluster', 'status']),
      cli(bootstrap, ['consumer-groups', 'list']),
    ]);
    for (const result of results) {
      expect({ args: result.args, code: result.code, stderr: result.stderr }).toEqual({
        args: result.args,
        code: 0,
        stderr: '',
      });
    }
    const [produce, consumeOne, consumeAll, create, list, describeTopic, deleteTopic, reassign, status] =
      results as Result[];
    expect(produce?.stdout).toMatch(/^partition (\d) offset (\d)\npartition \1 offset \d\n$/);
    expect(consumeOne?.stdout).toBe('[1@0] k: seeded\n');
    expect(consumeAll?.stdout).toMatch(/^\[\d@\d\] (k: seeded|a|b)\n$/); // the produce above runs alongside
    expect(create?.stdout).toContain('created topic fresh');
    expect(list?.stdout).toContain('orders\n');
    expect(describeTopic?.stdout).toContain('topic orders: 3 partitions');
    expect(deleteTopic?.stdout).toContain('old');
    expect(reassign?.stdout).toContain('orders');
    expect(status?.stdout).toContain('3 brokers');
  }, 150_000);
});
