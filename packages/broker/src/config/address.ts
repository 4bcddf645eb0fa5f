/**
 * Network addresses and static peer lists as written in config: `host:port`, `[::1]:port`,
 * and `1=host:port,2=host:port`. Parsers return a value or a one-line reason.
 */
import type { Parsed } from './units.js';
import { brokerIdMax, peersMax } from './constants.js';

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** One member of the static cluster: its broker id and the address its peers dial. */
export interface Peer {
  readonly id: number;
  readonly host: string;
  readonly port: number;
}

const hostnamePattern = /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/;

/** Parses `host:port`; `portZeroAllowed` lets a server ask for an ephemeral port. */
export function parseHostPort(text: string, portZeroAllowed: boolean): Parsed<HostPort> {
  const trimmed = text.trim();
  const bracketed = /^\[([0-9A-Fa-f:.]+)\]:(\d+)$/.exec(trimmed);
  const plain = /^([^:\s]+):(\d+)$/.exec(trimmed);
  const match = bracketed ?? plain;
  if (match === null) return { ok: false, reason: `"${text}" is not HOST:PORT (IPv6 as [::1]:PORT)` };
  const host = match[1] ?? '';
  if (bracketed === null && !hostnamePattern.test(host))
    return { ok: false, reason: `"${host}" is not a host name or IPv4 address` };
  const port = Number(match[2]);
  const portMin = portZeroAllowed ? 0 : 1;
  if (!Number.isInteger(port) || port < portMin || port > 65535) {
    return { ok: false, reason: `port ${match[2] ?? ''} is outside ${portMin}..65535` };
  }
  return { ok: true, value: { host, port } };
}

export function formatHostPort(address: HostPort): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

/** Parses a broker id: a whole number in 1..2^31-1. */
export function parseBrokerIdNumber(text: string): Parsed<number> {
  if (!/^\d+$/.test(text.trim())) return { ok: false, reason: `"${text}" is not a whole number` };
  const id = Number(text.trim());
  if (id < 1 || id > brokerIdMax)
    return { ok: false, reason: `broker id ${text} is outside 1..${brokerIdMax} (0 means "none" in Raft)` };
  return { ok: true, value: id };
}

/**
 * Parses a broker id that may be a StatefulSet pod name (`streambus-2`, from the downward API's
 * metadata.name). Pod ordinals start at 0 and Raft ids at 1, so the id is the trailing ordinal
 * plus one: `streambus-0` is broker 1, `streambus-2` is broker 3.
 */
export function parseBrokerId(text: string): Parsed<number> {
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) return parseBrokerIdNumber(trimmed);
  const pod = /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?-(\d+)$/.exec(trimmed);
  if (pod === null) {
    return { ok: false, reason: `"${text}" is neither a broker id nor a StatefulSet pod name like streambus-0` };
  }
  const ordinal = Number(pod[2]);
  return parseBrokerIdNumber(String(ordinal + 1));
}

/** Parses `1=host:port,2=host:port` (spaces around items allowed). */
export function parsePeerList(text: string): Parsed<readonly Peer[]> {
  const items = text.split(',').map((item) => item.trim());
  if (items.length === 1 && items[0] === '') return { ok: true, value: [] };
  const entries: Array<readonly [string, string]> = [];
  for (const item of items) {
    const equals = item.indexOf('=');
    if (equals < 0) return { ok: false, reason: `peer "${item}" is not ID=HOST:PORT` };
    entries.push([item.slice(0, equals), item.slice(equals + 1)]);
  }
  return parsePeerEntries(entries);
}

/** Parses peers given as id/address pairs (from a YAML map or a split list) and checks them as a whole. */
export function parsePeerEntries(entries: ReadonlyArray<readonly [string, string]>): Parsed<readonly Peer[]> {
  if (entries.length > peersMax)
    return { ok: false, reason: `${entries.length} peers is more than the maximum ${peersMax}` };
  const peers: Peer[] = [];
  for (const [idText, addressText] of entries) {
    const id = parseBrokerIdNumber(idText);
    if (!id.ok) return { ok: false, reason: `peer id: ${id.reason}` };
    const address = parseHostPort(addressText, false);
    if (!address.ok) return { ok: false, reason: `peer ${id.value}: ${address.reason}` };
    if (peers.some((peer) => peer.id === id.value)) return { ok: false, reason: `peer id ${id.value} is listed twice` };
    const sameAddress = peers.find((peer) => peer.host === address.value.host && peer.port === address.value.port);
    if (sameAddress !== undefined) {
      return {
        ok: false,
        reason: `peers ${sameAddress.id} and ${id.value} share the address ${formatHostPort(address.value)}`,
      };
    }
    peers.push({ id: id.value, host: address.value.host, port: address.value.port });
  }
  peers.sort((a, b) => a.id - b.id);
  return { ok: true, value: peers };
}

export function formatPeerList(peers: readonly Peer[]): string {
  return peers.map((peer) => `${peer.id}=${formatHostPort(peer)}`).join(',');
}
