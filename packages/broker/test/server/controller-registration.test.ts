import { describe, expect, it } from 'vitest';
import type { ControllerCommand, ControllerResult } from '../../src/controller/commands.js';
import { ControllerUnavailableError } from '../../src/server/controller-gateway.js';
import { registrationRefusedRetryMs, registrationRetryMs } from '../../src/server/constants.js';
import { ControllerRegistration } from '../../src/server/controller-registration.js';
import { silentLogger } from './fakes.js';

describe('ControllerRegistration', () => {
  it("proposes the broker's addresses until the controller accepts them, pausing after a refusal or a failure", async () => {
    const answers: (ControllerResult | Error)[] = [
      new ControllerUnavailableError('no controller leader is known'),
      { ok: false, code: 'INVALID_REQUEST', message: 'not yet' },
      { ok: true, detail: { kind: 'none' } } as ControllerResult,
    ];
    const proposed: ControllerCommand[] = [];
    const pauses: number[] = [];
    const registration = new ControllerRegistration({
      nodeId: 2,
      listen: { host: '0.0.0.0', port: 0 },
      adminListen: { host: '10.0.0.2', port: 8080 },
      boundPort: () => 9092,
      propose: async (command) => {
        proposed.push(command);
        const answer = answers.shift();
        if (answer === undefined || answer instanceof Error) throw answer ?? new Error('no more answers');
        return answer;
      },
      logger: silentLogger,
      nowMs: () => 42,
      sleepMs: async (ms) => void pauses.push(ms),
    });
    expect(registration.registered).toBe(false);
    await registration.run();
    expect(registration.registered).toBe(true);
    expect(pauses).toEqual([registrationRetryMs, registrationRefusedRetryMs]);
    expect(proposed).toHaveLength(3);
    expect(proposed[0]).toEqual({
      type: 'registerBroker',
      brokerId: 2,
      host: '127.0.0.1',
      port: 9092,
      adminAddress: '10.0.0.2:8080',
      rack: null,
      nowMs: 42,
    });
  });

  it('stops trying once stopped', async () => {
    let calls = 0;
    const registration = new ControllerRegistration({
      nodeId: 2,
      listen: { host: '127.0.0.1', port: 9092 },
      adminListen: { host: '127.0.0.1', port: 8080 },
      boundPort: () => 9092,
      propose: async () => {
        calls += 1;
        registration.stop();
        throw new Error('no controller leader');
      },
      logger: silentLogger,
      sleepMs: async () => undefined,
    });
    await registration.run();
    expect(calls).toBe(1);
    expect(registration.registered).toBe(false);
  });
});
