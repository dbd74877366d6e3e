/**
 * MONITOR (ircv3.net/specs/extensions/monitor) and extended-monitor over real sockets: every subcommand, the list
 * limit, sign-on, sign-off and nick-change notifications, and the presence notifications extended-monitor adds.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { hashPassword } from '../src/auth/authenticator.js';
import { createAccount } from '../src/core/accounts.js';
import { TestClient } from './helpers/client.js';
import type { Received } from './helpers/client.js';
import { lines, mask, settle } from './helpers/clients.js';
import { startTestServer } from './helpers/server.js';
import type { TestServer } from './helpers/server.js';

const SERVER = 'test.natter';
const LIMIT = 40;
const PASSWORD = 'monitor-password';

let server: TestServer;
let open: TestClient[] = [];
let serial = 0;

/** A fresh nick no client holds yet (tests share one server). */
function nickFor(name: string): string {
  return `${name}${++serial}`;
}

async function connect(name: string, caps: string[] = []): Promise<TestClient> {
  const client = await TestClient.register(server.port, nickFor(name), { caps });
  open.push(client);
  return client;
}

async function connectAs(nick: string, caps: string[] = []): Promise<TestClient> {
  const client = await TestClient.register(server.port, nick, { caps });
  open.push(client);
  return client;
}

/** The comma-separated targets of 730/731/732 lines of `code`, all lines together. */
function targets(received: readonly Received[], code: string): string[] {
  return received.filter((m) => m.command === code).flatMap((m) => (m.params.at(-1) ?? '').split(','));
}

