import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { rethrowBug } from '../bugs.js';

/** Lowest port handed out; below are well-known and commonly used registered ports. */
const portFloor = 10_000;
/** Ports tried per port asked for before giving up. */
const attemptsPerPort = 50;

/**
 * Finds `count` distinct free TCP ports on 127.0.0.1 for servers started later (often by another
 * process, or again after a restart).
 *
 * The ports are picked at random BELOW the OS's ephemeral range and checked by binding them:
 * a port from the ephemeral range (what binding port 0 returns) can be taken, between this call
 * and the server's bind, by any socket binding port 0 or by the local end of any outgoing
 * connection, and tests run many of both concurrently.
 */
export async function freePorts(count: number): Promise<number[]> {
  const ceiling = ephemeralLow() - 1;
  if (ceiling - portFloor < count * 20) return osPorts(count);
  const held: Server[] = [];
  const ports: number[] = [];
  try {
    for (let attempt = 0; ports.length < count; attempt++) {
      if (attempt >= count * attemptsPerPort)
        throw new Error(`no ${count} free ports found in ${portFloor}..${ceiling}`);
      const port = portFloor + Math.floor(Math.random() * (ceiling - portFloor + 1));
      if (ports.includes(port)) continue;
      const server = await listenOn(port).catch(rethrowBug);
      if (server === undefined) continue;
      held.push(server);
      ports.push(port);
    }
    return ports;
  } finally {
    await Promise.all(held.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  }
}

/** The first port of the OS's ephemeral range (Linux's default when it cannot be read). */
function ephemeralLow(): number {
  try {
    const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/);
    const value = Number(low);
    return Number.isInteger(value) && value > 0 ? value : 32_768;
  } catch (error) {
    rethrowBug(error);
    return 32_768;
  }
}

function listenOn(port: number): Promise<Server> {
  return new Promise<Server>((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => resolve(server));
  });
}

/** Fallback when the ephemeral range leaves no room below it: bind port 0, read it, release it. */
async function osPorts(count: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: count }, () => listenOn(0)));
  const ports = servers.map((server) => {
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no TCP address for a listening socket');
    return address.port;
  });
  await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  return ports;
}
