/** The PostgreSQL store, for deployments bigger than one machine's SQLite file. */
import pg from 'pg';
import { Kysely, PostgresDialect } from 'kysely';
import { KyselyStore, migrateToLatest, StoreOpenError } from '../kysely-store.js';
import type { Database } from '../schema.js';

/** BIGINT (OID 20) as a JS number: our 64-bit columns hold millisecond times and ids, well inside 2^53. */
const types = new pg.TypeOverrides();
types.setTypeParser(pg.types.builtins.INT8, (value: string) => Number(value));

export interface PostgresOptions {
  /** Put every table in this schema (created if missing): lets tests and several networks share a database. */
  readonly schema?: string;
}

/** Hides the password of a connection URL in messages. */
export function redactUrl(url: string): string {
  return url.replace(/(\/\/[^:/@]+:)[^@]*@/, '$1***@');
}

/** A connection error's words: Node's AggregateError (every address refused) has an empty message. */
function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  if (error.message !== '') return error.message;
  if (error instanceof AggregateError) return error.errors.map(describeError).join('; ');
  return (error as NodeJS.ErrnoException).code ?? error.name;
}

export async function openPostgresStore(url: string, options: PostgresOptions = {}): Promise<KyselyStore> {
  const description = redactUrl(url);
  const schema = options.schema;
  if (schema !== undefined && !/^[a-z_][a-z0-9_]*$/.test(schema)) throw new StoreOpenError(`invalid schema name ${schema}`);
  const pool = new pg.Pool({
    connectionString: url,
    types,
    max: 10,
    connectionTimeoutMillis: 5000,
    ...(schema === undefined ? {} : { options: `-c search_path=${schema}` }),
  });
  pool.on('error', () => {
    // An idle client's error (the server restarted) is reported by the next query that needs it.
  });
  try {
    const client = await pool.connect();
    try {
      if (schema !== undefined) await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    } finally {
      client.release();
    }
  } catch (error) {
    await pool.end();
    throw new StoreOpenError(`${description} cannot be reached: ${describeError(error)}`);
  }
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  try {
    await migrateToLatest(db, 'postgres', description);
  } catch (error) {
    await db.destroy();
    throw error;
  }
  return new KyselyStore(db, 'postgres', description, () => Promise.resolve());
}
