/**
 * The NATS JetStream peer of `npm run bench -- --peer nats`: three `nats-server` processes (Debian's
 * package, started by PID and stopped by PID) on 127.0.0.1 free ports, their stores in a temp dir,
 * and the bench's phases run through the official `nats` client against one R3 file-backed stream
 * per phase, created for it and deleted after.
 *
 * Durability differs and every comparison says so: JetStream 2.9 acknowledges a publish once its
 * stream's Raft group has it in memory on a quorum (its file store writes without fsync before the
 * ack), while StreamBus acks=all answers once a quorum has fsynced the batch.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { AckPolicy, connect, DeliverPolicy, RetentionPolicy, StorageType } from 'nats';
import type { JetStreamClient, JetStreamManager, NatsConnection } from 'nats';

/** Outstanding publishes of the as-fast-as-possible phases (the team's reference measured with 2,000). */
export const natsPublishWindowMax = 2_000;
/** How long the servers get to elect a JetStream meta leader. */
const natsStartMsMax = 30_000;
/** How long a new stream gets to have a leader and two current replicas. */
const natsStreamReadyMsMax = 30_000;
/** How long a server gets to exit after SIGTERM before SIGKILL. */
const natsStopMsMax = 10_000;

export interface NatsPhaseResult {
  readonly acked: number;
  readonly seconds: number;
  readonly latenciesUs: number[];
}

