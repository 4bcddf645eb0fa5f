/**
 * A kubelet for one node, with real processes: each pod gets its sandbox (a network namespace of
 * its own on the slot's bridge, with a new address, and its hosts file from the cluster DNS), its
 * volumes (ConfigMap projections written as files, emptyDirs, the PersistentVolumeClaims' host
 * directories) and one container, started from the manifest's command, args and env on the
 * image's filesystem (container-script.ts), with the securityContext's user, groups and
 * capabilities.
 *
 * Then, as the kubelet does: the startup probe until it succeeds, after it the liveness and
 * readiness probes, each at its declared period, timeout and thresholds; readiness decides whether
 * the pod is behind its Services (cluster DNS); a failed liveness or startup probe or an exit
 * restarts the container (restartPolicy Always, with CrashLoopBackOff). Deleting a pod runs the
 * preStop hook, sends SIGTERM, SIGKILLs at the end of terminationGracePeriodSeconds, and removes
 * the sandbox; claims outlive it.
 *
 * What a real node has and this does not: cgroups (resources are not enforced), seccomp, a PID
 * namespace, image pulls, Secrets (refused), kube-proxy (a ClusterIP Service resolves to its ready
 * pods, see cluster-dns.ts).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import type { IContainer, IEnvVar, ILifecycleHandler, IPodSpec, IProbe, IVolume } from 'kubernetes-models/v1';
import { attachedAddressesMax, hostsFilePath, type NetnsNetwork } from '../netns.js';
import type { ClusterDns } from './cluster-dns.js';
import type { ImageConfig } from './image.js';
import { repoRoot } from './image.js';
import { containerScript, processWords, type ContainerMount, type ProcessIdentity } from './container-script.js';
import {
  containerLayerBytes,
  execMsMax,
  execOutputBytesMax,
  kubernetesServiceHost,
  kubernetesServicePort,
  postStartTimeoutMs,
  preStopOverrunGraceMs,
  probeBodyBytesMax,
  probeFailureThresholdDefault,
  probePeriodSecondsDefault,
  probeSuccessThresholdDefault,
  probeTimeoutSecondsDefault,
  restartBackoffMsMax,
  restartBackoffMsMin,
  terminationGracePeriodSecondsDefault,
} from './constants.js';

/** A pod as its controller creates it. */
export interface PodManifest {
  readonly name: string;
  /** The Kubernetes namespace. */
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  /** `spec.subdomain`: the headless Service that gives the pod its DNS name. */
  readonly subdomain: string;
  readonly spec: IPodSpec;
  /** Host directory of each volume backed by a PersistentVolumeClaim, by volume name. */
  readonly claims: ReadonlyMap<string, string>;
}

export type PodPhase = 'Running' | 'Terminating' | 'Gone';

export interface PodStatus {
  readonly name: string;
  /** Sandbox number: a recreated pod of the same name is a new incarnation. */
  readonly incarnation: number;
  readonly address: string;
  readonly phase: PodPhase;
  /** The startup probe succeeded (or there is none). */
  readonly started: boolean;
  readonly ready: boolean;
  readonly restartCount: number;
  readonly pid: number | undefined;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  readonly probes: Readonly<Record<ProbeKind, { readonly successes: number; readonly failures: number }>>;
  /** The postStart hook of the current start: null while it runs or when there is none. */
  readonly postStart: HookResult | null;
}

/** A lifecycle hook's run: what it ran, its exit code (null: killed at its deadline), how long it took. */
export interface HookResult {
  readonly handler: string;
  readonly exitCode: number | null;
  readonly durationMs: number;
}

export type ProbeKind = 'startup' | 'liveness' | 'readiness';

export interface ExecResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly durationMs: number;
}

/** How a pod's container was stopped by its deletion. */
export interface Termination {
  readonly pod: string;
  readonly gracePeriodMs: number;
  /** The preStop hook: what it ran, its exit code (null: killed at the deadline), how long it took. */
  readonly preStop: HookResult | null;
  /** From SIGTERM to the container's exit. */
  readonly stopMs: number;
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  /** The grace period ran out and the container was SIGKILLed. */
  readonly killed: boolean;
  readonly totalMs: number;
}

export class PodError extends Error {
  readonly code = 'POD_ERROR' as const;
}

export interface KubeletOptions {
  /** A network created without brokers: pods attach to it. */
  readonly network: NetnsNetwork;
  readonly dns: ClusterDns;
  readonly image: ImageConfig;
  readonly onEvent?: (line: string) => void;
}

