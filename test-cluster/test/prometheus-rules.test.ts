/**
 * ops/prometheus: the alert rules are valid (promtool check rules) and behave as their unit tests
 * say (promtool test rules); the Grafana dashboard is well-formed. The rules and dashboard
 * queries are run against a live cluster in prometheus.test.ts.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dashboardQueries, opsDir, promtool } from './prometheus-helpers.js';

function run(command: string, args: readonly string[], cwd: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd, timeout: 60_000 }, (error, stdout, stderr) =>
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, output: stdout + stderr }),
    );
  });
}

describe('ops/prometheus alert rules', () => {
  it('pass promtool check rules and their promtool unit tests', async () => {
    const dir = join(opsDir, 'prometheus');
    const check = await run(promtool(), ['check', 'rules', 'alerts.yml'], dir);
    expect(check.output).toContain('SUCCESS');
    expect(check.code).toBe(0);
    const unit = await run(promtool(), ['test', 'rules', 'alerts.test.yml'], dir);
    expect(unit.output).toContain('SUCCESS');
    expect(unit.code).toBe(0);
  });
});

describe('ops/grafana dashboard', () => {
  it('has the seeds panels, each with a query on a streambus metric or the scrape', async () => {
    const dashboard = JSON.parse(await readFile(join(opsDir, 'grafana', 'streambus.json'), 'utf8')) as {
      panels: { title: string; type: string }[];
    };
    const titles = dashboard.panels.map((panel) => panel.title).join('\n');
    for (const seed of [/Produced records/, /p50 \/ p95 \/ p99/, /leaders per broker/, /Under-replicated and offline/])
      expect(titles).toMatch(seed);
    for (const seed of [/Replication lag/, /Consumer lag/, /elections/, /Disk free/]) expect(titles).toMatch(seed);
    const queries = await dashboardQueries();
    expect(queries.length).toBeGreaterThan(30);
    for (const query of queries) expect(query.expr).toMatch(/streambus_|up\{|process_|nodejs_/);
  });
});
