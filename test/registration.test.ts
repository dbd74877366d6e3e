/**
 * Connection registration (Modern IRC "Connection Registration", IRCv3 Capability Negotiation 302), the
 * welcome burst, PASS, PING/PONG, timeouts and QUIT, over real sockets.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CAPABILITIES } from '../src/protocol/caps.js';
import { TestClient } from './helpers/client.js';
import type { Received } from './helpers/client.js';
import { startTestServer } from './helpers/server.js';
import type { TestServer } from './helpers/server.js';

const commands = (messages: readonly Received[]): string[] => messages.map((m) => m.command);

/** Every ISUPPORT token of the 005 lines, as key -> value ('' for a token without a value). */
function isupport(messages: readonly Received[]): Map<string, string> {
  const tokens = new Map<string, string>();
  for (const m of messages) {
    if (m.command !== '005') continue;
    for (const token of m.params.slice(1, -1)) {
      const eq = token.indexOf('=');
      tokens.set(eq === -1 ? token : token.slice(0, eq), eq === -1 ? '' : token.slice(eq + 1));
    }
  }
  return tokens;
}

describe('registration', () => {
  let server: TestServer;
  const clients: TestClient[] = [];
  const connect = async (): Promise<TestClient> => {
    const client = await TestClient.connect(server.port);
    clients.push(client);
    return client;
  };
  const register = async (nick: string): Promise<TestClient> => {
    const client = await TestClient.register(server.port, nick);
    clients.push(client);
    return client;
  };
  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    for (const client of clients) client.close();
    await server.stop();
  });

  it('CAP LS 302 lists every capability of the table (sts only with a TLS listener), with values, and registration waits until CAP END', async () => {
    const client = await connect();
    // CAP LS 302 continues on further lines, each but the last with "*" before the list.
    const { lines, tokens } = await client.capLs();
    client.send('NICK capper');
    client.send('USER capper 0 * :Cap Per');
    for (const ls of lines) {
      assert.equal(ls.params[0], '*', 'before NICK the reply is addressed to *');
      assert.ok(Buffer.byteLength(ls.raw) <= 510, 'each CAP LS line fits 512 bytes');
    }
    const advertised = tokens.map((token) => token.split('=')[0]);
    assert.deepEqual(advertised.sort(), CAPABILITIES.map((cap) => cap.name).filter((name) => name !== 'sts').sort());
    assert.ok(tokens.includes('sasl=PLAIN,SCRAM-SHA-256,EXTERNAL'), 'sasl lists its mechanisms');
    assert.ok(tokens.includes('draft/multiline=max-bytes=4096,max-lines=100'), 'multiline gives its limits');
    const meanwhile = await client.roundtrip();
    assert.ok(!meanwhile.some((m) => m.command === '001'), 'no welcome while negotiation is open');
    client.send('CAP REQ :multi-prefix server-time');
    const ack = await client.expect((m) => m.command === 'CAP' && m.params[1] === 'ACK');
    assert.deepEqual(ack.params.slice(2), ['multi-prefix server-time']);
    client.send('CAP LIST');
    const list = await client.expect((m) => m.command === 'CAP' && m.params[1] === 'LIST');
    // cap-notify is enabled implicitly by CAP LS 302 (IRCv3 cap-notify).
    assert.deepEqual((list.params.at(-1) ?? '').split(' ').sort(), ['cap-notify', 'multi-prefix', 'server-time']);
    assert.deepEqual(commands(await client.roundtrip()).filter((c) => c === '001'), []);
    client.send('CAP END');
    const welcome = await client.expect('001');
    assert.equal(welcome.params[0], 'capper');
  });

  it('CAP REQ is all or nothing: one unknown capability NAKs the whole request and enables none', async () => {
    const client = await connect();
    client.send('CAP LS 302');
    client.send('CAP REQ :multi-prefix no-such-cap');
    const nak = await client.expect((m) => m.command === 'CAP' && m.params[1] === 'NAK');
    assert.equal(nak.params.at(-1), 'multi-prefix no-such-cap');
    client.send('CAP REQ :-cap-notify');
    const sticky = await client.expect((m) => m.command === 'CAP' && (m.params[1] === 'NAK' || m.params[1] === 'ACK'));
    assert.equal(sticky.params[1], 'NAK', 'cap-notify cannot be disabled by a 302 client');
    client.send('CAP LIST');
    const list = await client.expect((m) => m.command === 'CAP' && m.params[1] === 'LIST');
    assert.equal(list.params.at(-1), 'cap-notify');
    client.send('CAP REQ :multi-prefix');
    await client.expect((m) => m.command === 'CAP' && m.params[1] === 'ACK');
    client.send('CAP REQ :-multi-prefix');
    await client.expect((m) => m.command === 'CAP' && m.params[1] === 'ACK' && m.params.at(-1) === '-multi-prefix');
    client.send('CAP LIST');
    const after = await client.expect((m) => m.command === 'CAP' && m.params[1] === 'LIST');
    assert.equal(after.params.at(-1), 'cap-notify');
  });

  it('an unknown CAP subcommand gets ERR_INVALIDCAPCMD (410) naming it', async () => {
    const client = await connect();
    client.send('CAP FROB');
    const reply = await client.expect('410');
    assert.deepEqual(reply.params.slice(0, 2), ['*', 'FROB']);
  });

  it('CAP END without negotiation is ignored, and NICK/USER still complete registration', async () => {
    const client = await connect();
    client.send('CAP END');
    client.send('NICK noneg');
    client.send('USER noneg 0 * :x');
    await client.expect('001');
  });

  it('NICK and USER may come in either order', async () => {
    const client = await connect();
    client.send('USER backwards 0 * :Back Wards');
    assert.ok(!(await client.roundtrip()).some((m) => m.command === '001'));
    client.send('NICK backwards');
    const welcome = await client.expect('001');
    assert.match(welcome.params.at(-1) ?? '', /backwards!~backwards@127\.0\.0\.1$/);
  });

  it('NICK without a nickname gets ERR_NONICKNAMEGIVEN (431)', async () => {
    const client = await connect();
    client.send('NICK');
    await client.expect('431');
    client.send('NICK :');
    await client.expect('431');
  });

  it('a nickname starting with a digit, holding a space or longer than NICKLEN gets ERR_ERRONEUSNICKNAME (432)', async () => {
    const client = await connect();
    for (const bad of ['1abc', 'x'.repeat(31), '#room', 'a,b', 'a!b', 'a@b', '*', '-dash']) {
      client.send(`NICK :${bad}`);
      const reply = await client.expect('432');
      assert.deepEqual(reply.params, ['*', bad, 'Erroneous nickname']);
    }
    // A nick that cannot be a middle parameter is echoed as "*" so the reply stays well-formed.
    for (const bad of ['a b', ':colon']) {
      client.send(`NICK :${bad}`);
      const reply = await client.expect('432');
      assert.deepEqual(reply.params, ['*', '*', 'Erroneous nickname']);
    }
    client.send(`NICK ${'x'.repeat(30)}`);
    client.send('USER x 0 * :x');
    await client.expect('001');
  });

  it('a nickname in use gets ERR_NICKNAMEINUSE (433), also when it differs only by rfc1459 case', async () => {
    const holder = await register('[foo]');
    const client = await connect();
    for (const taken of ['[foo]', '{FOO}', '[FOO]', '{foo}']) {
      client.send(`NICK ${taken}`);
      const reply = await client.expect('433');
      assert.deepEqual(reply.params.slice(0, 2), ['*', taken]);
    }
    // | and \ are also one letter in rfc1459.
    const caret = await register('a|b');
    client.send('NICK A\\B');
    await client.expect('433');
    client.send('NICK freefoo');
    client.send('USER f 0 * :f');
    await client.expect('001');
    client.send('NICK {FOO}');
    const afterReg = await client.expect('433');
    assert.deepEqual(afterReg.params.slice(0, 2), ['freefoo', '{FOO}']);
    await Promise.all([holder.quit(), caret.quit()]);
  });

  it('changing only the case of your own nickname is allowed and announced', async () => {
    const client = await register('casey');
    client.send('NICK CASEY');
    const nick = await client.expect('NICK');
    assert.equal(nick.source, 'casey!~casey@127.0.0.1');
    assert.deepEqual(nick.params, ['CASEY']);
  });

  it('USER (or PASS) after registration gets ERR_ALREADYREGISTERED (462)', async () => {
    const client = await register('twice');
    client.send('USER again 0 * :again');
    await client.expect('462');
    client.send('PASS secret');
    await client.expect('462');
  });

  it('USER with too few parameters gets ERR_NEEDMOREPARAMS (461)', async () => {
    const client = await connect();
    client.send('USER onlyone');
    const reply = await client.expect('461');
    assert.equal(reply.params[1], 'USER');
  });

  it('commands other than registration ones before registering get ERR_NOTREGISTERED (451)', async () => {
    const client = await connect();
    for (const line of ['JOIN #room', 'PRIVMSG someone :hi', 'WHOIS someone', 'MODE x +i', 'FROBNICATE']) {
      client.send(line);
      const reply = await client.expect((m) => /^\d{3}$/.test(m.command));
      assert.equal(reply.command, '451', line);
      assert.equal(reply.params[0], '*');
    }
  });

  it('the welcome burst is 001-005, then LUSERS (251-255, 265, 266), then the MOTD (375, 372, 376)', async () => {
    const client = await connect();
    client.send('NICK bursty');
    client.send('USER bursty 0 * :Burst Y');
    const burst = await client.roundtrip();
    const numerics = commands(burst).filter((c) => /^\d{3}$/.test(c));
    const firstIsupport = numerics.indexOf('005');
    const isupportCount = numerics.filter((c) => c === '005').length;
    assert.deepEqual(numerics.slice(0, firstIsupport), ['001', '002', '003', '004']);
    assert.deepEqual(numerics.slice(firstIsupport + isupportCount), ['251', '252', '253', '254', '255', '265', '266', '375', '372', '372', '376']);
    const byCode = (code: string): Received => burst.find((m) => m.command === code) ?? assert.fail(`no ${code}`);
    assert.ok(burst.every((m) => m.source === 'test.natter'), 'numerics come from the server');
    assert.ok(burst.every((m) => m.params[0] === 'bursty'), 'numerics are addressed to the new nick');
    assert.match(byCode('001').params[1] ?? '', /^Welcome to the Natter IRC Network, bursty!~bursty@127\.0\.0\.1$/);
    assert.match(byCode('002').params[1] ?? '', /test\.natter/);
    assert.equal(byCode('004').params[1], 'test.natter');
    assert.equal(byCode('004').params.length, 6, '004 <client> <servername> <version> <umodes> <chanmodes> [<chanmodes with param>]');
    assert.match(byCode('375').params[1] ?? '', /test\.natter/);
  });

  it('ISUPPORT advertises every token clients need, with values matching the configuration', async () => {
    const client = await connect();
    client.send('NICK tokens');
    client.send('USER tokens 0 * :x');
    const burst = await client.roundtrip();
    for (const m of burst.filter((x) => x.command === '005')) {
      assert.equal(m.params.at(-1), 'are supported by this server');
      assert.ok(m.params.length <= 15, 'at most 15 parameters per line');
      assert.ok(Buffer.byteLength(m.raw) <= 510);
    }
    const tokens = isupport(burst);
    const expected: Record<string, string | RegExp> = {
      CASEMAPPING: 'rfc1459',
      CHANTYPES: '#',
      CHANMODES: /^[a-zA-Z]*,[a-zA-Z]*,[a-zA-Z]*,[a-zA-Z]*$/,
      PREFIX: /^\([a-z]+\)[~&@%+]+$/,
      STATUSMSG: /^[~&@%+]+$/,
      NICKLEN: '30',
      CHANNELLEN: '64',
      TOPICLEN: '390',
      KICKLEN: '255',
      AWAYLEN: '255',
      MAXTARGETS: '4',
      TARGMAX: /(^|,)PRIVMSG:4(,|$)/,
      MODES: '4',
      NETWORK: 'Natter',
      ELIST: /^[CMNTU]+$/,
    };
    for (const [key, value] of Object.entries(expected)) {
      const got = tokens.get(key);
      assert.notEqual(got, undefined, `ISUPPORT lacks ${key}`);
      if (typeof value === 'string') assert.equal(got, value, key);
      else assert.match(got ?? '', value, key);
    }
    const prefix = /^\(([a-z]+)\)(.+)$/.exec(tokens.get('PREFIX') ?? '');
    assert.equal(prefix?.[1]?.length, prefix?.[2]?.length, 'PREFIX has one symbol per mode');
  });

  it('PING is answered with PONG carrying the token, before and after registration', async () => {
    const client = await connect();
    client.send('PING :before reg');
    const early = await client.expect('PONG');
    assert.deepEqual(early.params, ['test.natter', 'before reg']);
    client.send('NICK pinger');
    client.send('USER pinger 0 * :x');
    await client.expect('376');
    client.send('PING token123');
    const late = await client.expect('PONG');
    assert.deepEqual(late.params, ['test.natter', 'token123']);
    client.send('PING');
    const missing = await client.expect('461');
    assert.equal(missing.params[1], 'PING');
  });

  it('an unsolicited PONG is accepted silently', async () => {
    const client = await register('ponger');
    client.send('PONG :whatever');
    assert.deepEqual(await client.roundtrip(), []);
  });

  it('QUIT: peers sharing rooms see one QUIT "Quit: <reason>", and the quitter gets ERROR and is closed', async () => {
    const leaver = await register('leaver');
    const peer = await register('peer');
    const stranger = await register('stranger');
    for (const client of [leaver, peer]) {
      client.send('JOIN #one,#two');
      await client.expect((m) => m.command === '366' && m.params[1] === '#two');
    }
    await leaver.roundtrip();
    await peer.roundtrip();
    leaver.send('QUIT :gone fishing');
    const error = await leaver.expect('ERROR');
    assert.match(error.params[0] ?? '', /^Closing Link: .*\(Quit: gone fishing\)$/);
    await leaver.closed;
    const quit = await peer.expect('QUIT');
    assert.equal(quit.source, 'leaver!~leaver@127.0.0.1');
    assert.deepEqual(quit.params, ['Quit: gone fishing']);
    const rest = await peer.roundtrip();
    assert.ok(!rest.some((m) => m.command === 'QUIT'), 'one QUIT although two rooms are shared');
    assert.deepEqual(await stranger.roundtrip(), [], 'users sharing no room see nothing');
  });

  it('QUIT without a reason is shown as "Client Quit", and the nick is free again at once', async () => {
    const leaver = await register('plainquit');
    const peer = await register('plainpeer');
    leaver.send('JOIN #plain');
    await leaver.expect('366');
    peer.send('JOIN #plain');
    await peer.expect('366');
    leaver.send('QUIT');
    const quit = await peer.expect('QUIT');
    assert.deepEqual(quit.params, ['Client Quit']);
    await leaver.closed;
    const again = await register('plainquit');
    await again.quit();
  });

  it('a QUIT reason as long as a line allows is cut so the relayed QUIT still fits 512 bytes, at a character boundary', async () => {
    const leaver = await register('longquit');
    const peer = await register('longpeer');
    for (const client of [leaver, peer]) {
      client.send('JOIN #long');
      await client.expect('366');
    }
    const reason = 'é'.repeat(250); // 500 bytes: a 510-byte QUIT line from the client
    leaver.send(`QUIT :${reason}`);
    const quit = await peer.expect('QUIT');
    assert.ok(Buffer.byteLength(`${quit.raw}\r\n`) <= 512, `${Buffer.byteLength(quit.raw)} bytes`);
    const shown = quit.params[0] ?? '';
    assert.match(shown, /^Quit: é+$/, 'no broken character at the cut');
    assert.ok(shown.length > 200, 'only what does not fit is cut');
    const error = await leaver.expect('ERROR');
    assert.ok(Buffer.byteLength(error.raw) <= 510);
  });

  it('QUIT before registration closes with ERROR and frees the reserved nick', async () => {
    const client = await connect();
    client.send('NICK reserved');
    client.send('QUIT :bye');
    await client.expect('ERROR');
    await client.closed;
    const next = await register('reserved');
    await next.quit();
  });

  it('a client that disconnects without QUIT is seen leaving by its peers', async () => {
    const dropper = await register('dropper');
    const peer = await register('droppeer');
    dropper.send('JOIN #drop');
    await dropper.expect('366');
    peer.send('JOIN #drop');
    await peer.expect('366');
    dropper.close();
    const quit = await peer.expect('QUIT');
    assert.equal(quit.source?.split('!')[0], 'dropper');
  });
});

