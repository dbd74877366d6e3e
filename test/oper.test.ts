/** Operators (Modern IRC "Operator Messages"): OPER, KILL, WALLOPS, REHASH, over real sockets. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { startNatter } from '../src/cli/compose.js';
import type { RunningNatter } from '../src/cli/compose.js';
import { ConfigError, parseConfig } from '../src/config/load.js';
import { hashPassword } from '../src/auth/authenticator.js';
import type { Config, ConfigFile } from '../src/config/schema.js';
import { TestClient } from './helpers/client.js';
import type { Received } from './helpers/client.js';
import { startTestServer, tempDataDir } from './helpers/server.js';
import type { TestServer } from './helpers/server.js';

const PASSWORD = 'hunter2 but longer';

describe('operators', () => {
  let server: TestServer;
  const clients: TestClient[] = [];
  const register = async (nick: string): Promise<TestClient> => {
    const client = await TestClient.register(server.port, nick);
    clients.push(client);
    return client;
  };
  const operUp = async (client: TestClient, name = 'root'): Promise<void> => {
    client.send(`OPER ${name} :${PASSWORD}`);
    await client.expect('381');
    await client.roundtrip();
  };

  before(async () => {
    const hash = await hashPassword(PASSWORD);
    server = await startTestServer({
      opers: [
        { name: 'root', password: hash },
        { name: 'local', password: hash, hosts: ['~*@127.0.0.1'] },
        { name: 'remote', password: hash, hosts: ['*@10.0.0.1', '*@example.org'] },
      ],
    });
  });
  after(async () => {
    for (const client of clients) client.close();
    await server.stop();
  });

  it('OPER with the right name and password gets RPL_YOUREOPER (381) and MODE +o', async () => {
    const client = await register('opal');
    client.send(`OPER root :${PASSWORD}`);
    await client.expect('381');
    const mode = await client.expect('MODE');
    assert.equal(mode.params[0], 'opal');
    assert.match(mode.params[1] ?? '', /^\+[a-z]*o[a-z]*$/);
    client.send('MODE opal');
    const umode = await client.expect('221');
    assert.match(umode.params[1] ?? '', /o/);
    const peer = await register('opalpeer');
    peer.send('WHOIS opal');
    await peer.expect('313');
  });

  it('OPER with a host matching the block\'s masks succeeds', async () => {
    const client = await register('localop');
    await operUp(client, 'local');
  });

  it('OPER with a wrong password gets ERR_PASSWDMISMATCH (464), and the user stays connected and not an operator', async () => {
    const client = await register('guesser');
    client.send('OPER root wrong');
    await client.expect('464');
    client.send('OPER nosuchoper :whatever');
    await client.expect('464');
    client.send('MODE guesser');
    const umode = await client.expect('221');
    assert.doesNotMatch(umode.params[1] ?? '', /o/);
    assert.ok(!client.isClosed);
  });

  it('OPER from a host the block does not allow gets ERR_NOOPERHOST (491), with the right password and a wrong one alike (the reply never confirms a password)', async () => {
    const client = await register('faraway');
    client.send(`OPER remote :${PASSWORD}`);
    await client.expect('491');
    client.send('OPER remote :a-wrong-guess');
    await client.expect('491');
    client.send('MODE faraway');
    assert.doesNotMatch((await client.expect('221')).params[1] ?? '', /o/);
  });

  it('OPER with too few parameters gets ERR_NEEDMOREPARAMS (461)', async () => {
    const client = await register('shortop');
    client.send('OPER root');
    assert.equal((await client.expect('461')).params[1], 'OPER');
  });

  it('KILL by an operator: the target gets KILL and ERROR, and peers see QUIT "Killed (<oper> (<reason>))"', async () => {
    const oper = await register('killer');
    await operUp(oper);
    const victim = await register('victim');
    const peer = await register('witness');
    victim.send('JOIN #scene');
    await victim.expect('366');
    peer.send('JOIN #scene');
    await peer.expect('366');
    oper.send('KILL victim :spamming');
    const kill = await victim.expect('KILL');
    assert.equal(kill.source?.split('!')[0], 'killer');
    const error = await victim.expect('ERROR');
    assert.match(error.params[0] ?? '', /Killed \(killer \(spamming\)\)/);
    await victim.closed;
    const quit = await peer.expect('QUIT');
    assert.equal(quit.source?.split('!')[0], 'victim');
    assert.deepEqual(quit.params, ['Killed (killer (spamming))']);
    oper.send('WHOIS victim');
    await oper.expect('401');
  });

  it('a KILL reason is cut so that both the KILL and the QUIT it causes fit 512 bytes', async () => {
    const oper = await register('longkiller');
    await operUp(oper);
    const victim = await register('longvictim');
    const peer = await register('longwitness');
    for (const client of [victim, peer]) {
      client.send('JOIN #longkill');
      await client.expect('366');
    }
    oper.send(`KILL longvictim :${'r'.repeat(490)}`);
    const kill = await victim.expect('KILL');
    assert.ok(Buffer.byteLength(kill.raw) <= 510, `KILL is ${Buffer.byteLength(kill.raw)} bytes`);
    const quit = await peer.expect('QUIT');
    assert.ok(Buffer.byteLength(quit.raw) <= 510, `QUIT is ${Buffer.byteLength(quit.raw)} bytes`);
    assert.match(quit.params[0] ?? '', /^Killed \(longkiller \(r+\)\)$/);
  });

  it('KILL by a non-operator gets ERR_NOPRIVILEGES (481) and kills nobody', async () => {
    const client = await register('wannabe');
    const target = await register('safe');
    client.send('KILL safe :bye');
    await client.expect('481');
    assert.deepEqual(await target.roundtrip(), []);
  });

  it('KILL of an unknown nick gets 401, of the server 483', async () => {
    const oper = await register('killer2');
    await operUp(oper);
    oper.send('KILL ghost :x');
    assert.equal((await oper.expect('401')).params[1], 'ghost');
    oper.send('KILL test.natter :x');
    await oper.expect('483');
  });

  it('WALLOPS from an operator reaches exactly the users with +w; non-operators get 481', async () => {
    const oper = await register('waller');
    await operUp(oper);
    const listener = await register('listener');
    const deaf = await register('deaf');
    listener.send('MODE listener +w');
    await listener.expect('MODE');
    oper.send('WALLOPS :maintenance at noon');
    const got = await listener.expect('WALLOPS');
    assert.equal(got.source?.split('!')[0], 'waller');
    assert.deepEqual(got.params, ['maintenance at noon']);
    const self = await oper.expect('WALLOPS');
    assert.deepEqual(self.params, ['maintenance at noon'], 'OPER sets +w, so the sender sees it too');
    assert.ok(!(await deaf.roundtrip()).some((m) => m.command === 'WALLOPS'));
    oper.send(`WALLOPS :${'w'.repeat(495)}`);
    const long = await listener.expect('WALLOPS');
    assert.ok(Buffer.byteLength(long.raw) <= 510, `a long WALLOPS is cut to fit a line (${Buffer.byteLength(long.raw)} bytes)`);
    deaf.send('WALLOPS :me too');
    await deaf.expect('481');
    assert.ok(!(await listener.roundtrip()).some((m) => m.command === 'WALLOPS'));
  });

  it('REHASH by a non-operator gets 481', async () => {
    const client = await register('rehasher');
    client.send('REHASH');
    await client.expect('481');
  });

  it('an operator who drops +o with MODE loses operator commands', async () => {
    const oper = await register('dropper');
    await operUp(oper);
    oper.send('MODE dropper -o');
    assert.equal((await oper.expect('MODE')).params[1], '-o');
    oper.send('WALLOPS :still here?');
    await oper.expect('481');
  });
});

describe('REHASH', () => {
  let natter: RunningNatter;
  let port: number;
  let next: ConfigFile | Error;
  const data = tempDataDir();
  const base: ConfigFile = { listen: ['127.0.0.1:0'], serverName: 'test.natter', logLevel: 'silent', data: data.path, limits: { connectionsPerIp: 0, flood: { enabled: false } } };
  const clients: TestClient[] = [];

  before(async () => {
    const hash = await hashPassword(PASSWORD);
    const config = (extra: ConfigFile): Config => parseConfig({ ...base, opers: [{ name: 'root', password: hash }], ...extra }, 'test');
    next = {};
    natter = await startNatter({
      config: config({ motd: ['The old message.'] }),
      logger: pino({ level: 'silent' }),
      configSource: 'test.json',
      reload: () => {
        if (next instanceof Error) return Promise.reject(next);
        try {
          return Promise.resolve(config(next));
        } catch (error) {
          return Promise.reject(error instanceof Error ? error : new Error(String(error)));
        }
      },
    });
    port = natter.addresses[0]?.port ?? assert.fail('no port');
  });
  after(async () => {
    for (const client of clients) client.close();
    await natter.stop();
    data.remove();
  });

  const register = async (nick: string): Promise<TestClient> => {
    const client = await TestClient.register(port, nick);
    clients.push(client);
    return client;
  };
  const motdText = (messages: readonly Received[]): string[] => messages.filter((m) => m.command === '372').map((m) => m.params[1] ?? '');

  it('REHASH reloads the configuration without dropping anyone: RPL_REHASHING (382), then the new MOTD is shown', async () => {
    const oper = await register('admin');
    const bystander = await register('bystander');
    oper.send(`OPER root :${PASSWORD}`);
    await oper.expect('381');
    next = { motd: ['The new message.'], networkName: 'Renamed' };
    oper.send('REHASH');
    const rehashing = await oper.expect('382');
    assert.deepEqual(rehashing.params, ['admin', 'test.json', 'Rehashing']);
    const notice = await oper.expect('NOTICE');
    assert.match(notice.params.at(-1) ?? '', /reloaded/i);
    bystander.send('MOTD');
    assert.deepEqual(motdText(await bystander.roundtrip()), ['- The new message.']);
    bystander.send('VERSION');
    assert.ok((await bystander.roundtrip()).some((m) => m.command === '005' && m.params.includes('NETWORK=Renamed')));
    assert.ok(!oper.isClosed && !bystander.isClosed);
    const fresh = await register('fresh');
    fresh.send('MOTD');
    assert.deepEqual(motdText(await fresh.roundtrip()), ['- The new message.']);
  });

  it('cap-notify: a reload that stops offering a capability sends CAP DEL (and disables it), offering it again CAP NEW with its value', async () => {
    const oper = await register('capadmin');
    oper.send(`OPER root :${PASSWORD}`);
    await oper.expect('381');
    const watcher = await TestClient.connect(port);
    clients.push(watcher);
    watcher.send('CAP LS 302');
    watcher.send('CAP REQ :draft/account-registration');
    watcher.send('NICK capwatch');
    watcher.send('USER capwatch 0 * :x');
    await watcher.expect((m) => m.command === 'CAP' && m.params[1] === 'ACK');
    watcher.send('CAP END');
    await watcher.expect((m) => m.command === '376' || m.command === '422');
    const old = await register('capold');
    // The earlier test's settings stay (later tests expect its MOTD); only account registration changes.
    const earlier: ConfigFile = { motd: ['The new message.'], networkName: 'Renamed' };
    next = { ...earlier, accounts: { registration: false } };
    oper.send('REHASH');
    const del = await watcher.expect((m) => m.command === 'CAP' && m.params[1] === 'DEL');
    assert.deepEqual(del.params, ['capwatch', 'DEL', 'draft/account-registration']);
    watcher.send('CAP LIST');
    const list = await watcher.expect((m) => m.command === 'CAP' && m.params[1] === 'LIST');
    assert.ok(!(list.params.at(-1) ?? '').split(' ').includes('draft/account-registration'), 'a deleted cap is no longer enabled');
    next = earlier;
    oper.send('REHASH');
    const added = await watcher.expect((m) => m.command === 'CAP' && m.params[1] === 'NEW');
    assert.deepEqual(added.params, ['capwatch', 'NEW', 'draft/account-registration=before-connect,custom-account-name']);
    assert.ok(!(await old.roundtrip()).some((m) => m.command === 'CAP'), 'a client without cap-notify is not told');
  });

  it('a failed reload keeps the old configuration and replies FAIL REHASH naming the bad key', async () => {
    const oper = await register('admin2');
    oper.send(`OPER root :${PASSWORD}`);
    await oper.expect('381');
    next = { motd: ['Should not appear.'], limits: { nickLength: 5 } };
    oper.send('REHASH');
    const fail = await oper.expect('FAIL');
    assert.deepEqual(fail.params.slice(0, 2), ['REHASH', 'CONFIG_INVALID']);
    assert.match(fail.params.at(-1) ?? '', /limits\.nickLength/);
    next = new ConfigError('config file test.json: not valid JSON');
    oper.send('REHASH');
    assert.match((await oper.expect('FAIL')).params.at(-1) ?? '', /not valid JSON/);
    oper.send('MOTD');
    assert.deepEqual(motdText(await oper.roundtrip()), ['- The new message.']);
    assert.ok(!oper.isClosed);
  });

  it('a reload that changes the casemapping is refused while running', async () => {
    const oper = await register('admin3');
    oper.send(`OPER root :${PASSWORD}`);
    await oper.expect('381');
    next = { casemapping: 'ascii', motd: ['Nope.'] };
    oper.send('REHASH');
    assert.match((await oper.expect('FAIL')).params.at(-1) ?? '', /casemapping/);
    oper.send('MOTD');
    assert.deepEqual(motdText(await oper.roundtrip()), ['- The new message.']);
  });
});
