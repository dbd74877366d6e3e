/**
 * Whispers in the web client (issue 7, part 3), in Chromium against a real Natter with raw IRC clients in the room:
 * whispering from the member list and with /whisper reaches one raw member while the others get nothing; a whisper
 * from a raw client shows in the room, marked, and replying to it whispers back; the page stays accessible and clean.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { Locator, Page } from 'playwright-core';
import { axeViolations, browserAvailable, describeViolations, screenshot } from './helpers/browser.js';
import type { LaunchedBrowser, PageProblems } from './helpers/browser.js';
import { TestClient } from './helpers/client.js';
import type { Received } from './helpers/client.js';
import { startTestServer } from './helpers/server.js';
import type { TestServer } from './helpers/server.js';
import { composerOf, createAccount, joinRoom, openPage } from './helpers/web.js';

const ROOM = '#den';
const STEP_TIMEOUT = { timeout: 30_000 };

const unavailable = browserAvailable() ?? (existsSync(new URL('../web/dist/index.html', import.meta.url)) ? undefined : 'web/dist is not built: run `npm run build`');

/** Every PRIVMSG a raw client got up to a PING barrier: what would show a leak. */
async function privmsgs(client: TestClient): Promise<string[]> {
  return (await client.roundtrip()).filter((m) => m.command === 'PRIVMSG').map((m) => m.raw);
}

