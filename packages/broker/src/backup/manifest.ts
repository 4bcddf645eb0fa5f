/**
 * A backup's manifest (`manifest.json`): what was backed up, up to which offsets, and the
 * checksum of every file. Layout of a backup directory `<dest>/<backup id>/`:
 *
 *   manifest.json                    this manifest (its sha256 in manifest.sha256)
 *   controller.snapshot              the controller's state (brokers, topics, configs,
 *                                    partitions, id counters, feature level), CRC-32C inside
 *   partitions/<topic>/<p>.batches   partition p's committed record batches from start_offset
 *                                    (inclusive) to end_offset (exclusive), concatenated exactly
 *                                    as stored, each with its CRC-32C
 *
 * Parsing checks every field (types, ranges, names, ordering of offsets) and answers a
 * BackupError naming the first bad one; it never trusts a file it did not write.
 */
import { topicNamePattern } from '@streambus/proto';
import { backupFormat, backupFormatVersion } from './constants.js';
import { BackupError } from './errors.js';

export interface PartitionManifest {
  readonly partition: number;
  /** The partition's Raft group in the backed-up cluster. */
  readonly groupId: number;
  readonly replicas: readonly number[];
  /** First offset in the file. */
  readonly startOffset: number;
  /** The recorded offset: every record below it is in the file. */
  readonly endOffset: number;
  readonly batches: number;
  readonly records: number;
  readonly bytes: number;
  /** Relative to the backup directory. */
  readonly file: string;
  readonly sha256: string;
}

export interface TopicManifest {
  readonly name: string;
  readonly replicationFactor: number;
  readonly configs: Readonly<Record<string, string>>;
  readonly partitions: readonly PartitionManifest[];
}

export interface BackupManifest {
  readonly backupId: string;
  readonly streambusVersion: string;
  readonly clusterId: string;
  readonly featureLevel: number;
  /** When the backup started, the offsets were recorded (the restore point), and it completed. ISO 8601, UTC. */
  readonly startedAt: string;
  readonly recordedAt: string;
  readonly completedAt: string;
  readonly controller: {
    readonly file: string;
    readonly bytes: number;
    readonly sha256: string;
    /** The controller log index the state is as of. */
    readonly appliedIndex: number;
  };
  readonly topics: readonly TopicManifest[];
}

/** Totals over every partition of a manifest. */
export function manifestTotals(manifest: BackupManifest): {
  partitions: number;
  batches: number;
  records: number;
  bytes: number;
} {
  let partitions = 0;
  let batches = 0;
  let records = 0;
  let bytes = 0;
  for (const topic of manifest.topics)
    for (const partition of topic.partitions) {
      partitions += 1;
      batches += partition.batches;
      records += partition.records;
      bytes += partition.bytes;
    }
  return { partitions, batches, records, bytes };
}

/** The manifest as written: snake_case JSON, with the format and its version. */
export function manifestToJson(manifest: BackupManifest): string {
  const json = {
    format: backupFormat,
    format_version: backupFormatVersion,
    backup_id: manifest.backupId,
    streambus_version: manifest.streambusVersion,
    cluster_id: manifest.clusterId,
    feature_level: manifest.featureLevel,
    started_at: manifest.startedAt,
    recorded_at: manifest.recordedAt,
    completed_at: manifest.completedAt,
    controller: {
      file: manifest.controller.file,
      bytes: manifest.controller.bytes,
      sha256: manifest.controller.sha256,
      applied_index: manifest.controller.appliedIndex,
    },
    totals: manifestTotals(manifest),
    topics: manifest.topics.map((topic) => ({
      name: topic.name,
      replication_factor: topic.replicationFactor,
      configs: topic.configs,
      partitions: topic.partitions.map((p) => ({
        partition: p.partition,
        group_id: p.groupId,
        replicas: p.replicas,
        start_offset: p.startOffset,
        end_offset: p.endOffset,
        batches: p.batches,
        records: p.records,
        bytes: p.bytes,
        file: p.file,
        sha256: p.sha256,
      })),
    })),
  };
  return `${JSON.stringify(json, null, 2)}\n`;
}

type Json = Record<string, unknown>;

class Reader {
  constructor(private readonly where: string) {}

  bad(field: string, what: string): BackupError {
    return new BackupError('BACKUP_CORRUPT', `${this.where}: ${field} ${what}`);
  }
  object(value: unknown, field: string): Json {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw this.bad(field, 'is not an object');
    return value as Json;
  }
  array(value: unknown, field: string): unknown[] {
    if (!Array.isArray(value)) throw this.bad(field, 'is not a list');
    return value;
  }
  string(value: unknown, field: string, pattern?: RegExp): string {
    if (typeof value !== 'string' || value.length === 0) throw this.bad(field, 'is not a non-empty string');
    if (pattern !== undefined && !pattern.test(value))
      throw this.bad(field, `"${value}" is not of the form ${pattern}`);
    return value;
  }
  integer(value: unknown, field: string, min: number): number {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min)
      throw this.bad(field, `is not an integer >= ${min}`);
    return value;
  }
}