interface NatsServer {
  readonly name: string;
  readonly clientPort: number;
  readonly monitorPort: number;
  readonly child: ChildProcess;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no free port');
  return address.port;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class NatsPeer {
  private constructor(
    private readonly servers: readonly NatsServer[],
    private readonly connection: NatsConnection,
    private readonly manager: JetStreamManager,
    private readonly jetstream: JetStreamClient,
    readonly version: string,
  ) {}

  /** Starts three servers under `dir`, waits for a JetStream meta leader, connects. */
  static async start(dir: string, log: (line: string) => void): Promise<NatsPeer> {
    const ports = await Promise.all(Array.from({ length: 9 }, freePort));
    const port = (i: number): number => ports[i] as number;
    const routes = [0, 1, 2].map((i) => `nats-route://127.0.0.1:${port(3 + i)}`).join(', ');
    const servers: NatsServer[] = [];
    try {
      for (const i of [0, 1, 2]) {
        const name = `n${i + 1}`;
        const store = join(dir, name);
        await mkdir(store, { recursive: true });
        const conf = join(dir, `${name}.conf`);
        await writeFile(
          conf,
          [
            `server_name: ${name}`,
            `listen: 127.0.0.1:${port(i)}`,
            `http: 127.0.0.1:${port(6 + i)}`,
            `jetstream { store_dir: "${store}", max_memory_store: 1GB, max_file_store: 20GB }`,
            `cluster { name: bench, listen: 127.0.0.1:${port(3 + i)}, routes: [${routes}] }`,
            '',
          ].join('\n'),
        );
        const child = spawn('nats-server', ['-c', conf, '-l', join(dir, `${name}.log`)], { stdio: 'ignore' });
        await new Promise<void>((resolve, reject) => {
          child.once('spawn', resolve);
          child.once('error', (error) =>
            reject(
              new Error(`cannot start nats-server (${error.message}); install it: apt-get install -y nats-server`),
            ),
          );
        });
        servers.push({ name, clientPort: port(i), monitorPort: port(6 + i), child });
        log(`nats: ${name} started pid ${child.pid} (client 127.0.0.1:${port(i)})`);
      }
      const started = performance.now();
      for (;;) {
        const jsz = await fetch(`http://127.0.0.1:${port(6)}/jsz`)
          .then((response) => response.text())
          .catch(() => '');
        if (jsz.includes('"leader"')) break;
        if (performance.now() - started > natsStartMsMax)
          throw new Error(`nats: no JetStream meta leader within ${natsStartMsMax} ms (logs in ${dir})`);
        await sleep(250);
      }
      const varz = (await fetch(`http://127.0.0.1:${port(6)}/varz`).then((response) => response.json())) as {
        version?: string;
      };
      const connection = await connect({
        servers: servers.map((server) => `127.0.0.1:${server.clientPort}`),
        noRandomize: true,
        name: 'streambus-bench',
      });
      const manager = await connection.jetstreamManager();
      log(`nats: cluster up (nats-server ${varz.version ?? 'unknown'}), client on ${connection.getServer()}`);
      return new NatsPeer(servers, connection, manager, connection.jetstream({ timeout: 60_000 }), varz.version ?? '');
    } catch (error) {
      await stopServers(servers, log);
      throw error;
    }
  }

  /** Closes the client and stops every server this peer started, by PID. */
  async stop(log: (line: string) => void): Promise<void> {
    await this.connection.close().catch(() => undefined);
    await stopServers(this.servers, log);
  }

  /** A fresh R3 file-backed stream on `name.>`, once it has a leader and two current replicas. */
  async createStream(name: string): Promise<string> {
    await this.manager.streams.add({
      name,
      subjects: [`${name}.>`],
      storage: StorageType.File,
      num_replicas: 3,
      retention: RetentionPolicy.Limits,
    });
    const started = performance.now();
    for (;;) {
      const cluster = (await this.manager.streams.info(name)).cluster;
      const replicas = cluster?.replicas ?? [];
      if (cluster?.leader !== undefined && replicas.length === 2 && replicas.every((replica) => replica.current))
        return cluster.leader;
      if (performance.now() - started > natsStreamReadyMsMax)
        throw new Error(`nats: stream ${name} not ready within ${natsStreamReadyMsMax} ms`);
      await sleep(100);
    }
  }

  async deleteStream(name: string): Promise<void> {
    await this.manager.streams.delete(name);
  }

  /**
   * Publishes `recordBytes` records to `stream`, each acknowledged by JetStream (js.publish), for
   * `durationMs`: as fast as a window of `natsPublishWindowMax` outstanding publishes allows
   * (rate 0), one awaited at a time (rate -1), or paced at `ratePerSecond` with each ack's latency
   * recorded after `warmupMs`.
   */
  async publish(
    stream: string,
    recordBytes: number,
    durationMs: number,
    ratePerSecond: number,
    warmupMs: number,
    progress: (acked: number) => void,
  ): Promise<NatsPhaseResult> {
    const value = new Uint8Array(recordBytes).fill(0x6e);
    const subject = `${stream}.x`;
    const latenciesUs: number[] = [];
    const started = performance.now();
    const deadline = started + durationMs;
    let acked = 0;
    let failure: unknown;
    const ticker = setInterval(() => progress(acked), 1_000);
    try {
      if (ratePerSecond < 0) {
        for (let now = started; now < deadline; now = performance.now()) {
          await this.jetstream.publish(subject, value);
          acked += 1;
          if (now - started >= warmupMs) latenciesUs.push(Math.round((performance.now() - now) * 1000));
        }
      } else if (ratePerSecond === 0) {
        let inflight = 0;
        await new Promise<void>((resolve) => {
          const pump = (): void => {
            while (failure === undefined && inflight < natsPublishWindowMax && performance.now() < deadline) {
              inflight += 1;
              this.jetstream.publish(subject, value).then(
                () => {
                  inflight -= 1;
                  acked += 1;
                  if (inflight === 0 && performance.now() >= deadline) resolve();
                  else pump();
                },
                (error: unknown) => {
                  failure ??= error;
                  inflight -= 1;
                  if (inflight === 0) resolve();
                },
              );
            }
          };
          pump();
        });
      } else {
        // Paced by elapsed time like the StreamBus latency phase: slow timers must not lower the rate.
        const outstanding = new Set<Promise<void>>();
        let sent = 0;
        while (performance.now() < deadline && failure === undefined) {
          const due = Math.floor(((performance.now() - started) / 1000) * ratePerSecond) - sent;
          for (let i = 0; i < due; i++) {
            const at = performance.now();
            const measured = at - started >= warmupMs;
            const ack = this.jetstream.publish(subject, value).then(
              () => {
                acked += 1;
                if (measured) latenciesUs.push(Math.round((performance.now() - at) * 1000));
              },
              (error: unknown) => {
                failure ??= error;
              },
            );
            outstanding.add(ack);
            void ack.finally(() => outstanding.delete(ack));
            sent += 1;
          }
          await sleep(1);
        }
        await Promise.all(outstanding);
      }
    } finally {
      clearInterval(ticker);
    }
    if (failure !== undefined)
      throw failure instanceof Error ? failure : new Error(`nats publish failed: ${JSON.stringify(failure)}`);
    return { acked, seconds: (performance.now() - started) / 1000, latenciesUs };
  }

  /** Reads the whole stream from the start with a durable pull consumer (no acks); records/s. */
  async consume(stream: string, expected: number, timeoutMs: number): Promise<{ consumed: number; seconds: number }> {
    const durable = 'bench';
    await this.manager.consumers.add(stream, {
      durable_name: durable,
      ack_policy: AckPolicy.None,
      deliver_policy: DeliverPolicy.All,
    });
    const consumer = await this.jetstream.consumers.get(stream, durable);
    const started = performance.now();
    let consumed = 0;
    const messages = await consumer.consume({ max_messages: 2_000 });
    const watchdog = setTimeout(() => messages.stop(), timeoutMs);
    for await (const message of messages) {
      void message;
      consumed += 1;
      if (consumed >= expected) break;
    }
    clearTimeout(watchdog);
    const seconds = (performance.now() - started) / 1000;
    await this.manager.consumers.delete(stream, durable).catch(() => undefined);
    return { consumed, seconds };
  }
}

async function stopServers(servers: readonly NatsServer[], log: (line: string) => void): Promise<void> {
  await Promise.all(
    servers.map(async (server) => {
      const { child } = server;
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      // By PID: this process's own child, never a name.
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), natsStopMsMax);
      await exited;
      clearTimeout(timer);
      log(`nats: ${server.name} (pid ${child.pid}) stopped`);
    }),
  );
}
