/**
 * A program in a real terminal, driven the way a user would: tmux runs it in a detached session, send-keys types and
 * presses keys, capture-pane reads the screen. For tests of the full-screen terminal client (`natter connect`, ink).
 *
 * Each session has a private tmux server (`-S` a socket in its own temp folder, `-f /dev/null` so no tmux.conf is
 * read): a test never touches the user's tmux, and close() removes everything. The program runs with the given
 * environment over this process's, without CI and CONTINUOUS_INTEGRATION (ink renders non-interactively when it
 * sees CI) and with TERM=xterm-256color. The pane stays after the program ends (remain-on-exit), so the last screen
 * of a crash can still be read.
 *
 * Under CI=true a missing tmux fails the tests (`.ci/run` installs it); elsewhere they skip with the reason.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TmuxOptions {
  readonly command: string;
  readonly args?: readonly string[];
  /** Merged over process.env (then CI and CONTINUOUS_INTEGRATION are removed and TERM is xterm-256color). */
  readonly env?: Readonly<Record<string, string>>;
  readonly cwd?: string;
  /** Columns, 120 by default. */
  readonly width?: number;
  /** Rows, 40 by default. */
  readonly height?: number;
}

const SESSION = 'natter';
const DEFAULT_WAIT_MS = 10_000;
const POLL_MS = 50;
/** new-session runs several arguments directly, without `sh -c` (tmux 3.0). */
const MIN_VERSION = 3.0;

/** Undefined when tmux can be used; otherwise why the tmux tests skip. Throws under CI=true, where nothing skips. */
export function tmuxAvailable(): string | undefined {
  const reason = whyNotAvailable();
  if (reason !== undefined && process.env['CI'] === 'true') throw new Error(`${reason}; under CI=true the terminal tests must run`);
  return reason;
}

function whyNotAvailable(): string | undefined {
  const result = spawnSync('tmux', ['-V'], { encoding: 'utf8' });
  if (result.error !== undefined) return `tmux is not installed (apt-get install tmux; .ci/run does it): ${result.error.message}`;
  const version = /tmux (?:next-)?(\d+\.\d+)/.exec(result.stdout);
  if (version === null) return `tmux -V said ${JSON.stringify(result.stdout.trim())}, not a version`;
  if (Number(version[1]) < MIN_VERSION) return `tmux ${version[1] ?? '?'} is too old (${String(MIN_VERSION)} or later is needed)`;
  return undefined;
}

/**
 * tmux reads an argument that ends in ";" as the end of a command, and one ending in "\;" as a literal ";" (cmd-parse.c,
 * cmd_parse_from_arguments): so a trailing ";" is given as "\;", which also keeps a backslash before it.
 */
function literalArgument(text: string): string {
  return text.endsWith(';') ? `${text.slice(0, -1)}\\;` : text;
}

function childEnv(extra: Readonly<Record<string, string>> | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  // ink's is-in-ci; TMUX/TMUX_PANE would point a program at the tmux this test may itself run in.
  for (const name of ['CI', 'CONTINUOUS_INTEGRATION', 'TMUX', 'TMUX_PANE']) Reflect.deleteProperty(env, name);
  env['TERM'] = 'xterm-256color';
  return env;
}

const open = new Set<TmuxSession>();
process.once('exit', () => {
  for (const session of open) session.close();
});

export class TmuxSession {
  private closed = false;

  private constructor(
    private readonly dir: string,
    private readonly socket: string,
  ) {}