/** Backup ids are `YYYYMMDD-HHMMSS` (UTC), with `-N` when two start in the same second. */
export const backupIdPattern = /^\d{8}-\d{6}(-\d{1,4})?$/;
const sha256Pattern = /^[0-9a-f]{64}$/;
/** Files of a backup are plain relative paths inside it. */
const relativeFilePattern = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/;
const isoPattern = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

function safeFile(reader: Reader, value: unknown, field: string): string {
  const file = reader.string(value, field, relativeFilePattern);
  if (file.split('/').some((part) => part === '.' || part === '..'))
    throw reader.bad(field, 'leaves the backup directory');
  return file;
}

function parsePartition(reader: Reader, value: unknown, field: string): PartitionManifest {
  const p = reader.object(value, field);
  const startOffset = reader.integer(p['start_offset'], `${field}.start_offset`, 0);
  const endOffset = reader.integer(p['end_offset'], `${field}.end_offset`, startOffset);
  const records = reader.integer(p['records'], `${field}.records`, 0);
  if (records !== endOffset - startOffset) throw reader.bad(`${field}.records`, 'is not end_offset - start_offset');
  const replicas = reader
    .array(p['replicas'], `${field}.replicas`)
    .map((id, i) => reader.integer(id, `${field}.replicas[${i}]`, 1));
  if (replicas.length === 0 || new Set(replicas).size !== replicas.length)
    throw reader.bad(`${field}.replicas`, 'is not a list of distinct broker ids');
  return {
    partition: reader.integer(p['partition'], `${field}.partition`, 0),
    groupId: reader.integer(p['group_id'], `${field}.group_id`, 1),
    replicas,
    startOffset,
    endOffset,
    batches: reader.integer(p['batches'], `${field}.batches`, 0),
    records,
    bytes: reader.integer(p['bytes'], `${field}.bytes`, 0),
    file: safeFile(reader, p['file'], `${field}.file`),
    sha256: reader.string(p['sha256'], `${field}.sha256`, sha256Pattern),
  };
}

function parseTopic(reader: Reader, value: unknown, field: string): TopicManifest {
  const t = reader.object(value, field);
  const configs = reader.object(t['configs'], `${field}.configs`);
  const parsedConfigs: Record<string, string> = {};
  for (const [key, configValue] of Object.entries(configs)) {
    if (typeof configValue !== 'string') throw reader.bad(`${field}.configs.${key}`, 'is not a string');
    parsedConfigs[key] = configValue;
  }
  const partitions = reader
    .array(t['partitions'], `${field}.partitions`)
    .map((p, i) => parsePartition(reader, p, `${field}.partitions[${i}]`));
  if (partitions.some((p, i) => p.partition !== i))
    throw reader.bad(`${field}.partitions`, 'are not 0, 1, 2, ... in order');
  return {
    name: reader.string(t['name'], `${field}.name`, topicNamePattern),
    replicationFactor: reader.integer(t['replication_factor'], `${field}.replication_factor`, 1),
    configs: parsedConfigs,
    partitions,
  };
}

/** Parses and checks a manifest's text; `where` names it in errors. */
export function parseManifest(text: string, where: string): BackupManifest {
  const reader = new Reader(where);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new BackupError('BACKUP_CORRUPT', `${where} is not JSON: ${(error as Error).message}`);
  }
  const m = reader.object(parsed, 'the manifest');
  if (m['format'] !== backupFormat) throw reader.bad('format', `is not "${backupFormat}"`);
  const version = reader.integer(m['format_version'], 'format_version', 1);
  if (version > backupFormatVersion)
    throw new BackupError(
      'BACKUP_UNSUPPORTED',
      `${where}: backup format version ${version} is newer than this StreamBus reads (${backupFormatVersion}); use a newer streambus`,
    );
  const controller = reader.object(m['controller'], 'controller');
  const topics = reader.array(m['topics'], 'topics').map((t, i) => parseTopic(reader, t, `topics[${i}]`));
  if (new Set(topics.map((t) => t.name)).size !== topics.length) throw reader.bad('topics', 'name a topic twice');
  return {
    backupId: reader.string(m['backup_id'], 'backup_id', backupIdPattern),
    streambusVersion: reader.string(m['streambus_version'], 'streambus_version'),
    clusterId: reader.string(m['cluster_id'], 'cluster_id'),
    featureLevel: reader.integer(m['feature_level'], 'feature_level', 1),
    startedAt: reader.string(m['started_at'], 'started_at', isoPattern),
    recordedAt: reader.string(m['recorded_at'], 'recorded_at', isoPattern),
    completedAt: reader.string(m['completed_at'], 'completed_at', isoPattern),
    controller: {
      file: safeFile(reader, controller['file'], 'controller.file'),
      bytes: reader.integer(controller['bytes'], 'controller.bytes', 1),
      sha256: reader.string(controller['sha256'], 'controller.sha256', sha256Pattern),
      appliedIndex: reader.integer(controller['applied_index'], 'controller.applied_index', 0),
    },
    topics,
  };
}
