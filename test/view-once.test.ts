/**
 * natter.chat/view-once over real sockets (docs/extensions/view-once.md): a sealed placeholder with a msgid for each
 * recipient, VIEWONCE OPEN releasing the content once, the content in the clear (marked) for a client without the
 * cap, never in CHATHISTORY, and no row left in the store once every recipient opened it or it expired.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { createAccount } from '../src/core/accounts.js';
import { SEALED_TEXT } from '../src/core/view-once.js';
import { TestClient } from './helpers/client.js';
import type { Received } from './helpers/client.js';
import { ClientPool, join as joinRoom, settle } from './helpers/clients.js';
import { loggedInWithCaps } from './helpers/login.js';
import { startTestServer, tempDataDir } from './helpers/server.js';
import type { TestServer } from './helpers/server.js';

const PASSWORD = 'view-once-password';
/** A client that sends and opens view-once messages: msgids (message-tags), its own msgid (echo-message), the cap. */
const VO = ['message-tags', 'echo-message', 'natter.chat/view-once'];
const DAY = 86_400_000;

const secret = (): string => `secret ${randomBytes(6).toString('hex')}`;

const isSealed = (m: Received): boolean => m.command === 'PRIVMSG' && m.tags?.has('natter.chat/view-once') === true;

/** Sends a view-once PRIVMSG and returns its msgid, read from the sealed echo. */
async function sendViewOnce(sender: TestClient, target: string, text: string, tag = 'natter.chat/view-once'): Promise<string> {
  sender.send(`@${tag} PRIVMSG ${target} :${text}`);
  const echo = await sender.expect(isSealed);
  assert.equal(echo.params[1], SEALED_TEXT, 'the echo carries no content');
  const msgid = echo.tags?.get('msgid');
  assert.ok(msgid !== undefined && msgid !== '', `no msgid on ${echo.raw}`);
  return msgid;
}

/** Waits for the sealed message `msgid` and checks it carries nothing of the content. */
async function expectSealed(client: TestClient, msgid: string, target: string): Promise<Received> {
  const sealed = await client.expect((m) => isSealed(m) && m.tags?.get('msgid') === msgid);
  assert.deepEqual(sealed.params, [target, SEALED_TEXT]);
  return sealed;
}

/** VIEWONCE OPEN: the CONTENT's text, or the FAIL's code. */
async function open(client: TestClient, msgid: string): Promise<{ content?: string; fail?: string; reply: Received }> {
  client.send(`VIEWONCE OPEN ${msgid}`);
  const reply = await client.expect((m) => (m.command === 'VIEWONCE' && m.params[0] === 'CONTENT') || (m.command === 'FAIL' && m.params[0] === 'VIEWONCE'));
  if (reply.command === 'FAIL') {
    assert.equal(reply.params[2], msgid, 'the FAIL names the msgid');
    return { fail: reply.params[1] ?? '', reply };
  }
  assert.equal(reply.params[1], msgid);
  return { content: reply.params[2] ?? '', reply };
}

