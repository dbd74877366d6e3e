/**
 * IRCv3 capabilities Natter implements, each checked against a sentence of its specification over real sockets:
 * away-notify, invite-notify, setname, account-notify, extended-join, userhost-in-names, multi-prefix, cap-notify,
 * draft/no-implicit-names, UTF8ONLY and WHOX.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { createAccount } from '../src/core/accounts.js';
import { TestClient } from './helpers/client.js';
import type { Received } from './helpers/client.js';
import { ClientPool, join, lines, mask, settle } from './helpers/clients.js';
import { startTestServer } from './helpers/server.js';
import type { TestServer } from './helpers/server.js';

const SERVER = 'test.natter';
const PASSWORD = 'caps-password';

let server: TestServer;
const pool = new ClientPool(() => server.port);
const { connect, room, roomWith } = pool;
let accounts = 0;

/** A new account, and the client logged in to it with NickServ (after registration, so account-notify applies). */
async function logIn(client: TestClient): Promise<string> {
  const name = `capacct${++accounts}`;
  await createAccount(server.server.network, server.store, server.server.auth, name, PASSWORD);
  client.send(`NS IDENTIFY ${name} ${PASSWORD}`);
  await client.expect('900');
  await client.roundtrip();
  return name;
}

function namesOf(received: readonly Received[]): string[] {
  return received.filter((m) => m.command === '353').flatMap((m) => (m.params.at(-1) ?? '').split(' '));
}

