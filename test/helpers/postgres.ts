/**
 * The real PostgreSQL on this machine (127.0.0.1:5432, database `test`, trust auth), one fresh schema per
 * run so runs never collide. Under CI=true it must be there; elsewhere a test may skip with a clear message.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const POSTGRES_URL = process.env['NATTER_TEST_POSTGRES'] ?? 'postgres://postgres@127.0.0.1:5432/test';

export async function postgresAvailable(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return undefined;
  } catch (error) {
    const reason = `PostgreSQL at ${POSTGRES_URL} is not reachable (${error instanceof Error ? error.message : String(error)})`;
    if (process.env['CI'] === 'true') throw new Error(`${reason}; under CI=true the PostgreSQL tests must run`, { cause: error });
    return reason;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export function freshSchemaName(prefix = 'natter_test'): string {
  return `${prefix}_${randomBytes(6).toString('hex')}`;
}

/** An empty schema, for a server given `--database URL?options=-c search_path=<schema>` (the store does not create it). */
export async function createSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    await client.query(`CREATE SCHEMA ${schema}`);
  } finally {
    await client.end();
  }
}

export async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await client.end();
  }
}
