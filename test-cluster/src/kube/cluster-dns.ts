/**
 * Cluster DNS for pods in network namespaces, without a DNS server: what CoreDNS would answer for
 * the Services and pods is written into every pod's hosts file (/etc/netns/NAME/hosts, which
 * `ip netns exec` mounts over /etc/hosts), rewritten in place whenever a pod appears, goes,
 * changes address or readiness.
 *
 * Records, as Kubernetes publishes them:
 * - `POD.SUBDOMAIN.NAMESPACE.svc.DOMAIN` for a pod whose subdomain is a headless Service that
 *   selects it (a StatefulSet pod: subdomain = the StatefulSet's serviceName);
 * - `SERVICE.NAMESPACE.svc.DOMAIN` for each Service, with the addresses of the pods it selects:
 *   every pod when `publishNotReadyAddresses` is set, else only ready ones that are not
 *   terminating. A ClusterIP Service has one virtual address that kube-proxy balances over those
 *   same ready pods; with no kube-proxy here, its name resolves to the ready pods themselves.
 * - each pod's own hosts file starts as the kubelet writes it: localhost, then the pod's address
 *   with its FQDN and hostname.
 */
import type { IService } from 'kubernetes-models/v1';
import { writeHostsFile } from '../netns.js';

export interface DnsPod {
  readonly name: string;
  readonly address: string;
  readonly labels: Readonly<Record<string, string>>;
  /** The pod's `spec.subdomain` (a StatefulSet's serviceName). */
  readonly subdomain: string;
  readonly ready: boolean;
  readonly terminating: boolean;
}

export interface ClusterDnsOptions {
  /** The Kubernetes namespace of the release. */
  readonly namespace: string;
  /** The cluster's DNS domain (the chart's clusterDomain). */
  readonly clusterDomain: string;
  readonly services: readonly IService[];
}

/** Network namespaces that resolve through this DNS, each with the pod it belongs to (null: a client). */
interface Resolver {
  readonly podName: string | null;
}

export class ClusterDns {
  private readonly options: ClusterDnsOptions;
  private readonly pods = new Map<string, DnsPod>();
  private readonly resolvers = new Map<string, Resolver>();
  /** Writes run one after another, so the last state always wins. */
  private writing: Promise<void> = Promise.resolve();

  constructor(options: ClusterDnsOptions) {
    this.options = options;
  }

  /** The FQDN of pod `podName` under headless Service `subdomain`. */
  podFqdn(podName: string, subdomain: string): string {
    return `${podName}.${subdomain}.${this.serviceSuffix()}`;
  }

  /** The FQDN of Service `serviceName`. */
  serviceFqdn(serviceName: string): string {
    return `${serviceName}.${this.serviceSuffix()}`;
  }

  /** Adds or replaces a pod's records and rewrites every hosts file. */
  async setPod(pod: DnsPod): Promise<void> {
    this.pods.set(pod.name, pod);
    await this.sync();
  }

  async removePod(name: string): Promise<void> {
    this.pods.delete(name);
    await this.sync();
  }

  /** The hosts file network namespace `namespace` starts with (write it before the namespace is used). */
  hostsFor(podName: string | null): string {
    return this.render(podName);
  }

  /** Registers a namespace whose hosts file follows the records from now on. */
  async addResolver(namespace: string, podName: string | null): Promise<void> {
    this.resolvers.set(namespace, { podName });
    await this.sync();
  }

  removeResolver(namespace: string): void {
    this.resolvers.delete(namespace);
  }

  /** Every name and its addresses, sorted: what a `dig` of each would answer. */
  records(): ReadonlyMap<string, readonly string[]> {
    const records = new Map<string, string[]>();
    const add = (name: string, address: string): void => {
      const addresses = records.get(name) ?? [];
      if (!addresses.includes(address)) addresses.push(address);
      records.set(name, addresses);
    };
    const pods = [...this.pods.values()].sort((a, b) => a.name.localeCompare(b.name));
    for (const service of this.options.services) {
      const name = service.metadata?.name ?? '';
      const selector = service.spec?.selector ?? {};
      const headless = service.spec?.clusterIP === 'None';
      const allPods = service.spec?.publishNotReadyAddresses === true;
      for (const pod of pods) {
        if (!Object.entries(selector).every(([key, value]) => pod.labels[key] === value)) continue;
        if (headless && pod.subdomain === name) add(this.podFqdn(pod.name, name), pod.address);
        if (allPods || (pod.ready && !pod.terminating)) add(this.serviceFqdn(name), pod.address);
      }
    }
    return new Map([...records.entries()].sort(([a], [b]) => a.localeCompare(b)));
  }

  private serviceSuffix(): string {
    return `${this.options.namespace}.svc.${this.options.clusterDomain}`;
  }

  private render(podName: string | null): string {
    const lines = [
      '# Kubernetes-managed hosts file (the kubelet part), then the cluster DNS answers.',
      '127.0.0.1\tlocalhost',
      '::1\tlocalhost ip6-localhost ip6-loopback',
    ];
    const own = podName === null ? undefined : this.pods.get(podName);
    if (own !== undefined) lines.push(`${own.address}\t${this.podFqdn(own.name, own.subdomain)}\t${own.name}`);
    lines.push('# cluster DNS');
    const ownFqdn = own === undefined ? undefined : this.podFqdn(own.name, own.subdomain);
    for (const [name, addresses] of this.records()) {
      for (const address of addresses) {
        // The kubelet's line above already has it.
        if (name === ownFqdn && address === own?.address) continue;
        lines.push(`${address}\t${name}`);
      }
    }
    return `${lines.join('\n')}\n`;
  }

  private sync(): Promise<void> {
    const next = this.writing.then(async () => {
      for (const [namespace, resolver] of this.resolvers)
        await writeHostsFile(namespace, this.render(resolver.podName));
    });
    this.writing = next.catch(() => undefined);
    return next;
  }
}
