/**
 * Uploads (issue 7, soju.im/FILEHOST) over a real server with HTTP on port 0 and real image files made here with
 * sharp: the ISUPPORT token, POST with the account's credentials answered 201 with a Location, metadata stripped,
 * a thumbnail, the refusals (SVG, too large, guests, quota, rate), and deletion with the message (REDACT) or the
 * account (NickServ DROP).
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { deleteAccount } from '../src/cli/account.js';
import { createAccount } from '../src/core/accounts.js';
import { formatBytes, safeFilename, UploadRateLimiter, uploadIdsIn } from '../src/core/uploads.js';
import { basicCredentials, dispositionFilename } from '../src/http/uploads.js';
import type { ConfigFile } from '../src/config/schema.js';
import { TestClient } from './helpers/client.js';
import { join as joinRoom } from './helpers/clients.js';
import { loggedInWithCaps } from './helpers/login.js';
import { startTestServer } from './helpers/server.js';
import type { TestServer } from './helpers/server.js';

const PASSWORD = 'correct-horse-battery';
const MAX_BYTES = 256 * 1024;
const QUOTA_BYTES = 300 * 1024;
const PER_MINUTE = 4;

function basic(account: string, password = PASSWORD): string {
  return `Basic ${Buffer.from(`${account}:${password}`).toString('base64')}`;
}

/** A JPEG as a phone makes it: EXIF with the camera and the author, and an orientation saying "turn me 90°". */
function phoneJpeg(): Promise<Buffer> {
  return sharp({ create: { width: 64, height: 32, channels: 3, background: '#c33' } })
    .jpeg()
    .withMetadata({ orientation: 6 })
    .withExif({ IFD0: { Make: 'AcmePhone', Model: 'Spy 3000', Artist: 'Jane Secret' } })
    .toBuffer();
}

function solidPng(width: number, height: number): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 4, background: '#3c3' } }).png().toBuffer();
}

/** Random pixels: PNG cannot compress them, so the stored size stays near width * height * 3. */
function noisePng(width: number, height: number): Promise<Buffer> {
  const pixels = Buffer.alloc(width * height * 3);
  for (let i = 0; i < pixels.length; i++) pixels[i] = Math.floor(Math.random() * 256);
  return sharp(pixels, { raw: { width, height, channels: 3 } }).png({ compressionLevel: 0 }).toBuffer();
}

const SVG = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script><rect width="10" height="10"/></svg>');

/** The 005 tokens of a fresh client's welcome burst. */
async function isupportOf(port: number, nick: string): Promise<string[]> {
  const client = await TestClient.connect(port);
  try {
    client.send(`NICK ${nick}`);
    client.send(`USER ${nick} 0 * :${nick}`);
    await client.expect((m) => m.command === '376' || m.command === '422');
    return client.drain().filter((m) => m.command === '005').flatMap((m) => m.params.slice(1, -1));
  } finally {
    client.close();
  }
}

