/**
 * The tmux driver of the terminal-client tests (test/helpers/tmux.ts), proved on a tiny readline echo program: what is
 * typed reaches the program, its screen is read back, the environment and arguments arrive as given, a timeout says
 * what was on the screen, and a program that ended leaves its last screen.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { TmuxSession, tmuxAvailable } from './helpers/tmux.js';

/** Prints how it runs, then echoes each line; "exit" ends it with status 3. CommonJS, as `node -e` runs it. */
const ECHO = `
const readline = require('node:readline');
const rl = readline.createInterface({ input: process.stdin, output: process.stdout });
console.log('ready TERM=' + process.env.TERM + ' CI=' + (process.env.CI ?? 'unset') + ' CONTINUOUS_INTEGRATION=' + (process.env.CONTINUOUS_INTEGRATION ?? 'unset') + ' EXTRA=' + process.env.NATTER_TMUX_EXTRA + ' size=' + process.stdout.columns + 'x' + process.stdout.rows);
console.log('argv=' + JSON.stringify(process.argv.slice(1)));
console.log('cwd=' + process.cwd());
rl.on('line', (line) => {
  if (line === 'exit') process.exit(3);
  console.log('echo: [' + line + ']');
});
`;

const unavailable = tmuxAvailable();
const sessions: TmuxSession[] = [];
const dirs: string[] = [];
after(() => {
  for (const session of sessions) session.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function echo(options: { args?: readonly string[]; cwd?: string; width?: number; height?: number } = {}): TmuxSession {
  const session = TmuxSession.start({
    command: process.execPath,
    args: ['-e', ECHO, ...(options.args ?? [])],
    env: { NATTER_TMUX_EXTRA: 'given', CI: 'true', CONTINUOUS_INTEGRATION: 'true' },
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    ...(options.width === undefined ? {} : { width: options.width }),
    ...(options.height === undefined ? {} : { height: options.height }),
  });
  sessions.push(session);
  return session;
}

describe('the tmux driver', { skip: unavailable, concurrency: 3 }, () => {
  it('runs the program in a 120x40 xterm-256color terminal without CI, with the given env and its arguments as given', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'natter tmux #{session_name} '));
    dirs.push(dir);
    const tricky = ['two words', '$HOME', '`id`;', '-x', "'; echo injected", 'end;'];
    const session = echo({ args: tricky, cwd: dir });
    const screen = await session.waitFor(/^cwd=/m);
    assert.match(screen, /^ready TERM=xterm-256color CI=unset CONTINUOUS_INTEGRATION=unset EXTRA=given size=120x40$/m);
    assert.ok(screen.includes(`argv=${JSON.stringify(tricky)}`), `no shell between: the arguments arrive as given:\n${screen}`);
    assert.ok(screen.includes(`cwd=${realpathSync(dir)}`), screen);
    assert.equal(screen.split('\n').filter((line, index, all) => index < all.length - 1 || line !== '').length, 40, 'one line per row');
    assert.equal(session.alive, true);
  });

  it('typed text reaches the program literally; Enter is a separate key press', async () => {
    const session = echo({ width: 100, height: 24 });
    await session.waitFor(/size=100x24$/m);
    const text = `hello; $HOME "quoted" {braces} #{pane_id} é 👍 -n \\;`;
    session.type(text);
    await session.waitFor((screen) => screen.includes(text));
    assert.doesNotMatch(session.capture(), /echo:/, 'nothing is sent before Enter');
    session.press('Enter');
    const screen = await session.waitFor(/^echo: \[/m);
    assert.ok(screen.includes(`echo: [${text}]`), screen);
    session.type('second');
    session.press('Left', 'Left', 'BSpace', 'Enter');
    await session.waitFor(/^echo: \[secnd\]$/m);
    session.type(';');
    session.press('Enter');
    await session.waitFor(/^echo: \[;\]$/m);
  });

  it('waitFor times out with the screen in its message; an ended program leaves its last screen; close twice is fine', async () => {
    const session = echo({ height: 10 });
    await session.waitFor(/^cwd=/m);
    await assert.rejects(session.waitFor(/never shown/, 300), (error: unknown) => {
      assert.ok(error instanceof Error);
      assert.match(error.message, /timed out after 300 ms waiting for \/never shown\//);
      assert.match(error.message, /^ready TERM=/m, 'the screen is in the message');
      return true;
    });
    session.type('exit');
    session.press('Enter');
    // The pane's state, not tmux's "Pane is dead" line. tmux 3.3 marks the pane dead when its terminal closes, and
    // sometimes never learns the exit status (about 2 runs in 5 here, and then prints no "Pane is dead" line either):
    // the status is checked when tmux has it, and may never be another.
    await session.waitFor(() => !session.alive);
    const status = await session.waitFor(() => session.exitStatus !== undefined, 2000).then(
      () => session.exitStatus,
      () => undefined,
    );
    if (status !== undefined) assert.equal(status, 3);
    assert.match(session.capture(), /^ready TERM=/m, 'the top line is still there');
    assert.equal(session.alive, false);
    await assert.rejects(session.waitFor(/never shown/, 100), /\(the program has ended\)/);
    session.close();
    session.close();
    assert.equal(session.alive, false);
    assert.throws(() => {
      session.type('x');
    }, /closed/);
  });
});
