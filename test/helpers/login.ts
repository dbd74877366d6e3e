/** Logging in over a real socket, as an IRC client does it: SASL PLAIN during registration, REGISTER before it. */
import { TestClient } from './client.js';
import type { Received } from './client.js';

export interface Login {
  readonly client: TestClient;
  /** 903 RPL_SASLSUCCESS came (else 904). */
  readonly ok: boolean;
  /** What arrived from the end of SASL to the end of the welcome burst (MODE +o for an operator account, ...). */
  readonly burst: readonly Received[];
}

/**
 * Connects, negotiates the sasl cap, sends `AUTHENTICATE PLAIN` and base64("\0account\0password") (IRCv3 SASL 3.1),
 * then ends CAP and registers as `nick` whatever the answer was.
 */
export async function saslPlain(port: number, nick: string, account: string, password: string, client?: TestClient): Promise<Login> {
  const connection = client ?? (await TestClient.connect(port));
  connection.nick = nick;
  connection.send('CAP LS 302');
  connection.send(`NICK ${nick}`);
  connection.send(`USER ${nick} 0 * :${nick} test`);
  connection.send('CAP REQ :sasl');
  await connection.expect((m) => m.command === 'CAP' && m.params[1] === 'ACK');
  connection.send('AUTHENTICATE PLAIN');
  await connection.expect((m) => m.command === 'AUTHENTICATE' && m.params[0] === '+');
  connection.send(`AUTHENTICATE ${Buffer.from(`\0${account}\0${password}`).toString('base64')}`);
  const result = await connection.expect((m) => m.command === '903' || m.command === '904', 5000);
  connection.send('CAP END');
  await connection.expect((m) => m.command === '376' || m.command === '422');
  return { client: connection, ok: result.command === '903', burst: await connection.roundtrip() };
}

/**
 * Creates an account with draft/account-registration before connecting (`REGISTER <name> * <password>`), then
 * registers; resolves once `REGISTER SUCCESS` and the welcome burst have come.
 */
export async function registerAccount(port: number, name: string, password: string): Promise<TestClient> {
  const client = await TestClient.connect(port);
  client.nick = name;
  client.send('CAP LS 302');
  client.send('CAP REQ :draft/account-registration');
  await client.expect((m) => m.command === 'CAP' && m.params[1] === 'ACK');
  client.send(`NICK ${name}`);
  client.send(`USER ${name} 0 * :${name} test`);
  client.send(`REGISTER ${name} * ${password}`);
  const reply = await client.expect((m) => m.command === 'REGISTER' || (m.command === 'FAIL' && m.params[0] === 'REGISTER'), 5000);
  if (reply.command !== 'REGISTER' || reply.params[0] !== 'SUCCESS') throw new Error(`REGISTER ${name} failed: ${reply.raw}`);
  client.send('CAP END');
  await client.expect((m) => m.command === '376' || m.command === '422');
  client.drain();
  return client;
}

/**
 * Logs in with SASL PLAIN before registering, asking for `caps` too; resolves with the client once welcomed. Its
 * nick is the one the server welcomed it under (a second device of an account takes its user's nick).
 */
export async function loggedInWithCaps(port: number, nick: string, account: string, password: string, caps: readonly string[]): Promise<TestClient> {
  const client = await TestClient.connect(port);
  client.nick = nick;
  client.send('CAP LS 302');
  client.send(`CAP REQ :${['sasl', ...caps].join(' ')}`);
  client.send(`NICK ${nick}`);
  client.send(`USER ${nick} 0 * :${nick} test`);
  await client.expect((m) => m.command === 'CAP' && m.params[1] === 'ACK');
  client.send('AUTHENTICATE PLAIN');
  await client.expect('AUTHENTICATE');
  client.send(`AUTHENTICATE ${Buffer.from(`\0${account}\0${password}`).toString('base64')}`);
  await client.expect('903');
  client.send('CAP END');
  const welcome = await client.expect('001');
  client.nick = welcome.params[0] ?? nick;
  await client.expect((m) => m.command === '376' || m.command === '422');
  await client.roundtrip();
  return client;
}
