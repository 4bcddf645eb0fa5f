/**
 * `RaftTracer`: the Raft part of a produce's trace, made around the Raft host (never inside it:
 * the raft package knows nothing of OpenTelemetry). It wraps the host's store and transport and
 * sees every frame received, and recognises a traced produce's entry by its data: the Uint8Array
 * a leader proposes is the one its Ready persists and its appends carry, and the one a follower
 * decodes from a frame is the one its Ready persists (the Raft log is the partition log: the
 * batch is written once, never copied). Nothing is looked up for a produce that is not sampled.
 *
 * Spans (see broker-tracer.ts for the whole tree):
 *  - propose: from `RaftHost.propose` to its outcome (commit, or persist for acks=leader|none);
 *  - persist: one group commit (one LevelDB write, and its fsync), child of the first traced
 *    produce in it, linked to the others (one span, not one per produce);
 *  - commit: the leader's own persist done to the quorum's commit;
 *  - replicate: one frame to one follower, from its send to the follower's answer covering the
 *    traced entries (retries included); child of the first traced produce in the frame, linked to
 *    the others, and its context travels in the frame (`RaftFrame.traceparent`);
 *  - append: on the follower, that frame received to its answer sent; its persist is a child.
 * Spans that wait for a peer are bounded in number and age: a follower that never answers ends
 * its span after `pendingSpanMsMax`, marked abandoned.
 */
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import type { Context, Span } from '@opentelemetry/api';
import { MessageType } from '@streambus/raft';
import type {
  Entry,
  GroupId,
  GroupWrite,
  Message,
  NodeId,
  ProposalReceipt,
  RaftStore,
  RaftTransport,
} from '@streambus/raft';
import type { TracedFrame } from '../peer/frame-codec.js';
import { endWithError, messagingAttributesOf } from './broker-tracer.js';
import type { BrokerTracer, SpanHandle } from './broker-tracer.js';
import { pendingSpanMsMax, pendingSpansMax, pendingSweepMs } from './constants.js';

/** The produce a proposal belongs to. */
export interface ProposeParent {
  /** Context of the broker's produce span. */
  readonly context: Context;
  readonly topic: string;
  readonly partition: number;
  readonly recordCount: number;
}

/** What the proposer reports back about one traced proposal. */
export interface ProposalTraceHandle {
  settled(receipt: ProposalReceipt): void;
  failed(errorType: string, message: string): void;
}

interface ProposalTrace {
  readonly propose: SpanHandle;
  readonly waitForCommit: boolean;
  commit: Span | undefined;
  persisted: boolean;
  settled: boolean;
  /** Followers a replicate span was started for (a retried append is part of that span). */
  readonly replicatedTo: Set<NodeId>;
}

/** A span that ends when a peer has answered for every group it waits on. */
interface PendingSpan {
  readonly handle: SpanHandle;
  readonly startedMs: number;
  /** Group -> the highest traced index the peer's answer must cover. */
  readonly waiting: Map<GroupId, number>;
}

