/**
 * The StatefulSet controller, for one StatefulSet on one kubelet: pods `NAME-ORDINAL` with the
 * template's labels plus the controller's own (pod-name, pod-index, controller-revision-hash),
 * hostname = pod name and subdomain = serviceName (their DNS names), and one claim per
 * volumeClaimTemplate and ordinal (`TEMPLATE-NAME-ORDINAL`, a host directory that outlives pods).
 *
 * - podManagementPolicy Parallel creates every missing pod at once; OrderedReady one at a time,
 *   each Ready before the next.
 * - updateStrategy RollingUpdate replaces pods whose revision is not the update revision, from the
 *   highest ordinal down to `partition`, one at a time: wait until every pod is Ready, delete the
 *   pod (graceful termination, kubelet.ts), create it again from the new template on the same
 *   claims, wait until it is Ready, next. OnDelete leaves pods as they are until deleted.
 * - a deleted pod is recreated at once, from the update revision, on its old claims.
 */
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { IStatefulSet } from 'kubernetes-models/apps/v1';
import type { Kubelet, Pod, PodManifest, Termination } from './kubelet.js';
import { PodError } from './kubelet.js';

export interface StatefulSetControllerOptions {
  readonly kubelet: Kubelet;
  readonly statefulSet: IStatefulSet;
  /** Where claims (PersistentVolumes) live on the host. */
  readonly claimsDir: string;
  readonly onEvent?: (line: string) => void;
}

/** One pod replaced by a rolling update. */
export interface UpdateStep {
  readonly pod: string;
  readonly fromRevision: string;
  readonly toRevision: string;
  readonly termination: Termination;
  /** From the new pod's creation to its readiness. */
  readonly readyMs: number;
  /** From the old pod's deletion to the new pod's readiness: the time this ordinal served no one. */
  readonly replacedMs: number;
  readonly oldAddress: string;
  readonly newAddress: string;
  /** When the old pod's deletion began and when the new pod was Ready (ms since the epoch). */
  readonly deletedAtMs: number;
  readonly readyAtMs: number;
}

export class StatefulSetController {
  private readonly options: StatefulSetControllerOptions;
  private statefulSet: IStatefulSet;
  private readonly name: string;

  constructor(options: StatefulSetControllerOptions) {
    this.options = options;
    this.statefulSet = options.statefulSet;
    this.name = options.statefulSet.metadata?.name ?? '';
    if (this.name === '') throw new PodError('the StatefulSet has no name');
    mkdirSync(options.claimsDir, { recursive: true });
  }

  get replicas(): number {
    return this.statefulSet.spec?.replicas ?? 1;
  }

  /** The controller-revision-hash of the current template. */
  get updateRevision(): string {
    return revisionOf(this.statefulSet);
  }

  podName(ordinal: number): string {
    return `${this.name}-${ordinal}`;
  }

  /** The host directory of claim `template` of pod `ordinal`. */
  claimDir(template: string, ordinal: number): string {
    return join(this.options.claimsDir, `${template}-${this.name}-${ordinal}`);
  }

  /** Pods that exist, by ordinal. */
  pods(): ReadonlyMap<number, Pod> {
    const pods = new Map<number, Pod>();
    for (let ordinal = 0; ordinal < this.replicas; ordinal++) {
      const pod = this.options.kubelet.pod(this.podName(ordinal));
      if (pod !== undefined) pods.set(ordinal, pod);
    }
    return pods;
  }

  pod(ordinal: number): Pod {
    const pod = this.options.kubelet.pod(this.podName(ordinal));
    if (pod === undefined) throw new PodError(`pod ${this.podName(ordinal)} does not exist`);
    return pod;
  }

  /** Creates the pods that are missing (Parallel: all at once; OrderedReady: each Ready before the next). */
  async reconcile(readyTimeoutMs: number): Promise<void> {
    const ordered = this.statefulSet.spec?.podManagementPolicy === 'OrderedReady';
    const created: Pod[] = [];
    for (let ordinal = 0; ordinal < this.replicas; ordinal++) {
      if (this.options.kubelet.pod(this.podName(ordinal)) !== undefined) continue;
      const pod = await this.create(ordinal);
      if (ordered) await pod.waitReady(readyTimeoutMs);
      created.push(pod);
    }
    await Promise.all(created.map((pod) => pod.waitReady(readyTimeoutMs)));
  }

