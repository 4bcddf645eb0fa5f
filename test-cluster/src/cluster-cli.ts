/**
 * `npm run cluster`: three broker processes on 127.0.0.1 with data under ./data/broker-N.
 * Prints the bootstrap list and the admin URLs; Ctrl-C (or SIGTERM) stops them all cleanly.
 * With `--secure`: TLS and SCRAM-SHA-256 on, a throwaway CA under DATA/pki, an admin super user
 * whose password is in DATA/admin.password (0600), and the `export` lines a client shell needs.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { TestCluster } from './cluster.js';
import { prepareSecureCluster, waitForSecureAdmin, type SecureSetup } from './secure.js';

const usage = `usage: npm run cluster [-- --size N --data-dir DIR --base-port P --admin-base-port P --wal-sync always|periodic|none --secure]`;

/**
 * With --secure this process's SDK dials the brokers by IP address over TLS, and Node warns that
 * grpc-js sets the IP as the TLS server name (DEP0123; the certificate is still checked against
 * the IP). As in the streambus CLI (cli/main.ts), that one warning is kept out of the output.
 */
function dropIpServernameWarning(): void {
  const emitWarning = process.emitWarning.bind(process) as (...args: unknown[]) => void;
  process.emitWarning = (...args: unknown[]) => {
    if (args[2] === 'DEP0123') return;
    emitWarning(...args);
  };
}

async function main(): Promise<void> {
  dropIpServernameWarning();
  const { values } = parseArgs({
    options: {
      size: { type: 'string', default: '3' },
      'data-dir': { type: 'string', default: './data' },
      'base-port': { type: 'string', default: '9092' },
      'admin-base-port': { type: 'string', default: '8081' },
      'wal-sync': { type: 'string' },
      secure: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(usage);
    return;
  }
  const size = Number(values.size);
  const basePort = Number(values['base-port']);
  const adminBasePort = Number(values['admin-base-port']);
  if (!Number.isInteger(size) || size < 1 || size > 9) throw new Error(`--size must be 1 to 9, got ${values.size}`);
  if (!Number.isInteger(basePort) || !Number.isInteger(adminBasePort)) throw new Error(usage);
  const env: Record<string, string> = {};
  if (values['wal-sync'] !== undefined) env['STREAMBUS_WAL_SYNC'] = values['wal-sync'];
  const dataDir = resolve(values['data-dir']);
  const listenPorts = Array.from({ length: size }, (_, index) => basePort + index);
  let secure: SecureSetup | undefined;
  if (values.secure) {
    secure = await prepareSecureCluster({
      dir: dataDir,
      brokerIds: Array.from({ length: size }, (_, index) => index + 1),
      bootstrap: listenPorts.map((port) => `127.0.0.1:${port}`).join(','),
    });
    console.log(`cluster: secure: TLS and SCRAM-SHA-256 on; CA and broker certificates in ${dataDir}/pki`);
  }
  const configs = secure?.brokerConfigs;
  const cluster = await TestCluster.create({
    size,
    dataDir,
    listenPorts,
    adminPorts: Array.from({ length: size }, (_, index) => adminBasePort + index),
    env,
    ...(configs === undefined ? {} : { brokerArgs: (id: number) => ['--config', configs.get(id) ?? ''] }),
    onProgress: (line) => console.log(`cluster: ${line}`),
  });
  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    console.log(`cluster: ${signal}: stopping ${size} brokers`);
    await cluster.stopAll();
    console.log('cluster: stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  console.log(`cluster: starting ${size} brokers, data under ${resolve(values['data-dir'])}`);
  try {
    await cluster.startAll();
    if (secure !== undefined) await waitForSecureAdmin(cluster.bootstrap, secure);
  } catch (error) {
    console.error(`cluster: ${error instanceof Error ? error.message : String(error)}`);
    await cluster.stopAll();
    process.exit(1);
  }
  console.log('');
  console.log(`bootstrap: ${cluster.bootstrap}`);
  for (const broker of cluster.brokers)
    console.log(`broker ${broker.id}: admin http://${broker.admin}  data ${broker.dataDir}`);
  console.log('');
  if (secure === undefined) {
    console.log(`try: export STREAMBUS_BOOTSTRAP=${cluster.bootstrap}; npx streambus cluster status`);
  } else {
    console.log(`admin user ${secure.adminUser} (a super user); its password is in ${secure.adminPasswordFile}`);
    console.log('in a client shell:');
    for (const line of secure.exports) console.log(line);
    console.log('npx streambus cluster status');
  }
  console.log('Ctrl-C stops the cluster.');
}

main().catch((error: unknown) => {
  console.error(`cluster: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
