/**
 * Real `streambus server` processes on 127.0.0.1: start, stop (SIGTERM), kill (SIGKILL), pause
 * (SIGSTOP/SIGCONT) and restart single brokers. Every process is tracked by PID and stopped by
 * `stopAll()`; nothing is ever killed by name.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePorts } from '@streambus/broker/testing';

export interface BrokerAddress {
  readonly id: number;
  /** Client and peer gRPC address, host:port. */
  readonly listen: string;
  /** Admin HTTP address, host:port. */
  readonly admin: string;
  readonly dataDir: string;
}

export interface TestClusterOptions {
  /** Number of brokers. Default 3. */
  readonly size?: number;
  /** Parent of the per-broker data directories `broker-N`. */
  readonly dataDir: string;
  /** Fixed client ports (one per broker); default: free ephemeral ports. */
  readonly listenPorts?: readonly number[];
  /** Fixed admin ports (one per broker); default: free ephemeral ports. */
  readonly adminPorts?: readonly number[];
  /** Extra environment (e.g. STREAMBUS_WAL_SYNC) for every broker. */
  readonly env?: Readonly<Record<string, string>>;
  /** Extra environment of one broker, over `env` (e.g. its own STREAMBUS_BROKER_TLS_CERT and _KEY). */
  readonly brokerEnv?: (id: number) => Readonly<Record<string, string>>;
  /** Extra flags for every broker's `server` command. */
  readonly extraArgs?: readonly string[];
  /** Extra flags for one broker's `server` command (after `extraArgs`), e.g. its own `--config`. */
  readonly brokerArgs?: (id: number) => readonly string[];
  /** Log level of the brokers. Default "info". */
  readonly logLevel?: string;
  /** Called with progress lines (starting, ready, stopped). */
  readonly onProgress?: (line: string) => void;
  /** Listen (and advertised) host of each broker, by index; default 127.0.0.1 for all. */
  readonly listenHosts?: readonly string[];
  /** How a broker process is started (e.g. inside a network namespace); default `node` itself. */
  readonly launcher?: BrokerLauncher;
}

/**
 * Wraps a broker's `node <nodeArgs>` command line. The wrapper must exec node in the end (not
 * fork it), so that the spawned PID is the broker's: kill, pause and resume signal that PID.
 */
export type BrokerLauncher = (
  id: number,
  nodeArgs: readonly string[],
) => { readonly command: string; readonly args: readonly string[]; readonly env?: Readonly<Record<string, string>> };

export type BrokerState = 'stopped' | 'running' | 'paused';

interface BrokerProcess {
  readonly address: BrokerAddress;
  child: ChildProcess | null;
  state: BrokerState;
  log: WriteStream | null;
  exited: Promise<number | null> | null;
}

const readyPollMs = 100;

