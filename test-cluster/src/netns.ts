/**
 * A private kernel network for real broker processes: one network namespace per broker, each
 * with its own address on a bridge, and the root namespace (where the test process and its
 * clients run) on the same bridge.
 *
 * Layout of slot S (S in 0..15; every name starts with `sbx`, every address is in 10.77.0.0/24):
 *
 *   root ns  sbxSh 10.77.0.(16S+1)/28 ── veth ── host ┐
 *   sbx-S-net (bridge br0, no address)                  ├─ br0
 *   sbx-S-bI  eth0 10.77.0.(16S+1+I)/28 ── veth ── bI ┘   (I = 1..7)
 *
 * The bridge lives in its own namespace, not the root one: the root namespace gets only one
 * veth end and one /28 route, nothing else of the host is touched, and deleting the
 * namespaces removes every veth and the bridge in one stroke (a veth dies with either end).
 * Faults are rules inside the broker namespaces, so the bridge namespace stays plain.
 *
 * Slots let runs share a machine (a CI test and a soak at once): a slot is claimed by creating
 * its owner file exclusively; a slot whose owner process is gone is a crashed run, and its
 * leftovers (namespaces, veth, mounts, directories) are removed before the slot is reused.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, rmdirSync, rmSync, writeSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hostCommandMsMax, runHost, runHostSync } from './host-tools.js';

/** Slots (concurrent runs on one machine) and brokers per slot. */
export const slotsMax = 16;
export const netnsBrokersMax = 7;
/** Where slot owner files live (tmpfs: gone after a reboot, like the namespaces). */
export const slotOwnerDir = '/run/sbx-streambus';
/** Every name this mode creates starts with this (namespaces, links, directories). */
export const namePrefix = 'sbx';
/**
 * Addresses of a slot's /28 that namespaces attached after creation may take (`attach`): the
 * network address, the root namespace's address and the broadcast address are the other three.
 */
export const attachedAddressesMax = 13;
/** `ip netns exec NAME` bind-mounts the files of /etc/netns/NAME/ over /etc/ (hosts, resolv.conf). */
export const netnsEtcDir = '/etc/netns';

export interface SlotNames {
  readonly slot: number;
  /** The bridge namespace. */
  readonly bridgeNamespace: string;
  /** The root namespace's veth end. */
  readonly hostLink: string;
  /** 10.77.0.x of the root namespace on the bridge (the clients' source address). */
  readonly hostAddress: string;
  readonly prefixLength: number;
  brokerNamespace(id: number): string;
  brokerAddress(id: number): string;
  /** The bridge-side veth end of broker `id` (in the bridge namespace). */
  bridgePort(id: number): string;
  /** The hostname a broker's UTS namespace gets. */
  brokerHostname(id: number): string;
  /** The namespace `attach(name, index)` creates: `sbx-S-<name>`. */
  attachedNamespace(name: string): string;
  /** The address of attached index `index` (1..13): 10.77.0.(16S+1+index). */
  attachedAddress(index: number): string;
}

export function slotNames(slot: number): SlotNames {
  if (!Number.isInteger(slot) || slot < 0 || slot >= slotsMax)
    throw new Error(`slot must be an integer in [0, ${slotsMax}), got ${slot}`);
  const base = 16 * slot;
  return {
    slot,
    bridgeNamespace: `${namePrefix}-${slot}-net`,
    hostLink: `${namePrefix}${slot}h`,
    hostAddress: `10.77.0.${base + 1}`,
    prefixLength: 28,
    brokerNamespace: (id) => `${namePrefix}-${slot}-b${id}`,
    brokerAddress: (id) => {
      if (!Number.isInteger(id) || id < 1 || id > netnsBrokersMax)
        throw new Error(`broker id must be in [1, ${netnsBrokersMax}], got ${id}`);
      return `10.77.0.${base + 1 + id}`;
    },
    bridgePort: (id) => `b${id}`,
    brokerHostname: (id) => `${namePrefix}-${slot}-broker-${id}`,
    attachedNamespace: (name) => {
      if (!/^[a-z0-9]([a-z0-9-]{0,60}[a-z0-9])?$/.test(name))
        throw new Error(`an attached namespace name is a DNS label (a-z, 0-9, -), got "${name}"`);
      return `${namePrefix}-${slot}-${name}`;
    },
    attachedAddress: (index) => {
      if (!Number.isInteger(index) || index < 1 || index > attachedAddressesMax)
        throw new Error(`attached index must be in [1, ${attachedAddressesMax}], got ${index}`);
      return `10.77.0.${base + 1 + index}`;
    },
  };
}

interface SlotOwner {
  readonly pid: number;
  readonly runDir: string;
}

