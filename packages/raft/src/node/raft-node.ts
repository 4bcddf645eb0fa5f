// Skeleton; filled in next.
import { NotLeaderError } from '../errors.js';
import type { RaftNodeConfig } from '../config.js';
import type { NodeStatus, ProposalReceipt, RaftNodeApi } from '../node-api.js';
import type { ConfChange, ConfState, Message, NodeId, Ready } from '../types.js';
import { Role } from '../types.js';

export class RaftNode implements RaftNodeApi {
  constructor(readonly config: RaftNodeConfig) {}
  tick(): void {}
  step(message: Message): void {
    void message;
  }
  propose(data: Uint8Array): ProposalReceipt {
    void data;
    throw new NotLeaderError(0);
  }
  proposeBatch(data: readonly Uint8Array[]): ProposalReceipt {
    void data;
    throw new NotLeaderError(0);
  }
  proposeConfChange(change: ConfChange): ProposalReceipt {
    void change;
    throw new NotLeaderError(0);
  }
  applyConfChange(change: ConfChange): ConfState {
    void change;
    return this.config.storage.initialState().confState;
  }
  campaign(): void {}
  transferLeadership(to: NodeId): void {
    void to;
  }
  readIndex(context: Uint8Array): void {
    void context;
  }
  hasReady(): boolean {
    return false;
  }
  ready(): Ready {
    return { softState: null, hardState: null, entries: [], snapshot: null, committedEntries: [], readStates: [], mustSync: false };
  }
  advance(ready: Ready): Message[] {
    void ready;
    return [];
  }
  entriesLoaded(): void {}
  reportUnreachable(to: NodeId): void {
    void to;
  }
  reportSnapshot(to: NodeId, ok: boolean): void {
    void to;
    void ok;
  }
  status(): NodeStatus {
    const storage = this.config.storage;
    const init = storage.initialState();
    return { id: this.config.id, hardState: init.hardState, role: Role.follower, leaderId: 0, applied: 0, lastIndex: storage.lastIndex(), confState: init.confState, progress: new Map(), leadTransferee: 0 };
  }
  canQuiesce(): boolean {
    return false;
  }
}
