/**
 * IRCv3 draft/read-marker over real sockets: MARKREAD <target> [timestamp=...]. Get and set, forward only, every
 * connection of the account told of a change (multi-device), MARKREAD after JOIN, and guests refused.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { createAccount } from '../src/core/accounts.js';
import { TestClient } from './helpers/client.js';
import { loggedInWithCaps } from './helpers/login.js';
import type { Received } from './helpers/client.js';
import { ClientPool } from './helpers/clients.js';
import { startTestServer } from './helpers/server.js';
import type { TestServer } from './helpers/server.js';

const SERVER = 'test.natter';
const PASSWORD = 'correct-horse-battery';
const CAP = 'draft/read-marker';
const T1 = '2024-03-01T10:00:00.000Z';
const T2 = '2024-03-01T10:05:30.250Z';

/** SASL login asking for `caps`; the nick is the one the server welcomed (a device takes its user's). */
function loggedIn(port: number, nick: string, account: string, caps: string[]): Promise<TestClient> {
  return loggedInWithCaps(port, nick, account, PASSWORD, caps);
}

/** The MARKREAD lines a client got up to now (PING barrier), as their raw text. */
async function markreads(client: TestClient): Promise<string[]> {
  return (await client.roundtrip()).filter((m) => m.command === 'MARKREAD').map((m) => m.raw);
}

async function failure(client: TestClient): Promise<string[]> {
  const fail = await client.expect((m: Received) => m.command === 'FAIL' && m.params[0] === 'MARKREAD');
  return fail.params.slice(1, -1);
}

