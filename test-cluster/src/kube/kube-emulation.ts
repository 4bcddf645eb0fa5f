/**
 * One Kubernetes node's worth of the cluster, on the real-network mode's bridge (netns.ts): the
 * rendered chart's StatefulSet run by the StatefulSet controller and the kubelet, its Services as
 * cluster DNS, its ConfigMaps as volumes, and client namespaces for the workloads that talk to
 * it. `upgrade` is `helm upgrade` with a newly rendered chart.
 *
 * Clean-up: `close()` kills every container and client by PID and removes the namespaces, hosts
 * files, claims and run directory; SIGINT, SIGTERM and the process's exit do the same
 * synchronously, and a run that was itself SIGKILLed leaves its slot to the next run's sweep.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { join } from 'node:path';
import type { IStatefulSet } from 'kubernetes-models/apps/v1';
import { readFileSync } from 'node:fs';
import { realNetworkPreflight, runHostSync } from '../host-tools.js';
import { NetnsNetwork } from '../netns.js';
import { RealNetworkUnavailableError } from '../netns-cluster.js';
import type { RenderedChart } from './chart.js';
import { servicesOf, statefulSetOf } from './chart.js';
import { ClusterDns } from './cluster-dns.js';
import { clusterDomainDefault } from './constants.js';
import { imageFromDockerfile, type ImageConfig } from './image.js';
import { Kubelet } from './kubelet.js';
import { StatefulSetController, type UpdateStep } from './statefulset-controller.js';

export interface KubeEmulationOptions {
  /** The rendered chart to install. */
  readonly chart: RenderedChart;
  /** The cluster DNS domain (the chart's clusterDomain value). */
  readonly clusterDomain?: string;
  /** The image the StatefulSet's container runs (default: the repository's Dockerfile). */
  readonly image?: ImageConfig;
  readonly onEvent?: (line: string) => void;
}

export class KubeEmulation {
  readonly network: NetnsNetwork;
  readonly dns: ClusterDns;
  readonly kubelet: Kubelet;
  readonly controller: StatefulSetController;
  private readonly clients = new Set<ChildProcess>();
  private closed = false;
  private readonly onExit: () => void;
  private readonly onSignal: (signal: NodeJS.Signals) => void;

  private constructor(network: NetnsNetwork, dns: ClusterDns, kubelet: Kubelet, controller: StatefulSetController) {
    this.network = network;
    this.dns = dns;
    this.kubelet = kubelet;
    this.controller = controller;
    this.onExit = () => this.teardownSync();
    this.onSignal = (signal) => {
      this.teardownSync();
      process.stderr.write(
        `${signal}: Kubernetes emulation torn down (containers and clients SIGKILLed, namespaces removed)\n`,
      );
      process.exit(signal === 'SIGINT' ? 130 : 143);
    };
    process.on('exit', this.onExit);
    process.on('SIGINT', this.onSignal);
    process.on('SIGTERM', this.onSignal);
  }

  /** Claims a network slot and installs the chart's ConfigMaps; no pod is created yet (`controller.reconcile`). */
  static async create(options: KubeEmulationOptions): Promise<KubeEmulation> {
    const missing = [...realNetworkPreflight({ clock: false }), ...containerPreflight()];
    if (missing.length > 0)
      throw new RealNetworkUnavailableError(
        `the Kubernetes emulation cannot run on this machine: ${missing.join('; ')}`,
      );
    const statefulSet = statefulSetOf(options.chart);
    const network = await NetnsNetwork.create(0, options.onEvent);
    try {
      const dns = new ClusterDns({
        namespace: statefulSet.metadata?.namespace ?? 'default',
        clusterDomain: options.clusterDomain ?? clusterDomainDefault,
        services: servicesOf(options.chart),
      });
      const kubelet = new Kubelet({
        network,
        dns,
        image: options.image ?? imageFromDockerfile(),
        ...(options.onEvent === undefined ? {} : { onEvent: options.onEvent }),
      });
      applyConfigMaps(kubelet, options.chart);
      const controller = new StatefulSetController({
        kubelet,
        statefulSet,
        claimsDir: join(network.runDir, 'claims'),
        ...(options.onEvent === undefined ? {} : { onEvent: options.onEvent }),
      });
      return new KubeEmulation(network, dns, kubelet, controller);
    } catch (error) {
      network.removeSync();
      throw error;
    }
  }

  /** `helm upgrade` with `chart`: its ConfigMaps replace the old ones, then the StatefulSet's update strategy runs. */
  async upgrade(
    chart: RenderedChart,
    readyTimeoutMs: number,
    onStep?: (step: UpdateStep) => void,
  ): Promise<UpdateStep[]> {
    applyConfigMaps(this.kubelet, chart);
    const next: IStatefulSet = statefulSetOf(chart);
    return this.controller.rollingUpdate(next, readyTimeoutMs, onStep);
  }

  /** Runs `command args` in a client namespace (`attachClient`), tracked by PID until it exits. */
  spawnClient(namespace: string, command: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', namespace, command, ...args], { detached: true, ...options });
    this.clients.add(child);
    child.once('exit', () => this.clients.delete(child));
    return child;
  }

  /** Kills every client and container by PID, then removes namespaces, hosts files, claims and the run directory. */
  async close(): Promise<void> {
    if (this.closed) return;
    for (const client of this.clients) client.kill('SIGKILL');
    await this.kubelet.removeAll();
    this.teardownSync();
  }

  private teardownSync(): void {
    if (this.closed) return;
    this.closed = true;
    process.off('exit', this.onExit);
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
    for (const client of this.clients) client.kill('SIGKILL');
    // Containers still running are in the slot's namespaces: removeSync SIGKILLs them by PID first.
    this.network.removeSync();
  }
}

/** What running containers needs beyond network namespaces: overlayfs, setpriv, nsenter, chroot. */
function containerPreflight(): string[] {
  const missing: string[] = [];
  let filesystems = '';
  try {
    filesystems = readFileSync('/proc/filesystems', 'utf8');
  } catch {
    // reported below
  }
  if (!/\toverlay$/m.test(filesystems)) missing.push('the kernel has no overlay filesystem (modprobe overlay)');
  for (const command of ['setpriv', 'nsenter', 'chroot']) {
    if (!runHostSync('sh', ['-c', `command -v ${command}`]))
      missing.push(`${command} is not installed (util-linux, coreutils)`);
  }
  return missing;
}

function applyConfigMaps(kubelet: Kubelet, chart: RenderedChart): void {
  for (const object of chart.objects) {
    if (object.kind !== 'ConfigMap') continue;
    kubelet.applyConfigMap(object.metadata.name, (object['data'] ?? {}) as Record<string, string>);
  }
}
