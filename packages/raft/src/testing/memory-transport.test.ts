import { describe, expect, it } from 'vitest';
import type { Frame } from '../host/frame.js';
import { frameMessageCount, MemoryNetwork } from './memory-transport.js';
import { ManualTimer } from './manual-timer.js';

function frame(from: number, to: number, tag: number): Frame {
  return {
    from,
    to,
    session: tag,
    messages: [],
    heartbeats: [{ groupId: tag, term: 1, commit: 0 }],
    heartbeatResponses: [],
    quiesce: [],
  };
}

describe('MemoryNetwork', () => {
  it('delivers asynchronously, in order per link, and counts traffic', async () => {
    const network = new MemoryNetwork();
    const got: number[] = [];
    const one = network.connect(1, () => undefined);
    network.connect(2, (received) => got.push(received.session));
    one.send(frame(1, 2, 1));
    one.send(frame(1, 2, 2));
    expect(got).toEqual([]);
    expect(network.pending()).toBe(2);
    await network.whenIdle();
    expect(got).toEqual([1, 2]);
    expect(network.stats).toMatchObject({
      framesSent: 2,
      framesDelivered: 2,
      messagesDelivered: 2,
      heartbeatsDelivered: 2,
    });
    expect(frameMessageCount(frame(1, 2, 3))).toBe(1);
  });

  it('drops across partitions and to disconnected nodes until healed', async () => {
    const network = new MemoryNetwork();
    const got: string[] = [];
    const transports = [1, 2, 3].map((id) =>
      network.connect(id, (received) => got.push(`${received.from}>${received.to}`)),
    );
    network.partition([1], [2, 3]);
    transports[0]?.send(frame(1, 2, 0));
    transports[1]?.send(frame(2, 1, 0));
    transports[1]?.send(frame(2, 3, 0));
    await network.whenIdle();
    expect(got).toEqual(['2>3']);
    network.heal();
    network.disconnect(3);
    transports[0]?.send(frame(1, 2, 0));
    transports[1]?.send(frame(2, 3, 0));
    transports[2]?.send(frame(3, 1, 0));
    await network.whenIdle();
    expect(got).toEqual(['2>3', '1>2']);
    expect(network.stats.framesDropped).toBe(4);
  });

  it('drops a seeded fraction at a drop rate', async () => {
    let state = 1;
    const random = (): number => {
      state = (state * 48271) % 2147483647;
      return state / 2147483647;
    };
    const network = new MemoryNetwork({ random });
    network.dropRate = 0.5;
    const one = network.connect(1, () => undefined);
    network.connect(2, () => undefined);
    for (let i = 0; i < 200; i++) one.send(frame(1, 2, i));
    await network.whenIdle();
    expect(network.stats.framesDelivered + network.stats.framesDropped).toBe(200);
    expect(network.stats.framesDropped).toBeGreaterThan(50);
    expect(network.stats.framesDropped).toBeLessThan(150);
  });
});

describe('ManualTimer', () => {
  it('fires intervals only when advanced, in time order', () => {
    const timer = new ManualTimer();
    const fired: string[] = [];
    const a = timer.setInterval(() => fired.push(`a${timer.now()}`), 100);
    timer.setInterval(() => fired.push(`b${timer.now()}`), 150);
    timer.advance(99);
    expect(fired).toEqual([]);
    timer.advance(201);
    expect(fired).toEqual(['a100', 'b150', 'a200', 'a300', 'b300']);
    timer.clearInterval(a);
    timer.advance(150);
    expect(fired).toEqual(['a100', 'b150', 'a200', 'a300', 'b300', 'b450']);
    expect(timer.intervalCount()).toBe(1);
  });
});
