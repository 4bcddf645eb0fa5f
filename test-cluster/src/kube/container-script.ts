/**
 * The shell script that turns a network namespace and a host directory into the container's
 * world, the way a container runtime does, then execs the container's process (so the spawned
 * PID ends up being the process itself). It runs as `ip netns exec NS unshare --mount --uts
 * --propagation private -- /bin/sh SCRIPT`, so every mount below lives in the container's own
 * mount namespace and disappears with it; nothing is mounted on the host.
 *
 * The root filesystem is an overlay: the host's root below (it has /usr/bin/node, libc, ...), the
 * image's additions on top (its directories and links, /app = the built repository), a tmpfs as
 * its writable layer. Then the kubelet's files (/etc/hosts), the pod's volumes at their
 * mountPaths, the root made read-only when readOnlyRootFilesystem says so, the hostname, and the
 * user, groups, capabilities and no_new_privs of the securityContext (setpriv).
 */

export interface ContainerMount {
  /** Directory on the host. */
  readonly source: string;
  /** Path inside the container. */
  readonly mountPath: string;
  readonly readOnly: boolean;
}

export interface ProcessIdentity {
  readonly uid: number;
  readonly gid: number;
  readonly supplementaryGroups: readonly number[];
  /** Drop every capability (capabilities.drop: [ALL]). */
  readonly dropAllCapabilities: boolean;
  /** allowPrivilegeEscalation: false. */
  readonly noNewPrivileges: boolean;
}

export interface ContainerScriptInput {
  /** Mount point of the overlay root (an empty host directory). */
  readonly rootDir: string;
  /** Mount point of the writable layer's tmpfs (an empty host directory). */
  readonly layerDir: string;
  readonly layerBytes: number;
  /** The image: directories to create, links to make, and where the repository appears. */
  readonly imageDirs: readonly string[];
  readonly imageLinks: ReadonlyArray<{ readonly target: string; readonly link: string }>;
  readonly appDir: string;
  readonly repoDir: string;
  /** The hosts file the kubelet manages for this pod (on the host). */
  readonly hostsFile: string;
  readonly mounts: readonly ContainerMount[];
  readonly readOnlyRoot: boolean;
  readonly hostname: string;
  readonly identity: ProcessIdentity;
  readonly workdir: string;
  readonly env: Readonly<Record<string, string>>;
  readonly argv: readonly string[];
}

/** Single-quotes `text` for /bin/sh. */
export function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** The setpriv and env words that run `argv` as `identity` with exactly `env`, in `workdir`. */
export function processWords(
  identity: ProcessIdentity,
  env: Readonly<Record<string, string>>,
  workdir: string,
  argv: readonly string[],
): string[] {
  const groups =
    identity.supplementaryGroups.length === 0
      ? ['--clear-groups']
      : ['--groups', identity.supplementaryGroups.join(',')];
  return [
    '/usr/bin/setpriv',
    '--reuid',
    String(identity.uid),
    '--regid',
    String(identity.gid),
    ...groups,
    ...(identity.noNewPrivileges ? ['--no-new-privs'] : []),
    ...(identity.dropAllCapabilities ? ['--inh-caps=-all', '--bounding-set=-all'] : []),
    '--',
    '/usr/bin/env',
    '-i',
    '-C',
    workdir,
    ...Object.entries(env).map(([name, value]) => `${name}=${value}`),
    ...argv,
  ];
}

export function containerScript(input: ContainerScriptInput): string {
  const q = shellQuote;
  const root = (path: string): string => q(`${input.rootDir}${path}`);
  const lines = [
    'set -eu',
    `mount -t tmpfs -o size=${input.layerBytes},mode=0755 sbx-layer ${q(input.layerDir)}`,
    `mkdir ${q(`${input.layerDir}/upper`)} ${q(`${input.layerDir}/work`)}`,
    `mount -t overlay sbx-rootfs -o ${q(`lowerdir=/,upperdir=${input.layerDir}/upper,workdir=${input.layerDir}/work`)} ${q(input.rootDir)}`,
    `mount --rbind /dev ${root('/dev')}`,
    `mount -t proc proc ${root('/proc')}`,
    `mount --rbind /sys ${root('/sys')}`,
    '# the image',
    ...input.imageDirs.map((dir) => `mkdir -p ${root(dir)}`),
    `mkdir -p ${root(input.appDir)}`,
    `mount --bind ${q(input.repoDir)} ${root(input.appDir)}`,
    `mount -o remount,bind,ro ${root(input.appDir)}`,
    ...input.imageLinks.map((link) => `ln -sfn ${q(link.target)} ${root(link.link)}`),
    '# the kubelet',
    `mount --bind ${q(input.hostsFile)} ${root('/etc/hosts')}`,
    '# volumes',
    ...input.mounts.flatMap((mount) => [
      `mkdir -p ${root(mount.mountPath)}`,
      `mount --bind ${q(mount.source)} ${root(mount.mountPath)}`,
      ...(mount.readOnly ? [`mount -o remount,bind,ro ${root(mount.mountPath)}`] : []),
    ]),
    ...(input.readOnlyRoot ? ['# readOnlyRootFilesystem', `mount -o remount,bind,ro ${q(input.rootDir)}`] : []),
    `hostname ${q(input.hostname)}`,
    `exec chroot ${q(input.rootDir)} ${processWords(input.identity, input.env, input.workdir, input.argv).map(q).join(' ')}`,
  ];
  return `${lines.join('\n')}\n`;
}
