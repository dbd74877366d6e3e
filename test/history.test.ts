/**
 * IRCv3 labeled-response, batch, message-ids and draft/chathistory (with event-playback) over real sockets: a
 * client negotiating these caps gets labeled, batched, time-stamped, msgid-tagged replies and pages through
 * history both ways; who may read what; reactions kept, typing not; history survives a restart on both stores.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Received } from './helpers/client.js';
import { TestClient } from './helpers/client.js';
import { ClientPool, join, settle } from './helpers/clients.js';
import { postgresUrlWithSchema } from './helpers/durability.js';
import { dropSchema, freshSchemaName, POSTGRES_URL, postgresAvailable } from './helpers/postgres.js';
import { startTestServer, tempDataDir } from './helpers/server.js';
import type { TestServer } from './helpers/server.js';
import { createAccount } from '../src/core/accounts.js';
import { saslPlain } from './helpers/login.js';
import pg from 'pg';

const FULL = ['batch', 'labeled-response', 'message-tags', 'server-time', 'echo-message', 'draft/chathistory', 'draft/event-playback'];
const PASSWORD = 'history-password';

/** Sends a labeled command and returns its whole response: one message, an ACK, or the lines of its labeled-response batch. */
async function labeled(client: TestClient, label: string, line: string): Promise<Received[]> {
  client.send(`@label=${label} ${line}`);
  const first = await client.expect((m) => m.tags?.get('label') === label, 5000);
  if (first.command !== 'BATCH') return [first];
  const ref = (first.params[0] ?? '').slice(1);
  assert.equal(first.params[1], 'labeled-response');
  const inside: Received[] = [first];
  // Batches opened inside this one (a chathistory batch) belong to the response too.
  const refs = new Set([ref]);
  for (;;) {
    const next = await client.expect((m) => refs.has(m.tags?.get('batch') ?? '') || (m.command === 'BATCH' && m.params[0] === `-${ref}`), 5000);
    inside.push(next);
    if (next.command === 'BATCH' && next.params[0]?.startsWith('+') === true) refs.add(next.params[0].slice(1));
    if (next.command === 'BATCH' && next.params[0] === `-${ref}`) return inside;
  }
}

/** The PRIVMSG/NOTICE/TAGMSG (and events) of a CHATHISTORY reply, in order, after checking its chathistory batch. */
async function chathistory(client: TestClient, line: string): Promise<Received[]> {
  const response = await labeled(client, `h${Math.random().toString(36).slice(2, 8)}`, `CHATHISTORY ${line}`);
  const open = response.find((m) => m.command === 'BATCH' && m.params[1] === 'chathistory');
  assert.ok(open !== undefined, `a chathistory batch: ${response.map((m) => m.raw).join('\n')}`);
  const ref = (open.params[0] ?? '').slice(1);
  return response.filter((m) => m.tags?.get('batch') === ref);
}

const texts = (messages: readonly Received[]): string[] => messages.filter((m) => m.command === 'PRIVMSG').map((m) => m.params[1] ?? '');

/** Sends lines as PRIVMSGs and waits for each echo (so each is stored); returns their msgids. */
async function say(client: TestClient, target: string, ...lines: string[]): Promise<string[]> {
  const ids: string[] = [];
  for (const text of lines) {
    client.send(`PRIVMSG ${target} :${text}`);
    const echo = await client.expect((m) => m.command === 'PRIVMSG' && m.params[1] === text, 5000);
    ids.push(echo.tags?.get('msgid') ?? '');
  }
  return ids;
}

