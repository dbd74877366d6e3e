/**
 * Issue 6, "Done when": a network drop and reconnect loses and doubles nothing, tried in the browser. The server cuts
 * the browser's WebSocket (as a dead network does); while it is away a raw IRC client keeps talking and the browser
 * user sends a message; once the page has reconnected by itself, it shows everything it missed exactly once and its
 * own message reached the room exactly once.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { browserAvailable } from './helpers/browser.js';
import type { LaunchedBrowser, PageProblems } from './helpers/browser.js';
import { TestClient } from './helpers/client.js';
import { join, settle } from './helpers/clients.js';
import { startTestServer } from './helpers/server.js';
import type { TestServer } from './helpers/server.js';
import { composerOf, createAccount, joinRoom, openPage } from './helpers/web.js';

const WEB_DIST = new URL('../web/dist/index.html', import.meta.url);
const skip = browserAvailable() ?? (existsSync(WEB_DIST) ? undefined : 'web/dist is not built (npm run build)');

describe('web client: a network drop', { skip }, () => {
  let server: TestServer;
  let browser: LaunchedBrowser;
  let page: Page;
  let problems: PageProblems;
  let bob: TestClient;

  before(async () => {
    server = await startTestServer({ http: { listen: ['127.0.0.1:0'] }, accounts: { maxFailedLogins: 1000 } });
    ({ browser, page, problems } = await openPage(`http://127.0.0.1:${server.httpAddresses[0]!.port}`));
  });
  after(async () => {
    bob.close();
    await browser.close();
    await server.stop();
  });

  /** How many times the log shows exactly this text. */
  function countOf(text: string): Promise<number> {
    return page.getByRole('log').getByText(text, { exact: true }).count();
  }

  it('loses and doubles nothing', async () => {
    await createAccount(page, 'alice', 'correct horse 42');
    await joinRoom(page, '#lobby');

    bob = await TestClient.register(server.port, 'bob');
    await join(bob, '#lobby');
    bob.send('PRIVMSG #lobby :before the drop');
    await page.getByRole('log').getByText('before the drop', { exact: true }).waitFor();

    // The network goes: the server's end of the browser's WebSocket is cut without a word.
    const connection = [...server.server.connections].find((candidate) => candidate.session.nick === 'alice');
    assert.ok(connection !== undefined, "alice's connection");
    connection.transport.destroy();
    await page.getByText('Reconnecting…').first().waitFor();

    for (let index = 1; index <= 3; index++) bob.send(`PRIVMSG #lobby :missed ${index}`);
    await settle(bob);
    const box = composerOf(page, '#lobby');
    await box.fill('typed while away');
    await box.press('Enter');

    // Back by itself (the engine's backoff starts at a second): the missed messages and our own, each once.
    await page.getByRole('log').getByText('typed while away', { exact: true }).waitFor();
    await page.getByRole('log').getByText('missed 3', { exact: true }).waitFor();
    await bob.expect((m) => m.command === 'PRIVMSG' && m.params[1] === 'typed while away');
    bob.send('PRIVMSG #lobby :after the drop');
    await page.getByRole('log').getByText('after the drop', { exact: true }).waitFor();
    for (const text of ['before the drop', 'missed 1', 'missed 2', 'missed 3', 'typed while away', 'after the drop']) {
      assert.equal(await countOf(text), 1, `"${text}" shown once`);
    }
    await settle(bob);
    assert.deepEqual(bob.drain().filter((m) => m.command === 'PRIVMSG').map((m) => m.params[1]), [], 'our message reached the room once');
    assert.deepEqual(problems.errors, []);
    assert.deepEqual(problems.cspViolations, []);
  });
});
