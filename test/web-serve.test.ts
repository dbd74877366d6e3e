/**
 * The built web client served by Natter itself (issue 6): index.html and its hashed assets with the right types
 * and cache headers, the emoji data from Natter (never a CDN), and in Chromium a page that loads under the real
 * CSP with no console error, no CSP violation, no request leaving the origin and no serious accessibility issue.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { axeViolations, browserAvailable, describeViolations, launchBrowser, screenshot, watchPage } from './helpers/browser.js';
import type { LaunchedBrowser } from './helpers/browser.js';
import { startTestServer } from './helpers/server.js';
import type { TestServer } from './helpers/server.js';

const WEB_DIST = new URL('../web/dist/', import.meta.url);

function assertSecureHeaders(response: Response, what: string): void {
  const csp = response.headers.get('content-security-policy') ?? '';
  assert.match(csp, /default-src 'self'/, what);
  assert.match(csp, /script-src 'self'(;|$)/, `${what}: scripts from the origin only`);
  assert.match(csp, /style-src 'self'(;|$)/, `${what}: styles from the origin only`);
  assert.match(csp, /connect-src 'self'(;|$)/, what);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|https?:|\*/, `${what}: nothing but 'self' for code`);
  assert.equal(response.headers.get('x-frame-options'), 'DENY', what);
  assert.equal(response.headers.get('x-content-type-options'), 'nosniff', what);
}

