import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openPostgresStore } from '../src/store/postgres/open.js';
import { openSqliteStore } from '../src/store/sqlite/open.js';
import { dropSchema, freshSchemaName, POSTGRES_URL, postgresAvailable } from './helpers/postgres.js';
import { runStoreSuite } from './store/store-suite.js';

runStoreSuite('SQLite file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'natter-store-'));
  const path = join(dir, 'natter.db');
  const harness = {
    store: await openSqliteStore(path),
    async reopen() {
      await harness.store.close();
      return openSqliteStore(path);
    },
    async dispose() {
      await harness.store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return harness;
});

runStoreSuite('PostgreSQL', async () => {
  const unavailable = await postgresAvailable();
  if (unavailable !== undefined) return unavailable;
  const schema = freshSchemaName();
  const harness = {
    store: await openPostgresStore(POSTGRES_URL, { schema }),
    async reopen() {
      await harness.store.close();
      return openPostgresStore(POSTGRES_URL, { schema });
    },
    async dispose() {
      await harness.store.close();
      await dropSchema(schema);
    },
  };
  return harness;
});
