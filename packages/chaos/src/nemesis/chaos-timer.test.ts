import { describe, expect, it } from 'vitest';
import { ChaosTimer } from './chaos-timer.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('ChaosTimer', () => {
  it('swallows ticks while paused, jumps its clock, and ticks faster at a higher rate', async () => {
    const timer = new ChaosTimer();
    let ticks = 0;
    const handle = timer.setInterval(() => (ticks += 1), 20);
    timer.pause();
    await sleep(120);
    expect(ticks).toBe(0);
    timer.resume();
    const before = timer.now();
    timer.jump(5_000);
    expect(timer.now() - before).toBeGreaterThanOrEqual(5_000);
    // Side by side with a timer at the normal rate (same machine load for both).
    const normal = new ChaosTimer();
    let normalTicks = 0;
    const normalHandle = normal.setInterval(() => (normalTicks += 1), 20);
    ticks = 0;
    timer.setRate(4);
    await sleep(300);
    timer.clearInterval(handle);
    normal.clearInterval(normalHandle);
    const counted = ticks;
    expect(counted).toBeGreaterThan(normalTicks);
    await sleep(60);
    expect(ticks).toBe(counted);
  });
});
