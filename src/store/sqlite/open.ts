/** The embedded store: one SQLite file in the data folder, WAL, foreign keys on. */
import { accessSync, constants, mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import type { SqliteDatabase } from 'kysely';
import { KyselyStore, migrateToLatest, StoreOpenError } from '../kysely-store.js';
import type { Database } from '../schema.js';

/**
 * The data folder must be a folder we may read and write. Checked first, so the message names the folder and
 * the cause instead of SQLite's "unable to open database file".
 */
function checkDataFolder(dir: string): void {
  let isDirectory: boolean;
  try {
    isDirectory = statSync(dir).isDirectory();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      return;
    }
    if (code === 'ENOTDIR') throw new Error(`the data folder ${dir} is inside a file, not a folder`, { cause: error });
    throw new Error(`the data folder ${dir} cannot be read (${code ?? String(error)})`, { cause: error });
  }
  if (!isDirectory) throw new Error(`the data folder ${dir} is a file, not a folder`);
  try {
    accessSync(dir, constants.R_OK | constants.W_OK | constants.X_OK);
  } catch (error) {
    throw new Error(`the data folder ${dir} is not readable and writable by this user (${(error as NodeJS.ErrnoException).code ?? String(error)})`, { cause: error });
  }
}

/**
 * Two processes opening a fresh data folder at once (a server starting while `natter account` runs) can both
 * see no migrations and both create the first tables; the loser fails with "already exists" or SQLITE_BUSY.
 * Trying again after the winner committed finds its migrations done, so a few short retries settle it.
 */
async function migrateRacingOthers(db: Kysely<Database>, description: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await migrateToLatest(db, 'sqlite', description);
      return;
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      if (attempt >= 5 || !/already exists|SQLITE_BUSY|database is locked/.test(reason)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
    }
  }
}

/**
 * Kysely prepares every query anew; on the paths that run per registration or per message that costs more
 * than the query. The same SQL text gets the same prepared statement (a statement is reusable; better-sqlite3
 * binds parameters at each call). The cache is bounded by the number of distinct queries the code can build.
 */
function cachingStatements(raw: BetterSqlite3.Database): SqliteDatabase {
  const statements = new Map<string, BetterSqlite3.Statement>();
  return {
    close: () => {
      raw.close();
    },
    prepare(sqlText: string) {
      let statement = statements.get(sqlText);
      if (statement === undefined) {
        statement = raw.prepare(sqlText);
        if (statements.size < 1000) statements.set(sqlText, statement);
      }
      return statement;
    },
  };
}

export async function openSqliteStore(path: string): Promise<KyselyStore> {
  const description = `sqlite:${path}`;
  let raw: BetterSqlite3.Database | undefined;
  try {
    checkDataFolder(dirname(path));
    // A file we cannot read and write is refused before SQLite opens it (it would open it read-only and fail later).
    try {
      accessSync(path, constants.R_OK | constants.W_OK);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT') throw new Error(`not readable and writable by this user (${code ?? String(error)})`, { cause: error });
    }
    raw = new BetterSqlite3(path);
    // Waits for a writer in another process (the server, or `natter account`) instead of failing at once.
    raw.pragma('busy_timeout = 5000');
    // Reading the header comes first: a file that is not a SQLite database fails here ("file is not a
    // database") before anything is written to it, so a damaged data folder is never replaced by a fresh store.
    const check = raw.pragma('quick_check', { simple: true });
    if (check !== 'ok') throw new Error(`integrity check failed: ${String(check)}`);
    raw.pragma('foreign_keys = ON');
    // Deleted rows are zeroed in the pages that are written anyway (FAST: no extra I/O), so an opened view-once
    // message or a redacted one does not linger in the file's free space (docs/extensions/view-once.md).
    raw.pragma('secure_delete = FAST');
  } catch (error) {
    raw?.close();
    const reason = error instanceof Error ? error.message : String(error);
    const code = (error as { code?: unknown }).code;
    if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT' || reason.startsWith('integrity check failed')) {
      throw new StoreOpenError(`${description} is damaged or not a Natter database (${reason}); it was left as it is: restore it from a backup or move it away`, { cause: error });
    }
    throw new StoreOpenError(`${description} cannot be opened: ${reason}`, { cause: error });
  }
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: cachingStatements(raw) }) });
  try {
    await migrateRacingOthers(db, description);
    // After the migrations, so a file this version refuses (written by a newer Natter) is not touched at all.
    // WAL lets `natter account ...` write while the server runs; NORMAL syncs at checkpoints, which keeps
    // every committed write through a crash of the process (kill -9), though not always through power loss.
    raw.pragma('journal_mode = WAL');
    raw.pragma('synchronous = NORMAL');
  } catch (error) {
    await db.destroy();
    throw error;
  }
  return new KyselyStore(db, 'sqlite', description, () => Promise.resolve());
}
