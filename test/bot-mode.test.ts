/**
 * IRCv3 bot-mode (ircv3.net/specs/extensions/bot-mode) over real sockets: user mode +B, ISUPPORT BOT=B, WHOIS 335,
 * the WHO flag, and the bot tag on what a bot sends.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { TestClient } from './helpers/client.js';
import { ClientPool, lines, mask, only } from './helpers/clients.js';
import { startTestServer } from './helpers/server.js';
import type { TestServer } from './helpers/server.js';

const SERVER = 'test.natter';

let server: TestServer;
const pool = new ClientPool(() => server.port);
const { connect, roomWith } = pool;

async function bot(caps: string[] = []): Promise<TestClient> {
  const client = await connect('bot', caps);
  client.send(`MODE ${client.nick} +B`);
  await client.expect('MODE');
  await client.roundtrip();
  return client;
}


describe('bot-mode', () => {
  before(async () => {
    server = await startTestServer();
  });
  afterEach(() => {
    pool.closeAll();
  });
  after(async () => {
    await server.stop();
  });

  it('"The value of the BOT token is the mode character which is used to enable bot mode": BOT=B, and 004 lists B among user modes', async () => {
    const client = await TestClient.connect(server.port);
    client.send('NICK botisupport');
    client.send('USER botisupport 0 * :x');
    const myinfo = await client.expect('004');
    assert.match(myinfo.params[3] ?? '', /B/);
    await client.expect('376');
    client.send('VERSION');
    const isupport = (await client.roundtrip()).filter((m) => m.command === '005').flatMap((m) => m.params);
    assert.ok(isupport.includes('BOT=B'), isupport.join(' '));
    client.close();
  });

  it('a client marks itself a bot with MODE <nick> +B, sees it in 221, and may drop it with -B', async () => {
    const client = await connect('selfbot');
    client.send(`MODE ${client.nick} +B`);
    assert.deepEqual(await lines(client), [`:${client.nick} MODE ${client.nick} +B`]);
    client.send(`MODE ${client.nick}`);
    assert.deepEqual(await lines(client), [`:${SERVER} 221 ${client.nick} +B`]);
    client.send(`MODE ${client.nick} -B`);
    assert.deepEqual(await lines(client), [`:${client.nick} MODE ${client.nick} -B`]);
  });

  it('"When a client is marked as a bot, they are given a special numeric as part of their WHOIS response": 335 RPL_WHOISBOT', async () => {
    const robot = await bot();
    const human = await connect('human');
    human.send(`WHOIS ${robot.nick}`);
    const whois = await human.roundtrip();
    const numeric = whois.find((m) => m.command === '335');
    assert.deepEqual(numeric?.params.slice(0, 2), [human.nick, robot.nick]);
    robot.send(`WHOIS ${human.nick}`);
    assert.ok(!(await robot.roundtrip()).some((m) => m.command === '335'), 'no 335 for a human');
  });

  it('"the character used as the value of the ISUPPORT BOT token is returned in the flags (alongside H|G)" of WHO, and of WHOX %f', async () => {
    const robot = await bot();
    const human = await connect('human');
    const channel = await roomWith(human, robot);
    human.send(`WHO ${channel}`);
    const flags = new Map((await human.roundtrip()).filter((m) => m.command === '352').map((m) => [m.params[5], m.params[6]]));
    assert.equal(flags.get(robot.nick), 'HB');
    assert.equal(flags.get(human.nick), 'H@');
    human.send(`WHO ${robot.nick} %nf`);
    assert.deepEqual(only((await human.roundtrip()).filter((m) => m.command === '354')).params.slice(1), [robot.nick, 'HB']);
  });

  it('"servers may include the bot tag on that client\'s outgoing messages": PRIVMSG, NOTICE and TAGMSG, to a room or a nick, for message-tags clients', async () => {
    const robot = await bot(['message-tags']);
    const tagged = await connect('tagged', ['message-tags']);
    const channel = await roomWith(robot, tagged);
    robot.send(`PRIVMSG ${channel} :beep`);
    await robot.roundtrip(); // delivered (after the store) by the time the sender's PING is answered
    robot.send(`NOTICE ${channel} :boop`);
    robot.send(`@+typing=active TAGMSG ${channel}`);
    robot.send(`PRIVMSG ${tagged.nick} :private beep`);
    await robot.roundtrip();
    const received = await tagged.roundtrip();
    assert.deepEqual(
      received.map((m) => m.command),
      ['PRIVMSG', 'NOTICE', 'TAGMSG', 'PRIVMSG'],
    );
    for (const message of received) {
      assert.equal(message.source, mask(robot));
      assert.equal(message.tags?.get('bot'), '', `${message.raw} has a bare bot tag`);
    }
  });

  it('"This tag MUST only be sent to users who have requested the message-tags capability"; a human\'s messages carry no bot tag', async () => {
    const robot = await bot();
    const plain = await connect('plain', ['server-time']);
    const tagged = await connect('tagged', ['message-tags']);
    const channel = await roomWith(robot, plain, tagged);
    robot.send(`PRIVMSG ${channel} :beep`);
    const untagged = only(await plain.roundtrip());
    assert.equal(untagged.command, 'PRIVMSG');
    assert.equal(untagged.tags?.has('bot'), false, untagged.raw);
    assert.equal(only(await tagged.roundtrip()).tags?.has('bot'), true);
    plain.send(`PRIVMSG ${channel} :human here`);
    await plain.roundtrip();
    assert.equal(only(await tagged.roundtrip()).tags?.has('bot'), false);
    // Dropping +B drops the tag.
    robot.send(`MODE ${robot.nick} -B`);
    await robot.expect('MODE');
    robot.send(`PRIVMSG ${channel} :no longer a bot`);
    await robot.roundtrip();
    assert.equal(only(await tagged.roundtrip()).tags?.has('bot'), false);
  });
});
