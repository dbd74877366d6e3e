/**
 * The ViewOnceStore part of the store conformance suite (issue 7, docs/extensions/view-once.md): run by
 * store-suite.ts on SQLite and PostgreSQL. Content is released to each recipient once, and nothing of a message is
 * left once its last recipient opened it or it expired.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Store } from '../../src/core/store.js';
import { StoreConflictError } from '../../src/core/store.js';
import type { NewViewOnce } from '../../src/core/view-once.js';

type SuiteTest = (title: string, body: () => Promise<void>) => void;

const T = 1_900_000_000_000;
const DAY = 86_400_000;
/** Far enough in the future that every message has expired: a sweep then deletes whatever is left. */
const END_OF_TIME = Number.MAX_SAFE_INTEGER;

function viewOnce(recipients: readonly string[], overrides: Partial<NewViewOnce> = {}): NewViewOnce {
  return {
    msgid: `vo-${randomBytes(6).toString('hex')}`,
    time: T,
    expiresAt: T + 7 * DAY,
    command: 'PRIVMSG',
    source: 'alice!a@example.org',
    account: 'Alice',
    room: '#Room',
    text: 'the secret: unicode ✓, spaces, ;semicolons; and \\backslashes',
    tags: new Map([['+draft/reply', 'parent-1']]),
    recipients,
    ...overrides,
  };
}

