/**
 * Checks of the group RPCs' fields against groups.proto's bounds. Each returns the error to
 * answer (a code and a one-line message naming the field), or undefined when the field is fine;
 * bad input is an answer, never a throw.
 */
import { ErrorCode } from '@streambus/proto';
import { topicNamePattern } from '@streambus/proto';
import type { ConsumerGroupHeartbeatRequest } from '@streambus/proto';
import { RE2JS } from 're2js';
import { rethrowBug } from '../bugs.js';
import { isAssignorName } from './assignors.js';
import {
  clientIdLengthMax,
  groupIdLengthMax,
  groupIdPattern,
  groupTopicNameLengthMax,
  instanceIdLengthMax,
  memberIdLengthMax,
  ownedPartitionsMax,
  rebalanceTimeoutMsMax,
  staticLeaveMemberEpoch,
  subscribedTopicRegexLengthMax,
  subscribedTopicsMax,
  epochMax,
  groupPartitionsPerTopicMax,
} from './constants.js';

export interface FieldError {
  errorCode: ErrorCode;
  errorMessage: string;
}

function invalid(errorMessage: string): FieldError {
  return { errorCode: ErrorCode.INVALID_REQUEST, errorMessage };
}

/** A lone UTF-16 surrogate: UTF-8 cannot carry it, so it would not survive the record codec. */
const loneSurrogate = /\p{Cs}/u;

/**
 * Free text made safe for the records: lone surrogates become U+FFFD, as UTF-8 encoding would make
 * them, so the live state and the state replayed from the log hold the same string.
 */
export function wellFormedText(value: string): string {
  return loneSurrogate.test(value) ? value.replace(/\p{Cs}/gu, '\uFFFD') : value;
}

export function checkGroupId(groupId: string): FieldError | undefined {
  if (groupId.length === 0 || groupId.length > groupIdLengthMax || !groupIdPattern.test(groupId)) {
    return {
      errorCode: ErrorCode.INVALID_GROUP_ID,
      errorMessage: `group id '${groupId.slice(0, 64)}' must be 1..${groupIdLengthMax} characters of [a-zA-Z0-9._-]`,
    };
  }
  return undefined;
}

/** A compiled subscription pattern: does a whole topic name match it. */
export interface TopicPattern {
  matches(topic: string): boolean;
}

/**
 * The subscription pattern in RE2 syntax, matched against whole topic names, as groups.proto
 * says. RE2 (here re2js, its JavaScript port) matches in time linear in the name: a member's
 * pattern cannot stall the coordinator the way a backtracking JS RegExp like `(a*)*b` would.
 * undefined: not a valid RE2 pattern (lookaround and backreferences are not RE2).
 */
export function compileSubscriptionRegex(pattern: string): TopicPattern | undefined {
  try {
    const compiled = RE2JS.compile(pattern);
    return { matches: (topic) => compiled.matches(topic) };
  } catch (error) {
    rethrowBug(error);
    return undefined;
  }
}

/** The checks that do not depend on the group's state. */
export function checkHeartbeat(request: ConsumerGroupHeartbeatRequest): FieldError | undefined {
  const groupError = checkGroupId(request.groupId);
  if (groupError !== undefined) return groupError;
  if (request.memberId.length > memberIdLengthMax) return invalid(`member_id is longer than ${memberIdLengthMax}`);
  // An id is a record key: one that UTF-8 cannot carry would name another member after a replay.
  if (loneSurrogate.test(request.memberId)) return invalid('member_id is not valid Unicode text');
  if (!Number.isInteger(request.memberEpoch) || request.memberEpoch < staticLeaveMemberEpoch) {
    return invalid(`member_epoch ${request.memberEpoch} must be -2, -1, 0 or the epoch last received`);
  }
  if (request.memberEpoch > epochMax) return invalid(`member_epoch ${request.memberEpoch} is above ${epochMax}`);
  if (request.memberEpoch !== 0 && request.memberId.length === 0) {
    return invalid('member_id is required unless member_epoch is 0 (join)');
  }
  if (request.instanceId.length > 0) {
    if (request.instanceId.length > instanceIdLengthMax || !groupIdPattern.test(request.instanceId)) {
      return invalid(`instance_id must be 1..${instanceIdLengthMax} characters of [a-zA-Z0-9._-]`);
    }
  }
  if (request.memberEpoch === staticLeaveMemberEpoch && request.instanceId.length === 0) {
    return invalid('member_epoch -2 (a static member leaves for a while) needs instance_id');
  }
  if (
    !Number.isInteger(request.rebalanceTimeoutMs) ||
    request.rebalanceTimeoutMs < 0 ||
    request.rebalanceTimeoutMs > rebalanceTimeoutMsMax
  ) {
    return invalid(
      `rebalance_timeout_ms ${request.rebalanceTimeoutMs} must be 0 (unchanged) or 1..${rebalanceTimeoutMsMax}`,
    );
  }
  if (request.clientId.length > clientIdLengthMax) return invalid(`client_id is longer than ${clientIdLengthMax}`);
  if (request.serverAssignor !== '' && !isAssignorName(request.serverAssignor)) {
    return {
      errorCode: ErrorCode.UNSUPPORTED_ASSIGNOR,
      errorMessage: `server_assignor '${request.serverAssignor.slice(0, 64)}' is not one of uniform, range`,
    };
  }
  const names = request.subscribedTopics?.names;
  if (names != null) {
    if (names.length > subscribedTopicsMax) {
      return invalid(`subscribed_topics has ${names.length} names, more than ${subscribedTopicsMax}`);
    }
    for (const name of names) {
      if (name.length === 0 || name.length > groupTopicNameLengthMax || !topicNamePattern.test(name)) {
        return invalid(`subscribed topic '${name.slice(0, 64)}' is not a valid topic name`);
      }
    }
  }
  const pattern = request.subscribedTopicRegex?.pattern;
  if (pattern != null && pattern !== '') {
    if (pattern.length > subscribedTopicRegexLengthMax) {
      return invalid(`subscribed_topic_regex is longer than ${subscribedTopicRegexLengthMax} characters`);
    }
    if (loneSurrogate.test(pattern) || compileSubscriptionRegex(pattern) === undefined) {
      return invalid(`subscribed_topic_regex '${pattern.slice(0, 64)}' is not a valid pattern`);
    }
  }
  const owned = request.owned?.topicPartitions;
  if (owned != null) {
    let count = 0;
    for (const entry of owned) {
      if (entry.topic.length === 0 || entry.topic.length > groupTopicNameLengthMax) {
        return invalid('owned has a topic with an invalid name');
      }
      for (const partition of entry.partitions) {
        if (!Number.isInteger(partition) || partition < 0 || partition >= groupPartitionsPerTopicMax) {
          return invalid(`owned partition ${partition} of ${entry.topic.slice(0, 64)} is not a partition index`);
        }
      }
      count += entry.partitions.length;
    }
    if (count > ownedPartitionsMax) return invalid(`owned lists ${count} partitions, more than ${ownedPartitionsMax}`);
  }
  return undefined;
}
