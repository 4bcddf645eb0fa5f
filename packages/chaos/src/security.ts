/**
 * `--secure` runs: a throwaway PKI, every broker with TLS and SCRAM-SHA-256 auth on, and what the
 * workload's clients need to reach them (the SDK's `tls` and `sasl` options; raw RPC clients that
 * speak TLS and authenticate each connection themselves). The workload's user is a super user:
 * chaos checks the data path under faults, not the ACLs (the broker's security tests do those).
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { SaslOptions, TlsOptions } from '@streambus/client';
import { generatePki } from '@streambus/broker/testing';
import { usersYaml } from '@streambus/test-cluster';
import {
  ErrorCode,
  ScramClient,
  createStreamBusRpcClient,
  readCallError,
  scramCredential,
  scramSha256Mechanism,
  sessionMetadataKey,
} from '@streambus/proto';
import type { StreamBusRpcClient } from '@streambus/proto';
import { secureHandshakeDeadlineMs } from './constants.js';

/**
 * The name the clients verify in the brokers' certificates (a SAN generatePki writes): dialling
 * 127.0.0.1 would make Node send an IP as the TLS server name (DEP0123 warnings on stderr).
 */
const tlsServername = 'localhost';

/** The user every workload client authenticates as (a super user). */
export const chaosUser = 'chaos';

/** What a workload client is given in a secure run: the SDK's own options. */
export interface ClientSecurity {
  readonly tls: TlsOptions;
  readonly sasl: SaslOptions;
}

/** Counts of a secure run, for the report: proof that security was really on. */
export interface SecurityStats {
  /** SCRAM handshakes the raw clients completed (the SDK clients' are not counted). */
  handshakes: number;
  /** Anonymous TLS calls the brokers refused with SESSION_EXPIRED (the probe of `probeAnonymous`). */
  anonymousRefused: number;
  /** Anonymous TLS calls the brokers answered: must stay 0. */
  anonymousServed: number;
}

/** The PKI, the brokers' settings, and the clients' options of one secure run. */
export class ChaosSecurity {
  readonly stats: SecurityStats = { handshakes: 0, anonymousRefused: 0, anonymousServed: 0 };

  private constructor(
    private readonly dir: string,
    private readonly certs: ReadonlyMap<number, { readonly cert: string; readonly key: string }>,
    private readonly caFile: string,
    readonly client: ClientSecurity,
    private readonly password: string,
    private readonly usersFile: string | null,
  ) {}

  /**
   * Generates the PKI (one certificate per broker id, naming `streambus://broker/<id>`, valid for
   * `hosts` besides localhost and 127.0.0.1). With `usersFile` the workload's user is also written
   * to a users file (security.users_file) for broker processes, which take no seedUsers.
   */
  static async create(
    brokerIds: readonly number[],
    seed: number,
    options: { readonly hosts?: readonly string[]; readonly usersFile?: boolean } = {},
  ): Promise<ChaosSecurity> {
    const dir = await mkdtemp(join(tmpdir(), 'streambus-chaos-pki-'));
    const hosts = [...new Set(['localhost', '127.0.0.1', ...(options.hosts ?? [])])];
    const pki = await generatePki({ dir, brokerIds, hosts });
    const ca = await readFile(pki.caCert);
    // Throwaway and per run; the seed only makes two runs' passwords differ in logs of neither.
    const password = `chaos-${seed}-${Math.random().toString(36).slice(2)}`;
    let usersFile: string | null = null;
    if (options.usersFile === true) {
      usersFile = join(dir, 'users.yaml');
      await writeFile(usersFile, usersYaml(chaosUser, password), { mode: 0o600 });
    }
    const client = { tls: { ca, servername: tlsServername }, sasl: { username: chaosUser, password } };
    return new ChaosSecurity(dir, pki.brokers, pki.caCert, client, password, usersFile);
  }

  /** Settings every broker shares (InProcessCluster's env). */
  get env(): Record<string, string> {
    return {
      STREAMBUS_TLS_ENABLED: 'true',
      STREAMBUS_BROKER_TLS_CA: this.caFile,
      STREAMBUS_AUTH_ENABLED: 'true',
      STREAMBUS_SUPER_USERS: `user:${chaosUser}`,
      ...(this.usersFile === null ? {} : { STREAMBUS_USERS_FILE: this.usersFile }),
    };
  }

  /**
   * What the streambus CLI reads to speak TLS and authenticate (the password by environment,
   * never on the command line).
   */
  get cliEnv(): Record<string, string> {
    return {
      STREAMBUS_TLS_CA: this.caFile,
      STREAMBUS_SASL_USERNAME: chaosUser,
      STREAMBUS_SASL_PASSWORD: this.password,
    };
  }

