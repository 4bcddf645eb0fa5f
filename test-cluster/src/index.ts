// Public API of @streambus/test-cluster: real broker processes for end-to-end tests and benchmarks.
export { TestCluster, brokerBinPath } from './cluster.js';
export type { BrokerAddress, BrokerState, TestClusterOptions } from './cluster.js';
export type { BrokerLauncher } from './cluster.js';
export {
  NetnsCluster,
  RealNetworkUnavailableError,
  netnsAdminPort,
  netnsListenPort,
  netnsDiskBytesDefault,
} from './netns-cluster.js';
export type { NetnsClusterOptions } from './netns-cluster.js';
export { NetnsNetwork, removeLeftovers, slotNames, namePrefix, netnsBrokersMax, slotsMax } from './netns.js';
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
