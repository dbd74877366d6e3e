/**
 * One conformance suite for every Store implementation (ARCHITECTURE.md lesson 6): the same assertions run
 * against a SQLite file and the real PostgreSQL.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { NewAccount, Store } from '../../src/core/store.js';
import { StoreConflictError } from '../../src/core/store.js';

export interface StoreHarness {
  store: Store;
  /** Closes the store and opens it again on the same data, to prove writes lasted. */
  reopen(): Promise<Store>;
  dispose(): Promise<void>;
}

function account(name: string, at = 1_700_000_000_000): NewAccount {
  return {
    name,
    nameFolded: name.toLowerCase(),
    passwordHash: `$argon2id$fake$${name}`,
    scram: { salt: 'c2FsdA==', iterations: 4096, storedKey: `stored-${name}`, serverKey: `server-${name}` },
    createdAt: at,
  };
}

export function runStoreSuite(name: string, make: () => Promise<StoreHarness | string>): void {
  describe(`Store conformance: ${name}`, () => {
    let harness: StoreHarness | undefined;
    let skipReason: string | undefined;
    const store = (): Store => {
      if (harness === undefined) throw new Error('no store');
      return harness.store;
    };

    before(async () => {
      const made = await make();
      if (typeof made === 'string') skipReason = made;
      else harness = made;
    });
    after(async () => {
      await harness?.dispose();
    });

    const test = (title: string, body: () => Promise<void>): void => {
      it(title, async (t) => {
        if (skipReason !== undefined) {
          t.skip(skipReason);
          return;
        }
        await body();
      });
    };

    test('an account is created with its credentials and found by its folded name', async () => {
      const created = await store().createAccount(account('Alice'));
      assert.ok(created.id > 0);
      const found = await store().findAccount('alice');
      assert.deepEqual(found, created);
      assert.ok(found);
      assert.equal(found.name, 'Alice');
      assert.equal(found.scram.iterations, 4096);
      assert.equal(found.isOper, false);
      assert.equal(found.createdAt, 1_700_000_000_000);
      assert.deepEqual(await store().findAccountById(created.id), created);
    });

    test('a second account with the same folded name is a conflict', async () => {
      await assert.rejects(store().createAccount({ ...account('ALICE'), nameFolded: 'alice' }), StoreConflictError);
    });

    test('password and oper flag change; unknown accounts report false', async () => {
      const scram = { salt: 'bmV3', iterations: 8192, storedKey: 'new-stored', serverKey: 'new-server' };
      assert.equal(await store().setPassword('alice', '$argon2id$new', scram), true);
      assert.equal(await store().setPassword('nobody', '$argon2id$new', scram), false);
      const found = await store().findAccount('alice');
      assert.ok(found);
      assert.equal(found.passwordHash, '$argon2id$new');
      assert.deepEqual(found.scram, scram);
      assert.equal(await store().setOper('alice', true), true);
      assert.equal((await store().findAccount('alice'))?.isOper, true);
    });

    test('certificate fingerprints attach to one account, lowercased', async () => {
      const alice = await store().findAccount('alice');
      assert.ok(alice);
      await store().addCertfp(alice.id, 'AB12CD');
      assert.deepEqual(await store().listCertfps(alice.id), ['ab12cd']);
      assert.equal((await store().findAccountByCertfp('ab12cd'))?.name, 'Alice');
      const bob = await store().createAccount(account('bob'));
      await assert.rejects(store().addCertfp(bob.id, 'ab12cd'), StoreConflictError);
      assert.equal(await store().removeCertfp(alice.id, 'AB12CD'), true);
      assert.equal(await store().findAccountByCertfp('ab12cd'), undefined);
    });

    test('a room is registered with its founder, updated, and listed', async () => {
      const alice = await store().findAccount('alice');
      assert.ok(alice);
      await store().registerRoom({
        name: '#Party',
        nameFolded: '#party',
        founderId: alice.id,
        registeredAt: 1_700_000_000_500,
        topic: '',
        topicSetBy: '',
        topicSetAt: 0,
        modes: 'nt',
        key: null,
        userLimit: null,
      });
      await assert.rejects(
        store().registerRoom({ name: '#PARTY', nameFolded: '#party', founderId: alice.id, registeredAt: 0, topic: '', topicSetBy: '', topicSetAt: 0, modes: '', key: null, userLimit: null }),
        StoreConflictError,
      );
      await store().updateRoom('#party', { topic: 'Welcome', topicSetBy: 'Alice', topicSetAt: 1_700_000_001_000, modes: 'intk', key: 'sesame', userLimit: 12 });
      const room = await store().findRoom('#party');
      assert.ok(room);
      assert.equal(room.name, '#Party');
      assert.equal(room.topic, 'Welcome');
      assert.equal(room.modes, 'intk');
      assert.equal(room.key, 'sesame');
      assert.equal(room.userLimit, 12);
      await store().updateRoom('#party', { key: null, userLimit: null });
      assert.equal((await store().findRoom('#party'))?.key, null);
      assert.deepEqual((await store().listRooms()).map((r) => r.nameFolded), ['#party']);
    });

    test('roles are set, replaced, listed highest first, and removed with rank 0', async () => {
      const alice = await store().findAccount('alice');
      const bob = await store().findAccount('bob');
      assert.ok(alice && bob);
      await store().setRole('#party', alice.id, 5);
      await store().setRole('#party', bob.id, 1);
      await store().setRole('#party', bob.id, 3);
      assert.deepEqual(await store().listRoles('#party'), [
        { accountId: alice.id, accountName: 'Alice', rank: 5 },
        { accountId: bob.id, accountName: 'bob', rank: 3 },
      ]);
      await store().setRole('#party', bob.id, 0);
      assert.deepEqual((await store().listRoles('#party')).map((r) => r.accountName), ['Alice']);
    });

    test('ban, exception and invite lists keep their entries once each', async () => {
      await store().addListEntry('#party', { mode: 'b', mask: 'Troll!*@*', maskFolded: 'troll!*@*', setBy: 'Alice', setAt: 10 });
      await store().addListEntry('#party', { mode: 'b', mask: 'TROLL!*@*', maskFolded: 'troll!*@*', setBy: 'Alice', setAt: 11 });
      await store().addListEntry('#party', { mode: 'I', mask: '*!*@friends', maskFolded: '*!*@friends', setBy: 'Alice', setAt: 12 });
      const entries = await store().listEntries('#party');
      assert.deepEqual(entries.map((e) => `${e.mode} ${e.mask}`), ['b Troll!*@*', 'I *!*@friends']);
      assert.equal(await store().removeListEntry('#party', 'b', 'troll!*@*'), true);
      assert.equal(await store().removeListEntry('#party', 'b', 'troll!*@*'), false);
    });

    test('everything written survives closing and reopening the store', async () => {
      assert.ok(harness);
      harness.store = await harness.reopen();
      assert.equal((await store().findAccount('alice'))?.passwordHash, '$argon2id$new');
      assert.equal((await store().findRoom('#party'))?.topic, 'Welcome');
      assert.equal((await store().listRoles('#party')).length, 1);
      assert.equal((await store().listEntries('#party')).length, 1);
    });

    test('a room changes founder; deleting an account drops the rooms it founded and its roles', async () => {
      const alice = await store().findAccount('alice');
      const bob = await store().findAccount('bob');
      assert.ok(alice && bob);
      assert.equal(await store().transferRoom('#party', bob.id), true);
      assert.equal((await store().findRoom('#party'))?.founderId, bob.id);
      await store().setRole('#party', bob.id, 5);
      assert.equal(await store().deleteAccount('alice'), true);
      assert.equal(await store().findAccount('alice'), undefined);
      assert.deepEqual((await store().listRoles('#party')).map((r) => r.accountName), ['bob']);
      assert.equal(await store().deleteAccount('bob'), true);
      assert.equal(await store().findRoom('#party'), undefined);
      assert.deepEqual(await store().listEntries('#party'), []);
      assert.equal(await store().dropRoom('#party'), false);
    });
  });
}
