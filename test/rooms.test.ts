/**
 * Rooms over real sockets: JOIN (and its refusals), NAMES, LIST, PART, KICK, TOPIC and INVITE
 * (Modern IRC "Channel Operations"; IRCv3 multi-prefix, userhost-in-names, invite-notify).
 * Every test uses its own rooms and nicks on one shared server, and asserts on the exact lines each client got.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { TestClient } from './helpers/client.js';
import { startTestServer } from './helpers/server.js';
import type { TestServer } from './helpers/server.js';
import { ClientPool, join, lines, mask, settle } from './helpers/clients.js';

const SERVER = 'test.natter';
const CHANNELS_PER_USER = 5;

let server: TestServer;
const pool = new ClientPool(() => server.port);
const { connect, room, roomWith } = pool;

async function mode(op: TestClient, channel: string, change: string): Promise<void> {
  op.send(`MODE ${channel} ${change}`);
  await op.expect((m) => m.command === 'MODE' && m.params[0] === channel);
}

describe('rooms', () => {
  before(async () => {
    server = await startTestServer({ limits: { channelsPerUser: CHANNELS_PER_USER } });
  });
  afterEach(() => {
    pool.closeAll();
  });
  after(async () => {
    await server.stop();
  });

  describe('JOIN', () => {
    it('the user who creates a room becomes its operator, and NAMES shows them as @nick', async () => {
      const alice = await connect('alice');
      const bob = await connect('bob');
      const channel = room();
      alice.send(`JOIN ${channel}`);
      assert.deepEqual(await lines(alice), [
        `:${mask(alice)} JOIN ${channel}`,
        `:${SERVER} 353 ${alice.nick} = ${channel} @${alice.nick}`,
        `:${SERVER} 366 ${alice.nick} ${channel} :End of /NAMES list`,
      ]);
      bob.send(`JOIN ${channel}`);
      assert.deepEqual(await lines(bob), [
        `:${mask(bob)} JOIN ${channel}`,
        `:${SERVER} 353 ${bob.nick} = ${channel} :@${alice.nick} ${bob.nick}`,
        `:${SERVER} 366 ${bob.nick} ${channel} :End of /NAMES list`,
      ]);
      assert.deepEqual(await lines(alice), [`:${mask(bob)} JOIN ${channel}`]);
    });

    it('JOIN with a list of rooms and a list of keys uses each key for the room in the same position', async () => {
      const alice = await connect('alice');
      const bob = await connect('bob');
      const [a, b] = [room(), room()];
      await join(alice, a);
      await join(alice, b);
      await mode(alice, a, '+k key1');
      await mode(alice, b, '+k key2');
      await settle(alice);

      bob.send(`JOIN ${a},${b} key2,key1`);
      assert.deepEqual(await lines(bob), [
        `:${SERVER} 475 ${bob.nick} ${a} :Cannot join channel (+k)`,
        `:${SERVER} 475 ${bob.nick} ${b} :Cannot join channel (+k)`,
      ]);
      bob.send(`JOIN ${a},${b} key1,key2`);
      const got = await lines(bob);
      assert.deepEqual(
        got.filter((l) => / (JOIN|366) /.test(l)),
        [
          `:${mask(bob)} JOIN ${a}`,
          `:${SERVER} 366 ${bob.nick} ${a} :End of /NAMES list`,
          `:${mask(bob)} JOIN ${b}`,
          `:${SERVER} 366 ${bob.nick} ${b} :End of /NAMES list`,
        ],
      );
      assert.deepEqual(await lines(alice), [`:${mask(bob)} JOIN ${a}`, `:${mask(bob)} JOIN ${b}`]);
    });

    it('room names compare casefolded: joining "#ROOM" enters "#room", shown with its creator\'s spelling', async () => {
      const alice = await connect('alice');
      const bob = await connect('bob');
      const channel = room().replace('room', 'Room');
      await join(alice, channel);
      await settle(alice);
      bob.send(`JOIN ${channel.toUpperCase()}`);
      assert.deepEqual((await lines(bob)).slice(0, 2), [`:${mask(bob)} JOIN ${channel}`, `:${SERVER} 353 ${bob.nick} = ${channel} :@${alice.nick} ${bob.nick}`]);
      assert.deepEqual(await lines(alice), [`:${mask(bob)} JOIN ${channel}`]);
    });

    it('JOIN 0 leaves every room the user is in, each member seeing the PART', async () => {
      const alice = await connect('alice');
      const bob = await connect('bob');
      const a = await roomWith(alice, bob);
      const b = await roomWith(alice, bob);
      bob.send('JOIN 0');
      assert.deepEqual((await lines(bob)).sort(), [`:${mask(bob)} PART ${a}`, `:${mask(bob)} PART ${b}`].sort());
      assert.deepEqual((await lines(alice)).sort(), [`:${mask(bob)} PART ${a}`, `:${mask(bob)} PART ${b}`].sort());
      alice.send(`NAMES ${a}`);
      assert.deepEqual((await alice.expect('353')).params, [alice.nick, '=', a, `@${alice.nick}`]);
    });

    it('an invalid room name is refused with 403 ERR_NOSUCHCHANNEL, and the valid rooms in the list are still joined', async () => {
      const alice = await connect('alice');
      const good = room();
      alice.send(`JOIN nohash,#,#bell\x07,${good}`);
      const got = await lines(alice);
      assert.deepEqual(
        got.filter((l) => / 403 /.test(l)),
        [
          `:${SERVER} 403 ${alice.nick} nohash :Illegal channel name`,
          `:${SERVER} 403 ${alice.nick} # :Illegal channel name`,
          `:${SERVER} 403 ${alice.nick} #bell\x07 :Illegal channel name`,
        ],
      );
      assert.ok(got.includes(`:${mask(alice)} JOIN ${good}`));
    });

    it('+k: joining without the key or with a wrong one gets 475 ERR_BADCHANNELKEY; the right key lets in', async () => {
      const alice = await connect('alice');
      const bob = await connect('bob');
      const channel = await roomWith(alice);
      await mode(alice, channel, '+k s3cret');
      bob.send(`JOIN ${channel}`);
      bob.send(`JOIN ${channel} wrong`);
      assert.deepEqual(await lines(bob), [
        `:${SERVER} 475 ${bob.nick} ${channel} :Cannot join channel (+k)`,
        `:${SERVER} 475 ${bob.nick} ${channel} :Cannot join channel (+k)`,
      ]);
      await join(bob, channel, 's3cret');
    });

    it('+l: joining a room that holds its limit gets 471 ERR_CHANNELISFULL', async () => {
      const alice = await connect('alice');
      const bob = await connect('bob');
      const carol = await connect('carol');
      const channel = await roomWith(alice, bob);
      await mode(alice, channel, '+l 2');
      carol.send(`JOIN ${channel}`);
      assert.deepEqual(await lines(carol), [`:${SERVER} 471 ${carol.nick} ${channel} :Cannot join channel (+l)`]);
      bob.send(`PART ${channel}`);
      await bob.expect('PART');
      await join(carol, channel);
    });

    it('+i: joining gets 473 ERR_INVITEONLYCHAN; an INVITE lets the user in once', async () => {
      const alice = await connect('alice');
      const bob = await connect('bob');
      const channel = await roomWith(alice);
      await mode(alice, channel, '+i');
      await settle(alice);
      bob.send(`JOIN ${channel}`);
      assert.deepEqual(await lines(bob), [`:${SERVER} 473 ${bob.nick} ${channel} :Cannot join channel (+i)`]);

      alice.send(`INVITE ${bob.nick} ${channel}`);
      assert.deepEqual(await lines(alice), [`:${SERVER} 341 ${alice.nick} ${bob.nick} ${channel}`]);
      assert.deepEqual(await lines(bob), [`:${mask(alice)} INVITE ${bob.nick} ${channel}`]);
      await join(bob, channel);
      bob.send(`PART ${channel}`);
      await bob.expect('PART');
      bob.send(`JOIN ${channel}`);
      assert.deepEqual(await lines(bob), [`:${SERVER} 473 ${bob.nick} ${channel} :Cannot join channel (+i)`]);
    });

    it('an invitation belongs to the invited user, not to whoever takes their nick afterwards', async () => {
      const alice = await connect('alice');
      const bob = await connect('bob');
      const mallory = await connect('mallory');
      const channel = await roomWith(alice);
      await mode(alice, channel, '+i');
      alice.send(`INVITE ${bob.nick} ${channel}`);
      await alice.expect('341');
      await bob.expect('INVITE');
      const invitedNick = bob.nick;
      bob.send(`NICK ${bob.nick}x`);
      await bob.expect('NICK');
      mallory.send(`NICK ${invitedNick}`);
      await mallory.expect('NICK');
      mallory.send(`JOIN ${channel}`);
      assert.deepEqual(await lines(mallory), [`:${SERVER} 473 ${invitedNick} ${channel} :Cannot join channel (+i)`]);
      await join(bob, channel);
    });

    it('an invitation not used leaves with its holder: the room forgets it when the invited user quits', async () => {
      const alice = await connect('alice');
      const bob = await connect('bob');
      const channel = await roomWith(alice);
      await mode(alice, channel, '+i');
      alice.send(`INVITE ${bob.nick} ${channel}`);
      await alice.expect('341');
      await bob.expect('INVITE');
      const room = server.server.network.channels.get(server.server.network.fold(channel)) ?? assert.fail('no room');
      assert.equal(room.invited.size, 1);
      bob.send('QUIT :bye');
      await bob.closed;
      await settle(alice);
      assert.equal(room.invited.size, 0, 'the invitation of a user who left is gone');
    });

    it('invite-notify: half-operators and above with the cap see the INVITE; the inviter gets only 341; plain members nothing', async () => {
      const alice = await connect('alice', ['invite-notify']);
      const hop = await connect('hop', ['invite-notify']);
      const plain = await connect('plain', ['invite-notify']);
      const nocap = await connect('nocap');
      const bob = await connect('bob');
      const channel = await roomWith(alice, hop, plain, nocap);
      await mode(alice, channel, `+ho ${hop.nick} ${nocap.nick}`);
      await settle(alice, hop, plain, nocap);
      alice.send(`INVITE ${bob.nick} ${channel}`);
      const invite = `:${mask(alice)} INVITE ${bob.nick} ${channel}`;
      assert.deepEqual(await lines(alice), [`:${SERVER} 341 ${alice.nick} ${bob.nick} ${channel}`]);
      assert.deepEqual(await lines(bob), [invite]);
      assert.deepEqual(await lines(hop), [invite]);
      assert.deepEqual(await lines(plain), []);
      assert.deepEqual(await lines(nocap), []);
    });

    it('an INVITE from a member without a rank does not let the target past +k or +b', async () => {
      const alice = await connect('alice');
      const bob = await connect('bob');
      const banned = await connect('banned');
      const channel = await roomWith(alice, bob);
      await mode(alice, channel, `+kb key ${banned.nick}`);
      bob.send(`INVITE ${banned.nick} ${channel}`);
      await bob.expect('341');
      await banned.expect('INVITE');
      banned.send(`JOIN ${channel}`);
      banned.send(`JOIN ${channel} key`);
      assert.deepEqual(await lines(banned), [
        `:${SERVER} 475 ${banned.nick} ${channel} :Cannot join channel (+k)`,
        `:${SERVER} 474 ${banned.nick} ${channel} :Cannot join channel (+b)`,
      ]);
    });

    it('INVITE to a +i room needs half-operator (482); INVITE of a member gets 443; INVITE by a non-member gets 442', async () => {
      const alice = await connect('alice');
      const bob = await connect('bob');
      const carol = await connect('carol');
      const outsider = await connect('out');
      const channel = await roomWith(alice, bob);
      await mode(alice, channel, '+i');
      await settle(bob);
      bob.send(`INVITE ${carol.nick} ${channel}`);
      bob.send(`INVITE ${alice.nick} ${channel}`);
      outsider.send(`INVITE ${carol.nick} ${channel}`);
      assert.deepEqual(await lines(bob), [
        `:${SERVER} 482 ${bob.nick} ${channel} :You're not channel operator`,
        `:${SERVER} 443 ${bob.nick} ${alice.nick} ${channel} :is already on channel`,
      ]);
      assert.deepEqual(await lines(outsider), [`:${SERVER} 442 ${outsider.nick} ${channel} :You're not on that channel`]);
      assert.deepEqual(await lines(carol), []);
    });

    it('+b: a banned user gets 474 ERR_BANNEDFROMCHAN; a matching +e exception lets them in', async () => {
      const alice = await connect('alice');
      const bob = await connect('bob');
      const channel = await roomWith(alice);
      await mode(alice, channel, `+b ${bob.nick}`);
      bob.send(`JOIN ${channel}`);
      assert.deepEqual(await lines(bob), [`:${SERVER} 474 ${bob.nick} ${channel} :Cannot join channel (+b)`]);
      await mode(alice, channel, '+e *!*@127.0.0.1');
      await join(bob, channel);
    });

    it('+I: a user matching an invite exception joins a +i room without an INVITE', async () => {
      const alice = await connect('alice');
      const bob = await connect('bob');
      const carol = await connect('carol');
      const channel = await roomWith(alice);
      await mode(alice, channel, `+iI ${bob.nick}!*@*`);
      await join(bob, channel);
      carol.send(`JOIN ${channel}`);
      assert.deepEqual(await lines(carol), [`:${SERVER} 473 ${carol.nick} ${channel} :Cannot join channel (+i)`]);
    });

    it('a user in CHANLIMIT rooms already gets 405 ERR_TOOMANYCHANNELS for the next', async () => {
      const alice = await connect('alice');
      const rooms = Array.from({ length: CHANNELS_PER_USER + 1 }, () => room());
      for (const channel of rooms.slice(0, CHANNELS_PER_USER)) await join(alice, channel);
      await settle(alice);
      const extra = rooms[CHANNELS_PER_USER] ?? '';
      alice.send(`JOIN ${extra}`);
      assert.deepEqual(await lines(alice), [`:${SERVER} 405 ${alice.nick} ${extra} :You have joined too many channels`]);
      alice.send(`PART ${rooms[0] ?? ''}`);
      await join(alice, extra);
    });

    it('joining a room with a topic sends 332 RPL_TOPIC and 333 RPL_TOPICWHOTIME before the names', async () => {
      const alice = await connect('alice');
      const bob = await connect('bob');
      const channel = await roomWith(alice);
      const before = Math.floor(Date.now() / 1000);
      alice.send(`TOPIC ${channel} :Welcome all`);
      await alice.expect('TOPIC');
      bob.send(`JOIN ${channel}`);
      const got = await bob.roundtrip();
      assert.deepEqual(
        got.map((m) => m.command),
        ['JOIN', '332', '333', '353', '366'],
      );
      assert.deepEqual(got[1]?.params, [bob.nick, channel, 'Welcome all']);
      const [, , setBy = '', setAt = ''] = got[2]?.params ?? [];
      assert.equal(setBy, mask(alice));
      assert.ok(Number(setAt) >= before && Number(setAt) <= Math.floor(Date.now() / 1000) + 1);
    });
  });

  describe('NAMES and LIST', () => {
    it('NAMES shows the highest prefix, all of them with multi-prefix, and nick!user@host with userhost-in-names', async () => {
      const alice = await connect('alice');
      const multi = await connect('multi', ['multi-prefix']);
      const uhnames = await connect('uh', ['userhost-in-names']);
      const channel = await roomWith(alice, multi, uhnames);
      await mode(alice, channel, `+v ${alice.nick}`);
      await settle(alice, multi, uhnames);
      for (const client of [alice, multi, uhnames]) client.send(`NAMES ${channel}`);
      assert.deepEqual(await lines(alice), [
        `:${SERVER} 353 ${alice.nick} = ${channel} :@${alice.nick} ${multi.nick} ${uhnames.nick}`,
        `:${SERVER} 366 ${alice.nick} ${channel} :End of /NAMES list`,
      ]);
      assert.deepEqual(await lines(multi), [
        `:${SERVER} 353 ${multi.nick} = ${channel} :@+${alice.nick} ${multi.nick} ${uhnames.nick}`,
        `:${SERVER} 366 ${multi.nick} ${channel} :End of /NAMES list`,
      ]);
      assert.deepEqual(await lines(uhnames), [
        `:${SERVER} 353 ${uhnames.nick} = ${channel} :@${mask(alice)} ${mask(multi)} ${mask(uhnames)}`,
        `:${SERVER} 366 ${uhnames.nick} ${channel} :End of /NAMES list`,
      ]);
    });

    it('NAMES of a room one is not in leaves out invisible (+i) members', async () => {
      const alice = await connect('alice');
      const ghost = await connect('ghost');
      const outsider = await connect('out');
      const channel = await roomWith(alice, ghost);
      ghost.send(`MODE ${ghost.nick} +i`);
      await ghost.expect('MODE');
      outsider.send(`NAMES ${channel}`);
      alice.send(`NAMES ${channel}`);
      assert.deepEqual(await lines(outsider), [
        `:${SERVER} 353 ${outsider.nick} = ${channel} @${alice.nick}`,
        `:${SERVER} 366 ${outsider.nick} ${channel} :End of /NAMES list`,
      ]);
      assert.equal((await alice.expect('353')).params[3], `@${alice.nick} ${ghost.nick}`);
    });

    it('a secret (+s) room is hidden from the LIST and NAMES of non-members, and shown with "@" to members', async () => {
      const alice = await connect('alice');
      const outsider = await connect('out');
      const secret = await roomWith(alice);
      const open_ = await roomWith(alice);
      await mode(alice, secret, '+s');
      await settle(alice);
      outsider.send(`NAMES ${secret}`);
      outsider.send('LIST');
      const seen = await lines(outsider);
      assert.ok(seen.includes(`:${SERVER} 366 ${outsider.nick} ${secret} :End of /NAMES list`));
      assert.ok(!seen.some((l) => l.includes(` 353 `)), 'no names of a secret room');
      assert.ok(!seen.some((l) => l.includes(` 322 ${outsider.nick} ${secret} `)), 'no LIST entry for the secret room');
      assert.ok(seen.includes(`:${SERVER} 322 ${outsider.nick} ${open_} 1 :`));
      alice.send(`NAMES ${secret}`);
      alice.send(`LIST ${secret}`);
      const member = await lines(alice);
      assert.ok(member.includes(`:${SERVER} 353 ${alice.nick} @ ${secret} @${alice.nick}`));
      assert.ok(member.includes(`:${SERVER} 322 ${alice.nick} ${secret} 1 :`));
    });
  });

  describe('PART', () => {
    it('PART with a reason is seen by every member, the leaver included, with that reason', async () => {
      const alice = await connect('alice');
      const bob = await connect('bob');
      const carol = await connect('carol');
      const channel = await roomWith(alice, bob);
      bob.send(`PART ${channel} :see you later`);
      const part = `:${mask(bob)} PART ${channel} :see you later`;
      assert.deepEqual(await lines(bob), [part]);
      assert.deepEqual(await lines(alice), [part]);
      assert.deepEqual(await lines(carol), []);
    });

    it('PART of a room one is not in gets 442 ERR_NOTONCHANNEL; of a room that does not exist 403 ERR_NOSUCHCHANNEL', async () => {
      const alice = await connect('alice');
      const bob = await connect('bob');
      const channel = await roomWith(alice);
      const missing = room();
      bob.send(`PART ${channel},${missing}`);
      assert.deepEqual(await lines(bob), [
        `:${SERVER} 442 ${bob.nick} ${channel} :You're not on that channel`,
        `:${SERVER} 403 ${bob.nick} ${missing} :No such channel`,
      ]);
      assert.deepEqual(await lines(alice), []);
    });
  });

  describe('KICK', () => {
    it('a half-operator kicks voiced and plain members but not an operator (482)', async () => {
      const alice = await connect('alice');
      const hop = await connect('hop');
      const voiced = await connect('voiced');
      const plain = await connect('plain');
      const channel = await roomWith(alice, hop, voiced, plain);
      await mode(alice, channel, `+hv ${hop.nick} ${voiced.nick}`);
      await settle(alice, hop, voiced, plain);
      hop.send(`KICK ${channel} ${voiced.nick} :out`);
      hop.send(`KICK ${channel} ${plain.nick} :out too`);
      hop.send(`KICK ${channel} ${alice.nick} :never`);
      const kickVoiced = `:${mask(hop)} KICK ${channel} ${voiced.nick} out`;
      const kickPlain = `:${mask(hop)} KICK ${channel} ${plain.nick} :out too`;
      assert.deepEqual(await lines(hop), [kickVoiced, kickPlain, `:${SERVER} 482 ${hop.nick} ${channel} :You can't kick a member of equal or higher rank`]);
      assert.deepEqual(await lines(alice), [kickVoiced, kickPlain]);
      assert.deepEqual(await lines(voiced), [kickVoiced]);
      assert.deepEqual(await lines(plain), [kickVoiced, kickPlain]);
    });

    it('an operator may kick another operator', async () => {
      const alice = await connect('alice');
      const bob = await connect('bob');
      const channel = await roomWith(alice, bob);
      await mode(alice, channel, `+o ${bob.nick}`);
      await settle(alice, bob);
      bob.send(`KICK ${channel} ${alice.nick} :coup`);
      const kick = `:${mask(bob)} KICK ${channel} ${alice.nick} coup`;
      assert.deepEqual(await lines(bob), [kick]);
      assert.deepEqual(await lines(alice), [kick]);
    });

    it('a member without a rank gets 482 ERR_CHANOPRIVSNEEDED, even against themselves; a non-member 442', async () => {
      const alice = await connect('alice');
      const bob = await connect('bob');
      const carol = await connect('carol');
      const outsider = await connect('out');
      const channel = await roomWith(alice, bob, carol);
      bob.send(`KICK ${channel} ${carol.nick}`);
      bob.send(`KICK ${channel} ${bob.nick}`);
      outsider.send(`KICK ${channel} ${carol.nick}`);
      const denied = `:${SERVER} 482 ${bob.nick} ${channel} :You're not channel operator`;
      assert.deepEqual(await lines(bob), [denied, denied]);
      assert.deepEqual(await lines(outsider), [`:${SERVER} 442 ${outsider.nick} ${channel} :You're not on that channel`]);
      assert.deepEqual(await lines(alice), []);
      assert.deepEqual(await lines(carol), []);
    });

    it('KICK of a user who is not in the room gets 441 ERR_USERNOTINCHANNEL', async () => {
      const alice = await connect('alice');
      const bob = await connect('bob');
      const channel = await roomWith(alice);
      alice.send(`KICK ${channel} ${bob.nick}`);
      alice.send(`KICK ${channel} nobody`);
      assert.deepEqual(await lines(alice), [
        `:${SERVER} 441 ${alice.nick} ${bob.nick} ${channel} :They aren't on that channel`,
        `:${SERVER} 441 ${alice.nick} nobody ${channel} :They aren't on that channel`,
      ]);
      assert.deepEqual(await lines(bob), []);
    });

    it('a kicked user is removed from the room: gone from NAMES, hears nothing more, and cannot speak there (+n)', async () => {
      const alice = await connect('alice');
      const bob = await connect('bob');
      const channel = await roomWith(alice, bob);
      alice.send(`KICK ${channel} ${bob.nick} :bye`);
      await bob.expect('KICK');
      await settle(alice, bob);
      alice.send(`NAMES ${channel}`);
      assert.deepEqual((await alice.expect('353')).params, [alice.nick, '=', channel, `@${alice.nick}`]);
      alice.send(`PRIVMSG ${channel} :still there?`);
      bob.send(`PRIVMSG ${channel} :let me in`);
      assert.deepEqual(await lines(bob), [`:${SERVER} 404 ${bob.nick} ${channel} :Cannot send to channel`]);
      assert.deepEqual((await lines(alice)).filter((l) => !l.includes(' 366 ')), []);
    });

    it('KICK without a reason uses the kicker\'s nick as the reason', async () => {
      const alice = await connect('alice');
      const bob = await connect('bob');
      const channel = await roomWith(alice, bob);
      alice.send(`KICK ${channel} ${bob.nick}`);
      const kick = `:${mask(alice)} KICK ${channel} ${bob.nick} ${alice.nick}`;
      assert.deepEqual(await lines(alice), [kick]);
      assert.deepEqual(await lines(bob), [kick]);
    });
  });

  describe('TOPIC', () => {
    it('TOPIC sets the topic for every member; TOPIC without text replies 332 and 333', async () => {
      const alice = await connect('alice');
      const bob = await connect('bob');
      const channel = await roomWith(alice, bob);
      alice.send(`TOPIC ${channel} :Plans for Friday`);
      const topic = `:${mask(alice)} TOPIC ${channel} :Plans for Friday`;
      assert.deepEqual(await lines(alice), [topic]);
      assert.deepEqual(await lines(bob), [topic]);
      bob.send(`TOPIC ${channel}`);
      const got = await bob.roundtrip();
      assert.deepEqual(got[0]?.raw, `:${SERVER} 332 ${bob.nick} ${channel} :Plans for Friday`);
      assert.deepEqual(got[1]?.params.slice(0, 3), [bob.nick, channel, mask(alice)]);
      assert.equal(got.length, 2);
    });

    it('TOPIC of a room without a topic replies 331 RPL_NOTOPIC', async () => {
      const alice = await connect('alice');
      const channel = await roomWith(alice);
      alice.send(`TOPIC ${channel}`);
      assert.deepEqual(await lines(alice), [`:${SERVER} 331 ${alice.nick} ${channel} :No topic is set`]);
    });

    it('+t: only half-operators and above may set the topic; others get 482', async () => {
      const alice = await connect('alice');
      const hop = await connect('hop');
      const bob = await connect('bob');
      const channel = await roomWith(alice, hop, bob);
      await mode(alice, channel, `+h ${hop.nick}`);
      await settle(alice, hop, bob);
      bob.send(`TOPIC ${channel} :mine now`);
      assert.deepEqual(await lines(bob), [`:${SERVER} 482 ${bob.nick} ${channel} :You're not channel operator`]);
      hop.send(`TOPIC ${channel} :halfop topic`);
      const topic = `:${mask(hop)} TOPIC ${channel} :halfop topic`;
      assert.deepEqual(await lines(hop), [topic]);
      assert.deepEqual(await lines(bob), [topic]);
      await mode(alice, channel, '-t');
      await settle(alice, bob);
      bob.send(`TOPIC ${channel} :now anyone may`);
      assert.deepEqual(await lines(bob), [`:${mask(bob)} TOPIC ${channel} :now anyone may`]);
      assert.deepEqual(await lines(alice), [`:${mask(bob)} TOPIC ${channel} :now anyone may`]);
    });

    it('setting the topic of a room one is not in gets 442 ERR_NOTONCHANNEL', async () => {
      const alice = await connect('alice');
      const bob = await connect('bob');
      const channel = await roomWith(alice);
      await mode(alice, channel, '-t');
      await settle(alice);
      bob.send(`TOPIC ${channel} :drive-by`);
      assert.deepEqual(await lines(bob), [`:${SERVER} 442 ${bob.nick} ${channel} :You're not on that channel`]);
      assert.deepEqual(await lines(alice), []);
    });
  });
});
