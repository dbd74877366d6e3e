/**
 * The web client end to end (issue 6), in Debian's Chromium against a real Natter: two people create accounts in two
 * browsers, meet in a room, talk with each other and with a raw IRC client over TCP, one starts a direct message from
 * the member list and the other sees it arrive with an unread badge; the signed-in page has no serious accessibility
 * issue, loads nothing from elsewhere and breaks no CSP rule; signing in again remembers the name and the rooms
 * (never the password). Screenshots at desktop and phone widths go to test-output/screenshots/.
 *
 * Selectors are roles and accessible names only (the names the components promise), never CSS classes.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { Locator, Page } from 'playwright-core';
import { axeViolations, browserAvailable, describeViolations, launchBrowser, screenshot, watchPage } from './helpers/browser.js';
import type { LaunchedBrowser, PageProblems } from './helpers/browser.js';
import { TestClient } from './helpers/client.js';
import { startTestServer } from './helpers/server.js';
import type { TestServer } from './helpers/server.js';

const WEB_DIST = new URL('../web/dist/index.html', import.meta.url);
const ROOM = '#lobby';
const PASSWORD = 'correct horse 42';
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
/** Every wait in a page is bounded by this (Playwright's default is 30 s). */
const STEP_MS = 10_000;

interface Person {
  readonly name: string;
  readonly browser: LaunchedBrowser;
  readonly page: Page;
  readonly problems: PageProblems;
}

async function open(name: string, origin: string): Promise<Person> {
  const browser = await launchBrowser();
  try {
    const page = await browser.newPage();
    page.setDefaultTimeout(STEP_MS);
    const problems = await watchPage(page);
    await page.setViewportSize(DESKTOP);
    await page.goto(`${origin}/`, { waitUntil: 'load' });
    return { name, browser, page, problems };
  } catch (error) {
    await browser.close();
    throw error;
  }
}

function navigation(page: Page): Locator {
  return page.getByRole('navigation', { name: 'Rooms and conversations' });
}

async function createAccount(person: Person): Promise<void> {
  const { page } = person;
  await page.getByRole('radio', { name: 'Create account' }).check();
  await page.getByLabel('Account name').fill(person.name);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Create account' }).click();
  await navigation(page).waitFor();
}

async function joinRoom(page: Page, room: string): Promise<void> {
  await navigation(page).getByRole('button', { name: 'Join or create a room' }).click();
  const dialog = page.getByRole('dialog', { name: 'Join or create a room' });
  await dialog.getByLabel('Room name').fill(room);
  await dialog.getByRole('button', { name: 'Join room' }).click();
  await dialog.waitFor({ state: 'detached' });
  await page.getByRole('heading', { level: 1, name: room }).waitFor();
}

async function say(page: Page, text: string): Promise<void> {
  const box = page.getByRole('textbox', { name: /^Message / });
  await box.fill(text);
  await box.press('Enter');
}

/** The message shows in the log as an article named "<nick>, <time>" holding its text and a <time>. */
async function seesMessage(page: Page, from: string, text: string): Promise<void> {
  const article = page
    .getByRole('log')
    .getByRole('article', { name: new RegExp(`^${from}, \\d{1,2}[:.]\\d{2}`) })
    .filter({ hasText: text });
  await article.waitFor();
  const time = article.locator('time').first();
  assert.match((await time.getAttribute('datetime')) ?? '', /^\d{4}-\d{2}-\d{2}T/, `${from}'s message has a machine-readable time`);
  assert.match(await time.innerText(), /\d{1,2}[:.]\d{2}/, `${from}'s message shows its time`);
}

/**
 * Polls a JavaScript expression in the page until it is true. (page.waitForFunction compiles its text in the page,
 * which the CSP refuses without 'unsafe-eval'; page.evaluate of a string goes through DevTools and is not governed.)
 */
async function until(page: Page, expression: string, timeoutMs = STEP_MS): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await page.evaluate<boolean>(expression)) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return false;
}

/** A screenshot once CSS transitions (the slide-overs, the theme's colors) have finished, or after 2 s regardless. */
async function settledScreenshot(page: Page, name: string): Promise<string> {
  await until(page, "document.getAnimations().every((animation) => animation.playState !== 'running')", 2000);
  return screenshot(page, name);
}

function assertClean(person: Person, origin: string): void {
  const { problems } = person;
  assert.deepEqual(problems.errors, [], `${person.name}: no uncaught error`);
  assert.deepEqual(problems.cspViolations, [], `${person.name}: no CSP violation`);
  assert.deepEqual(
    problems.console.filter((line) => !line.includes('WebSocket')),
    [],
    `${person.name}: no console error or warning`,
  );
  const ws = origin.replace(/^http/, 'ws');
  const elsewhere = problems.requests.filter((url) => new URL(url).origin !== origin && new URL(url).origin !== ws);
  assert.deepEqual(elsewhere, [], `${person.name}: every request goes to the server itself`);
}

