/**
 * Pictures in the web client (issue 7, part 1), in Chromium against a real Natter with HTTP and a raw IRC client in
 * the room: a PNG attached through the file picker uploads with a progress bar (the upload is slowed down through
 * DevTools so the bar can be seen) and its URL reaches the raw client as text, while the page shows the thumbnail,
 * which opens the full image; a pasted image uploads too, after the text typed; Cancel stops an upload; an SVG is
 * refused in the server's words; a guest cannot attach; pictures of other sites stay links and are never loaded.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { CDPSession, Locator, Page } from 'playwright-core';
import sharp from 'sharp';
import { browserAvailable, screenshot, watchPage } from './helpers/browser.js';
import type { LaunchedBrowser, PageProblems } from './helpers/browser.js';
import { TestClient } from './helpers/client.js';
import { startTestServer } from './helpers/server.js';
import type { TestServer } from './helpers/server.js';
import { composerOf, createAccount, joinRoom, openPage, STEP_MS } from './helpers/web.js';

const ROOM = '#gallery';
const STEP_TIMEOUT = { timeout: 30_000 };

const unavailable = browserAvailable() ?? (existsSync(new URL('../web/dist/index.html', import.meta.url)) ? undefined : 'web/dist is not built: run `npm run build`');

/** A PNG of noise (it does not compress): about width × height × 3 bytes, for an upload that takes a while. */
async function noisyPng(width: number, height: number): Promise<Buffer> {
  const pixels = Buffer.alloc(width * height * 3);
  let seed = 7;
  for (let index = 0; index < pixels.length; index++) {
    seed = (Math.imul(seed, 1103515245) + 12345) | 0;
    pixels[index] = (seed >>> 16) & 0xff;
  }
  return sharp(pixels, { raw: { width, height, channels: 3 } }).png({ compressionLevel: 0 }).toBuffer();
}

const solidPng = (width: number, height: number, background: string): Promise<Buffer> =>
  sharp({ create: { width, height, channels: 3, background } }).png().toBuffer();

const SVG = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script><rect width="10" height="10"/></svg>');

/** An image's natural size once it has loaded (rejects if it cannot). */
const loadedSize = (image: Locator): Promise<[number, number]> =>
  image.evaluate((element: PageImage) => element.decode().then((): [number, number] => [element.naturalWidth, element.naturalHeight]));

/**
 * What the functions run in the page (through DevTools, which the page's CSP does not govern) use of the DOM: the
 * tests are type-checked without the DOM's types.
 */
interface PageImage {
  decode(): Promise<void>;
  readonly naturalWidth: number;
  readonly naturalHeight: number;
}
interface PageGlobals {
  readonly DataTransfer: new () => { readonly items: { add(file: unknown): unknown } };
  readonly File: new (parts: unknown[], name: string, options: { type: string }) => unknown;
  readonly ClipboardEvent: new (type: string, init: { clipboardData: unknown; bubbles: boolean; cancelable: boolean }) => unknown;
  readonly document: { getElementById(id: string): { readonly textContent: string | null } | null };
}
interface PageElement {
  dispatchEvent(event: unknown): boolean;
  getAttribute(name: string): string | null;
}

/** The upload URL in a line of text. */
const UPLOAD_URL = /https?:\/\/\S+\/uploads\/([A-Za-z0-9_-]{22})\.png/;

