/**
 * Whispers (issue 7, part 3; docs/protocol.md "Whispers"): a PRIVMSG/NOTICE/TAGMSG to a nick carrying
 * +channel-context=#room (or +draft/channel-context) over real sockets. It reaches only that member, on every device,
 * and the sender's other devices; the room must exist and hold both, else FAIL <command> INVALID_CONTEXT and nobody
 * gets anything; history keeps it in the two parties' conversation, never in the room's.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createAccount } from '../src/core/accounts.js';
import type { Received, TestClient } from './helpers/client.js';
import { ClientPool, join, settle } from './helpers/clients.js';
import { loggedInWithCaps } from './helpers/login.js';
import { startTestServer } from './helpers/server.js';
import type { TestServer } from './helpers/server.js';

const PASSWORD = 'whisper-password';
const CAPS = ['batch', 'labeled-response', 'message-tags', 'server-time', 'echo-message', 'draft/chathistory'];

/** What a client got besides PONGs up to a barrier: the lines that would show a leak. */
async function received(client: TestClient): Promise<Received[]> {
  return (await client.roundtrip()).filter((m) => m.command !== 'PONG');
}

/** A labeled CHATHISTORY request's messages (inside its chathistory batch). */
async function chathistory(client: TestClient, line: string): Promise<Received[]> {
  const label = `h${Math.random().toString(36).slice(2, 8)}`;
  client.send(`@label=${label} CHATHISTORY ${line}`);
  const first = await client.expect((m) => m.tags?.get('label') === label, 5000);
  assert.equal(first.command, 'BATCH', `a batch answers CHATHISTORY: ${first.raw}`);
  const outer = (first.params[0] ?? '').slice(1);
  await client.expect((m) => m.command === 'BATCH' && m.params[0] === `-${outer}`, 5000);
  const lines = client.drain();
  const open = lines.find((m) => m.command === 'BATCH' && m.params[1] === 'chathistory');
  assert.ok(open !== undefined, `a chathistory batch:\n${lines.map((m) => m.raw).join('\n')}`);
  const ref = (open.params[0] ?? '').slice(1);
  return lines.filter((m) => m.tags?.get('batch') === ref);
}

