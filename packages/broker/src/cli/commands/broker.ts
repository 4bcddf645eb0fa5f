/**
 * `streambus broker drain` and `streambus broker undrain`: maintenance mode, recorded by the
 * controller. A drained broker hands every leadership it holds (partitions and the controller)
 * to in-sync peers, is no preferred leader and gets no new replicas, until it is undrained; it
 * stays drained across restarts. `drain` waits, printing progress, until the broker leads
 * nothing or --timeout passes: a Kubernetes preStop hook or an upgrade script runs it, then
 * stops the broker. Without --broker, the broker at --bootstrap (one address) is meant.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { CliDrainStatus } from '../client.js';
import type { Command, CommandInput } from '../command.js';
import { UsageError, bootstrapOption, clientOptionHelp, clientOptions, integerOption } from '../command.js';
import { drainCallWaitMs, drainTimeoutMsDefault } from '../constants.js';
import { brokerIdMax } from '../../controller/constants.js';
import { ExitCode } from '../exit-codes.js';
import { jsonLine } from '../format.js';
import { withClient } from './with-client.js';

const brokerOptionHelp =
  '    --broker ID                  the broker (default: the one at --bootstrap, a single address)';

export const brokerDrain: Command = {
  path: ['broker', 'drain'],
  summary: 'maintenance mode: move every leadership off a broker, wait until it leads nothing',
  synopsis: 'broker drain [--broker ID] [--timeout DURATION]',
  optionHelp: [
    brokerOptionHelp,
    ...clientOptionHelp.map((line) =>
      line.includes('--timeout')
        ? '    --timeout DURATION           how long to wait for the drain (default 60s)'
        : line,
    ),
  ],
  options: { ...clientOptions, broker: { type: 'string' } },
  positionalsMin: 0,
  positionalsMax: 0,
  run: (input) => {
    const brokerId = brokerOption(input);
    const timed = withDefaultTimeout(input);
    return withClient(timed, 'broker drain', async ({ client, json, timeoutMs, out }) => {
      const started = Date.now();
      const deadline = started + timeoutMs;
      for (;;) {
        const callStarted = Date.now();
        const waitMs = Math.max(0, Math.min(drainCallWaitMs, deadline - callStarted));
        const status = await client.setBrokerDrained(brokerId, true, waitMs);
        if (status.groupsLed === 0) {
          out(json ? jsonLine(statusJson(status)) : drainedLine(status));
          return ExitCode.ok;
        }
        const elapsedMs = Date.now() - started;
        if (Date.now() >= deadline) {
          input.deps.io.stderr(
            json
              ? jsonLine({ error: { code: 'TIMEOUT', message: notDrainedMessage(status, timeoutMs) } })
              : `streambus broker drain: ${notDrainedMessage(status, timeoutMs)} (TIMEOUT)\n`,
          );
          return ExitCode.unavailable;
        }
        // A broker that answers at once (it counts another broker's leaderships) is asked again at the same pace.
        const early = callStarted + waitMs - Date.now();
        if (early > 0) await sleep(early);
        input.deps.io.stderr(
          `broker ${status.brokerId}: draining, still leads ${leadsText(status)} (${(elapsedMs / 1000).toFixed(1)}s of ${(timeoutMs / 1000).toFixed(0)}s)\n`,
        );
      }
    });
  },
};

export const brokerUndrain: Command = {
  path: ['broker', 'undrain'],
  summary: 'end maintenance mode: the broker takes back its preferred leaderships once in sync',
  synopsis: 'broker undrain [--broker ID]',
  optionHelp: [brokerOptionHelp, ...clientOptionHelp],
  options: { ...clientOptions, broker: { type: 'string' } },
  positionalsMin: 0,
  positionalsMax: 0,
  run: (input) => {
    const brokerId = brokerOption(input);
    return withClient(input, 'broker undrain', async ({ client, json, out }) => {
      const status = await client.setBrokerDrained(brokerId, false, 0);
      out(
        json
          ? jsonLine(statusJson(status))
          : `broker ${status.brokerId} undrained: leaders hand its preferred partitions back once it is in sync\n`,
      );
      return ExitCode.ok;
    });
  },
};

/** --broker, or null for the single bootstrap address (several addresses need --broker). */
function brokerOption(input: CommandInput): number | null {
  const id = integerOption(input.values, 'broker', 1, brokerIdMax);
  if (id !== undefined) return id;
  if (bootstrapOption(input.values, input.deps.io.env).length > 1)
    throw new UsageError('--bootstrap lists several brokers: say which one with --broker ID');
  return null;
}

/** Drain waits longer than an ordinary operation unless --timeout says otherwise. */
function withDefaultTimeout(input: CommandInput): CommandInput {
  if (input.values['timeout'] !== undefined) return input;
  return { ...input, values: { ...input.values, timeout: `${drainTimeoutMsDefault}ms` } };
}

function leadsText(status: CliDrainStatus): string {
  const names = [
    ...(status.controllerLeader ? ['the controller'] : []),
    ...status.partitionsLed.map((tp) => `${tp.topic}-${tp.partition}`),
  ];
  const shown = names.slice(0, 10).join(', ');
  const more = status.groupsLed > 10 ? ', ...' : '';
  return `${status.groupsLed} group${status.groupsLed === 1 ? '' : 's'}${shown === '' ? '' : ` (${shown}${more})`}`;
}

function notDrainedMessage(status: CliDrainStatus, timeoutMs: number): string {
  return `broker ${status.brokerId} still leads ${leadsText(status)} after ${(timeoutMs / 1000).toFixed(0)}s: no in-sync peer took them (are the other brokers up and caught up?); it stays drained, run drain again or undrain it`;
}

function drainedLine(status: CliDrainStatus): string {
  return `broker ${status.brokerId} drained: it leads nothing and is no preferred leader until: streambus broker undrain --broker ${status.brokerId}\n`;
}

function statusJson(status: CliDrainStatus): unknown {
  return {
    broker: status.brokerId,
    drained: status.drained,
    groups_led: status.groupsLed,
    controller_leader: status.controllerLeader,
    partitions_led: status.partitionsLed.map((tp) => ({ topic: tp.topic, partition: tp.partition })),
  };
}
