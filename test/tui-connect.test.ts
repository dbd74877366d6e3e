/**
 * `natter connect` (issue 8) driven as a user drives it: the real command in a real terminal (tmux), keys typed,
 * the screen read back, against a real server on an ephemeral port with raw-socket IRC clients on the other side.
 * Text and Enter are always sent apart (ink reads them together as a paste).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { TestClient } from './helpers/client.js';
import { runNatter } from './helpers/process.js';
import { startTestServer } from './helpers/server.js';
import type { TestServer } from './helpers/server.js';
import { TmuxSession, tmuxAvailable } from './helpers/tmux.js';

const ROOT = new URL('..', import.meta.url).pathname;
const unavailable = tmuxAvailable();
const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'natter-tui-'));
  dirs.push(dir);
  return dir;
}

/** `natter connect ARGS` in its own terminal, its known hosts in `configHome`. */
function terminalClient(args: readonly string[], configHome: string, size = { width: 100, height: 30 }): TmuxSession {
  return TmuxSession.start({
    command: process.execPath,
    args: ['--import', 'tsx', 'src/cli/run.ts', 'connect', ...args],
    cwd: ROOT,
    env: { XDG_CONFIG_HOME: configHome, XDG_DATA_HOME: configHome, NATTER_PASSWORD: '' },
    ...size,
  });
}

/** Types a line, waits until the input line shows it, then presses Enter (apart, so it is not a paste). */
async function enter(terminal: TmuxSession, text: string): Promise<void> {
  terminal.type(text);
  const tail = text.slice(-12);
  await terminal.waitFor((screen) => screen.split('\n').some((row) => row.startsWith('[') && row.includes(tail)));
  terminal.press('Enter');
}

/** A raw IRC client, registered; with `room`, once autojoin has put it there (NAMES lists it). */
async function rawClient(server: TestServer, nick: string, caps: string[] = [], room?: string): Promise<TestClient> {
  const client = await TestClient.register(server.port, nick, { caps });
  if (room !== undefined) {
    client.send(`NAMES ${room}`);
    await client.expect((m) => m.command === '353' && (m.params[3] ?? '').split(' ').some((name) => name.replace(/^[~&@%+]+/, '') === nick));
  }
  return client;
}

