/**
 * The web client's message area in Chromium (issue 6), against a real Natter and a raw IRC client in the same room:
 * scroll-back through history, names and times, a multiline message, reactions through the picker, replies,
 * deleting one's own message, typing notifications, user text rendered as text only, and all of it with no console
 * error and no CSP violation.
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
import { firstLine, initials, linkify, nickColor, typingSentence } from '../web/src/text.js';

const ROOM = '#lobby';
const HISTORY = 120;
const STEP_TIMEOUT = { timeout: 30_000 };
const RAW_CAPS = ['message-tags', 'server-time', 'batch', 'echo-message', 'draft/multiline', 'draft/message-redaction'];

const unavailable = browserAvailable() ?? (existsSync(new URL('../web/dist/index.html', import.meta.url)) ? undefined : 'web/dist is not built: run `npm run build`');

/** The msgid the server gave a message bob sent (echo-message). */
async function echoed(bob: TestClient, text: string): Promise<string> {
  const echo = await bob.expect((m) => m.command === 'PRIVMSG' && m.params[1] === text);
  return echo.tags?.get('msgid') ?? assert.fail(`no msgid on ${echo.raw}`);
}

/** The accessible name of the focused element (its aria-label). */
function activeLabel(page: Page): Promise<string | null> {
  return page.evaluate<string | null>("document.activeElement?.getAttribute('aria-label') ?? null");
}

function logScrollTop(page: Page): Promise<number> {
  return page.evaluate<number>("document.querySelector('[role=log]').scrollTop");
}

/** The multiline batch (draft/multiline) bob receives: its opening line and its lines' text. */
async function multilineBatch(bob: TestClient): Promise<{ open: Received; lines: string[] }> {
  const open = await bob.expect((m) => m.command === 'BATCH' && m.params[1] === 'draft/multiline', 5000);
  const ref = (open.params[0] ?? '').slice(1);
  await bob.expect((m) => m.command === 'BATCH' && m.params[0] === `-${ref}`, 5000);
  const lines = bob
    .drain()
    .filter((m) => m.command === 'PRIVMSG' && m.tags?.get('batch') === ref)
    .map((m) => m.params[1] ?? '');
  return { open, lines };
}

describe('the message helpers (web/src/text.ts)', () => {
  it('links http(s) URLs only, without the punctuation that ends a sentence, and loses no text', () => {
    const text = 'see https://a.example/x?y=1. (and http://b.example/p_(q)) javascript:alert(1) ftp://c.example www.d.example';
    const segments = linkify(text);
    assert.equal(segments.map((segment) => segment.text).join(''), text);
    assert.deepEqual(
      segments.filter((segment) => segment.kind === 'link').map((segment) => segment.href),
      ['https://a.example/x?y=1', 'http://b.example/p_(q)'],
    );
    assert.deepEqual(linkify('<a href="javascript:x">https://e.example/"onmouseover=x</a>').filter((segment) => segment.kind === 'link').map((segment) => segment.href), ['https://e.example/']);
  });

  it('says who is typing in a sentence, and makes avatars and quotes', () => {
    assert.equal(typingSentence([]), '');
    assert.equal(typingSentence(['alice']), 'alice is typing…');
    assert.equal(typingSentence(['alice', 'bob']), 'alice and bob are typing…');
    assert.equal(typingSentence(['alice', 'bob', 'carol']), 'several people are typing…');
    assert.equal(initials('alice'), 'A');
    assert.equal(initials('bob_smith'), 'BS');
    assert.equal(initials('[m]ax'), 'MA');
    assert.equal(nickColor('alice'), nickColor('alice'));
    assert.equal(firstLine('one\ntwo'), 'one');
    assert.equal(firstLine('x'.repeat(200), 10), `${'x'.repeat(9)}…`);
  });
});

