/**
 * View-once messages in the web client (issue 7, client side), in Chromium against a real Natter with a raw IRC
 * client that has natter.chat/view-once: a received one shows sealed without its content, opens once, shows "Opened"
 * after closing and cannot be opened again; one sent from the composer's toggle reaches the raw client sealed, and it
 * opens it once with VIEWONCE OPEN. The page raises no console error or CSP violation.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { Locator, Page } from 'playwright-core';
import { browserAvailable, screenshot } from './helpers/browser.js';
import type { LaunchedBrowser, PageProblems } from './helpers/browser.js';
import { TestClient } from './helpers/client.js';
import { startTestServer } from './helpers/server.js';
import type { TestServer } from './helpers/server.js';
import { composerOf, createAccount, openPage } from './helpers/web.js';

const STEP_TIMEOUT = { timeout: 30_000 };
const VIEW_ONCE = 'natter.chat/view-once';

const unavailable = browserAvailable() ?? (existsSync(new URL('../web/dist/index.html', import.meta.url)) ? undefined : 'web/dist is not built: run `npm run build`');

describe('the web client: view-once messages (in Chromium)', { skip: unavailable ?? false }, () => {
  let server: TestServer;
  let browser: LaunchedBrowser;
  let page: Page;
  let problems: PageProblems;
  let bob: TestClient;
  let log: Locator;

  const pageText = (): Promise<string> => page.locator('body').innerText();

  before(async () => {
    server = await startTestServer({ http: { listen: ['127.0.0.1:0'] } });
    const origin = `http://127.0.0.1:${String(server.httpAddresses[0]?.port ?? assert.fail('no HTTP port'))}`;
    bob = await TestClient.register(server.port, 'bob', { caps: ['message-tags', 'server-time', 'echo-message', VIEW_ONCE] });
    ({ browser, page, problems } = await openPage(origin));
    await createAccount(page, 'alice', 'quiet-harbor-82-lamp');
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

  it('a received view-once message shows sealed, opens once with its content, then shows "Opened" and cannot be opened again', STEP_TIMEOUT, async () => {
    bob.send(`@${VIEW_ONCE} PRIVMSG alice :the door code is 4711`);
    await bob.expect((m) => m.command === 'PRIVMSG' && m.tags?.has(VIEW_ONCE) === true, 5000);
    const sidebar = page.getByRole('navigation', { name: 'Rooms and conversations' });
    await sidebar.getByRole('button', { name: /^bob/ }).click();
    log = page.getByRole('log', { name: 'Messages in bob' });
    const sealed = log.getByRole('article').filter({ hasText: 'View-once message' });
    const open = sealed.getByRole('button', { name: 'Open view-once message' });
    await open.waitFor();
    const before = await pageText();
    assert.ok(!before.includes('4711'), 'the content is not on the page');
    assert.ok(!before.includes('[view-once]'), 'nor the placeholder');
    await screenshot(page, 'web-view-once-sealed');

    await open.click();
    const shown = log.getByRole('group', { name: 'View-once message' });
    await shown.getByText('the door code is 4711').waitFor();
    assert.equal(await open.count(), 0, 'no second Open while it is shown');
    await screenshot(page, 'web-view-once-open');

    await shown.getByRole('button', { name: 'Close' }).click();
    await shown.waitFor({ state: 'detached' });
    await log.getByRole('article').getByText('Opened', { exact: true }).waitFor();
    assert.ok(!(await pageText()).includes('4711'), 'the content is gone from the page');
    assert.equal(await log.getByRole('button', { name: 'Open view-once message' }).count(), 0, 'it cannot be opened again');
  });

  it('"Send as view-once" sends the next message sealed; the raw client opens it once', STEP_TIMEOUT, async () => {
    const composer = composerOf(page, 'bob');
    const toggle = page.getByRole('button', { name: 'Send as view-once' });
    assert.equal(await toggle.getAttribute('aria-pressed'), 'false');
    await toggle.click();
    assert.equal(await toggle.getAttribute('aria-pressed'), 'true');
    await composer.pressSequentially('meet at the old mill');
    await composer.press('Enter');

    const sealed = await bob.expect((m) => m.command === 'PRIVMSG' && m.tags?.has(VIEW_ONCE) === true && m.source?.startsWith('alice!') === true, 5000);
    assert.ok(!sealed.params[1]?.includes('old mill'), 'bob gets it sealed');
    const msgid = sealed.tags?.get('msgid') ?? assert.fail('no msgid');
    await log.getByRole('article').getByText('View-once message sent').waitFor();
    assert.equal(await toggle.getAttribute('aria-pressed'), 'false', 'the toggle is off again after sending');
    assert.ok(!(await pageText()).includes('old mill'), "the sender's page does not keep showing it");

    bob.send(`VIEWONCE OPEN ${msgid}`);
    const content = await bob.expect((m) => m.command === 'VIEWONCE' && m.params[0] === 'CONTENT', 5000);
    assert.deepEqual(content.params, ['CONTENT', msgid, 'meet at the old mill']);
    bob.send(`VIEWONCE OPEN ${msgid}`);
    const again = await bob.expect((m) => m.command === 'FAIL', 5000);
    assert.deepEqual(again.params.slice(0, 3), ['VIEWONCE', 'ALREADY_OPENED', msgid]);

    // The next message is an ordinary one again.
    await composer.pressSequentially('and an ordinary one');
    await composer.press('Enter');
    const plain = await bob.expect((m) => m.command === 'PRIVMSG' && m.params[1] === 'and an ordinary one', 5000);
    assert.equal(plain.tags?.has(VIEW_ONCE) ?? false, false);
    await screenshot(page, 'web-view-once-sent');
  });

  it('raised no console error, uncaught error or CSP violation in all that', () => {
    assert.deepEqual(problems.cspViolations, [], 'no CSP violation');
    assert.deepEqual(problems.errors, [], 'no uncaught error');
    assert.deepEqual(problems.console, [], 'no console error or warning');
  });
});
