/**
 * Proposes controller commands from any broker: on the controller leader directly into group 0,
 * elsewhere forwarded to the leader over the peer channel. The leader answers with the command's
 * result once it is applied, so a caller on any broker learns the outcome.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCode } from '@streambus/proto';
import { assert, NotLeaderError, ProposalDroppedError } from '@streambus/raft';
import type { NodeId, RaftHost } from '@streambus/raft';
import { rethrowBug } from '../bugs.js';
import type { ControllerCommand, ControllerResult } from '../controller/commands.js';
import { encodeCommand } from '../controller/codec.js';
import { controllerGroupId } from '../controller/constants.js';
import { controllerResultsKeptMax, controllerRetryPauseMs, forwardedApplyWaitMsMax } from './constants.js';
import { forwardWhileHeard } from './peer-watch.js';
import type { ControllerState } from '../controller/state.js';
import type { ControllerStateMachine } from '../controller/state-machine.js';

/** The peer RPC that carries a command to the controller leader. */
export interface ControllerCommandForwarder {
  proposeControllerCommand(
    to: NodeId,
    command: Uint8Array,
    deadlineMs: number,
    signal: AbortSignal,
  ): Promise<{ errorCode: number; leaderHint: number; result: Uint8Array }>;
}

/** A controller command could not be proposed before its deadline. */
export class ControllerUnavailableError extends Error {
  readonly code = 'CONTROLLER_UNAVAILABLE' as const;
  constructor(reason: string) {
    super(`the controller is not available: ${reason}; retry when the cluster has a quorum`);
  }
}

export class ControllerGateway {
  /** Results of recently applied commands by log index, until their proposer takes them. */
  private readonly results = new Map<number, { term: number; result: ControllerResult }>();

  constructor(
    private readonly nodeId: NodeId,
    private readonly host: RaftHost,
    private readonly controller: ControllerStateMachine,
    private readonly forwarder: ControllerCommandForwarder,
  ) {
    controller.onApplied((applied) => {
      this.results.set(applied.index, { term: applied.term, result: applied.result });
      if (this.results.size > controllerResultsKeptMax) {
        const oldest = this.results.keys().next();
        if (oldest.done !== true) this.results.delete(oldest.value);
      }
    });
  }

  /** The controller state as applied on this broker. */
  get state(): ControllerState {
    return this.controller.state;
  }

  /** The controller leader as this broker last saw it, 0 when unknown. */
  leaderId(): NodeId {
    return this.host.hasGroup(controllerGroupId) ? this.host.leaderOf(controllerGroupId) : 0;
  }

  /** True when the controller group has a leader and this broker applied all it knows committed. */
  caughtUp(): boolean {
    if (this.leaderId() === 0) return false;
    const status = this.host.status(controllerGroupId);
    return status.applied >= status.hardState.commit && this.controller.appliedIndex >= status.hardState.commit;
  }

  /**
   * Brings this broker's controller state up to what the leader has committed (a ReadIndex
   * round), so that a command planned from it sees every registration and topic before it. Best
   * effort within `waitMsMax`: the caller then plans from the state it has (the controller
   * validates each command again when it applies it).
   */
  async catchUp(waitMsMax: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, waitMsMax);
    });
    try {
      await Promise.race([this.host.linearizableRead(controllerGroupId).then(() => undefined), timeout]);
    } catch (error) {
      rethrowBug(error);
      // No leader or the read was dropped: plan from the local state.
    } finally {
      clearTimeout(timer);
    }
  }

  /** Proposes `command` and resolves with its result once applied; retries until `deadlineMs` from now. */
  async propose(command: ControllerCommand, deadlineMs: number): Promise<ControllerResult> {
    const bytes = encodeCommand(command);
    const deadline = Date.now() + deadlineMs;
    let reason = 'no controller leader is known';
    while (Date.now() < deadline) {
      const leader = this.leaderId();
      try {
        if (leader === this.nodeId) return await this.proposeLocally(bytes);
        if (leader !== 0 && !this.host.peerAlive(leader)) {
          // Forwarded to a leader that fell silent (paused, cut off), the command would wait out
          // its whole deadline; after the election the loop finds the new leader instead.
          reason = `controller leader ${leader} has not been heard from within an election timeout`;
        } else if (leader !== 0) {
          const response = await forwardWhileHeard(
            (id) => this.host.peerAlive(id),
            leader,
            (signal) =>
              this.forwarder.proposeControllerCommand(leader, bytes, Math.max(1, deadline - Date.now()), signal),
          );
          if (response.errorCode === ErrorCode.NONE) {
            // The leader answers once it applied the command; this broker answers once it has
            // too, so that the client's next read here (its 'any' calls are sticky) sees it.
            await this.catchUp(Math.min(forwardedApplyWaitMsMax, Math.max(1, deadline - Date.now())));
            return decodeResult(response.result);
          }
          reason = `controller leader ${leader} answered error ${response.errorCode}`;
        }
      } catch (error) {
        rethrowBug(error);
        if (!(error instanceof Error)) throw error;
        reason = error.message;
      }
      await sleep(controllerRetryPauseMs);
    }
    throw new ControllerUnavailableError(reason);
  }

  /**
   * Handles a command forwarded by a peer: proposes it if this broker leads the controller.
   * Never throws: failures become error codes for the peer.
   */
  async handleForwarded(command: Uint8Array): Promise<{ errorCode: number; leaderHint: number; result: Uint8Array }> {
    const leader = this.leaderId();
    if (leader !== this.nodeId)
      return { errorCode: ErrorCode.NOT_CONTROLLER, leaderHint: leader, result: new Uint8Array(0) };
    try {
      const result = await this.proposeLocally(command);
      return { errorCode: ErrorCode.NONE, leaderHint: this.nodeId, result: encodeResult(result) };
    } catch (error) {
      rethrowBug(error);
      const hint = this.leaderId();
      return {
        errorCode: error instanceof NotLeaderError ? ErrorCode.NOT_CONTROLLER : ErrorCode.REQUEST_TIMED_OUT,
        leaderHint: hint,
        result: new Uint8Array(0),
      };
    }
  }

  private async proposeLocally(bytes: Uint8Array): Promise<ControllerResult> {
    assert(this.leaderId() === this.nodeId, 'only the controller leader proposes into the controller group');
    const receipt = await this.host.propose(controllerGroupId, bytes);
    const applied = this.results.get(receipt.index);
    this.results.delete(receipt.index);
    if (applied === undefined || applied.term !== receipt.term)
      throw new ProposalDroppedError('the command was superseded by a new controller leader');
    return applied.result;
  }
}

/** Results cross the peer channel as JSON: small, plain data, never replicated. */
export function encodeResult(result: ControllerResult): Uint8Array {
  return Buffer.from(JSON.stringify(result));
}

export function decodeResult(bytes: Uint8Array): ControllerResult {
  return JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')) as ControllerResult;
}
