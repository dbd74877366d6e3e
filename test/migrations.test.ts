/**
 * Versioned migrations (ARCHITECTURE.md lesson 7): an old data folder is upgraded in place and keeps everything,
 * on SQLite (a frozen data folder made at migration 0001, test/fixtures/data-v1) and on PostgreSQL (a schema
 * created at 0001); a store written by a newer Natter is refused, not downgraded.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import type { Store } from '../src/core/store.js';
import { migratorFor, StoreOpenError } from '../src/store/kysely-store.js';
import { latestMigration, migrations } from '../src/store/migrations.js';
import { openPostgresStore } from '../src/store/postgres/open.js';
import { openSqliteStore } from '../src/store/sqlite/open.js';
import { saslPlain } from './helpers/login.js';
import { postgresUrlWithSchema } from './helpers/durability.js';
import { dropSchema, freshSchemaName, POSTGRES_URL, postgresAvailable } from './helpers/postgres.js';
import { startTestServer } from './helpers/server.js';

const FIXTURE = new URL('fixtures/data-v1/natter.db', import.meta.url).pathname;
const FIRST = '0001_accounts_and_rooms';

const sha256 = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

function executedMigrations(path: string): string[] {
  const db = new BetterSqlite3(path, { readonly: true });
  try {
    return (db.prepare('SELECT name FROM kysely_migration ORDER BY name').all() as Array<{ name: string }>).map((row) => row.name);
  } finally {
    db.close();
  }
}

/** The schema as SQLite keeps it (CREATE statements), without Kysely's own bookkeeping tables. */
function schemaOf(path: string): string[] {
  const db = new BetterSqlite3(path, { readonly: true });
  try {
    const rows = db.prepare("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'kysely_%' ORDER BY name").all() as Array<{ sql: string }>;
    return rows.map((row) => row.sql);
  } finally {
    db.close();
  }
}

/** What data-v1 holds (see test/fixtures/data-v1/make.ts), as the current Store reads it. */
async function assertFixtureData(store: Store): Promise<void> {
  const founder = await store.findAccount('founder');
  assert.ok(founder, 'the account Founder is kept');
  assert.equal(founder.name, 'Founder');
  assert.equal(founder.isOper, true);
  assert.equal(founder.createdAt, Date.UTC(2026, 0, 15, 12, 0, 0));
  assert.match(founder.passwordHash, /^\$argon2id\$/);
  assert.equal(founder.email, null, 'accounts made before migration 0002 have no e-mail address');
  assert.deepEqual(await store.listCertfps(founder.id), ['a'.repeat(64)]);
  assert.deepEqual((await store.listAccounts()).map((a) => a.name), ['Founder', 'Helper']);
  const room = await store.findRoom('#archive');
  assert.ok(room, 'the registered room #Archive is kept');
  assert.equal(room.name, '#Archive');
  assert.equal(room.founderId, founder.id);
  assert.equal(room.topic, 'Kept since version 1');
  assert.equal(room.modes, 'ntk');
  assert.equal(room.key, 'sesame');
  assert.equal(room.userLimit, 25);
  assert.equal(room.history, null, 'rooms registered before migration 0003 use the server default for their history');
  assert.deepEqual(
    (await store.listRoles('#archive')).map((r) => [r.accountName, r.rank]),
    [
      ['Founder', 5],
      ['Helper', 3],
    ],
  );
  assert.deepEqual((await store.listEntries('#archive')).map((e) => `${e.mode} ${e.mask}`), ['b Troll!*@*']);
}

