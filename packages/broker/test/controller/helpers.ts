/** Small builders for controller tests. */
import { expect } from 'vitest';
import type { ControllerCommand, ControllerResult } from '../../src/controller/commands.js';
import { ControllerState } from '../../src/controller/state.js';

export function register(brokerId: number, rack: string | null = null, nowMs = 1000): ControllerCommand {
  return {
    type: 'registerBroker',
    brokerId,
    host: `broker-${brokerId}`,
    port: 9092,
    adminAddress: `broker-${brokerId}:8080`,
    rack,
    nowMs,
  };
}

/** A state with brokers 1..count registered. */
export function clusterOf(count: number, racks: readonly string[] = []): ControllerState {
  const state = new ControllerState();
  for (let id = 1; id <= count; id++)
    expectOk(state.apply(register(id, racks.length === 0 ? null : racks[(id - 1) % racks.length])));
  return state;
}

export function expectOk(result: ControllerResult): Extract<ControllerResult, { ok: true }> {
  if (!result.ok) throw new Error(`expected ok, got ${result.code}: ${result.message}`);
  return result;
}

export function expectFailure(result: ControllerResult, code: string): void {
  expect(result.ok).toBe(false);
  if (!result.ok) expect(result.code).toBe(code);
}
