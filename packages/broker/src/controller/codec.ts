/**
 * The versioned binary codec of controller commands. Every payload of the controller group's
 * Raft log is laid out as
 *
 *   [0xC1 magic][command type u8][command version u8][body]
 *
 * The magic tells a controller command apart from anything else (record batches carry their own
 * magic). Each command type has its own version, so one command can evolve without the others.
 * A decoder rejects garbage with CONTROLLER_MALFORMED, and bytes written by a newer broker with
 * CONTROLLER_UNSUPPORTED_VERSION or CONTROLLER_UNKNOWN_COMMAND (this broker must be upgraded).
 * Decoding is strict (canonical varints, no trailing bytes), so decode∘encode and encode∘decode
 * are both identities on valid input.
 */
import type { NodeId } from '@streambus/raft';
import { ByteReader, ByteWriter } from './binary.js';
import { readAcl, readCredential, userNameBytesMax, writeAcl, writeCredential } from './security-codec.js';
import { aclsPerRequestMax } from '../security/constants.js';
import type {
  BrokerFeatureLevel,
  ConfigEntry,
  ControllerCommand,
  ControllerCommandType,
  PartitionReassignment,
  PartitionReport,
} from './commands.js';
import {
  adminAddressBytesMax,
  brokerIdMax,
  brokersMax,
  commandBytesMax,
  commandMagic,
  configKeyBytesMax,
  configValueBytesMax,
  groupIdMax,
  hostBytesMax,
  isrSizeMax,
  partitionReportsPerCommandMax,
  partitionsPerTopicMax,
  producerIdBlockSizeMax,
  rackBytesMax,
  reassignmentsPerCommandMax,
  replicationFactorMax,
  topicConfigsMax,
  topicNameLengthMax,
} from './constants.js';
import { ControllerCodecError } from './errors.js';
import { featureLevelMax, featureLevelMin } from './features.js';
import { streambusVersion } from '../version.js';

/** Feature levels a command may name (a u16 on the wire); levels above featureLevelMax need a newer broker. */
const featureLevelWireMax = 0xffff;

/** Wire numbers of the command types. Never renumber; only add. */
export const commandTypeCodes: { readonly [T in ControllerCommandType]: number } = {
  registerBroker: 1,
  brokerHeartbeat: 2,
  setBrokerFenced: 3,
  createTopic: 4,
  deleteTopic: 5,
  updateTopicConfig: 6,
  addPartitions: 7,
  reassignPartitions: 8,
  reportPartitions: 9,
  allocateProducerIds: 10,
  finalizeFeatureLevel: 11,
  upsertUser: 12,
  deleteUser: 13,
  createAcls: 14,
  deleteAcls: 15,
};

/** The newest version of each command type this code writes and reads. */
export const commandVersions: { readonly [T in ControllerCommandType]: number } = {
  registerBroker: 1,
  brokerHeartbeat: 1,
  setBrokerFenced: 1,
  createTopic: 1,
  deleteTopic: 1,
  updateTopicConfig: 1,
  addPartitions: 1,
  reassignPartitions: 1,
  reportPartitions: 1,
  allocateProducerIds: 1,
  finalizeFeatureLevel: 1,
  upsertUser: 1,
  deleteUser: 1,
  createAcls: 1,
  deleteAcls: 1,
};

const typesByCode = new Map<number, ControllerCommandType>(
  (Object.keys(commandTypeCodes) as ControllerCommandType[]).map((type) => [commandTypeCodes[type], type]),
);

/** UTF-8 of a topic name: the codec allows any name of legal length; apply checks legality. */
const topicNameBytesMax = topicNameLengthMax * 4;
const portMax = 0xffff;

/** True when `data` starts like a controller command (it may still be malformed). */
export function isControllerCommand(data: Uint8Array): boolean {
  return data.length > 0 && data[0] === commandMagic;
}

function cannotEncode(message: string): ControllerCodecError {
  return new ControllerCodecError('CONTROLLER_MALFORMED', `cannot encode controller command: ${message}`);
}

function checkRange(value: number, min: number, max: number, field: string): void {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw cannotEncode(`${field} ${value} is not an integer in [${min}, ${max}]`);
  }
}

function checkCount(length: number, max: number, field: string): void {
  if (length > max) throw cannotEncode(`${length} ${field}, more than ${max}`);
}

