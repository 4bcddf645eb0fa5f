/**
 * Runs the CLI session that README.md shows, against a real 3-process cluster: every `$` line is
 * executed (with the cluster's real addresses), must exit 0, and must print the lines the README
 * shows under it (`...` ends the comparison for that command).
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { useCluster } from './helpers.js';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cliPath = join(repoRoot, 'packages', 'broker', 'bin', 'streambus.js');

interface Step {
  readonly command: string;
  readonly expected: readonly string[];
}

async function readmeSession(): Promise<Step[]> {
  const readme = await readFile(join(repoRoot, 'README.md'), 'utf8');
  const block = /```console\n([\s\S]*?)```/.exec(readme);
  if (block === null) throw new Error('README.md has no ```console block');
  const steps: { command: string; expected: string[] }[] = [];
  for (const line of (block[1] ?? '').split('\n')) {
    if (line.startsWith('$ ')) steps.push({ command: line.slice(2), expected: [] });
    else if (line.length > 0) steps[steps.length - 1]?.expected.push(line);
  }
  return steps;
}

function run(command: string, env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('bash', ['-c', command], { env, cwd: repoRoot, timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

describe('the README CLI session', () => {
  const setup = useCluster('readme');

  it('works as shown', async () => {
    const steps = await readmeSession();
    expect(steps.length).toBeGreaterThan(5);
    const env: NodeJS.ProcessEnv = { ...process.env };
    const adminOfFirst = setup.cluster.brokers[0]!.admin;
    for (const step of steps) {
      const command = step.command
        .replaceAll('127.0.0.1:9092,127.0.0.1:9093,127.0.0.1:9094', setup.cluster.bootstrap)
        .replaceAll('127.0.0.1:8081', adminOfFirst)
        .replaceAll('npx streambus', `node ${cliPath}`);
      const exported = /^export (\w+)=(\S+)$/.exec(command);
      if (exported !== null) {
        env[exported[1]!] = exported[2]!;
        continue;
      }
      const result = await run(command, env);
      expect(result.code, `${step.command}\n${result.stderr}`).toBe(0);
      const lines = result.stdout.split('\n');
      for (const [index, expected] of step.expected.entries()) {
        if (expected === '...') break;
        expect(lines[index], `line ${index + 1} of: ${step.command}`).toBe(expected);
      }
    }
  }, 180_000);
});