const unavailable = browserAvailable();

describe('the web client, end to end in Chromium', { skip: unavailable ?? false }, () => {
  let server: TestServer;
  let origin: string;
  let alice: Person | undefined;
  let bob: Person | undefined;
  let raw: TestClient | undefined;

  before(async () => {
    assert.ok(existsSync(WEB_DIST), 'web/dist is not built: run `npm run build` first');
    server = await startTestServer({ http: { listen: ['127.0.0.1:0'] } });
    origin = `http://127.0.0.1:${server.httpAddresses[0]?.port ?? assert.fail('no HTTP port')}`;
    alice = await open('alice', origin);
    bob = await open('bob', origin);
  });

  after(async () => {
    await Promise.allSettled([alice?.browser.close(), bob?.browser.close(), raw?.quit()]);
    await server.stop();
  });

  it('a newcomer signs up and lands on a friendly empty state that offers to join, create or browse rooms', { timeout: 60_000 }, async () => {
    const page = alice!.page;
    await page.getByRole('heading', { level: 1, name: 'Natter' }).waitFor();
    await settledScreenshot(page, 'web-client-signin-desktop');
    await createAccount(alice!);
    const main = page.getByRole('main');
    await main.getByRole('heading', { name: /Welcome to .*, alice!/ }).waitFor();
    for (const name of ['Join or create a room', 'Browse rooms', 'Message someone']) await main.getByRole('button', { name }).waitFor();
    assert.equal(await navigation(page).getByRole('list').first().getByRole('button').count(), 0, 'no room joined');
    await settledScreenshot(page, 'web-client-welcome-desktop');
  });

  it('two people in a room and a raw IRC client all see each other, with names and times', { timeout: 90_000 }, async () => {
    const a = alice!.page;
    const b = bob!.page;
    await joinRoom(a, ROOM);
    await b.setViewportSize(PHONE);
    await settledScreenshot(b, 'web-client-signin-phone');
    await b.setViewportSize(DESKTOP);
    await createAccount(bob!);

    // Bob finds the room in the directory, with its member count.
    await navigation(b).getByRole('button', { name: 'Browse rooms' }).click();
    const directory = b.getByRole('dialog', { name: 'Browse rooms' });
    await directory.getByRole('button', { name: `Join ${ROOM}, 1 member` }).click();
    await directory.waitFor({ state: 'detached' });
    await b.getByRole('heading', { level: 1, name: ROOM }).waitFor();

    raw = await TestClient.register(server.port, 'rawcarol');
    raw.send(`JOIN ${ROOM}`);
    await raw.expect((m) => m.command === 'JOIN' && m.source?.startsWith('rawcarol!') === true);

    await say(a, 'hello from alice');
    await seesMessage(b, 'alice', 'hello from alice');
    await seesMessage(a, 'alice', 'hello from alice');
    await say(b, 'hi alice, bob here');
    await seesMessage(a, 'bob', 'hi alice, bob here');

    raw.send(`PRIVMSG ${ROOM} :hello from a terminal`);
    await seesMessage(a, 'rawcarol', 'hello from a terminal');
    await seesMessage(b, 'rawcarol', 'hello from a terminal');
    for (const [from, text] of [
      ['alice', 'hello from alice'],
      ['bob', 'hi alice, bob here'],
    ] as const) {
      const got = await raw.expect((m) => m.command === 'PRIVMSG' && m.source?.startsWith(`${from}!`) === true && m.params[1] === text, STEP_MS);
      assert.equal(got.params[0], ROOM);
    }

    // Reactions and replies (the message area's) travel between the two browsers.
    const article = (page: Page, text: string): Locator => page.getByRole('log').getByRole('article').filter({ hasText: text });
    // The toolbar shows on hover (or focus), as a pointer user meets it.
    await article(b, 'hello from alice').hover();
    await article(b, 'hello from alice').getByRole('button', { name: 'React', exact: true }).click();
    await b.getByRole('dialog', { name: 'Add a reaction' }).getByRole('button', { name: 'React with 👍' }).click();
    await article(a, 'hello from alice').getByRole('button', { name: /^👍 1/ }).waitFor();
    await article(a, 'hi alice, bob here').hover();
    await article(a, 'hi alice, bob here').getByRole('button', { name: 'Reply', exact: true }).click();
    await a.getByText('Replying to').waitFor();
    await say(a, 'glad you are here');
    await article(b, 'glad you are here').getByRole('button', { name: /In reply to bob: hi alice, bob here/ }).waitFor();

    // The member list groups by role: alice created the room, so she is its moderator.
    const members = a.getByRole('complementary', { name: `Members of ${ROOM}` });
    await members.getByRole('heading', { name: /^Moderators/ }).waitFor();
    await members.getByRole('button', { name: 'rawcarol' }).waitFor();
  });

  it('a moderator gets moderation actions in the member menu; others only Message, Whisper and Whois', { timeout: 60_000 }, async () => {
    const a = alice!.page;
    const b = bob!.page;
    const aliceMembers = a.getByRole('complementary', { name: `Members of ${ROOM}` });
    await aliceMembers.getByRole('button', { name: 'bob' }).click();
    const menu = aliceMembers.getByRole('list', { name: 'Actions for bob' });
    for (const name of ['Message', 'Whisper', 'Whois', 'Make moderator', 'Give voice', 'Kick from room', 'Ban from room']) await menu.getByRole('button', { name }).waitFor();
    await menu.getByRole('button', { name: 'Give voice' }).click();
    await aliceMembers.getByRole('heading', { name: /^Voiced/ }).waitFor();

    // Mute (the m: extban): the raw client stays in the room but may not speak until unmuted.
    const carol = raw!;
    await aliceMembers.getByRole('button', { name: 'rawcarol' }).click();
    await aliceMembers.getByRole('list', { name: 'Actions for rawcarol' }).getByRole('button', { name: 'Mute', exact: true }).click();
    await carol.expect((m) => m.command === 'MODE' && m.params[1] === '+b' && m.params[2] === 'm:rawcarol!*@*');
    carol.send(`PRIVMSG ${ROOM} :am I muted?`);
    await carol.expect((m) => m.command === '404');
    await aliceMembers.getByRole('button', { name: 'rawcarol' }).click();
    await aliceMembers.getByRole('list', { name: 'Actions for rawcarol' }).getByRole('button', { name: 'Unmute' }).click();
    await carol.expect((m) => m.command === 'MODE' && m.params[1] === '-b');

    const bobMembers = b.getByRole('complementary', { name: `Members of ${ROOM}` });
    await bobMembers.getByRole('button', { name: 'alice' }).click();
    const bobsMenu = bobMembers.getByRole('list', { name: 'Actions for alice' });
    await bobsMenu.getByRole('button', { name: 'Whois' }).waitFor();
    assert.deepEqual(await bobsMenu.getByRole('button').allInnerTexts(), ['Message', 'Whisper', 'Whois']);
    await b.keyboard.press('Escape');
    await bobsMenu.waitFor({ state: 'detached' });

    // The topic is edited in place by a moderator (the room is +t); others see it and may not edit it.
    await a.getByRole('button', { name: 'Edit topic' }).click();
    await a.getByRole('textbox', { name: `Topic of ${ROOM}` }).fill('Say hi to everyone');
    await a.getByRole('button', { name: 'Save' }).click();
    await b.getByRole('main').getByText('Say hi to everyone', { exact: true }).waitFor();
    assert.equal(await b.getByRole('button', { name: 'Edit topic' }).count(), 0, 'bob may not set the topic of a +t room');
  });

  it('a direct message started from the member list arrives with an unread badge', { timeout: 60_000 }, async () => {
    const a = alice!.page;
    const b = bob!.page;
    const members = b.getByRole('complementary', { name: `Members of ${ROOM}` });
    await members.getByRole('button', { name: 'alice' }).click();
    await members.getByRole('list', { name: 'Actions for alice' }).getByRole('button', { name: 'Message' }).click();
    await b.getByRole('heading', { level: 1, name: 'alice' }).waitFor();
    await say(b, 'psst, a private word');
    await seesMessage(b, 'bob', 'psst, a private word');

    // Alice is still looking at the room: the conversation appears in her sidebar, unread.
    const conversation = navigation(a).getByRole('button', { name: 'bob, 1 unread' });
    await conversation.waitFor();
    assert.equal(await a.getByRole('heading', { level: 1 }).innerText(), ROOM);
    assert.equal(await a.title(), '(1*) Natter', 'the tab says there is something for you');
    await settledScreenshot(a, 'web-client-unread-desktop');
    await conversation.click();
    await seesMessage(a, 'bob', 'psst, a private word');
    await navigation(a).getByRole('button', { name: 'bob', exact: true }).waitFor();
    await say(a, 'got it');
    await seesMessage(b, 'alice', 'got it');

    // Ctrl+K jumps back to the room by name.
    await a.keyboard.press('Control+k');
    const switcher = a.getByRole('dialog', { name: 'Switch to…' });
    await switcher.getByRole('searchbox', { name: 'Room or person' }).fill('lob');
    await a.keyboard.press('Enter');
    await switcher.waitFor({ state: 'detached' });
    await a.getByRole('heading', { level: 1, name: ROOM }).waitFor();
  });

  it('the signed-in page has no serious accessibility issue; screenshots at desktop and phone widths', { timeout: 60_000 }, async () => {
    const a = alice!.page;
    await navigation(a).getByRole('button', { name: ROOM }).click();
    await a.getByRole('heading', { level: 1, name: ROOM }).waitFor();
    const serious = await axeViolations(a);
    assert.deepEqual(serious, [], describeViolations(serious));
    await settledScreenshot(a, 'web-client-desktop');

    await a.getByRole('button', { name: /Switch to (dark|light) theme/ }).click();
    await settledScreenshot(a, 'web-client-desktop-other-theme');
    const darkSerious = await axeViolations(a);
    assert.deepEqual(darkSerious, [], describeViolations(darkSerious));
    await a.getByRole('button', { name: /Switch to (dark|light) theme/ }).click();

    await a.setViewportSize(PHONE);
    // On a phone the navigation and the member list are hidden until asked for.
    await navigation(a).waitFor({ state: 'hidden' });
    await a.getByRole('complementary').waitFor({ state: 'detached' });
    await settledScreenshot(a, 'web-client-phone');
    await a.getByRole('button', { name: 'Open rooms and conversations' }).click();
    await navigation(a).waitFor({ state: 'visible' });
    await settledScreenshot(a, 'web-client-phone-navigation');
    await a.keyboard.press('Escape');
    await navigation(a).waitFor({ state: 'hidden' });
    await a.getByRole('button', { name: /^Show members/ }).click();
    await a.getByRole('complementary', { name: `Members of ${ROOM}` }).waitFor();
    await settledScreenshot(a, 'web-client-phone-members');
    const phoneSerious = await axeViolations(a);
    assert.deepEqual(phoneSerious, [], describeViolations(phoneSerious));
    await a.getByRole('complementary').getByRole('button', { name: 'Hide members', exact: true }).click();
    await a.getByRole('complementary').waitFor({ state: 'detached' });
    await a.setViewportSize(DESKTOP);

    assertClean(alice!, origin);
    assertClean(bob!, origin);
  });

  it('signing in again fills in the name and rejoins the rooms; the password is never stored', { timeout: 60_000 }, async () => {
    const b = bob!.page;
    const stored = await b.evaluate<string>('JSON.stringify({ ...localStorage })');
    assert.ok(!stored.includes(PASSWORD), 'no password in localStorage');
    assert.match(stored, /lobby/, 'the rooms are remembered');

    // Desktop notifications, with the browser's Notification replaced by a recorder whose permission is granted.
    await b.addInitScript({
      content: `window.__notes = [];
        window.Notification = class {
          static permission = 'granted';
          static requestPermission() { return Promise.resolve('granted'); }
          constructor(title, options) { window.__notes.push({ title, body: options && options.body }); }
          close() {}
        };`,
    });
    await b.reload({ waitUntil: 'load' });
    assert.equal(await b.getByRole('radio', { name: 'Log in' }).isChecked(), true, 'an account created is logged in to next time');
    assert.equal(await b.getByLabel('Account name').inputValue(), 'bob');
    assert.equal(await b.getByLabel('Password').inputValue(), '');

    await b.getByLabel('Password').fill('not the password');
    await b.getByRole('button', { name: 'Log in' }).click();
    await b.getByRole('alert').waitFor();
    assert.notEqual((await b.getByRole('alert').innerText()).trim(), '', 'the server says why');

    await b.getByLabel('Password').fill(PASSWORD);
    await b.getByRole('button', { name: 'Log in' }).click();
    // The room is rejoined by itself; the view opens on it or on the conversation looked at last.
    await navigation(b).getByRole('button', { name: ROOM }).click();
    await b.getByRole('heading', { level: 1, name: ROOM }).waitFor();
    await say(b, 'back again');
    await seesMessage(alice!.page, 'bob', 'back again');

    // A direct message to bob while he looks at the room: a desktop notification, once he has turned them on.
    await b.getByRole('button', { name: 'Enable notifications' }).click();
    await b.getByRole('button', { name: 'Turn off notifications' }).waitFor();
    const a = alice!.page;
    await navigation(a).getByRole('button', { name: /^bob/ }).click();
    await say(a, 'ping for bob');
    assert.ok(await until(b, 'window.__notes.length > 0'), 'a notification was shown');
    assert.deepEqual(await b.evaluate<unknown>('window.__notes'), [{ title: 'alice', body: 'ping for bob' }]);
  });
});