function writeBrokerIds(w: ByteWriter, ids: readonly NodeId[], max: number, field: string): void {
  checkCount(ids.length, max, field);
  w.varint(ids.length);
  for (const id of ids) {
    checkRange(id, 0, brokerIdMax, `${field} broker id`);
    w.varint(id);
  }
}

function readBrokerIds(r: ByteReader, max: number, field: string): NodeId[] {
  const count = r.count(`${field} count`, max);
  const ids: NodeId[] = [];
  for (let i = 0; i < count; i++) ids.push(r.bounded(`${field} broker id`, 0, brokerIdMax));
  return ids;
}

function writeConfigs(w: ByteWriter, entries: readonly ConfigEntry[]): void {
  checkCount(entries.length, topicConfigsMax, 'config entries');
  w.varint(entries.length);
  for (const entry of entries) {
    w.string(entry.key, configKeyBytesMax, 'config key');
    w.string(entry.value, configValueBytesMax, `config value of ${entry.key}`);
  }
}

function readConfigs(r: ByteReader): ConfigEntry[] {
  const count = r.count('config count', topicConfigsMax, 2);
  const entries: ConfigEntry[] = [];
  for (let i = 0; i < count; i++) {
    const key = r.string('config key', configKeyBytesMax);
    const value = r.string('config value', configValueBytesMax);
    entries.push({ key, value });
  }
  return entries;
}

function writeAssignments(w: ByteWriter, assignments: readonly (readonly NodeId[])[]): void {
  checkCount(assignments.length, partitionsPerTopicMax, 'partitions');
  w.varint(assignments.length);
  for (const replicas of assignments) writeBrokerIds(w, replicas, replicationFactorMax, 'replicas');
}

function readAssignments(r: ByteReader): NodeId[][] {
  const count = r.count('partition count', partitionsPerTopicMax);
  const assignments: NodeId[][] = [];
  for (let i = 0; i < count; i++) assignments.push(readBrokerIds(r, replicationFactorMax, 'replicas'));
  return assignments;
}

function writeBody(w: ByteWriter, command: ControllerCommand): void {
  switch (command.type) {
    case 'registerBroker':
      checkRange(command.brokerId, 0, brokerIdMax, 'broker id');
      checkRange(command.port, 0, portMax, 'port');
      checkRange(command.nowMs, 0, Number.MAX_SAFE_INTEGER, 'nowMs');
      w.varint(command.brokerId);
      w.string(command.host, hostBytesMax, 'host');
      w.varint(command.port);
      w.string(command.adminAddress, adminAddressBytesMax, 'admin address');
      w.optionalString(command.rack, rackBytesMax, 'rack');
      w.varint(command.nowMs);
      return;
    case 'brokerHeartbeat':
      checkRange(command.brokerId, 0, brokerIdMax, 'broker id');
      checkRange(command.nowMs, 0, Number.MAX_SAFE_INTEGER, 'nowMs');
      w.varint(command.brokerId);
      w.varint(command.nowMs);
      return;
    case 'setBrokerFenced':
      checkRange(command.brokerId, 0, brokerIdMax, 'broker id');
      w.varint(command.brokerId);
      w.bool(command.fenced);
      return;
    case 'createTopic':
      checkRange(command.replicationFactor, 0, replicationFactorMax, 'replication factor');
      w.string(command.name, topicNameBytesMax, 'topic name');
      w.varint(command.replicationFactor);
      writeConfigs(w, command.configs);
      writeAssignments(w, command.assignments);
      return;
    case 'deleteTopic':
      w.string(command.name, topicNameBytesMax, 'topic name');
      return;
    case 'updateTopicConfig':
      w.string(command.name, topicNameBytesMax, 'topic name');
      writeConfigs(w, command.set);
      checkCount(command.remove.length, topicConfigsMax, 'config keys to remove');
      w.varint(command.remove.length);
      for (const key of command.remove) w.string(key, configKeyBytesMax, 'config key');
      return;
    case 'addPartitions':
      w.string(command.name, topicNameBytesMax, 'topic name');
      writeAssignments(w, command.assignments);
      return;
    case 'reassignPartitions':
      w.string(command.name, topicNameBytesMax, 'topic name');
      checkCount(command.reassignments.length, reassignmentsPerCommandMax, 'reassignments');
      w.varint(command.reassignments.length);
      for (const reassignment of command.reassignments) {
        checkRange(reassignment.partition, 0, partitionsPerTopicMax, 'partition');
        w.varint(reassignment.partition);
        writeBrokerIds(w, reassignment.replicas, replicationFactorMax, 'replicas');
      }
      return;
    case 'reportPartitions':
      checkCount(command.reports.length, partitionReportsPerCommandMax, 'partition reports');
      w.varint(command.reports.length);
      for (const report of command.reports) {
        checkRange(report.groupId, 0, groupIdMax, 'group id');
        checkRange(report.leaderId, 0, brokerIdMax, 'leader id');
        checkRange(report.term, 0, Number.MAX_SAFE_INTEGER, 'term');
        checkRange(report.highWatermark, 0, Number.MAX_SAFE_INTEGER, 'high watermark');
        w.varint(report.groupId);
        w.varint(report.leaderId);
        w.varint(report.term);
        writeBrokerIds(w, report.isr, isrSizeMax, 'isr');
        w.varint(report.highWatermark);
      }
      return;
    case 'allocateProducerIds':
      checkRange(command.brokerId, 0, brokerIdMax, 'broker id');
      checkRange(command.count, 0, producerIdBlockSizeMax, 'producer id count');
      w.varint(command.brokerId);
      w.varint(command.count);
      return;
    case 'finalizeFeatureLevel':
      checkRange(command.level, 0, featureLevelMax, 'feature level');
      checkCount(command.brokers.length, brokersMax, 'brokers');
      w.varint(command.level);
      w.varint(command.brokers.length);
      for (const broker of command.brokers) {
        checkRange(broker.brokerId, 0, brokerIdMax, 'broker id');
        checkRange(broker.levelMax, 0, featureLevelWireMax, 'broker feature level');
        w.varint(broker.brokerId);
        w.varint(broker.levelMax);
      }
      return;
    case 'upsertUser':
      w.string(command.name, userNameBytesMax, 'user name');
      writeCredential(w, command.credential);
      return;
    case 'deleteUser':
      w.string(command.name, userNameBytesMax, 'user name');
      return;
    case 'createAcls':
    case 'deleteAcls':
      checkCount(command.acls.length, aclsPerRequestMax, 'ACLs');
      w.varint(command.acls.length);
      for (const acl of command.acls) writeAcl(w, acl);
      return;
  }
}

