/** The UploadStore part of the store conformance suite (issue 7): run by store-suite.ts on SQLite and PostgreSQL. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Store, UploadRecord } from '../../src/core/store.js';
import { StoreConflictError } from '../../src/core/store.js';

type SuiteTest = (title: string, body: () => Promise<void>) => void;

async function newAccount(store: Store, name: string): Promise<number> {
  const account = await store.createAccount({
    name,
    nameFolded: name.toLowerCase(),
    passwordHash: `$argon2id$fake$${name}`,
    scram: { salt: 'c2FsdA==', iterations: 4096, storedKey: `stored-${name}`, serverKey: `server-${name}` },
    createdAt: 1_700_000_000_000,
  });
  return account.id;
}

function upload(accountId: number, overrides: Partial<UploadRecord> = {}): UploadRecord {
  const id = randomBytes(16).toString('base64url');
  return {
    id,
    accountId,
    mime: 'image/png',
    size: 1234,
    width: 640,
    height: 480,
    filename: 'café "photo".png',
    thumbnail: `${id}.thumb.webp`,
    thumbnailSize: 56,
    createdAt: 1_700_000_000_000,
    ...overrides,
  };
}

export function runUploadStoreTests(test: SuiteTest, store: () => Store): void {
  test('uploads: a row is added, found by id and listed per account oldest first, as written', async () => {
    const owner = await newAccount(store(), 'UploadOwner');
    const other = await newAccount(store(), 'UploadOther');
    const first = upload(owner, { createdAt: 1_700_000_000_001 });
    const second = upload(owner, { createdAt: 1_700_000_000_002, mime: 'image/gif', thumbnail: null, thumbnailSize: 0 });
    const theirs = upload(other);
    await store().addUpload(second);
    await store().addUpload(first);
    await store().addUpload(theirs);
    assert.deepEqual(await store().findUpload(first.id), first);
    assert.deepEqual(await store().findUpload(second.id), second, 'a missing thumbnail reads back as null');
    assert.equal(await store().findUpload(randomBytes(16).toString('base64url')), undefined);
    assert.deepEqual(await store().listUploads(owner), [first, second]);
    assert.deepEqual(await store().listUploads(other), [theirs]);
    await assert.rejects(store().addUpload({ ...first, accountId: other }), StoreConflictError, 'an id is never reused');
  });

  test('uploads: usage sums images and thumbnails per account, past 32 bits', async () => {
    const heavy = await newAccount(store(), 'UploadHeavy');
    assert.equal(await store().uploadUsage(heavy), 0, 'no uploads use nothing');
    await store().addUpload(upload(heavy, { size: 3_000_000_000, thumbnailSize: 1000, createdAt: 1_700_000_000_001 }));
    await store().addUpload(upload(heavy, { size: 2_500_000_000, thumbnailSize: 24, createdAt: 1_700_000_000_002 }));
    const usage = await store().uploadUsage(heavy);
    assert.equal(typeof usage, 'number');
    assert.equal(usage, 5_500_001_024);
    assert.equal((await store().listUploads(heavy))[0]?.size, 3_000_000_000, 'sizes past 2^31 read back as numbers');
  });

  test("uploads: a row is deleted only by its account's id; deleting an account drops its rows", async () => {
    const owner = await newAccount(store(), 'UploadDeleter');
    const stranger = await newAccount(store(), 'UploadStranger');
    const kept = upload(owner);
    const gone = upload(owner);
    await store().addUpload(kept);
    await store().addUpload(gone);
    assert.equal(await store().deleteUpload(gone.id, stranger), false, "another account's upload is not deleted");
    assert.ok(await store().findUpload(gone.id));
    assert.equal(await store().deleteUpload(gone.id, owner), true);
    assert.equal(await store().deleteUpload(gone.id, owner), false, 'a second delete finds nothing');
    assert.equal(await store().findUpload(gone.id), undefined);
    assert.equal(await store().uploadUsage(owner), kept.size + kept.thumbnailSize);
    assert.ok(await store().deleteAccount('uploaddeleter'));
    assert.equal(await store().findUpload(kept.id), undefined, 'the rows go with the account');
    assert.deepEqual(await store().listUploads(owner), []);
  });
}