describe('registration with an empty MOTD', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ motd: [] });
  });
  after(async () => {
    await server.stop();
  });

  it('the welcome burst ends with ERR_NOMOTD (422) when there is no MOTD, and MOTD says so too', async () => {
    const client = await TestClient.connect(server.port);
    client.send('NICK nomotd');
    client.send('USER nomotd 0 * :x');
    const burst = commands(await client.roundtrip());
    assert.equal(burst.at(-1), '422');
    assert.ok(!burst.includes('375') && !burst.includes('376'));
    client.send('MOTD');
    await client.expect('422');
    await client.quit();
  });

  it('an empty MOTD text counts as no MOTD', async () => {
    const blank = await startTestServer({ motd: '' });
    try {
      const client = await TestClient.connect(blank.port);
      client.send('NICK blank');
      client.send('USER blank 0 * :x');
      assert.equal(commands(await client.roundtrip()).at(-1), '422');
      client.close();
    } finally {
      await blank.stop();
    }
  });
});

describe('server password (PASS)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ password: 'sesame' });
  });
  after(async () => {
    await server.stop();
  });

  it('a wrong PASS gets ERR_PASSWDMISMATCH (464), then ERROR, and the connection is closed', async () => {
    const client = await TestClient.connect(server.port);
    client.send('PASS wrong');
    client.send('NICK wrongpass');
    client.send('USER wrongpass 0 * :x');
    await client.expect('464');
    const error = await client.expect('ERROR');
    assert.match(error.params[0] ?? '', /^Closing Link: /);
    await client.closed;
    assert.ok(!client.log.some((line) => / 001 /.test(line)));
  });

  it('no PASS at all gets 464 and is closed', async () => {
    const client = await TestClient.connect(server.port);
    client.send('NICK nopass');
    client.send('USER nopass 0 * :x');
    await client.expect('464');
    await client.closed;
  });

  it('the right PASS before NICK/USER registers, also through CAP negotiation', async () => {
    const client = await TestClient.connect(server.port);
    client.send('PASS sesame');
    await client.registerAs('rightpass', { caps: ['multi-prefix'] });
    const plain = await TestClient.connect(server.port);
    plain.send('PASS :sesame');
    await plain.registerAs('rightpass2');
    await Promise.all([client.quit(), plain.quit()]);
  });
});

