/** The `natter` command line, run from source as a child process: serve, its flags, signals, config errors, hash-password. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { authenticator } from '../src/auth/authenticator.js';
import { TestClient } from './helpers/client.js';
import type { Received } from './helpers/client.js';
import { runNatter as natter, serveNatter } from './helpers/process.js';
import type { NatterRun } from './helpers/process.js';

/** Starts `natter serve` with `args` and resolves once it listens, with the bound port. */
async function serve(args: readonly string[]): Promise<{ run: NatterRun; port: number }> {
  const { run, port } = await serveNatter(args);
  return { run, port };
}

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'natter-cli-'));
}

// Each child compiles the sources with tsx (about a second of CPU): a few at a time, with generous timeouts.
describe('natter CLI', { concurrency: 3 }, () => {
  const dirs: string[] = [];
  after(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });
  const configFile = (content: string): string => {
    const dir = tempDir();
    dirs.push(dir);
    const path = join(dir, 'natter.json');
    writeFileSync(path, content);
    return path;
  };

  it('serve: --server-name shows in 001-004, --network-name in ISUPPORT NETWORK; SIGTERM closes clients with ERROR and exits 0', async () => {
    const { run, port } = await serve(['--server-name', 'irc.example.org', '--network-name', 'ExampleNet']);
    const client = await TestClient.connect(port);
    client.send('NICK cli');
    client.send('USER cli 0 * :CLI test');
    const burst = await client.roundtrip();
    const byCode = (code: string): Received => burst.find((m) => m.command === code) ?? assert.fail(`no ${code}`);
    for (const code of ['001', '002', '003', '004']) assert.equal(byCode(code).source, 'irc.example.org', `${code} comes from the server name`);
    assert.match(byCode('001').params[1] ?? '', /ExampleNet/);
    assert.match(byCode('002').params[1] ?? '', /irc\.example\.org/);
    assert.equal(byCode('004').params[1], 'irc.example.org');
    assert.ok(burst.some((m) => m.command === '005' && m.params.includes('NETWORK=ExampleNet')));
    run.child.kill('SIGTERM');
    const error = await client.expect('ERROR', 5000);
    assert.match(error.params[0] ?? '', /^Closing Link: .*\(Server shutting down\)$/);
    await client.closed;
    assert.equal(await run.exited, 0);
  });

  it('serve: SIGINT also closes clients with ERROR :Closing Link and exits 0', async () => {
    const { run, port } = await serve([]);
    const client = await TestClient.register(port, 'interrupted');
    run.child.kill('SIGINT');
    const error = await client.expect('ERROR', 5000);
    assert.match(error.params[0] ?? '', /^Closing Link: /);
    await client.closed;
    assert.equal(await run.exited, 0);
  });

  it('serve --config: SIGHUP reloads the file (new MOTD), and a broken file keeps the old settings and the server running', async () => {
    const path = configFile(JSON.stringify({ motd: ['first text'] }));
    const { run, port } = await serve(['--config', path]);
    const client = await TestClient.register(port, 'hupper');
    const motd = async (): Promise<string[]> => {
      client.send('MOTD');
      return (await client.roundtrip()).filter((m) => m.command === '372').map((m) => m.params[1] ?? '');
    };
    assert.deepEqual(await motd(), ['- first text']);
    writeFileSync(path, JSON.stringify({ motd: ['second text'] }));
    run.child.kill('SIGHUP');
    await run.logLine('configuration reloaded');
    assert.deepEqual(await motd(), ['- second text']);
    writeFileSync(path, '{ "motd": ');
    run.child.kill('SIGHUP');
    const refused = await run.logLine('configuration reload refused; keeping the old one');
    assert.match(String(refused['reason']), /not valid JSON/);
    assert.deepEqual(await motd(), ['- second text']);
    run.child.kill('SIGTERM');
    assert.equal(await run.exited, 0);
    client.close();
  });

  it('serve --no-history: messages flow, none is kept, and CHATHISTORY says history is off (also over a config file that turns it on)', async () => {
    const config = configFile(JSON.stringify({ history: { enabled: true, maxPerQuery: 10 } }));
    const { run, port } = await serve(['--no-history', '--config', config]);
    const client = await TestClient.register(port, 'forgetful', { caps: ['message-tags', 'echo-message'] });
    client.send('JOIN #gone');
    await client.expect('366');
    client.send('PRIVMSG #gone :not kept');
    await client.expect('PRIVMSG');
    client.send('CHATHISTORY LATEST #gone * 10');
    const fail = await client.expect('FAIL');
    assert.deepEqual(fail.params.slice(0, 2), ['CHATHISTORY', 'MESSAGE_ERROR']);
    const tokens = (await (async () => {
      client.send('VERSION');
      return client.roundtrip();
    })()).flatMap((m) => (m.command === '005' ? m.params : []));
    assert.ok(!tokens.some((token) => token.startsWith('CHATHISTORY')), 'no CHATHISTORY token without history');
    run.child.kill('SIGTERM');
    assert.equal(await run.exited, 0);
  });

  it('--config with an unknown key exits non-zero with a message naming the key', async () => {
    const run = natter(['serve', '--listen', '127.0.0.1:0', '--config', configFile(JSON.stringify({ limits: { flod: { enabled: false } } }))]);
    assert.notEqual(await run.exited, 0);
    assert.match(run.stderr, /limits\.flod/);
    assert.doesNotMatch(run.stderr, /at .*\.ts:\d+/, 'a message, not a stack trace');
  });

  it('--config with a wrong value exits non-zero naming the key', async () => {
    const run = natter(['serve', '--listen', '127.0.0.1:0', '--config', configFile(JSON.stringify({ limits: { nickLength: 3 } }))]);
    assert.notEqual(await run.exited, 0);
    assert.match(run.stderr, /limits\.nickLength/);
  });

  it('--config with invalid JSON, or a file that does not exist, is a clear error', async () => {
    const broken = natter(['serve', '--listen', '127.0.0.1:0', '--config', configFile('{ "motd": [ ')]);
    assert.notEqual(await broken.exited, 0);
    assert.match(broken.stderr, /natter\.json: not valid JSON/);
    const missing = natter(['serve', '--listen', '127.0.0.1:0', '--config', '/nonexistent/natter.json']);
    assert.notEqual(await missing.exited, 0);
    assert.match(missing.stderr, /\/nonexistent\/natter\.json: cannot be read/);
  });

  it('--listen that is not HOST:PORT, or a bad --server-name, is refused naming it', async () => {
    const run = natter(['serve', '--listen', 'nowhere', '--server-name', 'nodot']);
    assert.notEqual(await run.exited, 0);
    assert.match(run.stderr, /listen/);
    assert.match(run.stderr, /serverName/);
  });

  it('--log-level with a value that is not a level is refused', async () => {
    const run = natter(['serve', '--listen', '127.0.0.1:0', '--log-level', 'loud']);
    assert.notEqual(await run.exited, 0);
    assert.match(run.stderr, /log-level/);
    assert.match(run.stderr, /loud/);
  });

  it('hash-password prints an argon2id hash of the password read on standard input', async () => {
    const run = natter(['hash-password'], { input: 'open sesame\n' });
    assert.equal(await run.exited, 0);
    const hash = run.stdout.trim();
    assert.match(hash, /^\$argon2id\$/);
    assert.ok(await authenticator.verifyPassword(hash, 'open sesame'), 'the trailing newline is not part of the password');
    assert.ok(!(await authenticator.verifyPassword(hash, 'open sesame\n')));
    const empty = natter(['hash-password'], { input: '' });
    assert.notEqual(await empty.exited, 0);
    assert.match(empty.stderr, /no password/);
  });
});