describe('labeled-response, batch and message-ids', () => {
  let server: TestServer;
  const pool = new ClientPool(() => server.port);
  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    pool.closeAll();
    await server.stop();
  });

  it('a labeled command with one reply gets the label on it; with none, ACK; with several, one labeled-response batch', async () => {
    const client = await pool.connect('lab', ['batch', 'labeled-response', 'message-tags']);
    const [pong] = await labeled(client, 'p1', 'PING :hello');
    assert.equal(pong?.command, 'PONG');
    const [ack] = await labeled(client, 'a1', 'PONG :nothing');
    assert.equal(ack?.command, 'ACK', 'no reply at all becomes ACK');
    const channel = pool.room();
    const joined = await labeled(client, 'j1', `JOIN ${channel}`);
    assert.deepEqual(
      joined.map((m) => m.command),
      ['BATCH', 'JOIN', '353', '366', 'BATCH'],
      'the JOIN the server sends back is part of the response, in order with NAMES',
    );
    const ref = (joined[0]?.params[0] ?? '').slice(1);
    assert.ok(joined.slice(1, -1).every((m) => m.tags?.get('batch') === ref));
    assert.equal(joined.at(-1)?.params[0], `-${ref}`);
    assert.equal(joined.at(-1)?.tags?.get('label'), undefined, 'only the opening BATCH carries the label');
  });

  it('without the cap a label is ignored; a label longer than 64 characters is ignored', async () => {
    const plain = await pool.connect('nolab', ['message-tags']);
    plain.send('@label=x PING :one');
    const pong = await plain.expect('PONG');
    assert.equal(pong.tags?.get('label'), undefined);
    const labeler = await pool.connect('longlab', ['batch', 'labeled-response']);
    labeler.send(`@label=${'x'.repeat(65)} PING :two`);
    assert.equal((await labeler.expect('PONG')).tags?.get('label'), undefined);
  });

  it('echo-message with a label: the echo is the response and carries the label, the msgid and the time the others see', async () => {
    const alice = await pool.connect('echoer', FULL);
    const bob = await pool.connect('seer', ['message-tags', 'server-time']);
    const channel = await pool.roomWith(alice, bob);
    const response = await labeled(alice, 'm1', `PRIVMSG ${channel} :labeled hello`);
    assert.equal(response.length, 1);
    const echo = response[0] as Received;
    assert.equal(echo.command, 'PRIVMSG');
    const seen = await bob.expect('PRIVMSG');
    assert.equal(seen.tags?.get('msgid'), echo.tags?.get('msgid'));
    assert.equal(seen.tags?.get('time'), echo.tags?.get('time'));
    assert.equal(seen.tags?.get('label'), undefined, 'other recipients never see the label');
    const quiet = await pool.connect('quiet', ['batch', 'labeled-response', 'message-tags']);
    await join(quiet, channel);
    const [ack] = await labeled(quiet, 'm2', `PRIVMSG ${channel} :no echo`);
    assert.equal(ack?.command, 'ACK', 'without echo-message a delivered message is acknowledged with ACK');
  });

  it('a message from another user arriving during a labeled command is not pulled into its response', async () => {
    const alice = await pool.connect('busy', FULL);
    const bob = await pool.connect('chatty');
    const channel = await pool.roomWith(alice, bob);
    bob.send(`PRIVMSG ${channel} :interleaved`);
    const response = await labeled(alice, 'c1', `CHATHISTORY LATEST ${channel} * 10`);
    assert.ok(!response.some((m) => m.command === 'PRIVMSG' && m.tags?.get('batch') === undefined && m.params[1] === 'interleaved'));
    await settle(alice, bob);
  });
});

