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
import { serveNatter } from './process.js';

/** Where a spawned `natter serve` keeps its data: `serveArgs` point it there. */
export interface StorageUnderTest {
  readonly name: string;
  readonly serveArgs: readonly string[];
  /** Set when the storage is not available here (never under CI=true): the test skips with this reason. */
  readonly unavailable: string | undefined;
  /** Reads a table straight from the storage (not through Natter), to check where the data really is. */
  rows(table: string): Promise<Array<Record<string, unknown>>>;
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