function ownerPath(slot: number): string {
  return join(slotOwnerDir, `slot-${slot}.json`);
}

function readOwner(slot: number): SlotOwner | null {
  try {
    return JSON.parse(readFileSync(ownerPath(slot), 'utf8')) as SlotOwner;
  } catch {
    return null;
  }
}

/** A live node process with that PID (a reused PID of another program does not count). */
function ownerAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('node');
  } catch {
    return false;
  }
}

/** Network namespaces named by this mode for `slot`, or for every slot (`null`). */
function namespacesOf(slot: number | null): string[] {
  let text = '';
  try {
    text = readdirSync('/run/netns').join('\n');
  } catch {
    return [];
  }
  const pattern = slot === null ? new RegExp(`^${namePrefix}-\\d+-`) : new RegExp(`^${namePrefix}-${slot}-`);
  return text.split('\n').filter((name) => pattern.test(name));
}

/** Mount points in this mode's run directories of `slot` (deepest first; /run/netns is ip's). */
function mountsOf(slot: number): string[] {
  let text = '';
  try {
    text = readFileSync('/proc/self/mounts', 'utf8');
  } catch {
    return [];
  }
  const marker = join(tmpdir(), `${namePrefix}-${slot}-`);
  return text
    .split('\n')
    .map((line) => line.split(' ')[1] ?? '')
    .filter((point) => point.startsWith(marker))
    .sort((a, b) => b.length - a.length);
}

/** The /etc/netns/NAME directories (hosts files of `ip netns exec`) of `slot`'s namespaces. */
function etcDirsOf(slot: number): string[] {
  try {
    return readdirSync(netnsEtcDir)
      .filter((name) => name.startsWith(`${namePrefix}-${slot}-`))
      .map((name) => join(netnsEtcDir, name));
  } catch {
    return [];
  }
}

/** /etc/netns itself goes once no run uses it (rmdir refuses a directory another run still fills). */
function removeEtcNetnsIfEmpty(): void {
  try {
    rmdirSync(netnsEtcDir);
  } catch {
    // absent, or in use
  }
}

/** Run directories of `slot` in the temporary directory. */
function runDirsOf(slot: number): string[] {
  try {
    return readdirSync(tmpdir())
      .filter((name) => name.startsWith(`${namePrefix}-${slot}-`))
      .map((name) => join(tmpdir(), name));
  } catch {
    return [];
  }
}

/**
 * Removes everything slot `slot` may hold: mounts, namespaces (with their veths, bridge and
 * rules), the root veth end, run directories, the owner file. Synchronous and never throws, so
 * it also runs from signal and exit handlers. Processes inside must be stopped first.
 */
export function removeSlot(slot: number, runDir?: string): string[] {
  const names = slotNames(slot);
  const removed: string[] = [];
  // Processes still inside the slot's namespaces (brokers of a run that was itself SIGKILLed,
  // whose detached children outlived it) are ours: SIGKILL them by PID, then wait for them.
  const pids = namespacesOf(slot).flatMap((namespace) => pidsIn(namespace));
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
      removed.push(`process ${pid}`);
    } catch {
      // already gone
    }
  }
  waitGone(pids, 5_000);
  for (const point of mountsOf(slot)) {
    if (runHostSync('umount', [point]) || runHostSync('umount', ['-l', point])) removed.push(`mount ${point}`);
  }
  for (const namespace of namespacesOf(slot)) {
    if (runHostSync('ip', ['netns', 'delete', namespace])) removed.push(`netns ${namespace}`);
  }
  for (const dir of etcDirsOf(slot)) {
    try {
      rmSync(dir, { recursive: true, force: true });
      removed.push(`dir ${dir}`);
    } catch {
      // left for the next sweep
    }
  }
  removeEtcNetnsIfEmpty();
  if (runHostSync('ip', ['link', 'show', names.hostLink])) {
    if (runHostSync('ip', ['link', 'delete', names.hostLink])) removed.push(`link ${names.hostLink}`);
  }
  const dirs = new Set(runDirsOf(slot));
  if (runDir !== undefined) dirs.add(runDir);
  for (const dir of dirs) {
    try {
      rmSync(dir, { recursive: true, force: true });
      removed.push(`dir ${dir}`);
    } catch {
      // left for the next sweep
    }
  }
  try {
    rmSync(ownerPath(slot), { force: true });
  } catch {
    // the next claim sees a dead owner again
  }
  return removed;
}

/** PIDs of the processes in network namespace `namespace` (`ip netns pids`). */
function pidsIn(namespace: string): number[] {
  try {
    return execFileSync('ip', ['netns', 'pids', namespace], {
      timeout: hostCommandMsMax,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    })
      .split('\n')
      .map((line) => Number(line.trim()))
      .filter((pid) => Number.isInteger(pid) && pid > 0 && pid !== process.pid);
  } catch {
    return [];
  }
}