  /** Every pod exists and is Ready, within `timeoutMs`. */
  async waitAllReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (let ordinal = 0; ordinal < this.replicas; ordinal++) {
      await this.pod(ordinal).waitReady(Math.max(0, deadline - Date.now()));
    }
  }

  /**
   * `helm upgrade` with a new template: the StatefulSet's RollingUpdate, highest ordinal first,
   * each replaced pod Ready before the next. `onStep` sees each step as it ends.
   */
  async rollingUpdate(
    next: IStatefulSet,
    readyTimeoutMs: number,
    onStep: (step: UpdateStep) => void = () => undefined,
  ): Promise<UpdateStep[]> {
    if ((next.spec?.replicas ?? 1) !== this.replicas)
      throw new PodError('scaling is not emulated: the new StatefulSet must keep the replica count');
    this.statefulSet = next;
    const strategy = next.spec?.updateStrategy;
    if ((strategy?.type ?? 'RollingUpdate') !== 'RollingUpdate') return [];
    const partition = strategy?.rollingUpdate?.partition ?? 0;
    const target = this.updateRevision;
    this.event(`statefulset ${this.name}: rolling update to revision ${target} (partition ${partition})`);
    const steps: UpdateStep[] = [];
    for (let ordinal = this.replicas - 1; ordinal >= partition; ordinal--) {
      const pod = this.pod(ordinal);
      const fromRevision = pod.manifest.labels['controller-revision-hash'] ?? '';
      if (fromRevision === target) continue;
      // The controller acts only while every pod is Running and Ready.
      await this.waitAllReady(readyTimeoutMs);
      const step = await this.replace(ordinal, readyTimeoutMs);
      steps.push(step);
      onStep(step);
    }
    return steps;
  }

  /** `kubectl delete pod NAME-ORDINAL`, and the controller's recreation of it (update revision, old claims). */
  async deletePod(ordinal: number, readyTimeoutMs: number): Promise<UpdateStep> {
    return this.replace(ordinal, readyTimeoutMs);
  }

  private async replace(ordinal: number, readyTimeoutMs: number): Promise<UpdateStep> {
    const old = this.pod(ordinal);
    const fromRevision = old.manifest.labels['controller-revision-hash'] ?? '';
    const oldAddress = old.status().address;
    const deletedAt = Date.now();
    const termination = await old.delete();
    await old.waitGone();
    const created = await this.create(ordinal);
    const createdAt = Date.now();
    await created.waitReady(readyTimeoutMs);
    const readyAt = Date.now();
    return {
      pod: old.name,
      fromRevision,
      toRevision: this.updateRevision,
      termination,
      readyMs: readyAt - createdAt,
      replacedMs: readyAt - deletedAt,
      oldAddress,
      newAddress: created.status().address,
      deletedAtMs: deletedAt,
      readyAtMs: readyAt,
    };
  }

  private async create(ordinal: number): Promise<Pod> {
    const spec = this.statefulSet.spec;
    const template = spec?.template;
    if (spec === undefined || template?.spec === undefined)
      throw new PodError(`statefulset ${this.name} has no pod template`);
    const name = this.podName(ordinal);
    const claims = new Map<string, string>();
    for (const claimTemplate of spec.volumeClaimTemplates ?? []) {
      const templateName = claimTemplate.metadata?.name ?? '';
      const dir = this.claimDir(templateName, ordinal);
      mkdirSync(dir, { recursive: true });
      claims.set(templateName, dir);
    }
    const manifest: PodManifest = {
      name,
      namespace: this.statefulSet.metadata?.namespace ?? 'default',
      labels: {
        ...template.metadata?.labels,
        'statefulset.kubernetes.io/pod-name': name,
        'apps.kubernetes.io/pod-index': String(ordinal),
        'controller-revision-hash': this.updateRevision,
      },
      annotations: { ...template.metadata?.annotations },
      subdomain: spec.serviceName ?? '',
      spec: { ...template.spec, hostname: name, subdomain: spec.serviceName ?? '' },
      claims,
    };
    this.event(`statefulset ${this.name}: create pod ${name} (revision ${this.updateRevision})`);
    return this.options.kubelet.runPod(manifest);
  }

  private event(line: string): void {
    this.options.onEvent?.(line);
  }
}

/** The controller-revision-hash: NAME-HASH of the pod template (Kubernetes hashes the ControllerRevision's data). */
export function revisionOf(statefulSet: IStatefulSet): string {
  const hash = createHash('sha256')
    .update(JSON.stringify(statefulSet.spec?.template ?? {}))
    .digest('hex')
    .slice(0, 10);
  return `${statefulSet.metadata?.name ?? ''}-${hash}`;
}
