/**
 * `natter doctor` (issue 10), the real command as a child process: a data folder made by a real server run is all ✓
 * and exit 0, and doctor leaves it exactly as it was; while the server runs, its ports are "in use by a running
 * Natter"; a page of garbage in a table's b-tree is ✗ naming the store, exit 1; a config with an unknown key is ✗
 * naming the key; a port another program holds is ✗ saying which and that it is in use; an expired or mismatched
 * certificate is ✗, one that expires soon only ⚠ (exit 0); PostgreSQL is reachable with its schema version; Redis
 * in cluster mode answers or not. Under CI=true the PostgreSQL and Redis tests run, never skip.
 */
import assert from 'node:assert/strict';
import { chmodSync, closeSync, cpSync, existsSync, mkdtempSync, openSync, readdirSync, rmSync, statfsSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo, Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { generate } from 'selfsigned';
import { LOW_DISK_BYTES, LOW_DISK_FRACTION, openSnapshot } from '../src/cli/doctor.js';
import { latestMigration } from '../src/store/migrations.js';
import { postgresUrlWithSchema } from './helpers/durability.js';
import { POSTGRES_URL, createSchema, dropSchema, freshSchemaName, postgresAvailable } from './helpers/postgres.js';
import { runNatter, serveNatter } from './helpers/process.js';
import { REDIS_URL, freshNamespace, redisAvailable } from './helpers/redis.js';

// Each throws under CI=true when its server is missing: those tests must run there.
const noPostgres = await postgresAvailable();
const noRedis = await redisAvailable();

interface Report {
  readonly version: string;
  readonly ok: boolean;
  readonly summary: { ok: number; warnings: number; problems: number };
  readonly checks: ReadonlyArray<{ status: 'ok' | 'warn' | 'fail'; title: string; detail: string; facts?: Record<string, unknown> }>;
}

interface Doctored {
  readonly code: number | string;
  readonly stdout: string;
  readonly stderr: string;
  /** The check lines: "✓ title: detail". */
  readonly lines: string[];
  /** The line of the check titled `title`. */
  line(title: string): string;
}

async function doctor(args: readonly string[]): Promise<Doctored> {
  const run = runNatter(['doctor', ...args]);
  const code = await run.exited;
  const lines = run.stdout.split('\n').filter((text) => /^[✓⚠✗] /.test(text));
  return {
    code,
    stdout: run.stdout,
    stderr: run.stderr,
    lines,
    line(title) {
      return lines.find((text) => text.slice(2).startsWith(`${title}:`)) ?? assert.fail(`no "${title}" line in:\n${run.stdout}\n${run.stderr}`);
    },
  };
}

/** Names, sizes and modification times of everything under `dir`: what "doctor changed nothing" compares. */
function listing(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .sort()
    .map((name) => {
      const stats = statSync(join(dir, name));
      return `${name} ${String(stats.size)} ${String(stats.mtimeMs)} ${(stats.mode & 0o7777).toString(8)}`;
    });
}

/** Whether this machine itself is short of space where the tests write (the disk check then warns, rightly). */
function diskIsLow(dir: string): boolean {
  const stats = statfsSync(dir);
  const free = stats.bavail * stats.bsize;
  return free < LOW_DISK_BYTES || free < LOW_DISK_FRACTION * stats.blocks * stats.bsize;
}

async function certificate(notBefore: Date, notAfter: Date): Promise<{ cert: string; key: string }> {
  const pems = await generate([{ name: 'commonName', value: 'doctor.test' }], { keyType: 'ec', curve: 'P-256', algorithm: 'sha256', notBeforeDate: notBefore, notAfterDate: notAfter });
  return { cert: pems.cert, key: pems.private };
}

function listen(): Promise<Server> {
  const server = createServer((socket) => {
    // Holds the port and answers nothing, like a program that is not Natter.
    socket.on('error', () => undefined);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve(server);
    });
  });
}

const DAY_MS = 24 * 3600 * 1000;