/** Waits (blocking: teardown runs from exit handlers too) until none of `pids` exists, at most `timeoutMs`. */
function waitGone(pids: readonly number[], timeoutMs: number): void {
  const deadline = Date.now() + timeoutMs;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  while (pids.some(alive) && Date.now() < deadline) Atomics.wait(pause, 0, 0, 20);
}

/** The process exists and is not a zombie (a zombie holds no mount or namespace any more). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Removes the leftovers of every slot whose owner process is gone (a crashed or killed run). */
export function removeLeftovers(): string[] {
  const removed: string[] = [];
  for (let slot = 0; slot < slotsMax; slot++) {
    const owner = readOwner(slot);
    if (owner !== null && ownerAlive(owner.pid)) continue;
    const hasLeftovers =
      owner !== null ||
      namespacesOf(slot).length > 0 ||
      etcDirsOf(slot).length > 0 ||
      mountsOf(slot).length > 0 ||
      runDirsOf(slot).length > 0 ||
      runHostSync('ip', ['link', 'show', slotNames(slot).hostLink]);
    if (hasLeftovers) removed.push(...removeSlot(slot, owner?.runDir));
  }
  return removed;
}

/** Claims a free slot for this process and writes its owner file; throws when all are in use. */
function claimSlot(runDirFor: (slot: number) => string): { slot: number; runDir: string } {
  mkdirSync(slotOwnerDir, { recursive: true });
  for (let slot = 0; slot < slotsMax; slot++) {
    let fd: number;
    try {
      fd = openSync(ownerPath(slot), 'wx');
    } catch {
      continue; // owned (live owners only: dead ones were swept first)
    }
    const runDir = runDirFor(slot);
    try {
      writeSync(fd, JSON.stringify({ pid: process.pid, runDir } satisfies SlotOwner));
    } finally {
      closeSync(fd);
    }
    return { slot, runDir };
  }
  throw new Error(`all ${slotsMax} real-network slots are in use (see ${slotOwnerDir}); wait for a run to end`);
}

/** One slot's namespaces, bridge and addresses. `create` builds it; `removeSync` takes it all down. */
export class NetnsNetwork {
  readonly names: SlotNames;
  /** This run's directory (data mounts, logs, clock files): `<tmpdir>/sbx-S-<pid>`. */
  readonly runDir: string;
  readonly brokerIds: readonly number[];
  private removed = false;

  private constructor(names: SlotNames, runDir: string, brokerIds: readonly number[]) {
    this.names = names;
    this.runDir = runDir;
    this.brokerIds = brokerIds;
  }

  /** Sweeps dead runs' leftovers, claims a slot, and builds its bridge and broker namespaces. */
  static async create(size: number, onProgress: (line: string) => void = () => undefined): Promise<NetnsNetwork> {
    if (!Number.isInteger(size) || size < 0 || size > netnsBrokersMax)
      throw new Error(`brokers must be in [0, ${netnsBrokersMax}], got ${size}`);
    const swept = removeLeftovers();
    if (swept.length > 0) onProgress(`removed leftovers of a previous run: ${swept.join(', ')}`);
    const { slot, runDir } = claimSlot((s) => join(tmpdir(), `${namePrefix}-${s}-${process.pid}`));
    const network = new NetnsNetwork(
      slotNames(slot),
      runDir,
      Array.from({ length: size }, (_, i) => i + 1),
    );
    try {
      mkdirSync(runDir, { recursive: true });
      await network.build();
    } catch (error) {
      network.removeSync();
      throw error;
    }
    onProgress(
      `network slot ${slot}: bridge in ${network.names.bridgeNamespace}, clients at ${network.names.hostAddress}, brokers ${network.brokerIds.map((id) => `${id}=${network.names.brokerAddress(id)}`).join(' ')}`,
    );
    return network;
  }