describe('uploads: soju.im/FILEHOST', () => {
  let server: TestServer;
  let origin: string;
  let uploadsDir: string;
  const accounts = new Set<string>();

  /** An account of its own for each test: the quota and the rate are per account. */
  const account = async (name: string): Promise<string> => {
    if (!accounts.has(name)) await createAccount(server.server.network, server.store, server.server.auth, name, PASSWORD);
    accounts.add(name);
    return name;
  };

  const post = (body: Buffer, headers: Record<string, string>): Promise<Response> => fetch(`${origin}/uploads`, { method: 'POST', body, headers });

  const uploadAs = async (name: string, body: Buffer, headers: Record<string, string> = {}): Promise<{ response: Response; location: string }> => {
    const response = await post(body, { authorization: basic(await account(name)), 'content-type': 'application/octet-stream', ...headers });
    return { response, location: response.headers.get('location') ?? '' };
  };

  const idOf = (location: string): string => /\/uploads\/([A-Za-z0-9_-]{22})/.exec(location)?.[1] ?? assert.fail(`no upload id in ${location}`);
  const filesOf = (id: string): string[] => (existsSync(uploadsDir) ? readdirSync(uploadsDir).filter((name) => name.startsWith(id)) : []);

  before(async () => {
    const config: ConfigFile = {
      http: { listen: ['127.0.0.1:0'] },
      uploads: { maxBytes: MAX_BYTES, quotaBytes: QUOTA_BYTES, perMinute: PER_MINUTE },
      accounts: { maxFailedLogins: 1000 },
    };
    server = await startTestServer(config);
    origin = `http://127.0.0.1:${String(server.httpAddresses[0]?.port ?? assert.fail('no HTTP port'))}`;
    uploadsDir = join(server.dataDir, 'uploads');
  });
  after(async () => {
    await server.stop();
  });

  it('ISUPPORT announces soju.im/FILEHOST with the absolute URL of the upload endpoint', async () => {
    const tokens = await isupportOf(server.port, 'announced');
    assert.ok(tokens.includes(`soju.im/FILEHOST=${origin}/uploads`), tokens.join(' '));
  });

  it('without HTTP, or with uploads turned off, FILEHOST is not announced; http.publicUrl is announced as given', async () => {
    const plain = await startTestServer({});
    const off = await startTestServer({ http: { listen: ['127.0.0.1:0'] }, uploads: { enabled: false } });
    const named = await startTestServer({ http: { listen: ['127.0.0.1:0'], publicUrl: 'https://chat.example.org/natter/' } });
    try {
      assert.ok(!(await isupportOf(plain.port, 'plain')).some((token) => token.startsWith('soju.im/FILEHOST')));
      assert.ok(!(await isupportOf(off.port, 'off')).some((token) => token.startsWith('soju.im/FILEHOST')));
      assert.ok((await isupportOf(named.port, 'named')).includes('soju.im/FILEHOST=https://chat.example.org/natter/uploads'));
      const refused = await fetch(`http://127.0.0.1:${String(off.httpAddresses[0]?.port)}/uploads`, { method: 'POST', body: await solidPng(4, 4) });
      assert.equal(refused.status, 403);
      assert.match(await refused.text(), /turned off/);
    } finally {
      await Promise.all([plain.stop(), off.stop(), named.stop()]);
    }
  });

  it('OPTIONS on the upload URL lists the accepted types (Accept-Post)', async () => {
    const response = await fetch(`${origin}/uploads`, { method: 'OPTIONS' });
    assert.equal(response.status, 204);
    assert.equal(response.headers.get('accept-post'), 'image/jpeg, image/png, image/gif, image/webp');
    assert.match(response.headers.get('allow') ?? '', /POST/);
  });

  it('a JPEG with EXIF is taken (201 + Location) and served without any metadata, turned as its orientation said, with its thumbnail', async () => {
    const original = await phoneJpeg();
    const before = await sharp(original).metadata();
    assert.equal(before.orientation, 6);
    assert.ok(before.exif?.includes('AcmePhone') === true, 'the test image carries EXIF');
    const { response, location } = await uploadAs('jpegger', original, { 'content-type': 'image/jpeg', 'content-disposition': 'attachment; filename="../holiday \\"pic\\".jpeg"' });
    assert.equal(response.status, 201, await response.clone().text());
    const id = idOf(location);
    assert.equal(location, `${origin}/uploads/${id}.jpg`, 'an absolute URL under the announced FILEHOST');
    const answer = (await response.json()) as { url: string; thumbnail: string; type: string; width: number; height: number };
    assert.deepEqual([answer.url, answer.thumbnail, answer.type, answer.width, answer.height], [location, `${origin}/uploads/${id}/thumb`, 'image/jpeg', 32, 64]);

    const served = await fetch(location);
    assert.equal(served.status, 200);
    assert.equal(served.headers.get('content-type'), 'image/jpeg');
    assert.equal(served.headers.get('x-content-type-options'), 'nosniff');
    assert.match(served.headers.get('content-security-policy') ?? '', /default-src 'self'/);
    assert.match(served.headers.get('cache-control') ?? '', /max-age=31536000/);
    assert.equal(served.headers.get('content-disposition'), `inline; filename="holiday pic.jpg"; filename*=UTF-8''holiday%20pic.jpg`);
    const bytes = Buffer.from(await served.arrayBuffer());
    const after = await sharp(bytes).metadata();
    assert.equal(after.format, 'jpeg');
    assert.equal(after.exif, undefined, 'no EXIF left');
    assert.equal(after.xmp, undefined);
    assert.equal(after.orientation, undefined);
    assert.deepEqual([after.width, after.height], [32, 64], 'the orientation was applied to the pixels');
    assert.ok(!bytes.includes('AcmePhone') && !bytes.includes('Jane Secret'));
    // The file on disk is the same stripped image, under an unguessable name.
    assert.deepEqual(readFileSync(join(uploadsDir, `${id}.jpg`)), bytes);

    const thumb = await fetch(`${origin}/uploads/${id}/thumb`);
    assert.equal(thumb.status, 200);
    assert.equal(thumb.headers.get('content-type'), 'image/webp');
    const thumbMeta = await sharp(Buffer.from(await thumb.arrayBuffer())).metadata();
    assert.deepEqual([thumbMeta.format, thumbMeta.width, thumbMeta.height], ['webp', 32, 64], 'a small image is not enlarged');

    const etag = served.headers.get('etag') ?? assert.fail('no ETag');
    assert.equal((await fetch(location, { headers: { 'if-none-match': etag } })).status, 304);
    const head = await fetch(location, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), String(bytes.length));
    assert.equal((await fetch(`${origin}/uploads/${id}`)).status, 200, 'the id alone names it too');
  });

  it('a PNG is sniffed from its content whatever Content-Type says, and its thumbnail is at most 320 px', async () => {
    const { response, location } = await uploadAs('pnger', await solidPng(1000, 500), { 'content-type': 'image/gif' });
    assert.equal(response.status, 201, await response.clone().text());
    const id = idOf(location);
    assert.ok(location.endsWith(`/uploads/${id}.png`));
    const served = await fetch(location);
    assert.equal(served.headers.get('content-type'), 'image/png');
    assert.equal(served.headers.get('content-disposition'), `inline; filename="image.png"; filename*=UTF-8''image.png`);
    const thumb = await sharp(Buffer.from(await (await fetch(`${origin}/uploads/${id}/thumb`)).arrayBuffer())).metadata();
    assert.deepEqual([thumb.width, thumb.height], [320, 160]);
    assert.deepEqual(filesOf(id).sort(), [`${id}.png`, `${id}.thumb.webp`]);
    assert.equal((await fetch(`${origin}/uploads/${id}.jpg`)).status, 404, 'a wrong extension names nothing');
  });

  it('an animated GIF keeps its frames; a WebP is taken; a damaged PNG is refused with 422', async () => {
    const frames = await Promise.all(['#f00', '#00f', '#0f0'].map((background) => sharp({ create: { width: 40, height: 20, channels: 4, background } }).png().toBuffer()));
    const gif = await sharp(frames, { join: { animated: true } }).gif().toBuffer();
    const animated = await uploadAs('animator', gif);
    assert.equal(animated.response.status, 201, await animated.response.clone().text());
    assert.ok(animated.location.endsWith('.gif'));
    const served = await sharp(Buffer.from(await (await fetch(animated.location)).arrayBuffer()), { animated: true }).metadata();
    assert.deepEqual([served.format, served.pages, served.width, served.pageHeight], ['gif', 3, 40, 20]);
    const webp = await uploadAs('animator', await sharp(await solidPng(30, 30)).webp().toBuffer());
    assert.equal(webp.response.status, 201);
    assert.equal((await fetch(webp.location)).headers.get('content-type'), 'image/webp');
    const png = await solidPng(50, 50);
    const damaged = await uploadAs('animator', Buffer.concat([png.subarray(0, 40), Buffer.alloc(200, 7)]));
    assert.equal(damaged.response.status, 422);
    assert.equal(await damaged.response.text(), 'The PNG image could not be read (damaged or incomplete)');
  });

  it('an SVG is refused with 415 and a message naming the accepted types, even sent as image/png', async () => {
    const before = existsSync(uploadsDir) ? readdirSync(uploadsDir).length : 0;
    const { response } = await uploadAs('svgger', SVG, { 'content-type': 'image/png' });
    assert.equal(response.status, 415);
    assert.equal(await response.text(), 'Only JPEG, PNG, GIF or WebP images can be uploaded, not this file');
    const pdf = await uploadAs('svgger', Buffer.from('%PDF-1.4\n%âãÏÓ\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n'));
    assert.equal(pdf.response.status, 415);
    assert.match(await pdf.response.text(), /JPEG, PNG, GIF or WebP.*application\/pdf/);
    assert.equal(existsSync(uploadsDir) ? readdirSync(uploadsDir).length : 0, before, 'nothing was stored');
    assert.deepEqual(await server.store.listUploads((await server.store.findAccount('svgger'))!.id), []);
  });

  it('a file over uploads.maxBytes is refused with 413 and the limit, by its Content-Length or as its chunks pass the limit', async () => {
    const big = Buffer.concat([await solidPng(8, 8), Buffer.alloc(MAX_BYTES)]);
    const { response } = await uploadAs('bigger', big);
    assert.equal(response.status, 413);
    assert.equal(await response.text(), 'The file is too large: uploads may be at most 256 KiB');
    // Chunked, without Content-Length: refused once more than the limit has come.
    const chunked = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const request = http.request(`${origin}/uploads`, { method: 'POST', headers: { authorization: basic('bigger'), 'transfer-encoding': 'chunked' } }, (answer) => {
        let body = '';
        answer.setEncoding('utf8');
        answer.on('data', (chunk: string) => (body += chunk));
        answer.on('end', () => {
          resolve({ status: answer.statusCode ?? 0, body });
        });
      });
      request.on('error', reject);
      for (let sent = 0; sent <= MAX_BYTES; sent += 64 * 1024) request.write(Buffer.alloc(64 * 1024));
      request.end();
    });
    assert.deepEqual(chunked, { status: 413, body: 'The file is too large: uploads may be at most 256 KiB' });
  });

  it('a guest (no credentials) is refused with 401 and told uploads need an account; a wrong password too', async () => {
    const guest = await post(await solidPng(4, 4), { 'content-type': 'image/png' });
    assert.equal(guest.status, 401);
    assert.match(guest.headers.get('www-authenticate') ?? '', /^Basic /);
    assert.match(await guest.text(), /Uploads belong to an account.*Guests cannot upload/);
    await account('wrongpass');
    const wrong = await post(await solidPng(4, 4), { authorization: basic('wrongpass', 'not-the-password') });
    assert.equal(wrong.status, 401);
    assert.equal(await wrong.text(), 'Wrong account name or password');
    const unknown = await post(await solidPng(4, 4), { authorization: basic('nobody-here') });
    assert.equal(unknown.status, 401);
  });

  it('an upload past the account quota is refused with 507 and the usage; other accounts are not affected', async () => {
    const noise = await noisePng(256, 256);
    assert.ok(noise.length < MAX_BYTES && noise.length * 2 > QUOTA_BYTES);
    const first = await uploadAs('quotaed', noise);
    assert.equal(first.response.status, 201, await first.response.clone().text());
    const second = await uploadAs('quotaed', await noisePng(256, 256));
    assert.equal(second.response.status, 507);
    assert.match(await second.response.text(), /^Upload quota exceeded: your uploads use \d+(\.\d)? KiB of 300 KiB/);
    const id = (await server.store.findAccount('quotaed'))!.id;
    assert.equal((await server.store.listUploads(id)).length, 1);
    assert.equal((await uploadAs('quotaother', noise)).response.status, 201);
  });

  it('more than uploads.perMinute uploads in a minute are refused with 429 and Retry-After', async () => {
    const png = await solidPng(4, 4);
    for (let i = 0; i < PER_MINUTE; i++) assert.equal((await uploadAs('hasty', png)).response.status, 201);
    const { response } = await uploadAs('hasty', png);
    assert.equal(response.status, 429);
    assert.match(response.headers.get('retry-after') ?? '', /^\d+$/);
    assert.match(await response.text(), new RegExp(`at most ${String(PER_MINUTE)} a minute`));
  });

  it('unknown or malformed upload names are 404', async () => {
    for (const path of ['/uploads/AAAAAAAAAAAAAAAAAAAAAA', '/uploads/AAAAAAAAAAAAAAAAAAAAAA/thumb', '/uploads/..%2Fnatter.db', '/uploads/short.png']) {
      assert.equal((await fetch(`${origin}${path}`)).status, 404, path);
    }
  });

  it("a REDACT of the message carrying the URL deletes the upload (404, files gone); another author's message quoting it does not", async () => {
    await account('redactor');
    await account('quoter');
    const caps = ['message-tags', 'echo-message', 'draft/message-redaction'];
    const alice = await loggedInWithCaps(server.port, 'redactor', 'redactor', PASSWORD, caps);
    const bob = await loggedInWithCaps(server.port, 'quoter', 'quoter', PASSWORD, caps);
    try {
      await joinRoom(alice, '#pictures');
      await joinRoom(bob, '#pictures');
      const { response, location } = await uploadAs('redactor', await phoneJpeg());
      assert.equal(response.status, 201);
      const id = idOf(location);
      const say = async (client: TestClient, text: string): Promise<string> => {
        client.send(`PRIVMSG #pictures :${text}`);
        const echo = await client.expect((m) => m.command === 'PRIVMSG' && m.params[1] === text);
        return echo.tags?.get('msgid') ?? assert.fail('no msgid');
      };
      const quoted = await say(bob, `nice one: <${location}>`);
      const mine = await say(alice, `look at this ${location}`);
      await alice.roundtrip();
      await bob.roundtrip();

      bob.send(`REDACT #pictures ${quoted}`);
      await bob.expect((m) => m.command === 'REDACT' && m.params[1] === quoted);
      assert.equal((await fetch(location)).status, 200, "a message of someone else's does not take the upload with it");

      alice.send(`REDACT #pictures ${mine} :wrong picture`);
      await alice.expect((m) => m.command === 'REDACT' && m.params[1] === mine);
      const gone = await fetch(location);
      assert.equal(gone.status, 404);
      assert.match(await gone.text(), /No such upload/);
      assert.equal((await fetch(`${origin}/uploads/${id}/thumb`)).status, 404);
      assert.deepEqual(filesOf(id), [], 'the image and its thumbnail are gone from the disk');
      assert.equal(await server.store.findUpload(id), undefined, 'and its row from the store');
    } finally {
      alice.close();
      bob.close();
    }
  });

  it('dropping the account (NickServ DROP) deletes its uploads and their files', async () => {
    await account('dropper');
    const client = await loggedInWithCaps(server.port, 'dropper', 'dropper', PASSWORD, []);
    try {
      const ids: string[] = [];
      for (const image of [await solidPng(10, 10), await phoneJpeg()]) {
        const { response, location } = await uploadAs('dropper', image);
        assert.equal(response.status, 201);
        ids.push(idOf(location));
      }
      client.send(`PRIVMSG NickServ :DROP ${PASSWORD}`);
      await client.expect((m) => m.command === 'NOTICE' && /has been deleted/.test(m.params[1] ?? ''));
      for (const id of ids) {
        assert.equal((await fetch(`${origin}/uploads/${id}`)).status, 404);
        assert.deepEqual(filesOf(id), []);
      }
    } finally {
      client.close();
    }
  });
});

