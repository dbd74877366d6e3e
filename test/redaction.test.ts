/**
 * IRCv3 draft/message-redaction over real sockets: REDACT <target> <msgid> [:reason]. Who may redact (the author,
 * room moderators, server operators; authorsMayRedact), what recipients see, the FAIL codes, and that the message
 * is gone from history afterwards.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { createAccount } from '../src/core/accounts.js';
import { TestClient } from './helpers/client.js';
import { loggedInWithCaps } from './helpers/login.js';
import type { Received } from './helpers/client.js';
import { ClientPool, join, mask, settle } from './helpers/clients.js';
import { startTestServer } from './helpers/server.js';
import type { TestServer } from './helpers/server.js';

const PASSWORD = 'correct-horse-battery';
/** What a client that redacts needs: msgids (message-tags), its own msgids (echo-message), and the cap. */
const REDACTOR = ['message-tags', 'echo-message', 'draft/message-redaction'];
const WATCHER = ['message-tags', 'draft/message-redaction'];

/** Sends a PRIVMSG and returns its msgid, read from the echo. */
async function say(client: TestClient, target: string, text: string): Promise<string> {
  client.send(`PRIVMSG ${target} :${text}`);
  const echo = await client.expect((m) => m.command === 'PRIVMSG' && m.params[1] === text);
  const msgid = echo.tags?.get('msgid');
  assert.ok(msgid !== undefined && msgid !== '', `no msgid on ${echo.raw}`);
  return msgid;
}

function redacts(message: Received | undefined): [string | undefined, ...string[]] | undefined {
  return message?.command === 'REDACT' ? [message.source, ...message.params] : undefined;
}

/** The REDACT lines a client got up to now (PING barrier), as [source, ...params]. */
async function redactions(client: TestClient): Promise<Array<[string | undefined, ...string[]]>> {
  return (await client.roundtrip()).flatMap((m) => {
    const r = redacts(m);
    return r === undefined ? [] : [r];
  });
}

async function failure(client: TestClient): Promise<string[]> {
  const fail = await client.expect((m) => m.command === 'FAIL' && m.params[0] === 'REDACT');
  return fail.params.slice(1, -1);
}

/** SASL login asking for `caps`; the nick is the one the server welcomed (a device takes its user's). */
function loggedIn(port: number, nick: string, account: string, caps: string[]): Promise<TestClient> {
  return loggedInWithCaps(port, nick, account, PASSWORD, caps);
}

