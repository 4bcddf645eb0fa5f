import { MessageType } from '@streambus/raft';
import type { Frame, Message } from '@streambus/raft';
import { describe, expect, it } from 'vitest';
import { FaultNetwork } from './fault-network.js';

function frame(from: number, to: number, types: number[] = []): Frame {
  return {
    from,
    to,
    session: 1,
    messages: types.map((type) => ({ groupId: 5, message: { type, from, to } as unknown as Message })),
    heartbeats: [],
    heartbeatResponses: [],
    quiesce: [],
  };
}

function recorder(): { frames: Frame[]; send: (frame: Frame) => void } {
  const frames: Frame[] = [];
  return { frames, send: (f) => frames.push(f) };
}

describe('FaultNetwork', () => {
  it('blocks one direction, splits both, pauses a broker, heals', () => {
    const network = new FaultNetwork(1);
    const out1 = recorder();
    const out2 = recorder();
    const t1 = network.wrap(1, out1);
    const t2 = network.wrap(2, out2);
    network.block(1, 2);
    t1.send(frame(1, 2));
    t2.send(frame(2, 1));
    expect(out1.frames).toHaveLength(0);
    expect(out2.frames).toHaveLength(1);
    network.heal();
    network.split([1], [2, 3]);
    t2.send(frame(2, 1));
    t1.send(frame(1, 3));
    expect(out2.frames).toHaveLength(1);
    expect(out1.frames).toHaveLength(0);
    network.heal();
    network.pause(2);
    t1.send(frame(1, 2));
    t2.send(frame(2, 3));
    expect(network.stats.framesBlocked).toBe(5);
    network.resume(2);
    t1.send(frame(1, 2));
    expect(out1.frames).toHaveLength(1);
  });

  it("withholds a leader's appends of one group but not its other messages", () => {
    const network = new FaultNetwork(1);
    const out = recorder();
    const t = network.wrap(1, out);
    network.withholdEntries(1, 5);
    t.send(frame(1, 2, [MessageType.append, MessageType.heartbeat]));
    expect(out.frames[0]!.messages.map((m) => m.message.type)).toEqual([MessageType.heartbeat]);
  });

  it('drops and duplicates frames at the configured rates, reproducibly per seed', () => {
    const counts = [1, 1].map(() => {
      const network = new FaultNetwork(42);
      const out = recorder();
      const t = network.wrap(1, out);
      network.setLinkFaults({ dropProbability: 0.3, duplicateProbability: 0.3, delayMsMax: 0 });
      for (let i = 0; i < 1000; i++) t.send(frame(1, 2));
      return { delivered: out.frames.length, ...network.stats };
    });
    expect(counts[0]).toEqual(counts[1]);
    expect(counts[0]!.framesDropped).toBeGreaterThan(200);
    expect(counts[0]!.framesDuplicated).toBeGreaterThan(100);
  });
});
