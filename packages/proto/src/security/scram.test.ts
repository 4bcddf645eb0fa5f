import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { ScramCredential } from '../rpc/types.js';
import {
  ScramClient,
  ScramError,
  ScramServerExchange,
  escapeSaslName,
  normalizePassword,
  scramCredential,
  unescapeSaslName,
} from './scram.js';

// RFC 7677 section 3.
const rfc = {
  user: 'user',
  password: 'pencil',
  clientNonce: 'rOprNGfwEbeRWgbNEkqO',
  serverNonce: '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0',
  salt: Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64'),
  clientFirst: 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO',
  serverFirst: 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
  clientFinal:
    'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
  serverFinal: 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=',
};

const secret = randomBytes(32);

function server(users: Map<string, ScramCredential>, nonce?: string): ScramServerExchange {
  return new ScramServerExchange({
    lookup: (name) => users.get(name),
    fakeCredentialSecret: secret,
    ...(nonce === undefined ? {} : { nonce }),
  });
}

function scramErrorOf(run: () => unknown): ScramError {
  try {
    run();
  } catch (error) {
    if (error instanceof ScramError) return error;
    throw error;
  }
  throw new Error('expected a ScramError');
}

describe('SCRAM-SHA-256, RFC 7677 test vector', () => {
  it('the client produces the RFC messages and accepts the RFC server-final', () => {
    const client = new ScramClient(rfc.user, rfc.password, rfc.clientNonce);
    expect(client.clientFirst()).toBe(rfc.clientFirst);
    expect(client.clientFinal(rfc.serverFirst)).toBe(rfc.clientFinal);
    expect(() => client.verifyServerFinal(rfc.serverFinal)).not.toThrow();
  });

  it('the server, given the RFC credential, produces the RFC messages', () => {
    const credential = scramCredential(rfc.password, { salt: rfc.salt, iterations: 4096 });
    const exchange = server(new Map([[rfc.user, credential]]), rfc.serverNonce);
    expect(exchange.serverFirst(rfc.clientFirst)).toBe(rfc.serverFirst);
    expect(exchange.username).toBe('user');
    expect(exchange.serverFinal(rfc.clientFinal)).toBe(rfc.serverFinal);
  });

  it('the client refuses a server-final with another signature', () => {
    const client = new ScramClient(rfc.user, rfc.password, rfc.clientNonce);
    client.clientFirst();
    client.clientFinal(rfc.serverFirst);
    const wrong = 'v=' + Buffer.alloc(32, 7).toString('base64');
    expect(scramErrorOf(() => client.verifyServerFinal(wrong)).code).toBe('BAD_SERVER_SIGNATURE');
  });
});

describe('SCRAM-SHA-256 round trips', () => {
  const alice = scramCredential('s3cret, really');
  const users = new Map([['alice', alice]]);

  function handshake(username: string, password: string): { serverFinal: string; client: ScramClient } {
    const client = new ScramClient(username, password);
    const exchange = server(users);
    const serverFirst = exchange.serverFirst(client.clientFirst());
    const serverFinal = exchange.serverFinal(client.clientFinal(serverFirst));
    return { serverFinal, client };
  }

  it('the right password authenticates and the server proves itself', () => {
    const { serverFinal, client } = handshake('alice', 's3cret, really');
    expect(() => client.verifyServerFinal(serverFinal)).not.toThrow();
  });

  it('a wrong password fails with BAD_PROOF', () => {
    const error = scramErrorOf(() => handshake('alice', 'guess'));
    expect(error.code).toBe('BAD_PROOF');
  });

  it('an unknown user fails at the same step with the same code and text as a wrong password', () => {
    const wrongPassword = scramErrorOf(() => handshake('alice', 'guess'));
    const unknown = scramErrorOf(() => handshake('mallory', 'guess'));
    expect(unknown.code).toBe(wrongPassword.code);
    expect(unknown.message).toBe(wrongPassword.message.replace('alice', 'mallory'));
  });

  it("an unknown user's fake salt and iterations are the same on every handshake", () => {
    const first = server(users).serverFirst('n,,n=mallory,r=abc').split(',').slice(1);
    const second = server(users).serverFirst('n,,n=mallory,r=def').split(',').slice(1);
    expect(second).toEqual(first);
    expect(first[1]).toBe('i=4096');
  });

  it('a proof replayed against another server nonce fails', () => {
    const client = new ScramClient('alice', 's3cret, really', 'clientnonce');
    const exchange = server(users);
    const clientFinal = client.clientFinal(exchange.serverFirst(client.clientFirst()));
    const other = server(users);
    other.serverFirst('n,,n=alice,r=clientnonce');
    expect(scramErrorOf(() => other.serverFinal(clientFinal)).code).toBe('BAD_NONCE');
  });

  it('user names with "=" and "," are escaped as saslname', () => {
    expect(escapeSaslName('a=b,c')).toBe('a=3Db=2Cc');
    expect(unescapeSaslName('a=3Db=2Cc')).toBe('a=b,c');
    expect(scramErrorOf(() => unescapeSaslName('a=4Fb')).code).toBe('MALFORMED_MESSAGE');
    const odd = new Map([['a=b,c', scramCredential('pw')]]);
    const client = new ScramClient('a=b,c', 'pw');
    const exchange = new ScramServerExchange({ lookup: (name) => odd.get(name), fakeCredentialSecret: secret });
    const first = client.clientFirst();
    expect(first).toContain('n=a=3Db=2Cc,');
    const serverFinal = exchange.serverFinal(client.clientFinal(exchange.serverFirst(first)));
    expect(() => client.verifyServerFinal(serverFinal)).not.toThrow();
  });
});

