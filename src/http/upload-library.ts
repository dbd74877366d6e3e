/**
 * Where uploads live (issue 7): the files in the data folder's uploads/ (`<id>.<ext>` and `<id>.thumb.webp`, ids of
 * 128 random bits), their rows in the store. Rows are written after the files and deleted before them, so a row
 * always has its files, and a GET after a deletion is a 404 even if a file lingers.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AccountStore, UploadRecord, UploadStore } from '../core/store.js';
import { IMAGE_TYPES, quotaRefusal, uploadIdsIn } from '../core/uploads.js';
import type { UploadJanitor } from '../core/uploads.js';
import type { PreparedImage } from './images.js';

export type SaveResult = { readonly ok: true; readonly upload: UploadRecord } | { readonly ok: false; readonly message: string };

export interface NewUpload {
  readonly accountId: number;
  readonly image: PreparedImage;
  readonly filename: string;
  readonly createdAt: number;
  /** 0 for no limit. */
  readonly quotaBytes: number;
}

export class UploadLibrary implements UploadJanitor {
  /** Per account, the tail of its queue of quota checks and saves, so two uploads at once cannot both fit. */
  private readonly queues = new Map<number, Promise<unknown>>();

  constructor(
    private readonly store: UploadStore & Pick<AccountStore, 'findAccount'>,
    /** The uploads folder, made on the first upload. */
    readonly dir: string,
    private readonly onError: (error: unknown, what: string) => void,
  ) {}

  /** The image's file name: its id and the extension of its type. */
  static fileOf(upload: UploadRecord): string {
    return `${upload.id}.${IMAGE_TYPES.get(upload.mime) ?? 'bin'}`;
  }

  pathOf(name: string): string {
    return join(this.dir, name);
  }

  find(id: string): Promise<UploadRecord | undefined> {
    return this.store.findUpload(id);
  }

  /** Stores the image and its thumbnail for the account, unless that would pass its quota. */
  save(upload: NewUpload): Promise<SaveResult> {
    return this.exclusive(upload.accountId, async () => {
      const { image } = upload;
      const bytes = image.data.length + image.thumbnail.length;
      const refusal = quotaRefusal(await this.store.uploadUsage(upload.accountId), bytes, upload.quotaBytes);
      if (refusal !== undefined) return { ok: false, message: refusal };
      const id = randomBytes(16).toString('base64url');
      const record: UploadRecord = {
        id,
        accountId: upload.accountId,
        mime: image.mime,
        size: image.data.length,
        width: image.width,
        height: image.height,
        filename: upload.filename,
        thumbnail: `${id}.thumb.${image.thumbnailExt}`,
        thumbnailSize: image.thumbnail.length,
        createdAt: upload.createdAt,
      };
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      try {
        // 'wx': never over an existing file, even if 128 random bits were to repeat.
        await writeFile(this.pathOf(UploadLibrary.fileOf(record)), image.data, { flag: 'wx', mode: 0o600 });
        await writeFile(this.pathOf(record.thumbnail!), image.thumbnail, { flag: 'wx', mode: 0o600 });
        await this.store.addUpload(record);
      } catch (error) {
        await this.removeFiles(record);
        throw error;
      }
      return { ok: true, upload: record };
    });
  }

  /** Deletes an upload of the account: its row, then its files. False when it is not the account's (or gone). */
  async delete(id: string, accountId: number): Promise<boolean> {
    const upload = await this.store.findUpload(id);
    if (upload?.accountId !== accountId) return false;
    if (!(await this.store.deleteUpload(id, accountId))) return false;
    await this.removeFiles(upload);
    return true;
  }

  async deleteLinkedUploads(text: string, accountFolded: string): Promise<number> {
    try {
      const ids = uploadIdsIn(text);
      if (ids.length === 0) return 0;
      const account = await this.store.findAccount(accountFolded);
      if (account === undefined) return 0;
      let deleted = 0;
      for (const id of ids) if (await this.delete(id, account.id)) deleted++;
      return deleted;
    } catch (error) {
      this.onError(error, 'uploads of a deleted message not deleted');
      return 0;
    }
  }

  async deleteAccountUploads(accountId: number): Promise<number> {
    try {
      let deleted = 0;
      for (const upload of await this.store.listUploads(accountId)) if (await this.delete(upload.id, accountId)) deleted++;
      return deleted;
    } catch (error) {
      this.onError(error, 'uploads of a deleted account not deleted');
      return 0;
    }
  }

  private async removeFiles(upload: UploadRecord): Promise<void> {
    const names = [UploadLibrary.fileOf(upload), ...(upload.thumbnail === null ? [] : [upload.thumbnail])];
    for (const name of names) {
      try {
        await rm(this.pathOf(name), { force: true });
      } catch (error) {
        this.onError(error, `upload file ${name} not deleted`);
      }
    }
  }

  private exclusive<T>(accountId: number, run: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(accountId) ?? Promise.resolve();
    const result = previous.then(run, run);
    const tail = result.catch(() => undefined);
    this.queues.set(accountId, tail);
    void tail.then(() => {
      if (this.queues.get(accountId) === tail) this.queues.delete(accountId);
    });
    return result;
  }
}