/** PATH of the host commands that set a sandbox up (ip, unshare, mount, chroot, setpriv). */
const hostPath = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Container PIDs of this process; SIGKILLed if it exits without deleting its pods. */
const containerPids = new Set<number>();
process.once('exit', () => {
  for (const pid of containerPids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

interface ContainerExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

interface ContainerProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly startedAtMs: number;
  readonly exited: Promise<ContainerExit>;
  readonly logPath: string;
}

export class Kubelet {
  private readonly options: KubeletOptions;
  private readonly configMaps = new Map<string, Readonly<Record<string, string>>>();
  private readonly pods = new Map<string, Pod>();
  private readonly addressesInUse = new Set<number>();
  private lastAddressIndex = 0;
  private incarnations = 0;

  constructor(options: KubeletOptions) {
    this.options = options;
  }

  /** What configMap and projected volumes of pods created from now on read (a `helm upgrade` changes it). */
  applyConfigMap(name: string, data: Readonly<Record<string, string>>): void {
    this.configMaps.set(name, { ...data });
  }

  /** Creates the pod's sandbox and starts its container; returns at once (poll `waitReady`). */
  async runPod(manifest: PodManifest): Promise<Pod> {
    if (this.pods.has(manifest.name)) throw new PodError(`pod ${manifest.name} exists already`);
    const containers = manifest.spec.containers;
    if (containers.length !== 1)
      throw new PodError(`pod ${manifest.name}: one container is emulated, got ${containers.length}`);
    if ((manifest.spec.initContainers ?? []).length > 0)
      throw new PodError(`pod ${manifest.name}: init containers are not emulated`);
    this.incarnations += 1;
    const addressIndex = this.allocateAddress();
    const sandbox = `${manifest.name}-${this.incarnations}`;
    const network = this.options.network;
    const address = network.names.attachedAddress(addressIndex);
    const dir = join(network.runDir, 'pods', sandbox);
    mkdirSync(dir, { recursive: true });
    const pod = new Pod(this, manifest, {
      incarnation: this.incarnations,
      sandbox,
      namespace: network.names.attachedNamespace(sandbox),
      address,
      addressIndex,
      dir,
    });
    this.pods.set(manifest.name, pod);
    try {
      await this.options.dns.setPod(pod.dnsRecord());
      const { namespace } = await network.attach(sandbox, addressIndex, this.options.dns.hostsFor(manifest.name));
      await this.options.dns.addResolver(namespace, manifest.name);
      pod.prepareVolumes(this.configMaps);
      pod.startContainer();
    } catch (error) {
      await pod.removeSandbox();
      throw error;
    }
    return pod;
  }

  pod(name: string): Pod | undefined {
    return this.pods.get(name);
  }

  allPods(): readonly Pod[] {
    return [...this.pods.values()];
  }

  /**
   * A network namespace for clients (a client pod without a container): on the bridge with an
   * address of its own, resolving through the cluster DNS. Returns the namespace to run clients in
   * (`ip netns exec NAMESPACE ...`).
   */
  async attachClient(name: string): Promise<string> {
    const index = this.allocateAddress();
    const { namespace } = await this.options.network.attach(name, index, this.options.dns.hostsFor(null));
    await this.options.dns.addResolver(namespace, null);
    return namespace;
  }

  /** SIGKILLs every container (no grace) and removes every sandbox: the end of a test. */
  async removeAll(): Promise<void> {
    await Promise.all([...this.pods.values()].map((pod) => pod.forceRemove()));
  }

  /** @internal */
  event(line: string): void {
    this.options.onEvent?.(line);
  }

  /** @internal */
  get settings(): KubeletOptions {
    return this.options;
  }

  /** @internal */
  forget(pod: Pod, addressIndex: number): void {
    if (this.pods.get(pod.name) === pod) this.pods.delete(pod.name);
    this.addressesInUse.delete(addressIndex);
  }

  /** The next free address after the last one handed out: a recreated pod gets a new address, as with most CNIs. */
  private allocateAddress(): number {
    for (let step = 1; step <= attachedAddressesMax; step++) {
      const index = ((this.lastAddressIndex + step - 1) % attachedAddressesMax) + 1;
      if (this.addressesInUse.has(index)) continue;
      this.addressesInUse.add(index);
      this.lastAddressIndex = index;
      return index;
    }
    throw new PodError(`no free pod address: all ${attachedAddressesMax} of the slot are in use`);
  }
}

interface Sandbox {
  readonly incarnation: number;
  readonly sandbox: string;
  readonly namespace: string;
  readonly address: string;
  readonly addressIndex: number;
  readonly dir: string;
}

export class Pod {
  readonly name: string;
  readonly manifest: PodManifest;
  private readonly kubelet: Kubelet;
  private readonly sandbox: Sandbox;
  private readonly container: IContainer;
  private readonly env: Readonly<Record<string, string>>;
  private readonly identity: ProcessIdentity;
  private readonly mounts: ContainerMount[] = [];
  private process: ContainerProcess | null = null;
  private phase: PodPhase = 'Running';
  private started = false;
  private ready = false;
  private restartCount = 0;
  private probeEpoch = 0;
  private readonly probeCounts: Record<ProbeKind, { successes: number; failures: number }> = {
    startup: { successes: 0, failures: 0 },
    liveness: { successes: 0, failures: 0 },
    readiness: { successes: 0, failures: 0 },
  };
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly gone: Promise<void>;
  private markGone: () => void = () => undefined;
  private sandboxRemoved = false;
  private postStart: HookResult | null = null;

  /** @internal */
  constructor(kubelet: Kubelet, manifest: PodManifest, sandbox: Sandbox) {
    this.kubelet = kubelet;
    this.name = manifest.name;
    this.manifest = manifest;
    this.sandbox = sandbox;
    this.container = manifest.spec.containers[0] as IContainer;
    this.identity = identityOf(manifest, kubelet.settings.image);
    this.env = containerEnv(manifest, this.container, kubelet.settings.image, sandbox.address);
    this.gone = new Promise((resolve) => {
      this.markGone = resolve;
    });
  }

  status(): PodStatus {
    return {
      name: this.name,
      incarnation: this.sandbox.incarnation,
      address: this.sandbox.address,
      phase: this.phase,
      started: this.started,
      ready: this.ready,
      restartCount: this.restartCount,
      pid: this.process?.pid,
      labels: this.manifest.labels,
      annotations: this.manifest.annotations,
      probes: {
        startup: { ...this.probeCounts.startup },
        liveness: { ...this.probeCounts.liveness },
        readiness: { ...this.probeCounts.readiness },
      },
      postStart: this.postStart,
    };
  }

  /** The container's environment, as the process sees it. */
  environment(): Readonly<Record<string, string>> {
    return this.env;
  }

  /** The container's log of its current (or last) start. */
  logPath(): string | undefined {
    return this.process?.logPath;
  }

  logTail(lines: number): string {
    const path = this.logPath();
    if (path === undefined) return '(no container started)';
    try {
      return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch (error) {
      return `(log not readable: ${(error as Error).message})`;
    }
  }

  /** Resolves once the readiness probe has passed; rejects when the container restarts or the pod goes. */
  async waitReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const restarts = this.restartCount;
    while (!this.ready) {
      if (this.phase !== 'Running') throw new PodError(`pod ${this.name} is ${this.phase}, it will not become ready`);
      if (this.restartCount !== restarts)
        throw new PodError(
          `pod ${this.name}: the container restarted while starting; its log ends with:\n${this.logTail(20)}`,
        );
      if (Date.now() > deadline)
        throw new PodError(`pod ${this.name} not ready after ${timeoutMs} ms; its log ends with:\n${this.logTail(20)}`);
      await sleep(50);
    }
  }

  /** `kubectl exec POD -- COMMAND`: runs in the container's namespaces, root, user and environment. */
  exec(command: readonly string[], timeoutMs = execMsMax): Promise<ExecResult> {
    const pid = this.process?.pid;
    if (pid === undefined || this.phase === 'Gone')
      return Promise.reject(new PodError(`pod ${this.name}: no running container`));
    const workdir = this.container.workingDir ?? this.kubelet.settings.image.workdir;
    const args = [
      '--target',
      String(pid),
      '--net',
      '--uts',
      '--mount',
      '--root',
      '--wd',
      '--',
      ...processWords(this.identity, this.env, workdir, command),
    ];
    const started = Date.now();
    return new Promise((resolve) => {
      execFile('nsenter', args, { timeout: timeoutMs, maxBuffer: execOutputBytesMax }, (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 124;
        resolve({ code, stdout, stderr, durationMs: Date.now() - started });
      });
    });
  }

  /**
   * Deletes the pod as `kubectl delete pod` does: out of its Services at once, the preStop hook,
   * SIGTERM, SIGKILL when terminationGracePeriodSeconds has passed; then the sandbox goes.
   */
  async delete(): Promise<Termination> {
    if (this.phase !== 'Running') throw new PodError(`pod ${this.name} is already ${this.phase}`);
    const gracePeriodMs =
      (this.manifest.spec.terminationGracePeriodSeconds ?? terminationGracePeriodSecondsDefault) * 1000;
    const startedAt = Date.now();
    this.phase = 'Terminating';
    this.setReady(false, 'terminating');
    this.stopProbes();
    this.kubelet.event(`pod ${this.name}: Killing (grace period ${gracePeriodMs / 1000} s)`);
    const stopped = await this.stopContainer(gracePeriodMs, startedAt);
    await this.removeSandbox();
    const termination: Termination = { pod: this.name, gracePeriodMs, ...stopped, totalMs: Date.now() - startedAt };
    this.kubelet.event(
      `pod ${this.name}: gone after ${termination.totalMs} ms (preStop ${termination.preStop === null ? 'none' : `${termination.preStop.durationMs} ms exit ${String(termination.preStop.exitCode)}`}, SIGTERM to exit ${termination.stopMs} ms, exit ${String(termination.exitCode ?? termination.signal)}${termination.killed ? ', SIGKILLed' : ''})`,
    );
    return termination;
  }

  /** Resolves when the sandbox is gone. */
  waitGone(): Promise<void> {
    return this.gone;
  }

  /** @internal The record the cluster DNS publishes for this pod. */
  dnsRecord(): Parameters<ClusterDns['setPod']>[0] {
    return {
      name: this.name,
      address: this.sandbox.address,
      labels: this.manifest.labels,
      subdomain: this.manifest.subdomain,
      ready: this.ready,
      terminating: this.phase !== 'Running',
    };
  }

  /** @internal Writes ConfigMap projections, makes emptyDirs, and lists the container's mounts. */
  prepareVolumes(configMaps: ReadonlyMap<string, Readonly<Record<string, string>>>): void {
    const fsGroup = this.manifest.spec.securityContext?.fsGroup;
    const volumes = new Map((this.manifest.spec.volumes ?? []).map((volume) => [volume.name, volume]));
    for (const mount of this.container.volumeMounts ?? []) {
      if (mount.subPath !== undefined) throw new PodError(`pod ${this.name}: volume subPath is not emulated`);
      const claim = this.manifest.claims.get(mount.name);
      const volume = volumes.get(mount.name);
      let source: string;
      if (claim !== undefined) {
        source = claim;
        applyFsGroup(source, fsGroup);
      } else if (volume !== undefined) {
        source = this.materialize(volume, configMaps, fsGroup);
      } else {
        throw new PodError(`pod ${this.name}: volumeMount ${mount.name} names no volume or claim`);
      }
      this.mounts.push({ source, mountPath: mount.mountPath, readOnly: mount.readOnly === true });
    }
  }

  /** @internal Starts (or restarts) the container process and its probes. */
  startContainer(): void {
    const image = this.kubelet.settings.image;
    const command = this.container.command ?? image.entrypoint;
    const args = this.container.args ?? (this.container.command === undefined ? image.cmd : []);
    const argv = [...command, ...args].map((word) => expandVariables(word, this.env));
    const rootDir = join(this.sandbox.dir, 'rootfs');
    const layerDir = join(this.sandbox.dir, 'layer');
    mkdirSync(rootDir, { recursive: true });
    mkdirSync(layerDir, { recursive: true });
    const security = this.container.securityContext;
    const script = containerScript({
      rootDir,
      layerDir,
      layerBytes: containerLayerBytes,
      imageDirs: image.dirs,
      imageLinks: image.links,
      appDir: image.workdir,
      repoDir: repoRoot(),
      hostsFile: hostsFilePath(this.sandbox.namespace),
      mounts: this.mounts,
      readOnlyRoot: security?.readOnlyRootFilesystem === true,
      hostname: this.manifest.spec.hostname ?? this.name,
      identity: this.identity,
      workdir: this.container.workingDir ?? image.workdir,
      env: this.env,
      argv,
    });
    const attempt = this.restartCount;
    const scriptPath = join(this.sandbox.dir, `start-${attempt}.sh`);
    writeFileSync(scriptPath, script);
    const logPath = join(this.sandbox.dir, `container-${attempt}.log`);
    const log = openSync(logPath, 'a');
    let child: ChildProcess;
    try {
      child = spawn(
        'ip',
        [
          'netns',
          'exec',
          this.sandbox.namespace,
          'unshare',
          '--mount',
          '--uts',
          '--propagation',
          'private',
          '--',
          '/bin/sh',
          scriptPath,
        ],
        { stdio: ['ignore', log, log], detached: true, env: { PATH: hostPath } },
      );
    } finally {
      closeSync(log);
    }
    const pid = child.pid;
    if (pid === undefined) throw new PodError(`pod ${this.name}: the container process did not start`);
    containerPids.add(pid);
    const exited = new Promise<ContainerExit>((resolve) => {
      child.once('exit', (code, signal) => {
        containerPids.delete(pid);
        resolve({ code, signal });
      });
    });
    const running: ContainerProcess = { child, pid, startedAtMs: Date.now(), exited, logPath };
    this.process = running;
    this.kubelet.event(
      `pod ${this.name}: container started, pid ${pid}, address ${this.sandbox.address}: ${argv.join(' ')}`,
    );
    void exited.then((exit) => this.onContainerExit(running, exit));
    this.postStart = null;
    const hook = this.container.lifecycle?.postStart;
    if (hook === undefined) this.startProbes();
    else void this.runPostStart(running, hook);
  }

  /**
   * The postStart hook, as the kubelet runs it: beside the container's entrypoint, in the
   * container; the probes start once it has succeeded, and a failed hook kills the container
   * (which then restarts as after any exit).
   */
  private async runPostStart(running: ContainerProcess, hook: ILifecycleHandler): Promise<void> {
    const started = Date.now();
    // The container script chroots into the pod's root and execs the entrypoint; the hook enters
    // the container once that is done, as a real one only starts once the container exists.
    while (this.process === running && !chrooted(running.pid)) {
      if (Date.now() - started > postStartTimeoutMs) break;
      await sleep(20);
    }
    if (this.process !== running) return;
    const timeoutMs = Math.max(1, postStartTimeoutMs - (Date.now() - started));
    let exitCode: number | null;
    let output = '';
    if (hook.exec !== undefined) {
      const result = await this.exec(hook.exec.command ?? [], timeoutMs);
      exitCode = result.code === 124 && result.durationMs >= timeoutMs ? null : result.code;
      output = `${result.stdout}${result.stderr}`.trim().slice(-500);
    } else exitCode = await this.runHandler(hook, timeoutMs);
    if (this.process !== running) return;
    this.postStart = { handler: describeHandler(hook), exitCode, durationMs: Date.now() - started };
    if (exitCode === 0) {
      this.kubelet.event(`pod ${this.name}: postStart hook done in ${this.postStart.durationMs} ms`);
      this.startProbes();
      return;
    }
    this.kubelet.event(
      `pod ${this.name}: FailedPostStartHook (${this.postStart.handler} exited ${String(exitCode)}${output === '' ? '' : `: ${output}`}); the container is killed`,
    );
    signal(running.pid, 'SIGKILL');
  }

  /** @internal SIGKILL and sandbox removal, no grace: teardown. */
  async forceRemove(): Promise<void> {
    this.phase = 'Terminating';
    this.stopProbes();
    const running = this.process;
    if (running !== null) {
      signal(running.pid, 'SIGKILL');
      await running.exited;
    }
    await this.removeSandbox();
  }

  /** @internal */
  async removeSandbox(): Promise<void> {
    if (this.sandboxRemoved) return;
    this.sandboxRemoved = true;
    this.phase = 'Gone';
    const settings = this.kubelet.settings;
    settings.dns.removeResolver(this.sandbox.namespace);
    await settings.dns.removePod(this.name).catch(() => undefined);
    await settings.network.detach(this.sandbox.sandbox).catch(() => undefined);
    rmSync(this.sandbox.dir, { recursive: true, force: true });
    this.kubelet.forget(this, this.sandbox.addressIndex);
    this.markGone();
  }

  private materialize(
    volume: IVolume,
    configMaps: ReadonlyMap<string, Readonly<Record<string, string>>>,
    fsGroup: number | undefined,
  ): string {
    const dir = join(this.sandbox.dir, 'volumes', volume.name);
    mkdirSync(dir, { recursive: true });
    if (volume.emptyDir !== undefined) {
      applyFsGroup(dir, fsGroup);
      return dir;
    }
    const projections =
      volume.projected?.sources ?? (volume.configMap === undefined ? undefined : [{ configMap: volume.configMap }]);
    if (projections === undefined)
      throw new PodError(
        `pod ${this.name}: volume ${volume.name}: only configMap, projected and emptyDir volumes are emulated`,
      );
    const defaultMode = volume.projected?.defaultMode ?? volume.configMap?.defaultMode ?? 0o644;
    for (const projection of projections) {
      if (projection.configMap === undefined)
        throw new PodError(
          `pod ${this.name}: volume ${volume.name}: only ConfigMap projections are emulated (Secrets are not)`,
        );
      const name = projection.configMap.name ?? '';
      const data = configMaps.get(name);
      if (data === undefined) throw new PodError(`pod ${this.name}: ConfigMap ${name} does not exist`);
      const items: ReadonlyArray<{ key: string; path: string; mode?: number }> =
        projection.configMap.items ?? Object.keys(data).map((key) => ({ key, path: key }));
      for (const item of items) {
        const value = data[item.key];
        if (value === undefined) throw new PodError(`pod ${this.name}: ConfigMap ${name} has no key ${item.key}`);
        const file = join(dir, item.path);
        mkdirSync(dirname(file), { recursive: true });
        writeFileSync(file, value);
        chmodSync(file, item.mode ?? defaultMode);
        if (fsGroup !== undefined) chownSync(file, 0, fsGroup);
      }
    }
    return dir;
  }

  private setReady(ready: boolean, why: string): void {
    if (this.ready === ready) return;
    this.ready = ready;
    this.kubelet.event(`pod ${this.name}: ${ready ? 'Ready' : 'not ready'} (${why})`);
    if (this.phase !== 'Gone') void this.kubelet.settings.dns.setPod(this.dnsRecord()).catch(() => undefined);
  }

  private onContainerExit(running: ContainerProcess, exit: ContainerExit): void {
    if (this.process !== running || this.phase !== 'Running') return;
    this.stopProbes();
    this.started = false;
    this.setReady(false, 'container exited');
    this.restartCount += 1;
    const backoffMs = Math.min(restartBackoffMsMax, restartBackoffMsMin * 2 ** (this.restartCount - 1));
    this.kubelet.event(
      `pod ${this.name}: container exited (${String(exit.code ?? exit.signal)}); restart ${this.restartCount} in ${backoffMs} ms (CrashLoopBackOff); log ends with:\n${this.logTail(10)}`,
    );
    this.schedule(backoffMs, () => {
      if (this.phase === 'Running') this.startContainer();
    });
  }

  private startProbes(): void {
    this.probeEpoch += 1;
    const epoch = this.probeEpoch;
    const startup = this.container.startupProbe;
    this.started = startup === undefined;
    const afterStartup = (): void => {
      this.started = true;
      const liveness = this.container.livenessProbe;
      const readiness = this.container.readinessProbe;
      if (liveness !== undefined)
        this.probeLoop(epoch, 'liveness', liveness, (failed) => (failed ? this.restartAfterProbe('liveness') : true));
      if (readiness !== undefined)
        this.probeLoop(epoch, 'readiness', readiness, (failed, passed) => {
          if (failed) this.setReady(false, 'readiness probe failed');
          if (passed) this.setReady(true, 'readiness probe passed');
        });
      else this.setReady(true, 'no readiness probe');
    };
    if (startup === undefined) {
      afterStartup();
      return;
    }
    this.probeLoop(epoch, 'startup', startup, (failed, passed) => {
      if (failed) return this.restartAfterProbe('startup');
      if (passed) {
        this.kubelet.event(
          `pod ${this.name}: startup probe passed after ${Date.now() - (this.process?.startedAtMs ?? 0)} ms`,
        );
        afterStartup();
        return false;
      }
      return true;
    });
  }

  /**
   * Probes at the declared period (the first at initialDelaySeconds) until the epoch changes;
   * `onThreshold(failed, passed)` sees when failureThreshold failures or successThreshold
   * successes in a row are reached; returning false from it ends the loop.
   */
  private probeLoop(
    epoch: number,
    kind: ProbeKind,
    probe: IProbe,
    onThreshold: (failed: boolean, passed: boolean) => boolean | void,
  ): void {
    const periodMs = (probe.periodSeconds ?? probePeriodSecondsDefault) * 1000;
    const timeoutMs = (probe.timeoutSeconds ?? probeTimeoutSecondsDefault) * 1000;
    const failureThreshold = probe.failureThreshold ?? probeFailureThresholdDefault;
    const successThreshold = probe.successThreshold ?? probeSuccessThresholdDefault;
    let failures = 0;
    let successes = 0;
    const tick = async (): Promise<void> => {
      if (this.probeEpoch !== epoch) return;
      const ok = await this.runProbe(probe, timeoutMs);
      if (this.probeEpoch !== epoch) return;
      if (ok) {
        this.probeCounts[kind].successes += 1;
        successes += 1;
        failures = 0;
      } else {
        this.probeCounts[kind].failures += 1;
        failures += 1;
        successes = 0;
      }
      const more = onThreshold(failures >= failureThreshold, ok && successes >= successThreshold);
      if (more === false) return;
      this.schedule(periodMs, () => void tick());
    };
    this.schedule((probe.initialDelaySeconds ?? 0) * 1000, () => void tick());
  }

  private async runProbe(probe: IProbe, timeoutMs: number): Promise<boolean> {
    if (probe.httpGet !== undefined) {
      if ((probe.httpGet.scheme ?? 'HTTP') !== 'HTTP')
        throw new PodError(`pod ${this.name}: only HTTP probes are emulated`);
      const port = this.containerPort(probe.httpGet.port);
      return httpProbe(probe.httpGet.host ?? this.sandbox.address, port, probe.httpGet.path ?? '/', timeoutMs);
    }
    if (probe.tcpSocket !== undefined)
      return tcpProbe(
        probe.tcpSocket.host ?? this.sandbox.address,
        this.containerPort(probe.tcpSocket.port),
        timeoutMs,
      );
    if (probe.exec !== undefined) return (await this.exec(probe.exec.command ?? [], timeoutMs)).code === 0;
    throw new PodError(`pod ${this.name}: only httpGet, tcpSocket and exec probes are emulated`);
  }

  private containerPort(port: number | string): number {
    if (typeof port === 'number') return port;
    const named = this.container.ports?.find((candidate) => candidate.name === port);
    if (named === undefined) throw new PodError(`pod ${this.name}: no container port named ${port}`);
    return named.containerPort;
  }

  private restartAfterProbe(kind: ProbeKind): boolean {
    this.kubelet.event(`pod ${this.name}: ${kind} probe failed; the container is killed and restarted`);
    this.stopProbes();
    const gracePeriodMs =
      (this.manifest.spec.terminationGracePeriodSeconds ?? terminationGracePeriodSecondsDefault) * 1000;
    // The exit handler restarts it (with back-off), as after any exit.
    if (this.process !== null) void this.stopContainer(gracePeriodMs, Date.now());
    return false;
  }

  /** The preStop hook, SIGTERM, and SIGKILL at the deadline; resolves once the container has exited. */
  private async stopContainer(
    gracePeriodMs: number,
    startedAt: number,
  ): Promise<Omit<Termination, 'pod' | 'gracePeriodMs' | 'totalMs'>> {
    const running = this.process;
    if (running === null) return { preStop: null, stopMs: 0, exitCode: null, signal: null, killed: false };
    const deadline = startedAt + gracePeriodMs;
    const hook = this.container.lifecycle?.preStop;
    let preStop: Termination['preStop'] = null;
    if (hook !== undefined) {
      const hookStarted = Date.now();
      const exitCode = await this.runHandler(hook, Math.max(1, deadline - hookStarted));
      preStop = { handler: describeHandler(hook), exitCode, durationMs: Date.now() - hookStarted };
      if (exitCode !== 0)
        this.kubelet.event(`pod ${this.name}: FailedPreStopHook (${preStop.handler} exited ${String(exitCode)})`);
    }
    const termAt = Date.now();
    signal(running.pid, 'SIGTERM');
    const remainingMs = Math.max(deadline - termAt, preStop !== null && termAt >= deadline ? preStopOverrunGraceMs : 0);
    const exit = await Promise.race([running.exited, sleep(remainingMs).then(() => null)]);
    if (exit !== null)
      return { preStop, stopMs: Date.now() - termAt, exitCode: exit.code, signal: exit.signal, killed: false };
    signal(running.pid, 'SIGKILL');
    const killed = await running.exited;
    return { preStop, stopMs: Date.now() - termAt, exitCode: killed.code, signal: killed.signal, killed: true };
  }

  /** Runs a lifecycle handler; its exit code, null when it did not finish within `timeoutMs`. */
  private async runHandler(handler: ILifecycleHandler, timeoutMs: number): Promise<number | null> {
    if (handler.exec !== undefined) {
      const result = await this.exec(handler.exec.command ?? [], timeoutMs);
      return result.code === 124 && result.durationMs >= timeoutMs ? null : result.code;
    }
    if (handler.sleep !== undefined) {
      const sleepMs = handler.sleep.seconds * 1000;
      await sleep(Math.min(sleepMs, timeoutMs));
      return sleepMs <= timeoutMs ? 0 : null;
    }
    if (handler.httpGet !== undefined) {
      const port = this.containerPort(handler.httpGet.port);
      return (await httpProbe(
        handler.httpGet.host ?? this.sandbox.address,
        port,
        handler.httpGet.path ?? '/',
        timeoutMs,
      ))
        ? 0
        : 1;
    }
    throw new PodError(`pod ${this.name}: only exec, sleep and httpGet lifecycle handlers are emulated`);
  }

  private stopProbes(): void {
    this.probeEpoch += 1;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  private schedule(delayMs: number, action: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      action();
    }, delayMs);
    this.timers.add(timer);
  }
}

/** The programs a container process runs before it is in its root: see startContainer and containerScript. */
const containerSetupPrograms: ReadonlySet<string> = new Set(['ip', 'unshare', '/bin/sh', 'chroot']);

/**
 * Whether the container process `pid` runs in its root: `ip netns exec` has exec'd `unshare`,
 * that the container script (`/bin/sh`), that `chroot`, and chroot has changed root and exec'd
 * the next program.
 */
function chrooted(pid: number): boolean {
  try {
    const argv0 = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] ?? '';
    return argv0 !== '' && !containerSetupPrograms.has(argv0);
  } catch {
    return false;
  }
}

