/** Pure checks shared by `ControllerState.apply` and the planners that build commands. */
import type { ConfigEntry, ControllerFailureCode, ControllerResult } from './commands.js';
import { topicNamePattern } from '@streambus/proto';
import { configKeyBytesMax, configValueBytesMax, topicConfigsMax, topicNameLengthMax } from './constants.js';

export type ControllerFailure = Extract<ControllerResult, { ok: false }>;

export function failure(code: ControllerFailureCode, message: string): ControllerFailure {
  return { ok: false, code, message };
}

const legalConfigKey = /^[a-zA-Z0-9._-]+$/;

/** Kafka's rules: 1..249 characters of [a-zA-Z0-9._-], and neither "." nor "..". */
export function checkTopicName(name: string): ControllerFailure | null {
  if (name.length === 0) return failure('INVALID_TOPIC_NAME', 'topic name is empty; name it with [a-zA-Z0-9._-]');
  if (name === '.' || name === '..')
    return failure('INVALID_TOPIC_NAME', `topic name "${name}" is not allowed; pick another name`);
  if (name.length > topicNameLengthMax) {
    return failure(
      'INVALID_TOPIC_NAME',
      `topic name is ${name.length} characters, more than ${topicNameLengthMax}; shorten it`,
    );
  }
  if (!topicNamePattern.test(name)) {
    return failure(
      'INVALID_TOPIC_NAME',
      `topic name ${JSON.stringify(name)} has characters outside [a-zA-Z0-9._-]; rename it`,
    );
  }
  return null;
}

function utf8Bytes(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

export function checkConfigKey(key: string): ControllerFailure | null {
  if (key.length === 0 || utf8Bytes(key) > configKeyBytesMax || !legalConfigKey.test(key)) {
    return failure(
      'INVALID_CONFIG',
      `config key ${JSON.stringify(key)} must be 1..${configKeyBytesMax} characters of [a-zA-Z0-9._-]`,
    );
  }
  return null;
}

/** Keys legal and unique, values within bounds, not too many entries. */
export function checkConfigs(entries: readonly ConfigEntry[]): ControllerFailure | null {
  if (entries.length > topicConfigsMax) {
    return failure('INVALID_CONFIG', `${entries.length} config entries, more than ${topicConfigsMax}; set fewer`);
  }
  const seen = new Set<string>();
  for (const entry of entries) {
    const keyFailure = checkConfigKey(entry.key);
    if (keyFailure !== null) return keyFailure;
    if (seen.has(entry.key)) return failure('INVALID_CONFIG', `config key ${entry.key} is given twice; give it once`);
    seen.add(entry.key);
    if (utf8Bytes(entry.value) > configValueBytesMax) {
      return failure(
        'INVALID_CONFIG',
        `config value of ${entry.key} is longer than ${configValueBytesMax} bytes; shorten it`,
      );
    }
  }
  return null;
}

/** True when `ids` holds no id twice. */
export function distinct(ids: readonly number[]): boolean {
  return new Set(ids).size === ids.length;
}