/** Every broker PID started by this process; killed if this process exits without stopping them. */
const trackedPids = new Set<number>();
process.once('exit', () => {
  for (const pid of trackedPids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

/** Path of the built `streambus` CLI entry point (test-cluster sits beside packages/ in the repo). */
export function brokerBinPath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  return join(here, '..', '..', 'packages', 'broker', 'dist', 'cli', 'main.js');
}

export class TestCluster {
  readonly brokers: readonly BrokerAddress[];
  private readonly processes = new Map<number, BrokerProcess>();
  private readonly options: TestClusterOptions;

  private constructor(options: TestClusterOptions, brokers: BrokerAddress[]) {
    this.options = options;
    this.brokers = brokers;
    for (const address of brokers) {
      this.processes.set(address.id, { address, child: null, state: 'stopped', log: null, exited: null });
    }
  }

  /** Plans a cluster (ports, directories) without starting anything. */
  static async create(options: TestClusterOptions): Promise<TestCluster> {
    const size = options.size ?? 3;
    // One call, so that no admin port equals a listen port.
    const ports =
      options.listenPorts === undefined || options.adminPorts === undefined ? await freePorts(size * 2) : [];
    const listenPorts = options.listenPorts ?? ports.slice(0, size);
    const adminPorts = options.adminPorts ?? ports.slice(size);
    const brokers: BrokerAddress[] = [];
    for (let index = 0; index < size; index += 1) {
      const id = index + 1;
      const host = options.listenHosts?.[index] ?? '127.0.0.1';
      brokers.push({
        id,
        listen: `${host}:${listenPorts[index]}`,
        admin: `${host}:${adminPorts[index]}`,
        dataDir: join(options.dataDir, `broker-${id}`),
      });
    }
    return new TestCluster(options, brokers);
  }

  /** The client bootstrap list, host:port comma separated. */
  get bootstrap(): string {
    return this.brokers.map((broker) => broker.listen).join(',');
  }

  get peersFlag(): string {
    return this.brokers.map((broker) => `${broker.id}=${broker.listen}`).join(',');
  }

  state(id: number): BrokerState {
    return this.broker(id).state;
  }

  pid(id: number): number | undefined {
    return this.broker(id).child?.pid;
  }

  /** Starts every stopped broker and waits until all are ready. */
  async startAll(readyTimeoutMs = 60_000, options: { readonly bin?: string } = {}): Promise<void> {
    for (const address of this.brokers) this.start(address.id, options);
    await Promise.all(this.brokers.map((address) => this.waitReady(address.id, readyTimeoutMs)));
  }

  /**
   * Spawns one broker process (does not wait for readiness). `bin` is the `streambus` entry point
   * to run (default this build's): a rolling upgrade starts each broker again on another build.
   */
  start(id: number, options: { readonly bin?: string } = {}): void {
    const broker = this.broker(id);
    if (broker.state !== 'stopped') throw new Error(`broker ${id} is already ${broker.state}`);
    mkdirSync(broker.address.dataDir, { recursive: true });
    const log = createWriteStream(join(this.options.dataDir, `broker-${id}.log`), { flags: 'a' });
    const nodeArgs = [
      options.bin ?? brokerBinPath(),
      'server',
      '--id',
      String(id),
      '--data-dir',
      broker.address.dataDir,
      '--listen',
      broker.address.listen,
      '--admin',
      broker.address.admin,
      '--peers',
      this.peersFlag,
      '--log-level',
      this.options.logLevel ?? 'info',
      ...(this.options.extraArgs ?? []),
      ...(this.options.brokerArgs?.(id) ?? []),
    ];
    // Each broker gets its own process group: a terminal's Ctrl-C reaches only the parent, which
    // then stops every broker exactly once (a second signal would force a broker's exit).
    const launch = this.options.launcher?.(id, nodeArgs) ?? { command: process.execPath, args: nodeArgs };
    const child = spawn(launch.command, launch.args, {
      env: { ...brokerEnvironment(process.env), ...this.options.env, ...this.options.brokerEnv?.(id), ...launch.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    trackedPids.add(child.pid ?? 0);
    child.once('exit', () => trackedPids.delete(child.pid ?? 0));
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    broker.child = child;
    broker.log = log;
    broker.state = 'running';
    broker.exited = new Promise((resolve) => {
      child.once('exit', (code) => {
        broker.state = 'stopped';
        broker.child = null;
        log.end();
        resolve(code);
      });
    });
    this.progress(
      `broker ${id}: started pid ${child.pid} (listen ${broker.address.listen}, admin http://${broker.address.admin}${options.bin === undefined ? '' : `, ${options.bin}`})`,
    );
  }

  /** Polls `/ready` until it answers 200. */
  async waitReady(id: number, timeoutMs = 60_000): Promise<void> {
    const broker = this.broker(id);
    const deadline = Date.now() + timeoutMs;
    let reason = 'no answer yet';
    while (Date.now() < deadline) {
      if (broker.state === 'stopped') {
        const code = await broker.exited;
        throw new Error(
          `broker ${id} exited (code ${code}) before it was ready; ${this.logPath(id)} ends with:\n${await this.logTail(id, 20)}`,
        );
      }
      try {
        const response = await fetch(`http://${broker.address.admin}/ready`, { signal: AbortSignal.timeout(2_000) });
        if (response.status === 200) {
          this.progress(`broker ${id}: ready`);
          return;
        }
        reason = await response.text();
      } catch (error) {
        reason = error instanceof Error ? error.message : String(error);
      }
      await sleep(readyPollMs);
    }
    throw new Error(`broker ${id} not ready after ${timeoutMs} ms: ${reason}`);
  }

  /** SIGTERM (graceful: leadership hand-off, flush) and wait for the exit. */
  async stop(id: number, timeoutMs = 30_000): Promise<number | null> {
    return this.signalAndWait(id, 'SIGTERM', timeoutMs);
  }

  /** SIGKILL and wait for the exit. */
  async kill(id: number): Promise<number | null> {
    return this.signalAndWait(id, 'SIGKILL', 10_000);
  }

  /** SIGSTOP: the process stops running (like a long GC pause). */
  pause(id: number): void {
    const broker = this.broker(id);
    if (broker.state !== 'running' || broker.child === null) throw new Error(`broker ${id} is not running`);
    broker.child.kill('SIGSTOP');
    broker.state = 'paused';
    this.progress(`broker ${id}: paused`);
  }

  /** SIGCONT after `pause`. */
  resume(id: number): void {
    const broker = this.broker(id);
    if (broker.state !== 'paused' || broker.child === null) throw new Error(`broker ${id} is not paused`);
    broker.child.kill('SIGCONT');
    broker.state = 'running';
    this.progress(`broker ${id}: resumed`);
  }

  /** Starts a stopped broker again on the same data dir (on build `bin`, default this one) and waits for readiness. */
  async restart(id: number, readyTimeoutMs = 60_000, options: { readonly bin?: string } = {}): Promise<void> {
    this.start(id, options);
    await this.waitReady(id, readyTimeoutMs);
  }

  /** Stops every running broker: SIGTERM, then SIGKILL after `graceMs`. */
  async stopAll(graceMs = 15_000): Promise<void> {
    await Promise.all(
      [...this.processes.values()].map(async (broker) => {
        if (broker.state === 'paused') this.resume(broker.address.id);
        if (broker.state === 'stopped') return;
        const exited = await this.signalAndWait(broker.address.id, 'SIGTERM', graceMs).catch(() => undefined);
        if (exited === undefined && broker.child !== null) await this.kill(broker.address.id);
      }),
    );
  }

  /** The last `lines` lines of a broker's log (its file may be removed with the cluster's directory). */
  async logTail(id: number, lines: number): Promise<string> {
    const log = this.broker(id).log;
    if (log !== null && !log.writableFinished)
      await new Promise<void>((resolve) => log.once('finish', () => resolve()).once('error', () => resolve()));
    try {
      return (await readFile(this.logPath(id), 'utf8')).trimEnd().split('\n').slice(-lines).join('\n');
    } catch (error) {
      return `(log not readable: ${error instanceof Error ? error.message : String(error)})`;
    }
  }

  logPath(id: number): string {
    return join(this.options.dataDir, `broker-${id}.log`);
  }

  private async signalAndWait(id: number, signal: NodeJS.Signals, timeoutMs: number): Promise<number | null> {
    const broker = this.broker(id);
    if (broker.child === null || broker.exited === null) return null;
    if (broker.state === 'paused' && signal !== 'SIGKILL') broker.child.kill('SIGCONT');
    broker.child.kill(signal);
    const exited = broker.exited;
    const timeout = sleep(timeoutMs).then(() => 'timeout' as const);
    const result = await Promise.race([exited, timeout]);
    if (result === 'timeout') throw new Error(`broker ${id} did not exit within ${timeoutMs} ms of ${signal}`);
    this.progress(`broker ${id}: exited (${signal}, code ${String(result)})`);
    return result;
  }

  private broker(id: number): BrokerProcess {
    const broker = this.processes.get(id);
    if (broker === undefined) throw new Error(`no broker ${id} in this cluster`);
    return broker;
  }

  private progress(line: string): void {
    this.options.onProgress?.(line);
  }
}

/**
 * The variables a client shell exports (`npm run cluster -- --secure` prints them) mean the
 * client's CA, certificate and user. A broker reads its own from STREAMBUS_BROKER_TLS_* and ignores
 * these; they are still kept from the brokers so that nothing of a client shell leaks into a test.
 */
const clientSecurityVariables = [
  'STREAMBUS_TLS_CA',
  'STREAMBUS_TLS_CERT',
  'STREAMBUS_TLS_KEY',
  'STREAMBUS_SASL_USERNAME',
  'STREAMBUS_SASL_PASSWORD',
  'STREAMBUS_SASL_PASSWORD_FILE',
];

function brokerEnvironment(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const copy = { ...env };
  for (const name of clientSecurityVariables) delete copy[name];
  return copy;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
