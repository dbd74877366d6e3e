/**
 * One conformance suite for every Store implementation (ARCHITECTURE.md lesson 6): the same assertions run
 * against a SQLite file and the real PostgreSQL.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { HistoryCommand, HistoryItem, HistoryQuery, StoredHistoryItem } from '../../src/core/history.js';
import { conversationKey, MAX_SEQ, partyKey } from '../../src/core/history.js';
import type { NewAccount, Store } from '../../src/core/store.js';
import { StoreConflictError } from '../../src/core/store.js';
import { runUploadStoreTests } from './uploads-suite.js';
import { runViewOnceStoreTests } from './view-once-suite.js';

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

const msgids = (items: readonly StoredHistoryItem[]): string[] => items.map((item) => item.msgid);

/** Resolves after the current event-loop turn: appends made after it belong to another group commit. */
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Which of these promises were rejected, and with what (index -> error). */
async function outcomes(promises: ReadonlyArray<Promise<void>>): Promise<Map<number, unknown>> {
  const settled = await Promise.allSettled(promises);
  const rejected = new Map<number, unknown>();
  settled.forEach((result, index) => {
    if (result.status === 'rejected') rejected.set(index, result.reason);
  });
  return rejected;
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

    // Uploads (issue 7) in a file of their own; their accounts have names no other test uses.
    runUploadStoreTests(test, store);
    // View-once messages (issue 7) in a file of their own too; they reopen the store once.
    runViewOnceStoreTests(test, store, async () => {
      if (harness === undefined) throw new Error('no store');
      harness.store = await harness.reopen();
    });

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
        history: null,
      });
      await assert.rejects(
        store().registerRoom({ name: '#PARTY', nameFolded: '#party', founderId: alice.id, registeredAt: 0, topic: '', topicSetBy: '', topicSetAt: 0, modes: '', key: null, userLimit: null, history: null }),
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
      assert.equal(room.history, null, 'a room starts with the server default for its history');
      await store().updateRoom('#party', { key: null, userLimit: null });
      assert.equal((await store().findRoom('#party'))?.key, null);
      await store().updateRoom('#party', { history: 'joined' });
      assert.equal((await store().findRoom('#party'))?.history, 'joined');
      await store().updateRoom('#party', { history: 'everything' });
      assert.equal((await store().findRoom('#party'))?.history, 'everything');
      await store().updateRoom('#party', { history: null });
      assert.equal((await store().findRoom('#party'))?.history, null);
      await store().updateRoom('#party', { history: 'joined' });
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
      assert.equal((await store().findRoom('#party'))?.history, 'joined');
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

    // ---- history -------------------------------------------------------------------------------

    let nextMsgid = 0;
    /** Every target written, so that the prune test can count the whole table. */
    const targetsWritten = new Set<string>();
    const message = (target: string, time: number, fields: Partial<HistoryItem> = {}): HistoryItem => {
      targetsWritten.add(target);
      return {
        msgid: `m${String(++nextMsgid).padStart(5, '0')}`,
        time,
        target,
        command: 'PRIVMSG',
        source: 'alice!a@example.org',
        account: 'alice',
        params: [target, `message ${String(nextMsgid)}`],
        tags: undefined,
        ...fields,
      };
    };
    const query = (target: string, fields: Partial<HistoryQuery> = {}): Promise<StoredHistoryItem[]> =>
      store().queryHistory({ target, direction: 'forward', limit: 1000, events: true, ...fields });
    const at = (item: StoredHistoryItem | undefined): { time: number; seq: number } => {
      assert.ok(item);
      return { time: item.time, seq: item.seq };
    };

    const T = 1_800_000_000_000;
    /** #paged: 450 rows (more than two INSERTs of one group commit), three to a millisecond. */
    const paged: HistoryItem[] = [];
    let stored: StoredHistoryItem[] = [];

    test('history: the appends of one turn are all written, in the order they were made', async () => {
      for (let i = 0; i < 450; i++) paged.push(message('#paged', T + Math.floor(i / 3)));
      await Promise.all(paged.map((item) => store().appendHistory(item)));
      stored = await query('#paged');
      assert.deepEqual(msgids(stored), paged.map((item) => item.msgid));
      for (let i = 1; i < stored.length; i++) assert.ok(stored[i]!.seq > stored[i - 1]!.seq, 'seq grows with each append');
      assert.deepEqual(
        stored.map(({ seq: _seq, ...item }) => item),
        paged,
      );
    });

    test('history: forward takes the earliest rows after a point, backward the latest before one, both ascending', async () => {
      assert.deepEqual(msgids(await query('#paged', { limit: 10 })), msgids(stored.slice(0, 10)));
      assert.deepEqual(msgids(await query('#paged', { direction: 'backward', limit: 10 })), msgids(stored.slice(-10)));
      assert.deepEqual(msgids(await query('#paged', { after: at(stored[9]), limit: 5 })), msgids(stored.slice(10, 15)));
      assert.deepEqual(msgids(await query('#paged', { direction: 'backward', before: at(stored[20]), limit: 5 })), msgids(stored.slice(15, 20)));
      // Between two points, whichever end the limit cuts.
      assert.deepEqual(msgids(await query('#paged', { after: at(stored[100]), before: at(stored[110]), limit: 5 })), msgids(stored.slice(101, 106)));
      assert.deepEqual(msgids(await query('#paged', { direction: 'backward', after: at(stored[100]), before: at(stored[110]), limit: 5 })), msgids(stored.slice(105, 110)));
      assert.deepEqual(msgids(await query('#paged', { after: at(stored[100]), before: at(stored[110]) })), msgids(stored.slice(101, 110)));
      assert.deepEqual(await query('#paged', { after: at(stored[449]) }), []);
      assert.deepEqual(await query('#paged', { limit: 0 }), []);
      assert.deepEqual(await query('#nowhere'), []);
    });

    test('history: rows of one millisecond keep their seq order, and a time bound with seq 0 or MAX_SEQ takes or leaves the whole millisecond', async () => {
      // Rows 15, 16 and 17 share the millisecond T + 5.
      const ms = T + 5;
      assert.deepEqual(stored.slice(15, 18).map((item) => item.time), [ms, ms, ms]);
      assert.deepEqual(msgids(await query('#paged', { after: { time: ms, seq: 0 }, limit: 3 })), msgids(stored.slice(15, 18)));
      assert.deepEqual(msgids(await query('#paged', { after: { time: ms, seq: MAX_SEQ }, limit: 1 })), msgids(stored.slice(18, 19)));
      assert.deepEqual(msgids(await query('#paged', { direction: 'backward', before: { time: ms, seq: MAX_SEQ }, limit: 3 })), msgids(stored.slice(15, 18)));
      assert.deepEqual(msgids(await query('#paged', { direction: 'backward', before: { time: ms, seq: 0 }, limit: 1 })), msgids(stored.slice(14, 15)));
      assert.deepEqual(msgids(await query('#paged', { after: { time: ms, seq: 0 }, before: { time: ms, seq: MAX_SEQ } })), msgids(stored.slice(15, 18)));
      // Within the millisecond, by seq.
      assert.deepEqual(msgids(await query('#paged', { after: at(stored[15]), before: { time: ms, seq: MAX_SEQ } })), msgids(stored.slice(16, 18)));
    });

    test('history: notBefore hides what came earlier, and events are left out unless asked for', async () => {
      const kinds: Array<[HistoryCommand, string[]]> = [
        ['JOIN', ['#events']],
        ['PRIVMSG', ['#events', 'hello']],
        ['TOPIC', ['#events', 'new topic']],
        ['TAGMSG', ['#events']],
        ['NOTICE', ['#events', 'note']],
        ['MODE', ['#events', '+o', 'bob']],
        ['KICK', ['#events', 'bob', 'bye']],
        ['PART', ['#events']],
        ['NICK', ['alice2']],
        ['QUIT', ['gone']],
      ];
      const items = kinds.map(([command, params], i) => message('#events', T + i * 10, { command, params }));
      await Promise.all(items.map((item) => store().appendHistory(item)));
      assert.deepEqual((await query('#events')).map((item) => item.command), kinds.map(([command]) => command));
      assert.deepEqual((await query('#events', { events: false })).map((item) => item.command), ['PRIVMSG', 'TAGMSG', 'NOTICE']);
      assert.deepEqual((await query('#events', { events: false, direction: 'backward', limit: 2 })).map((item) => item.command), ['TAGMSG', 'NOTICE']);
      assert.deepEqual((await query('#events', { notBefore: T + 30 })).map((item) => item.command), ['TAGMSG', 'NOTICE', 'MODE', 'KICK', 'PART', 'NICK', 'QUIT']);
      assert.deepEqual((await query('#events', { notBefore: T + 30, events: false, direction: 'backward', limit: 10 })).map((item) => item.command), ['TAGMSG', 'NOTICE']);
      assert.deepEqual(await query('#events', { notBefore: T + 1000 }), []);
    });

    test('history: params, tags, source and account come back as written (unicode, spaces, semicolons, backslashes)', async () => {
      const key = conversationKey(partyKey('alice', 'alice'), partyKey(undefined, 'bob'));
      assert.equal(key, 'a:alice n:bob');
      const tags = new Map([
        ['+draft/reply', 'm00001'],
        ['+draft/react', '👍🏽'],
        ['+example.org/note', 'a value; with spaces;and \\ backslashes \\s'],
        ['+empty', ''],
      ]);
      const rich = message(key, T + 1, {
        params: ['Bob', 'héllo wörld — 日本語 😀 ; :colon  two  spaces', ''],
        tags,
        source: 'Älice!~a@höst.example',
      });
      const bare = message(key, T + 2, { command: 'NOTICE', account: undefined, tags: new Map(), params: ['alice', 'no account'] });
      await Promise.all([store().appendHistory(rich), store().appendHistory(bare)]);
      const [first, second] = await query(key);
      assert.ok(first && second);
      assert.deepEqual(first.params, rich.params);
      assert.deepEqual(first.tags, tags);
      assert.deepEqual([...first.tags.keys()], [...tags.keys()]);
      assert.equal(first.source, 'Älice!~a@höst.example');
      assert.equal(first.account, 'alice');
      assert.equal(first.target, key);
      assert.equal(second.account, undefined);
      assert.equal(second.tags, undefined, 'an empty tag map is stored as none');
      assert.equal(second.command, 'NOTICE');
      assert.deepEqual(await store().findHistory(key, rich.msgid), first);
    });

    test('history: a row is found and deleted by target and msgid (redaction)', async () => {
      const victim = stored[30]!;
      assert.deepEqual(await store().findHistory('#paged', victim.msgid), victim);
      assert.equal(await store().findHistory('#elsewhere', victim.msgid), undefined, 'only in its own target');
      assert.equal(await store().findHistory('#paged', 'no-such-msgid'), undefined);
      assert.equal(await store().deleteHistory('#elsewhere', victim.msgid), false);
      assert.equal(await store().deleteHistory('#paged', victim.msgid), true);
      assert.equal(await store().deleteHistory('#paged', victim.msgid), false);
      assert.equal(await store().findHistory('#paged', victim.msgid), undefined);
      assert.deepEqual(msgids(await query('#paged', { after: at(stored[28]), limit: 3 })), [stored[29]!.msgid, stored[31]!.msgid, stored[32]!.msgid]);
      stored.splice(30, 1);
    });

    test('history: appends of later turns, made while a write runs, are written after it, in order', async () => {
      const first = message('#turns', T + 1);
      const pending = [store().appendHistory(first)];
      await nextTurn();
      // The first group commit has started (or finished); these go into the next one.
      const later = [message('#turns', T + 1), message('#turns', T + 1)];
      for (const item of later) pending.push(store().appendHistory(item));
      await nextTurn();
      const last = message('#turns', T + 1);
      pending.push(store().appendHistory(last));
      await Promise.all(pending);
      assert.deepEqual(msgids(await query('#turns')), [first, ...later, last].map((item) => item.msgid));
    });

    test('history: an append whose msgid is already stored is rejected as a conflict; the rest of its group commit is written', async () => {
      const original = stored[0]!;
      for (const size of [5, 450]) {
        // Small: one INSERT; large: several in one transaction. A msgid twice in the batch: the first one wins.
        const items = Array.from({ length: size }, (_, i) => message(`#dup${String(size)}`, T + i));
        const again = message(`#dup${String(size)}`, T + 1, { msgid: items[1]!.msgid, params: ['#dup', 'the second of a msgid'] });
        const batch = [...items.slice(0, 3), { ...original, target: `#dup${String(size)}`, params: ['#dup', 'impostor'] }, again, ...items.slice(3)];
        const rejected = await outcomes(batch.map((item) => store().appendHistory(item)));
        assert.deepEqual([...rejected.keys()], [3, 4], `size ${String(size)}`);
        for (const error of rejected.values()) assert.ok(error instanceof StoreConflictError, String(error));
        assert.deepEqual(msgids(await query(`#dup${String(size)}`)), items.map((item) => item.msgid));
        assert.equal((await store().findHistory(`#dup${String(size)}`, items[1]!.msgid))?.params[1], items[1]!.params[1]);
      }
      assert.deepEqual(await store().findHistory('#paged', original.msgid), original, 'the stored row is left as it was');
    });

    test('history: a group commit that fails as a whole rejects every append of it with the error, writes none of it, and the next one is written', async () => {
      const good = message('#failing', T + 1);
      // A NOT NULL column given null: the statement fails, and with it the batch (one transaction).
      const broken = message('#failing', T + 2, { source: null as unknown as string });
      const rejected = await outcomes([store().appendHistory(good), store().appendHistory(broken)]);
      assert.deepEqual([...rejected.keys()], [0, 1]);
      assert.equal(rejected.get(0), rejected.get(1), 'the same error for every append of the batch');
      assert.ok(!(rejected.get(0) instanceof StoreConflictError));
      assert.deepEqual(await query('#failing'), []);
      const after = message('#failing', T + 3);
      await store().appendHistory(after);
      assert.deepEqual(msgids(await query('#failing')), [after.msgid]);
    });

    test('history: a time that is not whole milliseconds is refused at once', async () => {
      await assert.rejects(store().appendHistory(message('#bad-time', 1.5)), RangeError);
      await assert.rejects(store().appendHistory(message('#bad-time', Number.NaN)), RangeError);
      assert.deepEqual(await query('#bad-time'), []);
    });

    test('history: targets with messages in a range, among given rooms and a party\'s conversations, newest first', async () => {
      const U = 1_900_000_000_000;
      const carol = partyKey('carol', 'carol');
      const withDave = conversationKey(carol, partyKey(undefined, 'dave'));
      const withErin = conversationKey(partyKey('erin', 'erin'), carol);
      const others = conversationKey('n:x', 'n:y');
      await Promise.all(
        [
          message('#r1', U + 10),
          message('#r1', U + 40),
          message('#r2', U + 20),
          message('#r3', U + 90), // not among the rooms asked for
          message(withDave, U + 30, { command: 'NOTICE' }),
          message(withErin, U + 50),
          message(withErin, U + 60, { command: 'TAGMSG' }), // a reaction does not count
          message('#r2', U + 70, { command: 'JOIN' }), // nor does an event
          message(others, U + 80),
          message('#r2', U + 200), // after the range
          message(withDave, U - 1), // before it
        ].map((item) => store().appendHistory(item)),
      );
      const targets = (rooms: string[], party: string | undefined, limit = 10, from = U, to = U + 100) => store().historyTargets(rooms, party, from, to, limit);
      assert.deepEqual(await targets(['#r1', '#r2'], carol), [
        { target: withErin, latest: U + 50 },
        { target: '#r1', latest: U + 40 },
        { target: withDave, latest: U + 30 },
        { target: '#r2', latest: U + 20 },
      ]);
      assert.deepEqual(await targets(['#r1', '#r2'], carol, 2), [
        { target: withErin, latest: U + 50 },
        { target: '#r1', latest: U + 40 },
      ]);
      assert.deepEqual(await targets([], carol), [
        { target: withErin, latest: U + 50 },
        { target: withDave, latest: U + 30 },
      ]);
      assert.deepEqual(await targets(['#r2', '#r3'], undefined), [
        { target: '#r3', latest: U + 90 },
        { target: '#r2', latest: U + 20 },
      ]);
      // Both ends are inclusive.
      assert.deepEqual(await targets(['#r1', '#r2'], carol, 10, U + 20, U + 30), [
        { target: withDave, latest: U + 30 },
        { target: '#r2', latest: U + 20 },
      ]);
      assert.deepEqual(await targets(['#r2'], undefined, 10, U, U + 1000), [{ target: '#r2', latest: U + 200 }]);
      assert.deepEqual(await targets([], undefined), []);
      assert.deepEqual(await targets(['#r1'], carol, 0), []);
    });

    test('read markers move forward only and are kept per account and target', async () => {
      const carol = await store().createAccount(account('Carol'));
      const dave = await store().createAccount(account('Dave'));
      assert.equal(await store().getReadMarker(carol.id, '#r1'), undefined);
      assert.equal(await store().setReadMarker(carol.id, '#r1', T + 100), T + 100);
      assert.equal(await store().setReadMarker(carol.id, '#r1', T + 50), T + 100, 'an earlier time leaves the marker where it is');
      assert.equal(await store().getReadMarker(carol.id, '#r1'), T + 100);
      assert.equal(await store().setReadMarker(carol.id, '#r1', T + 200), T + 200);
      assert.equal(await store().setReadMarker(carol.id, 'a:carol n:dave', T + 5), T + 5);
      assert.equal(await store().setReadMarker(dave.id, '#r1', T + 1), T + 1);
      assert.equal(await store().getReadMarker(carol.id, '#r1'), T + 200);
      assert.equal(await store().getReadMarker(dave.id, '#r1'), T + 1);
      assert.equal(await store().getReadMarker(carol.id, 'a:carol n:dave'), T + 5);
    });

    test('a room join is recorded once, kept across later joins, and forgotten', async () => {
      const carol = await store().findAccount('carol');
      const dave = await store().findAccount('dave');
      assert.ok(carol && dave);
      assert.equal(await store().roomJoinedAt(carol.id, '#r1'), undefined);
      assert.equal(await store().recordRoomJoin(carol.id, '#r1', T + 10), T + 10);
      assert.equal(await store().recordRoomJoin(carol.id, '#r1', T + 20), T + 10, 'the first join is kept');
      assert.equal(await store().roomJoinedAt(carol.id, '#r1'), T + 10);
      assert.equal(await store().recordRoomJoin(dave.id, '#r1', T + 30), T + 30);
      assert.equal(await store().recordRoomJoin(carol.id, '#r2', T + 40), T + 40);
      await store().forgetRoomJoin(carol.id, '#r1');
      await store().forgetRoomJoin(carol.id, '#never-joined');
      assert.equal(await store().roomJoinedAt(carol.id, '#r1'), undefined);
      assert.equal(await store().roomJoinedAt(dave.id, '#r1'), T + 30);
      assert.equal(await store().recordRoomJoin(carol.id, '#r1', T + 50), T + 50);
    });

    test('history, read markers and room joins survive closing and reopening; appends pending at close() are written first', async () => {
      assert.ok(harness);
      const closing = harness.store;
      const pending = [message('#closing', T + 1), message('#closing', T + 2)];
      const appended = pending.map((item) => closing.appendHistory(item));
      harness.store = await harness.reopen();
      await Promise.all(appended);
      await assert.rejects(closing.appendHistory(message('#closing', T + 3)), /closed/);
      assert.deepEqual(msgids(await query('#closing')), pending.map((item) => item.msgid));
      assert.deepEqual(msgids(await query('#paged')), msgids(stored));
      const carol = await store().findAccount('carol');
      assert.ok(carol);
      assert.equal(await store().getReadMarker(carol.id, '#r1'), T + 200);
      assert.equal(await store().roomJoinedAt(carol.id, '#r1'), T + 50);
    });

    test('deleting an account drops its read markers and room joins, not the history it wrote', async () => {
      const carol = await store().findAccount('carol');
      const dave = await store().findAccount('dave');
      assert.ok(carol && dave);
      assert.equal(await store().deleteAccount('carol'), true);
      assert.equal(await store().getReadMarker(carol.id, '#r1'), undefined);
      assert.equal(await store().getReadMarker(carol.id, 'a:carol n:dave'), undefined);
      assert.equal(await store().roomJoinedAt(carol.id, '#r1'), undefined);
      assert.equal(await store().roomJoinedAt(carol.id, '#r2'), undefined);
      assert.equal(await store().getReadMarker(dave.id, '#r1'), T + 1);
      assert.equal(await store().roomJoinedAt(dave.id, '#r1'), T + 30);
      assert.ok((await query('#r1')).length > 0);
    });

    test('retention: rows older than a time go, then each target keeps only its newest rows', async () => {
      const countAll = async (): Promise<number> => {
        let count = 0;
        for (const target of targetsWritten) count += (await query(target, { limit: 100_000 })).length;
        return count;
      };
      const old = 1_000_000;
      await Promise.all([message('#prune', old), message('#prune', old + 1), message('#prune2', old + 2)].map((item) => store().appendHistory(item)));
      const recent = Array.from({ length: 6 }, (_, i) => message('#prune', T + (i < 3 ? 0 : i)));
      await Promise.all(recent.map((item) => store().appendHistory(item)));
      assert.equal(await store().pruneHistory({}), 0);
      let before = await countAll();
      assert.equal(await store().pruneHistory({ olderThan: old + 2 }), 2);
      assert.equal(await countAll(), before - 2);
      assert.deepEqual((await query('#prune2')).map((item) => item.time), [old + 2], 'olderThan itself is kept');
      assert.equal((await query('#prune')).length, 6);

      before = await countAll();
      const pagedBefore = (await query('#paged')).length;
      const deleted = await store().pruneHistory({ maxPerTarget: 2 });
      assert.equal(await countAll(), before - deleted);
      assert.deepEqual(msgids(await query('#prune')), recent.slice(-2).map((item) => item.msgid));
      assert.deepEqual(msgids(await query('#paged')), msgids(stored.slice(-2)));
      assert.ok(deleted >= pagedBefore - 2 + 4);
      for (const target of targetsWritten) assert.ok((await query(target)).length <= 2, target);

      // Ties in time are broken by seq: the last written of one millisecond is the newest.
      await Promise.all([message('#ties', T), message('#ties', T), message('#ties', T)].map((item) => store().appendHistory(item)));
      const ties = await query('#ties');
      await store().pruneHistory({ maxPerTarget: 1, olderThan: 0 });
      assert.deepEqual(msgids(await query('#ties')), msgids(ties.slice(-1)));
      await assert.rejects(store().pruneHistory({ maxPerTarget: -1 }), RangeError);
    });
  });
}