  static start(options: TmuxOptions): TmuxSession {
    const width = options.width ?? 120;
    const height = options.height ?? 40;
    if (!Number.isInteger(width) || !Number.isInteger(height) || width < 10 || height < 3) throw new Error(`tmux: a ${String(width)}x${String(height)} screen is too small`);
    const dir = mkdtempSync(join(tmpdir(), 'natter-tmux-'));
    const session = new TmuxSession(dir, join(dir, 'socket'));
    try {
      // One invocation: the options are set on the new server before the program starts, so none of its output is
      // drawn under other settings and a program that ends at once still leaves its pane. "env --" makes the program
      // always two or more arguments, which tmux executes directly (never through a shell, whatever they contain).
      session.tmux(
        [
          'start-server',
          ';',
          'set-option', '-g', 'default-terminal', 'xterm-256color',
          ';',
          'set-option', '-g', 'status', 'off',
          ';',
          'set-option', '-wg', 'remain-on-exit', 'on',
          ';',
          'new-session', '-d', '-s', SESSION, '-x', String(width), '-y', String(height),
          // -c is a format: "#" is written "##".
          ...(options.cwd === undefined ? [] : ['-c', options.cwd.replaceAll('#', '##')]),
          '--',
          'env', '--', ...[options.command, ...(options.args ?? [])].map(literalArgument),
        ],
        childEnv(options.env),
      );
    } catch (error) {
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
    open.add(session);
    return session;
  }

  /** Types `text` literally (send-keys -l). Never with Enter: ink would read text and Enter together as a paste. */
  type(text: string): void {
    if (text === '') return;
    this.tmux(['send-keys', '-t', SESSION, '-l', '--', literalArgument(text)]);
  }

  /** Presses keys by their tmux names: 'Enter', 'Tab', 'PageUp', 'PageDown', 'C-n', 'Escape', 'Up', ... */
  press(...keys: string[]): void {
    if (keys.length === 0) return;
    this.tmux(['send-keys', '-t', SESSION, '--', ...keys.map(literalArgument)]);
  }

  /**
   * The visible screen (capture-pane -p), one line per row. Once the program has ended, tmux has scrolled the screen
   * up one row to write "Pane is dead" under it: that row is taken back from the history, so the whole last screen
   * is there, followed by tmux's line.
   */
  capture(): string {
    const output = this.tmux(['display-message', '-p', '-t', SESSION, '#{pane_dead} #{history_size}', ';', 'capture-pane', '-p', '-S', '-1', '-t', SESSION]);
    const newline = output.indexOf('\n');
    const [dead, history] = output.slice(0, newline).split(' ');
    const screen = output.slice(newline + 1);
    // With history, "-S -1" adds the last line scrolled off the top; a live screen does not show it.
    if (dead === '1' || history === '0') return screen;
    return screen.slice(screen.indexOf('\n') + 1);
  }

  /** Polls the screen every ~50 ms until it matches; on timeout throws with the last screen in the message. */
  async waitFor(match: RegExp | ((screen: string) => boolean), timeoutMs = DEFAULT_WAIT_MS): Promise<string> {
    const test = typeof match === 'function' ? match : (screen: string) => match.test(screen);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const screen = this.capture();
      if (test(screen)) return screen;
      if (Date.now() >= deadline) {
        const what = typeof match === 'function' ? 'a screen that matches' : String(match);
        const state = this.alive ? '' : ' (the program has ended)';
        throw new Error(`tmux: timed out after ${String(timeoutMs)} ms waiting for ${what}${state}; the screen:\n${screen}`);
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }

  /** The ended program's exit status (tmux's pane_dead_status), or undefined while it runs or until tmux has collected it. */
  get exitStatus(): number | undefined {
    if (this.closed) return undefined;
    const [dead, status] = this.tmux(['display-message', '-p', '-t', SESSION, '#{pane_dead} #{pane_dead_status}']).trim().split(' ');
    return dead === '1' && status !== undefined && status !== '' ? Number(status) : undefined;
  }

  /** Whether the program in the pane still runs. */
  get alive(): boolean {
    if (this.closed) return false;
    try {
      return this.tmux(['display-message', '-p', '-t', SESSION, '#{pane_dead}']).trim() === '0';
    } catch {
      return false;
    }
  }

  /** Kills the session, its program and its private tmux server, and removes the socket's folder. Safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    open.delete(this);
    try {
      this.tmux(['kill-server']);
    } catch {
      // Already gone (the server ends by itself once its last session is killed).
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  private tmux(args: readonly string[], env: NodeJS.ProcessEnv = childEnv(undefined)): string {
    if (this.closed && args[0] !== 'kill-server') throw new Error('tmux: the session is closed');
    return execFileSync('tmux', ['-S', this.socket, '-f', '/dev/null', ...args], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
  }
}
