/**
 * Multi-device accounts (issue 5, as Ergo's multiclient): SASL logins to one account share one nick and one
 * presence; each device sees what the others send; one device leaving is invisible to others; a device that comes
 * back gets what it missed through CHATHISTORY.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createAccount } from '../src/core/accounts.js';
import type { TestClient } from './helpers/client.js';
import { ClientPool, join, settle } from './helpers/clients.js';
import { saslPlain } from './helpers/login.js';
import { startTestServer } from './helpers/server.js';
import type { TestServer } from './helpers/server.js';

const PASSWORD = 'devices-password';
const CAPS = ['batch', 'labeled-response', 'message-tags', 'server-time', 'echo-message', 'draft/chathistory'];

describe('multi-device accounts', () => {
  let server: TestServer;
  const pool = new ClientPool(() => server.port);
  const open: TestClient[] = [];
  let accountSerial = 0;

  /** A new account, and a function logging a device in to it with SASL (asking for `nick`), with CAPS. */
  async function account(): Promise<(nick?: string) => Promise<TestClient>> {
    const name = `owner${++accountSerial}`;
    await createAccount(server.server.network, server.store, server.server.auth, name, PASSWORD);
    return async (nick = name) => {
      const login = await saslPlain(server.port, nick, name, PASSWORD);
      assert.ok(login.ok, login.client.log.join('\n'));
      login.client.send(`CAP REQ :${CAPS.join(' ')}`);
      await login.client.expect((m) => m.command === 'CAP' && m.params[1] === 'ACK');
      login.client.drain();
      open.push(login.client);
      return login.client;
    };
  }

  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    for (const client of open) client.close();
    pool.closeAll();
    await server.stop();
  });

  it('a second SASL login to the same account joins the first: one nick, the rooms already joined, one user for others', async () => {
    const device = await account();
    const laptop = await device();
    const watcher = await pool.connect('watcher');
    const channel = await pool.roomWith(watcher);
    await join(laptop, channel);
    await settle(watcher);
    const before = server.server.network.registeredCount;
    const phone = await device('phonenick');
    const welcome = phone.log.find((line) => / 001 /.test(line)) ?? '';
    assert.match(welcome, new RegExp(` 001 ${laptop.nick} `), 'the phone is welcomed under the nick the account already uses');
    assert.ok(phone.log.some((line) => line.endsWith(`JOIN ${channel}`)), 'the phone is told about the room it is in');
    assert.ok(phone.log.some((line) => / 366 /.test(line) && line.includes(channel)), 'with its NAMES');
    assert.equal(server.server.network.registeredCount, before, 'still one user on the network');
    assert.deepEqual((await watcher.roundtrip()).map((m) => m.command), [], 'others see no JOIN, no nick change');
  });

  it('each device sees what the other sends, in rooms and in private; echo-message only decides for the sending device', async () => {
    const device = await account();
    const laptop = await device();
    const phone = await device();
    const friend = await pool.connect('friend', ['message-tags']);
    const channel = await pool.roomWith(friend);
    await join(laptop, channel);
    await settle(phone, friend);
    laptop.send(`PRIVMSG ${channel} :from the laptop`);
    const onPhone = await phone.expect('PRIVMSG');
    assert.deepEqual(onPhone.params, [channel, 'from the laptop']);
    const onFriend = await friend.expect('PRIVMSG');
    assert.equal(onFriend.tags?.get('msgid'), onPhone.tags?.get('msgid'), 'the same message, once');
    assert.equal((await laptop.expect('PRIVMSG')).params[1], 'from the laptop', 'echo-message to the sender');
    phone.send(`PRIVMSG ${friend.nick} :private from the phone`);
    assert.equal((await laptop.expect('PRIVMSG')).params[1], 'private from the phone', "the laptop sees the phone's private message");
    assert.equal((await phone.expect('PRIVMSG')).params[1], 'private from the phone', 'echo-message to the phone');
    assert.equal((await friend.expect('PRIVMSG')).params[1], 'private from the phone');
    friend.send(`PRIVMSG ${laptop.nick} :reply to you`);
    assert.equal((await laptop.expect('PRIVMSG')).params[1], 'reply to you');
    assert.equal((await phone.expect('PRIVMSG')).params[1], 'reply to you', 'a message to the user reaches every device');
    await settle(laptop, phone, friend);
    // TAGMSG (typing) from one device reaches the other.
    laptop.send(`@+typing=active TAGMSG ${friend.nick}`);
    assert.equal((await phone.expect('TAGMSG')).tags?.get('+typing'), 'active');
  });

  it('a nick change, an away message and a JOIN by one device apply to all', async () => {
    const device = await account();
    const laptop = await device();
    const phone = await device();
    laptop.send(`NICK ${laptop.nick}_x`);
    assert.equal((await phone.expect('NICK')).params[0], `${laptop.nick}_x`);
    phone.send('AWAY :on the bus');
    await phone.expect('306');
    const friend = await pool.connect('asker');
    friend.send(`WHOIS ${laptop.nick}_x`);
    assert.equal((await friend.expect('301')).params[2], 'on the bus', 'one presence');
    const channel = pool.room();
    phone.send(`JOIN ${channel}`);
    assert.equal((await laptop.expect('JOIN')).params[0], channel);
    const names = await laptop.expect('366');
    assert.equal(names.params[1], channel, 'the other device gets the NAMES of the room too');
  });

  it('one device quitting or dropping leaves the user online; the last one quits', async () => {
    const device = await account();
    const laptop = await device();
    const phone = await device();
    const friend = await pool.connect('stayer');
    const channel = await pool.roomWith(friend);
    await join(laptop, channel);
    await settle(phone, friend);
    await phone.quit();
    const third = await device();
    laptop.close();
    const laptopNick = laptop.nick;
    await settle(friend, third);
    assert.ok(!friend.inbox.some((m) => m.command === 'QUIT'), 'nobody saw a QUIT while a device remained');
    assert.equal(third.log.find((line) => / 001 /.test(line))?.split(' ')[2], laptopNick);
    await third.quit();
    const quit = await friend.expect('QUIT');
    assert.equal(quit.source?.split('!')[0], laptopNick, 'the last device leaving is the user quitting');
  });

  it('a device coming back gets what it missed through CHATHISTORY', async () => {
    const device = await account();
    const laptop = await device();
    const friend = await pool.connect('talker');
    const channel = await pool.roomWith(friend);
    await join(laptop, channel);
    const phone = await device();
    await settle(friend, laptop);
    await phone.quit();
    friend.send(`PRIVMSG ${channel} :while the phone was away`);
    await laptop.expect('PRIVMSG');
    const back = await device();
    back.send(`CHATHISTORY LATEST ${channel} * 10`);
    const missed = await back.expect((m) => m.command === 'PRIVMSG' && m.params[1] === 'while the phone was away');
    assert.ok(missed.tags?.has('batch'), 'inside the chathistory batch');
  });

  it('with accounts.multiclient off, a second login is a second user', async () => {
    const single = await startTestServer({ accounts: { multiclient: false } });
    try {
      await createAccount(single.server.network, single.store, single.server.auth, 'solo', PASSWORD);
      const first = await saslPlain(single.port, 'solo', 'solo', PASSWORD);
      const second = await saslPlain(single.port, 'solo2', 'solo', PASSWORD);
      assert.equal(single.server.network.registeredCount, 2);
      assert.ok(second.client.log.some((line) => / 001 solo2 /.test(line)));
      first.client.close();
      second.client.close();
    } finally {
      await single.stop();
    }
  });
});
