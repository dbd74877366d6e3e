/**
 * Server-side autojoin (the `autojoin` key, like InspIRCd's conn_join): a connection that completes registration is
 * joined to each configured room as if it had sent JOIN, with the same checks and replies; a refused room does not
 * stop the others; an extra device of a user already online gets that user's rooms instead, not a second JOIN.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createAccount } from '../src/core/accounts.js';
import { ConfigError, parseConfig } from '../src/config/load.js';
import { parseMessage } from '../src/protocol/message.js';
import type { IrcMessage } from '../src/protocol/message.js';
import { TestClient } from './helpers/client.js';
import { saslPlain } from './helpers/login.js';
import { runNatter } from './helpers/process.js';
import { startTestServer } from './helpers/server.js';
import type { TestServer } from './helpers/server.js';

const PASSWORD = 'autojoin-password';

/** A server with `autojoin`, stopped (with every client) when `body` ends. */
async function withServer(autojoin: readonly string[], body: (server: TestServer, track: (client: TestClient) => TestClient) => Promise<void>): Promise<void> {
  const server = await startTestServer({ autojoin: [...autojoin] });
  const clients: TestClient[] = [];
  try {
    await body(server, (client) => {
      clients.push(client);
      return client;
    });
  } finally {
    for (const client of clients) client.close();
    await server.stop();
  }
}

/**
 * Everything the server sent after the end of the MOTD up to now (a PING barrier, whose PONG is left out). The
 * barrier waits for the registration to finish: the connection runs no later line before an asynchronous command.
 */
async function afterWelcome(client: TestClient): Promise<IrcMessage[]> {
  await client.roundtrip();
  const end = client.log.findIndex((line) => / (376|422) /.test(line));
  assert.notEqual(end, -1, `welcomed:\n${client.log.join('\n')}`);
  return client.log
    .slice(end + 1)
    .map((line) => parseMessage(line) ?? assert.fail(`unparsable: ${line}`))
    .filter((message) => message.command !== 'PONG');
}

/** Connects and registers with plain NICK and USER (a guest), up to the end of the MOTD; keeps what follows. */
async function guest(port: number, nick: string): Promise<TestClient> {
  const client = await TestClient.connect(port);
  client.nick = nick;
  client.send(`NICK ${nick}`);
  client.send(`USER ${nick} 0 * :${nick} test`);
  await client.expect((m) => m.command === '376' || m.command === '422');
  return client;
}

function commands(messages: readonly IrcMessage[]): string[] {
  return messages.map((message) => (message.command === 'JOIN' ? `JOIN ${message.params[0] ?? ''}` : message.command));
}

function joinsOf(client: TestClient): string[] {
  return client.log.filter((line) => / JOIN /.test(line));
}

