/**
 * The controller state as snapshot bytes, so that the controller log can be compacted:
 *
 *   [0xC2 magic][version u8][body][CRC32C u32 big-endian of everything before it]
 *
 * Version 2 adds each partition's initial replicas after its replicas; version 1 is still read.
 * Version 3 adds the finalized feature level after the counters; it is written only once the
 * cluster finalized level 2 (features.ts), so that brokers reading version 2 can follow until then.
 *
 * The body lists counters, brokers by id and topics by name with their partitions, so equal
 * states encode to equal bytes. The checksum is written here and verified on decode (a pair).
 */
import { assert } from '@streambus/raft';
import type { NodeId } from '@streambus/raft';
import { ByteReader, ByteWriter } from './binary.js';
import type { ConfigEntry } from './commands.js';
import {
  adminAddressBytesMax,
  brokerIdMax,
  brokersMax,
  configKeyBytesMax,
  configValueBytesMax,
  groupIdMax,
  hostBytesMax,
  isrSizeMax,
  partitionsPerTopicMax,
  producerIdMax,
  rackBytesMax,
  replicationFactorMax,
  snapshotBytesMax,
  snapshotMagic,
  snapshotVersion,
  topicConfigsMax,
  topicIdMax,
  topicNameLengthMax,
  topicsMax,
} from './constants.js';
import { crc32c } from '@node-rs/crc32';
import { ControllerCodecError } from './errors.js';
import { featureLevelInitial, featureLevelMax, securityFeatureLevel, snapshotVersionForLevel } from './features.js';
import { readAcl, readCredential, userNameBytesMax, writeAcl, writeCredential } from './security-codec.js';
import { credentialProblem } from './security-state.js';
import type { UserRecord } from './security-state.js';
import type { Acl } from '../security/acl.js';
import { aclKey, aclProblem } from '../security/acl.js';
import { aclsMax, usersMax } from '../security/constants.js';
import { streambusVersion } from '../version.js';
import { levelTooHigh } from './codec.js';
import { ControllerState } from './state.js';
import type { BrokerInfo, PartitionInfo, PartitionLeaderInfo, TopicInfo } from './state.js';

const crcBytes = 4;

function writeIds(w: ByteWriter, ids: readonly NodeId[]): void {
  w.varint(ids.length);
  for (const id of ids) w.varint(id);
}

function readIds(r: ByteReader, max: number, field: string): NodeId[] {
  const count = r.count(`${field} count`, max);
  const ids: NodeId[] = [];
  for (let i = 0; i < count; i++) ids.push(r.bounded(field, 1, brokerIdMax));
  return ids;
}

/**
 * Encodes the state in the format of its finalized feature level, or in an older `version` for a
 * reader not yet upgraded (version 1 has no initial replicas: a reader takes the current replicas
 * for them). A version that cannot carry the finalized level is a bug.
 */
export function encodeSnapshot(
  state: ControllerState,
  version: number = snapshotVersionForLevel(state.finalizedFeatureLevel),
): Uint8Array {
  assert(Number.isInteger(version), 'a snapshot version is an integer');
  assert(version >= 1, 'snapshot versions start at 1');
  assert(version <= snapshotVersion, 'a snapshot version this code knows');
  assert(
    version >= 3 || state.finalizedFeatureLevel === featureLevelInitial,
    'a snapshot before version 3 cannot carry a finalized feature level',
  );
  assert(
    version >= 4 || (state.securityRecords.userCount === 0 && state.securityRecords.aclCount === 0),
    'a snapshot before version 4 cannot carry users and ACLs',
  );
  const parts = state.toParts();
  const w = new ByteWriter(snapshotBytesMax, 'controller snapshot', 4096);
  w.u8(snapshotMagic);
  w.u8(version);
  w.varint(parts.nextGroupId);
  w.varint(parts.nextTopicId);
  w.varint(parts.nextProducerId);
  if (version >= 3) w.varint(parts.finalizedFeatureLevel);
  w.varint(parts.brokers.length);
  for (const b of parts.brokers) {
    w.varint(b.id);
    w.string(b.host, hostBytesMax, 'host');
    w.varint(b.port);
    w.string(b.adminAddress, adminAddressBytesMax, 'admin address');
    w.optionalString(b.rack, rackBytesMax, 'rack');
    w.bool(b.fenced);
    w.varint(b.registeredAtMs);
    w.varint(b.lastHeartbeatMs);
  }
  w.varint(parts.topics.length);
  for (const t of parts.topics) {
    w.string(t.name, topicNameLengthMax, 'topic name');
    w.varint(t.topicId);
    w.varint(t.replicationFactor);
    w.varint(t.configs.length);
    for (const c of t.configs) {
      w.string(c.key, configKeyBytesMax, 'config key');
      w.string(c.value, configValueBytesMax, 'config value');
    }
    w.varint(t.groupIds.length);
    for (const p of state.partitionsOf(t.name)) {
      w.varint(p.groupId);
      writeIds(w, p.replicas);
      if (version >= 2) writeIds(w, p.initialReplicas);
      w.bool(p.leader !== null);
      if (p.leader !== null) {
        w.varint(p.leader.leaderId);
        w.varint(p.leader.term);
        writeIds(w, p.leader.isr);
        w.varint(p.leader.highWatermark);
      }
    }
  }
  if (version >= 4) {
    w.varint(parts.users.length);
    for (const user of parts.users) {
      w.string(user.name, userNameBytesMax, 'user name');
      writeCredential(w, user.credential);
    }
    w.varint(parts.acls.length);
    for (const acl of parts.acls) writeAcl(w, acl);
  }
  w.u32(0); // room for the checksum
  const bytes = w.finish();
  const crc = crc32c(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length - crcBytes));
  new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).setUint32(bytes.length - crcBytes, crc);
  return bytes;
}

