/**
 * The one NOT_LEADER answer of the broker, so that produce, fetch and list offsets word it alike:
 * which broker leads the partition (0: none known) and what the client does next, in one line.
 */
import { ErrorCode } from '@streambus/proto';
import type { NodeId } from '@streambus/raft';

export interface NotLeaderAnswer {
  readonly errorCode: typeof ErrorCode.NOT_LEADER;
  readonly errorMessage: string;
  /** The broker to retry at; 0 when no leader is known. */
  readonly leaderId: NodeId;
}

/**
 * NOT_LEADER with `leaderId` as the hint. `reason` replaces the usual wording when the write or
 * read failed for a reason of its own (a forward that failed, a corrupt local copy).
 */
export function notLeader(leaderId: NodeId, reason?: string): NotLeaderAnswer {
  const errorMessage =
    reason ??
    (leaderId === 0
      ? 'no leader is known for this partition; retry after a metadata refresh'
      : `broker ${leaderId} leads this partition; retry there`);
  return { errorCode: ErrorCode.NOT_LEADER, errorMessage, leaderId };
}