describe('the web client: messages, composer, reactions (in Chromium)', { skip: unavailable ?? false }, () => {
  let server: TestServer;
  let origin: string;
  let browser: LaunchedBrowser;
  let page: Page;
  let problems: PageProblems;
  let bob: TestClient;
  let log: Locator;
  let composer: Locator;
  /** Filled in as the steps go: the msgids of what was said. */
  const ids = { bobHello: '', aliceMultiline: '' };

  /** The message whose own text (not a quote of it in a reply) is this. */
  const message = (text: string | RegExp): Locator => log.getByRole('article').filter({ has: page.locator('.msg-body', { hasText: text }) });

  before(async () => {
    server = await startTestServer({ http: { listen: ['127.0.0.1:0'] } });
    origin = `http://127.0.0.1:${String(server.httpAddresses[0]?.port ?? assert.fail('no HTTP port'))}`;
    bob = await TestClient.register(server.port, 'bob', { caps: RAW_CAPS });
    bob.send(`JOIN ${ROOM}`);
    await bob.expect((m) => m.command === 'JOIN');
    // History the browser user was not there for: scroll-back has to fetch it.
    for (let index = 1; index <= HISTORY; index++) bob.send(`PRIVMSG ${ROOM} :history ${String(index)}`);
    await bob.expect((m) => m.command === 'PRIVMSG' && m.params[1] === `history ${String(HISTORY)}`, 10_000);
    await bob.roundtrip();

    ({ browser, page, problems } = await openPage(origin));
    // An account (draft/account-registration), so read markers work as for a real user.
    await createAccount(page, 'alice', 'kettle-orbit-57-lantern');
    log = await joinRoom(page, ROOM);
    composer = composerOf(page, ROOM);
    await bob.expect((m) => m.command === 'JOIN' && m.source?.startsWith('alice!') === true);
  });

  after(async () => {
    // Each step even if an earlier one (or before()) failed half-way.
    for (const step of [() => browser.close(), () => bob.quit(), () => server.stop()]) {
      try {
        await step();
      } catch {
        // Not started, or already gone.
      }
    }
  });

  it('shows the latest history on joining, and older pages when scrolled to the top, up to the first message', STEP_TIMEOUT, async () => {
    await message(`history ${String(HISTORY)}`).waitFor();
    assert.equal(await message(/^history 1$/).count(), 0, 'the oldest message is not loaded at first');
    const deadline = Date.now() + 20_000;
    const beginning = log.getByText('Beginning of the conversation');
    while (!(await beginning.isVisible()) && Date.now() < deadline) {
      await log.hover();
      await page.mouse.wheel(0, -20_000);
      await page.waitForTimeout(250);
    }
    assert.ok(await beginning.isVisible(), 'the log says where the conversation begins');
    const first = message(/^history 1$/);
    await first.waitFor();
    const texts = await log.locator('.msg-body').allInnerTexts();
    const history = texts.filter((text) => text.startsWith('history '));
    assert.equal(history.length, HISTORY, 'every message once, none doubled');
    assert.deepEqual(history.slice(0, 3), ['history 1', 'history 2', 'history 3'], 'oldest first');
    await screenshot(page, 'web-messages-scrollback');
  });

  it('sends Shift+Enter lines as one multiline message; the raw client gets a draft/multiline batch', STEP_TIMEOUT, async () => {
    bob.drain();
    await composer.click();
    await composer.pressSequentially('line one');
    await composer.press('Shift+Enter');
    await composer.pressSequentially('line two');
    await composer.press('Enter');
    const { open, lines } = await multilineBatch(bob);
    assert.deepEqual(lines, ['line one', 'line two']);
    assert.equal(open.params[2], ROOM);
    ids.aliceMultiline = open.tags?.get('msgid') ?? assert.fail('no msgid on the batch');
    const sent = message('line one');
    await sent.waitFor();
    assert.match(await sent.locator('.msg-body').innerText(), /^line one\nline two$/, 'one message, its newline kept');
    await sent.getByText('sending…').waitFor({ state: 'detached' });
    assert.equal(await composer.inputValue(), '', 'the box is emptied');
  });

  it("shows another user's message with their name and the time", STEP_TIMEOUT, async () => {
    bob.send(`PRIVMSG ${ROOM} :hello from bob`);
    ids.bobHello = await echoed(bob, 'hello from bob');
    const hello = message('hello from bob');
    await hello.waitFor();
    assert.equal(await hello.locator('.msg-from').innerText(), 'bob');
    const time = hello.locator('time').first();
    assert.match(await time.innerText(), /^\d\d:\d\d$/);
    const datetime = (await time.getAttribute('datetime')) ?? '';
    assert.ok(Math.abs(Date.parse(datetime) - Date.now()) < 60_000, `the message's time: ${datetime}`);
    assert.ok(((await time.getAttribute('title')) ?? '').length > 10, 'the full date in a tooltip');
  });

  it('reacts from the quick row and from the full picker: TAGMSG +draft/react with +draft/reply', STEP_TIMEOUT, async () => {
    const hello = message('hello from bob');
    await hello.hover();
    await hello.getByRole('button', { name: 'React', exact: true }).click();
    await page.getByRole('dialog', { name: 'Add a reaction' }).getByRole('button', { name: 'React with 👍' }).click();
    const react = await bob.expect((m) => m.command === 'TAGMSG' && m.tags?.has('+draft/react') === true, 5000);
    assert.equal(react.tags?.get('+draft/react'), '👍');
    assert.equal(react.tags.get('+draft/reply'), ids.bobHello);
    assert.equal(react.params[0], ROOM);
    const chip = hello.getByRole('button', { name: /^👍 1/ });
    await chip.waitFor();
    assert.equal(await chip.getAttribute('aria-pressed'), 'true', 'highlighted: this user reacted');
    assert.equal(await page.getByRole('dialog', { name: 'Add a reaction' }).count(), 0, 'the picker closed on choosing');
    assert.equal(await activeLabel(page), 'React', 'focus is back on the button');

    // The full picker (emoji-picker-element), under the real CSP.
    await hello.getByRole('button', { name: 'React', exact: true }).click();
    const dialog = page.getByRole('dialog', { name: 'Add a reaction' });
    await dialog.getByRole('button', { name: 'More…' }).click();
    const emoji = dialog.locator('emoji-picker').getByRole('menuitem').first();
    await emoji.waitFor({ timeout: 10_000 });
    await screenshot(page, 'web-messages-picker');
    await emoji.click();
    const second = await bob.expect((m) => m.command === 'TAGMSG' && m.tags?.has('+draft/react') === true, 5000);
    assert.equal(second.tags?.get('+draft/reply'), ids.bobHello);
    assert.notEqual(second.tags.get('+draft/react'), '👍');

    // Escape closes the picker and gives the focus back.
    await hello.getByRole('button', { name: 'React', exact: true }).click();
    await dialog.waitFor();
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    assert.equal(await activeLabel(page), 'React');

    // Clicking one's own reaction takes it back.
    await chip.click();
    const unreact = await bob.expect((m) => m.command === 'TAGMSG' && m.tags?.has('+draft/unreact') === true, 5000);
    assert.equal(unreact.tags?.get('+draft/unreact'), '👍');
    await chip.waitFor({ state: 'detached' });
  });

  it('shows replies with a quote of their parent, and sends +draft/reply', STEP_TIMEOUT, async () => {
    bob.send(`@+draft/reply=${ids.aliceMultiline} PRIVMSG ${ROOM} :nice lines`);
    bob.send(`@+draft/reply=no-such-msgid PRIVMSG ${ROOM} :about something old`);
    const reply = message('nice lines');
    await reply.waitFor();
    const quote = reply.getByRole('button', { name: /In reply to alice: line one/ });
    await quote.waitFor();
    await message('about something old').getByText('original message not loaded').waitFor();
    await quote.click();
    await page.waitForFunction("document.activeElement?.textContent?.includes('line two') === true");

    const hello = message('hello from bob');
    await hello.hover();
    await hello.getByRole('button', { name: 'Reply', exact: true }).click();
    await page.getByText('Replying to').waitFor();
    await composer.pressSequentially('a reply to bob');
    await composer.press('Enter');
    const sent = await bob.expect((m) => m.command === 'PRIVMSG' && m.params[1] === 'a reply to bob', 5000);
    assert.equal(sent.tags?.get('+draft/reply'), ids.bobHello);
    const mine = message('a reply to bob');
    await mine.getByRole('button', { name: /In reply to bob: hello from bob/ }).waitFor();
    assert.equal(await page.getByText('Replying to').count(), 0, 'the reply bar is gone once sent');
    await screenshot(page, 'web-messages-replies');
  });

  it("deletes one's own message: it shows as deleted and the raw client gets REDACT", STEP_TIMEOUT, async () => {
    const mine = message('a reply to bob');
    const msgid = (await mine.getAttribute('data-msgid')) ?? assert.fail('no msgid on the message');
    await mine.hover();
    assert.equal(await message('hello from bob').getByRole('button', { name: 'Delete', exact: true }).count(), 0, "no Delete on someone else's message");
    await mine.getByRole('button', { name: 'Delete', exact: true }).click();
    await mine.getByRole('group', { name: 'Delete this message?' }).getByRole('button', { name: 'Delete', exact: true }).click();
    const redact = await bob.expect((m) => m.command === 'REDACT', 5000);
    assert.deepEqual(redact.params.slice(0, 2), [ROOM, msgid]);
    await log.locator(`[data-msgid="${msgid}"]`).getByText('message deleted').waitFor();
  });

  it('shows "bob is typing…" from +typing=active, and hides it on done', STEP_TIMEOUT, async () => {
    const typing = page.getByText('bob is typing…');
    bob.send(`@+typing=active TAGMSG ${ROOM}`);
    await typing.waitFor();
    await screenshot(page, 'web-messages-typing');
    bob.send(`@+typing=done TAGMSG ${ROOM}`);
    await typing.waitFor({ state: 'detached' });
  });

  it('renders HTML and javascript: links as literal text, only http(s) links as links', STEP_TIMEOUT, async () => {
    const text = '<b>html</b> <img src=x onerror=alert(1)> javascript:alert(1) <a href="javascript:alert(2)">x</a> see https://example.com/ok.';
    bob.send(`PRIVMSG ${ROOM} :${text}`);
    const hostile = message('<b>html</b>');
    await hostile.waitFor();
    assert.equal(await hostile.locator('.msg-body').innerText(), text);
    assert.equal(await hostile.locator('b, img').count(), 0, 'no element from the text');
    const links = hostile.locator('.msg-body a');
    assert.equal(await links.count(), 1, 'only the https URL is a link');
    assert.equal(await links.getAttribute('href'), 'https://example.com/ok');
    assert.equal(await links.getAttribute('target'), '_blank');
    assert.equal(await links.getAttribute('rel'), 'noopener noreferrer');
  });

  it('shows actions as "* nick does", notices, and marks messages that mention the user', STEP_TIMEOUT, async () => {
    bob.send(`PRIVMSG ${ROOM} :\u0001ACTION waves at everyone\u0001`);
    bob.send(`NOTICE ${ROOM} :the room closes at midnight`);
    bob.send(`PRIVMSG ${ROOM} :alice, have a look at https://natter.example/docs`);
    await log.getByText('* bob waves at everyone').waitFor();
    await message('the room closes at midnight').getByText('notice').waitFor();
    const mention = message(/^alice, have a look/);
    await mention.waitFor();
    assert.match((await mention.getAttribute('class')) ?? '', /is-highlight/);
    await screenshot(page, 'web-messages-final');
    await page.emulateMedia({ colorScheme: 'dark' });
    // Past the background transitions.
    await page.waitForTimeout(300);
    await screenshot(page, 'web-messages-final-dark');
    await page.emulateMedia({ colorScheme: 'light' });
  });

  it('keeps the view still while the user reads older messages, and offers "Jump to latest" when new ones come', STEP_TIMEOUT, async () => {
    await log.hover();
    await page.mouse.wheel(0, -1500);
    await page.waitForTimeout(300);
    const before = await logScrollTop(page);
    assert.ok(before > 0, `scrolled part-way up: ${String(before)}`);
    bob.send(`PRIVMSG ${ROOM} :while you were reading`);
    const jump = page.getByRole('button', { name: /1 new message · Jump to latest/ });
    await jump.waitFor();
    assert.equal(await logScrollTop(page), before, 'the view did not move');
    await jump.click();
    await jump.waitFor({ state: 'detached' });
    assert.ok(await message('while you were reading').isVisible(), 'back at the newest message');
    // At the bottom, new messages scroll into view by themselves.
    bob.send(`PRIVMSG ${ROOM} :and one more`);
    await message('and one more').waitFor();
    await page.waitForTimeout(100);
    assert.ok(await message('and one more').isVisible());
  });

  it('lists matching slash commands while one is typed, and runs /help', STEP_TIMEOUT, async () => {
    await composer.click();
    await composer.pressSequentially('/he');
    const commands = page.getByRole('listbox', { name: 'Commands' });
    await commands.getByRole('option', { name: /\/help/ }).waitFor();
    await screenshot(page, 'web-messages-commands');
    await composer.press('Tab');
    assert.equal(await composer.inputValue(), '/help ');
    await composer.press('Enter');
    await log.getByText(/\/join <#room> \[key\] — Join a room/).waitFor();
    assert.equal(await composer.inputValue(), '');
    // Tab completes a member's nick.
    await composer.pressSequentially('bo');
    await composer.press('Tab');
    assert.equal(await composer.inputValue(), 'bob: ');
    await composer.fill('');
  });

  it('axe finds no serious accessibility issue in the message area, light or dark', STEP_TIMEOUT, async () => {
    await message('hello from bob').hover();
    for (const colorScheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme });
      await page.waitForTimeout(300);
      const serious = await axeViolations(page);
      assert.deepEqual(serious, [], `${colorScheme}: ${describeViolations(serious)}`);
    }
    await page.emulateMedia({ colorScheme: 'light' });
  });

  it('raised no console error, uncaught error or CSP violation in all that', () => {
    assert.deepEqual(problems.cspViolations, [], 'no CSP violation');
    assert.deepEqual(problems.errors, [], 'no uncaught error');
    assert.deepEqual(problems.console, [], 'no console error or warning');
    const elsewhere = problems.requests.filter((url) => !url.startsWith(origin) && !url.startsWith(origin.replace(/^http/, 'ws')));
    assert.deepEqual(elsewhere, [], 'nothing requested from elsewhere (the emoji data included)');
  });
});
