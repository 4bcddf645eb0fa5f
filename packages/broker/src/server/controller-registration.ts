/**
 * A broker's registration with the controller: its client address (what metadata hands out) and
 * admin address, proposed until the controller applied it. Partition reports and readiness wait
 * for it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { NodeId } from '@streambus/raft';
import { rethrowBug } from '../bugs.js';
import type { ControllerCommand, ControllerResult } from '../controller/commands.js';
import type { HostPort } from '../config/address.js';
import type { Logger } from '../logging/logger.js';
import { controllerCommandDeadlineMs, registrationRefusedRetryMs, registrationRetryMs } from './constants.js';

export interface ControllerRegistrationOptions {
  readonly nodeId: NodeId;
  /** The client listener as configured; a wildcard host is registered as loopback. */
  readonly listen: HostPort;
  readonly adminListen: HostPort;
  /** The port the gRPC server is bound to (known once it listens). */
  readonly boundPort: () => number;
  /** Proposes a controller command from this broker (ControllerGateway.propose). */
  readonly propose: (command: ControllerCommand, deadlineMs: number) => Promise<ControllerResult>;
  readonly logger: Logger;
  readonly nowMs?: () => number;
  /** The pause between attempts; default real time. */
  readonly sleepMs?: (ms: number) => Promise<unknown>;
}

export class ControllerRegistration {
  private done = false;
  private stopped = false;
  private readonly nowMs: () => number;
  private readonly sleepMs: (ms: number) => Promise<unknown>;

  constructor(private readonly options: ControllerRegistrationOptions) {
    this.nowMs = options.nowMs ?? Date.now;
    this.sleepMs = options.sleepMs ?? sleep;
  }

  /** True once the controller accepted this broker's registration. */
  get registered(): boolean {
    return this.done;
  }

  /** Proposes the registration until it is accepted or `stop` is called. */
  async run(): Promise<void> {
    while (!this.stopped && !this.done) {
      try {
        const result = await this.options.propose(this.command(), controllerCommandDeadlineMs);
        if (result.ok) {
          this.done = true;
          this.options.logger.info({ broker: this.options.nodeId }, 'registered with the controller');
        } else {
          this.options.logger.error({ code: result.code, reason: result.message }, 'controller refused registration');
          await this.sleepMs(registrationRefusedRetryMs);
        }
      } catch (error) {
        rethrowBug(error);
        if (this.stopped) return;
        this.options.logger.warn(
          { err: (error as Error).message },
          'registration with the controller failed; retrying',
        );
        await this.sleepMs(registrationRetryMs);
      }
    }
  }

  stop(): void {
    this.stopped = true;
  }

  private command(): ControllerCommand {
    const { listen, adminListen: admin } = this.options;
    return {
      type: 'registerBroker',
      brokerId: this.options.nodeId,
      host: listen.host === '0.0.0.0' ? '127.0.0.1' : listen.host,
      port: this.options.boundPort(),
      adminAddress: `${admin.host}:${admin.port}`,
      rack: null,
      nowMs: this.nowMs(),
    };
  }
}
