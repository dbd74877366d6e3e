/**
 * Nothing acknowledged is lost: the real server is killed with SIGKILL right after it acknowledged an account's
 * creation (REGISTER SUCCESS) and a password change (NickServ), then started again on the same SQLite file or
 * PostgreSQL schema, where the account logs in with the new password only.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TestClient } from './helpers/client.js';
import { allMsgids, postgresStorage, sqliteStorage, survivesKill9 } from './helpers/durability.js';
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

describe('messages under load: every message a client saw echoed is in CHATHISTORY after SIGKILL', { concurrency: 2 }, () => {
  for (const [name, make] of storages) {
    it(`${name}: 4 clients talking, killed at a random moment, every acknowledged msgid comes back and the store passes its integrity check`, async (t) => {
      const storage = await make();
      if (storage.unavailable !== undefined) {
        t.skip(storage.unavailable);
        return;
      }
      const acknowledged = new Set<string>();
      const caps = ['message-tags', 'echo-message', 'batch', 'draft/chathistory'];
      try {
        await survivesKill9(
          storage,
          async (port) => {
            const talkers = await Promise.all([0, 1, 2, 3].map((i) => TestClient.register(port, `talker${i}`, { caps })));
            for (const talker of talkers) talker.send('JOIN #durable');
            await Promise.all(talkers.map((talker) => talker.expect('366')));
            let running = true;
            const loops = talkers.map(async (talker, i) => {
              for (let n = 0; running; n++) {
                talker.send(`PRIVMSG #durable :talker ${i} line ${n}`);
                const echo = await talker.expect((m) => m.command === 'PRIVMSG' && m.source?.startsWith(`talker${i}!`) === true, 5000).catch(() => undefined);
                if (echo === undefined) return;
                const id = echo.tags?.get('msgid');
                if (id !== undefined) acknowledged.add(id);
              }
            });
            // Let the load run, then return while it is still running: the process is killed at once, at a moment
            // that differs from run to run (and is printed, to replay one).
            const moment = 400 + Math.floor(Math.random() * 1200);
            t.diagnostic(`killed ${String(moment)} ms into the load`);
            await new Promise((resolve) => setTimeout(resolve, moment));
            running = false;
            void Promise.all(loops);
          },
          async (port) => {
            const reader = await TestClient.register(port, 'reader', { caps });
            reader.send('JOIN #durable');
            await reader.expect('366');
            const kept = await allMsgids(reader, '#durable');
            const lost = [...acknowledged].filter((id) => !kept.has(id));
            assert.ok(acknowledged.size > 50, `the load acknowledged ${acknowledged.size} messages`);
            assert.deepEqual(lost, [], `${lost.length} of ${acknowledged.size} acknowledged messages were lost`);
            await reader.quit();
          },
        );
        const integrity = await storage.integrityProblems();
        t.diagnostic(`integrity: ${integrity.checked}`);
        assert.deepEqual(integrity.problems, [], `the store is sound after the crash (${integrity.checked})`);
      } finally {
        await storage.dispose();
      }
    });
  }
});
