/**
 * Picture uploads (issue 7, docs/uploads.md): the POST to the server's soju.im/FILEHOST endpoint, and recognising the
 * URLs of its uploads in messages.
 *
 * The page only ever talks to its own origin (the CSP allows connect-src and img-src 'self'), so it uploads to
 * `uploads` beside the page, whatever URL the server announces, and shows inline only uploads of this origin; any
 * other picture stays a link. XMLHttpRequest rather than fetch: fetch reports no upload progress.
 */

/** The upload endpoint beside the page (relative, like /irc, so a reverse proxy may serve Natter under a path). */
export function uploadEndpoint(location: Location): string {
  const url = new URL('uploads', location.href);
  url.hash = '';
  url.search = '';
  return url.href;
}

export interface UploadCredentials {
  readonly account: string;
  readonly password: string;
}

/** What a 201 says: where the upload is (the JSON body's url, else the Location). */
export interface Uploaded {
  readonly url: string;
}

/** A refused or failed upload; the message is the server's own words when it gave some (refusals are plain text). */
export class UploadError extends Error {
  constructor(
    message: string,
    /** The HTTP status, 0 for a network failure, -1 when cancelled. */
    readonly status: number,
  ) {
    super(message);
    this.name = 'UploadError';
  }
}

/** The types the server takes (OPTIONS Accept-Post): the file picker's accept list. */
export const ACCEPTED_IMAGE_TYPES = ['image/jpeg', 'image/png', 'image/gif', 'image/webp'] as const;

/** HTTP Basic of account:password, UTF-8 (RFC 7617 charset="UTF-8"; the server decodes UTF-8). */
export function basicAuthorization({ account, password }: UploadCredentials): string {
  const bytes = new TextEncoder().encode(`${account}:${password}`);
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return `Basic ${btoa(binary)}`;
}

/** attachment, with an ASCII fallback name and the exact one in filename* (RFC 6266). */
export function dispositionOf(filename: string): string {
  const ascii = filename.replace(/[^\x20-\x7e]|["\\%]/g, '_');
  const encoded = encodeURIComponent(filename).replace(/['()*]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}

/** What a refusal says, from the status when the server gave no text. */
function refusalText(status: number, body: string): string {
  const text = body.trim();
  if (text !== '' && text.length < 500 && !text.startsWith('<')) return text;
  switch (status) {
    case 401:
      return 'Uploads belong to an account: sign in with one to send pictures';
    case 413:
      return 'The file is too large';
    case 415:
      return 'Only JPEG, PNG, GIF or WebP images can be uploaded';
    case 429:
      return 'Too many uploads: try again in a minute';
    case 507:
      return 'Upload quota exceeded';
    default:
      return `The upload failed (HTTP ${String(status)})`;
  }
}

export interface UploadTask {
  readonly done: Promise<Uploaded>;
  /** Aborts the request; `done` rejects with an UploadError of status -1. */
  cancel(): void;
}

/** POSTs one file; `onProgress` gets the fraction sent (0 to 1) as the body goes out. */
export function uploadFile(endpoint: string, file: Blob & { readonly name?: string }, credentials: UploadCredentials, onProgress: (fraction: number) => void): UploadTask {
  const xhr = new XMLHttpRequest();
  const done = new Promise<Uploaded>((resolve, reject) => {
    xhr.open('POST', endpoint);
    xhr.setRequestHeader('Authorization', basicAuthorization(credentials));
    if (file.type !== '') xhr.setRequestHeader('Content-Type', file.type);
    if (file.name !== undefined && file.name !== '') xhr.setRequestHeader('Content-Disposition', dispositionOf(file.name));
    xhr.responseType = 'text';
    xhr.upload.addEventListener('progress', (event) => {
      if (event.lengthComputable && event.total > 0) onProgress(event.loaded / event.total);
    });
    xhr.addEventListener('load', () => {
      if (xhr.status !== 201) {
        reject(new UploadError(refusalText(xhr.status, xhr.responseText), xhr.status));
        return;
      }
      let url: string | undefined;
      try {
        const parsed: unknown = JSON.parse(xhr.responseText);
        const value: unknown = typeof parsed === 'object' && parsed !== null ? Reflect.get(parsed, 'url') : undefined;
        if (typeof value === 'string') url = value;
      } catch {
        // soju's extension only promises the Location.
      }
      const location = xhr.getResponseHeader('Location');
      url ??= location === null ? undefined : new URL(location, endpoint).href;
      if (url === undefined) reject(new UploadError('The server did not say where the upload is', xhr.status));
      else resolve({ url });
    });
    xhr.addEventListener('error', () => {
      reject(new UploadError('The upload failed: the server could not be reached', 0));
    });
    xhr.addEventListener('abort', () => {
      reject(new UploadError('Upload cancelled', -1));
    });
    xhr.send(file);
  });
  return {
    done,
    cancel() {
      xhr.abort();
    },
  };
}

/** An upload of this server, as found in a message: the full image and its thumbnail. */
export interface UploadLink {
  readonly id: string;
  readonly full: string;
  readonly thumbnail: string;
}

/** `<id>.<ext>` under the uploads folder beside the page (the path the server serves; docs/uploads.md). */
const UPLOAD_FILE = /^([A-Za-z0-9_-]{22})\.(?:jpe?g|png|gif|webp)$/;

/**
 * The upload a link points to when it is one of this server's, on the page's own origin (anything else could not be
 * loaded under the CSP, and would tell another site who reads the message); undefined otherwise.
 */
export function uploadLink(href: string, location: Location): UploadLink | undefined {
  let url: URL;
  try {
    url = new URL(href);
  } catch {
    return undefined;
  }
  const base = new URL(uploadEndpoint(location));
  if (url.origin !== base.origin || url.search !== '' || !url.pathname.startsWith(`${base.pathname}/`)) return undefined;
  const id = UPLOAD_FILE.exec(url.pathname.slice(base.pathname.length + 1))?.[1];
  if (id === undefined) return undefined;
  return { id, full: `${base.href}/${url.pathname.slice(base.pathname.length + 1)}`, thumbnail: `${base.href}/${id}/thumb` };
}