describe('natter connect, the terminal client', { skip: unavailable, concurrency: 1 }, () => {
  it('lands in the room, scrolls back through history, chats both ways, shows whispers and view-once messages, switches to a DM with its unread count', { timeout: 120_000 }, async () => {
    const server = await startTestServer({ autojoin: ['#lounge'], accounts: { maxFailedLogins: 1000 } });
    const bob = await rawClient(server, 'bob', ['message-tags', 'echo-message'], '#lounge');
    const carol = await rawClient(server, 'carol', ['message-tags', 'natter.chat/view-once', 'echo-message'], '#lounge');
    for (let index = 1; index <= 70; index++) bob.send(`PRIVMSG #lounge :old message ${String(index)}`);
    await bob.expect((m) => m.command === 'PRIVMSG' && m.params[1] === 'old message 70');
    const terminal = terminalClient([`127.0.0.1:${String(server.port)}`, '--no-tls', '--nick', 'ada'], tempDir());
    try {
      // Autojoined and focused: the prompt names the room, the newest history is shown.
      await terminal.waitFor(/^\[#lounge\]/m, 20_000);
      await terminal.waitFor(/<bob> old message 70/);
      await bob.expect((m) => m.command === 'JOIN' && m.source?.startsWith('ada!') === true);

      // Scroll-back: PageUp until the very first message, fetched from the server's history on the way.
      let screen = terminal.capture();
      for (let page = 0; page < 30 && !/old message 1$/m.test(screen); page++) {
        terminal.press('PageUp');
        await new Promise((resolve) => setTimeout(resolve, 150));
        screen = terminal.capture();
      }
      assert.match(screen, /<bob> old message 1$/m, `scrolled back to the first message:\n${screen}`);
      assert.match(screen, /scrolled back \d+ lines/);
      terminal.press('Escape');
      await terminal.waitFor((text) => /<bob> old message 70/.test(text) && !/scrolled back/.test(text));

      // Both ways.
      bob.send('PRIVMSG #lounge :hello ada');
      await terminal.waitFor(/<bob> hello ada/);
      await enter(terminal, 'hi bob, good to see you');
      await bob.expect((m) => m.command === 'PRIVMSG' && m.params[0] === '#lounge' && m.params[1] === 'hi bob, good to see you' && m.source?.startsWith('ada!') === true);
      await terminal.waitFor(/<ada> hi bob, good to see you/);

      // Tab completes a nick; slash commands of the shared table work.
      terminal.type('bo');
      await terminal.waitFor(/^\[#lounge\] bo/m);
      terminal.press('Tab');
      await terminal.waitFor(/^\[#lounge\] bob:/m);
      await enter(terminal, 'ready?');
      await bob.expect((m) => m.command === 'PRIVMSG' && m.params[1] === 'bob: ready?');
      await enter(terminal, '/me waves');
      await bob.expect((m) => m.command === 'PRIVMSG' && m.params[1] === '\u0001ACTION waves\u0001');
      // Without operator status in a +t room, the server's refusal is shown where it was typed.
      await enter(terminal, '/topic Chapter three');
      await terminal.waitFor(/! .*#lounge.*(operator|privileges)/i);
      bob.send('TOPIC #lounge :Chapter three');
      await terminal.waitFor(/#lounge — Chapter three/);
      // The directory is listed where /list was typed.
      await enter(terminal, '/list');
      await terminal.waitFor(/#lounge \(3\) — Chapter three/);
      // /msg opens the conversation; Alt+2 is the second window of the list, the room.
      await enter(terminal, '/msg bob a word in private');
      await bob.expect((m) => m.command === 'PRIVMSG' && m.params[0] === 'bob' && m.params[1] === 'a word in private');
      await terminal.waitFor(/^\[bob\]/m);
      terminal.press('M-2');
      await terminal.waitFor(/^\[#lounge\]/m);

      // A whisper: in the room, marked, between carol and ada only.
      carol.send('@+draft/channel-context=#lounge PRIVMSG ada :just between us');
      await terminal.waitFor(/<carol → you> \(whisper\) just between us/);

      // A view-once message: sealed, opened once in a box, then gone.
      carol.send('@natter.chat/view-once PRIVMSG #lounge :the secret is 42');
      await terminal.waitFor(/<carol> 🔒 view-once message: type \/open to see it, once/);
      assert.doesNotMatch(terminal.capture(), /the secret is 42/, 'sealed until opened');
      await enter(terminal, '/open');
      screen = await terminal.waitFor(/View-once message from carol/);
      assert.match(screen, /the secret is 42/);
      terminal.press('Enter');
      screen = await terminal.waitFor(/<carol> 🔓 view-once message \(opened\)/);
      assert.doesNotMatch(screen, /the secret is 42/, 'gone from the screen once closed');
      await enter(terminal, '/open');
      await terminal.waitFor(/No view-once message to open here/);

      // A direct message elsewhere: counted in the list; Ctrl+N goes there, where it is "new".
      bob.send('PRIVMSG ada :psst, a private word');
      await terminal.waitFor(/^\d bob +1│/m);
      terminal.press('C-n');
      screen = await terminal.waitFor(/^\[bob\]/m);
      assert.match(screen, /─ new ─/);
      assert.match(screen, /<bob> psst, a private word/);
      assert.doesNotMatch(screen, /^\d bob +1│/m, 'read once looked at');
      await enter(terminal, 'got it');
      await bob.expect((m) => m.command === 'PRIVMSG' && m.params[0] === 'bob' && m.params[1] === 'got it');

      // /quit says goodbye to the server and ends the program.
      await enter(terminal, '/quit see you');
      const quit = await bob.expect((m) => m.command === 'QUIT' && m.source?.startsWith('ada!') === true);
      assert.match(quit.params[0] ?? '', /see you/);
      await terminal.waitFor(() => !terminal.alive);
      assert.match(terminal.capture(), /Disconnected from 127\.0\.0\.1:\d+\./);
    } finally {
      terminal.close();
      bob.close();
      carol.close();
      await server.stop();
    }
  });

  it('a wrong password is refused on the plain terminal, in the server’s words', { timeout: 60_000 }, async () => {
    const server = await startTestServer();
    const terminal = TmuxSession.start({
      command: process.execPath,
      args: ['--import', 'tsx', 'src/cli/run.ts', 'connect', `127.0.0.1:${String(server.port)}`, '--no-tls', '--account', 'nobody'],
      cwd: ROOT,
      env: { XDG_CONFIG_HOME: tempDir(), NATTER_PASSWORD: 'wrong password' },
    });
    try {
      const screen = await terminal.waitFor(() => !terminal.alive, 20_000).then(() => terminal.capture());
      assert.match(screen, /natter: the server refused: .*(password|SASL|authentication)/i);
    } finally {
      terminal.close();
      await server.stop();
    }
  });

  it('TLS: trust on first use remembers the fingerprint, refuses loudly when the certificate changes, and --forget lets it start over', { timeout: 120_000 }, async () => {
    const configHome = tempDir();
    const first = await startTestServer({ tls: { listen: ['127.0.0.1:0'] } });
    const tlsPort = first.tlsAddresses[0]?.port;
    assert.ok(tlsPort !== undefined, 'a TLS listener');
    const fingerprint = first.tls?.fingerprint ?? assert.fail('a certificate');
    let terminal = terminalClient([`127.0.0.1:${String(tlsPort)}`, '--nick', 'tofu'], configHome);
    try {
      await terminal.waitFor(/^\[server\]/m, 20_000);
      const remembered = JSON.parse(readFileSync(join(configHome, 'natter', 'known-hosts.json'), 'utf8')) as unknown;
      assert.ok(JSON.stringify(remembered).includes(fingerprint), `remembered: ${JSON.stringify(remembered)}`);
      await enter(terminal, '/quit');
      // A TLS connection may take its closing handshake's time on a loaded machine.
      const screen = await terminal.waitFor(() => !terminal.alive, 20_000).then(() => terminal.capture());
      // The lines before the full screen are back once it is left.
      assert.ok(screen.replace(/\n/g, '').includes(fingerprint), `the fingerprint was shown:\n${screen}`);
      assert.match(screen, /it is self-signed/);
    } finally {
      terminal.close();
      await first.stop();
    }

    // Another server (another certificate) on the same address.
    const second = await startTestServer({ tls: { listen: [`127.0.0.1:${String(tlsPort)}`] } });
    try {
      assert.notEqual(second.tls?.fingerprint, fingerprint);
      terminal = terminalClient([`127.0.0.1:${String(tlsPort)}`, '--nick', 'tofu'], configHome);
      const screen = await terminal.waitFor(() => !terminal.alive, 20_000).then(() => terminal.capture());
      assert.match(screen, /WARNING: THE CERTIFICATE OF 127\.0\.0\.1:\d+ HAS CHANGED/);
      const unwrapped = screen.replace(/\n/g, '');
      assert.ok(unwrapped.includes(fingerprint) && unwrapped.includes(second.tls?.fingerprint ?? '?'), `both fingerprints:\n${screen}`);
      assert.match(screen, /Not connecting/);
      terminal.close();

      const forget = runNatter(['connect', '--forget', `127.0.0.1:${String(tlsPort)}`], { env: { XDG_CONFIG_HOME: configHome } });
      assert.equal(await forget.exited, 0, forget.stderr);
      assert.match(forget.stderr, /Forgot the certificate of 127\.0\.0\.1:\d+/);
      terminal = terminalClient([`127.0.0.1:${String(tlsPort)}`, '--nick', 'tofu'], configHome);
      await terminal.waitFor(/^\[server\]/m, 20_000);
      await enter(terminal, '/quit');
      await terminal.waitFor(() => !terminal.alive, 20_000);
    } finally {
      terminal.close();
      await second.stop();
    }
  });

  it('refuses bad flags and addresses with a message that names them', async () => {
    const run = runNatter(['connect', 'localhost:99999']);
    assert.equal(await run.exited, 2);
    assert.match(run.stderr, /99999/);
    const register = runNatter(['connect', '127.0.0.1', '--register']);
    assert.equal(await register.exited, 2);
    assert.match(register.stderr, /--register: give the account to create with --account/);
  });
});
