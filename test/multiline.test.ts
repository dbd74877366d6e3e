/**
 * IRCv3 draft/multiline (ircv3.net/specs/extensions/multiline) over real sockets: a client's batch is one message
 * (one msgid, one history item), delivered as a batch to clients with the cap and as its lines to the others; every
 * FAIL code; the limits of the configuration; echo-message with labeled-response. Inboxes are settled with a PING
 * barrier, so "nobody else got anything" is asserted, not assumed.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { CommandContext } from '../src/commands/context.js';
import { createAccount } from '../src/core/accounts.js';
import type { ServerServices } from '../src/commands/context.js';
import type { HistoryItem } from '../src/core/history.js';
import { joinLines, MULTILINE_MARKER, multilineMarker, multilineReplay, splitLines } from '../src/core/multiline.js';
import { Device, Session } from '../src/core/session.js';
import type { SessionLink } from '../src/core/session.js';
import { wireBytes, taggedWireBytes } from '../src/net/wire.js';
import { Cap, tagVariantOf } from '../src/protocol/caps.js';
import type { TestClient } from './helpers/client.js';
import { TestClient as RawClient } from './helpers/client.js';
import { ClientPool, lines, mask } from './helpers/clients.js';
import { saslPlain } from './helpers/login.js';
import { startTestServer } from './helpers/server.js';
import type { TestServer } from './helpers/server.js';

const SERVER = 'test.natter';
const MAX_LINES = 5;
const MAX_BYTES = 600;
/** What a multiline client negotiates: the cap, batch, and message-tags for the batch and concat tags. */
const ML = ['draft/multiline', 'batch', 'message-tags'];

let server: TestServer;
/** Devices logged in to accounts, outside the pool. */
const devices: TestClient[] = [];
const pool = new ClientPool(() => server.port);
const { connect, roomWith } = pool;

/**
 * Raw lines with what changes from run to run replaced: time=T, msgid=M, and the multiline batch's reference REF
 * (checked to be the same on its BATCH lines and its lines by the replacement itself).
 */
function normalize(raw: readonly string[]): string[] {
  const refs = raw.flatMap((line) => /BATCH \+(\S+) draft\/multiline/.exec(line)?.[1] ?? []);
  return raw.map((line) => {
    let out = line.replace(/time=[^; ]+/g, 'time=T').replace(/msgid=[^; ]+/g, 'msgid=M');
    for (const ref of refs) out = out.split(ref).join('REF');
    return out;
  });
}

function tagOf(raw: string, key: string): string | undefined {
  return new RegExp(`[@;]${key.replace(/[/.]/g, '\\$&')}=([^; ]+)`).exec(raw)?.[1];
}

/** Sends a whole batch: the opening line (with optional tags), each line as given after "@batch=<ref>", the end. */
function sendBatch(client: TestClient, ref: string, target: string, body: readonly string[], openTags = ''): void {
  client.send(`${openTags === '' ? '' : `@${openTags} `}BATCH +${ref} draft/multiline ${target}`);
  for (const line of body) client.send(line.startsWith(';') ? `@batch=${ref}${line}` : `@batch=${ref} ${line}`);
  client.send(`BATCH -${ref}`);
}

/** Raw lines without their time tag, for replies from the server to message-tags clients. */
function untimed(raw: readonly string[]): string[] {
  return raw.map((line) => {
    if (!line.startsWith('@')) return line;
    const space = line.indexOf(' ');
    const tags = line
      .slice(1, space)
      .split(';')
      .filter((tag) => !tag.startsWith('time='));
    return tags.length === 0 ? line.slice(space + 1) : `@${tags.join(';')}${line.slice(space)}`;
  });
}

function fails(raw: readonly string[]): string[] {
  return raw.filter((line) => line.includes(' FAIL '));
}

