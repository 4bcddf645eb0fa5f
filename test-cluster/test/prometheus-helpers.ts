/** What the Prometheus tests share: where ops/ is, the tools, and the queries of the dashboard and the rules. */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

export const opsDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'ops');

function tool(name: string): string {
  for (const dir of ['/usr/bin', '/usr/local/bin']) if (existsSync(join(dir, name))) return join(dir, name);
  throw new Error(`${name} is not installed: run bash .ci/setup-host.sh as root (it installs Debian's prometheus)`);
}

export const promtool = (): string => tool('promtool');
export const prometheus = (): string => tool('prometheus');

export interface DashboardQuery {
  readonly panel: string;
  readonly expr: string;
}

interface Panel {
  readonly title: string;
  readonly targets?: readonly { readonly expr: string }[];
}

export async function dashboardQueries(): Promise<DashboardQuery[]> {
  const dashboard = JSON.parse(await readFile(join(opsDir, 'grafana', 'streambus.json'), 'utf8')) as {
    panels: Panel[];
  };
  return dashboard.panels.flatMap((panel) =>
    (panel.targets ?? []).map((target) => ({ panel: panel.title, expr: target.expr })),
  );
}

export interface AlertRule {
  readonly alert: string;
  readonly expr: string;
  readonly for?: string;
}

export async function alertRules(): Promise<AlertRule[]> {
  const rules = parse(await readFile(join(opsDir, 'prometheus', 'alerts.yml'), 'utf8')) as {
    groups: { rules: AlertRule[] }[];
  };
  return rules.groups.flatMap((group) => group.rules);
}

/**
 * The query of an alert without its threshold: every rule is written "<query> <comparison>
 * <number>" so that the query can be checked for data while the alert does not fire.
 */
export function alertQuery(rule: AlertRule): string {
  const match = /^(.*\S)\s*(==|!=|>=|<=|>|<)\s*-?[\d.]+$/s.exec(rule.expr.trim());
  if (match?.[1] === undefined) throw new Error(`alert ${rule.alert}: "${rule.expr}" is not "<query> <op> <number>"`);
  return match[1];
}
