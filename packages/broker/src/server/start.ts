/**
 * The broker core's entry for the `streambus server` command (see cli/seams.ts): starts a
 * `Broker` from the shell's context and stops it gracefully on request.
 */
import type { RunningBroker, StartBroker } from '../cli/seams.js';
import { componentLogger } from '../logging/logger.js';
import { startTracing } from '../tracing/setup.js';
import { Broker } from './broker.js';
import { unsafeKnobsEnvName, unsafeKnobsFromEnv } from './unsafe-knobs.js';

export const startBroker: StartBroker = async (context) => {
  let resolveStopped: () => void = () => undefined;
  let rejectStopped: (error: Error) => void = () => undefined;
  const stopped = new Promise<void>((resolve, reject) => {
    resolveStopped = resolve;
    rejectStopped = reject;
  });
  // A failed store stops the broker for good: close what is left and exit 1 (the shell does).
  let broker: Broker | undefined;
  let fatal: Error | null = null;
  const die = (running: Broker, error: Error): void => {
    void running.kill().finally(() => rejectStopped(error));
  };
  const onFatal = (error: Error): void => {
    if (broker === undefined) fatal = error;
    else die(broker, error);
  };
  // Test-only planted faults (the chaos harness's real-network runs); refused if misspelled.
  const unsafe = unsafeKnobsFromEnv(process.env);
  for (const name of unsafe.names) {
    context.logger.warn(
      { knob: name, env: unsafeKnobsEnvName },
      `UNSAFE TESTING KNOB ${name} IS ON: this broker breaks its guarantees on purpose (chaos self-test); never run it with real data`,
    );
  }
  const tracing = startTracing(
    context.config.tracing,
    { brokerId: context.config.server.brokerId, clusterId: context.config.server.clusterId, version: context.version },
    componentLogger(context.logger, 'tracing'),
  );
  let started: Broker;
  try {
    started = await Broker.start({
      config: context.config,
      logger: context.logger,
      health: context.health,
      ...(context.metrics === undefined ? {} : { metrics: context.metrics }),
      onFatal,
      ...(context.tls === undefined ? {} : { tls: context.tls }),
      ...(tracing === undefined ? {} : { tracerProvider: tracing.provider }),
      ...(unsafe.names.length === 0 ? {} : { unsafeTestingKnobs: unsafe.knobs }),
    });
  } catch (error) {
    await tracing?.shutdown();
    throw error;
  }
  broker = started;
  if (fatal !== null) die(started, fatal);
  const running: RunningBroker = {
    stop: async () => {
      await started.stop();
      // The spans of the last requests (the hand-off included) go out before the process ends.
      await tracing?.shutdown();
      resolveStopped();
    },
    stopped,
  };
  return running;
};