function describeHandler(handler: ILifecycleHandler): string {
  if (handler.exec !== undefined) return `exec ${(handler.exec.command ?? []).join(' ')}`;
  if (handler.sleep !== undefined) return `sleep ${handler.sleep.seconds}`;
  if (handler.httpGet !== undefined) return `httpGet ${handler.httpGet.path ?? '/'}`;
  return 'unknown handler';
}

/** The user, groups and privileges of the container process (container securityContext over the pod's over the image's). */
function identityOf(manifest: PodManifest, image: ImageConfig): ProcessIdentity {
  const pod = manifest.spec.securityContext;
  const container = manifest.spec.containers[0]?.securityContext;
  const uid = container?.runAsUser ?? pod?.runAsUser ?? image.user?.uid ?? 0;
  const gid = container?.runAsGroup ?? pod?.runAsGroup ?? image.user?.gid ?? 0;
  const runAsNonRoot = container?.runAsNonRoot ?? pod?.runAsNonRoot ?? false;
  if (runAsNonRoot && uid === 0)
    throw new PodError(
      `pod ${manifest.name}: CreateContainerConfigError: runAsNonRoot and the container would run as root`,
    );
  if ((container?.capabilities?.add ?? []).length > 0)
    throw new PodError(`pod ${manifest.name}: added capabilities are not emulated`);
  const groups = [...(pod?.fsGroup === undefined ? [] : [pod.fsGroup]), ...(pod?.supplementalGroups ?? [])];
  return {
    uid,
    gid,
    supplementaryGroups: [...new Set(groups)],
    dropAllCapabilities: (container?.capabilities?.drop ?? []).includes('ALL'),
    noNewPrivileges: container?.allowPrivilegeEscalation === false,
  };
}