describe('uploads: natter account del', () => {
  it("deletes the account's uploads and their files", async () => {
    const server = await startTestServer({ http: { listen: ['127.0.0.1:0'] } });
    try {
      await createAccount(server.server.network, server.store, server.server.auth, 'cligone', PASSWORD);
      const origin = `http://127.0.0.1:${String(server.httpAddresses[0]?.port)}`;
      const response = await fetch(`${origin}/uploads`, { method: 'POST', body: await solidPng(8, 8), headers: { authorization: basic('cligone') } });
      assert.equal(response.status, 201);
      const location = response.headers.get('location') ?? '';
      const out = new PassThrough();
      await deleteAccount('cligone', { data: server.dataDir }, { stdin: Readable.from([]), stdout: out, stderr: out });
      assert.equal((await fetch(location)).status, 404);
      assert.deepEqual(readdirSync(join(server.dataDir, 'uploads')), []);
    } finally {
      await server.stop();
    }
  });
});

describe('uploads: the rules', () => {
  it('finds upload ids in URLs of any host, once each, and nothing else', () => {
    const a = 'AbCdEfGhIjKlMnOpQrStUv';
    const b = 'a_b-c_d-e_f-g_h-i_j-kl';
    const text = `see https://chat.example.org/uploads/${a}.jpg and (http://[::1]:8080/natter/uploads/${b}/thumb), again https://x/uploads/${a}`;
    assert.deepEqual(uploadIdsIn(text), [a, b]);
    assert.deepEqual(uploadIdsIn(`/uploads/${a} ftp://x/uploads/${a} https://x/uploads/${a}X`), []);
  });

  it('makes a safe file name with the real extension', () => {
    assert.equal(safeFilename('../../etc/passwd', 'png'), 'passwd.png');
    assert.equal(safeFilename('C:\\Users\\me\\cat "pic".JPEG', 'jpg'), 'cat pic.jpg');
    assert.equal(safeFilename('\u202eevil\u0000.gif', 'webp'), 'evil.webp');
    assert.equal(safeFilename(undefined, 'gif'), 'image.gif');
    assert.equal(safeFilename('.hidden', 'png'), 'hidden.png');
    assert.equal(safeFilename('x'.repeat(300), 'png').length, 100);
  });

  it('reads Basic credentials and Content-Disposition file names', () => {
    assert.deepEqual(basicCredentials(`Basic ${Buffer.from('alice:pa:ss wörd').toString('base64')}`), { name: 'alice', password: 'pa:ss wörd' });
    assert.equal(basicCredentials('Bearer abc'), undefined);
    assert.equal(basicCredentials(`Basic ${Buffer.from(':nopass').toString('base64')}`), undefined);
    assert.equal(dispositionFilename(`attachment; filename="a.png"; filename*=UTF-8''%C3%A9t%C3%A9.png`), 'été.png');
    assert.equal(dispositionFilename('inline; filename="say \\"hi\\".png"'), 'say "hi".png');
    assert.equal(dispositionFilename('attachment; filename=plain.gif'), 'plain.gif');
    assert.equal(dispositionFilename('attachment'), undefined);
  });

  it('limits uploads per account over a sliding minute', () => {
    let now = 1_000_000;
    const limiter = new UploadRateLimiter(() => now);
    assert.deepEqual([limiter.take(1, 2), limiter.take(1, 2), limiter.take(1, 2), limiter.take(2, 2)], [0, 0, 60, 0]);
    now += 30_000;
    assert.equal(limiter.take(1, 2), 30);
    now += 30_000;
    assert.equal(limiter.take(1, 2), 0);
    assert.equal(limiter.take(1, 0), 0, '0 is no limit');
  });

  it('says sizes the way the configuration gives them', () => {
    assert.deepEqual([formatBytes(10 * 1024 * 1024), formatBytes(1536), formatBytes(900), formatBytes(3 * 1024 ** 3)], ['10 MiB', '1.5 KiB', '900 bytes', '3 GiB']);
  });
});