function readBody(r: ByteReader, type: ControllerCommandType): ControllerCommand {
  switch (type) {
    case 'registerBroker': {
      const brokerId = r.bounded('broker id', 0, brokerIdMax);
      const host = r.string('host', hostBytesMax);
      const port = r.bounded('port', 0, portMax);
      const adminAddress = r.string('admin address', adminAddressBytesMax);
      const rack = r.optionalString('rack', rackBytesMax);
      const nowMs = r.varint('nowMs');
      return { type, brokerId, host, port, adminAddress, rack, nowMs };
    }
    case 'brokerHeartbeat': {
      const brokerId = r.bounded('broker id', 0, brokerIdMax);
      const nowMs = r.varint('nowMs');
      return { type, brokerId, nowMs };
    }
    case 'setBrokerFenced': {
      const brokerId = r.bounded('broker id', 0, brokerIdMax);
      const fenced = r.bool('fenced');
      return { type, brokerId, fenced };
    }
    case 'createTopic': {
      const name = r.string('topic name', topicNameBytesMax);
      const replicationFactor = r.bounded('replication factor', 0, replicationFactorMax);
      const configs = readConfigs(r);
      const assignments = readAssignments(r);
      return { type, name, replicationFactor, configs, assignments };
    }
    case 'deleteTopic':
      return { type, name: r.string('topic name', topicNameBytesMax) };
    case 'updateTopicConfig': {
      const name = r.string('topic name', topicNameBytesMax);
      const set = readConfigs(r);
      const removeCount = r.count('remove count', topicConfigsMax);
      const remove: string[] = [];
      for (let i = 0; i < removeCount; i++) remove.push(r.string('config key', configKeyBytesMax));
      return { type, name, set, remove };
    }
    case 'addPartitions': {
      const name = r.string('topic name', topicNameBytesMax);
      const assignments = readAssignments(r);
      return { type, name, assignments };
    }
    case 'reassignPartitions': {
      const name = r.string('topic name', topicNameBytesMax);
      const count = r.count('reassignment count', reassignmentsPerCommandMax, 2);
      const reassignments: PartitionReassignment[] = [];
      for (let i = 0; i < count; i++) {
        const partition = r.bounded('partition', 0, partitionsPerTopicMax);
        const replicas = readBrokerIds(r, replicationFactorMax, 'replicas');
        reassignments.push({ partition, replicas });
      }
      return { type, name, reassignments };
    }
    case 'reportPartitions': {
      const count = r.count('report count', partitionReportsPerCommandMax, 5);
      const reports: PartitionReport[] = [];
      for (let i = 0; i < count; i++) {
        const groupId = r.bounded('group id', 0, groupIdMax);
        const leaderId = r.bounded('leader id', 0, brokerIdMax);
        const term = r.varint('term');
        const isr = readBrokerIds(r, isrSizeMax, 'isr');
        const highWatermark = r.varint('high watermark');
        reports.push({ groupId, leaderId, term, isr, highWatermark });
      }
      return { type, reports };
    }
    case 'allocateProducerIds': {
      const brokerId = r.bounded('broker id', 0, brokerIdMax);
      const count = r.bounded('producer id count', 0, producerIdBlockSizeMax);
      return { type, brokerId, count };
    }
    case 'finalizeFeatureLevel': {
      const level = r.bounded('feature level', 0, featureLevelWireMax);
      if (level > featureLevelMax) throw levelTooHigh(level);
      const count = r.count('broker count', brokersMax, 2);
      const brokers: BrokerFeatureLevel[] = [];
      for (let i = 0; i < count; i++) {
        const brokerId = r.bounded('broker id', 0, brokerIdMax);
        const levelMax = r.bounded('broker feature level', 0, featureLevelWireMax);
        brokers.push({ brokerId, levelMax });
      }
      return { type, level, brokers };
    }
    case 'upsertUser': {
      const name = r.string('user name', userNameBytesMax);
      const credential = readCredential(r);
      return { type, name, credential };
    }
    case 'deleteUser':
      return { type, name: r.string('user name', userNameBytesMax) };
    case 'createAcls':
    case 'deleteAcls': {
      const count = r.count('ACL count', aclsPerRequestMax, 4);
      const acls = [];
      for (let i = 0; i < count; i++) acls.push(readAcl(r));
      return { type, acls };
    }
  }
}