/** fsGroup: the volume's root belongs to the group, group-writable and setgid (new files inherit it). */
function applyFsGroup(dir: string, fsGroup: number | undefined): void {
  mkdirSync(dir, { recursive: true });
  if (fsGroup === undefined) return;
  chownSync(dir, 0, fsGroup);
  chmodSync(dir, 0o2775);
}

/**
 * The container's environment: the image's, the runtime's HOSTNAME, the `kubernetes` Service's
 * variables (set even with enableServiceLinks: false), then the manifest's env, each value with
 * `$(VAR)` of earlier entries expanded and fieldRefs resolved.
 */
function containerEnv(
  manifest: PodManifest,
  container: IContainer,
  image: ImageConfig,
  podAddress: string,
): Record<string, string> {
  const env: Record<string, string> = {
    ...image.env,
    HOSTNAME: manifest.spec.hostname ?? manifest.name,
    KUBERNETES_SERVICE_HOST: kubernetesServiceHost,
    KUBERNETES_SERVICE_PORT: String(kubernetesServicePort),
    KUBERNETES_PORT: `tcp://${kubernetesServiceHost}:${kubernetesServicePort}`,
  };
  const declared: Record<string, string> = {};
  for (const variable of container.env ?? []) {
    const value = envValue(manifest, variable, podAddress, declared);
    declared[variable.name] = value;
    env[variable.name] = value;
  }
  if ((container.envFrom ?? []).length > 0) throw new PodError(`pod ${manifest.name}: envFrom is not emulated`);
  return env;
}