describe('view-once messages', () => {
  let server: TestServer;
  const pool = new ClientPool(() => server.port);
  const { connect, roomWith } = pool;
  const extra: TestClient[] = [];
  let accountSerial = 0;

  /** Rows of the view-once tables, and history rows holding `text`, read from the SQLite file itself. */
  function rows(text = '\u0000none'): { messages: number; recipients: number; history: number } {
    const db = new BetterSqlite3(join(server.dataDir, 'natter.db'), { readonly: true });
    try {
      const count = (sql: string, ...params: string[]): number => (db.prepare(sql).get(...params) as { n: number }).n;
      return {
        messages: count('SELECT count(*) AS n FROM view_once'),
        recipients: count('SELECT count(*) AS n FROM view_once_recipients'),
        history: count("SELECT count(*) AS n FROM history WHERE instr(params, ?) > 0 OR instr(coalesce(tags, ''), ?) > 0", text, text),
      };
    } finally {
      db.close();
    }
  }

  /** A new account and a function logging a device in to it with `caps`. */
  async function account(): Promise<{ name: string; device: (caps: string[]) => Promise<TestClient> }> {
    const name = `vo${++accountSerial}`;
    await createAccount(server.server.network, server.store, server.server.auth, name, PASSWORD);
    return {
      name,
      device: async (caps) => {
        const client = await loggedInWithCaps(server.port, name, name, PASSWORD, caps);
        extra.push(client);
        return client;
      },
    };
  }

  before(async () => {
    server = await startTestServer({ accounts: { maxFailedLogins: 1000 } });
  });
  afterEach(async () => {
    pool.closeAll();
    for (const client of extra.splice(0)) client.close();
    // Each test starts from an empty view-once store.
    await server.server.sweepViewOnce(Number.MAX_SAFE_INTEGER);
  });
  after(async () => {
    await server.stop();
  });

  it('the cap is offered and ISUPPORT says how long a message waits (viewOnce.ttlHours, 7 days by default)', async () => {
    const client = await TestClient.connect(server.port);
    extra.push(client);
    const { tokens } = await client.capLs();
    assert.ok(tokens.includes('natter.chat/view-once'), tokens.join(' '));
    client.send('CAP END');
    client.send('NICK vocaps');
    client.send('USER vocaps 0 * :vocaps');
    const isupport = await client.expect((m) => m.command === '005' && m.params.some((p) => p.startsWith('natter.chat/VIEWONCE=')));
    assert.ok(isupport.params.includes('natter.chat/VIEWONCE=604800'), isupport.raw);
  });

  it('a view-once private message is delivered sealed with its msgid, opened once, and a second OPEN is refused with ALREADY_OPENED', async () => {
    const alice = await connect('alice', VO);
    const bob = await connect('bob', [...VO, 'labeled-response']);
    const text = secret();
    const msgid = await sendViewOnce(alice, bob.nick, text);
    const sealed = await expectSealed(bob, msgid, bob.nick);
    assert.ok(!sealed.raw.includes(text));
    assert.deepEqual(rows(text), { messages: 1, recipients: 1, history: 0 }, 'kept for bob alone, not in history');

    bob.send(`@label=vo1 VIEWONCE OPEN ${msgid}`);
    const content = await bob.expect((m) => m.command === 'VIEWONCE');
    assert.deepEqual(content.params, ['CONTENT', msgid, text]);
    assert.equal(content.tags?.get('label'), 'vo1', 'the CONTENT is the labeled response');
    assert.equal(content.source, 'test.natter');

    assert.deepEqual((await open(bob, msgid)).fail, 'ALREADY_OPENED');
    assert.deepEqual(rows(text), { messages: 0, recipients: 0, history: 0 }, 'no trace left in the store');
    await settle(alice, bob);
  });

  it('a view-once room message reaches each other member sealed; each opens it once; it is gone after the last', async () => {
    const alice = await connect('alice', VO);
    const bob = await connect('bob', VO);
    const carol = await connect('carol', VO);
    const channel = await roomWith(alice, bob, carol);
    const text = secret();
    const msgid = await sendViewOnce(alice, channel, text);
    await expectSealed(bob, msgid, channel);
    await expectSealed(carol, msgid, channel);
    assert.deepEqual(rows(text), { messages: 1, recipients: 2, history: 0 }, 'one copy, two recipients (not the sender)');

    assert.equal((await open(bob, msgid)).content, text);
    assert.equal((await open(bob, msgid)).fail, 'ALREADY_OPENED');
    assert.deepEqual(rows(text), { messages: 1, recipients: 1, history: 0 }, 'forgotten for bob, still there for carol');
    assert.equal((await open(carol, msgid)).content, text);
    assert.equal((await open(carol, msgid)).fail, 'ALREADY_OPENED');
    assert.deepEqual(rows(text), { messages: 0, recipients: 0, history: 0 });
    for (const client of [alice, bob, carol]) assert.ok((await client.roundtrip()).every((m) => !m.raw.includes(text)), `${client.nick} got it once only`);
  });

  it('a view-once message is absent from CHATHISTORY for everyone, the sender too, in rooms and private conversations', async () => {
    const caps = [...VO, 'batch', 'draft/chathistory'];
    const alice = await connect('alice', caps);
    const bob = await connect('bob', caps);
    const channel = await roomWith(alice, bob);
    alice.send(`PRIVMSG ${channel} :before`);
    alice.send(`PRIVMSG ${bob.nick} :before`);
    const inRoom = secret();
    const inPrivate = secret();
    await sendViewOnce(alice, channel, inRoom);
    await sendViewOnce(alice, bob.nick, inPrivate);
    alice.send(`PRIVMSG ${channel} :after`);
    alice.send(`PRIVMSG ${bob.nick} :after`);
    // The sender first: delivery follows the store, so bob's barrier only counts once alice's messages are out.
    await settle(alice);
    await settle(bob);
    const historyOf = async (client: TestClient, target: string): Promise<Received[]> => {
      client.send(`CHATHISTORY LATEST ${target} * 50`);
      await client.expect((m) => m.command === 'BATCH' && m.params[0]?.startsWith('-') === true);
      return client.drain().filter((m) => m.command === 'PRIVMSG');
    };
    for (const [client, target] of [
      [alice, channel],
      [bob, channel],
      [alice, bob.nick],
      [bob, alice.nick],
    ] as const) {
      const items = await historyOf(client, target);
      assert.deepEqual(
        items.map((m) => m.params[1]),
        ['before', 'after'],
        `${client.nick}'s CHATHISTORY of ${target}`,
      );
    }
    assert.equal(rows(inRoom).history + rows(inPrivate).history, 0, 'no history row holds either content');
  });

  it('a client without the cap gets the content once, marked [view-once], and that is its opening; nothing is kept for it', async () => {
    const alice = await connect('alice', VO);
    const bob = await connect('bob', VO);
    const dave = await connect('dave');
    const erin = await connect('erin', ['message-tags']);
    const channel = await roomWith(alice, bob, dave, erin);
    const text = secret();
    const msgid = await sendViewOnce(alice, channel, text);
    await expectSealed(bob, msgid, channel);
    const plain = await dave.expect('PRIVMSG');
    assert.equal(plain.raw, `:${alice.nick}!~${alice.nick}@127.0.0.1 PRIVMSG ${channel} :[view-once] ${text}`);
    const tagged = await erin.expect('PRIVMSG');
    assert.deepEqual(tagged.params, [channel, `[view-once] ${text}`], 'message-tags alone is not the cap');
    assert.equal(tagged.tags?.get('msgid'), msgid);
    assert.deepEqual(rows(text), { messages: 1, recipients: 1, history: 0 }, 'only bob is waiting to open it');
    for (const client of [dave, erin]) {
      assert.ok((await client.roundtrip()).every((m) => !m.raw.includes(text)), `${client.nick} got it once`);
      assert.equal((await open(client, msgid)).fail, 'ALREADY_OPENED');
    }

    // A private message to a client without the cap keeps nothing at all.
    const direct = secret();
    alice.send(`@natter.chat/view-once PRIVMSG ${dave.nick} :${direct}`);
    assert.equal((await dave.expect('PRIVMSG')).params[1], `[view-once] ${direct}`);
    await settle(alice);
    assert.deepEqual(rows(direct), { messages: 1, recipients: 1, history: 0 }, 'still only the room message, for bob');
    assert.equal((await open(bob, msgid)).content, text);
    assert.deepEqual(rows(), { messages: 0, recipients: 0, history: 0 });
  });

  it('OPEN by someone who was not a recipient is refused with NOT_FOUND, the sender included, and consumes nothing', async () => {
    const alice = await connect('alice', VO);
    const bob = await connect('bob', VO);
    const eve = await connect('eve', VO);
    const channel = await roomWith(alice, bob);
    const text = secret();
    const msgid = await sendViewOnce(alice, channel, text);
    await joinRoom(eve, channel);
    assert.equal((await open(eve, msgid)).fail, 'NOT_FOUND', 'joined after it was sent: not a recipient');
    assert.equal((await open(alice, msgid)).fail, 'NOT_FOUND', 'the sender is not a recipient');
    assert.equal((await open(eve, 'no-such-msgid')).fail, 'NOT_FOUND');
    assert.equal((await open(bob, msgid)).content, text, 'the recipient still opens it');
    assert.ok((await eve.roundtrip()).every((m) => !m.raw.includes(text)));
  });

  it('VIEWONCE without a subcommand, with an unknown one, or OPEN without a msgid get FAIL', async () => {
    const alice = await connect('alice', VO);
    alice.send('VIEWONCE');
    assert.deepEqual((await alice.expect('FAIL')).params.slice(0, 2), ['VIEWONCE', 'NEED_MORE_PARAMS']);
    alice.send('VIEWONCE PEEK abc');
    assert.deepEqual((await alice.expect('FAIL')).params.slice(0, 3), ['VIEWONCE', 'INVALID_PARAMS', 'PEEK']);
    alice.send('VIEWONCE OPEN');
    assert.deepEqual((await alice.expect('FAIL')).params.slice(0, 3), ['VIEWONCE', 'NEED_MORE_PARAMS', 'OPEN']);
  });

  it('a TAGMSG or a multiline batch cannot be view-once; the client-only spelling +natter.chat/view-once seals too', async () => {
    const alice = await connect('alice', [...VO, 'batch', 'draft/multiline']);
    const bob = await connect('bob', VO);
    alice.send(`@natter.chat/view-once;+draft/react=x TAGMSG ${bob.nick}`);
    assert.deepEqual((await alice.expect('FAIL')).params.slice(0, 3), ['TAGMSG', 'INVALID_VIEWONCE', bob.nick]);
    const lines = secret();
    alice.send(`@natter.chat/view-once BATCH +ml draft/multiline ${bob.nick}`);
    alice.send(`@batch=ml PRIVMSG ${bob.nick} :${lines}`);
    alice.send(`@batch=ml PRIVMSG ${bob.nick} :second line`);
    alice.send('BATCH -ml');
    assert.deepEqual((await alice.expect('FAIL')).params.slice(0, 3), ['BATCH', 'INVALID_VIEWONCE', bob.nick]);
    assert.ok((await bob.roundtrip()).every((m) => !m.raw.includes(lines)), 'nothing of it was delivered');

    const text = secret();
    const msgid = await sendViewOnce(alice, bob.nick, text, '+natter.chat/view-once');
    const sealed = await expectSealed(bob, msgid, bob.nick);
    assert.equal(sealed.tags?.has('+natter.chat/view-once'), false, 'the tag is not relayed as a client tag');
    assert.equal((await open(bob, msgid)).content, text);
  });

  it('multi-device: opening on one device consumes it for the account; its other devices with the cap are told OPENED', async () => {
    const alice = await connect('alice', VO);
    const bob = await account();
    const laptop = await bob.device(VO);
    const phone = await bob.device(VO);
    const irc = await bob.device(['message-tags']);
    const text = secret();
    const msgid = await sendViewOnce(alice, bob.name, text);
    for (const device of [laptop, phone, irc]) await expectSealed(device, msgid, bob.name);
    assert.equal(rows(text).recipients, 1, 'one recipient: the account');

    assert.equal((await open(laptop, msgid)).content, text);
    assert.deepEqual((await phone.expect((m) => m.command === 'VIEWONCE')).params, ['OPENED', msgid]);
    assert.equal((await open(phone, msgid)).fail, 'ALREADY_OPENED');
    assert.equal((await open(irc, msgid)).fail, 'ALREADY_OPENED');
    for (const device of [laptop, phone, irc]) assert.ok((await device.roundtrip()).every((m) => !m.raw.includes(text) && m.command !== 'VIEWONCE'));
    assert.deepEqual(rows(text), { messages: 0, recipients: 0, history: 0 });
  });

  it('VIEWONCE LIST replays, in a batch, the sealed messages still waiting for the account after it reconnects', async () => {
    const alice = await connect('alice', VO);
    const bob = await account();
    const first = await bob.device([...VO, 'batch']);
    const channel = await roomWith(alice);
    await joinRoom(first, channel);
    const inPrivate = secret();
    const inRoom = secret();
    const privateId = await sendViewOnce(alice, bob.name, inPrivate);
    const roomId = await sendViewOnce(alice, channel, inRoom);
    await expectSealed(first, roomId, channel);
    first.send('QUIT');
    await first.closed;

    const again = await bob.device([...VO, 'batch']);
    again.send('VIEWONCE LIST');
    const start = await again.expect((m) => m.command === 'BATCH' && m.params[1] === 'natter.chat/view-once');
    const ref = start.params[0]?.slice(1);
    await again.expect((m) => m.command === 'BATCH' && m.params[0] === `-${ref ?? ''}`);
    const replayed = again.drain().filter(isSealed);
    assert.deepEqual(
      replayed.map((m) => [m.tags?.get('batch'), m.tags?.get('msgid'), m.source, ...m.params]),
      [
        [ref, privateId, `${alice.nick}!~${alice.nick}@127.0.0.1`, bob.name, SEALED_TEXT],
        [ref, roomId, `${alice.nick}!~${alice.nick}@127.0.0.1`, channel, SEALED_TEXT],
      ],
    );
    assert.equal((await open(again, privateId)).content, inPrivate);
    assert.equal((await open(again, roomId)).content, inRoom);
    again.send('VIEWONCE LIST');
    await again.expect((m) => m.command === 'BATCH' && m.params[0]?.startsWith('-') === true);
    assert.deepEqual(again.drain().filter(isSealed), [], 'nothing is waiting any more');
  });

  it('the uploads an expired view-once message links to are deleted with it (the sender\'s, through the upload janitor)', async () => {
    const calls: Array<[string, string]> = [];
    const previous = server.server.uploads;
    server.server.uploads = {
      deleteLinkedUploads: (text, accountFolded) => {
        calls.push([text, accountFolded]);
        return Promise.resolve(1);
      },
      deleteAccountUploads: () => Promise.resolve(0),
    };
    try {
      const alice = await account();
      const sender = await alice.device(VO);
      const bob = await connect('bob', VO);
      const picture = `https://chat.example.org/uploads/${randomBytes(16).toString('base64url')}`;
      const msgid = await sendViewOnce(sender, bob.nick, picture);
      await expectSealed(bob, msgid, bob.nick);
      assert.deepEqual(calls, [], 'nothing is deleted while it waits');
      assert.equal(await server.server.sweepViewOnce(Date.now() + 8 * DAY), 1);
      assert.deepEqual(calls, [[picture, alice.name]]);
    } finally {
      server.server.uploads = previous;
    }
  });

  it('an expired message cannot be opened, and the sweep deletes it without a trace', async () => {
    const alice = await connect('alice', VO);
    const bob = await connect('bob', VO);
    const text = secret();
    const msgid = await sendViewOnce(alice, bob.nick, text);
    await expectSealed(bob, msgid, bob.nick);
    assert.equal(await server.server.sweepViewOnce(Date.now() + DAY), 0, 'not expired after a day');
    assert.equal(await server.server.sweepViewOnce(Date.now() + 7 * DAY + 1000), 1, 'expired after seven');
    assert.deepEqual(rows(text), { messages: 0, recipients: 0, history: 0 });
    assert.equal((await open(bob, msgid)).fail, 'NOT_FOUND');
  });
});