// Each child compiles the sources with tsx (about a second of CPU): a few at a time, with generous timeouts.
describe('natter doctor', { concurrency: 3, timeout: 300_000 }, () => {
  const dirs: string[] = [];
  const tempDir = (): string => {
    const dir = mkdtempSync(join(tmpdir(), 'natter-doctor-test-'));
    dirs.push(dir);
    return dir;
  };
  const file = (name: string, content: string): string => {
    const path = join(tempDir(), name);
    writeFileSync(path, content);
    return path;
  };
  after(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  /** A data folder made by a real run of natter serve with TLS and HTTP, stopped; and a config with its ports. */
  let healthy = '';
  let healthyConfig = '';
  before(async () => {
    healthy = tempDir();
    const server = await serveNatter(['--data', healthy, '--listen-tls', '127.0.0.1:0', '--http', '127.0.0.1:0']);
    const http = String((await server.run.logLine('listening for HTTP and IRC over WebSocket'))['address']);
    assert.equal(await server.stop(), 0);
    assert.ok(existsSync(join(healthy, 'natter.db')) && !existsSync(join(healthy, 'natter.db-wal')), 'a clean stop leaves the database without its WAL');
    healthyConfig = file('natter.json', JSON.stringify({ listen: [`127.0.0.1:${String(server.port)}`], tls: { listen: [`127.0.0.1:${String(server.tlsPort)}`] }, http: { listen: [http] } }));
  });

  it('a data folder made by a real server run: every check ✓, exit 0, and the folder is left exactly as it was', async () => {
    const before = listing(healthy);
    const report = await doctor(['--config', healthyConfig, '--data', healthy]);
    assert.equal(report.code, 0, report.stdout + report.stderr);
    const low = diskIsLow(healthy);
    for (const text of report.lines) assert.ok(text.startsWith('✓') || (low && text.startsWith('⚠ disk space')), `not ✓: ${text}`);
    assert.match(report.line('store'), /natter\.db .*read from a copy/);
    assert.match(report.line('store integrity'), /quick_check and integrity_check: ok/);
    assert.match(report.line('store schema'), new RegExp(`up to date: ${latestMigration('sqlite')}`));
    assert.match(report.line('store contents'), /0 accounts, 0 registered rooms, 0 messages/);
    assert.match(report.line('TLS certificate'), /tls\/cert\.pem \(self-signed\): the key matches, valid until .*SHA-256 ([0-9A-F]{2}:){31}[0-9A-F]{2}/);
    assert.equal(report.lines.filter((text) => /^✓ port 127\.0\.0\.1:\d+ \((IRC|IRC over TLS|HTTP)\): port \d+ is free/.test(text)).length, 3);
    assert.match(report.stdout, /\d+ checks: .*0 problems; nothing is wrong/);

    const json = await doctor(['--config', healthyConfig, '--data', healthy, '--json']);
    assert.equal(json.code, 0);
    const parsed = JSON.parse(json.stdout) as Report;
    assert.equal(parsed.ok, true);
    assert.equal(parsed.summary.problems, 0);
    const schema = parsed.checks.find((check) => check.title === 'store schema');
    assert.equal(schema?.facts?.['version'], latestMigration('sqlite'));
    assert.match(String(parsed.checks.find((check) => check.title === 'TLS certificate')?.facts?.['fingerprint']), /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);

    assert.deepEqual(listing(healthy), before, 'doctor created, changed or removed nothing in the data folder');
  });

  it('while the server runs: its ports are "in use by a running Natter", the store is read beside its WAL, exit 0', async () => {
    const data = tempDir();
    const server = await serveNatter(['--data', data, '--listen-tls', '127.0.0.1:0', '--http', '127.0.0.1:0']);
    try {
      const http = String((await server.run.logLine('listening for HTTP and IRC over WebSocket'))['address']);
      const config = file('natter.json', JSON.stringify({ listen: [`127.0.0.1:${String(server.port)}`], tls: { listen: [`127.0.0.1:${String(server.tlsPort)}`] }, http: { listen: [http] } }));
      const report = await doctor(['--config', config, '--data', data]);
      assert.equal(report.code, 0, report.stdout + report.stderr);
      assert.match(report.line(`port 127.0.0.1:${String(server.port)} (IRC)`), /^✓ .*in use by a running Natter \(server natter\.local\)/);
      assert.match(report.line(`port 127.0.0.1:${String(server.tlsPort)} (IRC over TLS)`), /^✓ .*in use by a running Natter/);
      assert.match(report.line(`port ${http} (HTTP)`), /^✓ .*in use by a running Natter \(\/healthz: ok/);
      assert.match(report.line('store'), /^✓ .*read-only beside its WAL/);
      assert.match(report.line('store integrity'), /^✓ /);
    } finally {
      await server.stop();
    }
  });

  it('a page of garbage in a table\'s b-tree: ✗ naming the store, exit 1', async () => {
    const data = tempDir();
    cpSync(healthy, data, { recursive: true });
    const path = join(data, 'natter.db');
    const db = new BetterSqlite3(path);
    const root = (db.prepare("SELECT rootpage FROM sqlite_master WHERE name = 'accounts'").get() as { rootpage: number }).rootpage;
    const pageSize = db.pragma('page_size', { simple: true }) as number;
    db.close();
    assert.ok(root > 1 && !existsSync(`${path}-wal`));
    // 0xFF is no b-tree page type: the table's root page is unreadable.
    const fd = openSync(path, 'r+');
    writeSync(fd, Buffer.alloc(pageSize, 0xff), 0, pageSize, (root - 1) * pageSize);
    closeSync(fd);

    const report = await doctor(['--data', data]);
    assert.equal(report.code, 1, report.stdout + report.stderr);
    assert.match(report.line('store integrity'), new RegExp(`^✗ store integrity: ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is damaged`));
    assert.match(report.stdout, /something is wrong/);
  });

  it('secrets every user can read: the TLS private key is ✗, the database alone ⚠', async () => {
    const exposed = tempDir();
    cpSync(healthy, exposed, { recursive: true });
    chmodSync(exposed, 0o755);
    chmodSync(join(exposed, 'tls'), 0o755);
    chmodSync(join(exposed, 'tls', 'key.pem'), 0o644);
    chmodSync(join(exposed, 'natter.db'), 0o644);
    const dbOnly = tempDir();
    cpSync(healthy, dbOnly, { recursive: true });
    chmodSync(dbOnly, 0o755);
    chmodSync(join(dbOnly, 'natter.db'), 0o644);
    const [key, db] = await Promise.all([doctor(['--data', exposed]), doctor(['--data', dbOnly])]);
    assert.equal(key.code, 1);
    assert.match(key.line('permissions'), /^✗ permissions: .*tls\/key\.pem can be read by every user of this machine/);
    assert.equal(db.code, 0, db.stdout);
    assert.match(db.line('permissions'), /^⚠ permissions: .*natter\.db can be read by every user of this machine .*chmod 700/);
  });

  it('a config with an unknown key: ✗ naming the key, as natter serve would, exit 1', async () => {
    const report = await doctor(['--config', file('natter.json', JSON.stringify({ limits: { flod: { enabled: false } } }))]);
    assert.equal(report.code, 1);
    assert.match(report.line('config'), /^✗ config: config file .*natter\.json: unknown setting "limits\.flod"/);
    assert.match(report.stdout, /fix the configuration/);
    const json = await doctor(['--config', file('natter.json', JSON.stringify({ limits: { nickLength: 3 } })), '--json']);
    assert.equal(json.code, 1);
    const parsed = JSON.parse(json.stdout) as Report;
    assert.equal(parsed.ok, false);
    assert.match(parsed.checks[0]?.detail ?? '', /"limits\.nickLength"/);
  });

  it('a port another program holds: ✗ saying which port and that it is in use', async () => {
    const holder = await listen();
    try {
      const { port } = holder.address() as AddressInfo;
      const report = await doctor(['--data', tempDir(), '--config', file('natter.json', JSON.stringify({ listen: [`127.0.0.1:${String(port)}`] }))]);
      assert.equal(report.code, 1);
      assert.match(report.line(`port 127.0.0.1:${String(port)} (IRC)`), new RegExp(`^✗ .*port ${String(port)} is in use by another program .*"listen"`));
    } finally {
      holder.close();
    }
  });

  it('an expired certificate, and a key of another certificate: ✗ each, with the fingerprint', async () => {
    const now = Date.now();
    const expired = await certificate(new Date(now - 400 * DAY_MS), new Date(now - 30 * DAY_MS));
    const other = await certificate(new Date(now - DAY_MS), new Date(now + 300 * DAY_MS));
    const tlsConfig = (cert: string, key: string): string =>
      file('natter.json', JSON.stringify({ tls: { listen: ['127.0.0.1:0'], cert: file('cert.pem', cert), key: file('key.pem', key) } }));
    const [old, mismatched] = await Promise.all([
      doctor(['--data', tempDir(), '--config', tlsConfig(expired.cert, expired.key)]),
      doctor(['--data', tempDir(), '--config', tlsConfig(expired.cert, other.key)]),
    ]);
    assert.equal(old.code, 1);
    assert.match(old.line('TLS certificate'), /^✗ .*cert\.pem: it expired on \d{4}-\d\d-\d\d.*SHA-256 ([0-9A-F]{2}:){31}/);
    assert.equal(mismatched.code, 1);
    assert.match(mismatched.line('TLS certificate'), /^✗ .*key\.pem does not belong to the certificate/);
  });

  it('warnings alone exit 0: a certificate that expires within 14 days is ⚠', async () => {
    const now = Date.now();
    const soon = await certificate(new Date(now - 80 * DAY_MS), new Date(now + 5 * DAY_MS));
    const config = file('natter.json', JSON.stringify({ tls: { listen: ['127.0.0.1:0'], cert: file('cert.pem', soon.cert), key: file('key.pem', soon.key) } }));
    const report = await doctor(['--data', tempDir(), '--config', config]);
    assert.equal(report.code, 0, report.stdout);
    assert.match(report.line('TLS certificate'), /^⚠ .*it expires in [45] days/);
    assert.match(report.stdout, /nothing is wrong; look at the warnings/);
  });

  it('a flag with a bad value is refused naming the flag (exit 2)', async () => {
    const report = await doctor(['--database', 'mysql://localhost/natter']);
    assert.equal(report.code, 2);
    assert.match(report.stderr, /--database: expected a PostgreSQL URL/);
  });

  it('the copy of a stopped server\'s database can also be a temporary file (a big database): it is removed after', () => {
    const before = readdirSync(tmpdir()).filter((name) => name.startsWith('natter-doctor-')).length;
    const snapshot = openSnapshot(join(healthy, 'natter.db'), 0);
    assert.match(snapshot.how, /a copy in /);
    assert.equal(snapshot.db.pragma('quick_check', { simple: true }), 'ok');
    snapshot.close();
    assert.equal(readdirSync(tmpdir()).filter((name) => name.startsWith('natter-doctor-')).length, before);
    assert.ok(!existsSync(join(healthy, 'natter.db-wal')) && !existsSync(join(healthy, 'natter.db-shm')));
  });

  describe('PostgreSQL', { skip: noPostgres ?? false }, () => {
    const schemas: string[] = [];
    after(async () => {
      for (const schema of schemas) await dropSchema(schema);
    });
    const freshSchema = async (): Promise<string> => {
      const schema = freshSchemaName('natter_doctor');
      schemas.push(schema);
      await createSchema(schema);
      return postgresUrlWithSchema(schema);
    };

    it('after a server run: reachable, schema up to date, counts; exit 0', async () => {
      const url = await freshSchema();
      const data = tempDir();
      const server = await serveNatter(['--database', url, '--data', data]);
      assert.equal(await server.stop(), 0);
      const report = await doctor(['--database', url, '--data', data]);
      assert.equal(report.code, 0, report.stdout + report.stderr);
      assert.match(report.line('store'), /^✓ store: PostgreSQL [\d.]+.* at postgres:\/\/.*: reachable, database test, schema natter_doctor_/);
      assert.match(report.line('store schema'), new RegExp(`^✓ store schema: up to date: ${latestMigration('postgres')}`));
      assert.match(report.line('store contents'), /^✓ store contents: 0 accounts/);
    });

    it('an empty schema is ⚠ (natter serve creates the tables); an unreachable server is ✗', async () => {
      const [empty, unreachable] = await Promise.all([
        doctor(['--database', await freshSchema(), '--data', tempDir(), '--json']),
        doctor(['--database', 'postgres://postgres@127.0.0.1:1/test', '--data', tempDir()]),
      ]);
      assert.equal(empty.code, 0, empty.stdout + empty.stderr);
      const schema = (JSON.parse(empty.stdout) as Report).checks.find((check) => check.title === 'store schema');
      assert.equal(schema?.status, 'warn');
      assert.match(schema.detail, /empty/);
      assert.equal(unreachable.code, 1);
      assert.match(unreachable.line('store'), /^✗ store: PostgreSQL postgres:\/\/postgres@127\.0\.0\.1:1\/test cannot be reached/);
    });
  });

  describe('cluster mode', { skip: noRedis ?? noPostgres ?? false }, () => {
    it('Redis reachable lists its live nodes (none here); Redis out of reach is ✗', async () => {
      const config = (redis: string): string =>
        file('natter.json', JSON.stringify({ database: POSTGRES_URL, cluster: { redis, namespace: freshNamespace('natter_doctor') } }));
      const [reachable, unreachable] = await Promise.all([
        doctor(['--data', tempDir(), '--config', config(REDIS_URL)]),
        doctor(['--data', tempDir(), '--config', config('redis://127.0.0.1:1')]),
      ]);
      assert.match(reachable.line('cluster'), /^✓ cluster: Redis at redis:\/\/.* answers; namespace natter_doctor_\w+: 0 live nodes/);
      assert.equal(unreachable.code, 1);
      assert.match(unreachable.line('cluster'), /^✗ cluster: cannot reach Redis at redis:\/\/127\.0\.0\.1:1/);
    });
  });
});