describe('the web client served by Natter', () => {
  let server: TestServer;
  let origin: string;
  let indexHtml: string;
  before(async () => {
    assert.ok(existsSync(new URL('index.html', WEB_DIST)), 'web/dist is not built: run `npm run build:web` (npm ci builds it)');
    server = await startTestServer({ http: { listen: ['127.0.0.1:0'] } });
    origin = `http://127.0.0.1:${server.httpAddresses[0]?.port ?? assert.fail('no HTTP port')}`;
    indexHtml = readFileSync(new URL('index.html', WEB_DIST), 'utf8');
  });
  after(async () => {
    await server.stop();
  });

  it('index.html at / is HTML, revalidated on every visit (no-cache, ETag), with the secure headers', async () => {
    const response = await fetch(`${origin}/`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.equal(response.headers.get('cache-control'), 'no-cache');
    assertSecureHeaders(response, '/');
    assert.equal(await response.text(), indexHtml);
    const etag = response.headers.get('etag') ?? assert.fail('no ETag on index.html');
    const again = await fetch(`${origin}/`, { headers: { 'If-None-Match': etag } });
    assert.equal(again.status, 304, 'unchanged: 304 Not Modified');
    await again.arrayBuffer();
  });

  it('the built page has no inline script or style, only files from assets/ (the CSP refuses inline code)', () => {
    assert.doesNotMatch(indexHtml, /<script(?![^>]*\ssrc=)[^>]*>/, 'every <script> has a src');
    assert.doesNotMatch(indexHtml, /<style|\sstyle=/, 'no <style> element or style attribute');
    assert.match(indexHtml, /<script type="module" crossorigin src="\.\/assets\/[^"]+\.js"><\/script>/);
    assert.match(indexHtml, /<link rel="stylesheet" crossorigin href="\.\/assets\/[^"]+\.css">/);
  });

  it('hashed assets are JavaScript and CSS, cached for a year as immutable, gzipped when asked', async () => {
    const assets = [...indexHtml.matchAll(/(?:src|href)="\.\/(assets\/[^"]+)"/g)].map((match) => match[1] ?? '');
    assert.ok(assets.length >= 2, `a script and a stylesheet: ${assets.join(', ')}`);
    for (const asset of assets) {
      const response = await fetch(`${origin}/${asset}`, { headers: { 'Accept-Encoding': 'gzip' } });
      assert.equal(response.status, 200, asset);
      assert.equal(response.headers.get('content-type'), asset.endsWith('.js') ? 'text/javascript; charset=utf-8' : 'text/css; charset=utf-8', asset);
      assert.equal(response.headers.get('cache-control'), 'public, max-age=31536000, immutable', asset);
      assertSecureHeaders(response, asset);
      // fetch decodes gzip itself; the body is the built file.
      assert.equal(await response.text(), readFileSync(new URL(asset, WEB_DIST), 'utf8'), asset);
    }
    const script = assets.find((asset) => asset.endsWith('.js')) ?? assert.fail('no script');
    const gzipped = await fetch(`${origin}/${script}`, { headers: { 'Accept-Encoding': 'gzip' } });
    assert.equal(gzipped.headers.get('content-encoding'), 'gzip');
    await gzipped.arrayBuffer();
  });

  it('the emoji data is served by Natter as JSON with an ETag (emoji-picker-element checks it with HEAD)', async () => {
    const response = await fetch(`${origin}/emoji/en/data.json`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'application/json');
    assert.equal(response.headers.get('cache-control'), 'no-cache');
    const emoji = (await response.json()) as Array<{ annotation?: unknown; emoji?: unknown }>;
    assert.ok(Array.isArray(emoji) && emoji.length > 1000, `the full emoji list: ${String(emoji.length)}`);
    assert.ok(emoji.some((entry) => entry.emoji === '😀' && entry.annotation === 'grinning face'));
    const head = await fetch(`${origin}/emoji/en/data.json`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.match(head.headers.get('etag') ?? '', /^W\/"[0-9a-f]+-[0-9a-f]+"$/);
  });

  it('paths outside the build, dotfiles and unknown files are 404', async () => {
    for (const path of ['/%2e%2e/package.json', '/..%2fpackage.json', '/assets/../../package.json', '/.hidden', '/no-such-file.js']) {
      const response = await fetch(`${origin}${path}`);
      assert.equal(response.status, 404, path);
      await response.arrayBuffer();
    }
  });

  describe('in Chromium', () => {
    const unavailable = browserAvailable();
    let browser: LaunchedBrowser | undefined;
    before(async () => {
      if (unavailable === undefined) browser = await launchBrowser();
    });
    after(async () => {
      await browser?.close();
    });

    it('the page loads with no console error, no CSP violation and no request leaving the origin; axe finds nothing serious', { skip: unavailable ?? false }, async () => {
      const page = await browser!.newPage();
      const problems = await watchPage(page);
      const response = await page.goto(`${origin}/`, { waitUntil: 'networkidle' });
      assert.equal(response?.status(), 200);
      // The app has rendered (whatever it shows: this test is about serving, not about the client's screens).
      await page.locator('#app > *').first().waitFor();
      assert.equal(await page.title(), 'Natter');

      // What the web client needs from its origin, under the real CSP: the emoji data (connect-src) and IRC over
      // WebSocket on the same host and port (connect-src 'self' matching ws:).
      const emojiCount = await page.evaluate<number>(`fetch('emoji/en/data.json').then((r) => r.json()).then((list) => list.length)`);
      assert.ok(emojiCount > 1000);
      const welcome = await page.evaluate<string>(`new Promise((resolve, reject) => {
        const ws = new WebSocket(new URL('irc', location.href.replace(/^http/, 'ws')), 'text.ircv3.net');
        ws.onopen = () => { ws.send('NICK pagey'); ws.send('USER pagey 0 * :Page'); };
        ws.onmessage = (event) => { if (/ 001 /.test(event.data)) { ws.close(); resolve(event.data); } };
        ws.onerror = () => reject(new Error('WebSocket failed'));
      })`);
      assert.match(welcome, / 001 pagey /);

      const path = await screenshot(page, 'web-serve-placeholder');
      assert.ok(existsSync(path));
      const serious = await axeViolations(page);
      assert.deepEqual(serious, [], describeViolations(serious));

      assert.deepEqual(problems.console, [], 'no console error or warning');
      assert.deepEqual(problems.errors, [], 'no uncaught error');
      assert.deepEqual(problems.cspViolations, [], 'no CSP violation');
      const wsOrigin = origin.replace(/^http/, 'ws');
      const elsewhere = problems.requests.filter((url) => new URL(url).origin !== origin && new URL(url).origin !== wsOrigin);
      assert.deepEqual(elsewhere, [], 'every request goes to the server itself');
      assert.ok(problems.requests.some((url) => url.includes('/assets/')), `the page's assets were requested: ${problems.requests.join(', ')}`);
      assert.ok(problems.requests.includes(`${wsOrigin}/irc`), `the WebSocket is among the requests watched: ${problems.requests.join(', ')}`);
      await page.close();
    });

    it('the CSP is really enforced: an inline script is refused and reported (the watch above can see a violation)', { skip: unavailable ?? false }, async () => {
      const page = await browser!.newPage();
      const problems = await watchPage(page);
      await page.goto(`${origin}/`, { waitUntil: 'load' });
      const ran = await page.evaluate<boolean>(`new Promise((resolve) => {
        window.__inlineRan = false;
        const script = document.createElement('script');
        script.textContent = 'window.__inlineRan = true;';
        document.body.append(script);
        setTimeout(() => resolve(window.__inlineRan), 100);
      })`);
      assert.equal(ran, false, 'the inline script did not run');
      for (let i = 0; i < 20 && problems.cspViolations.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 50));
      assert.ok(problems.cspViolations.some((text) => text.startsWith('script-src')), `reported: ${problems.cspViolations.join('; ')}`);
      // And axe runs under that CSP and reports what it finds: an image without a text alternative.
      await page.evaluate(`document.body.append(Object.assign(document.createElement('img'), { src: 'favicon.svg' }))`);
      const found = (await axeViolations(page)).map((violation) => violation.id);
      assert.ok(found.includes('image-alt'), `axe reports the image without alt: ${found.join(', ')}`);
      await page.close();
    });
  });
});