/** The refusal of a broker too old for the cluster's finalized feature level. */
export function levelTooHigh(level: number): ControllerCodecError {
  return new ControllerCodecError(
    'CONTROLLER_UNSUPPORTED_VERSION',
    `the cluster finalized feature level ${level}; this broker (StreamBus ${streambusVersion}) reads feature levels ${featureLevelMin}..${featureLevelMax}: upgrade it to a version that reads level ${level} (streambus compatibility check --version V)`,
  );
}

/** Encodes a command for the controller group's log. Throws ControllerCodecError when it cannot. */
export function encodeCommand(command: ControllerCommand): Uint8Array {
  const w = new ByteWriter(commandBytesMax, `controller command ${command.type}`);
  w.u8(commandMagic);
  w.u8(commandTypeCodes[command.type]);
  w.u8(commandVersions[command.type]);
  writeBody(w, command);
  return w.finish();
}

/** Decodes one controller command. Throws ControllerCodecError on anything else. */
export function decodeCommand(data: Uint8Array): ControllerCommand {
  const r = new ByteReader(data, 'controller command');
  if (data.length > commandBytesMax) {
    throw new ControllerCodecError(
      'CONTROLLER_TOO_LARGE',
      `controller command of ${data.length} bytes exceeds ${commandBytesMax}`,
    );
  }
  const magic = r.u8('magic');
  if (magic !== commandMagic)
    throw r.malformed(`magic 0x${magic.toString(16)} is not a controller command (0x${commandMagic.toString(16)})`);
  const typeCode = r.u8('command type');
  const type = typesByCode.get(typeCode);
  if (type === undefined) {
    throw new ControllerCodecError(
      'CONTROLLER_UNKNOWN_COMMAND',
      `controller command type ${typeCode} is unknown to this broker (written by a newer version?); upgrade this broker`,
    );
  }
  const version = r.u8('command version');
  if (version === 0) throw r.malformed(`version 0 of ${type}`);
  if (version > commandVersions[type]) {
    throw new ControllerCodecError(
      'CONTROLLER_UNSUPPORTED_VERSION',
      `controller command ${type} version ${version} is newer than this broker supports (${commandVersions[type]}); upgrade this broker`,
    );
  }
  const command = readBody(r, type);
  r.done();
  return command;
}