describe('view-once expiry (viewOnce.ttlHours)', () => {
  it('past its ttl a message is refused with NOT_FOUND, and a server starting later sweeps it before anything else', async () => {
    const data = tempDataDir();
    // 0.0005 hours: 1.8 seconds.
    const config = { data: data.path, viewOnce: { ttlHours: 0.0005 } };
    let server = await startTestServer(config);
    const clients: TestClient[] = [];
    try {
      const alice = await TestClient.register(server.port, 'alice', { caps: VO });
      const bob = await TestClient.register(server.port, 'bob', { caps: VO });
      clients.push(alice, bob);
      const early = await sendViewOnce(alice, 'bob', secret());
      const late = await sendViewOnce(alice, 'bob', secret());
      await expectSealed(bob, late, 'bob');
      assert.ok((await open(bob, early)).content?.startsWith('secret'), 'opened in time');
      await new Promise((resolve) => setTimeout(resolve, 2000));
      assert.equal((await open(bob, late)).fail, 'NOT_FOUND', 'expired, even before any sweep');

      await server.stop();
      const path = join(data.path, 'natter.db');
      const count = (): number => {
        const db = new BetterSqlite3(path, { readonly: true });
        try {
          return (db.prepare('SELECT count(*) AS n FROM view_once').get() as { n: number }).n;
        } finally {
          db.close();
        }
      };
      assert.equal(count(), 1, 'the expired message was still in the store when the server stopped');
      server = await startTestServer(config);
      assert.equal(count(), 0, 'swept at start');
    } finally {
      for (const client of clients) client.close();
      await server.stop();
      data.remove();
    }
  });
});
