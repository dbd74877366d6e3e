/**
 * Debian's Chromium driven by playwright-core, for the web client's end-to-end tests. The flags keep the browser
 * off the network (DEVELOPERS.md): the machine reaches nothing but the package registries, and a test may only
 * talk to its own server on loopback. Every launch gets a fresh profile folder, removed on close.
 *
 * Under CI=true a missing Chromium fails the tests (`.ci/run` installs it); elsewhere they skip with the reason.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import type { BrowserContext, ConsoleMessage, Page } from 'playwright-core';

export const CHROMIUM_PATH = '/usr/bin/chromium';

/** Exactly these, and why: DEVELOPERS.md, "Browser tests". */
export const CHROMIUM_ARGS: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const ROOT = new URL('../..', import.meta.url).pathname;
export const SCREENSHOT_DIR = join(ROOT, 'test-output', 'screenshots');

/** Undefined when Chromium can run; otherwise why the browser tests skip. Throws under CI=true, where nothing skips. */
export function browserAvailable(): string | undefined {
  if (existsSync(CHROMIUM_PATH)) return undefined;
  const reason = `Chromium is not installed at ${CHROMIUM_PATH} (apt-get install chromium; .ci/run does it)`;
  if (process.env['CI'] === 'true') throw new Error(`${reason}; under CI=true the browser tests must run`);
  return reason;
}

export interface LaunchedBrowser {
  readonly context: BrowserContext;
  newPage(): Promise<Page>;
  /** Closes the browser and removes its profile folder. */
  close(): Promise<void>;
}

export interface LaunchOptions {
  /** Let the page run scripts its CSP would refuse. Off by default: tests check the page under its real CSP. */
  readonly bypassCSP?: boolean;
}

export async function launchBrowser(options: LaunchOptions = {}): Promise<LaunchedBrowser> {
  const unavailable = browserAvailable();
  if (unavailable !== undefined) throw new Error(unavailable);
  const profile = mkdtempSync(join(tmpdir(), 'natter-chromium-'));
  let context: BrowserContext;
  try {
    // Playwright adds only what it needs to drive the browser (a pipe, the profile folder) to these flags.
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM_PATH,
      args: [...CHROMIUM_ARGS],
      headless: true,
      viewport: { width: 1024, height: 768 },
      bypassCSP: options.bypassCSP ?? false,
      timeout: 30_000,
    });
  } catch (error) {
    rmSync(profile, { recursive: true, force: true });
    throw error;
  }
  return {
    context,
    newPage: () => context.newPage(),
    async close() {
      try {
        await context.close();
      } finally {
        rmSync(profile, { recursive: true, force: true });
      }
    },
  };
}

/** What a page did that a clean page never does: console errors and warnings, uncaught errors, CSP violations. */
export interface PageProblems {
  readonly console: string[];
  readonly errors: string[];
  readonly cspViolations: string[];
  /** Every URL the page requested, WebSockets included. */
  readonly requests: string[];
}

/**
 * Starts recording a page's problems; call before page.goto. CSP violations are caught by a listener installed
 * through the DevTools protocol (not subject to the page's CSP) for 'securitypolicyviolation' events.
 */
export async function watchPage(page: Page): Promise<PageProblems> {
  const problems: PageProblems = { console: [], errors: [], cspViolations: [], requests: [] };
  page.on('console', (message: ConsoleMessage) => {
    if (message.type() === 'error' || message.type() === 'warning') problems.console.push(`${message.type()}: ${message.text()}`);
  });
  page.on('pageerror', (error) => {
    problems.errors.push(error.message);
  });
  page.on('request', (request) => {
    problems.requests.push(request.url());
  });
  // WebSockets are not 'request' events.
  page.on('websocket', (socket) => {
    problems.requests.push(socket.url());
  });
  await page.exposeFunction('__natterCspViolation', (text: string) => {
    problems.cspViolations.push(text);
  });
  await page.addInitScript({
    content: `document.addEventListener('securitypolicyviolation', (event) => {
      window.__natterCspViolation(event.violatedDirective + ' blocked ' + (event.blockedURI || 'inline') + ' at ' + event.sourceFile + ':' + event.lineNumber);
    });`,
  });
  return problems;
}

/** One axe-core violation, as much of it as a failing test needs to say what is wrong and where. */
export interface AxeViolation {
  readonly id: string;
  readonly impact: string | null;
  readonly help: string;
  readonly helpUrl: string;
  readonly nodes: ReadonlyArray<{ readonly target: unknown[]; readonly html: string; readonly failureSummary?: string }>;
}

let axeSource: string | undefined;

/**
 * Runs axe-core (WCAG 2 A and AA, and best practices) on the page and returns the violations of impact
 * "serious" or "critical". axe is evaluated through the DevTools protocol, which the page's CSP does not govern,
 * so the page is checked under its real CSP (no bypassCSP, no script tag).
 */
export async function axeViolations(page: Page): Promise<AxeViolation[]> {
  axeSource ??= readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
  await page.evaluate(axeSource);
  const violations = await page.evaluate<AxeViolation[]>(
    `axe.run(document, { resultTypes: ['violations'] }).then((results) => results.violations.map((v) => ({
      id: v.id, impact: v.impact ?? null, help: v.help, helpUrl: v.helpUrl,
      nodes: v.nodes.map((n) => ({ target: n.target, html: n.html, failureSummary: n.failureSummary })),
    })))`,
  );
  return violations.filter((violation) => violation.impact === 'serious' || violation.impact === 'critical');
}

/** A readable list of violations for an assertion message. */
export function describeViolations(violations: readonly AxeViolation[]): string {
  return violations
    .map((v) => `${v.impact ?? '?'} ${v.id}: ${v.help} (${v.helpUrl})\n${v.nodes.map((n) => `  ${JSON.stringify(n.target)} ${n.html}`).join('\n')}`)
    .join('\n');
}

/** Saves a full-page screenshot to test-output/screenshots/NAME.png (gitignored) and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const path = join(SCREENSHOT_DIR, `${name.replace(/[^A-Za-z0-9_.-]+/g, '-')}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}