describe('SCRAM-SHA-256 refusals', () => {
  it('the client refuses iteration counts below 4096 and above 1,000,000', () => {
    for (const iterations of ['4095', '1000001']) {
      const client = new ScramClient('user', 'pencil', 'abc');
      client.clientFirst();
      const serverFirst = `r=abcdef,s=${rfc.salt.toString('base64')},i=${iterations}`;
      expect(scramErrorOf(() => client.clientFinal(serverFirst)).code).toBe('BAD_ITERATIONS');
    }
  });

  it('the client refuses a server nonce that does not extend its own', () => {
    const client = new ScramClient('user', 'pencil', 'abc');
    client.clientFirst();
    const serverFirst = `r=xyzdef,s=${rfc.salt.toString('base64')},i=4096`;
    expect(scramErrorOf(() => client.clientFinal(serverFirst)).code).toBe('BAD_NONCE');
  });

  it('the server refuses channel binding, an authzid and malformed messages', () => {
    const users = new Map<string, ScramCredential>();
    expect(scramErrorOf(() => server(users).serverFirst('p=tls-unique,,n=u,r=a')).code).toBe('UNSUPPORTED');
    expect(scramErrorOf(() => server(users).serverFirst('n,a=admin,n=u,r=a')).code).toBe('UNSUPPORTED');
    expect(scramErrorOf(() => server(users).serverFirst('n,,r=a,n=u')).code).toBe('MALFORMED_MESSAGE');
    expect(scramErrorOf(() => server(users).serverFirst('hello')).code).toBe('MALFORMED_MESSAGE');
    expect(scramErrorOf(() => server(users).serverFirst('n,,n=u,r=a' + 'x'.repeat(5000))).code).toBe(
      'MALFORMED_MESSAGE',
    );
  });

  it('the server refuses a client-final with another channel binding', () => {
    const credential = scramCredential(rfc.password, { salt: rfc.salt });
    const exchange = server(new Map([[rfc.user, credential]]), rfc.serverNonce);
    exchange.serverFirst(rfc.clientFirst);
    const rebound = rfc.clientFinal.replace('c=biws', 'c=eSws');
    expect(scramErrorOf(() => exchange.serverFinal(rebound)).code).toBe('UNSUPPORTED');
  });

  it('credentials refuse short salts and low iteration counts', () => {
    expect(scramErrorOf(() => scramCredential('pw', { salt: Buffer.alloc(8) })).code).toBe('BAD_SALT');
    expect(scramErrorOf(() => scramCredential('pw', { iterations: 1000 })).code).toBe('BAD_ITERATIONS');
  });

  it('passwords: ASCII unchanged, controls refused, non-ASCII spaces mapped, NFKC applied', () => {
    expect(normalizePassword('pencil')).toBe('pencil');
    expect(scramErrorOf(() => normalizePassword('pen\u0007cil')).code).toBe('BAD_PASSWORD');
    expect(scramErrorOf(() => normalizePassword('')).code).toBe('BAD_PASSWORD');
    expect(normalizePassword('I\u00ADX')).toBe('IX'); // RFC 4013 example: soft hyphen mapped to nothing
    expect(normalizePassword('a\u00A0b')).toBe('a b');
    expect(normalizePassword('\u2168')).toBe('IX'); // RFC 4013 example: ROMAN NUMERAL NINE
  });
});
