/**
 * The upload endpoint of soju.im/FILEHOST (issue 7; soju's doc/ext/filehost.md): POST /uploads with the file as the
 * body, HTTP Basic with the IRC account's name and password (as SASL PLAIN), optional Content-Disposition filename;
 * 201 Created with a Location. OPTIONS tells the types taken (Accept-Post). GET and HEAD serve an upload
 * (/uploads/<id>.<ext>) and its thumbnail (/uploads/<id>/thumb). Limits and files: docs/uploads.md.
 *
 * The order of the checks spares work: the credentials (headers only) and the rate before the body is read, the
 * declared size before it is received (bodyLimit), then the content's real type, then the quota once its stored size
 * is known.
 */
import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { getConnInfo } from '@hono/node-server/conninfo';
import { Hono } from 'hono';
import type { Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { AccountRecord } from '../core/store.js';
import { ACCEPTED_TYPES_TEXT, IMAGE_TYPES, safeFilename, tooLargeText, UploadRateLimiter } from '../core/uploads.js';
import type { NatterServer } from '../net/server.js';
import { prepareImage } from './images.js';
import { UploadLibrary } from './upload-library.js';
import type { SaveResult } from './upload-library.js';

/**
 * Browsers keep an upload for a year (its bytes never change under its id), but only privately: a shared cache
 * would keep serving it after its message, and with it the upload, was deleted.
 */
const CACHE_CONTROL = 'private, max-age=31536000, immutable';
const REALM = 'Basic realm="Natter uploads", charset="UTF-8"';
/** `<id>` or `<id>.<ext>`. */
const UPLOAD_NAME = /^([A-Za-z0-9_-]{22})(?:\.([a-z0-9]{1,8}))?$/;

type Refusal = Response;

function refusal(c: Context, status: 400 | 401 | 403 | 404 | 413 | 415 | 422 | 429 | 500 | 507, message: string, headers: Record<string, string> = {}): Refusal {
  return c.text(message, status, headers);
}

/**
 * A refusal sent before the body was read: the connection closes after it, so the client does not send its next
 * request on a connection still carrying the rest of this body (and the server need not receive it).
 */
function earlyRefusal(c: Context, status: 400 | 401 | 403 | 413 | 429, message: string, headers: Record<string, string> = {}): Refusal {
  return refusal(c, status, message, { ...headers, Connection: 'close' });
}

/** "Basic base64(name:password)"; the password may hold colons, the name may not. */
export function basicCredentials(header: string | undefined): { readonly name: string; readonly password: string } | undefined {
  const match = /^Basic +([A-Za-z0-9+/]+={0,2}) *$/i.exec(header ?? '');
  if (match?.[1] === undefined) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return undefined;
  return { name: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** The file name a client gave in Content-Disposition (RFC 6266): filename* (UTF-8) first, then filename. */
export function dispositionFilename(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const extended = /filename\*\s*=\s*utf-8'[^']*'([^;\s]+)/i.exec(header)?.[1];
  if (extended !== undefined) {
    try {
      return decodeURIComponent(extended);
    } catch {
      // A bad percent-encoding: fall back to the plain filename parameter.
    }
  }
  const quoted = /filename\s*=\s*"((?:[^"\\]|\\.)*)"/i.exec(header)?.[1];
  if (quoted !== undefined) return quoted.replace(/\\(.)/g, '$1');
  return /filename\s*=\s*([^;\s"]+)/i.exec(header)?.[1];
}

/** inline, with an ASCII fallback name and the exact one in filename* (RFC 6266, 4.3). */
function contentDisposition(filename: string): string {
  const ascii = filename.replace(/[^\x20-\x7e]|["\\%]/g, '_');
  const encoded = encodeURIComponent(filename).replace(/['()*]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`);
  return `inline; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}

function remoteAddress(c: Context, natter: NatterServer): string {
  try {
    const { remote } = getConnInfo(c);
    // Behind a trusted balancer (proxy.trusted), the client it names: the upload rate and login throttle are per client.
    return natter.httpClientAddress(remote.address, remote.port, c.req.header('x-forwarded-for')) ?? 'unknown';
  } catch {
    // app.request() in tests has no socket.
    return 'unknown';
  }
}

export function uploadRoutes(natter: NatterServer, library: UploadLibrary): Hono {
  const app = new Hono();
  const rate = new UploadRateLimiter(() => natter.now());
  const settings = (): typeof natter.settings.uploads => natter.settings.uploads;

  /** The account the credentials name, or the refusal; failures count against the same throttle as SASL. */
  const authenticate = async (c: Context): Promise<AccountRecord | Refusal> => {
    const header = c.req.header('authorization');
    if (header === undefined) {
      return earlyRefusal(c, 401, 'Uploads belong to an account: send your account name and password (HTTP Basic). Guests cannot upload; register an account first.', {
        'WWW-Authenticate': REALM,
      });
    }
    const credentials = basicCredentials(header);
    if (credentials === undefined) return earlyRefusal(c, 401, 'Send your account name and password with HTTP Basic authentication', { 'WWW-Authenticate': REALM });
    const throttle = natter.loginThrottle;
    const ip = remoteAddress(c, natter);
    const folded = natter.network.fold(credentials.name);
    const wait = Math.max(throttle.retryAfter(`ip:${ip}`), throttle.retryAfter(`account:${folded}`));
    if (wait > 0) return earlyRefusal(c, 429, `Too many failed logins; try again in ${wait} seconds`, { 'Retry-After': String(wait) });
    const account = await natter.store.findAccount(folded);
    // Verified against a real hash even for an unknown account, so timing does not tell which accounts exist.
    const ok = await natter.auth.verifyPassword(account?.passwordHash, credentials.password);
    if (account === undefined || !ok) {
      throttle.fail(`ip:${ip}`);
      throttle.fail(`account:${folded}`);
      natter.log('warn', { account: folded, mechanism: 'HTTP upload', ip }, 'failed login');
      return earlyRefusal(c, 401, 'Wrong account name or password', { 'WWW-Authenticate': REALM });
    }
    throttle.succeed(`account:${folded}`);
    return account;
  };

  app.options('/', (c) => {
    c.header('Allow', 'OPTIONS, POST');
    c.header('Accept-Post', [...IMAGE_TYPES.keys()].join(', '));
    return c.body(null, 204);
  });

  /** Stores the body received within the size limit; what the handler answers for it. */
  const receive = async (c: Context, account: AccountRecord): Promise<Response> => {
    const body = new Uint8Array(await c.req.arrayBuffer());
    if (body.length === 0) return refusal(c, 415, `The upload is empty: send a ${ACCEPTED_TYPES_TEXT} image as the request body`);
    const prepared = await prepareImage(body);
    if (!prepared.ok) {
      const { kind, message } = prepared.refusal;
      return refusal(c, kind === 'type' ? 415 : kind === 'pixels' ? 413 : 422, message);
    }
    const { image } = prepared;
    let saved: SaveResult;
    try {
      saved = await library.save({
        accountId: account.id,
        image,
        filename: safeFilename(dispositionFilename(c.req.header('content-disposition')), image.ext),
        createdAt: natter.now(),
        quotaBytes: settings().quotaBytes,
      });
    } catch (error) {
      natter.log('error', { kind: 'upload', err: error, account: account.name }, 'upload not stored');
      return refusal(c, 500, 'The upload could not be stored; try again later');
    }
    if (!saved.ok) return refusal(c, 507, saved.message);
    const { upload } = saved;
    // The announced FILEHOST URL is the base, so links in messages match what clients were told.
    const base = natter.settings.fileHost ?? `${new URL(c.req.url).origin}/uploads`;
    const url = `${base}/${UploadLibrary.fileOf(upload)}`;
    natter.log('info', { account: account.name, upload: upload.id, type: upload.mime, bytes: upload.size }, 'upload stored');
    c.header('Location', url);
    return c.json(
      { url, thumbnail: `${base}/${upload.id}/thumb`, type: upload.mime, size: upload.size, width: upload.width, height: upload.height, filename: upload.filename },
      201,
    );
  };

  app.post('/', async (c) => {
    if (!settings().enabled) return earlyRefusal(c, 403, 'Uploads are turned off on this server');
    const account = await authenticate(c);
    if (account instanceof Response) return account;
    const wait = rate.take(account.id, settings().perMinute);
    if (wait > 0) return earlyRefusal(c, 429, `Too many uploads: at most ${settings().perMinute} a minute; try again in ${wait} seconds`, { 'Retry-After': String(wait) });
    const { maxBytes } = settings();
    let stored: Response | undefined;
    // Refused from Content-Length before the body comes, or as soon as a chunked body passes the limit.
    let tooLarge: Response | undefined;
    try {
      // bodyLimit answers a Response when it refuses, nothing when it passed the body on.
      tooLarge = (await bodyLimit({ maxSize: maxBytes, onError: (ctx) => earlyRefusal(ctx, 413, tooLargeText(maxBytes)) })(c, async () => {
        stored = await receive(c, account);
      })) ?? undefined;
    } catch (error) {
      // The client gave up mid-upload (a Cancel, a closed tab): nobody is there to answer, and it is no server fault.
      if (!isClientAbort(error)) throw error;
      return earlyRefusal(c, 400, 'The upload was interrupted before it was complete');
    }
    return tooLarge ?? stored ?? refusal(c, 422, 'The upload was not received');
  });

  const serve = async (c: Context, name: string, thumb: boolean): Promise<Response> => {
    const notFound = (): Response => c.text('No such upload (it may have been deleted)', 404);
    const match = UPLOAD_NAME.exec(name);
    const id = match?.[1];
    if (id === undefined || (thumb && match?.[2] !== undefined)) return notFound();
    const upload = await library.find(id);
    if (upload === undefined) return notFound();
    const ext = IMAGE_TYPES.get(upload.mime);
    if (match?.[2] !== undefined && match[2] !== ext) return notFound();
    const file = thumb ? upload.thumbnail : UploadLibrary.fileOf(upload);
    if (file === null || ext === undefined) return notFound();
    const type = thumb ? `image/${file.slice(file.lastIndexOf('.') + 1)}` : upload.mime;
    const etag = `"${id}${thumb ? '-thumb' : ''}"`;
    // Only what is found may be cached: a 404 gets none of these.
    const cacheable = {
      ETag: etag,
      'Cache-Control': CACHE_CONTROL,
      // Other IRC web clients (another origin) may show the image inline; the default (same-origin) would block them.
      'Cross-Origin-Resource-Policy': 'cross-origin',
    };
    if ((c.req.header('if-none-match') ?? '').split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag)) return c.body(null, 304, cacheable);
    let handle: FileHandle;
    try {
      handle = await open(library.pathOf(file), 'r');
    } catch {
      return notFound();
    }
    let size: number;
    try {
      size = (await handle.stat()).size;
    } catch (error) {
      await handle.close();
      throw error;
    }
    const headers = {
      ...cacheable,
      'Content-Type': type,
      'Content-Length': String(size),
      'Content-Disposition': contentDisposition(thumb ? safeFilename(upload.filename, type.slice('image/'.length)) : upload.filename),
    };
    if (c.req.method === 'HEAD') {
      await handle.close();
      return c.body(null, 200, headers);
    }
    return c.body(Readable.toWeb(handle.createReadStream()), 200, headers);
  };

  app.get('/:id/thumb', (c) => serve(c, c.req.param('id'), true));
  app.get('/:name', (c) => serve(c, c.req.param('name'), false));
  return app;
}

/** The request body's stream failed because the client went away (Node's "aborted", a reset, an abort signal). */
function isClientAbort(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as Error & { code?: unknown }).code;
  return error.message === 'aborted' || error.name === 'AbortError' || code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE';
}
