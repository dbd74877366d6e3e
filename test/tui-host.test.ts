/**
 * Issue 8 as its users meet it: `natter host` on free ports; a friend in the browser joins as a guest and lands in
 * the host's room; another friend runs `natter connect` to the host's TLS port (trust on first use of its
 * self-signed certificate) and lands there too; the terminal and the browser chat both ways.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { browserAvailable, launchBrowser, watchPage } from './helpers/browser.js';
import { startHost } from './helpers/host.js';
import { TmuxSession, tmuxAvailable } from './helpers/tmux.js';
import { composerOf, STEP_MS } from './helpers/web.js';

const ROOT = new URL('..', import.meta.url).pathname;
const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'natter-tui-host-'));
  dirs.push(dir);
  return dir;
}

const unavailable = browserAvailable() ?? tmuxAvailable();

describe('natter host with a browser and the terminal client', () => {
  it('a guest in the browser and a terminal user over TLS land in the host’s room and chat', { skip: unavailable, timeout: 120_000 }, async () => {
    const host = await startHost(['--data', tempDir(), '--name', 'Book club']);
    const browser = await launchBrowser();
    const configHome = tempDir();
    let terminal: TmuxSession | undefined;
    try {
      const page = await browser.newPage();
      page.setDefaultTimeout(STEP_MS);
      const problems = await watchPage(page);
      await page.goto(`http://127.0.0.1:${String(host.banner.webPort)}/`, { waitUntil: 'networkidle' });
      await page.getByRole('radio', { name: 'Guest' }).check();
      await page.getByLabel('Nickname').fill('wendy');
      await page.getByRole('button', { name: 'Join as guest' }).last().click();
      // No JOIN typed: host mode's autojoin puts the guest in the room, and the page shows it.
      await page.getByRole('heading', { level: 1, name: '#book-club' }).waitFor();
      const log = page.getByRole('log', { name: 'Messages in #book-club' });

      terminal = TmuxSession.start({
        command: process.execPath,
        args: ['--import', 'tsx', 'src/cli/run.ts', 'connect', `127.0.0.1:${String(host.banner.tlsPort)}`, '--nick', 'terry'],
        cwd: ROOT,
        env: { XDG_CONFIG_HOME: configHome },
        width: 110,
        height: 30,
      });
      await terminal.waitFor(/^\[#book-club\]/m, 20_000);
      await terminal.waitFor(/#book-club — Book club/);
      await log.getByText('terry joined').waitFor();

      await composerOf(page, '#book-club').fill('hello from the browser');
      await composerOf(page, '#book-club').press('Enter');
      await terminal.waitFor(/<wendy> hello from the browser/);

      terminal.type('and hello from the terminal');
      await terminal.waitFor(/^\[#book-club\] and hello from the terminal/m);
      terminal.press('Enter');
      await log.getByText('and hello from the terminal').waitFor();

      terminal.type('/quit bye');
      await terminal.waitFor(/^\[#book-club\] \/quit bye/m);
      terminal.press('Enter');
      await terminal.waitFor(() => terminal?.alive === false);
      const screen = terminal.capture().replace(/\n/g, '');
      assert.ok(screen.includes(host.banner.fingerprint), 'the fingerprint shown on first use is the one the host printed');
      assert.deepEqual([...problems.errors, ...problems.cspViolations], [], 'no page errors or CSP violations');
      const origin = `http://127.0.0.1:${String(host.banner.webPort)}`;
      assert.deepEqual(problems.requests.filter((url) => !url.startsWith(origin) && !url.startsWith(origin.replace('http:', 'ws:'))), [], 'nothing requested elsewhere');
    } finally {
      terminal?.close();
      await browser.close();
      assert.equal(await host.stop(), 0);
    }
  });
});