  private async build(): Promise<void> {
    const n = this.names;
    const cidr = (address: string): string => `${address}/${n.prefixLength}`;
    await runHost('ip', ['netns', 'add', n.bridgeNamespace]);
    const inBridge = (...args: string[]): Promise<string> => runHost('ip', ['-n', n.bridgeNamespace, ...args]);
    await inBridge('link', 'set', 'lo', 'up');
    await inBridge('link', 'add', 'br0', 'type', 'bridge');
    await inBridge('link', 'set', 'br0', 'up');
    // The root namespace's end first, so that the route to the brokers exists before they start.
    await runHost('ip', [
      'link',
      'add',
      n.hostLink,
      'type',
      'veth',
      'peer',
      'name',
      'host',
      'netns',
      n.bridgeNamespace,
    ]);
    await inBridge('link', 'set', 'host', 'master', 'br0', 'up');
    await runHost('ip', ['addr', 'add', cidr(n.hostAddress), 'dev', n.hostLink]);
    await runHost('ip', ['link', 'set', n.hostLink, 'up']);
    for (const id of this.brokerIds) {
      const namespace = n.brokerNamespace(id);
      await runHost('ip', ['netns', 'add', namespace]);
      await runHost('ip', ['-n', namespace, 'link', 'set', 'lo', 'up']);
      await runHost('ip', [
        'link',
        'add',
        'eth0',
        'netns',
        namespace,
        'type',
        'veth',
        'peer',
        'name',
        n.bridgePort(id),
        'netns',
        n.bridgeNamespace,
      ]);
      await inBridge('link', 'set', n.bridgePort(id), 'master', 'br0', 'up');
      await runHost('ip', ['-n', namespace, 'addr', 'add', cidr(n.brokerAddress(id)), 'dev', 'eth0']);
      await runHost('ip', ['-n', namespace, 'link', 'set', 'eth0', 'up']);
    }
  }

  /**
   * The command line that runs `node nodeArgs` as broker `id`: inside its network namespace, in
   * its own UTS namespace with its own hostname (`os.hostname()` in the broker, `hostname` in a
   * shell there; brokers find each other by address, not by name), with `preload` (libfaketime)
   * for node only. Every step execs (ip, unshare, sh, env), so the spawned PID is node's.
   */
  launch(id: number, nodeArgs: readonly string[], preload: string | null): { command: string; args: string[] } {
    const script =
      preload === null ? 'hostname "$0" && exec "$@"' : 'hostname "$0" && exec env LD_PRELOAD="$SBX_PRELOAD" "$@"';
    return {
      command: 'ip',
      args: [
        'netns',
        'exec',
        this.names.brokerNamespace(id),
        'unshare',
        '--uts',
        '--',
        '/bin/sh',
        '-c',
        script,
        this.names.brokerHostname(id),
        process.execPath,
        ...nodeArgs,
      ],
    };
  }

  /**
   * Adds network namespace `sbx-S-<name>` on the bridge at `attachedAddress(index)` (eth0, bridge
   * port `pINDEX`), and writes `hosts` as its /etc/netns/<namespace>/hosts (which `ip netns exec`
   * mounts over /etc/hosts). For networks created without brokers: their addresses would collide.
   * Returns the namespace and its address.
   */
  async attach(name: string, index: number, hosts: string): Promise<{ namespace: string; address: string }> {
    if (this.brokerIds.length > 0) throw new Error('attach needs a network created without brokers (size 0)');
    const n = this.names;
    const namespace = n.attachedNamespace(name);
    const address = n.attachedAddress(index);
    const port = `p${index}`;
    await writeHostsFile(namespace, hosts);
    await runHost('ip', ['netns', 'add', namespace]);
    await runHost('ip', ['-n', namespace, 'link', 'set', 'lo', 'up']);
    await runHost('ip', [
      'link',
      'add',
      'eth0',
      'netns',
      namespace,
      'type',
      'veth',
      'peer',
      'name',
      port,
      'netns',
      n.bridgeNamespace,
    ]);
    await runHost('ip', ['-n', n.bridgeNamespace, 'link', 'set', port, 'master', 'br0', 'up']);
    await runHost('ip', ['-n', namespace, 'addr', 'add', `${address}/${n.prefixLength}`, 'dev', 'eth0']);
    await runHost('ip', ['-n', namespace, 'link', 'set', 'eth0', 'up']);
    return { namespace, address };
  }

  /** Deletes an attached namespace (its veth and bridge port go with it) and its /etc/netns directory. */
  async detach(name: string): Promise<void> {
    const namespace = this.names.attachedNamespace(name);
    await runHost('ip', ['netns', 'delete', namespace]);
    rmSync(join(netnsEtcDir, namespace), { recursive: true, force: true });
  }

  /** Removes every namespace, link, mount and directory of this slot (brokers must be stopped). */
  removeSync(): string[] {
    if (this.removed) return [];
    this.removed = true;
    return removeSlot(this.names.slot, this.runDir);
  }
}

/** The hosts file `ip netns exec <namespace>` shows as /etc/hosts. */
export function hostsFilePath(namespace: string): string {
  return join(netnsEtcDir, namespace, 'hosts');
}

/**
 * Replaces the content of `namespace`'s hosts file in place: its processes see it through a bind
 * mount of that very inode, which a rename would leave behind.
 */
export async function writeHostsFile(namespace: string, text: string): Promise<void> {
  await mkdir(join(netnsEtcDir, namespace), { recursive: true });
  await writeFile(hostsFilePath(namespace), text);
}
