/**
 * The broker core's entry for the `streambus server` command (see cli/seams.ts): starts a
 * `Broker` from the shell's context and stops it gracefully on request.
 */
import type { RunningBroker, StartBroker } from '../cli/seams.js';
import { Broker } from './broker.js';

export const startBroker: StartBroker = async (context) => {
  const broker = await Broker.start({ config: context.config, logger: context.logger, health: context.health, metrics: context.metrics });
  let resolveStopped: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => {
    resolveStopped = resolve;
  });
  const running: RunningBroker = {
    stop: async () => {
      await broker.stop();
      resolveStopped();
    },
    stopped,
  };
  return running;
};