  /** One broker's own certificate and key. */
  brokerEnv(id: number): Record<string, string> {
    const files = this.certs.get(id);
    if (files === undefined) throw new Error(`no certificate was issued for broker ${id}`);
    return { STREAMBUS_BROKER_TLS_CERT: files.cert, STREAMBUS_BROKER_TLS_KEY: files.key };
  }

  /** The users the controller seeds (what security.users_file would give). */
  seedUsers(): { name: string; credential: ReturnType<typeof scramCredential> }[] {
    return [{ name: chaosUser, credential: scramCredential(this.password) }];
  }

  /**
   * One anonymous call (TLS, no session) to `address`: the broker must refuse it. Counted in
   * `stats`; a broker that is down counts neither way.
   */
  async probeAnonymous(address: string): Promise<void> {
    const client = createStreamBusRpcClient(address, {
      credentials: grpc.credentials.createSsl(Buffer.from(this.client.tls.ca ?? '')),
      channelOptions: { 'grpc.use_local_subchannel_pool': 1, 'grpc.ssl_target_name_override': tlsServername },
    });
    try {
      await client.Metadata({ topics: [], brokersOnly: true }, { deadlineMs: secureHandshakeDeadlineMs });
      this.stats.anonymousServed += 1;
    } catch (error) {
      if (readCallError(error).errorCode === ErrorCode.SESSION_EXPIRED) this.stats.anonymousRefused += 1;
    } finally {
      client.close();
    }
  }

  async close(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}

/**
 * A raw RPC client to `address`: plaintext without `security`; otherwise TLS trusting the run's
 * CA, on a connection of its own (a session is bound to its connection, and grpc-js would share
 * one between clients), and every call carrying a session made by a SCRAM handshake on first use.
 * A SESSION_EXPIRED answer (the connection was remade, say after the broker restarted) drops the
 * session and retries the call once with a new one.
 */
export function rpcClient(
  address: string,
  security: ClientSecurity | undefined,
  stats?: SecurityStats,
): StreamBusRpcClient {
  if (security === undefined) return createStreamBusRpcClient(address);
  const inner = createStreamBusRpcClient(address, {
    credentials: grpc.credentials.createSsl(Buffer.from(security.tls.ca ?? '')),
    channelOptions: {
      'grpc.use_local_subchannel_pool': 1,
      ...(security.tls.servername === undefined ? {} : { 'grpc.ssl_target_name_override': security.tls.servername }),
    },
  });
  let session: Promise<string> | null = null;
  const sessionId = (): Promise<string> => {
    session ??= handshake(inner, security.sasl).then(
      (id) => {
        if (stats !== undefined) stats.handshakes += 1;
        return id;
      },
      (error: unknown) => {
        session = null;
        throw error;
      },
    );
    return session;
  };
  const methods = inner as unknown as Record<string, unknown>;
  return new Proxy(inner, {
    get(target, name, receiver) {
      const value: unknown = Reflect.get(target, name, receiver);
      if (typeof name !== 'string' || name === 'Authenticate' || typeof methods[name] !== 'function') return value;
      if (name === 'close' || name === 'waitConnected') return value;
      const method = value as (
        request: unknown,
        options: { deadlineMs: number; metadata?: grpc.Metadata },
      ) => Promise<unknown>;
      return async (request: unknown, options: { deadlineMs: number; metadata?: grpc.Metadata }) => {
        for (let attempt = 0; ; attempt++) {
          const id = await sessionId();
          const metadata = options.metadata?.clone() ?? new grpc.Metadata();
          metadata.set(sessionMetadataKey, id);
          try {
            return await method.call(target, request, { ...options, metadata });
          } catch (error) {
            const expired = readCallError(error).errorCode === ErrorCode.SESSION_EXPIRED;
            if (!expired || attempt > 0) throw error;
            session = null;
          }
        }
      };
    },
  });
}

/** The two SCRAM-SHA-256 round trips; the session id. */
async function handshake(client: StreamBusRpcClient, sasl: SaslOptions): Promise<string> {
  const scram = new ScramClient(sasl.username, sasl.password);
  const call = { deadlineMs: secureHandshakeDeadlineMs };
  const first = await client.Authenticate(
    { mechanism: scramSha256Mechanism, sessionId: '', message: Buffer.from(scram.clientFirst()) },
    call,
  );
  if (first.errorCode !== ErrorCode.NONE) throw new Error(`${client.address}: SCRAM first step: ${first.errorMessage}`);
  const final = await client.Authenticate(
    {
      mechanism: scramSha256Mechanism,
      sessionId: first.sessionId,
      message: Buffer.from(scram.clientFinal(first.message.toString('utf8'))),
    },
    call,
  );
  if (final.errorCode !== ErrorCode.NONE) throw new Error(`${client.address}: SCRAM final step: ${final.errorMessage}`);
  scram.verifyServerFinal(final.message.toString('utf8'));
  return final.sessionId;
}
