/**
 * The real `natter` command as a child process, run from source (`node --import tsx src/cli/run.ts ...`):
 * for tests of the command line, of signals, and of what survives a crash. Children keep their default data
 * folder (XDG_DATA_HOME) in a temp folder, never the user's real one, and are killed if the test process ends.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = new URL('../..', import.meta.url).pathname;

export interface NatterRun {
  readonly child: ChildProcess;
  /** Resolves with the exit code (or the signal's name) once the process has exited. */
  readonly exited: Promise<number | string>;
  stdout: string;
  stderr: string;
  /** Resolves with the first JSON log line whose msg is `msg` (after `after` earlier such lines). */
  logLine(msg: string, options?: { timeoutMs?: number; after?: number }): Promise<Record<string, unknown>>;
  /** How many JSON log lines so far have msg `msg`. */
  logCount(msg: string): number;
}

export interface NatterOptions {
  /** Written to standard input, which is then closed. */
  readonly input?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Run as this user (tests of permissions when the tests run as root). */
  readonly uid?: number;
  readonly gid?: number;
}

const children = new Set<ChildProcess>();
let dataHome: string | undefined;

/** The XDG_DATA_HOME every child gets unless the test gives its own: a temp folder, removed at exit. */
export function childDataHome(): string {
  if (dataHome === undefined) {
    dataHome = mkdtempSync(join(tmpdir(), 'natter-home-'));
    // Children run as another user in permission tests.
    chmodSync(dataHome, 0o777);
  }
  return dataHome;
}

process.once('exit', () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  if (dataHome !== undefined) rmSync(dataHome, { recursive: true, force: true });
});

function jsonLines(text: string): Array<Record<string, unknown>> {
  const records: Array<Record<string, unknown>> = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      records.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // A line still being written.
    }
  }
  return records;
}

/** Starts `natter ARGS`. */
export function runNatter(args: readonly string[], options: NatterOptions = {}): NatterRun {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/run.ts', ...args], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, XDG_DATA_HOME: childDataHome(), ...options.env },
    ...(options.uid === undefined ? {} : { uid: options.uid }),
    ...(options.gid === undefined ? {} : { gid: options.gid }),
  });
  children.add(child);
  const waiters: Array<() => void> = [];
  const wake = (): void => {
    for (const waiter of waiters.splice(0)) waiter();
  };
  const run: NatterRun = {
    child,
    stdout: '',
    stderr: '',
    exited: new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        children.delete(child);
        resolve(code ?? signal ?? 'unknown');
        wake();
      });
    }),
    async logLine(msg, { timeoutMs = 20_000, after = 0 } = {}) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = jsonLines(run.stdout).filter((record) => record['msg'] === msg)[after];
        if (found !== undefined) return found;
        if (Date.now() > deadline || child.exitCode !== null || child.signalCode !== null) {
          throw new Error(`no log line "${msg}"; stdout:\n${run.stdout}\nstderr:\n${run.stderr}`);
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 100);
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
    },
    logCount(msg) {
      return jsonLines(run.stdout).filter((record) => record['msg'] === msg).length;
    },
  };
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    run.stdout += chunk;
    wake();
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    run.stderr += chunk;
  });
  child.stdin.end(options.input);
  return run;
}

export interface ServedNatter {
  readonly run: NatterRun;
  /** The first plain TCP port really bound. */
  readonly port: number;
  /** The first TLS port, when --listen-tls was given. */
  readonly tlsPort: number | undefined;
  /** SIGTERM, and the exit code. */
  stop(): Promise<number | string>;
  /** SIGKILL: the process ends at once, without closing anything (a crash, a power cut of the process). */
  kill9(): Promise<void>;
}

function portOf(record: Record<string, unknown>): number {
  const match = /:(\d+)$/.exec(String(record['address']));
  assert.ok(match !== null, `the log names the bound address: ${JSON.stringify(record)}`);
  const port = Number(match[1]);
  assert.ok(port > 0, 'port 0 is resolved to the real port');
  return port;
}

/**
 * Starts `natter serve --listen 127.0.0.1:0 ARGS` and resolves once it runs, with the bound ports (from the
 * JSON log lines "listening for IRC over TCP" and "... over TLS").
 */
export async function serveNatter(args: readonly string[], options: NatterOptions = {}): Promise<ServedNatter> {
  const run = runNatter(['serve', '--listen', '127.0.0.1:0', ...args], options);
  let port: number;
  let tls: number | undefined;
  try {
    port = portOf(await run.logLine('listening for IRC over TCP'));
    await run.logLine('Natter is running');
    tls = run.logCount('listening for IRC over TLS') > 0 ? portOf(await run.logLine('listening for IRC over TLS')) : undefined;
  } catch (error) {
    // A child left running would keep the test process (and the whole run) waiting.
    run.child.kill('SIGKILL');
    throw error;
  }
  return {
    run,
    port,
    tlsPort: tls,
    async stop() {
      if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGTERM');
      return run.exited;
    },
    async kill9() {
      run.child.kill('SIGKILL');
      assert.equal(await run.exited, 'SIGKILL');
    },
  };
}