describe('SQLite: a data folder from an older Natter', () => {
  const dirs: string[] = [];
  const copyOfFixture = (): { dir: string; path: string } => {
    const dir = mkdtempSync(join(tmpdir(), 'natter-migrate-'));
    dirs.push(dir);
    const path = join(dir, 'natter.db');
    copyFileSync(FIXTURE, path);
    return { dir, path };
  };
  const fixtureHash = sha256(FIXTURE);
  after(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    assert.equal(sha256(FIXTURE), fixtureHash, 'the committed fixture itself is never written');
  });

  it('the frozen data-v1 folder is at migration 0001 only, and 0001 has not changed since it was made', async () => {
    assert.deepEqual(executedMigrations(FIXTURE), [FIRST]);
    // A released migration never changes (migrations.ts): today's 0001 must build the very schema of the fixture.
    const dir = mkdtempSync(join(tmpdir(), 'natter-migrate-'));
    dirs.push(dir);
    const db = new Kysely<unknown>({ dialect: new SqliteDialect({ database: new BetterSqlite3(join(dir, 'fresh.db')) }) });
    const result = await (await migratorFor(db, 'sqlite', 'fresh')).migrateTo(FIRST);
    await db.destroy();
    assert.equal(result.error, undefined);
    assert.deepEqual(schemaOf(join(dir, 'fresh.db')), schemaOf(FIXTURE));
  });

  it('opening it upgrades it in place to the latest migration and keeps every account, room, role and ban', async () => {
    const { path } = copyOfFixture();
    const store = await openSqliteStore(path);
    try {
      assert.deepEqual(executedMigrations(path), Object.keys(migrations('sqlite')).sort());
      assert.equal(executedMigrations(path).at(-1), latestMigration('sqlite'));
      await assertFixtureData(store);
      // The new column works on the upgraded file.
      const made = await store.createAccount({ name: 'Newcomer', nameFolded: 'newcomer', passwordHash: '$argon2id$x', scram: { salt: 'c2FsdA==', iterations: 4096, storedKey: 'k', serverKey: 's' }, createdAt: 1, email: 'new@example.org' });
      assert.equal(made.email, 'new@example.org');
      // And so do the tables of 0003: history, read markers, room joins, and a room's history setting.
      await store.appendHistory({ msgid: 'upgraded-1', time: 5, target: '#archive', command: 'PRIVMSG', source: 'Founder!f@host', account: 'founder', params: ['#Archive', 'still here'], tags: undefined });
      assert.deepEqual((await store.queryHistory({ target: '#archive', direction: 'forward', limit: 10, events: false })).map((item) => item.params[1]), ['still here']);
      const founder = await store.findAccount('founder');
      assert.ok(founder);
      assert.equal(await store.setReadMarker(founder.id, '#archive', 5), 5);
      assert.equal(await store.recordRoomJoin(founder.id, '#archive', 4), 4);
      await store.updateRoom('#archive', { history: 'joined' });
      assert.equal((await store.findRoom('#archive'))?.history, 'joined');
      await store.updateRoom('#archive', { history: null });
    } finally {
      await store.close();
    }
    // Opening again runs nothing more and changes nothing.
    const again = await openSqliteStore(path);
    try {
      assert.equal((await again.findAccount('newcomer'))?.email, 'new@example.org');
      assert.equal(await again.deleteAccount('newcomer'), true);
      assert.equal((await again.findHistory('#archive', 'upgraded-1'))?.params[1], 'still here');
      await assertFixtureData(again);
    } finally {
      await again.close();
    }
  });

  it('the server starts on the upgraded folder and the old account logs in with its password (and is an operator)', async () => {
    const { dir } = copyOfFixture();
    const server = await startTestServer({ data: dir });
    try {
      const login = await saslPlain(server.port, 'founder', 'Founder', 'fixture-password');
      assert.equal(login.ok, true, login.client.log.join('\n'));
      assert.ok(login.burst.some((m) => m.command === 'MODE' && (m.params[1] ?? '').includes('o')), 'the oper flag of version 1 still gives +o');
      await login.client.quit();
    } finally {
      await server.stop();
    }
    assert.deepEqual(executedMigrations(join(dir, 'natter.db')), Object.keys(migrations('sqlite')).sort());
  });

  it('a data folder written by a newer Natter (a migration unknown here) is refused with a clear message and left as it is', async () => {
    const { path } = copyOfFixture();
    const db = new BetterSqlite3(path);
    db.prepare('INSERT INTO kysely_migration (name, timestamp) VALUES (?, ?)').run('0002_account_email', new Date().toISOString());
    db.prepare('INSERT INTO kysely_migration (name, timestamp) VALUES (?, ?)').run('9999_from_the_future', new Date().toISOString());
    db.close();
    const before = sha256(path);
    await assert.rejects(openSqliteStore(path), (error: unknown) => {
      assert.ok(error instanceof StoreOpenError);
      assert.match(error.message, /newer version of Natter/);
      assert.match(error.message, /9999_from_the_future/);
      return true;
    });
    assert.equal(sha256(path), before);
  });
});

