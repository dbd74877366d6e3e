/** The web client's steps every browser test takes, by role and accessible name (never CSS classes). */
import type { Locator, Page } from 'playwright-core';
import { launchBrowser, watchPage } from './browser.js';
import type { LaunchedBrowser, PageProblems } from './browser.js';

/** Every wait in a page is bounded by this (Playwright's default is 30 s). */
export const STEP_MS = 10_000;

export interface OpenedPage {
  readonly browser: LaunchedBrowser;
  readonly page: Page;
  readonly problems: PageProblems;
}

/** A fresh Chromium on the server's page, watched for console errors, CSP violations and off-origin requests. */
export async function openPage(origin: string, viewport = { width: 1280, height: 800 }): Promise<OpenedPage> {
  const browser = await launchBrowser();
  try {
    const page = await browser.newPage();
    page.setDefaultTimeout(STEP_MS);
    const problems = await watchPage(page);
    await page.setViewportSize(viewport);
    await page.goto(`${origin}/`, { waitUntil: 'networkidle' });
    return { browser, page, problems };
  } catch (error) {
    await browser.close();
    throw error;
  }
}

/** Creates an account from the sign-in form (draft/account-registration) and waits for the signed-in page. */
export async function createAccount(page: Page, name: string, password: string): Promise<void> {
  await page.getByRole('radio', { name: 'Create account' }).check();
  await page.getByLabel('Account name').fill(name);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Create account' }).last().click();
  await page.getByRole('navigation', { name: 'Rooms and conversations' }).waitFor();
}

/** Joins (or creates) a room through the sidebar's dialog; resolves with the room's message log once it shows. */
export async function joinRoom(page: Page, room: string): Promise<Locator> {
  await page.getByRole('navigation', { name: 'Rooms and conversations' }).getByRole('button', { name: 'Join or create a room' }).click();
  const dialog = page.getByRole('dialog', { name: 'Join or create a room' });
  await dialog.getByLabel('Room name').fill(room);
  await dialog.getByRole('button', { name: 'Join room' }).click();
  await dialog.waitFor({ state: 'detached' });
  await page.getByRole('heading', { level: 1, name: room }).waitFor();
  const log = page.getByRole('log', { name: `Messages in ${room}` });
  await log.waitFor();
  return log;
}

/** The message box of a room or conversation. */
export function composerOf(page: Page, name: string): Locator {
  return page.getByRole('textbox', { name: `Message ${name}` });
}
