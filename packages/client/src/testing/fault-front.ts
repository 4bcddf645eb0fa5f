/**
 * A TCP front for one fake broker that can make it look dead, paused or unreachable to a client,
 * the three ways a broker fails on a network:
 * - `dead`: nothing listens (connections refused) and open connections are reset, as after SIGKILL;
 * - `paused`: the kernel still accepts connections, but nothing is read or answered, on new and
 *   open connections alike, as under SIGSTOP;
 * - `unreachable`: new connections never complete (their SYNs go unanswered) and open ones go
 *   silent, as when packets are dropped. The port is held by a stopped child process whose accept
 *   queue is full, so the kernel drops further SYNs.
 * Everything is on 127.0.0.1. Not for production.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, createServer, type Server, type Socket } from 'node:net';

/** How a fake broker fails, or `none`. */
export type BrokerFault = 'none' | 'dead' | 'paused' | 'unreachable';

interface Pair {
  readonly client: Socket;
  backend: Socket | undefined;
  frozen: boolean;
}

/** Connections pre-filled into the blackhole's accept queue (backlog 0 holds one). */
const blackholeFill = 2;

export class FaultFront {
  private server: Server | undefined;
  private fault: BrokerFault = 'none';
  private readonly pairs = new Set<Pair>();
  private blackhole: ChildProcess | undefined;
  private readonly fillers: Socket[] = [];

  private constructor(
    readonly port: number,
    private readonly backendPort: number,
  ) {}

  /** Starts a front on a free port of 127.0.0.1 forwarding to `backendPort`. */
  static async start(backendPort: number): Promise<FaultFront> {
    const probe = createServer();
    const port = await new Promise<number>((resolve, reject) => {
      probe.once('error', reject);
      probe.listen(0, '127.0.0.1', () => resolve((probe.address() as { port: number }).port));
    });
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const front = new FaultFront(port, backendPort);
    await front.listen();
    return front;
  }

  /** The current fault. */
  get current(): BrokerFault {
    return this.fault;
  }

  /** Switches to `fault` (from any other). */
  async set(fault: BrokerFault): Promise<void> {
    if (fault === this.fault) return;
    await this.undo();
    this.fault = fault;
    if (fault === 'dead') {
      await this.unlisten();
      for (const pair of this.pairs) {
        pair.client.resetAndDestroy();
        pair.backend?.destroy();
      }
      this.pairs.clear();
    } else if (fault === 'paused') {
      for (const pair of this.pairs) freeze(pair);
    } else if (fault === 'unreachable') {
      for (const pair of this.pairs) freeze(pair);
      await this.unlisten();
      await this.startBlackhole();
    }
  }

  /** Closes the front and every connection. */
  async close(): Promise<void> {
    await this.undo();
    this.fault = 'dead';
    await this.unlisten();
    for (const pair of this.pairs) {
      pair.client.destroy();
      pair.backend?.destroy();
    }
    this.pairs.clear();
  }

  private async undo(): Promise<void> {
    if (this.fault === 'unreachable') await this.stopBlackhole();
    if (this.server === undefined && this.fault !== 'none') await this.listen();
    for (const pair of this.pairs) thaw(pair, this.backendPort);
    this.fault = 'none';
  }

  private async listen(): Promise<void> {
    const server = createServer({ pauseOnConnect: true }, (client) => this.accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.server = server;
  }

  private async unlisten(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    this.server = undefined;
    // close() stops listening at once; its callback would wait for every open connection.
    server.close();
    await new Promise((resolve) => setImmediate(resolve));
  }

  private accept(client: Socket): void {
    const pair: Pair = { client, backend: undefined, frozen: true };
    this.pairs.add(pair);
    client.on('error', () => undefined);
    client.once('close', () => {
      pair.backend?.destroy();
      this.pairs.delete(pair);
    });
    if (this.fault === 'none') thaw(pair, this.backendPort);
  }

  private async startBlackhole(): Promise<void> {
    // Retries while the front's own listening socket is still closing.
    const script = `const s=require('net').createServer(()=>{});let n=0;s.on('error',(e)=>{if(e.code!=='EADDRINUSE'||++n>200)throw e;setTimeout(()=>s.listen({port:${this.port},host:'127.0.0.1',backlog:0}),10)});s.on('listening',()=>process.send('up'));s.listen({port:${this.port},host:'127.0.0.1',backlog:0});`;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'ignore', 'ignore', 'ipc'] });
    this.blackhole = child;
    await new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('exit', (code) => reject(new Error(`blackhole on port ${this.port} exited (${code})`)));
    });
    // Stopped, it accepts nothing: the kernel queues `blackholeFill` connections, then drops SYNs.
    child.kill('SIGSTOP');
    for (let i = 0; i < blackholeFill; i++) {
      const filler = connect(this.port, '127.0.0.1');
      filler.on('error', () => undefined);
      this.fillers.push(filler);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }

  private async stopBlackhole(): Promise<void> {
    for (const filler of this.fillers.splice(0)) filler.destroy();
    const child = this.blackhole;
    this.blackhole = undefined;
    if (child === undefined || child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await exited;
  }
}

function freeze(pair: Pair): void {
  pair.frozen = true;
  pair.client.unpipe();
  pair.backend?.unpipe();
  pair.client.pause();
  pair.backend?.pause();
}

function thaw(pair: Pair, backendPort: number): void {
  if (!pair.frozen) return;
  pair.frozen = false;
  if (pair.backend === undefined) {
    const backend = connect(backendPort, '127.0.0.1');
    backend.on('error', () => pair.client.destroy());
    backend.once('close', () => pair.client.destroy());
    pair.backend = backend;
  }
  pair.client.pipe(pair.backend);
  pair.backend.pipe(pair.client);
  pair.client.resume();
  pair.backend.resume();
}
