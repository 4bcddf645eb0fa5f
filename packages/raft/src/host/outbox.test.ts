import { describe, expect, it } from 'vitest';
import { frameBytesMax, frameMessagesMax } from '../constants.js';
import { EntryType, MessageType } from '../types.js';
import type { Message } from '../types.js';
import type { Frame } from './frame.js';
import { expandHeartbeat, expandHeartbeatResponse, Outbox } from './outbox.js';

function message(fields: Partial<Message>): Message {
  return {
    type: MessageType.append,
    from: 1,
    to: 2,
    term: 3,
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
    snapshot: null,
    context: new Uint8Array(0),
    ...fields,
  };
}

function collect(outbox: Outbox): Frame[] {
  const frames: Frame[] = [];
  outbox.flush({ send: (frame) => frames.push(frame) });
  return frames;
}

describe('Outbox', () => {
  it('coalesces every group of a turn into one frame per destination', () => {
    const outbox = new Outbox(1, 77);
    for (let group = 1; group <= 50; group++) {
      outbox.addMessage(group, message({ to: 2, index: group }));
      outbox.addMessage(group, message({ to: 3, index: group }));
    }
    const frames = collect(outbox);
    expect(frames.map((frame) => frame.to).sort()).toEqual([2, 3]);
    for (const frame of frames) {
      expect(frame.from).toBe(1);
      expect(frame.session).toBe(77);
      expect(frame.messages.map((m) => m.groupId)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    }
    expect(outbox.isEmpty()).toBe(true);
  });

  it('compacts plain heartbeats and responses, and expands them back to the same message', () => {
    const outbox = new Outbox(1, 5);
    const beat = message({ type: MessageType.heartbeat, commit: 9 });
    const answer = message({ type: MessageType.heartbeatResponse, term: 4 });
    const readBeat = message({ type: MessageType.heartbeat, commit: 9, context: new Uint8Array([1]) });
    outbox.addMessage(7, beat);
    outbox.addMessage(8, answer);
    outbox.addMessage(9, readBeat);
    const [frame] = collect(outbox);
    expect(frame).toBeDefined();
    if (frame === undefined) return;
    expect(frame.heartbeats).toEqual([{ groupId: 7, term: 3, commit: 9 }]);
    expect(frame.heartbeatResponses).toEqual([{ groupId: 8, term: 4 }]);
    expect(frame.messages).toEqual([{ groupId: 9, message: readBeat }]);
    expect(expandHeartbeat(frame, { groupId: 7, term: 3, commit: 9 })).toEqual(beat);
    expect(expandHeartbeatResponse(frame, { groupId: 8, term: 4 })).toEqual(answer);
  });

  it('splits a destination into several frames at frameMessagesMax', () => {
    const outbox = new Outbox(1, 5);
    for (let i = 0; i < frameMessagesMax + 10; i++) outbox.addMessage(i, message({ type: MessageType.heartbeat }));
    const frames = collect(outbox);
    expect(frames.map((frame) => frame.heartbeats.length)).toEqual([frameMessagesMax, 10]);
  });

  it('splits at frameBytesMax, never splitting a message', () => {
    const outbox = new Outbox(1, 5);
    const data = new Uint8Array(frameBytesMax / 4 + 1);
    const entries = [{ term: 3, index: 1, type: EntryType.normal, data }];
    for (let i = 0; i < 8; i++) outbox.addMessage(1, message({ entries }));
    const frames = collect(outbox);
    expect(frames.map((frame) => frame.messages.length)).toEqual([3, 3, 2]);
  });

  it('sends an empty liveness frame to a touched peer, and quiesce markers after messages', () => {
    const outbox = new Outbox(1, 5);
    outbox.touch(4);
    outbox.addMessage(3, message({ to: 2 }));
    outbox.addQuiesce(2, 3, 3);
    const frames = collect(outbox);
    expect(frames).toHaveLength(2);
    const toFour = frames.find((frame) => frame.to === 4);
    expect(toFour?.messages).toEqual([]);
    const toTwo = frames.find((frame) => frame.to === 2);
    expect(toTwo?.quiesce).toEqual([{ groupId: 3, term: 3 }]);
    expect(toTwo?.messages).toHaveLength(1);
  });
});
