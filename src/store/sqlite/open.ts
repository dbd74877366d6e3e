/** The embedded store: one SQLite file in the data folder, WAL, foreign keys on. */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { KyselyStore, migrateToLatest, StoreOpenError } from '../kysely-store.js';
import type { Database } from '../schema.js';

export async function openSqliteStore(path: string): Promise<KyselyStore> {
  const description = `sqlite:${path}`;
  let raw: BetterSqlite3.Database;
  try {
    mkdirSync(dirname(path), { recursive: true });
    raw = new BetterSqlite3(path);
    // WAL lets `natter account ...` write while the server runs; NORMAL syncs at checkpoints, which keeps
    // every committed write through a crash of the process (kill -9), though not always through power loss.
    raw.pragma('journal_mode = WAL');
    raw.pragma('synchronous = NORMAL');
    raw.pragma('foreign_keys = ON');
    raw.pragma('busy_timeout = 5000');
    const check = raw.pragma('quick_check', { simple: true });
    if (check !== 'ok') throw new Error(`integrity check failed: ${String(check)}`);
  } catch (error) {
    throw new StoreOpenError(`${description} cannot be opened: ${error instanceof Error ? error.message : String(error)}`);
  }
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: raw }) });
  try {
    await migrateToLatest(db, 'sqlite', description);
  } catch (error) {
    await db.destroy();
    throw error;
  }
  return new KyselyStore(db, description, () => Promise.resolve());
}