describe('message redaction', () => {
  let server: TestServer;
  const pool = new ClientPool(() => server.port);
  const { connect, roomWith } = pool;
  const extra: TestClient[] = [];
  const fold = (name: string): string => server.server.network.fold(name);
  const stored = async (target: string, msgid: string): Promise<boolean> => (await server.store.findHistory(target, msgid)) !== undefined;

  before(async () => {
    server = await startTestServer({ accounts: { maxFailedLogins: 1000 } });
    for (const name of ['redauthor', 'redoper']) await createAccount(server.server.network, server.store, server.server.auth, name, PASSWORD);
    await server.store.setOper('redoper', true);
  });
  afterEach(() => {
    pool.closeAll();
    for (const client of extra.splice(0)) client.close();
  });
  after(async () => {
    await server.stop();
  });

  it('the author redacts their own room message: members with the cap get REDACT with the reason, history no longer has it', async () => {
    const alice = await connect('alice', REDACTOR);
    const bob = await connect('bob', WATCHER);
    const carol = await connect('carol', ['message-tags']);
    const channel = await roomWith(alice, bob, carol);
    const msgid = await say(alice, channel, 'oops, wrong room');
    await settle(alice, bob, carol);
    assert.ok(await stored(fold(channel), msgid), 'the message was in history');
    alice.send(`REDACT ${channel} ${msgid} :wrong room`);
    const expected = [[mask(alice), channel, msgid, 'wrong room']];
    assert.deepEqual(await redactions(alice), expected);
    assert.deepEqual(await redactions(bob), expected);
    assert.deepEqual(await carol.roundtrip(), [], 'a member without the cap gets nothing at all');
    assert.equal(await stored(fold(channel), msgid), false);
  });

  it('the REDACT carries a msgid of its own, and without a reason has no third parameter', async () => {
    const alice = await connect('alice', REDACTOR);
    const bob = await connect('bob', WATCHER);
    const channel = await roomWith(alice, bob);
    const msgid = await say(alice, channel, 'short-lived');
    await settle(alice, bob);
    alice.send(`REDACT ${channel} ${msgid}`);
    const seen = await bob.expect('REDACT');
    assert.deepEqual(seen.params, [channel, msgid]);
    const own = seen.tags?.get('msgid');
    assert.ok(own !== undefined && own !== '' && own !== msgid);
  });

  it('labeled-response: the redactor gets the REDACT as the labeled response', async () => {
    const alice = await connect('alice', [...REDACTOR, 'labeled-response', 'batch']);
    const channel = await roomWith(alice);
    const msgid = await say(alice, channel, 'labeled');
    await settle(alice);
    alice.send(`@label=r1 REDACT ${channel} ${msgid}`);
    const reply = await alice.expect((m) => m.tags?.get('label') === 'r1');
    assert.equal(reply.command, 'REDACT');
    assert.deepEqual(reply.params, [channel, msgid]);
  });

  it('a room operator redacts another member\'s message', async () => {
    const op = await connect('op', REDACTOR);
    const bob = await connect('bob', REDACTOR);
    const channel = await roomWith(op, bob);
    const msgid = await say(bob, channel, 'spam spam');
    await settle(op, bob);
    op.send(`REDACT ${channel} ${msgid} :spam`);
    assert.deepEqual(await redactions(bob), [[mask(op), channel, msgid, 'spam']]);
    assert.deepEqual(await redactions(op), [[mask(op), channel, msgid, 'spam']]);
    assert.equal(await stored(fold(channel), msgid), false);
  });

  it('a plain member (or a half-operator) may not redact another\'s message: REDACT_FORBIDDEN, and it stays', async () => {
    const op = await connect('op', REDACTOR);
    const bob = await connect('bob', REDACTOR);
    const hop = await connect('hop', REDACTOR);
    const channel = await roomWith(op, bob, hop);
    op.send(`MODE ${channel} +h ${hop.nick}`);
    await op.expect('MODE');
    const msgid = await say(op, channel, 'mine');
    await settle(op, bob, hop);
    for (const member of [bob, hop]) {
      member.send(`REDACT ${channel} ${msgid}`);
      assert.deepEqual(await failure(member), ['REDACT_FORBIDDEN', channel, msgid]);
    }
    assert.deepEqual(await redactions(op), []);
    assert.ok(await stored(fold(channel), msgid));
  });

  it('someone outside the room is told UNKNOWN_MSGID, not whether the message exists', async () => {
    const alice = await connect('alice', REDACTOR);
    const outsider = await connect('outsider', REDACTOR);
    const channel = await roomWith(alice);
    const msgid = await say(alice, channel, 'members only');
    outsider.send(`REDACT ${channel} ${msgid}`);
    assert.deepEqual(await failure(outsider), ['UNKNOWN_MSGID', channel, msgid]);
    assert.ok(await stored(fold(channel), msgid));
  });

  it('unknown msgids, a msgid of another room, and targets that are not rooms or users online', async () => {
    const alice = await connect('alice', REDACTOR);
    const channel = await roomWith(alice);
    const other = await roomWith(alice);
    const msgid = await say(alice, other, 'elsewhere');
    alice.send(`REDACT ${channel} nosuchmsgid`);
    assert.deepEqual(await failure(alice), ['UNKNOWN_MSGID', channel, 'nosuchmsgid']);
    alice.send(`REDACT ${channel} ${msgid}`);
    assert.deepEqual(await failure(alice), ['UNKNOWN_MSGID', channel, msgid]);
    alice.send(`REDACT #nosuchroom ${msgid}`);
    assert.deepEqual(await failure(alice), ['INVALID_TARGET', '#nosuchroom']);
    alice.send(`REDACT nobodyhere ${msgid}`);
    assert.deepEqual(await failure(alice), ['INVALID_TARGET', 'nobodyhere']);
    assert.ok(await stored(fold(other), msgid), 'the message of the other room is untouched');
  });

  it('a private message: the author redacts it, the other party with the cap gets REDACT; the other party may not', async () => {
    const alice = await connect('alice', REDACTOR);
    const bob = await connect('bob', REDACTOR);
    const msgid = await say(alice, bob.nick, 'psst');
    const fromBob = await say(bob, alice.nick, 'what?');
    await settle(alice, bob);
    bob.send(`REDACT ${alice.nick} ${msgid}`);
    assert.deepEqual(await failure(bob), ['REDACT_FORBIDDEN', alice.nick, msgid]);
    alice.send(`REDACT ${bob.nick} ${msgid} :never mind`);
    assert.deepEqual(await redactions(bob), [[mask(alice), bob.nick, msgid, 'never mind']]);
    assert.deepEqual(await redactions(alice), [[mask(alice), bob.nick, msgid, 'never mind']]);
    alice.send(`REDACT ${bob.nick} ${fromBob}`);
    assert.deepEqual(await failure(alice), ['REDACT_FORBIDDEN', bob.nick, fromBob]);
  });

  it('a private message: a recipient without the cap gets nothing', async () => {
    const alice = await connect('alice', REDACTOR);
    const bob = await connect('bob', ['message-tags']);
    const msgid = await say(alice, bob.nick, 'hello');
    await settle(alice, bob);
    alice.send(`REDACT ${bob.nick} ${msgid}`);
    assert.deepEqual(await redactions(alice), [[mask(alice), bob.nick, msgid]]);
    assert.deepEqual(await bob.roundtrip(), []);
  });

  it('a guest\'s message belongs to its session only: the same nick!user@host reconnecting later may not redact it', async () => {
    const first = await connect('guest', REDACTOR);
    const op = await connect('op', REDACTOR);
    const channel = await roomWith(first, op);
    const msgid = await say(first, channel, 'said as a guest');
    const nick = first.nick;
    await first.quit();
    // A new session signs on in a later second than the message.
    await new Promise((resolve) => setTimeout(resolve, 1050 - (Date.now() % 1000)));
    const again = await TestClient.register(server.port, nick, { caps: REDACTOR });
    extra.push(again);
    await join(again, channel);
    again.send(`REDACT ${channel} ${msgid}`);
    assert.deepEqual(await failure(again), ['REDACT_FORBIDDEN', channel, msgid]);
    assert.ok(await stored(fold(channel), msgid));
  });

  it('a logged-in author may redact from a later session of the same account', async () => {
    const first = await loggedIn(server.port, 'authornick', 'redauthor', REDACTOR);
    extra.push(first);
    const watcher = await connect('watcher', WATCHER);
    const channel = await roomWith(watcher, first);
    const msgid = await say(first, channel, 'from my laptop');
    await first.quit();
    const later = await loggedIn(server.port, 'authorlater', 'redauthor', REDACTOR);
    extra.push(later);
    await join(later, channel);
    await settle(watcher);
    later.send(`REDACT ${channel} ${msgid}`);
    assert.deepEqual(await redactions(watcher), [[mask(later), channel, msgid]]);
    assert.equal(await stored(fold(channel), msgid), false);
  });

  it('a server operator redacts in a room where they have no rank', async () => {
    const alice = await connect('alice', REDACTOR);
    const oper = await loggedIn(server.port, 'operator', 'redoper', REDACTOR);
    extra.push(oper);
    const channel = await roomWith(alice, oper);
    const msgid = await say(alice, channel, 'against the rules');
    await settle(alice, oper);
    oper.send(`REDACT ${channel} ${msgid} :rules`);
    assert.deepEqual(await redactions(alice), [[mask(oper), channel, msgid, 'rules']]);
    assert.equal(await stored(fold(channel), msgid), false);
  });

  it('a message redacted once is unknown the second time', async () => {
    const alice = await connect('alice', REDACTOR);
    const channel = await roomWith(alice);
    const msgid = await say(alice, channel, 'twice');
    alice.send(`REDACT ${channel} ${msgid}`);
    await alice.expect('REDACT');
    alice.send(`REDACT ${channel} ${msgid}`);
    assert.deepEqual(await failure(alice), ['UNKNOWN_MSGID', channel, msgid]);
  });
});

