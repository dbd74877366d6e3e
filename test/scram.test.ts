import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deriveScramCredentials, ScramClient, ScramError, ScramServer } from '../src/auth/scram.js';

// RFC 7677 section 3: user "user", password "pencil".
const VECTOR = {
  clientNonce: 'rOprNGfwEbeRWgbNEkqO',
  serverNonce: '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0',
  salt: 'W22ZaJ0SNY7soEsUEjb6gQ==',
  clientFirst: 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO',
  serverFirst: 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
  clientFinal: 'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
  serverFinal: 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=',
};

describe('SCRAM-SHA-256 (RFC 7677 test vector)', () => {
  const credentials = deriveScramCredentials('pencil', Buffer.from(VECTOR.salt, 'base64'), 4096);

  it('the client produces the RFC client-first and client-final messages and accepts the server signature', () => {
    const client = new ScramClient('user', 'pencil', VECTOR.clientNonce);
    assert.equal(client.first(), VECTOR.clientFirst);
    assert.equal(client.final(VECTOR.serverFirst), VECTOR.clientFinal);
    assert.equal(client.verifyServer(VECTOR.serverFinal), true);
    assert.equal(client.verifyServer('v=AAAA'), false);
  });

  it('the server answers the RFC exchange with the RFC server-first and server-final messages', async () => {
    const server = new ScramServer((name) => Promise.resolve(name === 'user' ? credentials : undefined), VECTOR.serverNonce);
    assert.deepEqual(await server.step(VECTOR.clientFirst), { kind: 'challenge', data: VECTOR.serverFirst });
    assert.deepEqual(await server.step(VECTOR.clientFinal), { kind: 'success', data: VECTOR.serverFinal });
    assert.equal(server.username, 'user');
  });

  it('a wrong password fails at the proof', async () => {
    const server = new ScramServer(() => Promise.resolve(credentials));
    const client = new ScramClient('user', 'wrong');
    const first = await server.step(client.first());
    await assert.rejects(server.step(client.final(first.data)), ScramError);
  });

  it('an unknown user gets a challenge like any other and fails at the proof', async () => {
    const server = new ScramServer(() => Promise.resolve(undefined));
    const client = new ScramClient('ghost', 'pencil');
    const first = await server.step(client.first());
    assert.equal(first.kind, 'challenge');
    assert.match(first.data, /^r=.+,s=.+,i=4096$/);
    await assert.rejects(server.step(client.final(first.data)), ScramError);
  });

  it('malformed and channel-binding messages are refused', async () => {
    await assert.rejects(new ScramServer(() => Promise.resolve(credentials)).step('garbage'), ScramError);
    await assert.rejects(new ScramServer(() => Promise.resolve(credentials)).step('p=tls-unique,,n=user,r=abc'), ScramError);
    const server = new ScramServer(() => Promise.resolve(credentials));
    await server.step('n,,n=user,r=abc');
    await assert.rejects(server.step('c=biws,r=different,p=AAAA'), ScramError);
  });
});
