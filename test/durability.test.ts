/**
 * Nothing acknowledged is lost: the real server is killed with SIGKILL right after it acknowledged an account's
 * creation (REGISTER SUCCESS) and a password change (NickServ), then started again on the same SQLite file or
 * PostgreSQL schema, where the account logs in with the new password only.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TestClient } from './helpers/client.js';
import { postgresStorage, sqliteStorage, survivesKill9 } from './helpers/durability.js';
import type { StorageUnderTest } from './helpers/durability.js';
import { registerAccount, saslPlain } from './helpers/login.js';

async function changePasswordWithNickServ(client: TestClient, password: string): Promise<void> {
  client.send(`PRIVMSG NickServ :PASSWORD ${password}`);
  const reply = await client.expect((m) => m.command === 'NOTICE' && m.source?.startsWith('NickServ') === true, 5000);
  assert.match(reply.params.at(-1) ?? '', /changed/i, `NickServ acknowledged the change: ${reply.raw}`);
}

const storages: Array<[string, () => Promise<StorageUnderTest>]> = [
  ['SQLite file in the data folder', () => Promise.resolve(sqliteStorage())],
  ['PostgreSQL (--database with search_path in the URL)', postgresStorage],
];

describe('nothing acknowledged is lost when the server is killed (SIGKILL)', { concurrency: 2 }, () => {
  for (const [name, make] of storages) {
    it(`${name}: an account made with REGISTER and its password changed with NickServ PASSWORD log in after a restart`, async (t) => {
      const storage = await make();
      if (storage.unavailable !== undefined) {
        t.skip(storage.unavailable);
        return;
      }
      try {
        await survivesKill9(
          storage,
          async (port) => {
            const client = await registerAccount(port, 'durable', 'first-password');
            await changePasswordWithNickServ(client, 'second-password');
            // The process is killed now, the moment the acknowledgement arrived.
          },
          async (port) => {
            const old = await saslPlain(port, 'durable', 'durable', 'first-password');
            assert.equal(old.ok, false, 'the old password no longer works');
            old.client.close();
            const login = await saslPlain(port, 'durable', 'durable', 'second-password');
            assert.equal(login.ok, true, `the new password works: ${login.client.log.join('\n')}`);
            await login.client.quit();
          },
        );
        // Where it was written: the data folder's natter.db, or the schema named in the URL.
        assert.deepEqual((await storage.rows('accounts')).map((row) => row['name']), ['durable']);
      } finally {
        await storage.dispose();
      }
    });
  }
});
