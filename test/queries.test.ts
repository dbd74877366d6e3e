/**
 * User-based and server queries (Modern IRC "User-Based Queries", "Server Queries and Commands", user MODE),
 * over real sockets.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { hashPassword } from '../src/auth/authenticator.js';
import { TestClient } from './helpers/client.js';
import type { Received } from './helpers/client.js';
import { startTestServer } from './helpers/server.js';
import type { TestServer } from './helpers/server.js';

const OPER_PASSWORD = 'correct horse';

function only(messages: readonly Received[], command: string): Received[] {
  return messages.filter((m) => m.command === command);
}

function one(messages: readonly Received[], command: string): Received {
  const found = only(messages, command);
  assert.equal(found.length, 1, `exactly one ${command} in:\n${messages.map((m) => m.raw).join('\n')}`);
  return found[0] ?? assert.fail();
}

describe('queries', () => {
  let server: TestServer;
  /** alice: oper, op of #room. bob: away, in #room. carol: +i, in #hideout only. dave: in no room. */
  let alice: TestClient;
  let bob: TestClient;
  let carol: TestClient;
  let dave: TestClient;
  const extra: TestClient[] = [];

  const ask = async (client: TestClient, line: string): Promise<Received[]> => {
    client.send(line);
    return client.roundtrip();
  };

  before(async () => {
    server = await startTestServer({ opers: [{ name: 'root', password: await hashPassword(OPER_PASSWORD) }] });
    alice = await TestClient.register(server.port, 'alice', { realname: 'Alice Liddell' });
    bob = await TestClient.register(server.port, 'bob', { realname: 'Bob' });
    carol = await TestClient.register(server.port, 'carol', { realname: 'Carol C' });
    dave = await TestClient.register(server.port, 'dave');
    alice.send(`OPER root :${OPER_PASSWORD}`);
    await alice.expect('381');
    alice.send('JOIN #room');
    await alice.expect('366');
    bob.send('JOIN #room');
    await bob.expect('366');
    bob.send('AWAY :out to lunch');
    await bob.expect('306');
    carol.send('MODE carol +i');
    await carol.expect('MODE');
    carol.send('JOIN #hideout');
    await carol.expect('366');
    await Promise.all([alice.roundtrip(), bob.roundtrip(), carol.roundtrip(), dave.roundtrip()]);
  });
  after(async () => {
    for (const client of [alice, bob, carol, dave, ...extra]) client.close();
    await server.stop();
  });

  it('WHO #room gives one RPL_WHOREPLY (352) per member with H/G, * for operators and the role prefix, then 315', async () => {
    const replies = await ask(dave, 'WHO #room');
    const who = only(replies, '352');
    assert.deepEqual(
      who.map((m) => m.params),
      [
        ['dave', '#room', '~alice', '127.0.0.1', 'test.natter', 'alice', 'H*@', '0 Alice Liddell'],
        ['dave', '#room', '~bob', '127.0.0.1', 'test.natter', 'bob', 'G', '0 Bob'],
      ],
    );
    assert.deepEqual(one(replies, '315').params, ['dave', '#room', 'End of /WHO list']);
    assert.equal(replies.at(-1)?.command, '315', 'RPL_ENDOFWHO comes last');
  });

  it('WHO <nick> gives that user, with a channel of * when none is chosen', async () => {
    const replies = await ask(dave, 'WHO BOB');
    const [reply] = only(replies, '352');
    assert.deepEqual(reply?.params.slice(2), ['~bob', '127.0.0.1', 'test.natter', 'bob', 'G', '0 Bob']);
    assert.ok(reply.params[1] === '*' || reply.params[1] === '#room');
    assert.deepEqual(one(replies, '315').params, ['dave', 'BOB', 'End of /WHO list']);
  });

  it('WHO with a mask matches nicks by wildcard; WHO for nobody gives only 315', async () => {
    const replies = await ask(dave, 'WHO b*');
    assert.deepEqual(only(replies, '352').map((m) => m.params[5]), ['bob']);
    const none = await ask(dave, 'WHO nobody-here');
    assert.deepEqual(none.map((m) => m.command), ['315']);
    const noRoom = await ask(dave, 'WHO #nowhere');
    assert.deepEqual(noRoom.map((m) => m.command), ['315']);
  });

  it('WHOX "%tcnuhraf,123" answers with 354 fields in the spec order t c u i h s n f d l a o r, and the token', async () => {
    const replies = await ask(dave, 'WHO #room %tcnuhraf,123');
    assert.equal(only(replies, '352').length, 0);
    assert.deepEqual(
      only(replies, '354').map((m) => m.params),
      [
        ['dave', '123', '#room', '~alice', '127.0.0.1', 'alice', 'H*@', '0', 'Alice Liddell'],
        ['dave', '123', '#room', '~bob', '127.0.0.1', 'bob', 'G', '0', 'Bob'],
      ],
    );
    assert.equal(replies.at(-1)?.command, '315');
    const nickOnly = await ask(dave, 'WHO alice %n');
    assert.deepEqual(one(nickOnly, '354').params, ['dave', 'alice']);
  });

  it('invisible (+i) users are hidden from WHO of those sharing no room with them, but not from room-mates or operators', async () => {
    const stranger = await ask(dave, 'WHO #hideout');
    assert.deepEqual(only(stranger, '352'), []);
    const wild = await ask(dave, 'WHO *');
    assert.ok(!only(wild, '352').some((m) => m.params[5] === 'carol'), 'WHO * hides carol from dave');
    assert.ok(only(wild, '352').some((m) => m.params[5] === 'bob'));
    const oper = await ask(alice, 'WHO #hideout');
    assert.deepEqual(only(oper, '352').map((m) => m.params[5]), ['carol']);
    const self = await ask(carol, 'WHO #hideout');
    assert.deepEqual(only(self, '352').map((m) => m.params[5]), ['carol']);
    // As in the ratbox family, an exact nick is answered even for a +i user: WHOIS shows as much anyway.
    const exact = await ask(dave, 'WHO carol');
    assert.deepEqual(only(exact, '352').map((m) => m.params[5]), ['carol']);
    const lusers = await ask(dave, 'NAMES #hideout');
    assert.ok(!lusers.some((m) => m.command === '353' && (m.params.at(-1) ?? '').includes('carol')));
  });

  it('WHOIS gives 311, 319 with role prefixes, 312, 301 when away, 313 for operators, 317, then 318', async () => {
    const replies = await ask(dave, 'WHOIS alice');
    assert.deepEqual(
      replies.map((m) => m.command),
      ['311', '319', '312', '313', '317', '318'],
    );
    assert.deepEqual(one(replies, '311').params, ['dave', 'alice', '~alice', '127.0.0.1', '*', 'Alice Liddell']);
    assert.deepEqual(one(replies, '319').params, ['dave', 'alice', '@#room']);
    assert.deepEqual(one(replies, '312').params.slice(0, 3), ['dave', 'alice', 'test.natter']);
    assert.equal(one(replies, '313').params[1], 'alice');
    const idle = one(replies, '317').params;
    assert.equal(idle[1], 'alice');
    assert.match(idle[2] ?? '', /^\d+$/);
    assert.ok(Math.abs(Number(idle[3]) - Date.now() / 1000) < 60, 'signon time is seconds since the epoch');
    assert.deepEqual(one(replies, '318').params, ['dave', 'alice', 'End of /WHOIS list']);
    const away = await ask(dave, 'WHOIS bob');
    assert.deepEqual(one(away, '301').params, ['dave', 'bob', 'out to lunch']);
    assert.ok(!away.some((m) => m.command === '313'));
  });

  it('with multi-prefix, WHO flags and WHOIS 319 show every role prefix, highest first', async () => {
    alice.send('MODE #room +v alice');
    await alice.expect('MODE');
    const multi = await TestClient.register(server.port, 'multi', { caps: ['multi-prefix'] });
    extra.push(multi);
    try {
      assert.deepEqual(one(await ask(multi, 'WHOIS alice'), '319').params, ['multi', 'alice', '@+#room']);
      assert.equal(only(await ask(multi, 'WHO #room'), '352').find((m) => m.params[5] === 'alice')?.params[6], 'H*@+');
      assert.deepEqual(one(await ask(dave, 'WHOIS alice'), '319').params, ['dave', 'alice', '@#room'], 'without it, only the highest');
    } finally {
      alice.send('MODE #room -v alice');
      await alice.expect('MODE');
    }
  });

  it('WHOIS of an unknown nick gives ERR_NOSUCHNICK (401) and still ends with 318', async () => {
    const replies = await ask(dave, 'WHOIS ghost');
    assert.deepEqual(replies.map((m) => [m.command, m.params[1]]), [['401', 'ghost'], ['318', 'ghost']]);
    const noParams = await ask(dave, 'WHOIS');
    assert.deepEqual(noParams.map((m) => m.command), ['431']);
  });

  it('WHOIS <server> <nick> looks up the nick', async () => {
    const replies = await ask(dave, 'WHOIS test.natter bob');
    assert.equal(one(replies, '311').params[1], 'bob');
  });

  it('WHOIS hides secret rooms from outsiders', async () => {
    carol.send('JOIN #secretroom');
    await carol.expect('366');
    carol.send('MODE #secretroom +s');
    await carol.expect('MODE');
    const outsider = await ask(dave, 'WHOIS carol');
    assert.deepEqual(one(outsider, '319').params, ['dave', 'carol', '@#hideout']);
    const self = await ask(carol, 'WHOIS carol');
    assert.deepEqual((one(self, '319').params[2] ?? '').split(' ').sort(), ['@#hideout', '@#secretroom']);
  });

  it('WHOWAS after a user quit gives 314 and 312, then 369; for a never-seen nick 406 then 369', async () => {
    const gone = await TestClient.register(server.port, 'goner', { realname: 'Gone Now' });
    await gone.quit();
    await new Promise((resolve) => setTimeout(resolve, 20));
    const replies = await ask(dave, 'WHOWAS goner');
    assert.deepEqual(replies.map((m) => m.command), ['314', '312', '369']);
    assert.deepEqual(one(replies, '314').params, ['dave', 'goner', '~goner', '127.0.0.1', '*', 'Gone Now']);
    assert.equal(one(replies, '369').params[1], 'goner');
    const never = await ask(dave, 'WHOWAS neverwas');
    assert.deepEqual(never.map((m) => [m.command, m.params[1]]), [['406', 'neverwas'], ['369', 'neverwas']]);
    const noParams = await ask(dave, 'WHOWAS');
    assert.deepEqual(noParams.map((m) => m.command), ['431']);
  });

  it('ISON answers with the nicks that are online, as they spell them', async () => {
    const replies = await ask(dave, 'ISON ALICE nobody Bob');
    assert.deepEqual(one(replies, '303').params, ['dave', 'alice bob']);
    const trailing = await ask(dave, 'ISON :carol ghost');
    assert.deepEqual(one(trailing, '303').params, ['dave', 'carol']);
    const none = await ask(dave, 'ISON ghost');
    assert.deepEqual(one(none, '303').params, ['dave', '']);
  });

  it('USERHOST gives nick[*]=(+|-)user@host, * for operators and - for away users', async () => {
    const replies = await ask(dave, 'USERHOST alice bob ghost dave');
    assert.deepEqual(one(replies, '302').params, ['dave', 'alice*=+~alice@127.0.0.1 bob=-~bob@127.0.0.1 dave=+~dave@127.0.0.1']);
  });

  it('VERSION gives RPL_VERSION (351) and then the ISUPPORT lines', async () => {
    const replies = await ask(dave, 'VERSION');
    assert.equal(replies[0]?.command, '351');
    assert.match(replies[0].params[1] ?? '', /^natter-\d+\.\d+\.\d+/);
    assert.equal(replies[0].params[2], 'test.natter');
    assert.ok(replies.slice(1).length > 0 && replies.slice(1).every((m) => m.command === '005'));
  });

  it('TIME gives RPL_TIME (391) with the server name and the time', async () => {
    const reply = one(await ask(dave, 'TIME'), '391');
    assert.equal(reply.params[1], 'test.natter');
    assert.ok(Math.abs(Number(reply.params[2]) - Date.now() / 1000) < 60);
    assert.ok(!Number.isNaN(Date.parse(reply.params.at(-1) ?? '')));
  });

  it('ADMIN gives 256, 257, 258 and 259', async () => {
    const replies = await ask(dave, 'ADMIN');
    assert.deepEqual(replies.map((m) => m.command), ['256', '257', '258', '259']);
    assert.equal(replies[3]?.params[1], 'nobody@localhost');
  });

  it('INFO gives RPL_INFO (371) lines and ends with 374', async () => {
    const replies = await ask(dave, 'INFO');
    assert.ok(replies.length >= 2);
    assert.ok(replies.slice(0, -1).every((m) => m.command === '371'));
    assert.equal(replies.at(-1)?.command, '374');
  });

  it('HELP gives 704, 705 lines and 706 for a topic; an unknown topic gets ERR_HELPNOTFOUND (524)', async () => {
    const index = await ask(dave, 'HELP');
    assert.equal(index[0]?.command, '704');
    assert.equal(index.at(-1)?.command, '706');
    assert.ok(index.slice(1, -1).every((m) => m.command === '705'));
    const join = await ask(dave, 'HELP JOIN');
    assert.deepEqual(join.map((m) => m.command).filter((c) => c !== '705'), ['704', '706']);
    assert.equal(join[0]?.params[1], 'join');
    assert.match(join[0].params[2] ?? '', /^JOIN /);
    const unknown = await ask(dave, 'HELP frobnicate');
    assert.deepEqual(unknown.map((m) => [m.command, m.params[1]]), [['524', 'frobnicate']]);
  });

  it('MOTD gives 375, the lines as 372, then 376', async () => {
    const replies = await ask(dave, 'MOTD');
    assert.deepEqual(replies.map((m) => m.command), ['375', '372', '372', '376']);
    assert.equal(replies[1]?.params[1], '- Welcome to Natter.');
  });

  it('an unknown command gets ERR_UNKNOWNCOMMAND (421) naming it', async () => {
    const replies = await ask(dave, 'FROBNICATE a b');
    assert.deepEqual(replies.map((m) => m.params), [['dave', 'FROBNICATE', 'Unknown command']]);
    assert.equal(replies[0]?.command, '421');
  });

  it('user MODE: +i and -i are applied and echoed, and a bare MODE <self> gives RPL_UMODEIS (221)', async () => {
    dave.send('MODE dave +i');
    const set = await dave.expect('MODE');
    assert.deepEqual(set.params, ['dave', '+i']);
    assert.deepEqual(one(await ask(dave, 'MODE dave'), '221').params, ['dave', '+i']);
    dave.send('MODE dave -i');
    const unset = await dave.expect('MODE');
    assert.deepEqual(unset.params, ['dave', '-i']);
    assert.deepEqual(one(await ask(dave, 'MODE DAVE'), '221').params, ['dave', '+']);
    assert.deepEqual(await ask(dave, 'MODE dave -i'), [], 'no change, no reply');
  });

  it('user MODE on another user gets ERR_USERSDONTMATCH (502); on an unknown nick 401', async () => {
    assert.deepEqual((await ask(dave, 'MODE bob +i')).map((m) => m.command), ['502']);
    assert.deepEqual((await ask(dave, 'MODE bob')).map((m) => m.command), ['502']);
    assert.deepEqual((await ask(dave, 'MODE ghost +i')).map((m) => m.command), ['401']);
  });

  it('user MODE with an unknown flag gets ERR_UMODEUNKNOWNFLAG (501); known flags in the same string still apply', async () => {
    const replies = await ask(dave, 'MODE dave +xw');
    assert.deepEqual(replies.map((m) => m.command).sort(), ['501', 'MODE']);
    assert.deepEqual(one(replies, 'MODE').params, ['dave', '+w']);
    await ask(dave, 'MODE dave -w');
  });

  it('+o cannot be set with MODE: only OPER grants it', async () => {
    assert.deepEqual(await ask(dave, 'MODE dave +o'), []);
    assert.deepEqual(one(await ask(dave, 'MODE dave'), '221').params, ['dave', '+']);
    assert.ok(!(await ask(bob, 'WHOIS dave')).some((m) => m.command === '313'));
  });
});

