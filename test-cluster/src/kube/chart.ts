/**
 * The Helm chart as `helm template` renders it: `npm run chart:template`'s renderer
 * (tools/chart-render, Helm's engine rebuilt from Debian's Go packages) run on charts/streambus,
 * its output split into objects.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { IStatefulSet } from 'kubernetes-models/apps/v1';
import type { IConfigMap, IService } from 'kubernetes-models/v1';
import { repoRoot } from './image.js';
import { chartRenderMsMax, renderedBytesMax } from './constants.js';

/** One rendered object: what every Kubernetes object has, the rest left to its kind's type. */
export interface KubeObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: {
    readonly name: string;
    readonly namespace?: string;
    readonly labels?: Readonly<Record<string, string>>;
    readonly annotations?: Readonly<Record<string, string>>;
  };
  readonly [field: string]: unknown;
}

export interface RenderedChart {
  readonly objects: readonly KubeObject[];
  /** The rendered YAML, as `helm template` prints it. */
  readonly text: string;
}

export class ChartRenderError extends Error {
  readonly code = 'CHART_RENDER_FAILED' as const;
}

/** `npm run chart:template -- ARGS`: renders release "streambus" of charts/streambus unless ARGS name another. */
export function renderChart(args: readonly string[] = []): Promise<RenderedChart> {
  const script = join(repoRoot(), 'tools', 'chart-render', 'chart-template.mjs');
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [script, ...args],
      { cwd: repoRoot(), timeout: chartRenderMsMax, maxBuffer: renderedBytesMax },
      (error, stdout, stderr) => {
        if (error !== null) {
          reject(new ChartRenderError(`chart:template ${args.join(' ')}: ${stderr.trim() || error.message}`));
          return;
        }
        const objects = stdout
          .split(/^---\n/m)
          .filter((chunk) => chunk.trim() !== '')
          // YAML 1.1, as Kubernetes reads manifests: `defaultMode: 0440` is octal there.
          .map((chunk) => parse(chunk, { version: '1.1' }) as KubeObject | null)
          .filter((object): object is KubeObject => object !== null);
        resolve({ objects, text: stdout });
      },
    );
  });
}

function only(chart: RenderedChart, kind: string, name?: string): KubeObject {
  const matches = chart.objects.filter(
    (object) => object.kind === kind && (name === undefined || object.metadata.name === name),
  );
  if (matches.length !== 1)
    throw new ChartRenderError(`expected one ${kind}${name === undefined ? '' : ` ${name}`}, found ${matches.length}`);
  return matches[0] as KubeObject;
}

export function statefulSetOf(chart: RenderedChart): IStatefulSet {
  return only(chart, 'StatefulSet') as unknown as IStatefulSet;
}

export function configMapOf(chart: RenderedChart, name: string): IConfigMap {
  return only(chart, 'ConfigMap', name) as unknown as IConfigMap;
}

export function servicesOf(chart: RenderedChart): readonly IService[] {
  return chart.objects.filter((object) => object.kind === 'Service') as unknown as IService[];
}