describe('IRCv3 capabilities', () => {
  before(async () => {
    server = await startTestServer();
  });
  afterEach(() => {
    pool.closeAll();
  });
  after(async () => {
    await server.stop();
  });

  describe('away-notify', () => {
    it('"clients will be sent an AWAY message when a user sharing a channel with them sets, changes or removes their away state"', async () => {
      const away = await connect('away');
      const notified = await connect('notified', ['away-notify']);
      const plain = await connect('plain');
      await roomWith(away, notified, plain);
      away.send('AWAY :lunch');
      away.send('AWAY :still lunch');
      away.send('AWAY');
      await away.roundtrip();
      assert.deepEqual(await lines(notified), [`:${mask(away)} AWAY lunch`, `:${mask(away)} AWAY :still lunch`, `:${mask(away)} AWAY`]);
      assert.deepEqual(await lines(plain), []);
    });

    it('"as well as when a user joins and has an away message set" (and not for a joining user with no away message)', async () => {
      const notified = await connect('notified', ['away-notify']);
      const plain = await connect('plain');
      const awayJoiner = await connect('awayjoiner');
      const hereJoiner = await connect('herejoiner');
      const channel = await roomWith(notified, plain);
      awayJoiner.send('AWAY :not here');
      await awayJoiner.roundtrip();
      await join(awayJoiner, channel);
      await join(hereJoiner, channel);
      assert.deepEqual(await lines(notified), [
        `:${mask(awayJoiner)} JOIN ${channel}`,
        `:${mask(awayJoiner)} AWAY :not here`,
        `:${mask(hereJoiner)} JOIN ${channel}`,
      ]);
      assert.deepEqual(await lines(plain), [`:${mask(awayJoiner)} JOIN ${channel}`, `:${mask(hereJoiner)} JOIN ${channel}`]);
    });
  });

  describe('invite-notify', () => {
    it('":<inviter> INVITE <target> <channel>" reaches members with the cap who may invite; not those without the cap', async () => {
      const op = await connect('op', ['invite-notify']);
      const inviter = await connect('inviter');
      const watchingOp = await connect('watchop', ['invite-notify']);
      const plainOp = await connect('plainop');
      const target = await connect('target');
      const channel = await roomWith(op, inviter, watchingOp, plainOp);
      op.send(`MODE ${channel} +oo ${watchingOp.nick} ${plainOp.nick}`);
      await settle(op, inviter, watchingOp, plainOp);
      inviter.send(`INVITE ${target.nick} ${channel}`);
      const invite = `:${mask(inviter)} INVITE ${target.nick} ${channel}`;
      assert.deepEqual(await lines(inviter), [`:${SERVER} 341 ${inviter.nick} ${target.nick} ${channel}`]);
      assert.deepEqual(await lines(target), [invite]);
      assert.deepEqual(await lines(op), [invite]);
      assert.deepEqual(await lines(watchingOp), [invite]);
      assert.deepEqual(await lines(plainOp), []);
    });
  });

  describe('setname', () => {
    it('"they MUST send the server-to-client version of the SETNAME message to all clients in common channels, as well as to the client from which it originated"', async () => {
      const changer = await connect('changer', ['setname']);
      const peer = await connect('peer', ['setname']);
      const blind = await connect('blind');
      const stranger = await connect('stranger', ['setname']);
      await roomWith(changer, peer, blind);
      const old = mask(changer);
      changer.send('SETNAME :Bruce Wayne <bruce@wayne.enterprises>');
      const line = `:${old} SETNAME :Bruce Wayne <bruce@wayne.enterprises>`;
      assert.deepEqual(await lines(changer), [line]);
      assert.deepEqual(await lines(peer), [line]);
      // "The SETNAME message MUST NOT be sent to clients which do not have the setname capability negotiated."
      assert.deepEqual(await lines(blind), []);
      assert.deepEqual(await lines(stranger), []);
      blind.send(`WHOIS ${changer.nick}`);
      assert.equal((await blind.roundtrip()).find((m) => m.command === '311')?.params.at(-1), 'Bruce Wayne <bruce@wayne.enterprises>');
    });

    it('"If the server rejects the realname due to invalidity, it MUST send FAIL SETNAME INVALID_REALNAME"; the realname stays', async () => {
      const changer = await connect('changer', ['setname']);
      const peer = await connect('peer', ['setname']);
      await roomWith(changer, peer);
      changer.send(`SETNAME :${'x'.repeat(201)}`);
      assert.deepEqual(await lines(changer), [`:${SERVER} FAIL SETNAME INVALID_REALNAME :Realname is not valid`]);
      assert.deepEqual(await lines(peer), []);
      peer.send(`WHOIS ${changer.nick}`);
      assert.equal((await peer.roundtrip()).find((m) => m.command === '311')?.params.at(-1), `${changer.nick} test`);
    });

    it('"If a client sends a SETNAME command without having negotiated the capability, the server SHOULD handle it silently"', async () => {
      const changer = await connect('changer');
      changer.send('SETNAME :Quiet Change');
      assert.deepEqual(await lines(changer), []);
      changer.send(`WHOIS ${changer.nick}`);
      assert.equal((await changer.roundtrip()).find((m) => m.command === '311')?.params.at(-1), 'Quiet Change');
    });
  });

  describe('account-notify', () => {
    it('":nick!user@host ACCOUNT accountname" on login and "ACCOUNT *" on logout, to clients with the cap sharing a channel', async () => {
      const subject = await connect('subject');
      const notified = await connect('notified', ['account-notify']);
      const plain = await connect('plain');
      await roomWith(subject, notified, plain);
      const name = await logIn(subject);
      subject.send('NS LOGOUT');
      await subject.roundtrip();
      assert.deepEqual(await lines(notified), [`:${mask(subject)} ACCOUNT ${name}`, `:${mask(subject)} ACCOUNT *`]);
      assert.deepEqual(await lines(plain), []);
    });
  });

  describe('extended-join', () => {
    it('":nick!user@host JOIN #channel accountname :Real Name", "*" when not logged in; a plain JOIN without the cap', async () => {
      const extended = await connect('extended', ['extended-join']);
      const plain = await connect('plain');
      const channel = await roomWith(extended, plain);
      const loggedIn = await connect('loggedin');
      const name = await logIn(loggedIn);
      const anonymous = await connect('anon');
      await join(loggedIn, channel);
      await join(anonymous, channel);
      assert.deepEqual(await lines(extended), [
        `:${mask(loggedIn)} JOIN ${channel} ${name} :${loggedIn.nick} test`,
        `:${mask(anonymous)} JOIN ${channel} * :${anonymous.nick} test`,
      ]);
      assert.deepEqual(await lines(plain), [`:${mask(loggedIn)} JOIN ${channel}`, `:${mask(anonymous)} JOIN ${channel}`]);
    });
  });

  describe('userhost-in-names and multi-prefix', () => {
    it('userhost-in-names: "the server MUST send the full nick!user@host for each user" in RPL_NAMREPLY', async () => {
      const withCap = await connect('uhnames', ['userhost-in-names']);
      const other = await connect('other');
      const channel = await roomWith(withCap, other);
      withCap.send(`NAMES ${channel}`);
      assert.deepEqual(namesOf(await withCap.roundtrip()).sort(), [`@${mask(withCap)}`, mask(other)].sort());
      other.send(`NAMES ${channel}`);
      assert.deepEqual(namesOf(await other.roundtrip()).sort(), [`@${withCap.nick}`, other.nick].sort());
    });

    it('multi-prefix: every prefix a member has, highest first, in NAMES and WHO; the highest alone without the cap', async () => {
      const op = await connect('op', ['multi-prefix']);
      const plain = await connect('plain');
      const channel = await roomWith(op, plain);
      op.send(`MODE ${channel} +v ${op.nick}`);
      await settle(op, plain);
      op.send(`NAMES ${channel}`);
      assert.ok(namesOf(await op.roundtrip()).includes(`@+${op.nick}`));
      plain.send(`NAMES ${channel}`);
      assert.ok(namesOf(await plain.roundtrip()).includes(`@${op.nick}`));
      op.send(`WHO ${channel}`);
      const who = (await op.roundtrip()).find((m) => m.command === '352' && m.params[5] === op.nick);
      assert.equal(who?.params[6], 'H@+');
      plain.send(`WHO ${channel}`);
      assert.equal((await plain.roundtrip()).find((m) => m.command === '352' && m.params[5] === op.nick)?.params[6], 'H@');
    });
  });

  describe('cap-notify', () => {
    it('"The cap-notify capability MUST be implicitly enabled if the client requests CAP LS with a version of 302", "MAY NOT be disabled", and REQ is ACKed', async () => {
      const client = await TestClient.connect(server.port);
      client.send('CAP LS 302');
      await client.expect((m) => m.command === 'CAP' && m.params[1] === 'LS' && m.params[2] !== '*');
      await client.roundtrip();
      client.send('CAP LIST');
      const list = await client.expect((m) => m.command === 'CAP' && m.params[1] === 'LIST');
      assert.deepEqual((list.params.at(-1) ?? '').split(' '), ['cap-notify']);
      client.send('CAP REQ :-cap-notify');
      assert.equal((await client.expect((m) => m.command === 'CAP')).params[1], 'NAK');
      client.send('CAP REQ :cap-notify');
      assert.equal((await client.expect((m) => m.command === 'CAP')).params[1], 'ACK');
      client.close();
    });

    it('a client that does not speak CAP LS 302 does not get cap-notify implicitly', async () => {
      const client = await TestClient.connect(server.port);
      client.send('CAP LS');
      await client.expect((m) => m.command === 'CAP' && m.params[1] === 'LS');
      client.send('CAP LIST');
      const list = await client.expect((m) => m.command === 'CAP' && m.params[1] === 'LIST');
      assert.equal(list.params.at(-1), '');
      // It may ask for it, and turn it off again: only 302 makes it stick.
      client.send('CAP REQ :cap-notify');
      assert.equal((await client.expect((m) => m.command === 'CAP')).params[1], 'ACK');
      client.send('CAP REQ :-cap-notify');
      assert.equal((await client.expect((m) => m.command === 'CAP')).params[1], 'ACK');
      client.close();
    });
  });

  describe('draft/no-implicit-names', () => {
    it('"servers MUST NOT send an implicit NAMES reply after sending a JOIN message"; "MUST reply to explicit NAMES commands"', async () => {
      const quiet = await connect('quiet', ['draft/no-implicit-names']);
      const usual = await connect('usual');
      const channel = room();
      quiet.send(`JOIN ${channel}`);
      const quietJoin = await quiet.roundtrip();
      assert.deepEqual(
        quietJoin.map((m) => m.command),
        ['JOIN'],
      );
      usual.send(`JOIN ${channel}`);
      const usualJoin = await usual.roundtrip();
      assert.deepEqual(
        usualJoin.map((m) => m.command),
        ['JOIN', '353', '366'],
      );
      quiet.send(`NAMES ${channel}`);
      const names = await quiet.roundtrip();
      assert.deepEqual(names.map((m) => m.command), ['JOIN', '353', '366']);
      assert.deepEqual(namesOf(names).sort(), [`@${quiet.nick}`, usual.nick].sort());
    });
  });

  describe('UTF8ONLY', () => {
    it('ISUPPORT has UTF8ONLY, and a line that is not valid UTF-8 is refused with FAIL * INVALID_UTF8 and not relayed', async () => {
      const sender = await connect('sender');
      const receiver = await connect('receiver');
      const channel = await roomWith(sender, receiver);
      sender.send('VERSION');
      assert.ok((await sender.roundtrip()).some((m) => m.command === '005' && m.params.includes('UTF8ONLY')));
      sender.sendRaw(Buffer.concat([Buffer.from(`PRIVMSG ${channel} :bad `), Buffer.from([0xff, 0xfe]), Buffer.from('\r\n')]));
      assert.deepEqual(await lines(sender), [`:${SERVER} FAIL * INVALID_UTF8 :Message rejected: it was not valid UTF-8`]);
      assert.deepEqual(await lines(receiver), []);
      // The connection goes on.
      sender.send(`PRIVMSG ${channel} :good ✓`);
    await sender.roundtrip();
      assert.deepEqual(await lines(receiver), [`:${mask(sender)} PRIVMSG ${channel} :good ✓`]);
    });
  });

  describe('WHOX', () => {
    it('"WHO <mask> %tcuhnfar,<token>": 354 with the token, channel, user, host, nick, flags, account and realname in that order', async () => {
      const asker = await connect('asker');
      const target = await connect('target');
      const name = await logIn(target);
      const channel = await roomWith(target, asker);
      target.send('AWAY :away');
      await settle(target, asker);
      asker.send(`WHO ${channel} %tcuhnfar,42`);
      const replies = await asker.roundtrip();
      const row = replies.find((m) => m.command === '354' && m.params[5] === target.nick);
      assert.deepEqual(row?.params, [asker.nick, '42', channel, `~${target.nick}`, '127.0.0.1', target.nick, 'G@', name, `${target.nick} test`]);
      const mine = replies.find((m) => m.command === '354' && m.params[5] === asker.nick);
      assert.deepEqual(mine?.params, [asker.nick, '42', channel, `~${asker.nick}`, '127.0.0.1', asker.nick, 'H', '0', `${asker.nick} test`]);
      assert.equal(replies.at(-1)?.command, '315');
    });
  });
});