describe('read markers', () => {
  let server: TestServer;
  const pool = new ClientPool(() => server.port);
  const open: TestClient[] = [];
  let serial = 0;

  /** A fresh account, so tests sharing the server never share markers. */
  const account = async (): Promise<string> => {
    const name = `reader${++serial}`;
    await createAccount(server.server.network, server.store, server.server.auth, name, PASSWORD);
    return name;
  };
  const login = async (nick: string, name: string, caps: string[] = [CAP]): Promise<TestClient> => {
    const client = await loggedIn(server.port, nick, name, caps);
    open.push(client);
    return client;
  };

  before(async () => {
    server = await startTestServer({ accounts: { maxFailedLogins: 1000 } });
  });
  afterEach(() => {
    pool.closeAll();
    for (const client of open.splice(0)) client.close();
  });
  after(async () => {
    await server.stop();
  });

  it('get answers * before any set; set answers the stored timestamp; get then returns it', async () => {
    const name = await account();
    const alice = await login(name, name);
    alice.send('MARKREAD #somewhere');
    assert.deepEqual(await markreads(alice), [`:${SERVER} MARKREAD #somewhere *`]);
    alice.send(`MARKREAD #somewhere timestamp=${T1}`);
    assert.deepEqual(await markreads(alice), [`:${SERVER} MARKREAD #somewhere timestamp=${T1}`]);
    alice.send('MARKREAD #SOMEWHERE');
    assert.deepEqual(await markreads(alice), [`:${SERVER} MARKREAD #SOMEWHERE timestamp=${T1}`], 'the target is casefolded');
    const record = await server.store.findAccount(name);
    assert.equal(await server.store.getReadMarker(record!.id, '#somewhere'), Date.parse(T1), 'the store has it');
  });

  it('a nick target keeps its own marker, casefolded', async () => {
    const name = await account();
    const alice = await login(name, name);
    alice.send(`MARKREAD Bob timestamp=${T2}`);
    assert.deepEqual(await markreads(alice), [`:${SERVER} MARKREAD Bob timestamp=${T2}`]);
    alice.send('MARKREAD BOB');
    assert.deepEqual(await markreads(alice), [`:${SERVER} MARKREAD BOB timestamp=${T2}`]);
    alice.send('MARKREAD carol');
    assert.deepEqual(await markreads(alice), [`:${SERVER} MARKREAD carol *`]);
  });

  it('forward only: an older timestamp is answered with the stored one and nothing changes', async () => {
    const name = await account();
    const alice = await login(name, name);
    alice.send(`MARKREAD #fwd timestamp=${T2}`);
    assert.deepEqual(await markreads(alice), [`:${SERVER} MARKREAD #fwd timestamp=${T2}`]);
    alice.send(`MARKREAD #fwd timestamp=${T1}`);
    assert.deepEqual(await markreads(alice), [`:${SERVER} MARKREAD #fwd timestamp=${T2}`]);
    alice.send('MARKREAD #fwd');
    assert.deepEqual(await markreads(alice), [`:${SERVER} MARKREAD #fwd timestamp=${T2}`]);
  });

  it('a timestamp in the future is stored as now', async () => {
    const name = await account();
    const alice = await login(name, name);
    const before = Date.now();
    alice.send('MARKREAD #future timestamp=2999-01-01T00:00:00.000Z');
    const [reply] = (await alice.roundtrip()).filter((m) => m.command === 'MARKREAD');
    const stored = Date.parse((reply?.params[1] ?? '').replace(/^timestamp=/, ''));
    assert.ok(stored >= before && stored <= Date.now(), `stored ${reply?.raw ?? 'nothing'}`);
  });

  it('two devices of one account: a set on one is sent to the other; a device without the cap hears nothing', async () => {
    const name = await account();
    const laptop = await login(name, name);
    const phone = await login(`${name}phone`, name);
    const old = await login(`${name}old`, name, []);
    assert.equal(phone.nick, laptop.nick, 'the second login is a device of the same user');
    assert.equal(old.nick, laptop.nick);
    laptop.send(`MARKREAD #sync timestamp=${T1}`);
    const line = `:${SERVER} MARKREAD #sync timestamp=${T1}`;
    assert.deepEqual(await markreads(laptop), [line], 'the setter gets its answer once');
    assert.deepEqual(await markreads(phone), [line]);
    assert.deepEqual(await old.roundtrip(), []);
    // Nothing changes, nobody else is told.
    laptop.send(`MARKREAD #sync timestamp=${T1}`);
    assert.deepEqual(await markreads(laptop), [line]);
    assert.deepEqual(await markreads(phone), []);
  });

  it('a device without the cap may still set, and gets its answer; the devices with the cap are told', async () => {
    const name = await account();
    const withCap = await login(name, name);
    const without = await login(`${name}b`, name, []);
    without.send(`MARKREAD #nocap timestamp=${T2}`);
    const line = `:${SERVER} MARKREAD #nocap timestamp=${T2}`;
    assert.deepEqual(await markreads(without), [line]);
    assert.deepEqual(await markreads(withCap), [line]);
  });

  it('after JOIN, MARKREAD for the room comes before RPL_ENDOFNAMES; * for a room never marked; nothing without the cap', async () => {
    const name = await account();
    const alice = await login(name, name);
    const marked = pool.room();
    alice.send(`MARKREAD ${marked} timestamp=${T1}`);
    await alice.roundtrip();
    alice.send(`JOIN ${marked}`);
    const burst = (await alice.roundtrip()).map((m) => m.command === 'MARKREAD' ? m.raw : m.command);
    assert.deepEqual(burst, ['JOIN', `:${SERVER} MARKREAD ${marked} timestamp=${T1}`, '353', '366']);
    const fresh = pool.room();
    alice.send(`JOIN ${fresh}`);
    assert.deepEqual(await markreads(alice), [`:${SERVER} MARKREAD ${fresh} *`]);
    const plainName = await account();
    const plain = await login(plainName, plainName, []);
    plain.send(`JOIN ${marked}`);
    await plain.expect('366');
    assert.deepEqual(await markreads(plain), []);
  });

  it('after JOIN, the other devices of the user with the cap get MARKREAD too', async () => {
    const name = await account();
    const laptop = await login(name, name);
    const phone = await login(`${name}p`, name);
    const channel = pool.room();
    laptop.send(`MARKREAD ${channel} timestamp=${T2}`);
    await laptop.roundtrip();
    await phone.roundtrip();
    laptop.send(`JOIN ${channel}`);
    await laptop.expect('366');
    const seen = (await phone.roundtrip()).map((m) => (m.command === 'MARKREAD' ? m.raw : m.command));
    assert.deepEqual(seen, ['JOIN', `:${SERVER} MARKREAD ${channel} timestamp=${T2}`, '353', '366'], 'the JOIN, its marker, then its NAMES (multi-device)');
  });

  it('guests are refused with FAIL MARKREAD ACCOUNT_REQUIRED; a guest with the cap gets * after JOIN', async () => {
    const guest = await pool.connect('guest', [CAP]);
    guest.send('MARKREAD #x');
    assert.deepEqual(await failure(guest), ['ACCOUNT_REQUIRED', '#x']);
    guest.send(`MARKREAD #x timestamp=${T1}`);
    assert.deepEqual(await failure(guest), ['ACCOUNT_REQUIRED', '#x']);
    const channel = pool.room();
    guest.send(`JOIN ${channel}`);
    assert.deepEqual(await markreads(guest), [`:${SERVER} MARKREAD ${channel} *`]);
  });

  it('missing parameters: FAIL NEED_MORE_PARAMS; a bad timestamp or target: FAIL INVALID_PARAMS', async () => {
    const name = await account();
    const alice = await login(name, name);
    alice.send('MARKREAD');
    assert.deepEqual(await failure(alice), ['NEED_MORE_PARAMS']);
    for (const bad of ['*', '2024-03-01T10:00:00.000Z', 'timestamp=2024-03-01T10:00:00Z', 'timestamp=2024-02-30T10:00:00.000Z', 'timestamp=yesterday']) {
      alice.send(`MARKREAD #bad ${bad}`);
      assert.deepEqual(await failure(alice), ['INVALID_PARAMS', '#bad', bad], bad);
    }
    alice.send('MARKREAD no,such');
    assert.deepEqual(await failure(alice), ['INVALID_PARAMS', 'no,such']);
    alice.send('MARKREAD #bad');
    assert.deepEqual(await markreads(alice), [`:${SERVER} MARKREAD #bad *`], 'nothing was stored');
  });
});