describe('MONITOR', () => {
  before(async () => {
    server = await startTestServer({ limits: { monitorEntries: LIMIT }, opers: [{ name: 'root', password: await hashPassword(PASSWORD) }] });
    await createAccount(server.server.network, server.store, server.server.auth, 'monacct', PASSWORD);
  });
  afterEach(() => {
    for (const client of open) client.close();
    open = [];
  });
  after(async () => {
    await server.stop();
  });

  it('ISUPPORT has the MONITOR token with the maximum number of targets: MONITOR=<limit>', async () => {
    const client = await connect('isup');
    client.send('VERSION');
    const isupport = (await client.roundtrip()).filter((m) => m.command === '005').flatMap((m) => m.params);
    assert.ok(isupport.includes(`MONITOR=${LIMIT}`), isupport.join(' '));
  });

  describe('subcommands', () => {
    it('"MONITOR +": targets online are listed in RPL_MONONLINE (730) with nick!user@host, offline ones in RPL_MONOFFLINE (731)', async () => {
      const watcher = await connect('watcher');
      const online = await connect('online');
      const offline = nickFor('offline');
      watcher.send(`MONITOR + ${online.nick.toUpperCase()},${offline}`);
      assert.deepEqual(await lines(watcher), [`:${SERVER} 730 ${watcher.nick} ${mask(online)}`, `:${SERVER} 731 ${watcher.nick} ${offline}`]);
    });

    it('"Targets already in the list MUST NOT be added again": adding twice (in any case) lists the target once', async () => {
      const watcher = await connect('watcher');
      const target = nickFor('target');
      watcher.send(`MONITOR + ${target},${target.toUpperCase()}`);
      watcher.send(`MONITOR + ${target}`);
      await watcher.roundtrip();
      watcher.send('MONITOR L');
      assert.deepEqual(await lines(watcher), [`:${SERVER} 732 ${watcher.nick} ${target}`, `:${SERVER} 733 ${watcher.nick} :End of MONITOR list`]);
    });

    it('"MONITOR L" outputs the list with RPL_MONLIST (732), "terminated with RPL_ENDOFMONLIST" (733); an empty list gives 733 alone', async () => {
      const watcher = await connect('watcher');
      watcher.send('MONITOR L');
      assert.deepEqual(await lines(watcher), [`:${SERVER} 733 ${watcher.nick} :End of MONITOR list`]);
      const [a, b] = [nickFor('a'), nickFor('b')];
      watcher.send(`MONITOR + ${a},${b}`);
      await watcher.roundtrip();
      watcher.send('MONITOR L');
      const listed = await watcher.roundtrip();
      assert.deepEqual(targets(listed, '732').sort(), [a, b].sort());
      assert.equal(listed.at(-1)?.command, '733');
    });

    it('"MONITOR -" removes targets, and "No output will be returned"; a removed nick no longer notifies', async () => {
      const watcher = await connect('watcher');
      const [kept, removed] = [nickFor('kept'), nickFor('removed')];
      watcher.send(`MONITOR + ${kept},${removed}`);
      await watcher.roundtrip();
      watcher.send(`MONITOR - ${removed.toUpperCase()}`);
      assert.deepEqual(await lines(watcher), []);
      watcher.send('MONITOR L');
      assert.deepEqual(targets(await watcher.roundtrip(), '732'), [kept]);
      await connectAs(removed);
      assert.deepEqual(await lines(watcher), []);
    });

    it('"MONITOR C" clears the list with no output', async () => {
      const watcher = await connect('watcher');
      const target = nickFor('target');
      watcher.send(`MONITOR + ${target},${nickFor('other')}`);
      await watcher.roundtrip();
      watcher.send('MONITOR C');
      assert.deepEqual(await lines(watcher), []);
      watcher.send('MONITOR L');
      assert.deepEqual(await lines(watcher), [`:${SERVER} 733 ${watcher.nick} :End of MONITOR list`]);
      await connectAs(target);
      assert.deepEqual(await lines(watcher), []);
    });

    it('"MONITOR S": every target online in RPL_MONONLINE, every one offline in RPL_MONOFFLINE', async () => {
      const watcher = await connect('watcher');
      const online = await connect('online');
      const offline = nickFor('offline');
      watcher.send(`MONITOR + ${online.nick},${offline}`);
      await watcher.roundtrip();
      watcher.send('MONITOR S');
      assert.deepEqual(await lines(watcher), [`:${SERVER} 730 ${watcher.nick} ${mask(online)}`, `:${SERVER} 731 ${watcher.nick} ${offline}`]);
    });

    it('"MONITOR +" without targets gets 461; an unknown modifier gets FAIL MONITOR INVALID_PARAMS', async () => {
      const watcher = await connect('watcher');
      watcher.send('MONITOR +');
      assert.deepEqual(await lines(watcher), [`:${SERVER} 461 ${watcher.nick} MONITOR :Not enough parameters`]);
      watcher.send('MONITOR X nick');
      const [fail] = await watcher.roundtrip();
      assert.equal(fail?.command, 'FAIL');
      assert.deepEqual(fail.params.slice(0, 3), ['MONITOR', 'INVALID_PARAMS', 'X']);
    });

    it('"target MUST be a valid nick": a target that is not one is not added', async () => {
      const watcher = await connect('watcher');
      const valid = nickFor('valid');
      watcher.send(`MONITOR + #room,9digit,${valid},a!b@c`);
      assert.deepEqual(await lines(watcher), [`:${SERVER} 731 ${watcher.nick} ${valid}`]);
      watcher.send('MONITOR L');
      assert.deepEqual(targets(await watcher.roundtrip(), '732'), [valid]);
    });
  });

  describe('the limit', () => {
    it('ERR_MONLISTFULL (734) <limit> <targets>: the targets that would exceed the limit are named and not added; the others are', async () => {
      const watcher = await connect('watcher');
      const first = Array.from({ length: LIMIT - 2 }, () => nickFor('f'));
      for (let i = 0; i < first.length; i += 20) watcher.send(`MONITOR + ${first.slice(i, i + 20).join(',')}`);
      await watcher.roundtrip();
      const more = Array.from({ length: 5 }, () => nickFor('m'));
      watcher.send(`MONITOR + ${more.join(',')}`);
      const replies = await watcher.roundtrip();
      assert.deepEqual(targets(replies, '731'), more.slice(0, 2));
      const full = replies.filter((m) => m.command === '734');
      assert.equal(full.length, 1);
      assert.deepEqual(full[0]?.params, [watcher.nick, String(LIMIT), more.slice(2).join(','), 'Monitor list is full.']);
      watcher.send('MONITOR L');
      const listed = targets(await watcher.roundtrip(), '732');
      assert.equal(listed.length, LIMIT);
      assert.ok(!listed.includes(more[2] ?? ''));
      // An entry already in the list is not refused even when the list is full.
      watcher.send(`MONITOR + ${first[0] ?? ''}`);
      assert.deepEqual(await lines(watcher), [`:${SERVER} 731 ${watcher.nick} ${first[0] ?? ''}`]);
    });

    it('"the length of the target list is limited only by the buffer size of 512": long lists are split over several lines', async () => {
      const watcher = await connect('watcher');
      const long = Array.from({ length: LIMIT }, (_, i) => `longnick${String(i).padStart(2, '0')}x${'y'.repeat(16)}${++serial}`.slice(0, 30));
      for (let i = 0; i < long.length; i += 14) watcher.send(`MONITOR + ${long.slice(i, i + 14).join(',')}`);
      await watcher.roundtrip();
      watcher.send('MONITOR S');
      const status = await watcher.roundtrip();
      assert.ok(status.length > 1, 'more than one 731 line');
      for (const message of status) assert.ok(Buffer.byteLength(message.raw) + 2 <= 512, `${Buffer.byteLength(message.raw)} bytes: ${message.raw}`);
      assert.deepEqual(targets(status, '731').sort(), [...long].sort());
      watcher.send('MONITOR L');
      const list = await watcher.roundtrip();
      for (const message of list) assert.ok(Buffer.byteLength(message.raw) + 2 <= 512);
      assert.deepEqual(targets(list, '732').sort(), [...long].sort());
    });
  });

  describe('notifications', () => {
    it('RPL_MONONLINE (730) with nick!user@host when a watched nick signs on', async () => {
      const watcher = await connect('watcher');
      const nick = nickFor('arrives');
      watcher.send(`MONITOR + ${nick.toUpperCase()}`);
      await watcher.roundtrip();
      const arriving = await connectAs(nick);
      assert.deepEqual(await lines(watcher), [`:${SERVER} 730 ${watcher.nick} ${mask(arriving)}`]);
    });

    it('RPL_MONOFFLINE (731) when a watched nick signs off, by QUIT or by losing its connection', async () => {
      const watcher = await connect('watcher');
      const quitter = await connect('quitter');
      const dropper = await connect('dropper');
      watcher.send(`MONITOR + ${quitter.nick},${dropper.nick}`);
      await watcher.roundtrip();
      await quitter.quit();
      assert.deepEqual(await lines(watcher), [`:${SERVER} 731 ${watcher.nick} ${quitter.nick}`]);
      dropper.close();
      const offline = await watcher.expect('731');
      assert.equal(offline.params[1], dropper.nick);
    });

    it('a nick change is the old nick going offline (731) and the new one coming online (730)', async () => {
      const oldWatcher = await connect('oldwatch');
      const newWatcher = await connect('newwatch');
      const changer = await connect('changer');
      const oldNick = changer.nick;
      const newNick = nickFor('renamed');
      oldWatcher.send(`MONITOR + ${oldNick}`);
      newWatcher.send(`MONITOR + ${newNick}`);
      await settle(oldWatcher, newWatcher);
      changer.send(`NICK ${newNick}`);
      await changer.expect('NICK');
      assert.deepEqual(await lines(oldWatcher), [`:${SERVER} 731 ${oldWatcher.nick} ${oldNick}`]);
      assert.deepEqual(await lines(newWatcher), [`:${SERVER} 730 ${newWatcher.nick} ${newNick}!~${oldNick}@127.0.0.1`]);
    });

    it('a change of case only keeps the nick online: its watchers get 730 with the new spelling and no 731', async () => {
      const watcher = await connect('watcher');
      const changer = await connect('casey');
      watcher.send(`MONITOR + ${changer.nick}`);
      await watcher.roundtrip();
      const upper = changer.nick.toUpperCase();
      changer.send(`NICK ${upper}`);
      await changer.expect('NICK');
      assert.deepEqual(await lines(watcher), [`:${SERVER} 730 ${watcher.nick} ${upper}!~${changer.nick}@127.0.0.1`]);
    });

    it('a watcher that quits leaves no list behind: the nicks it watched have no watcher left', async () => {
      const { network } = server.server;
      const watcher = await connect('leaver');
      const session = network.findNick(watcher.nick);
      assert.ok(session !== undefined);
      const [target, other] = [nickFor('watched'), nickFor('other')];
      watcher.send(`MONITOR + ${target},${other}`);
      await watcher.roundtrip();
      assert.equal(network.monitor.listOf(session).size, 2);
      assert.equal(network.monitor.watcherCount(network.fold(target)), 1);
      await watcher.quit();
      assert.equal(network.monitor.listOf(session).size, 0);
      assert.equal(network.monitor.watcherCount(network.fold(target)), 0);
      assert.equal(network.monitor.watcherCount(network.fold(other)), 0);
    });

    it('a MONITOR list belongs to the user: a nick change keeps it', async () => {
      const watcher = await connect('watcher');
      const target = nickFor('target');
      watcher.send(`MONITOR + ${target}`);
      await watcher.roundtrip();
      watcher.send(`NICK ${nickFor('renamedwatcher')}`);
      const nick = (await watcher.expect('NICK')).params[0] ?? '';
      const arriving = await connectAs(target);
      assert.deepEqual(await lines(watcher), [`:${SERVER} 730 ${nick} ${mask(arriving)}`]);
    });

    it('a user who is not watched causes no MONITOR numerics to anyone', async () => {
      const watcher = await connect('watcher');
      watcher.send(`MONITOR + ${nickFor('someone')}`);
      await watcher.roundtrip();
      const stranger = await connect('stranger');
      stranger.send(`NICK ${nickFor('strangername')}`);
      await stranger.expect('NICK');
      await stranger.quit();
      assert.deepEqual(await lines(watcher), []);
    });
  });

  describe('extended-monitor', () => {
    it('with away-notify: AWAY of a monitored nick reaches the watcher without a shared room; without extended-monitor or away-notify it does not', async () => {
      const extended = await connect('ext', ['extended-monitor', 'away-notify']);
      const monitorOnly = await connect('mononly', ['away-notify']);
      const noAwayNotify = await connect('noaway', ['extended-monitor']);
      const target = await connect('target');
      for (const watcher of [extended, monitorOnly, noAwayNotify]) watcher.send(`MONITOR + ${target.nick}`);
      await settle(extended, monitorOnly, noAwayNotify);
      target.send('AWAY :gone fishing');
      target.send('AWAY');
      await target.roundtrip();
      assert.deepEqual(await lines(extended), [`:${mask(target)} AWAY :gone fishing`, `:${mask(target)} AWAY`]);
      assert.deepEqual(await lines(monitorOnly), []);
      assert.deepEqual(await lines(noAwayNotify), []);
    });

    it('with account-notify: ACCOUNT of a monitored nick on login and logout', async () => {
      const watcher = await connect('accwatch', ['extended-monitor', 'account-notify']);
      const blind = await connect('accblind', ['account-notify']);
      const target = await connect('acctarget');
      watcher.send(`MONITOR + ${target.nick}`);
      blind.send(`MONITOR + ${target.nick}`);
      await settle(watcher, blind);
      target.send(`NS IDENTIFY monacct ${PASSWORD}`);
      assert.deepEqual((await watcher.expect('ACCOUNT')).params, ['monacct']);
      target.send('NS LOGOUT');
      assert.deepEqual((await watcher.expect('ACCOUNT')).params, ['*']);
      await target.roundtrip();
      assert.ok(!(await blind.roundtrip()).some((m) => m.command === 'ACCOUNT'));
    });

    it('with setname: SETNAME of a monitored nick', async () => {
      const watcher = await connect('namewatch', ['extended-monitor', 'setname']);
      const blind = await connect('nameblind', ['setname']);
      const target = await connect('nametarget', ['setname']);
      watcher.send(`MONITOR + ${target.nick}`);
      blind.send(`MONITOR + ${target.nick}`);
      await settle(watcher, blind);
      target.send('SETNAME :A New Name');
      await target.expect('SETNAME');
      assert.deepEqual(await lines(watcher), [`:${mask(target)} SETNAME :A New Name`]);
      assert.deepEqual(await lines(blind), []);
    });

    it('with chghost: CHGHOST of a monitored nick', async () => {
      const watcher = await connect('hostwatch', ['extended-monitor', 'chghost']);
      const blind = await connect('hostblind', ['chghost']);
      const target = await connect('hosttarget');
      const oper = await connect('hostoper');
      oper.send(`OPER root ${PASSWORD}`);
      await oper.expect('381');
      watcher.send(`MONITOR + ${target.nick}`);
      blind.send(`MONITOR + ${target.nick}`);
      await settle(watcher, blind, oper);
      oper.send(`CHGHOST ${target.nick} ~vhost example.org`);
      await oper.expect('NOTICE');
      assert.deepEqual(await lines(watcher), [`:${mask(target)} CHGHOST ~vhost example.org`]);
      assert.deepEqual(await lines(blind), []);
    });

    it('a watcher sharing a room with the monitored nick gets each notification once', async () => {
      const watcher = await connect('oncewatch', ['extended-monitor', 'away-notify']);
      const target = await connect('oncetarget');
      const room = `#monroom${++serial}`;
      for (const client of [target, watcher]) {
        client.send(`JOIN ${room}`);
        await client.expect('366');
      }
      watcher.send(`MONITOR + ${target.nick}`);
      await settle(watcher, target);
      target.send('AWAY :once');
      await target.roundtrip();
      assert.deepEqual(await lines(watcher), [`:${mask(target)} AWAY once`]);
    });
  });
});
