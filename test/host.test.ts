/**
 * `natter host` (issue 8): the real command on free ports (--port 0) with a temp --data. What it prints, a raw IRC
 * client and a browser signed in by the one-time link chatting in the host's room, the link refused the second time,
 * a second run reusing the data, and a busy port refused with a suggestion. The pure parts are tested first.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { after, describe, it } from 'node:test';
import { bannerText, lanAddresses, qrCodeOf } from '../src/cli/host-banner.js';
import { DEFAULT_TITLE, roomNameOf } from '../src/cli/host-identity.js';
import { HostLoginTokens, isThisMachine } from '../src/cli/host-login.js';
import { browserCommand, hostPorts, mayOpenBrowser, networkNameOf, serverNameOf } from '../src/cli/host.js';
import { browserAvailable, launchBrowser } from './helpers/browser.js';
import { TestClient } from './helpers/client.js';
import { saslPlain } from './helpers/login.js';
import { match, startHost } from './helpers/host.js';
import { runNatter } from './helpers/process.js';
import { composerOf, STEP_MS } from './helpers/web.js';

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'natter-host-'));
  dirs.push(dir);
  return dir;
}

const interfaces = {
  lo: [{ address: '127.0.0.1', netmask: '255.0.0.0', family: 'IPv4', mac: '00:00:00:00:00:00', internal: true, cidr: '127.0.0.1/8' }],
  eth0: [
    { address: 'fe80::1', netmask: 'ffff:ffff:ffff:ffff::', family: 'IPv6', mac: '02:00:00:00:00:01', internal: false, cidr: 'fe80::1/64', scopeid: 2 },
    { address: 'fd00::2', netmask: 'ffff:ffff:ffff:ffff::', family: 'IPv6', mac: '02:00:00:00:00:01', internal: false, cidr: 'fd00::2/64', scopeid: 0 },
    { address: '192.168.1.20', netmask: '255.255.255.0', family: 'IPv4', mac: '02:00:00:00:00:01', internal: false, cidr: '192.168.1.20/24' },
  ],
} as const satisfies NodeJS.Dict<Array<import('node:os').NetworkInterfaceInfo>>;

describe('natter host, the parts without a process', () => {
  it('ports: 6667, 6697 (TLS follows --port + 30) and 8080 by default; --port 0 makes every port not given free; equal ports are refused', () => {
    assert.deepEqual(hostPorts({}), { irc: 6667, tls: 6697, web: 8080, tlsFollowsIrc: true });
    assert.deepEqual(hostPorts({ port: 7000 }), { irc: 7000, tls: 7030, web: 8080, tlsFollowsIrc: true });
    assert.deepEqual(hostPorts({ port: 0 }), { irc: 0, tls: 0, web: 0, tlsFollowsIrc: true });
    assert.deepEqual(hostPorts({ port: 0, webPort: 9000 }), { irc: 0, tls: 0, web: 9000, tlsFollowsIrc: true });
    assert.throws(() => hostPorts({ port: 8080 - 30 }), /must differ/);
    assert.throws(() => hostPorts({ port: 65530 }), /TLS port would be 65560/);
  });

  it('the room: "Book club" is #book-club; characters a channel name may not hold become "-"; a "#name" keeps its case', () => {
    assert.equal(roomNameOf('Book club', 64), '#book-club');
    assert.equal(roomNameOf('  Ärger, Spaß: und   so  ', 64), '#ärger-spaß-und-so');
    assert.equal(roomNameOf('#Natter', 64), '#Natter');
    assert.equal(roomNameOf(',,,', 64), `#${DEFAULT_TITLE.toLowerCase()}`);
    assert.equal(roomNameOf('a very long name indeed', 10), '#a-very-lo');
    assert.equal(networkNameOf('Book club!'), 'Book-club');
    assert.equal(serverNameOf('MyBox'), 'mybox.local');
    assert.equal(serverNameOf('box.example.org'), 'box.example.org');
    assert.equal(serverNameOf('___'), 'natter.local');
  });

  it('LAN addresses: IPv4 first, then IPv6 without link-local ones (a URL cannot carry a zone id), never loopback', () => {
    assert.deepEqual(lanAddresses(interfaces), [
      { address: '192.168.1.20', family: 4 },
      { address: 'fd00::2', family: 6 },
    ]);
  });

  it('the banner names the room, each web URL, the QR code of the first, the IRC addresses, the fingerprint and the host', () => {
    const qr = qrCodeOf('http://192.168.1.20:8080/');
    assert.match(qr, /[█▀▄]/);
    const text = bannerText(
      {
        title: 'Book club',
        room: '#book-club',
        account: 'alice',
        passwordFile: '/data/host.json',
        addresses: lanAddresses(interfaces),
        ircPort: 6667,
        tlsPort: 6697,
        webPort: 8080,
        fingerprint: 'AB:CD',
        dataDir: '/data',
        signInUrl: 'http://localhost:8080/#token=x',
        advertised: true,
      },
      qr,
    );
    for (const expected of [
      '“Book club” (room #book-club)',
      '  http://192.168.1.20:8080/\n  http://[fd00::2]:8080/\n',
      `Scan to open http://192.168.1.20:8080/\n${qr.trimEnd()}`,
      '  192.168.1.20 port 6667, or port 6697 with TLS',
      '  fd00::2 port 6667, or port 6697 with TLS',
      '  AB:CD',
      'You are alice: server operator and founder of #book-club',
      '  http://localhost:8080/#token=x',
      'Advertised on this network as “Book club” (mDNS/DNS-SD _natter._tcp and _irc._tcp)',
    ]) {
      assert.ok(text.includes(expected), `the banner has ${JSON.stringify(expected)}:\n${text}`);
    }
    const alone = bannerText(
      { title: 'x', room: '#x', account: 'a', passwordFile: 'f', addresses: [], ircPort: 1, tlsPort: 2, webPort: 3, fingerprint: 'F', dataDir: 'd', signInUrl: undefined },
      undefined,
    );
    assert.match(alone, /no network address other devices can reach/);
    assert.doesNotMatch(alone, /Scan to open|token=|Advertised/, 'nor advertised (--no-advertise)');
  });

  it('a sign-in token works once, and not after it expired', () => {
    let now = 1_000_000;
    const tokens = new HostLoginTokens(() => now, 60_000);
    const token = tokens.issue();
    assert.match(token, /^[A-Za-z0-9_-]{22}$/, '128 random bits, base64url');
    assert.equal(tokens.redeem('not-the-token'), false);
    assert.equal(tokens.redeem(token), true);
    assert.equal(tokens.redeem(token), false, 'single use');
    const late = tokens.issue();
    now += 60_000;
    assert.equal(tokens.redeem(late), false, 'expired');
    assert.notEqual(tokens.issue(), tokens.issue());
  });

  it('only this machine may redeem a token: loopback or one of its own addresses', () => {
    assert.ok(isThisMachine('127.0.0.1', interfaces));
    assert.ok(isThisMachine('::ffff:127.0.0.1', interfaces));
    assert.ok(isThisMachine('::1', interfaces));
    assert.ok(isThisMachine('::ffff:192.168.1.20', interfaces));
    assert.ok(isThisMachine('FD00::2', interfaces));
    assert.equal(isThisMachine('192.168.1.21', interfaces), false);
    assert.equal(isThisMachine(undefined, interfaces), false);
  });

  it('the browser opens unless --no-open, CI, or (Linux) no display; with the platform’s opener', () => {
    assert.equal(mayOpenBrowser(undefined, { DISPLAY: ':0' }, 'linux'), true);
    assert.equal(mayOpenBrowser(false, { DISPLAY: ':0' }, 'linux'), false);
    assert.equal(mayOpenBrowser(undefined, { DISPLAY: ':0', CI: 'true' }, 'linux'), false);
    assert.equal(mayOpenBrowser(undefined, {}, 'linux'), false);
    assert.equal(mayOpenBrowser(undefined, { WAYLAND_DISPLAY: 'wayland-0' }, 'linux'), true);
    assert.equal(mayOpenBrowser(undefined, {}, 'darwin'), true);
    const url = 'http://localhost:8080/#token=abc_-1';
    assert.deepEqual(browserCommand(url, 'linux'), { command: 'xdg-open', args: [url] });
    assert.deepEqual(browserCommand(url, 'darwin'), { command: 'open', args: [url] });
    assert.deepEqual(browserCommand(url, 'win32'), { command: 'cmd', args: ['/c', 'start', '""', url] });
    assert.throws(() => browserCommand('http://x/&calc', 'win32'));
  });
});

function peerFingerprint(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ port, host: '127.0.0.1', rejectUnauthorized: false }, () => {
      resolve(socket.getPeerCertificate().fingerprint256);
      socket.end();
    });
    socket.once('error', reject);
  });
}

function hostLogin(port: number, token: string): Promise<Response> {
  return fetch(`http://127.0.0.1:${String(port)}/host-login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ token }) });
}

/**
 * A friend with a plain IRC client (NICK and USER, no JOIN): autojoin puts them in the host's room right after the
 * welcome, with its topic (the room's name) and NAMES. Resolves with the client once that has arrived.
 */
