/**
 * IRCv3 chghost (ircv3.net/specs/extensions/chghost) and the operator command CHGHOST <nick> <user> <host>, over real
 * sockets: who gets CHGHOST, who gets the QUIT/JOIN/MODE fallback, and which changes are refused.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { hashPassword } from '../src/auth/authenticator.js';
import type { TestClient } from './helpers/client.js';
import { ClientPool, join, lines, mask, settle } from './helpers/clients.js';
import { startTestServer } from './helpers/server.js';
import type { TestServer } from './helpers/server.js';

const SERVER = 'test.natter';
const PASSWORD = 'chghost-password';

let server: TestServer;
const pool = new ClientPool(() => server.port);
const { connect, room, roomWith } = pool;

async function operator(): Promise<TestClient> {
  const oper = await connect('oper');
  oper.send(`OPER root ${PASSWORD}`);
  await oper.expect('381');
  await oper.roundtrip();
  return oper;
}

describe('chghost', () => {
  before(async () => {
    server = await startTestServer({ opers: [{ name: 'root', password: await hashPassword(PASSWORD) }] });
  });
  afterEach(() => {
    pool.closeAll();
  });
  after(async () => {
    await server.stop();
  });

  it('"servers MUST send the CHGHOST message to other clients who share channels with the target client and who have enabled the chghost capability"', async () => {
    const oper = await operator();
    const target = await connect('target');
    const peer = await connect('peer', ['chghost']);
    const stranger = await connect('stranger', ['chghost']);
    await roomWith(target, peer);
    const old = mask(target);
    oper.send(`CHGHOST ${target.nick} ~newuser cloak.example`);
    assert.deepEqual(await lines(oper), [`:${SERVER} NOTICE ${oper.nick} :Changed the host of ${target.nick} to ~newuser@cloak.example`]);
    assert.deepEqual(await lines(peer), [`:${old} CHGHOST ~newuser cloak.example`]);
    assert.deepEqual(await lines(stranger), []);
  });

  it('"Servers SHOULD also send the CHGHOST message to the client whose own username or host changed", with the cap; without it, 396', async () => {
    const oper = await operator();
    const withCap = await connect('selfcap', ['chghost']);
    const without = await connect('selfplain');
    const oldWith = mask(withCap);
    oper.send(`CHGHOST ${withCap.nick} ~u1 host.one`);
    oper.send(`CHGHOST ${without.nick} ~u2 host.two`);
    await oper.roundtrip();
    assert.deepEqual(await lines(withCap), [`:${oldWith} CHGHOST ~u1 host.one`]);
    assert.deepEqual(await lines(without), [`:${SERVER} 396 ${without.nick} host.two :is now your displayed host`]);
  });

  it('fallback: members without the cap see QUIT, then JOIN and the member\'s prefix modes (MODE from the server) in each shared room', async () => {
    const oper = await operator();
    const target = await connect('target');
    const peer = await connect('peer');
    const first = await roomWith(target, peer);
    const second = room();
    await join(peer, second);
    await join(target, second);
    peer.send(`MODE ${second} +v ${target.nick}`);
    await peer.expect('MODE');
    await settle(peer, target);
    const old = mask(target);
    const fresh = `${target.nick}!~moved@new.host`;
    oper.send(`CHGHOST ${target.nick} ~moved new.host`);
    await oper.roundtrip();
    // The target created the first room (operator) and was voiced in the second: the rooms in the order it joined.
    assert.deepEqual(await lines(peer), [
      `:${old} QUIT :Changing host`,
      `:${fresh} JOIN ${first}`,
      `:${SERVER} MODE ${first} +o ${target.nick}`,
      `:${fresh} JOIN ${second}`,
      `:${SERVER} MODE ${second} +v ${target.nick}`,
    ]);
  });

  it('fallback JOINs are extended for clients with extended-join', async () => {
    const oper = await operator();
    const target = await connect('target');
    const peer = await connect('peer', ['extended-join']);
    const channel = await roomWith(peer, target);
    oper.send(`CHGHOST ${target.nick} ~ext ext.host`);
    await oper.roundtrip();
    assert.deepEqual(await lines(peer), [`:${mask(target)} QUIT :Changing host`, `:${target.nick}!~ext@ext.host JOIN ${channel} * :${target.nick} test`]);
  });

  it('the new user@host is the user\'s: WHOIS shows it and its next messages carry it', async () => {
    const oper = await operator();
    const target = await connect('target');
    const peer = await connect('peer', ['chghost']);
    const channel = await roomWith(target, peer);
    oper.send(`CHGHOST ${target.nick} ~after after.example`);
    await peer.expect('CHGHOST');
    target.send(`PRIVMSG ${channel} :hello`);
    await target.roundtrip();
    assert.deepEqual(await lines(peer), [`:${target.nick}!~after@after.example PRIVMSG ${channel} hello`]);
    peer.send(`WHOIS ${target.nick}`);
    const whois = (await peer.roundtrip()).find((m) => m.command === '311');
    assert.deepEqual(whois?.params.slice(1, 4), [target.nick, '~after', 'after.example']);
  });

  it('a peer sharing several rooms gets one CHGHOST (or one QUIT)', async () => {
    const oper = await operator();
    const target = await connect('target');
    const withCap = await connect('peercap', ['chghost']);
    const without = await connect('peerplain');
    await roomWith(target, withCap, without);
    await roomWith(target, withCap, without);
    oper.send(`CHGHOST ${target.nick} ~two rooms.example`);
    await oper.roundtrip();
    assert.equal((await lines(withCap)).filter((line) => line.includes(' CHGHOST ')).length, 1);
    const plain = await lines(without);
    assert.equal(plain.filter((line) => line.includes(' QUIT ')).length, 1);
    assert.equal(plain.filter((line) => line.includes(' JOIN ')).length, 2);
  });

  describe('errors', () => {
    it('CHGHOST from a user who is not an operator gets 481 ERR_NOPRIVILEGES and changes nothing', async () => {
      const user = await connect('user');
      const target = await connect('target', ['chghost']);
      user.send(`CHGHOST ${target.nick} ~x x.example`);
      assert.deepEqual(await lines(user), [`:${SERVER} 481 ${user.nick} :Permission Denied- You're not an IRC operator`]);
      assert.deepEqual(await lines(target), []);
    });

    it('FAIL CHGHOST NO_SUCH_NICK, INVALID_USERNAME and INVALID_HOSTNAME', async () => {
      const oper = await operator();
      const target = await connect('target', ['chghost']);
      const failures: Array<[string, string, string]> = [
        [`CHGHOST nobody${target.nick} ~u h.example`, 'NO_SUCH_NICK', `nobody${target.nick}`],
        [`CHGHOST ${target.nick} bad@user h.example`, 'INVALID_USERNAME', 'bad@user'],
        [`CHGHOST ${target.nick} ${'u'.repeat(40)} h.example`, 'INVALID_USERNAME', 'u'.repeat(40)],
        [`CHGHOST ${target.nick} ~u bad!host`, 'INVALID_HOSTNAME', 'bad!host'],
        [`CHGHOST ${target.nick} ~u -dash.example`, 'INVALID_HOSTNAME', '-dash.example'],
        [`CHGHOST ${target.nick} ~u ${'h'.repeat(65)}`, 'INVALID_HOSTNAME', 'h'.repeat(65)],
      ];
      for (const [line, code, context] of failures) {
        oper.send(line);
        const [fail, ...rest] = await oper.roundtrip();
        assert.deepEqual(rest, []);
        assert.equal(fail?.command, 'FAIL', line);
        assert.deepEqual(fail.params.slice(0, 3), ['CHGHOST', code, context], line);
      }
      assert.deepEqual(await lines(target), []);
    });

    it('CHGHOST to the same user@host changes nothing: NOTE CHGHOST UNCHANGED', async () => {
      const oper = await operator();
      const target = await connect('target', ['chghost']);
      oper.send(`CHGHOST ${target.nick} ~${target.nick} 127.0.0.1`);
      const [note] = await oper.roundtrip();
      assert.deepEqual(note?.params.slice(0, 3), ['CHGHOST', 'UNCHANGED', target.nick]);
      assert.equal(note.command, 'NOTE');
      assert.deepEqual(await lines(target), []);
    });

    it('CHGHOST with fewer than three parameters gets 461', async () => {
      const oper = await operator();
      oper.send('CHGHOST nick user');
      assert.deepEqual(await lines(oper), [`:${SERVER} 461 ${oper.nick} CHGHOST :Not enough parameters`]);
    });
  });
});