describe('whispers (+channel-context)', () => {
  let server: TestServer;
  const pool = new ClientPool(() => server.port);
  const open: TestClient[] = [];
  let serial = 0;

  /** A new account and `devices` SASL logins to it, each with CAPS. */
  async function user(name: string, devices: number): Promise<TestClient[]> {
    const account = `${name}${++serial}`;
    await createAccount(server.server.network, server.store, server.server.auth, account, PASSWORD);
    const logins: TestClient[] = [];
    for (let index = 0; index < devices; index++) logins.push(await loggedInWithCaps(server.port, account, account, PASSWORD, CAPS));
    open.push(...logins);
    return logins;
  }

  /** A room holding everyone given, inboxes cleared. */
  async function roomOf(...clients: TestClient[]): Promise<string> {
    const room = pool.room();
    for (const client of clients) await join(client, room);
    await settle(...clients);
    return room;
  }

  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    for (const client of open) client.close();
    pool.closeAll();
    await server.stop();
  });

  it('reaches exactly the one member (on every device) and the sender’s other devices; three other members get nothing', async () => {
    const [laptop, phone] = (await user('alice', 2)) as [TestClient, TestClient];
    const [bobDesk, bobPhone] = (await user('bob', 2)) as [TestClient, TestClient];
    const carol = await pool.connect('carol', ['message-tags', 'echo-message']);
    const dave = await pool.connect('dave');
    const erin = await pool.connect('erin', CAPS);
    // One device of each account joins; the account's other device is in the room with it (multi-device).
    const room = await roomOf(laptop, bobDesk, carol, dave, erin);
    await settle(phone, bobPhone);

    laptop.send(`@+channel-context=${room} PRIVMSG ${bobDesk.nick} :psst, only you`);
    for (const device of [bobDesk, bobPhone]) {
      const heard = await device.expect((m) => m.command === 'PRIVMSG' && m.params[1] === 'psst, only you');
      assert.equal(heard.params[0], bobDesk.nick, 'a private message to the nick');
      assert.equal(heard.source?.split('!')[0], laptop.nick);
      assert.equal(heard.tags?.get('+channel-context'), room, 'the room it was said in');
      assert.equal(heard.tags.get('+draft/channel-context'), room, 'and in the older spelling, for older clients');
    }
    const echo = await laptop.expect((m) => m.command === 'PRIVMSG' && m.params[1] === 'psst, only you');
    assert.equal(echo.tags?.get('+channel-context'), room, 'the sender’s echo (echo-message) carries the tag');
    const other = await phone.expect((m) => m.command === 'PRIVMSG' && m.params[1] === 'psst, only you');
    assert.equal(other.tags?.get('+channel-context'), room, 'the sender’s other device sees it, tag and all');
    assert.equal(other.tags.get('msgid'), echo.tags.get('msgid'), 'one message');

    for (const member of [carol, dave, erin]) assert.deepEqual((await received(member)).map((m) => m.raw), [], `${member.nick} got nothing`);
    for (const device of [laptop, phone, bobDesk, bobPhone]) assert.deepEqual((await received(device)).map((m) => m.raw), [], `${device.nick}: once only`);
  });

  it('the older +draft/channel-context alone is accepted, and both tags name the room as it is spelled', async () => {
    const alice = await pool.connect('alice', ['message-tags', 'echo-message']);
    const bob = await pool.connect('bob', ['message-tags']);
    const room = await roomOf(alice, bob);
    const shouted = room.toUpperCase();
    alice.send(`@+draft/channel-context=${shouted} PRIVMSG ${bob.nick} :old style`);
    const heard = await bob.expect((m) => m.command === 'PRIVMSG' && m.params[1] === 'old style');
    assert.equal(heard.tags?.get('+draft/channel-context'), room);
    assert.equal(heard.tags.get('+channel-context'), room);
  });

  it('a recipient without message-tags gets a plain private message; TAGMSG whispers reach only message-tags clients', async () => {
    const alice = await pool.connect('alice', ['message-tags', 'echo-message']);
    const plain = await pool.connect('plain');
    const tagged = await pool.connect('tagged', ['message-tags']);
    const room = await roomOf(alice, plain, tagged);
    alice.send(`@+channel-context=${room} PRIVMSG ${plain.nick} :hello plain`);
    const heard = await plain.expect((m) => m.command === 'PRIVMSG' && m.params[1] === 'hello plain');
    assert.equal(heard.tags, undefined, 'no tags at all');
    assert.equal(heard.raw, `:${alice.nick}!~${alice.nick}@127.0.0.1 PRIVMSG ${plain.nick} :hello plain`);
    alice.send(`@+channel-context=${room};+typing=active TAGMSG ${tagged.nick}`);
    const typing = await tagged.expect('TAGMSG');
    assert.equal(typing.tags?.get('+channel-context'), room);
    alice.send(`@+channel-context=${room};+typing=active TAGMSG ${plain.nick}`);
    await settle(alice);
    assert.deepEqual((await received(plain)).map((m) => m.raw), []);
  });

  it('refuses a whisper to a non-member, from a non-member, in a room that does not exist, or naming two rooms: FAIL INVALID_CONTEXT, nothing delivered', async () => {
    const alice = await pool.connect('alice', ['message-tags', 'echo-message', 'standard-replies']);
    const bob = await pool.connect('bob', ['message-tags']);
    const outsider = await pool.connect('outsider', ['message-tags', 'echo-message']);
    const witness = await pool.connect('witness', ['message-tags']);
    const room = await roomOf(alice, bob, witness);
    const elsewhere = await roomOf(outsider, alice);
    await settle(alice, bob, outsider, witness);

    const refusal = async (from: TestClient, line: string): Promise<string[]> => {
      from.send(line);
      const fail = await from.expect('FAIL');
      assert.deepEqual((await received(from)).map((m) => m.raw), [], 'no echo: nothing was sent');
      return fail.params;
    };

    const toOutsider = await refusal(alice, `@+channel-context=${room} PRIVMSG ${outsider.nick} :you are not here`);
    assert.deepEqual(toOutsider.slice(0, 4), ['PRIVMSG', 'INVALID_CONTEXT', outsider.nick, room]);
    assert.match(toOutsider[4] ?? '', new RegExp(`${outsider.nick} is not in ${room}`));

    const fromOutsider = await refusal(outsider, `@+channel-context=${room} PRIVMSG ${bob.nick} :I am not there`);
    assert.deepEqual(fromOutsider.slice(0, 4), ['PRIVMSG', 'INVALID_CONTEXT', bob.nick, room]);
    assert.match(fromOutsider[4] ?? '', /you are not in/);

    const nowhere = await refusal(alice, `@+channel-context=#no-such-room PRIVMSG ${bob.nick} :where?`);
    assert.deepEqual(nowhere.slice(0, 4), ['PRIVMSG', 'INVALID_CONTEXT', bob.nick, '#no-such-room']);
    assert.equal(nowhere[4], fromOutsider[4]?.replace(room, '#no-such-room'), 'the same answer as for a room one is not in: a secret room is not revealed');

    const twoRooms = await refusal(alice, `@+channel-context=${room};+draft/channel-context=${elsewhere} PRIVMSG ${bob.nick} :which room?`);
    assert.deepEqual(twoRooms.slice(0, 4), ['PRIVMSG', 'INVALID_CONTEXT', bob.nick, room]);

    const tagmsg = await refusal(outsider, `@+channel-context=${room};+typing=active TAGMSG ${bob.nick}`);
    assert.deepEqual(tagmsg.slice(0, 2), ['TAGMSG', 'INVALID_CONTEXT']);

    // NOTICE: refused the same, but silently (Modern IRC: no error answers a NOTICE).
    outsider.send(`@+channel-context=${room} NOTICE ${bob.nick} :a notice from outside`);
    assert.deepEqual((await received(outsider)).map((m) => m.raw), [], 'no FAIL, no echo');

    for (const member of [bob, witness, outsider, alice]) assert.deepEqual((await received(member)).map((m) => m.raw), [], `${member.nick} got nothing`);
  });

  it('a draft/multiline whisper is checked once and arrives as one batch carrying the room', async () => {
    const caps = ['message-tags', 'batch', 'draft/multiline', 'echo-message'];
    const alice = await pool.connect('alice', caps);
    const bob = await pool.connect('bob', caps);
    const outsider = await pool.connect('outsider', caps);
    const room = await roomOf(alice, bob);
    const send = (from: TestClient, ref: string): void => {
      from.send(`@+channel-context=${room} BATCH +${ref} draft/multiline ${bob.nick}`);
      from.send(`@batch=${ref} PRIVMSG ${bob.nick} :line one`);
      from.send(`@batch=${ref} PRIVMSG ${bob.nick} :line two`);
      from.send(`BATCH -${ref}`);
    };
    send(alice, 'w1');
    const opened = await bob.expect((m) => m.command === 'BATCH' && m.params[1] === 'draft/multiline');
    assert.equal(opened.tags?.get('+channel-context'), room);
    assert.equal(opened.params[2], bob.nick);
    await settle(bob);

    send(outsider, 'w2');
    const fail = await outsider.expect('FAIL');
    assert.deepEqual(fail.params.slice(0, 4), ['PRIVMSG', 'INVALID_CONTEXT', bob.nick, room]);
    assert.deepEqual((await received(bob)).map((m) => m.raw), [], 'bob got nothing of it');
  });

  it('history: the room’s CHATHISTORY never has it; the two parties’ conversation has it, with its tags', async () => {
    const [alice] = (await user('alice', 1)) as [TestClient];
    const [bob] = (await user('bob', 1)) as [TestClient];
    const [carol] = (await user('carol', 1)) as [TestClient];
    const room = await roomOf(alice, bob, carol);
    alice.send(`PRIVMSG ${room} :for everyone`);
    await alice.expect((m) => m.command === 'PRIVMSG' && m.params[1] === 'for everyone');
    alice.send(`@+channel-context=${room} PRIVMSG ${bob.nick} :between us`);
    const echo = await alice.expect((m) => m.command === 'PRIVMSG' && m.params[1] === 'between us');
    await bob.expect((m) => m.command === 'PRIVMSG' && m.params[1] === 'between us');
    await settle(alice, bob, carol);

    for (const member of [alice, bob, carol]) {
      const roomHistory = await chathistory(member, `LATEST ${room} * 50`);
      assert.deepEqual(roomHistory.filter((m) => m.command === 'PRIVMSG').map((m) => m.params[1]), ['for everyone'], `${member.nick}: the room's history has no whisper`);
    }
    for (const [me, them] of [[alice, bob], [bob, alice]] as const) {
      const conversation = (await chathistory(me, `LATEST ${them.nick} * 50`)).filter((m) => m.command === 'PRIVMSG');
      assert.deepEqual(conversation.map((m) => m.params[1]), ['between us'], `${me.nick}'s conversation with ${them.nick}`);
      const [kept] = conversation;
      assert.equal(kept?.tags?.get('+channel-context'), room, 'replayed with its room, so a client can place it there');
      assert.equal(kept.tags.get('+draft/channel-context'), room);
      assert.equal(kept.tags.get('msgid'), echo.tags?.get('msgid'));
    }
    const carolWithAlice = (await chathistory(carol, `LATEST ${alice.nick} * 50`)).filter((m) => m.command === 'PRIVMSG');
    assert.deepEqual(carolWithAlice, [], 'a third member reads nothing of it');
  });
});
