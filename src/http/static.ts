/**
 * The built web client (web/dist) as static files. Vite names everything under assets/ after its content, so
 * those are cached for a year and never revalidated; everything else (index.html, the emoji data, the icon)
 * is revalidated on every use with a weak ETag, answered 304 when unchanged. emoji-picker-element also reads
 * the ETag of its data (a HEAD request) to know whether its IndexedDB copy is current. Written here because
 * @hono/node-server's serveStatic sets no ETag and answers no conditional request, and hono's etag middleware hashes
 * the body, so a HEAD would get none.
 */
import { readFile, stat } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import type { MiddlewareHandler } from 'hono';
import { getMimeType } from 'hono/utils/mime';

const IMMUTABLE = 'public, max-age=31536000, immutable';
const REVALIDATE = 'no-cache';

interface Found {
  readonly path: string;
  /** Relative to the root, with "/" separators: "index.html", "assets/index-Dc7HxGbg.js". */
  readonly relative: string;
  readonly size: number;
  readonly mtime: Date;
}

/** The file a URL path names under `root`, or undefined: nothing outside the root, no dotfiles, no odd encodings. */
async function findFile(root: string, urlPath: string): Promise<Found | undefined> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return undefined;
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return undefined;
  const segments = decoded.split('/').filter((segment) => segment !== '');
  if (segments.some((segment) => segment.startsWith('.'))) return undefined;
  let path = join(root, ...segments);
  if (path !== root && !path.startsWith(root + sep)) return undefined;
  try {
    let stats = await stat(path);
    if (stats.isDirectory()) {
      path = join(path, 'index.html');
      segments.push('index.html');
      stats = await stat(path);
    }
    if (!stats.isFile()) return undefined;
    return { path, relative: segments.join('/'), size: stats.size, mtime: stats.mtime };
  } catch {
    return undefined;
  }
}

function etagOf(file: Found): string {
  return `W/"${file.size.toString(16)}-${Math.trunc(file.mtime.getTime()).toString(16)}"`;
}

/** If-None-Match compares weakly (RFC 9110, 13.1.2): W/"x" and "x" are the same. */
function matches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false;
  const bare = (tag: string): string => tag.trim().replace(/^W\//, '');
  return ifNoneMatch.split(',').some((tag) => tag.trim() === '*' || bare(tag) === bare(etag));
}

export function staticFiles(root: string): MiddlewareHandler {
  const base = resolve(root);
  return async (c, next) => {
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD') {
      await next();
      return;
    }
    const file = await findFile(base, c.req.path);
    if (file === undefined) {
      await next();
      return;
    }
    const etag = etagOf(file);
    const headers: Record<string, string> = {
      'Content-Type': getMimeType(file.path) ?? 'application/octet-stream',
      'Cache-Control': file.relative.startsWith('assets/') ? IMMUTABLE : REVALIDATE,
      ETag: etag,
      'Last-Modified': file.mtime.toUTCString(),
    };
    if (matches(c.req.header('If-None-Match'), etag)) return c.body(null, 304, headers);
    if (c.req.method === 'HEAD') return c.body(null, 200, { ...headers, 'Content-Length': String(file.size) });
    // The client's files are small (the largest, the emoji data, is about 440 kB before compression).
    const bytes = await readFile(file.path);
    return c.body(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), 200, headers);
  };
}
