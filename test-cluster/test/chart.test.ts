/**
 * The Helm chart (charts/streambus), rendered by `npm run chart:template`'s renderer
 * (tools/chart-render: Helm's template engine built from Debian's Go packages, since the helm
 * binary cannot be installed here): every rendered object validates against the Kubernetes API
 * schemas (kubernetes-models), the values that matter land where they should, bad values are
 * refused by values.schema.json, and the server.yaml the ConfigMap carries is accepted by the
 * real broker config loader with the environment the StatefulSet sets.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { StatefulSet } from 'kubernetes-models/apps/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Service, ServiceAccount } from 'kubernetes-models/v1';
import type { IContainer, IEnvVar } from 'kubernetes-models/v1';
import type { IStatefulSet } from 'kubernetes-models/apps/v1';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const chartTemplate = join(repoRoot, 'tools', 'chart-render', 'chart-template.mjs');
/** The `streambus` binary the image's ENTRYPOINT runs (it imports dist/cli/main.js). */
const streambusCli = join(repoRoot, 'packages', 'broker', 'bin', 'streambus.js');
/** First run builds the Go renderer (about 5 s on 2 cores); later runs take about 0.1 s. */
const processTimeoutMs = 120_000;

interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function run(command: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      { cwd: repoRoot, env, timeout: processTimeoutMs, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

interface KubeObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly labels?: Record<string, string> };
  readonly [field: string]: unknown;
}

interface Rendered {
  readonly objects: readonly KubeObject[];
  /** The `# Source:` line of each object, in output order. */
  readonly sources: readonly string[];
}

/** `npm run chart:template -- ARGS`, parsed; fails the test with the renderer's stderr. */
async function render(...args: string[]): Promise<Rendered> {
  const result = await run(process.execPath, [chartTemplate, ...args]);
  if (result.code !== 0) throw new Error(`chart:template ${args.join(' ')} exited ${result.code}: ${result.stderr}`);
  const objects: KubeObject[] = [];
  const sources: string[] = [];
  for (const chunk of result.stdout.split(/^---\n/m)) {
    if (chunk.trim() === '') continue;
    const source = /^# Source: (\S+)\n/.exec(chunk);
    if (source === null) throw new Error(`a rendered document has no "# Source:" line: ${chunk.slice(0, 200)}`);
    sources.push(source[1] ?? '');
    objects.push(parse(chunk) as KubeObject);
  }
  return { objects, sources };
}

/** The renderer's exit code and stderr for values that must be refused. */
async function renderFailure(...args: string[]): Promise<RunResult> {
  const result = await run(process.execPath, [chartTemplate, ...args]);
  expect(result.code, `chart:template ${args.join(' ')} should fail`).not.toBe(0);
  return result;
}

function one(rendered: Rendered, kind: string, predicate: (object: KubeObject) => boolean = () => true): KubeObject {
  const matches = rendered.objects.filter((object) => object.kind === kind && predicate(object));
  expect(matches, `exactly one ${kind}`).toHaveLength(1);
  return matches[0]!;
}

function statefulSet(rendered: Rendered): IStatefulSet {
  return one(rendered, 'StatefulSet') as unknown as IStatefulSet;
}

function broker(rendered: Rendered): IContainer {
  const container = statefulSet(rendered).spec?.template.spec?.containers[0];
  expect(container?.name).toBe('broker');
  return container!;
}

function envOf(container: IContainer, name: string): IEnvVar | undefined {
  return container.env?.find((variable) => variable.name === name);
}

function serverYaml(rendered: Rendered): string {
  const data = one(rendered, 'ConfigMap').data as Record<string, string> | undefined;
  const text = data?.['server.yaml'];
  expect(typeof text).toBe('string');
  return text!;
}

/** The Kubernetes API schema of each kind the chart may render. */
const models: Readonly<Record<string, new (data: never) => { validate(): void }>> = {
  'v1/ConfigMap': ConfigMap,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
  'apps/v1/StatefulSet': StatefulSet,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor,
};

function validateAll(rendered: Rendered): void {
  expect(rendered.objects.length).toBeGreaterThan(0);
  for (const object of rendered.objects) {
    const model = models[`${object.apiVersion}/${object.kind}`];
    expect(model, `a Kubernetes schema for ${object.apiVersion} ${object.kind}`).toBeDefined();
    // validate() throws with every schema violation and its JSON path.
    expect(() => new model!(object as never).validate(), `${object.kind} ${object.metadata.name}`).not.toThrow();
  }
}