function readBroker(r: ByteReader): BrokerInfo {
  const id = r.bounded('broker id', 1, brokerIdMax);
  const host = r.string('host', hostBytesMax);
  const port = r.bounded('port', 1, 0xffff);
  const adminAddress = r.string('admin address', adminAddressBytesMax);
  const rack = r.optionalString('rack', rackBytesMax);
  const fenced = r.bool('fenced');
  const registeredAtMs = r.varint('registeredAtMs');
  const lastHeartbeatMs = r.varint('lastHeartbeatMs');
  return { id, host, port, adminAddress, rack, fenced, registeredAtMs, lastHeartbeatMs };
}

function readLeader(r: ByteReader): PartitionLeaderInfo | null {
  if (!r.bool('leader presence')) return null;
  const leaderId = r.bounded('leader id', 1, brokerIdMax);
  const term = r.bounded('term', 1, Number.MAX_SAFE_INTEGER);
  const isr = readIds(r, isrSizeMax, 'isr');
  const highWatermark = r.varint('high watermark');
  return { leaderId, term, isr, highWatermark };
}

/** Decodes a snapshot written by `encodeSnapshot`. Throws ControllerCodecError on anything else. */
export function decodeSnapshot(data: Uint8Array): ControllerState {
  if (data.length > snapshotBytesMax) {
    throw new ControllerCodecError(
      'CONTROLLER_TOO_LARGE',
      `controller snapshot of ${data.length} bytes exceeds ${snapshotBytesMax}`,
    );
  }
  const head = new ByteReader(data, 'controller snapshot');
  const magic = head.u8('magic');
  if (magic !== snapshotMagic) throw head.malformed(`magic 0x${magic.toString(16)} is not a controller snapshot`);
  const version = head.u8('version');
  if (version === 0) throw head.malformed('version 0');
  if (version > snapshotVersion) {
    throw new ControllerCodecError(
      'CONTROLLER_UNSUPPORTED_VERSION',
      `controller snapshot version ${version} is newer than this broker reads (${snapshotVersion}): the cluster finalized a higher feature level than this broker (StreamBus ${streambusVersion}) reads (up to ${featureLevelMax}); upgrade this broker (streambus compatibility check --version V)`,
    );
  }
  if (data.length < 2 + crcBytes) throw head.malformed('too short for a checksum');
  const end = data.length - crcBytes;
  const stored = new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(end);
  if (crc32c(Buffer.from(data.buffer, data.byteOffset, end)) !== stored) throw head.malformed('checksum mismatch');
  const r = new ByteReader(data, 'controller snapshot', 2, end);
  const nextGroupId = r.bounded('next group id', 1, groupIdMax + 1);
  const nextTopicId = r.bounded('next topic id', 1, topicIdMax + 1);
  const nextProducerId = r.bounded('next producer id', 1, producerIdMax + 1);
  const finalizedFeatureLevel = version >= 3 ? r.bounded('finalized feature level', 1, 0xffff) : featureLevelInitial;
  if (finalizedFeatureLevel > featureLevelMax) throw levelTooHigh(finalizedFeatureLevel);
  const brokers: BrokerInfo[] = [];
  const brokerCount = r.count('broker count', brokersMax, 8);
  for (let i = 0; i < brokerCount; i++) {
    const broker = readBroker(r);
    if (i > 0 && broker.id <= (brokers[i - 1] as BrokerInfo).id) throw r.malformed('brokers out of order');
    brokers.push(broker);
  }
  const topics: TopicInfo[] = [];
  const partitions: PartitionInfo[] = [];
  const groupIdsSeen = new Set<number>();
  const topicIdsSeen = new Set<number>();
  const topicCount = r.count('topic count', topicsMax, 5);
  for (let i = 0; i < topicCount; i++) {
    const name = r.string('topic name', topicNameLengthMax);
    if (i > 0 && name <= (topics[i - 1] as TopicInfo).name) throw r.malformed('topics out of order');
    const topicId = r.bounded('topic id', 1, nextTopicId - 1);
    if (topicIdsSeen.has(topicId)) throw r.malformed(`topic id ${topicId} twice`);
    topicIdsSeen.add(topicId);
    const replicationFactor = r.bounded('replication factor', 1, replicationFactorMax);
    const configCount = r.count('config count', topicConfigsMax, 2);
    const configs: ConfigEntry[] = [];
    for (let c = 0; c < configCount; c++) {
      const key = r.string('config key', configKeyBytesMax);
      const value = r.string('config value', configValueBytesMax);
      if (c > 0 && key <= (configs[c - 1] as ConfigEntry).key) throw r.malformed('configs out of order');
      configs.push({ key, value });
    }
    const partitionCount = r.count('partition count', partitionsPerTopicMax, 3);
    const groupIds: number[] = [];
    for (let p = 0; p < partitionCount; p++) {
      const groupId = r.bounded('group id', 1, nextGroupId - 1);
      if (groupIdsSeen.has(groupId)) throw r.malformed(`group id ${groupId} twice`);
      groupIdsSeen.add(groupId);
      const replicas = readIds(r, replicationFactorMax, 'replicas');
      if (replicas.length === 0 || new Set(replicas).size !== replicas.length) throw r.malformed('bad replica list');
      // Version 1 predates reassignment as a membership change: its groups still have their first voters.
      const initialReplicas = version >= 2 ? readIds(r, replicationFactorMax, 'initial replicas') : replicas;
      if (initialReplicas.length === 0 || new Set(initialReplicas).size !== initialReplicas.length)
        throw r.malformed('bad initial replica list');
      const leader = readLeader(r);
      groupIds.push(groupId);
      partitions.push({ topic: name, partition: p, groupId, replicas, initialReplicas, leader });
    }
    topics.push({ name, topicId, replicationFactor, configs, groupIds });
  }
  const users: UserRecord[] = [];
  const acls: Acl[] = [];
  if (version >= 4) {
    const userCount = r.count('user count', usersMax, 4);
    for (let i = 0; i < userCount; i++) {
      const name = r.string('user name', userNameBytesMax);
      if (i > 0 && name <= (users[i - 1] as UserRecord).name) throw r.malformed('users out of order');
      const credential = readCredential(r);
      const problem = credentialProblem(credential);
      if (problem !== undefined) throw r.malformed(`user ${name}: ${problem}`);
      users.push({ name, credential });
    }
    const aclCount = r.count('ACL count', aclsMax, 4);
    for (let i = 0; i < aclCount; i++) {
      const acl = readAcl(r);
      const problem = aclProblem(acl);
      if (problem !== undefined) throw r.malformed(problem);
      if (i > 0 && aclKey(acl) <= aclKey(acls[i - 1] as Acl)) throw r.malformed('ACLs out of order');
      acls.push(acl);
    }
    if ((users.length > 0 || acls.length > 0) && finalizedFeatureLevel < securityFeatureLevel)
      throw r.malformed('users or ACLs below feature level 3');
  }
  r.done();
  return ControllerState.fromParts({
    nextGroupId,
    nextTopicId,
    nextProducerId,
    finalizedFeatureLevel,
    brokers,
    topics,
    partitions,
    users,
    acls,
  });
}