describe('timeouts', { concurrency: true }, () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ limits: { registrationTimeoutSeconds: 1, pingIntervalSeconds: 1, pingTimeoutSeconds: 1 } });
  });
  after(async () => {
    await server.stop();
  });

  it('a connection that does not complete registration in time is closed with ERROR', async () => {
    const client = await TestClient.connect(server.port);
    client.send('NICK slowpoke');
    const error = await client.expect('ERROR', 4000);
    assert.match(error.params[0] ?? '', /Registration timeout/);
    await client.closed;
  });

  it('the server PINGs an idle client and closes it with "Ping timeout" when no PONG comes; answering keeps others connected', async () => {
    const idle = await TestClient.register(server.port, 'idler');
    const awake = await TestClient.register(server.port, 'awake');
    let answering = true;
    const keepAnswering = async (): Promise<void> => {
      while (answering && !awake.isClosed) {
        const ping = await awake.expect('PING', 300).catch(() => undefined);
        if (ping !== undefined) awake.send(`PONG :${ping.params.at(-1) ?? ''}`);
      }
    };
    const answerer = keepAnswering();
    idle.send('JOIN #idle');
    await idle.expect('366');
    awake.send('JOIN #idle');
    await idle.expect('JOIN');
    const ping = await idle.expect('PING', 4000);
    assert.deepEqual(ping.params, ['test.natter']);
    const error = await idle.expect('ERROR', 4000);
    assert.match(error.params[0] ?? '', /\(Ping timeout: \d+ seconds\)$/);
    await idle.closed;
    const quit = await awake.expect('QUIT', 2000);
    assert.equal(quit.source?.split('!')[0], 'idler');
    assert.match(quit.params[0] ?? '', /^Ping timeout/);
    assert.ok(!awake.isClosed, 'the client that answered PINGs is still connected');
    answering = false;
    awake.close();
    await answerer;
  });
});
