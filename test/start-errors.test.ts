/**
 * A store or certificate that cannot be used stops `natter serve` at start with one clear line and exit code 2,
 * never a silent fresh store in its place; a damaged file is left exactly as it was.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadOrCreateSelfSigned } from '../src/net/certificates.js';
import { runNatter } from './helpers/process.js';
import type { NatterOptions, NatterRun } from './helpers/process.js';

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'natter-start-'));
  dirs.push(dir);
  return dir;
}

/** Runs `natter serve ARGS` and checks it stopped at start: exit 2, one `natter: ...` line, nothing listened. */
async function refusedStart(args: readonly string[], options: NatterOptions = {}): Promise<string> {
  const run: NatterRun = runNatter(['serve', '--listen', '127.0.0.1:0', ...args], options);
  const code = await run.exited;
  assert.equal(code, 2, `exit code 2; stderr: ${run.stderr}`);
  assert.match(run.stderr, /^natter: [^\n]+\n$/, 'one line that starts with "natter: "');
  assert.doesNotMatch(run.stderr, /\bat .*\.(ts|js):\d+/, 'a message, not a stack trace');
  assert.ok(!run.stdout.includes('listening for IRC'), 'nothing was listening');
  return run.stderr;
}

describe('natter serve refuses to start on a store it cannot use', { concurrency: 3 }, () => {
  it('a natter.db that is not a database: exit 2 naming the file, and the file is left untouched (no fresh store, no -wal)', async () => {
    const dir = tempDir();
    const db = join(dir, 'natter.db');
    writeFileSync(db, 'These are not the bytes of a SQLite database, but someone may still want them back.\n'.repeat(100));
    const before = createHash('sha256').update(readFileSync(db)).digest('hex');
    const message = await refusedStart(['--data', dir]);
    assert.ok(message.includes(db), message);
    assert.match(message, /damaged or not a Natter database/);
    assert.equal(createHash('sha256').update(readFileSync(db)).digest('hex'), before);
    assert.deepEqual(readdirSync(dir), ['natter.db']);
  });

  it('a data folder that is a file: exit 2, saying so', async () => {
    const file = join(tempDir(), 'data');
    writeFileSync(file, 'not a folder');
    const message = await refusedStart(['--data', file]);
    assert.match(message, /the data folder .*data is a file, not a folder/);
    assert.equal(readFileSync(file, 'utf8'), 'not a folder');
  });

  it('a data folder this user may not read and write: exit 2, saying so', async () => {
    const parent = tempDir();
    chmodSync(parent, 0o755);
    const dir = join(parent, 'data');
    mkdirSync(dir, { mode: 0o700 });
    // root may read anything, so as root the server runs as nobody, who does not own the folder.
    const asRoot = process.getuid?.() === 0;
    if (!asRoot) chmodSync(dir, 0o000);
    try {
      const message = await refusedStart(['--data', dir], asRoot ? { uid: 65534, gid: 65534 } : {});
      assert.match(message, /the data folder .*data is not readable and writable by this user \(EACCES\)/);
    } finally {
      chmodSync(dir, 0o700);
    }
    assert.equal(existsSync(join(dir, 'natter.db')), false);
  });

  it('an unreachable PostgreSQL (--database on port 1): exit 2 naming it, with no data folder used instead', async () => {
    const data = tempDir();
    const message = await refusedStart(['--data', data, '--database', 'postgres://natter:hunter2@127.0.0.1:1/natter']);
    assert.match(message, /postgres:\/\/natter:\*\*\*@127\.0\.0\.1:1\/natter cannot be reached: .*ECONNREFUSED/);
    assert.ok(!message.includes('hunter2'), 'the password is not shown');
    assert.deepEqual(readdirSync(data), []);
  });

  it('TLS: --tls-cert without --tls-key, or a key that does not belong to the certificate: exit 2', async () => {
    const dir = tempDir();
    const [a, b] = [join(dir, 'a'), join(dir, 'b')];
    await loadOrCreateSelfSigned(a, ['a.example.org']);
    await loadOrCreateSelfSigned(b, ['b.example.org']);
    const [half, mismatched] = await Promise.all([
      refusedStart(['--data', dir, '--listen-tls', '127.0.0.1:0', '--tls-cert', join(a, 'tls', 'cert.pem')]),
      refusedStart(['--data', dir, '--listen-tls', '127.0.0.1:0', '--tls-cert', join(a, 'tls', 'cert.pem'), '--tls-key', join(b, 'tls', 'key.pem')]),
    ]);
    assert.match(half, /give both --tls-cert and --tls-key/);
    assert.match(mismatched, /is not usable: the key does not belong to the certificate/);
  });
});