describe('the web client: whispers (in Chromium)', { skip: unavailable ?? false }, () => {
  let server: TestServer;
  let browser: LaunchedBrowser;
  let page: Page;
  let problems: PageProblems;
  let origin: string;
  /** bob and carol speak message-tags; dave is a plain IRC client. */
  let bob: TestClient;
  let carol: TestClient;
  let dave: TestClient;
  let log: Locator;
  let composer: Locator;
  let members: Locator;

  const message = (text: string | RegExp): Locator => log.getByRole('article').filter({ has: page.locator('.msg-body', { hasText: text }) });
  const whisperBar = (): Locator => page.locator('.composer-whisper');

  before(async () => {
    server = await startTestServer({ http: { listen: ['127.0.0.1:0'] } });
    origin = `http://127.0.0.1:${String(server.httpAddresses[0]?.port ?? assert.fail('no HTTP port'))}`;
    bob = await TestClient.register(server.port, 'bob', { caps: ['message-tags', 'server-time', 'echo-message'] });
    carol = await TestClient.register(server.port, 'carol', { caps: ['message-tags', 'server-time'] });
    dave = await TestClient.register(server.port, 'dave');
    for (const client of [bob, carol, dave]) {
      client.send(`JOIN ${ROOM}`);
      await client.expect((m) => m.command === '366');
    }

    ({ browser, page, problems } = await openPage(origin));
    await createAccount(page, 'alice', 'quiet-harbor-82-lamp');
    log = await joinRoom(page, ROOM);
    composer = composerOf(page, ROOM);
    members = page.getByRole('complementary', { name: `Members of ${ROOM}` });
    await members.getByRole('button', { name: 'dave' }).waitFor();
    for (const client of [bob, carol, dave]) {
      await client.expect((m) => m.command === 'JOIN' && m.source?.startsWith('alice!') === true);
      client.drain();
    }
  });

  after(async () => {
    for (const step of [() => browser.close(), () => bob.quit(), () => carol.quit(), () => dave.quit(), () => server.stop()]) {
      try {
        await step();
      } catch {
        // Not started, or already gone.
      }
    }
  });

  it('"Whisper" in the member list whispers to that member alone; the other members get nothing', STEP_TIMEOUT, async () => {
    await members.getByRole('button', { name: 'bob', exact: true }).click();
    await members.getByRole('list', { name: 'Actions for bob' }).getByRole('button', { name: 'Whisper' }).click();
    await whisperBar().getByText('Whispering to').waitFor();
    assert.equal(await page.evaluate<string | null>("document.activeElement?.getAttribute('aria-label') ?? null"), `Message ${ROOM}`, 'the box has the focus');
    assert.equal(await composer.getAttribute('placeholder'), 'Whisper to bob');
    await composer.pressSequentially('meet me at noon');
    await composer.press('Enter');

    const heard = await bob.expect((m) => m.command === 'PRIVMSG' && m.params[1] === 'meet me at noon', 5000);
    assert.equal(heard.params[0], 'bob', 'a private message to bob');
    assert.equal(heard.tags?.get('+channel-context'), ROOM);
    const mine = message('meet me at noon');
    await mine.getByText('whisper to bob').waitFor();
    await mine.getByText('sending…').waitFor({ state: 'detached' });
    assert.match((await mine.getAttribute('class')) ?? '', /is-whisper/);
    assert.match((await mine.getAttribute('aria-label')) ?? '', /^alice, whisper to bob, /);
    assert.deepEqual([...(await privmsgs(carol)), ...(await privmsgs(dave))], [], 'carol and dave got nothing');
    await screenshot(page, 'web-whispers-sent');

    // The mode stays until it is closed: then the next message is for the whole room again.
    await whisperBar().waitFor();
    await whisperBar().getByRole('button', { name: 'Stop whispering' }).click();
    await whisperBar().waitFor({ state: 'detached' });
    await composer.pressSequentially('hello everyone');
    await composer.press('Enter');
    for (const member of [bob, carol, dave]) {
      const said = await member.expect((m) => m.command === 'PRIVMSG' && m.params[1] === 'hello everyone', 5000);
      assert.equal(said.params[0], ROOM);
    }
    assert.equal(await message('hello everyone').getByText(/whisper/).count(), 0, 'not marked');
  });

  it('/whisper carol … reaches carol only', STEP_TIMEOUT, async () => {
    await composer.pressSequentially('/whisper carol just between us');
    await composer.press('Enter');
    const heard = await carol.expect((m) => m.command === 'PRIVMSG' && m.params[1] === 'just between us', 5000);
    assert.equal(heard.tags?.get('+draft/channel-context'), ROOM);
    await message('just between us').getByText('whisper to carol').waitFor();
    assert.deepEqual([...(await privmsgs(bob)), ...(await privmsgs(dave))], [], 'bob and dave got nothing');
  });

  it("a raw client's whisper shows in the room, marked, with no conversation opened; replying whispers back", STEP_TIMEOUT, async () => {
    bob.send(`@+channel-context=${ROOM} PRIVMSG alice :psst, alice`);
    const theirs = message('psst, alice');
    await theirs.getByText('whispered to you').waitFor();
    assert.match((await theirs.getAttribute('class')) ?? '', /is-whisper/);
    const sidebar = page.getByRole('navigation', { name: 'Rooms and conversations' });
    assert.equal(await sidebar.getByRole('button', { name: /^bob/ }).count(), 0, 'it is not a direct conversation');
    assert.deepEqual([...(await privmsgs(carol)), ...(await privmsgs(dave))], []);

    await theirs.hover();
    await theirs.getByRole('button', { name: 'Reply', exact: true }).click();
    await whisperBar().getByText('bob').waitFor();
    await composer.pressSequentially('got it');
    await composer.press('Enter');
    const reply: Received = await bob.expect((m) => m.command === 'PRIVMSG' && m.params[1] === 'got it', 5000);
    assert.equal(reply.params[0], 'bob', 'to bob, not to the room');
    assert.equal(reply.tags?.get('+channel-context'), ROOM);
    assert.equal(reply.tags.get('+draft/reply'), (await theirs.getAttribute('data-msgid')) ?? '');
    await message('got it').getByText('whisper to bob').waitFor();
    assert.deepEqual([...(await privmsgs(carol)), ...(await privmsgs(dave))], [], 'the room heard nothing of it');
    await page.keyboard.press('Escape');
    await whisperBar().waitFor({ state: 'detached' });
    await screenshot(page, 'web-whispers-room');
  });

  it('axe finds no serious accessibility issue with whispers shown, light or dark', STEP_TIMEOUT, async () => {
    await members.getByRole('button', { name: 'bob', exact: true }).click();
    await members.getByRole('list', { name: 'Actions for bob' }).getByRole('button', { name: 'Whisper' }).click();
    await whisperBar().waitFor();
    for (const colorScheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme });
      await page.waitForTimeout(300);
      const serious = await axeViolations(page);
      assert.deepEqual(serious, [], `${colorScheme}: ${describeViolations(serious)}`);
      await screenshot(page, `web-whispers-${colorScheme}`);
    }
    await page.emulateMedia({ colorScheme: 'light' });
  });

  it('raised no console error, uncaught error or CSP violation in all that', () => {
    assert.deepEqual(problems.cspViolations, [], 'no CSP violation');
    assert.deepEqual(problems.errors, [], 'no uncaught error');
    assert.deepEqual(problems.console, [], 'no console error or warning');
  });
});
