/**
 * The client verbs' TLS and SASL settings: flags first, then `STREAMBUS_*` variables. A password
 * is never taken from argv (other users of the machine can read a process's command line): it
 * comes from --sasl-password-file, STREAMBUS_SASL_PASSWORD_FILE or STREAMBUS_SASL_PASSWORD.
 */
import { readFile } from 'node:fs/promises';
import type { CliClientOptions } from './client.js';
import type { CliIo, OptionValues } from './command.js';
import { UsageError, stringOption } from './command.js';
import { passwordLengthMax, securityFileBytesMax } from './constants.js';

/** Where one setting came from, for error messages: the flag or the variable. */
interface Sourced {
  readonly value: string;
  readonly source: string;
}

function flagOrEnv(values: OptionValues, env: CliIo['env'], flag: string, variable: string): Sourced | undefined {
  const fromFlag = stringOption(values, flag);
  if (fromFlag !== undefined) return { value: fromFlag, source: `--${flag}` };
  const fromEnv = env[variable];
  return fromEnv === undefined || fromEnv === '' ? undefined : { value: fromEnv, source: variable };
}

async function readSmallFile(setting: Sourced): Promise<Buffer> {
  let contents: Buffer;
  try {
    contents = await readFile(setting.value);
  } catch (error) {
    const why = (error as NodeJS.ErrnoException).code ?? (error instanceof Error ? error.message : String(error));
    throw new UsageError(`${setting.source}: cannot read ${setting.value} (${why})`);
  }
  if (contents.length > securityFileBytesMax)
    throw new UsageError(`${setting.source}: ${setting.value} is larger than ${securityFileBytesMax} bytes`);
  return contents;
}

/** A password file's first line, without its line end. */
export function passwordFromFile(contents: string, source: string): string {
  const password = contents.split(/\r?\n/, 1)[0] ?? '';
  if (password === '') throw new UsageError(`${source}: the password file's first line is empty`);
  return password;
}

/** TLS and SASL of a client verb, or UsageError naming the flag or variable at fault. */
export async function securityOptions(
  values: OptionValues,
  env: CliIo['env'],
): Promise<Pick<CliClientOptions, 'tls' | 'sasl'>> {
  const ca = flagOrEnv(values, env, 'tls-ca', 'STREAMBUS_TLS_CA');
  const cert = flagOrEnv(values, env, 'tls-cert', 'STREAMBUS_TLS_CERT');
  const key = flagOrEnv(values, env, 'tls-key', 'STREAMBUS_TLS_KEY');
  if ((cert === undefined) !== (key === undefined))
    throw new UsageError(
      `${(cert ?? key)?.source ?? ''} needs its pair: a client certificate takes --tls-cert and --tls-key (or STREAMBUS_TLS_CERT and STREAMBUS_TLS_KEY)`,
    );
  let tls: CliClientOptions['tls'];
  if (ca !== undefined || cert !== undefined) {
    tls = {
      ...(ca === undefined ? {} : { ca: await readSmallFile(ca) }),
      ...(cert === undefined ? {} : { cert: await readSmallFile(cert) }),
      ...(key === undefined ? {} : { key: await readSmallFile(key) }),
    };
  }
  const username = flagOrEnv(values, env, 'sasl-username', 'STREAMBUS_SASL_USERNAME');
  const passwordFile = flagOrEnv(values, env, 'sasl-password-file', 'STREAMBUS_SASL_PASSWORD_FILE');
  const passwordValue = env['STREAMBUS_SASL_PASSWORD'];
  const hasPassword = passwordFile !== undefined || (passwordValue !== undefined && passwordValue !== '');
  if (username === undefined) {
    if (hasPassword)
      throw new UsageError(
        'a SASL password is set but no user: give --sasl-username or STREAMBUS_SASL_USERNAME (or unset the password)',
      );
    return tls === undefined ? {} : { tls };
  }
  let password: string;
  if (passwordFile !== undefined)
    password = passwordFromFile((await readSmallFile(passwordFile)).toString('utf8'), passwordFile.source);
  else if (passwordValue !== undefined && passwordValue !== '') password = passwordValue;
  else
    throw new UsageError(
      `${username.source} names user ${username.value} but no password is set: give --sasl-password-file FILE, STREAMBUS_SASL_PASSWORD_FILE or STREAMBUS_SASL_PASSWORD (never on the command line)`,
    );
  if (password.length > passwordLengthMax)
    throw new UsageError(`the password of user ${username.value} is longer than ${passwordLengthMax} characters`);
  return { ...(tls === undefined ? {} : { tls }), sasl: { username: username.value, password } };
}