/**
 * Kubernetes' environment for one pod: fieldRef metadata.name is the pod name, `$(VAR)` expands
 * earlier variables, secretKeyRef reads a stand-in.
 */
function podEnv(container: IContainer, podName: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const variable of container.env ?? []) {
    if (variable.valueFrom?.fieldRef !== undefined) {
      expect(variable.valueFrom.fieldRef.fieldPath).toBe('metadata.name');
      env[variable.name] = podName;
    } else if (variable.valueFrom?.secretKeyRef !== undefined) {
      env[variable.name] = 'secret-from-kubernetes';
    } else {
      env[variable.name] = (variable.value ?? '').replace(/\$\((\w+)\)/g, (whole, name: string) => env[name] ?? whole);
    }
  }
  return env;
}

/** Runs the container's command line with `config dump` for `server`, on a local server.yaml. */
async function configDump(rendered: Rendered, ordinal: number, dir: string): Promise<RunResult> {
  const container = broker(rendered);
  const file = join(dir, `server-${ordinal}.yaml`);
  await writeFile(file, serverYaml(rendered));
  const args = (container.args ?? []).map((arg) => (arg === '/etc/streambus/server.yaml' ? file : arg));
  expect(args[0]).toBe('server');
  const name = statefulSet(rendered).metadata?.name ?? '';
  const env = { PATH: process.env['PATH'] ?? '', ...podEnv(container, `${name}-${ordinal}`) };
  return run(process.execPath, [streambusCli, 'config', 'dump', ...args.slice(1)], env);
}