async function friendArrives(port: number, nick: string): Promise<TestClient> {
  const friend = await TestClient.connect(port);
  friend.nick = nick;
  friend.send(`NICK ${nick}`);
  friend.send(`USER ${nick} 0 * :${nick} test`);
  await friend.expect((m) => m.command === '376' || m.command === '422');
  const joined = await friend.expect('JOIN');
  assert.ok(joined.source?.startsWith(`${nick}!`) === true && joined.params[0] === '#book-club', `in the host’s room without sending JOIN: ${joined.raw}`);
  const topic = await friend.expect('332');
  assert.equal(topic.params[2], 'Book club', 'the room’s topic is its name');
  await friend.expect((m) => m.command === '366' && m.params[1] === '#book-club');
  return friend;
}

const unavailable = browserAvailable();

describe('natter host, the real command', { concurrency: 2 }, () => {
  it('prints the room, web URLs with a QR code, IRC addresses and the fingerprint of the TLS certificate it serves', { timeout: 60_000 }, async () => {
    const data = tempDir();
    const host = await startHost(['--data', data, '--name', 'Book club']);
    try {
      const { text, fingerprint, tlsPort, webPort } = host.banner;
      assert.match(text, /^Natter is hosting “Book club” \(room #book-club\)$/m);
      const lan = lanAddresses();
      if (lan[0] === undefined) {
        assert.match(text, /no network address other devices can reach/);
      } else {
        for (const address of lan) assert.ok(text.includes(`http://${address.family === 6 ? `[${address.address}]` : address.address}:${String(webPort)}/`), `a URL for ${address.address}`);
        assert.ok(text.includes(`Scan to open http://${lan[0].family === 6 ? `[${lan[0].address}]` : lan[0].address}:${String(webPort)}/\n${qrCodeOf(`http://${lan[0].family === 6 ? `[${lan[0].address}]` : lan[0].address}:${String(webPort)}/`).trimEnd()}`), 'the QR code of the first URL');
      }
      assert.equal(await peerFingerprint(tlsPort), fingerprint, 'the printed fingerprint is the served certificate’s');
      const health = await fetch(`http://127.0.0.1:${String(webPort)}/healthz`);
      assert.equal(health.status, 200);
      // The password file is the host user's alone.
      assert.equal(statSync(join(data, 'host.json')).mode & 0o777, 0o600);
      const friend = await friendArrives(host.banner.ircPort, 'early');
      friend.close();
      assert.equal(host.run.stderr, '', 'nothing on standard error at the default log level');
    } finally {
      assert.equal(await host.stop(), 0);
    }
  });

  it('a raw IRC client and the browser signed in by the one-time link chat in the host’s room; the host is its founder and a server operator; the link fails the second time', { skip: unavailable, timeout: 120_000 }, async () => {
    const host = await startHost(['--data', tempDir(), '--name', 'Book club']);
    const { account, signInUrl, ircPort, webPort } = host.banner;
    const browser = await launchBrowser();
    const friend = await friendArrives(ircPort, 'friend');
    try {

      const page = await browser.newPage();
      page.setDefaultTimeout(STEP_MS);
      await page.goto(signInUrl, { waitUntil: 'networkidle' });
      await page.getByRole('navigation', { name: 'Rooms and conversations' }).waitFor();
      assert.equal(new URL(page.url()).hash, '', 'the token is gone from the address bar');
      await page.getByRole('heading', { level: 1, name: '#book-club' }).waitFor();
      const log = page.getByRole('log', { name: 'Messages in #book-club' });
      await friend.expect((m) => m.command === 'JOIN' && m.source?.startsWith(`${account}!`) === true);

      await composerOf(page, '#book-club').fill('welcome to my room');
      await composerOf(page, '#book-club').press('Enter');
      const said = await friend.expect((m) => m.command === 'PRIVMSG' && m.params[1] === 'welcome to my room');
      assert.ok(said.source?.startsWith(`${account}!`), `from the host: ${said.raw}`);
      friend.send('PRIVMSG #book-club :thanks for hosting');
      await log.getByText('thanks for hosting').waitFor();

      friend.drain();
      friend.send('NAMES #book-club');
      const names = await friend.expect('353');
      assert.match(names.params[3] ?? '', new RegExp(`(^| )~${account}( |$)`), 'the host owns the room (founder)');
      friend.send(`WHOIS ${account}`);
      await friend.expect('313');

      const again = await browser.newPage();
      again.setDefaultTimeout(STEP_MS);
      await again.goto(signInUrl, { waitUntil: 'networkidle' });
      await again.getByRole('alert').filter({ hasText: 'already used or has expired' }).waitFor();
      assert.equal(new URL(again.url()).hash, '');
      assert.equal(await again.getByRole('navigation', { name: 'Rooms and conversations' }).count(), 0, 'not signed in');
      const refused = await hostLogin(webPort, signInUrl.split('#token=')[1] ?? '');
      assert.equal(refused.status, 403);
    } finally {
      friend.close();
      await browser.close();
      assert.equal(await host.stop(), 0);
    }
  });

  it('a second run reuses the data folder: the same certificate, host account, password and room', { timeout: 90_000 }, async () => {
    const data = tempDir();
    const first = await startHost(['--data', data, '--name', 'Book club']);
    const saved = readFileSync(join(data, 'host.json'), 'utf8');
    const { password } = JSON.parse(saved) as { password: string };
    assert.equal(await first.stop(), 0);

    // No --name: the room of the first run.
    const second = await startHost(['--data', data]);
    try {
      assert.equal(second.banner.fingerprint, first.banner.fingerprint);
      assert.equal(second.banner.account, first.banner.account);
      assert.match(second.banner.text, /“Book club” \(room #book-club\)/);
      assert.equal(readFileSync(join(data, 'host.json'), 'utf8'), saved);
      const login = await saslPlain(second.banner.ircPort, second.banner.account, second.banner.account, password);
      assert.ok(login.ok, 'the saved password logs in');
      login.client.send(`WHOIS ${second.banner.account}`);
      await login.client.expect('313');
      assert.ok(login.burst.some((m) => m.command === 'JOIN' && m.params[0] === '#book-club'), 'the host is in the room on logging in (autojoin)');
      login.client.send('NAMES #book-club');
      const names = await login.client.expect('353');
      assert.match(names.params[3] ?? '', new RegExp(`~${second.banner.account}`), 'still the founder');
      login.client.close();
      // A new run, a new link: the old one stays dead, the new one works once.
      assert.equal((await hostLogin(second.banner.webPort, first.banner.signInUrl.split('#token=')[1] ?? '')).status, 403);
      const fresh = await hostLogin(second.banner.webPort, second.banner.signInUrl.split('#token=')[1] ?? '');
      assert.equal(fresh.status, 200);
      assert.equal(fresh.headers.get('cache-control'), 'no-store');
      assert.deepEqual(await fresh.json(), { account: second.banner.account, password, room: '#book-club' });
    } finally {
      assert.equal(await second.stop(), 0);
    }
  });

  it('a busy port stops the start with one line naming it and a free one to try; exit 2, nothing left listening', { timeout: 60_000 }, async () => {
    const busy: Server = createServer();
    await new Promise<void>((resolve) => busy.listen({ host: '::', port: 0 }, resolve));
    const address = busy.address();
    const port = typeof address === 'object' && address !== null ? address.port : assert.fail('no port');
    try {
      for (const [flag, what] of [
        ['--port', 'IRC'],
        ['--web-port', 'the web client'],
      ] as const) {
        const run = runNatter(['host', '--port', '0', '--no-open', '--no-advertise', '--data', tempDir(), flag, String(port)]);
        assert.equal(await run.exited, 2, run.stderr);
        const refusal = match(run.stderr, new RegExp(`^natter: port ${String(port)} \\(${what}\\) is in use; try ${flag} (\\d+)\\n$`), `a refusal for ${flag}`);
        assert.ok(!run.stdout.includes('Natter is hosting'), 'no banner');
        // The suggestion is free.
        const suggested = Number(refusal[1]);
        const probe = createServer();
        await new Promise<void>((resolve, reject) => {
          probe.once('error', reject);
          probe.listen({ host: '::', port: suggested }, resolve);
        });
        await new Promise((resolve) => probe.close(resolve));
      }
    } finally {
      await new Promise((resolve) => busy.close(resolve));
    }
  });
});