describe('PostgreSQL: a schema created at migration 0001', () => {
  let unavailable: string | undefined;
  const schema = freshSchemaName('natter_migrate');
  const others = [freshSchemaName('natter_first'), freshSchemaName('natter_second')];
  before(async () => {
    unavailable = await postgresAvailable();
  });
  after(async () => {
    if (unavailable === undefined) for (const name of [schema, ...others]) await dropSchema(name);
  });

  it('two Natters in two schemas of one database each migrate their own (Kysely alone would take the kysely_migration table of the other schema for its own)', async (t) => {
    if (unavailable !== undefined) {
      t.skip(unavailable);
      return;
    }
    const [first, second] = others as [string, string];
    const one = await openPostgresStore(POSTGRES_URL, { schema: first });
    await one.close();
    // The second is opened as a user would: the schema named in the URL's search_path.
    const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 1 });
    try {
      await pool.query(`CREATE SCHEMA ${second}`);
    } finally {
      await pool.end();
    }
    const two = await openPostgresStore(postgresUrlWithSchema(second));
    try {
      const made = await two.createAccount({ name: 'Second', nameFolded: 'second', passwordHash: '$argon2id$x', scram: { salt: 'c2FsdA==', iterations: 4096, storedKey: 'k', serverKey: 's' }, createdAt: 1 });
      assert.equal(made.email, null);
    } finally {
      await two.close();
    }
    const check = new pg.Client({ connectionString: POSTGRES_URL });
    await check.connect();
    try {
      for (const name of [first, second]) {
        const executed = await check.query<{ name: string }>(`SELECT name FROM ${name}.kysely_migration ORDER BY name`);
        assert.deepEqual(executed.rows.map((r) => r.name), Object.keys(migrations('postgres')).sort(), `${name} has its own bookkeeping`);
      }
      assert.equal((await check.query(`SELECT 1 FROM ${first}.accounts`)).rowCount, 0);
    } finally {
      await check.end();
    }
  });

  it('a search_path naming a schema that does not exist is a clear error', async (t) => {
    if (unavailable !== undefined) {
      t.skip(unavailable);
      return;
    }
    await assert.rejects(openPostgresStore(postgresUrlWithSchema('natter_no_such_schema')), /the schema in search_path does not exist/);
  });

  it('is migrated to the latest when opened, keeping its account, room, roles and ban', async (t) => {
    if (unavailable !== undefined) {
      t.skip(unavailable);
      return;
    }
    const pool = new pg.Pool({ connectionString: POSTGRES_URL, options: `-c search_path=${schema}`, max: 1 });
    const old = new Kysely<unknown>({ dialect: new PostgresDialect({ pool }) });
    try {
      await pool.query(`CREATE SCHEMA ${schema}`);
      const result = await (await migratorFor(old, 'postgres', schema)).migrateTo(FIRST);
      assert.equal(result.error, undefined);
      // The same data as the SQLite fixture, written as version 1 wrote it.
      await pool.query(
        `INSERT INTO accounts (name, name_folded, password_hash, scram_salt, scram_iterations, scram_stored_key, scram_server_key, created_at, is_oper)
         VALUES ('Founder', 'founder', '$argon2id$v1', 'c2FsdA==', 4096, 'k1', 's1', $1, 1), ('Helper', 'helper', '$argon2id$v1', 'c2FsdA==', 4096, 'k2', 's2', $1, 0)`,
        [Date.UTC(2026, 0, 15, 12, 0, 0)],
      );
      await pool.query(`INSERT INTO account_certfps (fingerprint, account_id) VALUES ($1, 1)`, ['a'.repeat(64)]);
      await pool.query(
        `INSERT INTO rooms (name_folded, name, founder_id, registered_at, topic, topic_set_by, topic_set_at, modes, key, user_limit)
         VALUES ('#archive', '#Archive', 1, 1, 'Kept since version 1', 'Founder', 2, 'ntk', 'sesame', 25)`,
      );
      await pool.query(`INSERT INTO room_roles (room, account_id, rank) VALUES ('#archive', 1, 5), ('#archive', 2, 3)`);
      await pool.query(`INSERT INTO room_lists (room, mode, mask, mask_folded, set_by, set_at) VALUES ('#archive', 'b', 'Troll!*@*', 'troll!*@*', 'Founder', 3)`);
      const columns = await pool.query<{ column_name: string }>(`SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'accounts'`, [schema]);
      assert.ok(!columns.rows.some((c) => c.column_name === 'email'), 'the schema really is at 0001');
    } finally {
      await old.destroy();
    }

    const store = await openPostgresStore(POSTGRES_URL, { schema });
    try {
      await assertFixtureData(store);
    } finally {
      await store.close();
    }
    const check = new pg.Client({ connectionString: POSTGRES_URL });
    await check.connect();
    try {
      const executed = await check.query<{ name: string }>(`SELECT name FROM ${schema}.kysely_migration ORDER BY name`);
      assert.deepEqual(
        executed.rows.map((r) => r.name),
        Object.keys(migrations('postgres')).sort(),
      );
    } finally {
      await check.end();
    }
  });
});
