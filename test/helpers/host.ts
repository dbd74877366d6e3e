/**
 * `natter host` as a child process for tests: started on free ports (--port 0), without opening a browser, and
 * read back from its banner (ports, fingerprint, host account, one-time sign-in link).
 */
import assert from 'node:assert/strict';
import { runNatter } from './process.js';
import type { NatterOptions, NatterRun } from './process.js';

/** What a test needs from the banner. */
export interface Banner {
  readonly text: string;
  readonly webPort: number;
  readonly ircPort: number;
  readonly tlsPort: number;
  readonly fingerprint: string;
  readonly account: string;
  readonly signInUrl: string;
}

export interface Hosting {
  readonly run: NatterRun;
  readonly banner: Banner;
  stop(): Promise<number | string>;
}

export function match(text: string, pattern: RegExp, what: string): RegExpExecArray {
  return pattern.exec(text) ?? assert.fail(`the banner has no ${what}:\n${text}`);
}

export async function waitForOutput(run: NatterRun, text: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!run.stdout.includes(text)) {
    if (Date.now() > deadline || run.child.exitCode !== null) throw new Error(`no "${text}"; stdout:\n${run.stdout}\nstderr:\n${run.stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** `natter host --port 0 --no-open ARGS`, once its banner is complete. */
export async function startHost(args: readonly string[], options: NatterOptions = {}): Promise<Hosting> {
  const run = runNatter(['host', '--port', '0', '--no-open', '--no-advertise', ...args], options);
  try {
    await waitForOutput(run, 'Press Ctrl+C to stop.');
  } catch (error) {
    run.child.kill('SIGKILL');
    throw error;
  }
  const text = run.stdout;
  const irc = match(text, /port (\d+), or port (\d+) with TLS/, 'IRC ports');
  const banner: Banner = {
    text,
    webPort: Number(match(text, /On this machine: http:\/\/localhost:(\d+)\//, 'local URL')[1]),
    ircPort: Number(irc[1]),
    tlsPort: Number(irc[2]),
    fingerprint: match(text, /^ {2}((?:[0-9A-F]{2}:){31}[0-9A-F]{2})$/m, 'fingerprint')[1] ?? '',
    account: match(text, /^You are (\S+): server operator/m, 'host account')[1] ?? '',
    signInUrl: match(text, /^ {2}(http:\/\/localhost:\d+\/#token=[A-Za-z0-9_-]{22})$/m, 'sign-in link')[1] ?? '',
  };
  return {
    run,
    banner,
    async stop() {
      if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGTERM');
      return run.exited;
    },
  };
}

