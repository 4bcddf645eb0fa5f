// Public API of @streambus/test-cluster: real broker processes for end-to-end tests and benchmarks.
export { TestCluster, brokerBinPath } from './cluster.js';
export type { BrokerAddress, BrokerState, TestClusterOptions } from './cluster.js';
export type { BrokerLauncher } from './cluster.js';
export { prepareSecureCluster, brokerSecurityYaml, usersYaml, secureAdminUser, waitForSecureAdmin } from './secure.js';
export type { SecureSetup } from './secure.js';
export {
  NetnsCluster,
  RealNetworkUnavailableError,
  netnsAdminPort,
  netnsListenPort,
  netnsDiskBytesDefault,
} from './netns-cluster.js';
export type { NetnsClusterOptions } from './netns-cluster.js';
export {
  NetnsNetwork,
  removeLeftovers,
  slotNames,
  namePrefix,
  netnsBrokersMax,
  slotsMax,
  attachedAddressesMax,
  hostsFilePath,
} from './netns.js';
export type { SlotNames } from './netns.js';
export { RealFaults, splitBlocks, faketimeOffset, diskFillerName } from './faults.js';
export type { Block, BandwidthCap } from './faults.js';
export { realNetworkPreflight, faketimeLibrary, runHost, HostCommandError } from './host-tools.js';
export {
  buildPreviousRelease,
  previousReleaseCommit,
  repositoryRoot,
  PreviousReleaseError,
} from './previous-release.js';
export type { PreviousRelease } from './previous-release.js';
export { runRollingUpgrade, formatUpgradeReport, longestGapMs } from './rolling-upgrade.js';
export type { RollingUpgradeOptions, UpgradeReport, BrokerReplacement } from './rolling-upgrade.js';
export { KubeEmulation } from './kube/kube-emulation.js';
export type { KubeEmulationOptions } from './kube/kube-emulation.js';
export { Kubelet, Pod, PodError, expandVariables } from './kube/kubelet.js';
export type {
  PodManifest,
  PodStatus,
  PodPhase,
  ProbeKind,
  ExecResult,
  Termination,
  KubeletOptions,
} from './kube/kubelet.js';
export { StatefulSetController, revisionOf } from './kube/statefulset-controller.js';
export type { StatefulSetControllerOptions, UpdateStep } from './kube/statefulset-controller.js';
export { ClusterDns } from './kube/cluster-dns.js';
export type { ClusterDnsOptions, DnsPod } from './kube/cluster-dns.js';
export { renderChart, statefulSetOf, configMapOf, servicesOf, ChartRenderError } from './kube/chart.js';
export type { RenderedChart, KubeObject } from './kube/chart.js';
export { imageFromDockerfile, repoRoot, DockerfileError } from './kube/image.js';
export type { ImageConfig } from './kube/image.js';