describe('draft/multiline', () => {
  before(async () => {
    server = await startTestServer({ limits: { multilineMaxLines: MAX_LINES, multilineMaxBytes: MAX_BYTES } });
  });
  afterEach(() => {
    pool.closeAll();
  });
  after(async () => {
    for (const client of devices) client.close();
    await server.stop();
  });

  it('the cap advertises the limits of the configuration', async () => {
    const client = await RawClient.connect(server.port);
    const { tokens } = await client.capLs();
    assert.ok(tokens.includes(`draft/multiline=max-bytes=${MAX_BYTES},max-lines=${MAX_LINES}`), tokens.join(' '));
    client.close();
  });

  describe('delivery', () => {
    it('a batch to a room reaches a multiline client as one batch and a plain client as its non-blank lines', async () => {
      const alice = await connect('alice', ML);
      const bob = await connect('bob', ML);
      const carol = await connect('carol');
      const dave = await connect('dave', ['message-tags']);
      const room = await roomWith(alice, bob, carol, dave);
      sendBatch(alice, 'a1', room, [`PRIVMSG ${room} hello`, `PRIVMSG ${room} :`, `PRIVMSG ${room} :how is `, `;draft/multiline-concat PRIVMSG ${room} everyone?`]);
      const from = mask(alice);
      assert.deepEqual(await lines(alice), [], 'no echo without echo-message');
      const toBob = await lines(bob);
      assert.deepEqual(normalize(toBob), [
        `@time=T;msgid=M :${from} BATCH +REF draft/multiline ${room}`,
        `@time=T;batch=REF :${from} PRIVMSG ${room} hello`,
        `@time=T;batch=REF :${from} PRIVMSG ${room} :`,
        `@time=T;batch=REF :${from} PRIVMSG ${room} :how is `,
        `@time=T;batch=REF;draft/multiline-concat :${from} PRIVMSG ${room} everyone?`,
        `@time=T :${from} BATCH -REF`,
      ]);
      // Fallback (spec "Fallback"): blank lines skipped, the line composition kept, the msgid on the first line only.
      assert.deepEqual(await lines(carol), [`:${from} PRIVMSG ${room} hello`, `:${from} PRIVMSG ${room} :how is `, `:${from} PRIVMSG ${room} everyone?`]);
      const toDave = await lines(dave);
      assert.deepEqual(normalize(toDave), [
        `@time=T;msgid=M :${from} PRIVMSG ${room} hello`,
        `@time=T :${from} PRIVMSG ${room} :how is `,
        `@time=T :${from} PRIVMSG ${room} everyone?`,
      ]);
      assert.equal(tagOf(toDave[0] ?? '', 'msgid'), tagOf(toBob[0] ?? '', 'msgid'), 'one message, one msgid for everyone');
      assert.equal(/BATCH \+(\S+)/.exec(toBob[0] ?? '')?.[1], `ml${tagOf(toBob[0] ?? '', 'msgid') ?? ''}`, 'the ref comes from the msgid');
    });

    it('the message is stored once: the lines joined, and a marker that splits them again', async () => {
      const alice = await connect('alice', ML);
      const bob = await connect('bob', ML);
      const room = await roomWith(alice, bob);
      sendBatch(alice, 's1', room, [`PRIVMSG ${room} :first line`, `PRIVMSG ${room} :`, `PRIVMSG ${room} :long `, `;draft/multiline-concat PRIVMSG ${room} :tail`]);
      const toBob = await lines(bob);
      const msgid = tagOf(toBob[0] ?? '', 'msgid');
      const items = await server.store.queryHistory({ target: room, direction: 'backward', limit: 10, events: false });
      assert.equal(items.length, 1, 'one history item');
      const [item] = items;
      assert.ok(item !== undefined);
      assert.equal(item.msgid, msgid);
      assert.equal(item.command, 'PRIVMSG');
      assert.deepEqual(item.params, [room, 'first line\n\nlong tail']);
      assert.equal(item.tags?.get(MULTILINE_MARKER), '1,17');
      // Replay gives back what was delivered live, for clients with and without the cap.
      const variant = tagVariantOf(Cap.multiline | Cap.batch | Cap.messageTags);
      const replayed = multilineReplay(item, true).map((m) => wireBytes(m, variant).toString('utf8').replace(/\r\n$/, ''));
      assert.deepEqual(normalize(replayed), normalize(toBob));
      const plain = multilineReplay(item, false).map((m) => wireBytes(m, 0).toString('utf8').replace(/\r\n$/, ''));
      assert.deepEqual(plain, [`:${mask(alice)} PRIVMSG ${room} :first line`, `:${mask(alice)} PRIVMSG ${room} :long `, `:${mask(alice)} PRIVMSG ${room} tail`]);
    });

    it('concat on the first line, or after a blank line, is kept in a normal form with the same combined text', async () => {
      const alice = await connect('alice', ML);
      const bob = await connect('bob', ML);
      const room = await roomWith(alice, bob);
      sendBatch(alice, 'c1', room, [`;draft/multiline-concat PRIVMSG ${room} one`, `PRIVMSG ${room} :`, `;draft/multiline-concat PRIVMSG ${room} two`]);
      const from = mask(alice);
      // "one" + "\n" + "" + "two" is "one\ntwo": two plain lines.
      assert.deepEqual(normalize(await lines(bob)), [
        `@time=T;msgid=M :${from} BATCH +REF draft/multiline ${room}`,
        `@time=T;batch=REF :${from} PRIVMSG ${room} one`,
        `@time=T;batch=REF :${from} PRIVMSG ${room} two`,
        `@time=T :${from} BATCH -REF`,
      ]);
      const [item] = await server.store.queryHistory({ target: room, direction: 'backward', limit: 10, events: false });
      assert.deepEqual(item?.params, [room, 'one\ntwo']);
      assert.equal(item.tags?.get(MULTILINE_MARKER), '1');
    });

    it('client-only tags of the opening BATCH apply to the whole message', async () => {
      const alice = await connect('alice', ML);
      const bob = await connect('bob', ML);
      const dave = await connect('dave', ['message-tags']);
      const room = await roomWith(alice, bob, dave);
      sendBatch(alice, 't1', room, [`PRIVMSG ${room} one`, `PRIVMSG ${room} two`], '+draft/reply=abc');
      const from = mask(alice);
      assert.deepEqual(normalize(await lines(bob)), [
        `@time=T;msgid=M;+draft/reply=abc :${from} BATCH +REF draft/multiline ${room}`,
        `@time=T;batch=REF :${from} PRIVMSG ${room} one`,
        `@time=T;batch=REF :${from} PRIVMSG ${room} two`,
        `@time=T :${from} BATCH -REF`,
      ]);
      assert.deepEqual(normalize(await lines(dave)), [`@time=T;msgid=M;+draft/reply=abc :${from} PRIVMSG ${room} one`, `@time=T :${from} PRIVMSG ${room} two`]);
      const [item] = await server.store.queryHistory({ target: room, direction: 'backward', limit: 10, events: false });
      assert.equal(item?.tags?.get('+draft/reply'), 'abc', 'history keeps them');
    });

    it('a private batch reaches the recipient once, as a batch or as lines, with NOTICE kept as NOTICE', async () => {
      const alice = await connect('alice', ML);
      const bob = await connect('bob', ML);
      const carol = await connect('carol');
      sendBatch(alice, 'd1', bob.nick, [`NOTICE ${bob.nick} :line one`, `NOTICE ${bob.nick} :line two`]);
      sendBatch(alice, 'd2', carol.nick, [`PRIVMSG ${carol.nick} :hi`, `PRIVMSG ${carol.nick} :there`]);
      const from = mask(alice);
      assert.deepEqual(normalize(await lines(bob)), [
        `@time=T;msgid=M :${from} BATCH +REF draft/multiline ${bob.nick}`,
        `@time=T;batch=REF :${from} NOTICE ${bob.nick} :line one`,
        `@time=T;batch=REF :${from} NOTICE ${bob.nick} :line two`,
        `@time=T :${from} BATCH -REF`,
      ]);
      assert.deepEqual(await lines(carol), [`:${from} PRIVMSG ${carol.nick} hi`, `:${from} PRIVMSG ${carol.nick} there`]);
      assert.deepEqual(await lines(alice), []);
    });

    it('echo-message: the sender gets the batch back, in the form its own caps ask for', async () => {
      const alice = await connect('alice', [...ML, 'echo-message']);
      // draft/multiline and batch without message-tags: it may send batches, it receives lines.
      const bob = await connect('bob', ['draft/multiline', 'batch', 'echo-message']);
      const carol = await connect('carol');
      const room = await roomWith(alice, bob, carol);
      sendBatch(alice, 'e1', room, [`PRIVMSG ${room} one`, `PRIVMSG ${room} two`]);
      assert.deepEqual(normalize(await lines(alice)), [
        `@time=T;msgid=M :${mask(alice)} BATCH +REF draft/multiline ${room}`,
        `@time=T;batch=REF :${mask(alice)} PRIVMSG ${room} one`,
        `@time=T;batch=REF :${mask(alice)} PRIVMSG ${room} two`,
        `@time=T :${mask(alice)} BATCH -REF`,
      ]);
      await lines(bob);
      await lines(carol);
      sendBatch(bob, 'e2', room, [`PRIVMSG ${room} three`, `PRIVMSG ${room} four`]);
      const expected = [`:${mask(bob)} PRIVMSG ${room} three`, `:${mask(bob)} PRIVMSG ${room} four`];
      assert.deepEqual(await lines(bob), expected);
      assert.deepEqual(await lines(carol), expected);
      assert.equal((await lines(alice)).length, 4, 'alice gets the batch');
    });

    it("the sender's other devices always get the message, each in the form its caps ask for", async () => {
      const name = `mlowner${Date.now().toString(36)}`;
      await createAccount(server.server.network, server.store, server.server.auth, name, 'multiline-password');
      const device = async (caps: readonly string[]): Promise<TestClient> => {
        const login = await saslPlain(server.port, name, name, 'multiline-password');
        assert.ok(login.ok, login.client.log.join('\n'));
        login.client.send(`CAP REQ :${caps.join(' ')}`);
        await login.client.expect((m) => m.command === 'CAP' && m.params[1] === 'ACK');
        login.client.drain();
        devices.push(login.client);
        return login.client;
      };
      const laptop = await device(ML);
      const phone = await device(ML);
      const tablet = await device(['server-time']);
      const room = await roomWith(laptop);
      await Promise.all([phone, tablet].map((client) => client.roundtrip()));
      sendBatch(laptop, 'md1', room, [`PRIVMSG ${room} one`, `PRIVMSG ${room} two`]);
      assert.deepEqual(await lines(laptop), [], 'no echo-message on the sending device');
      const from = `${name}!~${name}@127.0.0.1`;
      assert.deepEqual(normalize(await lines(phone)), [
        `@time=T;account=${name};msgid=M :${from} BATCH +REF draft/multiline ${room}`,
        `@time=T;account=${name};batch=REF :${from} PRIVMSG ${room} one`,
        `@time=T;account=${name};batch=REF :${from} PRIVMSG ${room} two`,
        `@time=T :${from} BATCH -REF`,
      ]);
      assert.deepEqual(normalize(await lines(tablet)), [`@time=T :${from} PRIVMSG ${room} one`, `@time=T :${from} PRIVMSG ${room} two`]);
    });

    it('only a client with draft/multiline and batch may open one', async () => {
      const bob = await connect('bob', ['batch', 'message-tags']);
      const room = await roomWith(bob);
      sendBatch(bob, 'x', room, [`PRIVMSG ${room} one`]);
      assert.deepEqual(untimed(await lines(bob)), [`:${SERVER} FAIL BATCH MULTILINE_INVALID :Enable the draft/multiline and batch capabilities first`]);
    });

    it('labeled-response with echo-message: the label goes on the opening BATCH of the echoed batch, and nowhere else', async () => {
      const alice = await connect('alice', [...ML, 'echo-message', 'labeled-response']);
      const bob = await connect('bob', ML);
      const room = await roomWith(alice, bob);
      sendBatch(alice, 'l1', room, [`PRIVMSG ${room} one`, `;draft/multiline-concat PRIVMSG ${room} two`], 'label=x1');
      const echoed = await lines(alice);
      assert.deepEqual(normalize(echoed), [
        `@label=x1;time=T;msgid=M :${mask(alice)} BATCH +REF draft/multiline ${room}`,
        `@time=T;batch=REF :${mask(alice)} PRIVMSG ${room} one`,
        `@time=T;batch=REF;draft/multiline-concat :${mask(alice)} PRIVMSG ${room} two`,
        `@time=T :${mask(alice)} BATCH -REF`,
      ]);
      assert.equal((await lines(bob)).length, 4);
    });

    it('labeled-response without echo-message: the labeled BATCH is answered with one ACK when the batch ends', async () => {
      const alice = await connect('alice', [...ML, 'labeled-response']);
      const bob = await connect('bob', ML);
      const room = await roomWith(alice, bob);
      alice.send(`@label=x2 BATCH +l2 draft/multiline ${room}`);
      alice.send(`@batch=l2 PRIVMSG ${room} one`);
      assert.deepEqual(await lines(alice), [], 'nothing while the batch is open, not even ACK');
      alice.send('BATCH -l2');
      assert.deepEqual(untimed(await lines(alice)), [`@label=x2 :${SERVER} ACK`]);
      assert.equal((await lines(bob)).length, 3);
    });

    it('a PING inside an open batch is answered and keeps the batch', async () => {
      const alice = await connect('alice', ML);
      const bob = await connect('bob', ML);
      const room = await roomWith(alice, bob);
      alice.send(`BATCH +p1 draft/multiline ${room}`);
      alice.send(`@batch=p1 PRIVMSG ${room} one`);
      assert.deepEqual(fails(await lines(alice)), []);
      alice.send(`@batch=p1 PRIVMSG ${room} two`);
      alice.send('BATCH -p1');
      assert.deepEqual(await lines(alice), []);
      assert.equal((await lines(bob)).length, 4);
    });

    it('the permission check is made once, for the whole message', async () => {
      const alice = await connect('alice', ML);
      const bob = await connect('bob', ML);
      const room = await roomWith(bob, alice);
      bob.send(`MODE ${room} +m`);
      await bob.expect('MODE');
      await alice.expect('MODE');
      sendBatch(alice, 'n1', room, [`PRIVMSG ${room} one`, `PRIVMSG ${room} two`]);
      assert.deepEqual(untimed(await lines(alice)), [`:${SERVER} 404 ${alice.nick} ${room} :Cannot send to channel`]);
      assert.deepEqual(await lines(bob), []);
      assert.deepEqual(await server.store.queryHistory({ target: room, direction: 'backward', limit: 10, events: false }), []);
      sendBatch(alice, 'n2', 'nobody-here', ['PRIVMSG nobody-here one']);
      assert.deepEqual(untimed(await lines(alice)), [`:${SERVER} 401 ${alice.nick} nobody-here :No such nick/channel`]);
    });
  });

  describe('FAIL BATCH', () => {
    /** Sends a batch from a fresh multiline client to a fresh room; returns what the sender got and what a member got. */
    async function attempt(body: (room: string) => readonly string[]): Promise<{ sender: string[]; member: string[]; room: string }> {
      const alice = await connect('alice', ML);
      const bob = await connect('bob', ML);
      const room = await roomWith(alice, bob);
      for (const line of body(room)) alice.send(line);
      return { sender: untimed(await lines(alice)), member: await lines(bob), room };
    }

    const open = (ref: string, room: string): string => `BATCH +${ref} draft/multiline ${room}`;

    it(`MULTILINE_MAX_LINES ${MAX_LINES}: one line too many drops the batch, with one FAIL`, async () => {
      const atLimit = await attempt((room) => [open('m1', room), ...Array.from({ length: MAX_LINES }, (_, i) => `@batch=m1 PRIVMSG ${room} :line ${i}`), 'BATCH -m1']);
      assert.deepEqual(atLimit.sender, []);
      assert.equal(atLimit.member.length, MAX_LINES + 2, 'max-lines lines are accepted');
      const over = await attempt((room) => [open('m2', room), ...Array.from({ length: MAX_LINES + 2 }, (_, i) => `@batch=m2 PRIVMSG ${room} :line ${i}`), 'BATCH -m2']);
      assert.deepEqual(over.sender, [`:${SERVER} FAIL BATCH MULTILINE_MAX_LINES ${MAX_LINES} :Multiline batch max-lines exceeded`]);
      assert.deepEqual(over.member, []);
      assert.deepEqual(await server.store.queryHistory({ target: over.room, direction: 'backward', limit: 10, events: false }), []);
    });

    it(`MULTILINE_MAX_BYTES ${MAX_BYTES}: the lines' UTF-8 bytes and one per line break count`, async () => {
      // 299 + "\n" + 300 = 600 bytes: at the limit.
      const atLimit = await attempt((room) => [open('b1', room), `@batch=b1 PRIVMSG ${room} :${'a'.repeat(299)}`, `@batch=b1 PRIVMSG ${room} :${'b'.repeat(300)}`, 'BATCH -b1']);
      assert.deepEqual(atLimit.sender, []);
      assert.equal(atLimit.member.length, 4);
      // 299 + "\n" + 299 + "é" (2 bytes) = 601 bytes: one over.
      const over = await attempt((room) => [
        open('b2', room),
        `@batch=b2 PRIVMSG ${room} :${'a'.repeat(299)}`,
        `@batch=b2 PRIVMSG ${room} :${'b'.repeat(299)}é`,
        'BATCH -b2',
      ]);
      assert.deepEqual(over.sender, [`:${SERVER} FAIL BATCH MULTILINE_MAX_BYTES ${MAX_BYTES} :Multiline batch max-bytes exceeded`]);
      assert.deepEqual(over.member, []);
    });

    it('MULTILINE_INVALID_TARGET: a line for another target than the batch', async () => {
      const result = await attempt((room) => [open('t1', room), `@batch=t1 PRIVMSG ${room} one`, `@batch=t1 PRIVMSG #elsewhere two`, 'BATCH -t1']);
      assert.deepEqual(result.sender, [`:${SERVER} FAIL BATCH MULTILINE_INVALID_TARGET ${result.room} #elsewhere :Invalid multiline target`]);
      assert.deepEqual(result.member, []);
    });

    const invalid: Array<[string, (room: string) => string[], string]> = [
      [
        'draft/multiline-concat on a blank line',
        (room) => [open('i1', room), `@batch=i1 PRIVMSG ${room} one`, `@batch=i1;draft/multiline-concat PRIVMSG ${room} :`, 'BATCH -i1'],
        'A blank line cannot carry draft/multiline-concat',
      ],
      ['an empty batch', (room) => [open('i2', room), 'BATCH -i2'], 'A multiline batch needs at least one line that is not blank'],
      ['only blank lines', (room) => [open('i3', room), `@batch=i3 PRIVMSG ${room} :`, `@batch=i3 PRIVMSG ${room} :`, 'BATCH -i3'], 'A multiline batch needs at least one line that is not blank'],
      ['PRIVMSG and NOTICE mixed', (room) => [open('i4', room), `@batch=i4 PRIVMSG ${room} one`, `@batch=i4 NOTICE ${room} two`, 'BATCH -i4'], 'A multiline batch cannot mix PRIVMSG and NOTICE'],
      ['a line of no open batch', (room) => [`@batch=zz PRIVMSG ${room} one`, `@batch=zz PRIVMSG ${room} two`, 'BATCH -zz'], 'No multiline batch zz is open'],
      ['the end of no open batch', () => ['BATCH -nope'], 'No multiline batch nope is open'],
      [
        'a second batch opened while one is open',
        (room) => [open('i5', room), `@batch=i5 PRIVMSG ${room} one`, open('i6', room), `@batch=i6 PRIVMSG ${room} two`, 'BATCH -i6', 'BATCH -i5'],
        'A multiline batch cannot be opened inside another; both were dropped',
      ],
      [
        'a nested batch',
        (room) => [open('i7', room), `@batch=i7 ${open('i8', room)}`, `@batch=i8 PRIVMSG ${room} two`, 'BATCH -i8', 'BATCH -i7'],
        'A multiline batch cannot be opened inside another; both were dropped',
      ],
      ['a TAGMSG in the batch', (room) => [open('i9', room), `@batch=i9;+typing=active TAGMSG ${room}`, 'BATCH -i9'], 'TAGMSG cannot be part of a multiline batch, only PRIVMSG or NOTICE'],
      ['a batch type other than draft/multiline', (room) => [`BATCH +j1 chathistory ${room}`, `@batch=j1 PRIVMSG ${room} one`, 'BATCH -j1'], 'Clients may only open draft/multiline batches'],
      ['several targets', (room) => [`BATCH +j2 draft/multiline ${room},#other`, `@batch=j2 PRIVMSG ${room} one`, 'BATCH -j2'], 'A multiline batch has exactly one target'],
      ['a service as target', () => ['BATCH +j3 draft/multiline NickServ', '@batch=j3 PRIVMSG NickServ :HELP', 'BATCH -j3'], 'Services take one line at a time'],
    ];
    for (const [name, body, description] of invalid) {
      it(`MULTILINE_INVALID: ${name}, with one FAIL and nothing delivered`, async () => {
        const result = await attempt(body);
        assert.deepEqual(result.sender, [`:${SERVER} FAIL BATCH MULTILINE_INVALID :${description}`]);
        assert.deepEqual(result.member, []);
      });
    }

    it('MULTILINE_INVALID: another command while a batch is open drops the batch, then runs', async () => {
      const result = await attempt((room) => [open('k1', room), `@batch=k1 PRIVMSG ${room} one`, 'AWAY :lunch', `@batch=k1 PRIVMSG ${room} two`, 'BATCH -k1']);
      assert.equal(result.sender.length, 2, result.sender.join('\n'));
      assert.equal(result.sender[0], `:${SERVER} FAIL BATCH MULTILINE_INVALID :AWAY cannot be sent while a multiline batch is open; the batch was dropped`);
      assert.match(result.sender[1] ?? '', / 306 /, 'AWAY ran');
      assert.deepEqual(result.member, []);
    });

    it('the lines of a batch are never run as messages of their own', async () => {
      const result = await attempt((room) => [open('r1', room), `@batch=r1 PRIVMSG ${room} one`]);
      assert.deepEqual(result.sender, []);
      assert.deepEqual(result.member, [], 'nothing is delivered before BATCH -');
    });

    it('a FAIL answers the label of the opening BATCH', async () => {
      const alice = await connect('alice', [...ML, 'labeled-response']);
      const room = await roomWith(alice);
      alice.send(`@label=f1 BATCH +f1 draft/multiline ${room}`);
      for (let i = 0; i <= MAX_LINES; i++) alice.send(`@batch=f1 PRIVMSG ${room} :line ${i}`);
      alice.send('BATCH -f1');
      assert.deepEqual(untimed(await lines(alice)), [`@label=f1 :${SERVER} FAIL BATCH MULTILINE_MAX_LINES ${MAX_LINES} :Multiline batch max-lines exceeded`]);
    });
  });

  describe('history replay inside another batch', () => {
    it('a replayed multiline batch nests in the chathistory batch: its lines keep their own batch tag only', () => {
      const written: string[] = [];
      const device = new Device('dev1', {
        send: (message) => {
          written.push(wireBytes(message, tagVariantOf(device.caps)).toString('utf8').trimEnd());
        },
        sendTagged: (message, tags) => {
          written.push(taggedWireBytes(message, tagVariantOf(device.caps), tags).toString('utf8').trimEnd());
        },
        close: () => undefined,
      } satisfies SessionLink);
      device.caps = Cap.multiline | Cap.batch | Cap.messageTags;
      const session = new Session('s1', 'host', '127.0.0.1', 0);
      session.nick = 'reader';
      const ctx = new CommandContext({ network: server.server.network } as unknown as ServerServices, session, device);
      const item: HistoryItem = {
        msgid: 'abc',
        time: 0,
        target: '#r',
        command: 'PRIVMSG',
        source: 'a!b@c',
        account: undefined,
        params: ['#r', 'x\ny'],
        tags: new Map([[MULTILINE_MARKER, '1']]),
      };
      ctx.batch('chathistory', ['#r'], () => {
        for (const message of multilineReplay(item, true)) ctx.push(message);
      });
      ctx.flush();
      const outer = /BATCH \+(\S+) chathistory/.exec(written[0] ?? '')?.[1] ?? '?';
      assert.deepEqual(
        written.map((line) => line.replace(/time=[^; ]+/g, 'time=T').split(outer).join('OUTER')),
        [
          `@time=T :${SERVER} BATCH +OUTER chathistory #r`,
          '@batch=OUTER;time=T;msgid=abc :a!b@c BATCH +mlabc draft/multiline #r',
          '@time=T;batch=mlabc :a!b@c PRIVMSG #r x',
          '@time=T;batch=mlabc :a!b@c PRIVMSG #r y',
          '@batch=OUTER;time=T :a!b@c BATCH -mlabc',
          `@time=T :${SERVER} BATCH -OUTER`,
        ],
      );
    });
  });

  describe('lines <-> stored text', () => {
    const cases: Array<Array<{ text: string; concat: boolean }>> = [
      [{ text: 'one', concat: false }],
      [
        { text: 'a', concat: false },
        { text: '', concat: false },
        { text: 'b', concat: false },
      ],
      [
        { text: 'how is ', concat: false },
        { text: 'every', concat: true },
        { text: 'one?', concat: true },
        { text: 'fine', concat: false },
        { text: 'é😀', concat: false },
        { text: 'x', concat: true },
      ],
      [
        { text: '', concat: false },
        { text: 'after a blank first line', concat: false },
        { text: '', concat: false },
      ],
    ];
    for (const lineList of cases) {
      it(`splits ${JSON.stringify(joinLines(lineList))} back into ${lineList.length} line(s)`, () => {
        assert.deepEqual(splitLines(joinLines(lineList), multilineMarker(lineList)), lineList);
      });
    }
  });
});