describe('the web client: pictures (in Chromium)', { skip: unavailable ?? false }, () => {
  let server: TestServer;
  let browser: LaunchedBrowser;
  let page: Page;
  let problems: PageProblems;
  let origin: string;
  /** A plain IRC client in the room. */
  let bob: TestClient;
  let log: Locator;
  let composer: Locator;
  let devtools: CDPSession;
  /** The URL of a picture bob shares (uploaded by alice). */
  let shared = '';

  const fileInput = (): Locator => page.locator('input[type="file"]');
  const progress = (): Locator => page.getByRole('progressbar', { name: /^Uploading / });
  const message = (text: string | RegExp): Locator => log.getByRole('article').filter({ has: page.locator('.msg-body', { hasText: text }) });
  /** Slows the page's uploads down (DevTools network emulation), or back to full speed with undefined. */
  const throttle = async (bytesPerSecond: number | undefined): Promise<void> => {
    await devtools.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: bytesPerSecond ?? -1 });
  };
  const privmsgs = async (): Promise<string[]> => (await bob.roundtrip()).filter((m) => m.command === 'PRIVMSG').map((m) => m.params[1] ?? '');

  before(async () => {
    server = await startTestServer({ http: { listen: ['127.0.0.1:0'] } });
    origin = `http://127.0.0.1:${String(server.httpAddresses[0]?.port ?? assert.fail('no HTTP port'))}`;
    bob = await TestClient.register(server.port, 'bob');
    bob.send(`JOIN ${ROOM}`);
    await bob.expect((m) => m.command === '366');

    ({ browser, page, problems } = await openPage(origin));
    devtools = await page.context().newCDPSession(page);
    await devtools.send('Network.enable');
    await createAccount(page, 'alice', 'amber-kettle-47-moss');
    log = await joinRoom(page, ROOM);
    composer = composerOf(page, ROOM);
    await bob.expect((m) => m.command === 'JOIN' && m.source?.startsWith('alice!') === true);
    bob.drain();
  });

  after(async () => {
    for (const step of [() => browser.close(), () => bob.quit(), () => server.stop()]) {
      try {
        await step();
      } catch {
        // Not started, or already gone.
      }
    }
  });

  it('"Attach image" uploads with a progress bar; the room gets the URL as text, the page the thumbnail, which opens full size', STEP_TIMEOUT, async () => {
    const attach = page.getByRole('button', { name: 'Attach image' });
    assert.equal(await attach.isEnabled(), true);
    assert.equal(await fileInput().getAttribute('accept'), 'image/jpeg,image/png,image/gif,image/webp');
    const png = await noisyPng(640, 480);
    await throttle(300_000);
    await fileInput().setInputFiles({ name: 'sunset.png', mimeType: 'image/png', buffer: png });
    const bar = progress();
    await bar.waitFor();
    assert.match((await page.locator('.upload-label').textContent()) ?? '', /^Uploading sunset\.png… \d+%$/);
    await page.getByRole('button', { name: 'Cancel' }).waitFor();
    await screenshot(page, 'web-uploads-progress');
    await throttle(undefined);
    await bar.waitFor({ state: 'detached' });

    const said = await bob.expect((m) => m.command === 'PRIVMSG' && UPLOAD_URL.test(m.params[1] ?? ''), 5000);
    assert.equal(said.params[0], ROOM);
    const url = said.params[1] ?? '';
    assert.match(url, new RegExp(`^${origin}/uploads/[A-Za-z0-9_-]{22}\\.png$`), 'the URL alone, on this server');
    const id = UPLOAD_URL.exec(url)?.[1] ?? assert.fail('no id');

    const mine = message(url);
    await mine.getByRole('link', { name: url }).waitFor();
    assert.equal(await mine.getByRole('link', { name: url }).getAttribute('href'), url, 'the link stays');
    const thumb = mine.getByRole('img', { name: 'Picture sent by alice' });
    await thumb.waitFor();
    assert.equal(await thumb.getAttribute('src'), `${origin}/uploads/${id}/thumb`);
    assert.deepEqual(await loadedSize(thumb), [320, 240], 'the thumbnail (320 px wide), not the full image');
    assert.equal(problems.requests.filter((request) => request === url).length, 0, 'the full image is not fetched before it is asked for');
    await screenshot(page, 'web-uploads-inline');

    await mine.getByRole('button', { name: 'Picture sent by alice' }).click();
    const lightbox = page.getByRole('dialog', { name: 'Picture sent by alice' });
    await lightbox.waitFor();
    const full = lightbox.getByRole('img', { name: 'Picture sent by alice' });
    assert.deepEqual(await loadedSize(full), [640, 480], 'the full-size image');
    const newTab = lightbox.getByRole('link', { name: 'Open in a new tab' });
    assert.equal(await newTab.getAttribute('href'), url);
    assert.match((await newTab.getAttribute('rel')) ?? '', /noopener/);
    await screenshot(page, 'web-uploads-lightbox');
    await page.keyboard.press('Escape');
    await lightbox.waitFor({ state: 'hidden' });
  });

  it('a pasted image uploads too, and goes after the text typed', STEP_TIMEOUT, async () => {
    await composer.fill('look at this');
    const png = await solidPng(48, 24, '#36c');
    // A paste event carrying the file, dispatched on the box through DevTools (not subject to the page's CSP).
    await composer.evaluate(
      (box: PageElement, bytes: number[]) => {
        const page = globalThis as unknown as PageGlobals;
        const data = new page.DataTransfer();
        data.items.add(new page.File([new Uint8Array(bytes)], 'pasted.png', { type: 'image/png' }));
        box.dispatchEvent(new page.ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));
      },
      [...png],
    );
    const said = await bob.expect((m) => m.command === 'PRIVMSG' && UPLOAD_URL.test(m.params[1] ?? ''), 5000);
    const text = said.params[1] ?? '';
    assert.match(text, /^look at this https?:\/\/\S+\/uploads\/[A-Za-z0-9_-]{22}\.png$/);
    assert.equal(await composer.inputValue(), '', 'the box is emptied');
    const sent = message('look at this');
    await sent.getByRole('img', { name: 'Picture sent by alice' }).waitFor();
  });

  it("another member's upload shows inline; a picture of another site stays a link and is not loaded", STEP_TIMEOUT, async () => {
    const upload = await fetch(`${origin}/uploads`, {
      method: 'POST',
      body: await solidPng(30, 30, '#c63'),
      headers: { Authorization: `Basic ${Buffer.from('alice:amber-kettle-47-moss').toString('base64')}` },
    });
    assert.equal(upload.status, 201);
    shared = upload.headers.get('location') ?? assert.fail('no Location');
    bob.send(`PRIVMSG ${ROOM} :from bob ${shared}`);
    await message('from bob').getByRole('img', { name: 'Picture sent by bob' }).waitFor();

    const foreign = 'https://pictures.example.com/uploads/AAAAAAAAAAAAAAAAAAAAAA.png';
    bob.send(`PRIVMSG ${ROOM} :elsewhere ${foreign}`);
    const other = message('elsewhere');
    await other.getByRole('link', { name: foreign }).waitFor();
    assert.equal(await other.getByRole('img').count(), 0);
    assert.ok(!problems.requests.some((request) => request.includes('example.com')), 'nothing requested from another site');
  });

  it('Cancel stops an upload: nothing is sent', STEP_TIMEOUT, async () => {
    await throttle(100_000);
    await fileInput().setInputFiles({ name: 'big.png', mimeType: 'image/png', buffer: await noisyPng(800, 600) });
    await progress().waitFor();
    await page.getByRole('button', { name: 'Cancel' }).click();
    await progress().waitFor({ state: 'detached' });
    await throttle(undefined);
    assert.equal(await page.getByRole('alert').count(), 0, 'cancelling is no error');
    assert.deepEqual(await privmsgs(), [], 'the room got nothing');
  });

  it('an SVG is refused, in the server words, in the composer', STEP_TIMEOUT, async () => {
    await fileInput().setInputFiles({ name: 'logo.svg', mimeType: 'image/svg+xml', buffer: SVG });
    const alert = page.locator('.composer').getByRole('alert');
    await alert.waitFor();
    assert.match((await alert.textContent()) ?? '', /^logo\.svg was not sent: Only JPEG, PNG, GIF or WebP images can be uploaded/);
    await screenshot(page, 'web-uploads-refused');
    assert.deepEqual(await privmsgs(), [], 'the room got nothing');
    await alert.getByRole('button', { name: 'Dismiss' }).click();
    await alert.waitFor({ state: 'detached' });
  });

  it('a guest cannot attach, and is told why', STEP_TIMEOUT, async () => {
    const guestPage = await browser.newPage();
    guestPage.setDefaultTimeout(STEP_MS);
    const guestProblems = await watchPage(guestPage);
    try {
      await guestPage.goto(`${origin}/`, { waitUntil: 'networkidle' });
      await guestPage.getByRole('radio', { name: 'Guest' }).check();
      await guestPage.getByLabel('Nickname').fill('visitor');
      await guestPage.getByRole('button', { name: 'Join as guest' }).last().click();
      await guestPage.getByRole('navigation', { name: 'Rooms and conversations' }).waitFor();
      const guestLog = await joinRoom(guestPage, ROOM);
      const attach = guestPage.getByRole('button', { name: 'Attach image' });
      await attach.waitFor();
      assert.equal(await attach.isDisabled(), true);
      assert.equal(await attach.getAttribute('title'), 'Guests cannot send pictures: sign in with an account to attach one.');
      const described = await attach.evaluate(
        (button: PageElement) => (globalThis as unknown as PageGlobals).document.getElementById(button.getAttribute('aria-describedby') ?? '')?.textContent ?? '',
      );
      assert.match(described, /Guests cannot send pictures/);
      // Guests see pictures all the same.
      bob.send(`PRIVMSG ${ROOM} :for the guest ${shared}`);
      // The room's earlier messages (the same picture among them) are history the guest may read too: look at this one.
      await guestLog.getByRole('article').filter({ hasText: 'for the guest' }).getByRole('img', { name: 'Picture sent by bob' }).waitFor();
      assert.deepEqual([...guestProblems.cspViolations, ...guestProblems.errors, ...guestProblems.console], []);
    } finally {
      await guestPage.close();
    }
  });

  it('raised no console error, uncaught error or CSP violation in all that (but the SVG refusal)', () => {
    assert.deepEqual(problems.cspViolations, [], 'no CSP violation');
    assert.deepEqual(problems.errors, [], 'no uncaught error');
    // Chromium logs every refused request; the SVG's 415 is expected.
    const remaining = problems.console.filter((line) => !/Failed to load resource: the server responded with a status of 415/.test(line));
    assert.deepEqual(remaining, [], 'no console error or warning');
  });
});