function envValue(
  manifest: PodManifest,
  variable: IEnvVar,
  podAddress: string,
  earlier: Readonly<Record<string, string>>,
): string {
  const from = variable.valueFrom;
  if (from === undefined) return expandVariables(variable.value ?? '', earlier);
  const path = from.fieldRef?.fieldPath;
  if (path === 'metadata.name') return manifest.name;
  if (path === 'metadata.namespace') return manifest.namespace;
  if (path === 'status.podIP') return podAddress;
  if (path !== undefined) {
    const label = /^metadata\.labels\['(.+)'\]$/.exec(path);
    if (label !== null) return manifest.labels[label[1] ?? ''] ?? '';
  }
  throw new PodError(
    `pod ${manifest.name}: env ${variable.name}: only fieldRef metadata.name, metadata.namespace, status.podIP and labels are emulated`,
  );
}

/** Kubernetes' `$(VAR)` expansion: known variables are replaced, `$$` is a literal `$`, unknown ones stay. */
export function expandVariables(text: string, env: Readonly<Record<string, string>>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (whole, name: string | undefined) =>
    name === undefined ? '$' : (env[name] ?? whole),
  );
}

function httpProbe(host: string, port: number, path: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(
      { host, port, path, method: 'GET', headers: { 'user-agent': 'kube-probe/emulated' } },
      (response) => {
        let bytes = 0;
        response.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          if (bytes > probeBodyBytesMax) response.destroy();
        });
        response.on('error', () => undefined);
        const status = response.statusCode ?? 0;
        response.on('close', () => resolve(status >= 200 && status < 400));
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

function tcpProbe(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: timeoutMs });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
