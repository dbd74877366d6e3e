/**
 * Trust on first use of TLS certificates: a server's fingerprint is new, then remembered, then matches; a
 * different one later is reported with what was remembered and when. The file is private to its owner, written
 * whole or not at all, and a broken one is named so the person can fix or delete it.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ConnectError } from '../src/tui/address.js';
import { KnownHosts, knownHostsPath } from '../src/tui/known-hosts.js';

const FIRST = `${'AB:'.repeat(31)}AB`;
const SECOND = `${'CD:'.repeat(31)}CD`;
const posixOnly = process.platform === 'win32' ? 'file modes are POSIX' : false;

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});
/** A known-hosts path inside a fresh temp folder, in a subfolder that does not exist yet. */
function tempPath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'natter-known-hosts-'));
  dirs.push(dir);
  return join(dir, 'natter', 'known-hosts.json');
}

function refusesWith(path: string, pattern: RegExp): void {
  assert.throws(
    () => KnownHosts.load(path),
    (error: unknown) => error instanceof ConnectError && error.message.includes(path) && pattern.test(error.message),
  );
}

describe('KnownHosts', () => {
  it('a missing file is an empty list: every server is new', () => {
    const hosts = KnownHosts.load(tempPath());
    assert.deepEqual(hosts.check('chat.example.org:6697', FIRST), { kind: 'new' });
  });

  it('new, then remembered, then a match, also after loading the file again', () => {
    const path = tempPath();
    const hosts = KnownHosts.load(path);
    assert.deepEqual(hosts.check('chat.example.org:6697', FIRST), { kind: 'new' });
    hosts.remember('chat.example.org:6697', FIRST);
    assert.deepEqual(hosts.check('chat.example.org:6697', FIRST), { kind: 'match' });
    assert.deepEqual(KnownHosts.load(path).check('chat.example.org:6697', FIRST), { kind: 'match' });
  });

  it('another fingerprint is "changed", with the remembered one and when it was remembered', () => {
    const path = tempPath();
    const before = Date.now();
    KnownHosts.load(path).remember('chat.example.org:6697', FIRST);
    const check = KnownHosts.load(path).check('chat.example.org:6697', SECOND);
    if (check.kind !== 'changed') assert.fail(`expected "changed", got ${JSON.stringify(check)}`);
    assert.equal(check.remembered, FIRST);
    const since = Date.parse(check.since);
    assert.ok(since >= before - 1000 && since <= Date.now(), check.since);
    assert.equal(new Date(since).toISOString(), check.since);
  });

  it('fingerprints are compared ignoring case and colons; keys ignoring case', () => {
    const hosts = KnownHosts.load(tempPath());
    hosts.remember('Chat.Example.org:6697', FIRST);
    assert.deepEqual(hosts.check('chat.example.org:6697', FIRST.replace(/:/g, '').toLowerCase()), { kind: 'match' });
  });

  it('servers are told apart by host and port', () => {
    const hosts = KnownHosts.load(tempPath());
    hosts.remember('chat.example.org:6697', FIRST);
    assert.deepEqual(hosts.check('chat.example.org:7000', FIRST), { kind: 'new' });
    assert.deepEqual(hosts.check('other.example.org:6697', FIRST), { kind: 'new' });
  });

  it('remembering again replaces the old fingerprint', () => {
    const path = tempPath();
    const hosts = KnownHosts.load(path);
    hosts.remember('chat.example.org:6697', FIRST);
    hosts.remember('chat.example.org:6697', SECOND);
    assert.deepEqual(KnownHosts.load(path).check('chat.example.org:6697', SECOND), { kind: 'match' });
  });

  it('forget removes a server and says whether there was one', () => {
    const path = tempPath();
    const hosts = KnownHosts.load(path);
    hosts.remember('chat.example.org:6697', FIRST);
    assert.equal(hosts.forget('chat.example.org:6697'), true);
    assert.equal(hosts.forget('chat.example.org:6697'), false);
    assert.deepEqual(KnownHosts.load(path).check('chat.example.org:6697', FIRST), { kind: 'new' });
  });

  it('another process remembering a server meanwhile is not undone', () => {
    const path = tempPath();
    const mine = KnownHosts.load(path);
    KnownHosts.load(path).remember('other.example.org:6697', SECOND);
    mine.remember('chat.example.org:6697', FIRST);
    const reloaded = KnownHosts.load(path);
    assert.deepEqual(reloaded.check('other.example.org:6697', SECOND), { kind: 'match' });
    assert.deepEqual(reloaded.check('chat.example.org:6697', FIRST), { kind: 'match' });
  });

  it('the file is 0600 in a 0700 folder, and no temp file is left behind', { skip: posixOnly }, () => {
    const path = tempPath();
    KnownHosts.load(path).remember('chat.example.org:6697', FIRST);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(statSync(join(path, '..')).mode & 0o777, 0o700);
    assert.deepEqual(readdirSync(join(path, '..')), ['known-hosts.json']);
  });

  it('the file is readable JSON a person can edit', () => {
    const path = tempPath();
    KnownHosts.load(path).remember('chat.example.org:6697', FIRST);
    const saved: unknown = JSON.parse(readFileSync(path, 'utf8'));
    assert.deepEqual(Object.keys((saved as { hosts: object }).hosts), ['chat.example.org:6697']);
  });

  it('malformed JSON is refused, naming the file and saying to fix or delete it', () => {
    const path = tempPath();
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, '{"version": 1, "hosts": {');
    refusesWith(path, /not valid JSON.*fix it or delete it/);
  });

  it('JSON of the wrong shape is refused, naming the file and the bad entry', () => {
    const path = tempPath();
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, JSON.stringify({ version: 1, hosts: { 'chat.example.org:6697': { fingerprint: 'nope', since: '2024-01-01T00:00:00.000Z' } } }));
    refusesWith(path, /hosts\.chat\.example\.org:6697\.fingerprint.*fix it or delete it/);
  });

  it('an unreadable file is refused, naming the file', () => {
    const path = tempPath();
    mkdirSync(path, { recursive: true }); // a folder where the file should be: reading it fails (EISDIR)
    refusesWith(path, /cannot read/);
  });
});

