/**
 * Uploads (issue 7, the soju.im/FILEHOST extension): the rules that need no I/O. Which images are taken, how an
 * upload is named and found again in a message's text, the per-account rate and quota, and the port through which
 * IRC commands delete the uploads of a deleted message or account. The HTTP side (src/http/uploads.ts) and the
 * files on disk (src/http/upload-library.ts) are outside core.
 */

export interface UploadSettings {
  /** Announce soju.im/FILEHOST and take uploads (files already stored are served either way). */
  readonly enabled: boolean;
  /** Largest upload taken, in bytes of the request body. */
  readonly maxBytes: number;
  /** Bytes one account may keep stored (images and thumbnails); 0 for no limit. */
  readonly quotaBytes: number;
  /** Uploads one account may make per minute; 0 for no limit. */
  readonly perMinute: number;
}

/**
 * The image types taken, by the MIME type sniffed from the content (never the client's Content-Type), with the
 * extension their files and URLs get. SVG is not among them: it is a document that can carry scripts.
 */
export const IMAGE_TYPES: ReadonlyMap<string, string> = new Map([
  ['image/jpeg', 'jpg'],
  ['image/png', 'png'],
  ['image/gif', 'gif'],
  ['image/webp', 'webp'],
]);

export const ACCEPTED_TYPES_TEXT = 'JPEG, PNG, GIF or WebP';

/** 128 random bits in base64url: 22 characters. Unguessable, so a URL is as private as the message that carries it. */
const UPLOAD_ID = /^[A-Za-z0-9_-]{22}$/;

export function isUploadId(value: string): boolean {
  return UPLOAD_ID.test(value);
}

/** An upload's URL path: /uploads/<id>, optionally with the extension of its type, and /thumb for its thumbnail. */
const UPLOAD_URL = /\bhttps?:\/\/[^\s/?#]+(?:\/[^\s?#]*?)?\/uploads\/([A-Za-z0-9_-]{22})(?![A-Za-z0-9_-])/g;

/**
 * The upload ids that URLs in a message's text name, once each. Any host matches: the store decides, since ids are
 * unguessable and only the author's own uploads are deleted (the same server may be reached under several names).
 */
export function uploadIdsIn(text: string): string[] {
  const ids = new Set<string>();
  for (const match of text.matchAll(UPLOAD_URL)) if (match[1] !== undefined) ids.add(match[1]);
  return [...ids];
}

/** "10 MiB", "512 KiB", "900 bytes": limits said the way the configuration gives them. */
export function formatBytes(bytes: number): string {
  const units = ['GiB', 'MiB', 'KiB'] as const;
  for (let i = 0; i < units.length; i++) {
    const size = 1024 ** (units.length - i);
    if (bytes >= size) {
      const value = bytes / size;
      return `${Number.isInteger(value) ? String(value) : value.toFixed(1)} ${units[i]!}`;
    }
  }
  return `${bytes} bytes`;
}

export function tooLargeText(maxBytes: number): string {
  return `The file is too large: uploads may be at most ${formatBytes(maxBytes)}`;
}

/** Why storing `adding` more bytes would pass the account's quota, or undefined when it fits. */
export function quotaRefusal(used: number, adding: number, quotaBytes: number): string | undefined {
  if (quotaBytes === 0 || used + adding <= quotaBytes) return undefined;
  return (
    `Upload quota exceeded: your uploads use ${formatBytes(used)} of ${formatBytes(quotaBytes)} and this one needs ${formatBytes(adding)}; ` +
    'delete messages with pictures you no longer need to make room'
  );
}

/**
 * A safe name for Content-Disposition: the last path segment of what the client gave, printable characters only,
 * no quotes or backslashes, at most 100 characters, always ending in the extension of the type really stored.
 */
export function safeFilename(given: string | undefined, ext: string): string {
  const base = (given ?? '').split(/[/\\]/).at(-1) ?? '';
  const cleaned = base
    .normalize('NFC')
    .replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}"\\]/gu, '')
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/^\.+/, '');
  const stem = cleaned.replace(/\.[^.]*$/, '').slice(0, 100 - ext.length - 1).trim();
  return `${stem === '' ? 'image' : stem}.${ext}`;
}

/**
 * Uploads per account per minute, over a sliding window. Memory is bounded: accounts with nothing in the window are
 * swept as new ones come.
 */
export class UploadRateLimiter {
  private readonly recent = new Map<number, number[]>();

  constructor(private readonly now: () => number) {}

  /** Seconds before this account may upload again (0: it may now, and this upload is counted). */
  take(accountId: number, perMinute: number): number {
    if (perMinute === 0) return 0;
    const now = this.now();
    const times = (this.recent.get(accountId) ?? []).filter((time) => now - time < 60_000);
    if (times.length >= perMinute) {
      this.recent.set(accountId, times);
      return Math.max(1, Math.ceil((times[0]! + 60_000 - now) / 1000));
    }
    if (!this.recent.has(accountId) && this.recent.size > 10_000) this.sweep(now);
    times.push(now);
    this.recent.set(accountId, times);
    return 0;
  }

  private sweep(now: number): void {
    for (const [key, times] of this.recent) if (times.every((time) => now - time >= 60_000)) this.recent.delete(key);
  }
}

/**
 * What IRC commands need of the upload store: deleting the uploads that go with a deleted message or account.
 * Implementations never reject: a failure is logged, and the deletion that caused it stands.
 */
export interface UploadJanitor {
  /** Deletes the uploads whose URLs `text` carries and that belong to the account (casefolded name); resolves to how many. */
  deleteLinkedUploads(text: string, accountFolded: string): Promise<number>;
  /** Deletes every upload of the account, before the account itself goes; resolves to how many. */
  deleteAccountUploads(accountId: number): Promise<number>;
}
