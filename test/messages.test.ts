/**
 * Messages over real sockets (Modern IRC "PRIVMSG", "NOTICE", "AWAY", "QUIT", "NICK"; IRCv3 echo-message,
 * message-tags, server-time): who receives what, and which errors come back. Every recipient's inbox is checked
 * with a PING barrier, so "nobody else got it" is asserted, not assumed.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { startTestServer } from './helpers/server.js';
import type { TestServer } from './helpers/server.js';
import { ClientPool, lines, mask, only, settle } from './helpers/clients.js';

const SERVER = 'test.natter';
const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

let server: TestServer;
const pool = new ClientPool(() => server.port);
const { connect, room, roomWith } = pool;


describe('messages', () => {
  before(async () => {
    server = await startTestServer();
  });
  afterEach(() => {
    pool.closeAll();
  });
  after(async () => {
    await server.stop();
  });

  describe('PRIVMSG and NOTICE', () => {
    it('a message to a room reaches every member except the sender, and nobody outside it', async () => {
      const alice = await connect('alice');
      const bob = await connect('bob');
      const carol = await connect('carol');
      const dave = await connect('dave');
      const channel = await roomWith(alice, bob, carol);
      alice.send(`PRIVMSG ${channel} :hello room`);
      alice.send(`NOTICE ${channel} :and a notice`);
      const expected = [`:${mask(alice)} PRIVMSG ${channel} :hello room`, `:${mask(alice)} NOTICE ${channel} :and a notice`];
      assert.deepEqual(await lines(alice), []);
      assert.deepEqual(await lines(bob), expected);
      assert.deepEqual(await lines(carol), expected);
      assert.deepEqual(await lines(dave), []);
    });

    it('echo-message: the sender gets its own room and private messages back, exactly once', async () => {
      const alice = await connect('alice', ['echo-message']);
      const bob = await connect('bob');
      const channel = await roomWith(alice, bob);
      alice.send(`PRIVMSG ${channel} :to the room`);
      alice.send(`PRIVMSG ${bob.nick} :to bob`);
      const expected = [`:${mask(alice)} PRIVMSG ${channel} :to the room`, `:${mask(alice)} PRIVMSG ${bob.nick} :to bob`];
      assert.deepEqual(await lines(alice), expected);
      assert.deepEqual(await lines(bob), expected);
    });

    it('echo-message: a sender outside a -n room gets its message back too', async () => {
      const alice = await connect('alice');
      const bob = await connect('bob', ['echo-message']);
      const channel = await roomWith(alice);
      alice.send(`MODE ${channel} -n`);
      await alice.expect('MODE');
      bob.send(`PRIVMSG ${channel} :from outside`);
      const line = `:${mask(bob)} PRIVMSG ${channel} :from outside`;
      assert.deepEqual(await lines(bob), [line]);
      assert.deepEqual(await lines(alice), [line]);
    });

    it('a message to a nick reaches only that user', async () => {
      const alice = await connect('alice');
      const bob = await connect('bob');
      const carol = await connect('carol');
      await roomWith(alice, bob, carol);
      alice.send(`PRIVMSG ${bob.nick.toUpperCase()} :just you`);
      assert.deepEqual(await lines(alice), []);
      assert.deepEqual(await lines(bob), [`:${mask(alice)} PRIVMSG ${bob.nick} :just you`]);
      assert.deepEqual(await lines(carol), []);
    });

    it('"PRIVMSG #room,nick :text" delivers to the room and to the nick', async () => {
      const alice = await connect('alice');
      const bob = await connect('bob');
      const carol = await connect('carol');
      const channel = await roomWith(alice, carol);
      alice.send(`PRIVMSG ${channel},${bob.nick} :to both`);
      assert.deepEqual(await lines(alice), []);
      assert.deepEqual(await lines(carol), [`:${mask(alice)} PRIVMSG ${channel} :to both`]);
      assert.deepEqual(await lines(bob), [`:${mask(alice)} PRIVMSG ${bob.nick} :to both`]);
    });

    it('more targets than MAXTARGETS: the first four get the message, the sender gets 407 ERR_TOOMANYTARGETS naming the fifth', async () => {
      const alice = await connect('alice');
      const targets = await Promise.all(['b', 'c', 'd', 'e', 'f'].map((n) => connect(n)));
      const nicks = targets.map((c) => c.nick);
      alice.send(`PRIVMSG ${nicks.join(',')} :hi all`);
      assert.deepEqual(await lines(alice), [`:${SERVER} 407 ${alice.nick} ${nicks[4] ?? ''} :Too many targets. The maximum is 4, the rest were dropped.`]);
      for (const target of targets.slice(0, 4)) assert.deepEqual(await lines(target), [`:${mask(alice)} PRIVMSG ${target.nick} :hi all`]);
      assert.deepEqual(await lines(targets[4] ?? alice), []);
    });

    it('STATUSMSG: "@#room" reaches only operators and above, "+#room" voiced members and above', async () => {
      const alice = await connect('alice');
      const hop = await connect('hop');
      const voiced = await connect('voiced');
      const plain = await connect('plain');
      const channel = await roomWith(alice, hop, voiced, plain);
      alice.send(`MODE ${channel} +hv ${hop.nick} ${voiced.nick}`);
      await alice.expect('MODE');
      await settle(alice, hop, voiced, plain);
      plain.send(`PRIVMSG @${channel} :ops only`);
      for (const other of [plain, hop, voiced]) assert.deepEqual(await lines(other), []);
      assert.deepEqual(await lines(alice), [`:${mask(plain)} PRIVMSG @${channel} :ops only`]);
      alice.send(`NOTICE +${channel} :voice and up`);
      const notice = `:${mask(alice)} NOTICE +${channel} :voice and up`;
      assert.deepEqual(await lines(alice), []);
      assert.deepEqual(await lines(hop), [notice]);
      assert.deepEqual(await lines(voiced), [notice]);
      assert.deepEqual(await lines(plain), []);
    });

    it('STATUSMSG with echo-message: a sender below the rank still gets its own message back', async () => {
      const alice = await connect('alice');
      const bob = await connect('bob', ['echo-message']);
      const channel = await roomWith(alice, bob);
      bob.send(`PRIVMSG @${channel} :psst`);
      const line = `:${mask(bob)} PRIVMSG @${channel} psst`;
      assert.deepEqual(await lines(bob), [line]);
      assert.deepEqual(await lines(alice), [line]);
    });

    it('a message to a nick that does not exist gets 401 ERR_NOSUCHNICK; to a room that does not exist 403 ERR_NOSUCHCHANNEL', async () => {
      const alice = await connect('alice');
      const missing = room();
      alice.send('PRIVMSG nobody :hello?');
      alice.send(`PRIVMSG ${missing} :hello?`);
      assert.deepEqual(await lines(alice), [
        `:${SERVER} 401 ${alice.nick} nobody :No such nick/channel`,
        `:${SERVER} 403 ${alice.nick} ${missing} :No such channel`,
      ]);
    });

    it('a banned member gets 404 ERR_CANNOTSENDTOCHAN and the room hears nothing', async () => {
      const alice = await connect('alice');
      const bob = await connect('bob');
      const channel = await roomWith(alice, bob);
      alice.send(`MODE ${channel} +b ${bob.nick}`);
      await bob.expect('MODE');
      await settle(alice);
      bob.send(`PRIVMSG ${channel} :can you hear me`);
      assert.deepEqual(await lines(bob), [`:${SERVER} 404 ${bob.nick} ${channel} :Cannot send to channel`]);
      assert.deepEqual(await lines(alice), []);
    });

    it('PRIVMSG without a target gets 411 ERR_NORECIPIENT; without text 412 ERR_NOTEXTTOSEND', async () => {
      const alice = await connect('alice');
      const bob = await connect('bob');
      alice.send('PRIVMSG');
      alice.send(`PRIVMSG ${bob.nick}`);
      alice.send(`PRIVMSG ${bob.nick} :`);
      assert.deepEqual(await lines(alice), [
        `:${SERVER} 411 ${alice.nick} :No recipient given (PRIVMSG)`,
        `:${SERVER} 412 ${alice.nick} :No text to send`,
        `:${SERVER} 412 ${alice.nick} :No text to send`,
      ]);
      assert.deepEqual(await lines(bob), []);
    });

    it('NOTICE never gets an automatic reply: no RPL_AWAY and no delivery errors', async () => {
      const alice = await connect('alice');
      const bob = await connect('bob');
      const channel = await roomWith(bob);
      bob.send('AWAY :out');
      await bob.expect('306');
      alice.send(`NOTICE ${bob.nick} :ping`);
      alice.send('NOTICE nobody :ping');
      alice.send(`NOTICE ${room()} :ping`);
      alice.send(`NOTICE ${channel} :ping`);
      assert.deepEqual(await lines(alice), []);
      assert.deepEqual(await lines(bob), [`:${mask(alice)} NOTICE ${bob.nick} ping`]);
    });
  });

  describe('AWAY', () => {
    it('AWAY with text replies 306; a PRIVMSG to the away user returns 301 RPL_AWAY to the sender; AWAY alone replies 305', async () => {
      const alice = await connect('alice');
      const bob = await connect('bob');
      bob.send('AWAY :gone to lunch');
      assert.deepEqual(await lines(bob), [`:${SERVER} 306 ${bob.nick} :You have been marked as being away`]);
      alice.send(`PRIVMSG ${bob.nick} :are you there?`);
      assert.deepEqual(await lines(alice), [`:${SERVER} 301 ${alice.nick} ${bob.nick} :gone to lunch`]);
      assert.deepEqual(await lines(bob), [`:${mask(alice)} PRIVMSG ${bob.nick} :are you there?`]);
      bob.send('AWAY');
      assert.deepEqual(await lines(bob), [`:${SERVER} 305 ${bob.nick} :You are no longer marked as being away`]);
      alice.send(`PRIVMSG ${bob.nick} :back?`);
      assert.deepEqual(await lines(alice), []);
    });
  });

  describe('away-notify', () => {
    it('members sharing a room who have away-notify see AWAY going and coming back; others see nothing', async () => {
      const alice = await connect('alice');
      const notified = await connect('notified', ['away-notify']);
      const plain = await connect('plain');
      const elsewhere = await connect('elsewhere', ['away-notify']);
      await roomWith(alice, notified, plain);
      alice.send('AWAY :brb');
      alice.send('AWAY');
      await settle(alice);
      assert.deepEqual(await lines(notified), [`:${mask(alice)} AWAY brb`, `:${mask(alice)} AWAY`]);
      assert.deepEqual(await lines(plain), []);
      assert.deepEqual(await lines(elsewhere), []);
    });
  });

  describe('message-tags and server-time', () => {
    it('a TAGMSG with a client tag (+typing) reaches only message-tags members, with the tag', async () => {
      const alice = await connect('alice', ['message-tags']);
      const bob = await connect('bob', ['message-tags']);
      const carol = await connect('carol');
      const dave = await connect('dave', ['server-time']);
      const channel = await roomWith(alice, bob, carol, dave);
      alice.send(`@+typing=active TAGMSG ${channel}`);
      assert.deepEqual(await lines(alice), []);
      const got = only(await bob.roundtrip());
      assert.equal(got.source, mask(alice));
      assert.equal(got.command, 'TAGMSG');
      assert.deepEqual(got.params, [channel]);
      assert.equal(got.tags?.get('+typing'), 'active');
      assert.match(got.tags.get('time') ?? '', ISO_TIME);
      assert.deepEqual(await lines(carol), []);
      assert.deepEqual(await lines(dave), []);
    });

    it('client tags ride on a PRIVMSG to message-tags clients only; server tags and tags of clients without the cap are dropped', async () => {
      const alice = await connect('alice', ['message-tags']);
      const bob = await connect('bob', ['message-tags']);
      const carol = await connect('carol');
      const channel = await roomWith(alice, bob, carol);
      alice.send(`@+example.org/color=blue;account=forged PRIVMSG ${channel} :tagged`);
      await settle(alice);
      const got = only(await bob.roundtrip());
      assert.deepEqual([...(got.tags?.keys() ?? [])].sort(), ['+example.org/color', 'msgid', 'time']);
      assert.equal(got.tags?.get('+example.org/color'), 'blue');
      assert.match(got.tags.get('msgid') ?? '', /^[a-z0-9]{11,}$/, 'a msgid from the server (IRCv3 message-ids)');
      assert.deepEqual(await lines(carol), [`:${mask(alice)} PRIVMSG ${channel} tagged`]);
      carol.send(`@+typing=active PRIVMSG ${channel} :untagged`);
      carol.send(`@+typing=active TAGMSG ${channel}`);
      await settle(carol);
      const fromCarol = only(await bob.roundtrip());
      assert.deepEqual([...(fromCarol.tags?.keys() ?? [])], ['time', 'msgid']);
      assert.equal(fromCarol.command, 'PRIVMSG');
    });

    it('server-time: clients with the cap get a time tag on messages, clients without it get none', async () => {
      const alice = await connect('alice');
      const timed = await connect('timed', ['server-time']);
      const plain = await connect('plain');
      const channel = await roomWith(alice, timed, plain);
      const before = Date.now();
      alice.send(`PRIVMSG ${channel} :what time is it`);
      await settle(alice);
      const got = only(await timed.roundtrip());
      const time = got.tags?.get('time') ?? '';
      assert.match(time, ISO_TIME);
      assert.ok(Date.parse(time) >= before - 1 && Date.parse(time) <= Date.now(), 'the time is when the server sent it');
      assert.deepEqual([...(got.tags?.keys() ?? [])], ['time']);
      assert.deepEqual(await lines(plain), [`:${mask(alice)} PRIVMSG ${channel} :what time is it`]);
    });
  });

  describe('QUIT and NICK', () => {
    it('QUIT: a user sharing two rooms with another is seen quitting exactly once; users sharing no room see nothing', async () => {
      const alice = await connect('alice');
      const bob = await connect('bob');
      const carol = await connect('carol');
      const outsider = await connect('out');
      await roomWith(alice, bob);
      await roomWith(alice, bob, carol);
      await roomWith(outsider);
      bob.send('QUIT :bye now');
      await bob.closed;
      const quitLine = `:${mask(bob)} QUIT :Quit: bye now`;
      assert.deepEqual(await lines(alice), [quitLine]);
      assert.deepEqual(await lines(carol), [quitLine]);
      assert.deepEqual(await lines(outsider), []);
    });

    it('NICK: everyone sharing any room with the user sees the change exactly once, the user too; others see nothing', async () => {
      const alice = await connect('alice');
      const bob = await connect('bob');
      const carol = await connect('carol');
      const outsider = await connect('out');
      await roomWith(alice, bob);
      await roomWith(alice, bob);
      await roomWith(bob, carol);
      const old = mask(bob);
      bob.send(`NICK ${bob.nick}_new`);
      const change = `:${old} NICK ${bob.nick}_new`;
      assert.deepEqual(await lines(bob), [change]);
      assert.deepEqual(await lines(alice), [change]);
      assert.deepEqual(await lines(carol), [change]);
      assert.deepEqual(await lines(outsider), []);
      // The new nick is the one that receives messages now.
      alice.send(`PRIVMSG ${bob.nick}_new :hi there`);
      await settle(alice);
      assert.deepEqual(await lines(bob), [`:${mask(alice)} PRIVMSG ${bob.nick}_new :hi there`]);
    });
  });
});