describe('knownHostsPath', () => {
  it('Linux: $XDG_CONFIG_HOME/natter/known-hosts.json', () => {
    assert.equal(knownHostsPath({ XDG_CONFIG_HOME: '/xdg/config' }, 'linux', '/home/ada'), '/xdg/config/natter/known-hosts.json');
  });
  it('Linux without XDG_CONFIG_HOME (or an empty or relative one): ~/.config/natter/known-hosts.json', () => {
    for (const env of [{}, { XDG_CONFIG_HOME: '' }, { XDG_CONFIG_HOME: 'relative/dir' }]) {
      assert.equal(knownHostsPath(env, 'linux', '/home/ada'), '/home/ada/.config/natter/known-hosts.json');
    }
  });
  it('other Unixes follow XDG too', () => {
    assert.equal(knownHostsPath({}, 'freebsd', '/home/ada'), '/home/ada/.config/natter/known-hosts.json');
  });
  it('macOS: ~/Library/Application Support/Natter/known-hosts.json, beside the data folder', () => {
    assert.equal(knownHostsPath({ XDG_CONFIG_HOME: '/ignored' }, 'darwin', '/Users/ada'), '/Users/ada/Library/Application Support/Natter/known-hosts.json');
  });
  it('Windows: %APPDATA%\\Natter\\known-hosts.json', () => {
    assert.equal(knownHostsPath({ APPDATA: 'C:\\Users\\ada\\AppData\\Roaming' }, 'win32', 'C:\\Users\\ada'), 'C:\\Users\\ada\\AppData\\Roaming\\Natter\\known-hosts.json');
  });
  it('Windows without APPDATA: the roaming folder under the home folder', () => {
    assert.equal(knownHostsPath({}, 'win32', 'C:\\Users\\ada'), 'C:\\Users\\ada\\AppData\\Roaming\\Natter\\known-hosts.json');
  });
});
