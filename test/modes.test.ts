/**
 * Channel MODE over real sockets (Modern IRC "MODE", "Channel Modes", "Channel membership prefixes"): queries,
 * flags, key and limit, the b/e/I lists, the status modes q a o h v with the rank rules of src/core/permissions.ts,
 * and what +m and +n do to speaking. One server for the file; every test has its own rooms and nicks.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { hash } from '@node-rs/argon2';
import { TestClient } from './helpers/client.js';
import { startTestServer } from './helpers/server.js';
import type { TestServer } from './helpers/server.js';
import { ClientPool, lines, mask, settle } from './helpers/clients.js';

const SERVER = 'test.natter';
const OPER_PASSWORD = 'correct-horse';
const LIST_ENTRIES = 3;

let server: TestServer;
const pool = new ClientPool(() => server.port);
const { connect, room, roomWith } = pool;

/** Sends a MODE change and returns the lines the sender got for it. */
async function mode(client: TestClient, channel: string, change: string): Promise<string[]> {
  client.send(`MODE ${channel} ${change}`);
  return lines(client);
}

/** The nick list of NAMES as one client with multi-prefix would see it. */
async function names(client: TestClient, channel: string): Promise<string[]> {
  client.send(`NAMES ${channel}`);
  const reply = await client.expect('353');
  await settle(client);
  return (reply.params[3] ?? '').split(' ').sort();
}

interface RankedRoom {
  readonly channel: string;
  readonly owner: TestClient;
  readonly admin: TestClient;
  readonly op: TestClient;
  readonly op2: TestClient;
  readonly hop: TestClient;
  readonly voiced: TestClient;
  readonly plain: TestClient;
  readonly plain2: TestClient;
  readonly all: readonly TestClient[];
}

/**
 * A room with one member of each rank: a server operator (who acts as owner everywhere) hands out +q and +a,
 * since nobody else may; the creator (an op) then hands out the rest and gives up its own op.
 */
async function rankedRoom(): Promise<RankedRoom> {
  const [owner, admin, op, op2, hop, voiced, plain, plain2] = await Promise.all(
    ['owner', 'admin', 'op', 'opp', 'hop', 'voiced', 'plain', 'plainer'].map((name) => connect(name, ['multi-prefix'])),
  );
  const oper = await connect('oper');
  if (owner === undefined || admin === undefined || op === undefined || op2 === undefined || hop === undefined) throw new Error('unreachable');
  if (voiced === undefined || plain === undefined || plain2 === undefined) throw new Error('unreachable');
  oper.send(`OPER root ${OPER_PASSWORD}`);
  await oper.expect('381');
  const all = [owner, admin, op, op2, hop, voiced, plain, plain2];
  const channel = await roomWith(...all);
  oper.send(`MODE ${channel} +qa-o ${owner.nick} ${admin.nick} ${owner.nick}`);
  await owner.expect('MODE');
  owner.send(`MODE ${channel} +oohv ${op.nick} ${op2.nick} ${hop.nick} ${voiced.nick}`);
  await owner.expect('MODE');
  await settle(...all);
  oper.close();
  return { channel, owner, admin, op, op2, hop, voiced, plain, plain2, all };
}