describe('charts/streambus', () => {
  let defaults: Rendered;
  let workDir: string;

  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'streambus-chart-'));
    defaults = await render();
  }, processTimeoutMs);

  afterAll(async () => {
    await rm(workDir, { recursive: true, force: true });
  });

  it('passes the lint rules of helm lint', async () => {
    const result = await run(process.execPath, [chartTemplate, '--lint']);
    expect(result.stdout).toContain('1 chart(s) linted, 0 chart(s) failed');
    expect(result.stdout).not.toMatch(/\[(ERROR|WARNING)\]/);
    expect(result.code).toBe(0);
  });

  it('renders with defaults: the objects of a 3-broker cluster, in Helm install order, each valid', () => {
    expect(defaults.objects.map((object) => `${object.kind}/${object.metadata.name}`)).toEqual([
      'PodDisruptionBudget/streambus',
      'ServiceAccount/streambus',
      'ConfigMap/streambus',
      'Service/streambus-headless',
      'Service/streambus',
      'StatefulSet/streambus',
    ]);
    expect(defaults.sources).toContain('streambus/templates/statefulset.yaml');
    validateAll(defaults);
    for (const object of defaults.objects) {
      expect(object.metadata.labels?.['app.kubernetes.io/name']).toBe('streambus');
      expect(object.metadata.labels?.['app.kubernetes.io/instance']).toBe('streambus');
      expect(object.metadata.labels?.['app.kubernetes.io/managed-by']).toBe('Helm');
      expect(object.metadata.namespace).toBe('default');
    }
  });

  it('has a validator that refuses what the API server would refuse', () => {
    const broken = structuredClone(statefulSet(defaults)) as unknown as {
      spec: {
        replicas: unknown;
        template: { spec: { containers: Array<{ ports: Array<{ containerPort: unknown }> }> } };
      };
    };
    broken.spec.replicas = 'three';
    expect(() => new StatefulSet(broken as never).validate()).toThrow(/replicas/);
    const badPort = structuredClone(statefulSet(defaults)) as unknown as typeof broken;
    badPort.spec.template.spec.containers[0]!.ports[0]!.containerPort = '9092';
    expect(() => new StatefulSet(badPort as never).validate()).toThrow(/containerPort/);
  });

  it('renders valid objects with every optional part turned on and off', async () => {
    const variants: string[][] = [
      ['--set', 'tls.enabled=true,tls.secretName=streambus-tls,tls.keyPasswordKey=password'],
      ['--set', 'metrics.serviceMonitor.enabled=true,metrics.serviceMonitor.labels.release=kube-prometheus'],
      ['--set', 'persistence.enabled=false,pdb.create=false,serviceAccount.create=false,podAntiAffinityPreset=hard'],
      [
        '--set',
        'replicas=5,persistence.storageClass=-,updateStrategy.type=OnDelete,image.digest=sha256:' + 'a'.repeat(64),
      ],
      [
        'other',
        'charts/streambus',
        '--namespace',
        'queues',
        '--set',
        'commonLabels.team=data,commonAnnotations.owner=data',
      ],
      ['--set', 'extraEnv[0].name=STREAMBUS_LOG_LEVEL,extraEnv[0].value=debug,tolerations[0].operator=Exists'],
    ];
    for (const variant of variants) validateAll(await render(...variant));
  });

  it('sets replicas, the peer list (broker id = ordinal + 1, headless DNS names) and the broker id from the pod name', async () => {
    for (const replicas of [3, 5]) {
      const rendered = await render('--set', `replicas=${replicas}`, '--namespace', 'queues');
      expect(statefulSet(rendered).spec?.replicas).toBe(replicas);
      const container = broker(rendered);
      expect(envOf(container, 'STREAMBUS_BROKER_ID')?.valueFrom?.fieldRef?.fieldPath).toBe('metadata.name');
      const peers = envOf(container, 'STREAMBUS_PEERS')?.value?.split(',') ?? [];
      expect(peers).toHaveLength(replicas);
      peers.forEach((peer, ordinal) => {
        expect(peer).toBe(`${ordinal + 1}=streambus-${ordinal}.streambus-headless.queues.svc.cluster.local:9092`);
      });
    }
  });

  it('gives the brokers a headless Service that publishes unready pods, and a client Service', () => {
    const headless = one(defaults, 'Service', (service) => service.metadata.name === 'streambus-headless');
    expect(headless['spec']).toMatchObject({ clusterIP: 'None', publishNotReadyAddresses: true });
    const client = one(defaults, 'Service', (service) => service.metadata.name === 'streambus');
    expect(client['spec']).toMatchObject({
      type: 'ClusterIP',
      ports: [{ name: 'client', port: 9092, targetPort: 'grpc' }],
    });
    const spec = statefulSet(defaults).spec!;
    expect(spec.serviceName).toBe('streambus-headless');
    expect(spec.podManagementPolicy).toBe('Parallel');
    expect(spec.updateStrategy?.type).toBe('RollingUpdate');
    const podLabels = spec.template.metadata?.labels ?? {};
    for (const service of [headless, client]) {
      const selector = (service['spec'] as { selector: Record<string, string> }).selector;
      expect(podLabels).toMatchObject(selector);
    }
  });

  it('probes /live (startup, liveness) and /ready (readiness) on the admin port', () => {
    const container = broker(defaults);
    expect(container.ports).toEqual([
      { name: 'grpc', containerPort: 9092, protocol: 'TCP' },
      { name: 'admin', containerPort: 9090, protocol: 'TCP' },
    ]);
    expect(container.startupProbe?.httpGet).toEqual({ path: '/live', port: 'admin' });
    expect(container.livenessProbe?.httpGet).toEqual({ path: '/live', port: 'admin' });
    expect(container.readinessProbe?.httpGet).toEqual({ path: '/ready', port: 'admin' });
  });

  it('stops gracefully: a preStop drain and sleep inside a grace period that covers the broker stop, and a postStart undrain', async () => {
    const spec = statefulSet(defaults).spec!.template.spec!;
    const container = broker(defaults);
    const preStop = container.lifecycle?.preStop?.exec?.command ?? [];
    expect(preStop.slice(0, 2)).toEqual(['/bin/sh', '-c']);
    expect(preStop[2]).toBe('streambus broker drain --timeout 20s; code=$?; sleep 5; exit $code');
    const postStart = container.lifecycle?.postStart?.exec?.command ?? [];
    expect(postStart.slice(0, 2)).toEqual(['/bin/sh', '-c']);
    expect(postStart[2]).toContain('until streambus broker undrain');
    expect(postStart[2]).toContain('exit 0');
    // The hooks' CLI talks to the pod's own broker.
    expect(container.env?.find((variable) => variable.name === 'STREAMBUS_BOOTSTRAP')?.value).toBe(
      '$(STREAMBUS_LISTEN)',
    );
    // drain + sleep + the broker's 30 s graceful stop deadline (cli/constants.ts shutdownTimeoutMs) + margin.
    expect(spec.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(20 + 5 + 30 + 5);
    const tooShort = await renderFailure('--set', 'terminationGracePeriodSeconds=50');
    expect(tooShort.stderr).toContain('terminationGracePeriodSeconds 50 is too short');
    const withoutDrain = await render('--set', 'drain.enabled=false', '--set', 'terminationGracePeriodSeconds=40');
    const plain = broker(withoutDrain);
    expect(plain.lifecycle?.preStop?.exec?.command).toEqual(['sleep', '5']);
    expect(plain.lifecycle?.postStart).toBeUndefined();
  });

  it('has a PodDisruptionBudget of one broker that selects the brokers', async () => {
    const pdb = one(defaults, 'PodDisruptionBudget');
    const spec = pdb['spec'] as { maxUnavailable: number; selector: { matchLabels: Record<string, string> } };
    expect(spec.maxUnavailable).toBe(1);
    expect(statefulSet(defaults).spec?.template.metadata?.labels).toMatchObject(spec.selector.matchLabels);
    const without = await render('--set', 'pdb.create=false');
    expect(without.objects.some((object) => object.kind === 'PodDisruptionBudget')).toBe(false);
  });

  it('claims storage per broker with the storage class and size from values', async () => {
    const claimOf = (rendered: Rendered) => statefulSet(rendered).spec?.volumeClaimTemplates?.[0]?.spec;
    expect(claimOf(defaults)?.storageClassName).toBeUndefined();
    expect(claimOf(defaults)?.resources?.requests).toEqual({ storage: '10Gi' });
    const fast = await render('--set', 'persistence.storageClass=fast-ssd,persistence.size=100Gi');
    expect(claimOf(fast)?.storageClassName).toBe('fast-ssd');
    expect(claimOf(fast)?.resources?.requests).toEqual({ storage: '100Gi' });
    expect(claimOf(await render('--set', 'persistence.storageClass=-'))?.storageClassName).toBe('');
    const ephemeral = await render('--set', 'persistence.enabled=false');
    expect(statefulSet(ephemeral).spec?.volumeClaimTemplates).toBeUndefined();
    expect(
      statefulSet(ephemeral).spec?.template.spec?.volumes?.find((volume) => volume.name === 'data')?.emptyDir,
    ).toEqual({});
  });

  it('takes resources from a values file (-f) and runs non-root on a read-only root filesystem', async () => {
    const file = join(workDir, 'resources.yaml');
    await writeFile(
      file,
      'resources:\n  requests:\n    cpu: "2"\n    memory: 4Gi\n  limits:\n    cpu: "4"\n    memory: 8Gi\n',
    );
    expect(broker(await render('-f', file)).resources).toEqual({
      requests: { cpu: '2', memory: '4Gi' },
      limits: { cpu: '4', memory: '8Gi' },
    });
    const pod = statefulSet(defaults).spec!.template.spec!;
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 10001, fsGroup: 10001 });
    expect(broker(defaults).securityContext).toMatchObject({
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    });
    const affinity = pod.affinity?.podAntiAffinity;
    expect(affinity?.preferredDuringSchedulingIgnoredDuringExecution).toHaveLength(1);
    expect(affinity?.requiredDuringSchedulingIgnoredDuringExecution).toBeUndefined();
  });

  it('turns TLS on only with a Secret: mounted beside server.yaml, whose security keys point at it', async () => {
    const volumeSources = (rendered: Rendered) =>
      statefulSet(rendered).spec?.template.spec?.volumes?.find((volume) => volume.name === 'config')?.projected
        ?.sources ?? [];
    expect(volumeSources(defaults).some((source) => source.secret !== undefined)).toBe(false);
    expect(parse(serverYaml(defaults))).not.toHaveProperty('security');
    const tls = await render('--set', 'tls.enabled=true,tls.secretName=streambus-tls,tls.keyPasswordKey=password');
    expect(volumeSources(tls).find((source) => source.secret !== undefined)?.secret?.name).toBe('streambus-tls');
    expect(parse(serverYaml(tls))).toMatchObject({
      security: {
        tls_enabled: true,
        tls_cert: '/etc/streambus/tls/tls.crt',
        tls_key: '/etc/streambus/tls/tls.key',
        tls_ca: '/etc/streambus/tls/ca.crt',
      },
    });
    expect(envOf(broker(tls), 'STREAMBUS_BROKER_TLS_KEY_PASSWORD')?.valueFrom?.secretKeyRef).toEqual({
      name: 'streambus-tls',
      key: 'password',
    });
    const noSecret = await renderFailure('--set', 'tls.enabled=true');
    expect(noSecret.stderr).toContain('tls.enabled needs tls.secretName');
  });

  it('creates a ServiceMonitor for /metrics on the headless Service only when asked', async () => {
    expect(defaults.objects.some((object) => object.kind === 'ServiceMonitor')).toBe(false);
    const rendered = await render(
      '--set',
      'metrics.serviceMonitor.enabled=true,metrics.serviceMonitor.labels.release=kube-prometheus',
    );
    const monitor = one(rendered, 'ServiceMonitor');
    expect(monitor.metadata.labels?.['release']).toBe('kube-prometheus');
    const spec = monitor['spec'] as { selector: { matchLabels: Record<string, string> }; endpoints: unknown[] };
    expect(spec.endpoints).toEqual([{ port: 'admin', path: '/metrics', interval: '30s', scrapeTimeout: '10s' }]);
    const selected = rendered.objects.filter(
      (object) =>
        object.kind === 'Service' &&
        Object.entries(spec.selector.matchLabels).every(([key, value]) => object.metadata.labels?.[key] === value),
    );
    expect(selected.map((service) => service.metadata.name)).toEqual(['streambus-headless']);
  });

  it('refuses bad values with the schema, saying which value and why', async () => {
    const word = await renderFailure('--set', 'replicas=three');
    expect(word.stderr).toContain("values don't meet the specifications of the schema(s)");
    expect(word.stderr).toContain('replicas: Invalid type. Expected: integer, given: string');
    expect((await renderFailure('--set', 'replicas=0')).stderr).toContain(
      'replicas: Must be greater than or equal to 1',
    );
    expect((await renderFailure('--set', 'replica=3')).stderr).toContain('Additional property replica is not allowed');
    expect((await renderFailure('--set', 'config.server.listen=0.0.0.0:1')).stderr).toContain(
      'config.server.listen is set by the chart',
    );
  });

  it("ships a server.yaml that the real broker config loader accepts with each pod's environment", async () => {
    // The example of the chart README's "Broker configuration", plus an override.
    const readme = await readFile(join(repoRoot, 'charts', 'streambus', 'README.md'), 'utf8');
    const example = /## Broker configuration[\s\S]*?```yaml\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(example).toContain('config:');
    const file = join(workDir, 'readme-example.yaml');
    await writeFile(file, example!);
    const rendered = await render('-f', file, '--set', 'config.storage.wal_sync=periodic');
    for (const ordinal of [0, 1, 2]) {
      const result = await configDump(rendered, ordinal, workDir);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      const effective = parse(result.stdout) as {
        server: Record<string, unknown>;
        storage: Record<string, unknown>;
        raft: Record<string, unknown>;
      };
      expect(effective.server).toMatchObject({
        broker_id: ordinal + 1,
        listen: `streambus-${ordinal}.streambus-headless.default.svc.cluster.local:9092`,
        admin_listen: '0.0.0.0:9090',
        data_dir: '/var/lib/streambus',
        cluster_id: 'streambus',
      });
      expect(String(effective.server['peers']).split(',')).toHaveLength(3);
      expect(effective.storage).toMatchObject({
        wal_sync: 'periodic',
        retention: { max_age: '3d', max_bytes: 50 * 1024 ** 3 },
      });
      expect(effective.raft['election_ticks']).toBe(20);
    }
  });

  it('has TLS wired: the broker checks the mounted certificate files at start', async () => {
    const rendered = await render('--set', 'tls.enabled=true,tls.secretName=streambus-tls');
    const result = await configDump(rendered, 0, workDir);
    // No Secret is mounted here: the broker names the first file it cannot read.
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('config error: security.tls_cert: /etc/streambus/tls/tls.crt: no such file');
  });

  it('matches the Dockerfile: entrypoint arguments, user, ports and data directory', async () => {
    const dockerfile = await readFile(join(repoRoot, 'Dockerfile'), 'utf8');
    const container = broker(defaults);
    expect(dockerfile).toContain('ENTRYPOINT ["streambus"]');
    expect(dockerfile).toContain(`CMD ${JSON.stringify(container.args)}`.replaceAll(',', ', '));
    expect(dockerfile).toMatch(/^USER 10001:10001$/m);
    expect(dockerfile).toMatch(/^EXPOSE 9092 9090$/m);
    expect(container.volumeMounts?.find((mount) => mount.name === 'data')?.mountPath).toBe('/var/lib/streambus');
    expect(dockerfile).toContain('/var/lib/streambus');
  });

  it('documents every value in the chart README', async () => {
    const [valuesText, readme] = await Promise.all([
      readFile(join(repoRoot, 'charts', 'streambus', 'values.yaml'), 'utf8'),
      readFile(join(repoRoot, 'charts', 'streambus', 'README.md'), 'utf8'),
    ]);
    const documented = [...valuesText.matchAll(/^\s*## @param (\S+)/gm)].map((match) => match[1] ?? '');
    expect(documented.length).toBeGreaterThan(40);
    for (const name of documented) expect(readme, `README.md lists ${name}`).toContain(`| \`${name}\` |`);
  });
});
