/**
 * Bounds of the Kubernetes emulation (kubelet, StatefulSet controller, cluster DNS). Timings that
 * the manifests declare (probe periods, grace periods) come from the manifests, not from here;
 * these are Kubernetes' own defaults and the emulation's limits.
 */

/** The chart renderer's first run builds its Go binary (about 5 s on 2 cores). */
export const chartRenderMsMax = 120_000;
/** Rendered manifests larger than this are not a chart's. */
export const renderedBytesMax = 16 * 1024 * 1024;

/** Kubernetes' probe defaults (core/v1 Probe). */
export const probePeriodSecondsDefault = 10;
export const probeTimeoutSecondsDefault = 1;
export const probeFailureThresholdDefault = 3;
export const probeSuccessThresholdDefault = 1;
/** An HTTP probe reads at most this much of the answer (the kubelet reads 10 KiB). */
export const probeBodyBytesMax = 10 * 1024;
/** Kubernetes' default terminationGracePeriodSeconds. */
export const terminationGracePeriodSecondsDefault = 30;
/** When the preStop hook uses up the grace period, the kubelet grants this much more for SIGTERM. */
export const preStopOverrunGraceMs = 2_000;
/** CrashLoopBackOff: the first restart waits this long, each next one twice as long, up to the maximum. */
export const restartBackoffMsMin = 10_000;
export const restartBackoffMsMax = 300_000;

/** Size of the tmpfs under each container's root overlay (the image's writable layer). */
export const containerLayerBytes = 64 * 1024 * 1024;
/** Size of an emptyDir volume (the kubelet's node disk here: a tmpfs in the container's mount namespace). */
export const emptyDirBytes = 256 * 1024 * 1024;
/** Host commands of the emulation (mkdir, ip, nsenter setup) never take longer than this. */
export const sandboxCommandMsMax = 15_000;
/** An exec (kubectl exec, exec hook) without a deadline of its own ends after this. */
export const execMsMax = 120_000;
/** A postStart hook (which has no deadline of its own in Kubernetes) is killed after this. */
export const postStartTimeoutMs = 300_000;
/** Output an exec keeps (stdout and stderr each). */
export const execOutputBytesMax = 32 * 1024 * 1024;
/** A pod (container) log keeps growing to at most this (the kubelet rotates at 10 MiB). */
export const containerLogBytesMax = 64 * 1024 * 1024;

/** The address the `kubernetes` Service would have (KUBERNETES_SERVICE_HOST in every container). */
export const kubernetesServiceHost = '10.96.0.1';
export const kubernetesServicePort = 443;

/** The cluster DNS domain when the chart does not say otherwise (its clusterDomain default). */
export const clusterDomainDefault = 'cluster.local';
