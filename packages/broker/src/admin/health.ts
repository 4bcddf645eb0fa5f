/**
 * What /health and /ready report. The broker core registers one provider per component (raft,
 * storage, controller, ...) and one or more readiness checks (joined the controller, replicas
 * caught up); this module only combines their answers. With no readiness check registered the
 * broker is not ready: a starting broker must not take traffic.
 */
import { assert } from '@streambus/raft';
import { healthDetailCharsMax, healthProvidersMax, healthProviderTimeoutMs } from './constants.js';
import { rethrowBug } from '../bugs.js';

/** As the seeds' /health shows it: healthy, degraded (serving, with a problem), unhealthy. */
export type HealthStatus = 'healthy' | 'degraded' | 'unhealthy';

export interface ComponentHealth {
  readonly status: HealthStatus;
  /** One line for people: "leader of 12 of 36 partitions", "3 partitions under-replicated". */
  readonly detail: string;
}

export type HealthProvider = () => ComponentHealth | Promise<ComponentHealth>;

export interface Readiness {
  readonly ready: boolean;
  /** Why not ready (empty when ready). */
  readonly reason: string;
}

export type ReadinessCheck = () => Readiness | Promise<Readiness>;

/** The body of /health. Field names are snake_case like the rest of the HTTP/JSON surface. */
export interface HealthReport {
  readonly status: HealthStatus;
  readonly version: string;
  readonly uptime_seconds: number;
  /** The same, for people, as the seed's health document shows it: "24h30m15s". */
  readonly uptime: string;
  readonly broker_id: number;
  readonly ready: boolean;
  readonly components: Readonly<Record<string, ComponentHealth>>;
}

export interface HealthRegistryOptions {
  readonly brokerId: number;
  readonly version: string;
  /** Monotonic milliseconds; injected for tests. */
  readonly nowMs?: () => number;
  readonly providerTimeoutMs?: number;
}

export class HealthRegistry {
  private readonly components = new Map<string, HealthProvider>();
  private readonly readinessChecks = new Map<string, ReadinessCheck>();
  private readonly nowMs: () => number;
  private readonly startedMs: number;
  private readonly providerTimeoutMs: number;
  private stoppingReason = '';

  constructor(private readonly options: HealthRegistryOptions) {
    this.nowMs = options.nowMs ?? (() => performance.now());
    this.startedMs = this.nowMs();
    this.providerTimeoutMs = options.providerTimeoutMs ?? healthProviderTimeoutMs;
  }

  /** Registers a component's provider; returns a function that removes it. */
  registerComponent(name: string, provider: HealthProvider): () => void {
    assert(!this.components.has(name), `health component ${name} is registered once`);
    assert(this.components.size < healthProvidersMax, 'health components are bounded');
    this.components.set(name, provider);
    return () => this.components.delete(name);
  }

  /** Registers a readiness check; the broker is ready when every check says so. */
  registerReadinessCheck(name: string, check: ReadinessCheck): () => void {
    assert(!this.readinessChecks.has(name), `readiness check ${name} is registered once`);
    assert(this.readinessChecks.size < healthProvidersMax, 'readiness checks are bounded');
    this.readinessChecks.set(name, check);
    return () => this.readinessChecks.delete(name);
  }

  /**
   * From now on /ready answers 503 with this reason, whatever the checks say: a stopping broker
   * is taken out of load balancing before it hands its leaderships away.
   */
  markStopping(reason: string): void {
    assert(reason !== '', 'a stopping reason is given');
    this.stoppingReason = reason;
  }

  async readiness(): Promise<Readiness> {
    if (this.stoppingReason !== '') return { ready: false, reason: this.stoppingReason };
    if (this.readinessChecks.size === 0)
      return { ready: false, reason: 'starting: the broker has not registered its readiness checks yet' };
    const answers = await Promise.all(
      [...this.readinessChecks].map(async ([name, check]) => {
        const answer = await this.withTimeout(
          name,
          async () => await check(),
          (reason) => ({ ready: false, reason }),
        );
        return { name, answer };
      }),
    );
    const notReady = answers.filter(({ answer }) => !answer.ready);
    if (notReady.length === 0) return { ready: true, reason: '' };
    return { ready: false, reason: notReady.map(({ name, answer }) => `${name}: ${answer.reason}`).join('; ') };
  }

  async report(): Promise<HealthReport> {
    const entries = await Promise.all(
      [...this.components].map(async ([name, provider]) => {
        const health = await this.withTimeout(
          name,
          async () => await provider(),
          (reason): ComponentHealth => ({ status: 'unhealthy', detail: reason }),
        );
        return [name, { status: health.status, detail: health.detail.slice(0, healthDetailCharsMax) }] as const;
      }),
    );
    const components = Object.fromEntries(entries.sort(([a], [b]) => a.localeCompare(b)));
    const readiness = await this.readiness();
    const uptimeSeconds = Math.floor((this.nowMs() - this.startedMs) / 1000);
    return {
      status: worstStatus(Object.values(components).map((component) => component.status)),
      version: this.options.version,
      uptime_seconds: uptimeSeconds,
      uptime: formatUptime(uptimeSeconds),
      broker_id: this.options.brokerId,
      ready: readiness.ready,
      components,
    };
  }

  /** A provider that throws or hangs is itself a finding, reported instead of failing /health. */
  private async withTimeout<T>(name: string, run: () => Promise<T>, failed: (reason: string) => T): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<T>((resolve) => {
      timer = setTimeout(
        () => resolve(failed(`${name} did not answer within ${this.providerTimeoutMs}ms`)),
        this.providerTimeoutMs,
      );
    });
    try {
      const checked = run().catch((error: unknown) => {
        rethrowBug(error);
        return failed(`${name} check failed: ${error instanceof Error ? error.message : String(error)}`);
      });
      return await Promise.race([checked, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

export function worstStatus(statuses: readonly HealthStatus[]): HealthStatus {
  if (statuses.includes('unhealthy')) return 'unhealthy';
  if (statuses.includes('degraded')) return 'degraded';
  return 'healthy';
}

/** "24h30m15s", "5m0s", "42s". */
export function formatUptime(seconds: number): string {
  const hours = Math.floor(seconds / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  const rest = seconds % 60;
  if (hours > 0) return `${hours}h${minutes}m${rest}s`;
  if (minutes > 0) return `${minutes}m${rest}s`;
  return `${rest}s`;
}
