/**
 * "Nothing acknowledged is lost": the real server process is killed with SIGKILL right after it acknowledged
 * writes, started again on the same storage, and checked. Reusable for every feature that persists (accounts,
 * registered rooms, ...): pick a storage, then `survivesKill9(storage, act, check)`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { createSchema, dropSchema, freshSchemaName, POSTGRES_URL, postgresAvailable } from './postgres.js';
import type { TestClient } from './client.js';
import { serveNatter } from './process.js';

/** Where a spawned `natter serve` keeps its data: `serveArgs` point it there. */
export interface StorageUnderTest {
  readonly name: string;
  readonly serveArgs: readonly string[];
  /** Set when the storage is not available here (never under CI=true): the test skips with this reason. */
  readonly unavailable: string | undefined;
  /** Reads a table straight from the storage (not through Natter), to check where the data really is. */
  rows(table: string): Promise<Array<Record<string, unknown>>>;
  /**
   * The store's own consistency check, run beside Natter: what it reports wrong, or [] when it is sound, and what
   * it checked. SQLite: PRAGMA integrity_check and foreign_key_check. PostgreSQL: every table read whole, and every
   * B-tree index verified against its table with amcheck (bt_index_check with heapallindexed) where the extension
   * can be created.
   */
  integrityProblems(): Promise<{ problems: string[]; checked: string }>;
  dispose(): Promise<void>;
}

/** A fresh data folder: SQLite file natter.db in it. */
export function sqliteStorage(): StorageUnderTest {
  const dir = mkdtempSync(join(tmpdir(), 'natter-durable-'));
  return {
    name: 'SQLite',
    serveArgs: ['--data', dir],
    unavailable: undefined,
    rows(table) {
      const db = new BetterSqlite3(join(dir, 'natter.db'), { readonly: true });
      try {
        return Promise.resolve(db.prepare(`SELECT * FROM ${table}`).all() as Array<Record<string, unknown>>);
      } finally {
        db.close();
      }
    },
    integrityProblems() {
      const db = new BetterSqlite3(join(dir, 'natter.db'), { readonly: true });
      try {
        const integrity = (db.pragma('integrity_check') as Array<{ integrity_check: string }>).map((row) => row.integrity_check).filter((line) => line !== 'ok');
        const foreignKeys = (db.pragma('foreign_key_check') as Array<Record<string, unknown>>).map((row) => `foreign key: ${JSON.stringify(row)}`);
        return Promise.resolve({ problems: [...integrity, ...foreignKeys], checked: 'PRAGMA integrity_check, PRAGMA foreign_key_check' });
      } finally {
        db.close();
      }
    },
    dispose() {
      rmSync(dir, { recursive: true, force: true });
      return Promise.resolve();
    },
  };
}

/** The URL of POSTGRES_URL with every table in `schema` (libpq's options parameter, "-c search_path=..."). */
export function postgresUrlWithSchema(schema: string): string {
  return `${POSTGRES_URL}${POSTGRES_URL.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`;
}

/** A fresh schema in the test PostgreSQL, given to the server as `--database URL?options=-c search_path=...`. */
export async function postgresStorage(): Promise<StorageUnderTest> {
  const unavailable = await postgresAvailable();
  const schema = freshSchemaName('natter_durable');
  if (unavailable === undefined) await createSchema(schema);
  return {
    name: 'PostgreSQL',
    serveArgs: ['--database', postgresUrlWithSchema(schema)],
    unavailable,
    async rows(table) {
      const client = new pg.Client({ connectionString: POSTGRES_URL });
      await client.connect();
      try {
        return (await client.query<Record<string, unknown>>(`SELECT * FROM ${schema}.${table}`)).rows;
      } finally {
        await client.end();
      }
    },
    async integrityProblems() {
      const client = new pg.Client({ connectionString: POSTGRES_URL });
      await client.connect();
      try {
        const problems: string[] = [];
        const tables = (await client.query<{ name: string }>('SELECT tablename AS name FROM pg_tables WHERE schemaname = $1', [schema])).rows;
        for (const { name } of tables) {
          await client.query(`SELECT * FROM ${schema}.${name}`).catch((error: unknown) => {
            problems.push(`${name}: ${error instanceof Error ? error.message : String(error)}`);
          });
        }
        // amcheck ships with PostgreSQL (contrib); creating it once in the database is harmless and lasts.
        const amcheck = await client.query('CREATE EXTENSION IF NOT EXISTS amcheck').then(
          () => true,
          () => false,
        );
        let indexes = 0;
        if (amcheck) {
          const rows = (
            await client.query<{ oid: number; name: string }>(
              `SELECT c.oid, c.relname AS name FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
               JOIN pg_am am ON am.oid = c.relam WHERE n.nspname = $1 AND am.amname = 'btree'`,
              [schema],
            )
          ).rows;
          for (const { oid, name } of rows) {
            indexes++;
            await client.query('SELECT bt_index_check($1::regclass, true)', [oid]).catch((error: unknown) => {
              problems.push(`index ${name}: ${error instanceof Error ? error.message : String(error)}`);
            });
          }
        }
        const checked = `${String(tables.length)} tables read whole; ${amcheck ? `${String(indexes)} B-tree indexes checked with amcheck` : 'amcheck not available, indexes not checked'}`;
        return { problems, checked };
      } finally {
        await client.end();
      }
    },
    async dispose() {
      if (unavailable === undefined) await dropSchema(schema);
    },
  };
}

/**
 * Starts `natter serve` on the storage and runs `act` (which resolves once the server acknowledged what it did),
 * kills the process with SIGKILL at once, starts a new one on the same storage and runs `check` against it.
 */
export async function survivesKill9(storage: StorageUnderTest, act: (port: number) => Promise<void>, check: (port: number) => Promise<void>): Promise<void> {
  const first = await serveNatter(storage.serveArgs);
  try {
    await act(first.port);
  } finally {
    await first.kill9();
  }
  const second = await serveNatter(storage.serveArgs);
  try {
    await check(second.port);
  } finally {
    await second.stop();
  }
}

/** Every msgid a CHATHISTORY client can page through in a room, oldest first (AFTER from the start, page by page). */
export async function allMsgids(client: TestClient, channel: string): Promise<Set<string>> {
  const seen = new Set<string>();
  let ref = 'timestamp=1970-01-01T00:00:00.000Z';
  for (;;) {
    client.send(`CHATHISTORY AFTER ${channel} ${ref} 100`);
    const open = await client.expect((m) => m.command === 'BATCH' && m.params[1] === 'chathistory', 5000);
    const batch = (open.params[0] ?? '').slice(1);
    let last: string | undefined;
    for (;;) {
      const next = await client.expect((m) => m.tags?.get('batch') === batch || (m.command === 'BATCH' && m.params[0] === `-${batch}`), 5000);
      if (next.command === 'BATCH') break;
      last = next.tags?.get('msgid');
      if (last !== undefined) seen.add(last);
    }
    if (last === undefined) return seen;
    ref = `msgid=${last}`;
  }
}