describe('channel modes', () => {
  before(async () => {
    // argon2id, as `natter hash-password` makes them.
    const password = await hash(OPER_PASSWORD);
    server = await startTestServer({ opers: [{ name: 'root', password }], limits: { listEntries: LIST_ENTRIES } });
  });
  afterEach(() => {
    pool.closeAll();
  });
  after(async () => {
    await server.stop();
  });

  describe('queries and flags', () => {
    it('MODE #room without changes replies 324 RPL_CHANNELMODEIS and 329 RPL_CREATIONTIME', async () => {
      const before = Math.floor(Date.now() / 1000);
      const alice = await connect('alice');
      const channel = await roomWith(alice);
      alice.send(`MODE ${channel}`);
      const got = await alice.roundtrip();
      assert.equal(got.length, 2);
      assert.equal(got[0]?.raw, `:${SERVER} 324 ${alice.nick} ${channel} +nt`);
      assert.equal(got[1]?.command, '329');
      const [nick, name, createdAt = ''] = got[1].params;
      assert.deepEqual([nick, name], [alice.nick, channel]);
      assert.ok(Number(createdAt) >= before && Number(createdAt) <= Math.floor(Date.now() / 1000));
    });

    it('MODE of a room that does not exist gets 403 ERR_NOSUCHCHANNEL', async () => {
      const alice = await connect('alice');
      const missing = room();
      alice.send(`MODE ${missing}`);
      alice.send(`MODE ${missing} +m`);
      assert.deepEqual(await lines(alice), [
        `:${SERVER} 403 ${alice.nick} ${missing} :No such channel`,
        `:${SERVER} 403 ${alice.nick} ${missing} :No such channel`,
      ]);
    });

    it('flag changes reach every member as one MODE line holding only what changed, and 324 shows them', async () => {
      const alice = await connect('alice');
      const bob = await connect('bob');
      const outsider = await connect('out');
      const channel = await roomWith(alice, bob);
      const change = `:${mask(alice)} MODE ${channel} +ims`;
      assert.deepEqual(await mode(alice, channel, '+imsnt'), [change]);
      assert.deepEqual(await lines(bob), [change]);
      assert.deepEqual(await lines(outsider), []);
      alice.send(`MODE ${channel}`);
      assert.equal((await alice.expect('324')).raw, `:${SERVER} 324 ${alice.nick} ${channel} +imnst`);
      await settle(alice);
      assert.deepEqual(await mode(alice, channel, '-nt-n'), [`:${mask(alice)} MODE ${channel} -nt`]);
      assert.deepEqual(await mode(alice, channel, '-n'), [], 'nothing changed, nothing is sent');
      assert.deepEqual(await lines(bob), [`:${mask(alice)} MODE ${channel} -nt`]);
    });

    it('+k and +l take a parameter: members see the key in 324, non-members see "*"; -k and -l remove them', async () => {
      const alice = await connect('alice');
      const bob = await connect('bob');
      const outsider = await connect('out');
      const channel = await roomWith(alice, bob);
      const set = `:${mask(alice)} MODE ${channel} +kl pass 5`;
      assert.deepEqual(await mode(alice, channel, '+kl pass 5'), [set]);
      assert.deepEqual(await lines(bob), [set]);
      bob.send(`MODE ${channel}`);
      outsider.send(`MODE ${channel}`);
      assert.equal((await bob.expect('324')).raw, `:${SERVER} 324 ${bob.nick} ${channel} +klnt pass 5`);
      assert.equal((await outsider.expect('324')).raw, `:${SERVER} 324 ${outsider.nick} ${channel} +klnt * 5`);
      await settle(bob, outsider);
      assert.deepEqual(await mode(alice, channel, '+l 5'), [], 'the same limit again changes nothing');
      const unset = `:${mask(alice)} MODE ${channel} -kl *`;
      assert.deepEqual(await mode(alice, channel, '-kl pass'), [unset]);
      assert.deepEqual(await lines(bob), [unset]);
      alice.send(`MODE ${channel}`);
      assert.equal((await alice.expect('324')).raw, `:${SERVER} 324 ${alice.nick} ${channel} +nt`);
    });

    it('+k and +l without a valid parameter get 696 ERR_INVALIDMODEPARAM (525 for a malformed key) and change nothing', async () => {
      const alice = await connect('alice');
      const bob = await connect('bob');
      const channel = await roomWith(alice, bob);
      assert.deepEqual(await mode(alice, channel, '+k'), [`:${SERVER} 696 ${alice.nick} ${channel} k * :You must specify a parameter for the key mode`]);
      assert.deepEqual(await mode(alice, channel, '+l many'), [`:${SERVER} 696 ${alice.nick} ${channel} l many :Invalid limit mode parameter`]);
      assert.deepEqual(await mode(alice, channel, '+l 0'), [`:${SERVER} 696 ${alice.nick} ${channel} l 0 :Invalid limit mode parameter`]);
      assert.deepEqual(await mode(alice, channel, '+k a,b'), [`:${SERVER} 525 ${alice.nick} ${channel} :Key is not well-formed`]);
      assert.deepEqual(await lines(bob), []);
    });

    it('an unknown mode letter gets 472 ERR_UNKNOWNMODE; the known letters of the same command still apply', async () => {
      const alice = await connect('alice');
      const channel = await roomWith(alice);
      assert.deepEqual(await mode(alice, channel, '+Zm'), [
        `:${mask(alice)} MODE ${channel} +m`,
        `:${SERVER} 472 ${alice.nick} Z :is unknown mode char to me`,
      ]);
    });

    it('a member without rank changing a flag gets 482 ERR_CHANOPRIVSNEEDED; a half-operator may set bans but not flags', async () => {
      const alice = await connect('alice');
      const hop = await connect('hop');
      const bob = await connect('bob');
      const channel = await roomWith(alice, hop, bob);
      await mode(alice, channel, `+h ${hop.nick}`);
      await settle(hop, bob);
      assert.deepEqual(await mode(bob, channel, '+m'), [`:${SERVER} 482 ${bob.nick} ${channel} :You're not channel operator`]);
      assert.deepEqual(await mode(hop, channel, '+mb bad!*@*'), [
        `:${mask(hop)} MODE ${channel} +b bad!*@*`,
        `:${SERVER} 482 ${hop.nick} ${channel} :You're not channel operator`,
      ]);
      assert.deepEqual(await lines(alice), [`:${mask(hop)} MODE ${channel} +b bad!*@*`]);
    });
  });

  describe('lists', () => {
    it('+b, +e and +I add masks, list them with 367/368, 348/349 and 346/347, and -b/-e/-I remove them', async () => {
      const alice = await connect('alice');
      const bob = await connect('bob');
      const channel = await roomWith(alice, bob);
      const add = `:${mask(alice)} MODE ${channel} +beI bad!*@* good!*@* friend!*@*`;
      assert.deepEqual(await mode(alice, channel, '+beI bad!*@* good!*@* friend!*@*'), [add]);
      assert.deepEqual(await lines(bob), [add]);

      bob.send(`MODE ${channel} b`);
      bob.send(`MODE ${channel} +e`);
      bob.send(`MODE ${channel} I`);
      const listed = await bob.roundtrip();
      assert.deepEqual(
        listed.map((m) => [m.command, ...m.params.slice(0, 4)]),
        [
          ['367', bob.nick, channel, 'bad!*@*', mask(alice)],
          ['368', bob.nick, channel, 'End of channel ban list'],
          ['348', bob.nick, channel, 'good!*@*', mask(alice)],
          ['349', bob.nick, channel, 'End of channel exception list'],
          ['346', bob.nick, channel, 'friend!*@*', mask(alice)],
          ['347', bob.nick, channel, 'End of channel invite list'],
        ],
      );
      const setAt = Number(listed[0]?.params[4]);
      assert.ok(Math.abs(setAt - Date.now() / 1000) < 5, 'the set time is in seconds since the epoch');

      const remove = `:${mask(alice)} MODE ${channel} -beI bad!*@* good!*@* friend!*@*`;
      assert.deepEqual(await mode(alice, channel, '-beI BAD!*@* good friend!*@*'), [remove]);
      assert.deepEqual(await lines(bob), [remove]);
      bob.send(`MODE ${channel} +beI`);
      assert.deepEqual(
        (await bob.roundtrip()).map((m) => m.command),
        ['368', '349', '347'],
      );
    });

    it('masks are completed to nick!user@host form, and the same mask twice is set once', async () => {
      const alice = await connect('alice');
      const channel = await roomWith(alice);
      assert.deepEqual(await mode(alice, channel, '+bbbb troll *@bad.example bad.example ident@*'), [
        `:${mask(alice)} MODE ${channel} +bbb troll!*@* *!*@bad.example *!ident@*`,
      ]);
      assert.deepEqual(await mode(alice, channel, '+b TROLL'), [], 'masks compare casefolded');
      assert.deepEqual(await mode(alice, channel, '+e nick!user'), [`:${mask(alice)} MODE ${channel} +e nick!user@*`]);
    });

    it('MAXLIST: an entry past the list\'s limit gets 478 ERR_BANLISTFULL, counting those added by the same command', async () => {
      const alice = await connect('alice');
      const channel = await roomWith(alice);
      assert.deepEqual(await mode(alice, channel, '+bbbb a b c d'), [
        `:${mask(alice)} MODE ${channel} +bbb a!*@* b!*@* c!*@*`,
        `:${SERVER} 478 ${alice.nick} ${channel} b :Channel list is full`,
      ]);
      assert.deepEqual(await mode(alice, channel, '+e a'), [`:${mask(alice)} MODE ${channel} +e a!*@*`], 'each list has its own limit');
    });
  });

  describe('status modes', () => {
    it('the owner may give and take every rank, including owner and admin', async () => {
      const r = await rankedRoom();
      const change = `:${mask(r.owner)} MODE ${r.channel} +qa-a ${r.plain.nick} ${r.plain2.nick} ${r.admin.nick}`;
      assert.deepEqual(await mode(r.owner, r.channel, `+qa-a ${r.plain.nick} ${r.plain2.nick} ${r.admin.nick}`), [change]);
      for (const member of r.all.slice(1)) assert.deepEqual(await lines(member), [change]);
      assert.deepEqual(await names(r.owner, r.channel), [
        r.admin.nick,
        `&${r.plain2.nick}`,
        `+${r.voiced.nick}`,
        `%${r.hop.nick}`,
        `@${r.op.nick}`,
        `@${r.op2.nick}`,
        `~${r.owner.nick}`,
        `~${r.plain.nick}`,
      ].sort());
    });

    it('an admin sets op, half-op and voice on members below admin, but not admin or owner (482)', async () => {
      const r = await rankedRoom();
      assert.deepEqual(await mode(r.admin, r.channel, `+ohv-o ${r.plain.nick} ${r.plain2.nick} ${r.plain2.nick} ${r.op.nick}`), [
        `:${mask(r.admin)} MODE ${r.channel} +ohv-o ${r.plain.nick} ${r.plain2.nick} ${r.plain2.nick} ${r.op.nick}`,
      ]);
      const denied = `:${SERVER} 482 ${r.admin.nick} ${r.channel} :You're not channel operator`;
      assert.deepEqual(await mode(r.admin, r.channel, `+a ${r.voiced.nick}`), [denied]);
      assert.deepEqual(await mode(r.admin, r.channel, `-q ${r.owner.nick}`), [denied]);
      assert.deepEqual(await mode(r.admin, r.channel, `+v ${r.owner.nick}`), [denied], 'not on a member of higher rank');
      assert.deepEqual(await lines(r.plain), [`:${mask(r.admin)} MODE ${r.channel} +ohv-o ${r.plain.nick} ${r.plain2.nick} ${r.plain2.nick} ${r.op.nick}`]);
    });

    it('an operator sets op, half-op and voice on members up to op, but not on admins or owners (482)', async () => {
      const r = await rankedRoom();
      assert.deepEqual(await mode(r.op, r.channel, `+oh-o ${r.plain.nick} ${r.plain2.nick} ${r.op2.nick}`), [
        `:${mask(r.op)} MODE ${r.channel} +oh-o ${r.plain.nick} ${r.plain2.nick} ${r.op2.nick}`,
      ]);
      const denied = `:${SERVER} 482 ${r.op.nick} ${r.channel} :You're not channel operator`;
      assert.deepEqual(await mode(r.op, r.channel, `+a ${r.voiced.nick}`), [denied]);
      assert.deepEqual(await mode(r.op, r.channel, `-a ${r.admin.nick}`), [denied]);
      assert.deepEqual(await mode(r.op, r.channel, `+v ${r.admin.nick}`), [denied]);
      assert.deepEqual(await lines(r.admin), [`:${mask(r.op)} MODE ${r.channel} +oh-o ${r.plain.nick} ${r.plain2.nick} ${r.op2.nick}`]);
    });

    it('a half-operator sets only voice, on members below half-op; other status changes get 482', async () => {
      const r = await rankedRoom();
      const denied = `:${SERVER} 482 ${r.hop.nick} ${r.channel} :You're not channel operator`;
      assert.deepEqual(await mode(r.hop, r.channel, `+v-v ${r.plain.nick} ${r.voiced.nick}`), [
        `:${mask(r.hop)} MODE ${r.channel} +v-v ${r.plain.nick} ${r.voiced.nick}`,
      ]);
      assert.deepEqual(await mode(r.hop, r.channel, `+h ${r.plain2.nick}`), [denied]);
      assert.deepEqual(await mode(r.hop, r.channel, `-o ${r.op.nick}`), [denied]);
      assert.deepEqual(await mode(r.hop, r.channel, `+v ${r.op.nick}`), [denied]);
      assert.deepEqual(await lines(r.op), [`:${mask(r.hop)} MODE ${r.channel} +v-v ${r.plain.nick} ${r.voiced.nick}`]);
    });

    it('a member without rank may not give status (482) but may drop their own', async () => {
      const r = await rankedRoom();
      assert.deepEqual(await mode(r.plain, r.channel, `+v ${r.plain.nick}`), [`:${SERVER} 482 ${r.plain.nick} ${r.channel} :You're not channel operator`]);
      assert.deepEqual(await mode(r.voiced, r.channel, `-v ${r.voiced.nick}`), [`:${mask(r.voiced)} MODE ${r.channel} -v ${r.voiced.nick}`]);
    });

    it('status for a nick that does not exist gets 401 ERR_NOSUCHNICK; for a user not in the room 441 ERR_USERNOTINCHANNEL', async () => {
      const alice = await connect('alice');
      const bob = await connect('bob');
      const channel = await roomWith(alice);
      assert.deepEqual(await mode(alice, channel, `+oo nobody ${bob.nick}`), [
        `:${SERVER} 401 ${alice.nick} nobody :No such nick/channel`,
        `:${SERVER} 441 ${alice.nick} ${bob.nick} ${channel} :They aren't on that channel`,
      ]);
    });

    it('the status parameter is shown with the nick as its owner writes it, and "+oo bob bob" gives op once', async () => {
      const alice = await connect('alice');
      const bob = await connect('Bob');
      const channel = await roomWith(alice, bob);
      assert.deepEqual(await mode(alice, channel, `+oo ${bob.nick.toLowerCase()} ${bob.nick.toUpperCase()}`), [
        `:${mask(alice)} MODE ${channel} +o ${bob.nick}`,
      ]);
    });

    it('MODES=4: at most four parameter modes of one MODE command are applied, in order, the rest dropped', async () => {
      const alice = await connect('alice', ['multi-prefix']);
      const others = await Promise.all(['b', 'c', 'd', 'e', 'f'].map((n) => connect(n)));
      const channel = await roomWith(alice, ...others);
      const nicks = others.map((c) => c.nick);
      const applied = `:${mask(alice)} MODE ${channel} +vvvv ${nicks.slice(0, 4).join(' ')}`;
      assert.deepEqual(await mode(alice, channel, `+vvvvv ${nicks.join(' ')}`), [applied]);
      for (const other of others) assert.deepEqual(await lines(other), [applied]);
      assert.ok((await names(alice, channel)).includes(nicks[4] ?? ''), 'the fifth stays unvoiced');
      // The key and the limit count too (type B and C modes).
      assert.deepEqual(await mode(alice, channel, `-vvvv+kl ${nicks.slice(0, 4).join(' ')} key 10`), [
        `:${mask(alice)} MODE ${channel} -vvvv ${nicks.slice(0, 4).join(' ')}`,
      ]);
      assert.deepEqual(await mode(alice, channel, `+kvvvv key ${nicks.slice(0, 4).join(' ')}`), [
        `:${mask(alice)} MODE ${channel} +kvvv key ${nicks.slice(0, 3).join(' ')}`,
      ]);
    });

    it('a mixed MODE command is broadcast as one line with exactly the changes that applied', async () => {
      const alice = await connect('alice');
      const bob = await connect('bob');
      const carol = await connect('carol');
      const outsider = await connect('out');
      const channel = await roomWith(alice, bob, carol);
      // bob has no voice to take; +n is already set.
      const sent = `+o-v+vn-t ${bob.nick} ${bob.nick} ${carol.nick}`;
      const applied = `:${mask(alice)} MODE ${channel} +ov-t ${bob.nick} ${carol.nick}`;
      assert.deepEqual(await mode(alice, channel, sent), [applied]);
      assert.deepEqual(await lines(bob), [applied]);
      assert.deepEqual(await lines(carol), [applied]);
      assert.deepEqual(await lines(outsider), []);
    });
  });

  describe('speaking under +m and +n', () => {
    it('+m: a member without voice gets 404 ERR_CANNOTSENDTOCHAN; voiced members and operators speak', async () => {
      const alice = await connect('alice');
      const bob = await connect('bob');
      const carol = await connect('carol');
      const channel = await roomWith(alice, bob, carol);
      await mode(alice, channel, `+mv ${carol.nick}`);
      await settle(bob, carol);
      bob.send(`PRIVMSG ${channel} :can I talk?`);
      assert.deepEqual(await lines(bob), [`:${SERVER} 404 ${bob.nick} ${channel} :Cannot send to channel`]);
      carol.send(`PRIVMSG ${channel} :I can`);
      await settle(carol);
      alice.send(`PRIVMSG ${channel} :so can I`);
      await settle(alice);
      assert.deepEqual(await lines(bob), [`:${mask(carol)} PRIVMSG ${channel} :I can`, `:${mask(alice)} PRIVMSG ${channel} :so can I`]);
    });

    it('mute (+b m:mask, ISUPPORT EXTBAN=,m): the muted member stays in the room but gets 404; -b m: lets them speak', async () => {
      const alice = await connect('alice');
      const bob = await connect('bob');
      const channel = await roomWith(alice, bob);
      assert.deepEqual(await mode(alice, channel, `+b m:${bob.nick}`), [`:${mask(alice)} MODE ${channel} +b m:${bob.nick}!*@*`]);
      await settle(bob);
      bob.send(`PRIVMSG ${channel} :can I talk?`);
      assert.deepEqual(await lines(bob), [`:${SERVER} 404 ${bob.nick} ${channel} :Cannot send to channel`]);
      bob.send(`PART ${channel}`);
      bob.send(`JOIN ${channel}`);
      assert.ok((await lines(bob)).some((line) => line.endsWith(`JOIN ${channel}`)), 'a mute is not a ban: rejoining works');
      await mode(alice, channel, `-b m:${bob.nick}!*@*`);
      await settle(alice, bob);
      bob.send(`PRIVMSG ${channel} :thanks`);
      await settle(bob);
      assert.deepEqual(await lines(alice), [`:${mask(bob)} PRIVMSG ${channel} thanks`]);
    });

    it('+n: a message from outside the room gets 404; with -n it reaches the members', async () => {
      const alice = await connect('alice');
      const outsider = await connect('out');
      const channel = await roomWith(alice);
      outsider.send(`PRIVMSG ${channel} :hello from outside`);
      assert.deepEqual(await lines(outsider), [`:${SERVER} 404 ${outsider.nick} ${channel} :Cannot send to channel`]);
      assert.deepEqual(await lines(alice), []);
      await mode(alice, channel, '-n');
      outsider.send(`PRIVMSG ${channel} :hello from outside`);
      assert.deepEqual(await lines(outsider), []);
      assert.deepEqual(await lines(alice), [`:${mask(outsider)} PRIVMSG ${channel} :hello from outside`]);
    });
  });
});
