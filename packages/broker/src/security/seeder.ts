/**
 * Seeds the users of security.users_file and the `acls:` of server.yaml at cluster start, like
 * OffsetsTopicCreator seeds __consumer_offsets: the controller leader, once caught up, proposes
 * what the controller state lacks (a user absent by name, a binding absent by equality), one
 * command at a time, checked again every second until nothing is missing. A user already there
 * keeps its credential (changed since with `streambus user create`, it is not put back).
 *
 * Users and ACLs are feature level 3. With authentication on, a cluster below it could not let
 * anyone in, so the seeder asks to finalize level 3 first (FeatureLevels.finalize: refused while
 * some broker does not read it, and retried).
 */
import type { NodeId } from '@streambus/raft';
import { rethrowBug } from '../bugs.js';
import type { ControllerCommand, ControllerResult } from '../controller/commands.js';
import { securityFeatureLevel } from '../controller/features.js';
import type { ControllerState } from '../controller/state.js';
import type { SeedUserCredential } from '../config/types.js';
import type { Logger } from '../logging/logger.js';
import type { Acl } from './acl.js';
import { aclKey } from './acl.js';
import { aclsPerRequestMax, securitySeedDeadlineMs } from './constants.js';

export interface SecuritySeederOptions {
  readonly nodeId: NodeId;
  readonly users: readonly SeedUserCredential[];
  readonly acls: readonly Acl[];
  /** security.auth_enabled: then level 3 is finalized when needed. */
  readonly authEnabled: boolean;
  readonly state: () => ControllerState;
  readonly controllerLeaderId: () => NodeId;
  readonly controllerCaughtUp: () => boolean;
  readonly propose: (command: ControllerCommand, deadlineMs: number) => Promise<ControllerResult>;
  /** FeatureLevels.finalize(level): ok, or why not. */
  readonly finalizeLevel: (level: number, deadlineMs: number) => Promise<{ ok: boolean; message?: string }>;
  readonly logger: Logger;
}

export class SecuritySeeder {
  private busy = false;
  private warnedLevel = false;

  constructor(private readonly options: SecuritySeederOptions) {}

  /** The next command to propose, or undefined when the state has everything. Pure. */
  nextCommand(state: ControllerState): ControllerCommand | undefined {
    const records = state.securityRecords;
    const user = this.options.users.find((candidate) => records.user(candidate.name) === undefined);
    if (user !== undefined) return { type: 'upsertUser', name: user.name, credential: user.credential };
    const present = new Set(records.acls().map(aclKey));
    const missing = this.options.acls.filter((acl) => !present.has(aclKey(acl)));
    if (missing.length > 0) return { type: 'createAcls', acls: missing.slice(0, aclsPerRequestMax) };
    return undefined;
  }

  check(): void {
    const options = this.options;
    if (options.users.length === 0 && options.acls.length === 0) return;
    if (this.busy || options.controllerLeaderId() !== options.nodeId || !options.controllerCaughtUp()) return;
    const state = options.state();
    const command = this.nextCommand(state);
    if (command === undefined) return;
    this.busy = true;
    const work = state.finalizedFeatureLevel < securityFeatureLevel ? this.raiseLevel() : this.propose(command);
    void work.finally(() => {
      this.busy = false;
    });
  }

  private async raiseLevel(): Promise<void> {
    const options = this.options;
    if (!options.authEnabled) {
      if (!this.warnedLevel)
        options.logger.warn(
          { level: securityFeatureLevel },
          'users_file and acls wait for cluster feature level 3 (streambus features finalize)',
        );
      this.warnedLevel = true;
      return;
    }
    try {
      const outcome = await options.finalizeLevel(securityFeatureLevel, securitySeedDeadlineMs);
      if (outcome.ok)
        options.logger.info({ level: securityFeatureLevel }, 'feature level finalized for users and ACLs');
      else if (!this.warnedLevel) {
        this.warnedLevel = true;
        options.logger.warn(
          { err: outcome.message },
          'cannot finalize feature level 3 for users and ACLs yet; retrying',
        );
      }
    } catch (error: unknown) {
      rethrowBug(error);
      options.logger.debug({ err: (error as Error).message }, 'feature level 3 not finalized yet; retrying');
    }
  }

  private async propose(command: ControllerCommand): Promise<void> {
    try {
      const result = await this.options.propose(command, securitySeedDeadlineMs);
      // Never the credential in a log line: the user's name, or the number of bindings.
      const what =
        command.type === 'upsertUser' ? { user: command.name } : { acls: 'acls' in command ? command.acls.length : 0 };
      if (result.ok) this.options.logger.info(what, `seeded ${command.type === 'upsertUser' ? 'user' : 'ACLs'}`);
      else this.options.logger.warn({ ...what, code: result.code, err: result.message }, 'seeding refused; retrying');
    } catch (error: unknown) {
      rethrowBug(error);
      this.options.logger.debug({ err: (error as Error).message }, 'seeding not proposed yet; retrying');
    }
  }
}