export class RaftTracer {
  private readonly proposals = new WeakMap<Uint8Array, ProposalTrace>();
  /** Entries a follower received in a traced frame, by data: the append span their persist belongs to. */
  private readonly received = new WeakMap<Uint8Array, PendingSpan>();
  /** The leader's replicate spans, by follower. */
  private readonly replicates = new Map<NodeId, PendingSpan[]>();
  /** A follower's append spans, by leader. */
  private readonly appends = new Map<NodeId, PendingSpan[]>();
  private pendingCount = 0;
  private sweepTimer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    private readonly tracer: BrokerTracer,
    private readonly nowMs: () => number = Date.now,
  ) {}

  /**
   * Starts the propose span of a batch about to be proposed with `data` as its entry; undefined
   * (and nothing tracked) when the produce is not sampled.
   */
  propose(
    parent: ProposeParent | undefined,
    data: Uint8Array,
    groupId: GroupId,
    waitFor: 'commit' | 'persist',
  ): ProposalTraceHandle | undefined {
    if (parent === undefined || this.closed || !this.tracer.records(parent.context)) return undefined;
    const handle = this.tracer.startChild(parent.context, 'propose', SpanKind.INTERNAL, {
      ...messagingAttributesOf({
        topic: parent.topic,
        partition: parent.partition,
        operationType: 'process',
        operationName: 'propose',
        messageCount: parent.recordCount,
      }),
      'streambus.raft.group.id': groupId,
      'streambus.batch.bytes': data.byteLength,
      'streambus.raft.wait_for': waitFor,
    });
    if (handle === undefined) return undefined;
    const proposal: ProposalTrace = {
      propose: handle,
      waitForCommit: waitFor === 'commit',
      commit: undefined,
      persisted: false,
      settled: false,
      replicatedTo: new Set(),
    };
    this.proposals.set(data, proposal);
    return {
      settled: (receipt) => {
        if (proposal.settled) return;
        proposal.settled = true;
        proposal.commit?.end();
        handle.span.setAttributes({ 'streambus.raft.index': receipt.index, 'streambus.raft.term': receipt.term });
        handle.span.end();
      },
      failed: (errorType, message) => {
        if (proposal.settled) return;
        proposal.settled = true;
        if (proposal.commit !== undefined) endWithError(proposal.commit, errorType, message);
        endWithError(handle.span, errorType, message);
      },
    };
  }

  /** The host's store, with persist spans around group commits that carry traced entries. */
  wrapStore(store: RaftStore): RaftStore {
    const persist = (writes: readonly GroupWrite[], sync: boolean): Promise<void> => this.persist(store, writes, sync);
    return {
      groupIds: () => store.groupIds(),
      openGroup: (groupId, bootstrap, options) => store.openGroup(groupId, bootstrap, options),
      persist,
      compact: (groupId, snapshot) => store.compact(groupId, snapshot),
      ...(store.discardFrom === undefined
        ? {}
        : {
            discardFrom: (groupId: GroupId, fromIndex: number) =>
              store.discardFrom?.(groupId, fromIndex) ?? Promise.resolve(),
          }),
      deleteGroup: (groupId) => store.deleteGroup(groupId),
      onEntriesLoaded: (listener) => store.onEntriesLoaded(listener),
    };
  }

  /** The host's transport: replicate spans on frames with traced entries, append spans ended by replies. */
  wrapTransport(transport: RaftTransport): RaftTransport {
    return { send: (frame) => transport.send(this.outgoing(frame)) };
  }

  /** Sees a frame from a peer before the host does: answers end replicate spans, traced appends start one. */
  onFrame(frame: TracedFrame): void {
    if (this.closed) return;
    const replicates = this.replicates.get(frame.from);
    if (replicates !== undefined && replicates.length > 0) {
      for (const { groupId, message } of frame.messages) {
        if (message.type === MessageType.appendResponse && !message.reject)
          this.answered(this.replicates, frame.from, groupId, message.index);
      }
    }
    if (frame.traceparent !== undefined) this.startAppend(frame);
  }

  /** Ends every pending span and stops the sweep. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.sweepTimer !== null) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
    for (const pending of [this.replicates, this.appends])
      for (const spans of pending.values()) for (const span of spans) abandon(span);
    this.replicates.clear();
    this.appends.clear();
    this.pendingCount = 0;
  }

  // ---- persist ------------------------------------------------------------------------------

  private async persist(store: RaftStore, writes: readonly GroupWrite[], sync: boolean): Promise<void> {
    const proposals: ProposalTrace[] = [];
    const appends = new Set<PendingSpan>();
    let entries = 0;
    for (const write of writes) {
      entries += write.entries.length;
      for (const entry of write.entries) {
        const proposal = this.proposals.get(entry.data);
        if (proposal !== undefined && !proposal.persisted) proposals.push(proposal);
        const append = this.received.get(entry.data);
        if (append !== undefined) appends.add(append);
      }
    }
    if (proposals.length === 0 && appends.size === 0) return store.persist(writes, sync);
    const parents = [...proposals.map((p) => p.propose.context), ...[...appends].map((a) => a.handle.context)];
    const handle = this.tracer.startChild(
      parents[0],
      'persist',
      SpanKind.INTERNAL,
      {
        'streambus.persist.groups': writes.length,
        'streambus.persist.entries': entries,
        'streambus.persist.sync': sync,
        'streambus.persist.produces': proposals.length + appends.size,
      },
      parents.slice(1),
    );
    try {
      await store.persist(writes, sync);
    } catch (error) {
      if (handle !== undefined) endWithError(handle.span, 'STORAGE_FAILED', errorMessage(error));
      throw error;
    }
    handle?.span.end();
    for (const proposal of proposals) {
      proposal.persisted = true;
      if (proposal.waitForCommit && !proposal.settled)
        proposal.commit = this.tracer.startChild(proposal.propose.context, 'commit')?.span;
    }
  }

  // ---- frames out ---------------------------------------------------------------------------

  private outgoing(frame: TracedFrame): TracedFrame {
    if (this.closed || frame.messages.length === 0) return frame;
    const appends = this.appends.get(frame.to);
    let traced: ProposalTrace[] | undefined;
    let waiting: Map<GroupId, number> | undefined;
    for (const { groupId, message } of frame.messages) {
      if (message.type === MessageType.append && message.entries.length > 0) {
        const found = this.tracedEntries(message.entries, frame.to);
        if (found === undefined) continue;
        traced = traced === undefined ? found.proposals : traced.concat(found.proposals);
        waiting ??= new Map();
        waiting.set(groupId, Math.max(waiting.get(groupId) ?? 0, found.lastIndex));
      } else if (message.type === MessageType.appendResponse && appends !== undefined && appends.length > 0) {
        this.replied(frame.to, groupId, message);
      }
    }
    if (traced === undefined || waiting === undefined) return frame;
    const first = traced[0] as ProposalTrace;
    if (this.pendingCount >= pendingSpansMax) return frame;
    const handle = this.tracer.startChild(
      first.propose.context,
      'replicate',
      SpanKind.CLIENT,
      {
        'streambus.raft.follower.id': frame.to,
        'streambus.raft.groups': waiting.size,
        'streambus.frame.produces': traced.length,
      },
      traced.slice(1).map((proposal) => proposal.propose.context),
    );
    if (handle === undefined) return frame;
    this.addPending(this.replicates, frame.to, { handle, startedMs: this.nowMs(), waiting });
    return { ...frame, ...this.tracer.carrierOf(handle.context) };
  }

  /** The traced proposals among `entries` not yet replicated to `to`, marked as replicated to it. */
  private tracedEntries(
    entries: readonly Entry[],
    to: NodeId,
  ): { proposals: ProposalTrace[]; lastIndex: number } | undefined {
    let proposals: ProposalTrace[] | undefined;
    let lastIndex = 0;
    for (const entry of entries) {
      const proposal = this.proposals.get(entry.data);
      if (proposal === undefined || proposal.replicatedTo.has(to)) continue;
      proposal.replicatedTo.add(to);
      (proposals ??= []).push(proposal);
      lastIndex = entry.index;
    }
    return proposals === undefined ? undefined : { proposals, lastIndex };
  }

  /** A follower answers its leader: the append spans of that group end (a rejection is an answer too). */
  private replied(leaderId: NodeId, groupId: GroupId, message: Message): void {
    if (message.reject) {
      for (const pending of this.appends.get(leaderId) ?? []) {
        if (!pending.waiting.has(groupId)) continue;
        pending.handle.span.setAttribute('streambus.raft.rejected', true);
        pending.waiting.delete(groupId);
      }
      this.settlePending(this.appends, leaderId);
      return;
    }
    this.answered(this.appends, leaderId, groupId, message.index);
  }

  // ---- frames in ----------------------------------------------------------------------------

  private startAppend(frame: TracedFrame): void {
    const waiting = new Map<GroupId, number>();
    let entries = 0;
    for (const { groupId, message } of frame.messages) {
      if (message.type !== MessageType.append || message.entries.length === 0) continue;
      const last = message.entries[message.entries.length - 1] as Entry;
      waiting.set(groupId, Math.max(waiting.get(groupId) ?? 0, last.index));
      entries += message.entries.length;
    }
    if (waiting.size === 0 || this.pendingCount >= pendingSpansMax) return;
    const handle = this.tracer.startRemoteChild(frame, 'append', SpanKind.SERVER, {
      'streambus.raft.leader.id': frame.from,
      'streambus.raft.groups': waiting.size,
      'streambus.raft.entries': entries,
    });
    if (handle === undefined) return;
    const pending: PendingSpan = { handle, startedMs: this.nowMs(), waiting };
    this.addPending(this.appends, frame.from, pending);
    for (const { message } of frame.messages) {
      if (message.type !== MessageType.append) continue;
      for (const entry of message.entries) this.received.set(entry.data, pending);
    }
  }

  // ---- pending spans ------------------------------------------------------------------------

  private addPending(pending: Map<NodeId, PendingSpan[]>, peer: NodeId, span: PendingSpan): void {
    let spans = pending.get(peer);
    if (spans === undefined) {
      spans = [];
      pending.set(peer, spans);
    }
    spans.push(span);
    this.pendingCount++;
    if (this.sweepTimer === null) {
      this.sweepTimer = setInterval(() => this.sweep(), pendingSweepMs);
      this.sweepTimer.unref();
    }
  }

  /** `peer` answered for `groupId` up to `index`: spans waiting on no more than that for it are done there. */
  private answered(pending: Map<NodeId, PendingSpan[]>, peer: NodeId, groupId: GroupId, index: number): void {
    const spans = pending.get(peer);
    if (spans === undefined) return;
    for (const span of spans) {
      const waitsFor = span.waiting.get(groupId);
      if (waitsFor !== undefined && waitsFor <= index) span.waiting.delete(groupId);
    }
    this.settlePending(pending, peer);
  }

  /** Ends the spans of `peer` that wait on nothing more. */
  private settlePending(pending: Map<NodeId, PendingSpan[]>, peer: NodeId): void {
    const spans = pending.get(peer);
    if (spans === undefined) return;
    const left = spans.filter((span) => {
      if (span.waiting.size > 0) return true;
      span.handle.span.end();
      return false;
    });
    this.pendingCount -= spans.length - left.length;
    if (left.length === 0) pending.delete(peer);
    else pending.set(peer, left);
  }

  private sweep(): void {
    const oldestMs = this.nowMs() - pendingSpanMsMax;
    for (const pending of [this.replicates, this.appends]) {
      for (const [peer, spans] of pending) {
        const left = spans.filter((span) => {
          if (span.startedMs > oldestMs) return true;
          abandon(span);
          return false;
        });
        this.pendingCount -= spans.length - left.length;
        if (left.length === 0) pending.delete(peer);
        else pending.set(peer, left);
      }
    }
    if (this.pendingCount === 0 && this.sweepTimer !== null) {
      clearInterval(this.sweepTimer);
      this.sweepTimer = null;
    }
  }
}

/** Ends a span that waited for a peer in vain. */
function abandon(pending: PendingSpan): void {
  pending.handle.span.setAttribute('streambus.trace.abandoned', true);
  pending.handle.span.setStatus({ code: SpanStatusCode.ERROR, message: 'no answer from the peer in time' });
  pending.handle.span.end();
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