describe('autojoin', { concurrency: 4 }, () => {
  it('a guest gets JOIN, the topic and NAMES of the room right after the welcome; others in the room see the JOIN', async () => {
    await withServer(['#lobby'], async (server, track) => {
      const alice = track(await guest(server.port, 'alice'));
      assert.deepEqual(commands(await afterWelcome(alice)), ['JOIN #lobby', '353', '366'], 'the first arrival creates the room');
      alice.send('TOPIC #lobby :Welcome, everyone');
      await alice.expect('TOPIC');

      const bob = track(await guest(server.port, 'bob'));
      const burst = await afterWelcome(bob);
      assert.deepEqual(commands(burst), ['JOIN #lobby', '332', '333', '353', '366'], bob.log.join('\n'));
      assert.match(burst[0]?.source ?? '', /^bob!~bob@/);
      assert.equal(burst[1]?.params[2], 'Welcome, everyone');
      assert.deepEqual((burst[3]?.params[3] ?? '').split(' ').sort(), ['@alice', 'bob']);

      const seen = await alice.expect('JOIN');
      assert.match(seen.source ?? '', /^bob!/);
      assert.deepEqual(seen.params, ['#lobby']);
      assert.equal(server.server.network.findChannel('#lobby')?.members.size, 2);
    });
  });

  it('a banned mask gets 474 and an invite-only room 473; the user is still registered and joined to the other rooms', async () => {
    await withServer(['#guarded', '#closed', '#open'], async (server, track) => {
      const alice = track(await guest(server.port, 'alice'));
      assert.deepEqual(commands(await afterWelcome(alice)), ['JOIN #guarded', '353', '366', 'JOIN #closed', '353', '366', 'JOIN #open', '353', '366']);
      alice.send('MODE #guarded +b mallory!*@*');
      alice.send('MODE #closed +i');
      await alice.roundtrip();

      const mallory = track(await guest(server.port, 'mallory'));
      const burst = await afterWelcome(mallory);
      assert.deepEqual(commands(burst), ['474', '473', 'JOIN #open', '353', '366'], mallory.log.join('\n'));
      assert.deepEqual(burst[0]?.params.slice(0, 2), ['mallory', '#guarded']);
      assert.deepEqual(burst[1]?.params.slice(0, 2), ['mallory', '#closed']);

      mallory.send('WHOIS mallory');
      const channels = await mallory.expect('319');
      assert.equal(channels.params[2]?.trim(), '#open', 'registered, and in #open only');
      const aliceSaw = await alice.roundtrip();
      assert.deepEqual(
        aliceSaw.filter((m) => m.command === 'JOIN').map((m) => m.params[0]),
        ['#open'],
      );
    });
  });

  it('an account registered before connecting (REGISTER) and one logged in with SASL are joined; a second device of an online account is not joined again', async () => {
    await withServer(['#lobby'], async (server, track) => {
      const watcher = track(await guest(server.port, 'watcher'));
      await afterWelcome(watcher);

      // draft/account-registration, before connecting.
      const carol = track(await TestClient.connect(server.port));
      carol.nick = 'carol';
      carol.send('CAP LS 302');
      carol.send('CAP REQ :draft/account-registration');
      await carol.expect((m) => m.command === 'CAP' && m.params[1] === 'ACK');
      carol.send('NICK carol');
      carol.send('USER carol 0 * :carol test');
      carol.send(`REGISTER carol * ${PASSWORD}`);
      const registered = await carol.expect('REGISTER', 5000);
      assert.equal(registered.params[0], 'SUCCESS');
      carol.send('CAP END');
      await carol.expect('376');
      assert.deepEqual(commands(await afterWelcome(carol)), ['JOIN #lobby', '353', '366']);
      assert.match((await watcher.expect('JOIN')).source ?? '', /^carol!/);

      // SASL during registration.
      await createAccount(server.server.network, server.store, server.server.auth, 'dave', PASSWORD);
      const dave = await saslPlain(server.port, 'dave', 'dave', PASSWORD);
      track(dave.client);
      assert.ok(dave.ok, dave.client.log.join('\n'));
      assert.deepEqual(commands(dave.burst).filter((c) => c === 'JOIN #lobby' || c === '366'), ['JOIN #lobby', '366']);
      assert.match((await watcher.expect('JOIN')).source ?? '', /^dave!/);

      // A second device of dave: told about dave's room once (multi-device), nobody sees a JOIN.
      await dave.client.roundtrip();
      const phone = await saslPlain(server.port, 'davephone', 'dave', PASSWORD);
      track(phone.client);
      assert.ok(phone.ok);
      assert.deepEqual(joinsOf(phone.client).map((line) => line.replace(/^:\S+ /, '')), ['JOIN #lobby'], phone.client.log.join('\n'));
      assert.deepEqual(commands(await dave.client.roundtrip()), [], 'the first device sees nothing');
      assert.deepEqual(commands(await watcher.roundtrip()), [], 'others see no JOIN');
      assert.equal(server.server.network.findChannel('#lobby')?.members.size, 3, 'watcher, carol and dave');
    });
  });

  it('no autojoin by default: registration joins nothing', async () => {
    const server = await startTestServer();
    try {
      const client = await guest(server.port, 'plain');
      assert.deepEqual(commands(await afterWelcome(client)), []);
      client.close();
    } finally {
      await server.stop();
    }
  });

  it('a name that is not a channel name is refused at start, naming the key autojoin', async () => {
    assert.deepEqual(parseConfig({ autojoin: ['#one', '#two'] }, 'test').autojoin, ['#one', '#two']);
    assert.deepEqual(parseConfig({}, 'test').autojoin, []);
    assert.throws(() => parseConfig({ autojoin: ['lobby'] }, 'test'), (error: unknown) => error instanceof ConfigError && /^test: "autojoin\.0": expected a channel name/.test(error.message));
    assert.throws(() => parseConfig({ autojoin: ['#fine', '#a,b'] }, 'test'), /"autojoin\.1"/);
    assert.throws(() => parseConfig({ autojoin: ['#has space'] }, 'test'), /"autojoin\.0"/);
    assert.throws(() => parseConfig({ autojoin: '#lobby' }, 'test'), /"autojoin"/);
    assert.throws(() => parseConfig({ limits: { channelLength: 8 }, autojoin: ['#longer-than-eight'] }, 'test'), /"autojoin\.0"/, 'longer than limits.channelLength');

    const dir = mkdtempSync(join(tmpdir(), 'natter-autojoin-'));
    try {
      const file = join(dir, 'natter.json');
      writeFileSync(file, JSON.stringify({ autojoin: ['lobby'] }));
      const run = runNatter(['serve', '--listen', '127.0.0.1:0', '--data', dir, '--config', file]);
      assert.equal(await run.exited, 2, run.stderr);
      assert.match(run.stderr, /^natter: config file .*natter\.json: "autojoin\.0": expected a channel name/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