describe('draft/chathistory', () => {
  let server: TestServer;
  const pool = new ClientPool(() => server.port);
  before(async () => {
    server = await startTestServer({ history: { maxPerQuery: 50 } });
    await createAccount(server.server.network, server.store, server.server.auth, 'keeper', PASSWORD);
    await createAccount(server.server.network, server.store, server.server.auth, 'friend', PASSWORD);
  });
  after(async () => {
    pool.closeAll();
    await server.stop();
  });

  it('ISUPPORT announces CHATHISTORY=<max> and MSGREFTYPES', async () => {
    const client = await TestClient.connect(server.port);
    client.send('NICK isupp');
    client.send('USER isupp 0 * :x');
    const tokens: string[] = [];
    for (;;) {
      const line = await client.expect((m) => m.command === '005' || m.command === '376' || m.command === '422');
      if (line.command !== '005') break;
      tokens.push(...line.params.slice(1, -1));
    }
    assert.ok(tokens.includes('CHATHISTORY=50'));
    assert.ok(tokens.includes('MSGREFTYPES=timestamp,msgid'));
    client.close();
  });

  it('pages through a room in both directions: LATEST, BEFORE, AFTER, AROUND, BETWEEN, by msgid and by timestamp', async () => {
    const alice = await pool.connect('pager', FULL);
    const channel = await pool.roomWith(alice);
    const lines = Array.from({ length: 12 }, (_, i) => `line ${i}`);
    const ids = await say(alice, channel, ...lines);
    assert.ok(ids.every((id) => id !== ''), 'every echo has a msgid');
    assert.deepEqual(texts(await chathistory(alice, `LATEST ${channel} * 5`)), lines.slice(7));
    assert.deepEqual(texts(await chathistory(alice, `BEFORE ${channel} msgid=${ids[7]} 3`)), lines.slice(4, 7));
    assert.deepEqual(texts(await chathistory(alice, `AFTER ${channel} msgid=${ids[7]} 3`)), lines.slice(8, 11));
    assert.deepEqual(texts(await chathistory(alice, `LATEST ${channel} msgid=${ids[9]} 10`)), lines.slice(10));
    assert.deepEqual(texts(await chathistory(alice, `AROUND ${channel} msgid=${ids[5]} 4`)), lines.slice(4, 8));
    assert.deepEqual(texts(await chathistory(alice, `BETWEEN ${channel} msgid=${ids[2]} msgid=${ids[6]} 10`)), lines.slice(3, 6));
    assert.deepEqual(texts(await chathistory(alice, `BETWEEN ${channel} msgid=${ids[6]} msgid=${ids[2]} 2`)), lines.slice(4, 6), 'backwards: the two nearest the first reference');
    // Paging backwards from the oldest seen, as a client scrolling up does, reaches the start and then nothing.
    const page = await chathistory(alice, `BEFORE ${channel} msgid=${ids[2]} 5`);
    assert.deepEqual(texts(page), lines.slice(0, 2));
    assert.deepEqual(texts(await chathistory(alice, `BEFORE ${channel} msgid=${ids[0]} 5`)), []);
    // Timestamps: what the replayed messages carry can be used as a reference.
    const stamp = page.filter((m) => m.command === 'PRIVMSG')[1]?.tags?.get('time') ?? '';
    assert.match(stamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const afterStamp = texts(await chathistory(alice, `AFTER ${channel} timestamp=${stamp} 1`));
    assert.equal(afterStamp.length, 1);
    assert.notEqual(afterStamp[0], 'line 1', 'timestamps are exclusive');
  });

  it('replayed messages carry their original msgid, time, source and account', async () => {
    const alice = await pool.connect('orig', FULL);
    const channel = await pool.roomWith(alice);
    const [id] = await say(alice, channel, 'original');
    const [replayed] = await chathistory(alice, `LATEST ${channel} * 1`);
    assert.equal(replayed?.tags?.get('msgid'), id);
    assert.equal(replayed?.source, `${alice.nick}!~${alice.nick}@127.0.0.1`);
    assert.equal(replayed.params[0], channel);
  });

  it('errors: an unknown subcommand, a bad reference, a bad limit, missing parameters, a room one is not in', async () => {
    const alice = await pool.connect('erring', FULL);
    const outsider = await pool.connect('outsider', FULL);
    const channel = await pool.roomWith(alice);
    await say(alice, channel, 'members only');
    const fail = async (line: string): Promise<string[]> => {
      const [reply] = await labeled(outsider, 'e', line);
      assert.equal(reply?.command, 'FAIL', `${line}: ${reply?.raw ?? ''}`);
      return reply.params.slice(0, 2);
    };
    assert.deepEqual(await fail('CHATHISTORY NONSENSE #x * 10'), ['CHATHISTORY', 'INVALID_PARAMS']);
    assert.deepEqual(await fail(`CHATHISTORY BEFORE ${channel} yesterday 10`), ['CHATHISTORY', 'INVALID_PARAMS']);
    assert.deepEqual(await fail(`CHATHISTORY LATEST ${channel} * none`), ['CHATHISTORY', 'INVALID_PARAMS']);
    assert.deepEqual(await fail(`CHATHISTORY LATEST ${channel} *`), ['CHATHISTORY', 'NEED_MORE_PARAMS']);
    assert.deepEqual(await fail(`CHATHISTORY LATEST ${channel} * 10`), ['CHATHISTORY', 'INVALID_TARGET'], 'non-members do not read a room');
    const many = await chathistory(alice, `LATEST ${channel} * 5000`);
    assert.ok(many.length <= 50, 'a limit above CHATHISTORY= is answered with the maximum');
  });

  it('event-playback: JOIN, PART, TOPIC and MODE come back to clients with the cap, and only messages to others', async () => {
    const alice = await pool.connect('events', FULL);
    const bob = await pool.connect('comer');
    const channel = await pool.roomWith(alice, bob);
    alice.send(`TOPIC ${channel} :a topic`);
    bob.send(`PART ${channel} :bye`);
    await settle(alice, bob);
    await say(alice, channel, 'after the events');
    const withEvents = await chathistory(alice, `LATEST ${channel} * 20`);
    const commands = withEvents.map((m) => m.command);
    for (const command of ['JOIN', 'TOPIC', 'PART', 'PRIVMSG']) assert.ok(commands.includes(command), `${command} in ${commands.join(',')}`);
    const plain = await pool.connect('noevents', ['batch', 'labeled-response', 'message-tags', 'draft/chathistory']);
    await join(plain, channel);
    assert.deepEqual([...new Set((await chathistory(plain, `LATEST ${channel} * 20`)).map((m) => m.command))], ['PRIVMSG']);
  });

  it('reactions (+draft/react) are kept and come back; +typing is relayed but never kept', async () => {
    const alice = await pool.connect('reactor', FULL);
    const bob = await pool.connect('typer', ['message-tags']);
    const channel = await pool.roomWith(alice, bob);
    const [id] = await say(alice, channel, 'react to me');
    alice.send(`@+draft/react=👍;+draft/reply=${id} TAGMSG ${channel}`);
    alice.send(`@+typing=active TAGMSG ${channel}`);
    // Typing is relayed (expect times out otherwise).
    await bob.expect((m) => m.command === 'TAGMSG' && m.tags?.get('+typing') === 'active');
    await settle(alice, bob);
    const replay = await chathistory(alice, `LATEST ${channel} * 10`);
    const tagmsgs = replay.filter((m) => m.command === 'TAGMSG');
    assert.equal(tagmsgs.length, 1, 'only the reaction is in history');
    assert.equal(tagmsgs[0]?.tags?.get('+draft/react'), '👍');
    assert.equal(tagmsgs[0].tags.get('+draft/reply'), id);
  });

  it('a private conversation is readable by its two parties only; a guest only since they connected', async () => {
    const keeper = (await saslPlain(server.port, 'keeper', 'keeper', PASSWORD)).client;
    const friend = (await saslPlain(server.port, 'friend', 'friend', PASSWORD)).client;
    for (const c of [keeper, friend]) c.send(`CAP REQ :${FULL.join(' ')}`);
    await keeper.expect((m) => m.command === 'CAP' && m.params[1] === 'ACK');
    await friend.expect((m) => m.command === 'CAP' && m.params[1] === 'ACK');
    await say(keeper, 'friend', 'just between us');
    const snoop = await pool.connect('snoop', FULL);
    assert.deepEqual(texts(await chathistory(snoop, 'LATEST friend * 10')), [], 'a third party sees nothing of it');
    assert.deepEqual(texts(await chathistory(friend, 'LATEST keeper * 10')), ['just between us']);
    // A guest talking to keeper, who leaves and comes back under the same nick, no longer sees it.
    const guest = await pool.connect('guest', FULL);
    await say(guest, 'keeper', 'from a guest');
    assert.deepEqual(texts(await chathistory(guest, 'LATEST keeper * 10')), ['from a guest']);
    const nick = guest.nick;
    await guest.quit();
    await settle(keeper);
    const again = await TestClient.register(server.port, nick, { caps: FULL });
    assert.deepEqual(texts(await chathistory(again, 'LATEST keeper * 10')), [], 'a nick is not an identity');
    // TARGETS lists the conversation and the rooms with activity.
    const from = new Date(Date.now() - 60_000).toISOString();
    const to = new Date(Date.now() + 60_000).toISOString();
    const response = await labeled(keeper, 't1', `CHATHISTORY TARGETS timestamp=${from} timestamp=${to} 10`);
    assert.ok(response.some((m) => m.command === 'BATCH' && m.params[1] === 'draft/chathistory-targets'));
    const listed = response.filter((m) => m.command === 'CHATHISTORY').map((m) => m.params[1]);
    assert.ok(listed.includes('friend'), `friend in ${listed.join(',')}`);
    for (const c of [keeper, friend, again]) await c.quit();
  });

  it('a room set to "joined" shows a member only what came after they joined; "everything" shows all', async () => {
    const owner = (await saslPlain(server.port, 'friend', 'friend', PASSWORD)).client;
    owner.send(`CAP REQ :${FULL.join(' ')}`);
    await owner.expect((m) => m.command === 'CAP' && m.params[1] === 'ACK');
    const channel = pool.room();
    await join(owner, channel);
    owner.send(`PRIVMSG ChanServ :REGISTER ${channel}`);
    await owner.expect((m) => m.command === 'NOTICE' && /registered/.test(m.params[1] ?? ''));
    owner.send(`PRIVMSG ChanServ :SET ${channel} HISTORY joined`);
    await owner.expect((m) => m.command === 'NOTICE' && /History of/.test(m.params[1] ?? ''));
    await say(owner, channel, 'before you came');
    const late = await pool.connect('late', FULL);
    await join(late, channel);
    await say(owner, channel, 'after you came');
    assert.deepEqual(texts(await chathistory(late, `LATEST ${channel} * 10`)), ['after you came']);
    owner.send(`PRIVMSG ChanServ :SET ${channel} HISTORY everything`);
    await owner.expect((m) => m.command === 'NOTICE' && /History of/.test(m.params[1] ?? ''));
    assert.deepEqual(texts(await chathistory(late, `LATEST ${channel} * 10`)), ['before you came', 'after you came']);
    late.send(`PRIVMSG ChanServ :SET ${channel} HISTORY joined`);
    const refused = await late.expect((m) => m.command === 'NOTICE' && m.source?.startsWith('ChanServ') === true);
    assert.match(refused.params[1] ?? '', /Only the founder or an admin/);
    owner.close();
  });

  it('retention by count keeps the newest messages of each room (history.maxPerTarget)', async () => {
    const small = await startTestServer({ history: { maxPerTarget: 3 } });
    try {
      const client = await TestClient.register(small.port, 'keeper3', { caps: FULL });
      await join(client, '#kept');
      await say(client, '#kept', 'm1', 'm2', 'm3', 'm4', 'm5');
      assert.ok((await small.server.applyRetention()) > 0);
      assert.deepEqual(texts(await chathistory(client, 'LATEST #kept * 10')), ['m3', 'm4', 'm5']);
      client.close();
    } finally {
      await small.stop();
    }
  });

  it('history off (history.enabled: false): CHATHISTORY says so and messages still flow', async () => {
    const off = await startTestServer({ history: { enabled: false } });
    try {
      const client = await TestClient.register(off.port, 'nohist', { caps: FULL });
      await join(client, '#off');
      await say(client, '#off', 'not kept');
      const [reply] = await labeled(client, 'o', 'CHATHISTORY LATEST #off * 10');
      assert.deepEqual(reply?.params.slice(0, 2), ['CHATHISTORY', 'MESSAGE_ERROR']);
      client.close();
    } finally {
      await off.stop();
    }
  });
});

describe('history and reactions survive a restart', () => {
  const stores: Array<[string, () => Promise<{ config: { data?: string; database?: string }; dispose: () => Promise<void>; unavailable?: string }>]> = [
    [
      'SQLite',
      () => {
        const data = tempDataDir();
        return Promise.resolve({
          config: { data: data.path },
          dispose: () => {
            data.remove();
            return Promise.resolve();
          },
        });
      },
    ],
    [
      'PostgreSQL',
      async () => {
        const unavailable = await postgresAvailable();
        const schema = freshSchemaName('natter_history');
        if (unavailable !== undefined) return { config: {}, dispose: () => Promise.resolve(), unavailable };
        const client = new pg.Client({ connectionString: POSTGRES_URL });
        await client.connect();
        await client.query(`CREATE SCHEMA ${schema}`);
        await client.end();
        return { config: { database: postgresUrlWithSchema(schema) }, dispose: () => dropSchema(schema) };
      },
    ],
  ];
  for (const [name, make] of stores) {
    it(`${name}: a room's messages and reactions come back after the server restarts`, async (t) => {
      const storage = await make();
      if (storage.unavailable !== undefined) {
        t.skip(storage.unavailable);
        return;
      }
      try {
        let id = '';
        const first = await startTestServer(storage.config);
        try {
          const client = await TestClient.register(first.port, 'stayer', { caps: FULL });
          await join(client, '#lasting');
          [id = ''] = await say(client, '#lasting', 'still here tomorrow');
          client.send(`@+draft/react=🎉;+draft/reply=${id} TAGMSG #lasting`);
          await client.expect('TAGMSG');
          client.close();
        } finally {
          await first.stop();
        }
        const second = await startTestServer(storage.config);
        try {
          const client = await TestClient.register(second.port, 'returner', { caps: FULL });
          await join(client, '#lasting');
          const replay = await chathistory(client, 'LATEST #lasting * 10');
          const message = replay.find((m) => m.command === 'PRIVMSG');
          assert.equal(message?.params[1], 'still here tomorrow');
          assert.equal(message.tags?.get('msgid'), id);
          const reaction = replay.find((m) => m.command === 'TAGMSG');
          assert.equal(reaction?.tags?.get('+draft/react'), '🎉');
          assert.equal(reaction.tags.get('+draft/reply'), id);
          client.close();
        } finally {
          await second.stop();
        }
      } finally {
        await storage.dispose();
      }
    });
  }
});