describe('LUSERS', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ opers: [{ name: 'root', password: await hashPassword(OPER_PASSWORD) }] });
  });
  after(async () => {
    await server.stop();
  });

  it('LUSERS counts visible and invisible users, operators, unregistered connections and rooms', async () => {
    const oper = await TestClient.register(server.port, 'op');
    const hidden = await TestClient.register(server.port, 'hidden');
    const plain = await TestClient.register(server.port, 'plain');
    const pending = await TestClient.connect(server.port);
    pending.send('NICK pending');
    oper.send(`OPER root :${OPER_PASSWORD}`);
    await oper.expect('381');
    hidden.send('MODE hidden +i');
    await hidden.expect('MODE');
    plain.send('JOIN #a,#b');
    await plain.expect((m) => m.command === '366' && m.params[1] === '#b');
    await pending.roundtrip();
    await plain.roundtrip();
    plain.send('LUSERS');
    const replies = await plain.roundtrip();
    assert.deepEqual(
      replies.map((m) => [m.command, ...m.params.slice(1)]),
      [
        ['251', 'There are 2 users and 1 invisible on 1 servers'],
        ['252', '1', 'operator(s) online'],
        ['253', '1', 'unknown connection(s)'],
        ['254', '2', 'channels formed'],
        ['255', 'I have 3 clients and 1 servers'],
        ['265', '3', '3', 'Current local users 3, max 3'],
        ['266', '3', '3', 'Current global users 3, max 3'],
      ],
    );
    await hidden.quit();
    await new Promise((resolve) => setTimeout(resolve, 20));
    plain.send('LUSERS');
    const later = await plain.roundtrip();
    assert.deepEqual(later[0]?.params.slice(1), ['There are 2 users and 0 invisible on 1 servers']);
    assert.deepEqual(later.find((m) => m.command === '265')?.params.slice(1, 3), ['2', '3'], 'the max is remembered');
    for (const client of [oper, plain, pending]) client.close();
  });
});