describe('message redaction with authorsMayRedact off', () => {
  let server: TestServer;
  const pool = new ClientPool(() => server.port);
  const { connect, roomWith } = pool;

  before(async () => {
    server = await startTestServer({ history: { authorsMayRedact: false } });
  });
  afterEach(() => {
    pool.closeAll();
  });
  after(async () => {
    await server.stop();
  });

  it('the author is refused with REDACT_FORBIDDEN; a room operator still redacts', async () => {
    const op = await connect('op', REDACTOR);
    const bob = await connect('bob', REDACTOR);
    const channel = await roomWith(op, bob);
    const msgid = await say(bob, channel, 'regrets');
    await settle(op, bob);
    bob.send(`REDACT ${channel} ${msgid}`);
    assert.deepEqual(await failure(bob), ['REDACT_FORBIDDEN', channel, msgid]);
    assert.ok((await server.store.findHistory(server.server.network.fold(channel), msgid)) !== undefined);
    op.send(`REDACT ${channel} ${msgid}`);
    assert.deepEqual(await redactions(bob), [[mask(op), channel, msgid]]);
  });

  it('the author of a private message is refused too', async () => {
    const alice = await connect('alice', REDACTOR);
    const bob = await connect('bob', REDACTOR);
    const msgid = await say(alice, bob.nick, 'hm');
    alice.send(`REDACT ${bob.nick} ${msgid}`);
    assert.deepEqual(await failure(alice), ['REDACT_FORBIDDEN', bob.nick, msgid]);
  });
});