export function runViewOnceStoreTests(test: SuiteTest, store: () => Store, reopen: () => Promise<void>): void {
  /** Whether a sweep at the end of time still finds the message: if not, no row of it is left. */
  const isLeft = async (msgid: string): Promise<boolean> => (await store().sweepViewOnce(END_OF_TIME)).some((gone) => gone.msgid === msgid);

  test('view-once: each recipient opens the message once; the last opening deletes it; others get nothing', async () => {
    const message = viewOnce(['a:1', 'a:2', 'a:2', 'g:x:7']);
    await store().createViewOnce(message);
    assert.equal(await store().openViewOnce(message.msgid, 'a:3', T + 1), undefined, 'not a recipient');
    assert.equal(await store().openViewOnce('vo-unknown', 'a:1', T + 1), undefined, 'an unknown msgid');

    const first = await store().openViewOnce(message.msgid, 'a:1', T + 1);
    assert.ok(first);
    assert.equal(first.last, false);
    const { recipients: _recipients, ...record } = message;
    assert.deepEqual(first.message, record, 'everything comes back as written');
    assert.equal(await store().openViewOnce(message.msgid, 'a:1', T + 2), undefined, 'a second opening gets nothing');

    // The duplicate recipient counts once.
    assert.equal((await store().openViewOnce(message.msgid, 'a:2', T + 3))?.last, false);
    const last = await store().openViewOnce(message.msgid, 'g:x:7', T + 4);
    assert.equal(last?.last, true);
    assert.equal(last.message.text, message.text);
    assert.equal(await store().openViewOnce(message.msgid, 'a:2', T + 5), undefined);
    assert.equal(await isLeft(message.msgid), false, 'no row of it is left');
  });

  test('view-once: pending messages are listed per recipient, oldest first, without content, until opened or expired', async () => {
    const older = viewOnce(['a:10', 'a:11'], { time: T - 5, room: undefined, account: undefined, tags: undefined, command: 'NOTICE' });
    const newer = viewOnce(['a:10'], { time: T });
    const short = viewOnce(['a:10'], { time: T + 1, expiresAt: T + 100 });
    for (const message of [newer, short, older]) await store().createViewOnce(message);
    const pending = await store().pendingViewOnce('a:10', T + 2, 10);
    assert.deepEqual(
      pending.map((item) => item.msgid),
      [older.msgid, newer.msgid, short.msgid],
    );
    assert.ok(pending.every((item) => !('text' in item)), 'a pending message has no content');
    assert.deepEqual(pending[0], { msgid: older.msgid, time: T - 5, expiresAt: older.expiresAt, command: 'NOTICE', source: older.source, account: undefined, room: undefined, tags: undefined });
    assert.deepEqual(pending[1]?.tags, newer.tags);
    assert.equal(pending[1]?.room, '#Room');
    assert.deepEqual((await store().pendingViewOnce('a:10', T + 2, 2)).map((item) => item.msgid), [older.msgid, newer.msgid], 'limit');
    assert.deepEqual(await store().pendingViewOnce('a:10', T + 2, 0), []);
    assert.deepEqual((await store().pendingViewOnce('a:11', T + 2, 10)).map((item) => item.msgid), [older.msgid], 'each recipient sees its own');
    assert.deepEqual((await store().pendingViewOnce('a:10', T + 100, 10)).map((item) => item.msgid), [older.msgid, newer.msgid], 'an expired message is not pending');
    await store().openViewOnce(newer.msgid, 'a:10', T + 3);
    assert.deepEqual((await store().pendingViewOnce('a:10', T + 3, 10)).map((item) => item.msgid), [older.msgid, short.msgid], 'an opened message is not pending');
    assert.deepEqual(await store().pendingViewOnce('a:nobody', T, 10), []);
    const gone = (await store().sweepViewOnce(END_OF_TIME)).map((item) => item.msgid);
    assert.ok(gone.includes(older.msgid) && gone.includes(short.msgid) && !gone.includes(newer.msgid), 'the opened one was already gone');
  });

  test('view-once: an expired message is never released, and the sweep deletes it with its recipients', async () => {
    const message = viewOnce(['a:20', 'a:21'], { expiresAt: T + 1000 });
    const lasting = viewOnce(['a:20'], { expiresAt: T + 5000 });
    await store().createViewOnce(message);
    await store().createViewOnce(lasting);
    assert.equal(await store().openViewOnce(message.msgid, 'a:20', T + 1000), undefined, 'expiresAt itself is expired');
    assert.deepEqual(await store().sweepViewOnce(T + 999), [], 'nothing has expired yet');
    assert.deepEqual(await store().sweepViewOnce(T + 1000), [{ msgid: message.msgid, account: 'Alice', text: message.text }]);
    assert.deepEqual(await store().sweepViewOnce(T + 1000), [], 'swept once');
    assert.equal(await store().openViewOnce(message.msgid, 'a:21', T + 10), undefined, 'gone even for a time before it expired');
    assert.deepEqual((await store().pendingViewOnce('a:20', T, 10)).map((item) => item.msgid), [lasting.msgid]);
    assert.equal((await store().openViewOnce(lasting.msgid, 'a:20', T + 4999))?.last, true);
  });

  test('view-once: two openings racing for one recipient release it once; racing recipients each get it, and it goes', async () => {
    const message = viewOnce(['a:30', 'a:31', 'a:32', 'a:33']);
    await store().createViewOnce(message);
    const twice = await Promise.all([store().openViewOnce(message.msgid, 'a:30', T), store().openViewOnce(message.msgid, 'a:30', T)]);
    assert.equal(twice.filter((opened) => opened !== undefined).length, 1, 'one device of the recipient gets it');
    const others = await Promise.all(['a:31', 'a:32', 'a:33'].map((recipient) => store().openViewOnce(message.msgid, recipient, T)));
    assert.ok(others.every((opened) => opened?.message.text === message.text), 'every other recipient gets it');
    assert.equal(others.filter((opened) => opened?.last === true).length, 1, 'exactly one of them is the last');
    assert.equal(await isLeft(message.msgid), false);
  });

  test('view-once: a msgid already kept is a conflict; no recipient, or a time that is not whole milliseconds, is refused', async () => {
    const message = viewOnce(['a:40']);
    await store().createViewOnce(message);
    await assert.rejects(store().createViewOnce({ ...message, text: 'another' }), StoreConflictError);
    assert.equal((await store().openViewOnce(message.msgid, 'a:40', T))?.message.text, message.text, 'the first one is kept as it was');
    await assert.rejects(store().createViewOnce(viewOnce([])), RangeError);
    await assert.rejects(store().createViewOnce(viewOnce(['a:40'], { time: T + 0.5 })), RangeError);
    await assert.rejects(store().createViewOnce(viewOnce(['a:40'], { expiresAt: Number.NaN })), RangeError);
  });

  test('view-once: a message with many recipients is kept whole, and survives closing and reopening the store', async () => {
    const recipients = Array.from({ length: 2500 }, (_, i) => `a:${String(1000 + i)}`);
    const message = viewOnce(recipients);
    await store().createViewOnce(message);
    await reopen();
    assert.deepEqual((await store().pendingViewOnce('a:3499', T, 10)).map((item) => item.msgid), [message.msgid]);
    assert.equal((await store().openViewOnce(message.msgid, 'a:1000', T))?.message.text, message.text);
    const gone = await store().sweepViewOnce(END_OF_TIME);
    assert.deepEqual(
      gone.filter((item) => item.msgid === message.msgid),
      [{ msgid: message.msgid, account: 'Alice', text: message.text }],
    );
    assert.deepEqual(await store().pendingViewOnce('a:3499', T, 10), [], 'its recipients went with it');
  });
}
