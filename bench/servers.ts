/**
 * Starts Natter and the reference IRC servers as foreground child processes on free loopback ports, each with its
 * own temp folder for pid file and logs and its config from bench/servers/<name>/, and stops them by pid.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import {
  accessSync,
  chownSync,
  constants,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sleep } from './clock.js';
import { startStubDns } from './dns.js';
import { VARIANT_SPECS } from './variants.js';
import type { Variant } from './variants.js';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const SERVERS_DIR = join(REPO_ROOT, 'bench', 'servers');

export const REFERENCE_SERVERS = ['inspircd', 'ngircd', 'ircd-hybrid'] as const;
export type ServerName = 'natter' | (typeof REFERENCE_SERVERS)[number];

export interface RunningServer {
  name: ServerName;
  variant: Variant;
  version: string;
  host: string;
  port: number;
  /** The TLS listener's port, when the variant has one. */
  tlsPort: number | undefined;
  /** Where the variant's clients dial: `port`, or `tlsPort` for the tls variant. */
  clientPort: number;
  pid: number;
  dir: string;
  logFile: string;
  stop(): Promise<void>;
}

interface Recipe {
  /** The config file under bench/servers/<name>/, rendered with {{PORT}}, {{TLSPORT}}, {{DIR}}, {{MODULES}}. */
  config: string;
  binary(): string | undefined;
  args(bin: string, conf: string, dir: string): string[];
  version(bin: string): string;
  /** C servers refuse (or shed) root: run them as nobody when the bench runs as root. */
  unprivileged: boolean;
}

const SEARCH_PATH = [...(process.env['PATH'] ?? '').split(':'), '/usr/sbin', '/usr/local/sbin', '/sbin'];

function findBinary(name: string, extra: string[] = []): string | undefined {
  for (const dir of [...SEARCH_PATH, ...extra]) {
    if (dir === '') continue;
    const p = join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // keep looking
    }
  }
  return undefined;
}

function firstLine(bin: string, args: string[], asNobody: boolean): string {
  const r = spawnSync(bin, args, { encoding: 'utf8', timeout: 5000, ...(asNobody ? nobody() : {}) });
  const text = `${r.stdout}\n${r.stderr}`.split('\n').find((l) => /\d+\.\d+/.test(l));
  return text?.trim() ?? 'unknown';
}

const RECIPES: Record<ServerName, Recipe> = {
  natter: {
    config: 'natter/natter.json',
    binary: () => {
      const p = join(REPO_ROOT, 'bin', 'natter.js');
      try {
        accessSync(p, constants.R_OK);
        return p;
      } catch {
        return undefined;
      }
    },
    // Natter runs under this same node; --listen and --config as the CLI defines them.
    args: (bin, conf) => [bin, 'serve', '--listen', '127.0.0.1:{{PORT}}', '--config', conf, '--data', '{{DIR}}'],
    version: () => {
      const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version?: string };
      const rev = spawnSync('git', ['-C', REPO_ROOT, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' });
      let built = 'no build';
      try {
        built = `dist built ${statSync(join(REPO_ROOT, 'dist', 'cli', 'main.js'))
          .mtime.toISOString()
          .slice(0, 16)}`;
      } catch {
        // reported as 'no build'
      }
      return `natter ${pkg.version ?? '?'} (${rev.status === 0 ? rev.stdout.trim() : 'no commit'}, ${built})`;
    },
    unprivileged: false,
  },
  inspircd: {
    config: 'inspircd/inspircd.conf',
    binary: () => findBinary('inspircd'),
    args: (_bin, conf) => ['--nofork', '--config', conf],
    version: (bin) => firstLine(bin, ['--version'], true),
    unprivileged: true,
  },
  ngircd: {
    config: 'ngircd/ngircd.conf',
    binary: () => findBinary('ngircd'),
    args: (_bin, conf) => ['--nodaemon', '--config', conf],
    version: (bin) => firstLine(bin, ['--version'], true),
    unprivileged: true,
  },
  'ircd-hybrid': {
    config: 'ircd-hybrid/ircd.conf',
    // Debian's package conflicts with ngircd; bench/servers/ircd-hybrid/install.sh unpacks it under /opt.
    binary: () => findBinary('ircd-hybrid', ['/opt/ircd-hybrid/usr/sbin']),
    args: (_bin, conf, dir) => [
      '-foreground',
      '-configfile',
      conf,
      '-pidfile',
      join(dir, 'ircd.pid'),
      '-logfile',
      join(dir, 'ircd.log'),
      '-klinefile',
      join(dir, 'kline.db'),
      '-dlinefile',
      join(dir, 'dline.db'),
      '-xlinefile',
      join(dir, 'xline.db'),
      '-resvfile',
      join(dir, 'resv.db'),
    ],
    version: (bin) => firstLine(bin, ['-version'], true),
    unprivileged: true,
  },
};

function nobody(): { uid: number; gid: number } | Record<string, never> {
  if (process.getuid?.() !== 0) return {};
  return { uid: 65534, gid: 65534 };
}

export function isInstalled(name: ServerName): boolean {
  return RECIPES[name].binary() !== undefined;
}

export function installHint(name: ServerName): string {
  switch (name) {
    case 'natter':
      return 'bin/natter.js not found (build Natter first)';
    case 'ircd-hybrid':
      return 'not installed: run bench/servers/ircd-hybrid/install.sh (as root)';
    default:
      return `not installed: apt-get install -y ${name}`;
  }
}

/**
 * bin/natter.js runs the compiled dist/: say so when src/ has changed since the last build, or the bench would
 * measure old code.
 */
export function staleBuildWarning(): string | undefined {
  let built: number;
  try {
    built = statSync(join(REPO_ROOT, 'dist', 'cli', 'main.js')).mtimeMs;
  } catch {
    return 'dist/cli/main.js is missing: run `npm run build` first';
  }
  const newer = readdirSync(join(REPO_ROOT, 'src'), { recursive: true, encoding: 'utf8' }).find(
    (f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && statSync(join(REPO_ROOT, 'src', f)).mtimeMs > built,
  );
  return newer === undefined ? undefined : `src/${newer} is newer than dist/: run \`npm run build\` to measure it`;
}

/** A free TCP port on 127.0.0.1 (bound then released; fine for a bench on a quiet machine). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => {
        resolve(port);
      });
    });
  });
}

/** Whether something accepts TCP connections on this loopback port (a server has started listening). */
export function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => {
      resolve(false);
    });
  });
}

// Children still running if the bench dies: killed by pid on the way out.
const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of live) if (c.pid !== undefined && c.exitCode === null) process.kill(c.pid, 'SIGKILL');
});

/**
 * Starts `name` on a free loopback port. A variant other than plain (Natter only) adds its `natter serve` arguments;
 * the tls variant also gets a second free port for `--listen-tls`, and the server is ready when both ports accept.
 */
export async function startServer(name: ServerName, variant: Variant = 'plain'): Promise<RunningServer> {
  const recipe = RECIPES[name];
  const spec = VARIANT_SPECS[variant];
  if (variant !== 'plain' && name !== 'natter') throw new Error(`${name}: the ${variant} variant is Natter's only`);
  const bin = recipe.binary();
  if (bin === undefined) throw new Error(`${name}: ${installHint(name)}`);
  const port = await freePort();
  let tlsPort: number | undefined;
  if (spec.transport === 'tls') {
    do {
      tlsPort = await freePort();
    } while (tlsPort === port);
  }
  const dir = mkdtempSync(join(tmpdir(), `natter-bench-${name}-`));
  const asNobody = recipe.unprivileged && process.getuid?.() === 0;
  if (asNobody) chownSync(dir, 65534, 65534);
  const render = (s: string): string =>
    s
      .replaceAll('{{PORT}}', String(port))
      .replaceAll('{{TLSPORT}}', String(tlsPort ?? 0))
      .replaceAll('{{DIR}}', dir)
      .replaceAll('{{MODULES}}', '/usr/lib/ircd-hybrid/modules');
  const template = readFileSync(join(SERVERS_DIR, recipe.config), 'utf8');
  const conf = join(dir, recipe.config.split('/').pop() ?? 'server.conf');
  writeFileSync(conf, render(template), { mode: 0o644 });
  const logFile = join(dir, 'output.log');
  const out = openSync(logFile, 'a');
  const dns = asNobody ? await startStubDns() : undefined;
  let command = name === 'natter' ? process.execPath : bin;
  let args = [...recipe.args(bin, conf, dir), ...spec.natterArgs].map(render);
  if (asNobody) {
    // ircd-hybrid resolves every client's address with its own resolver, using the nameserver in /etc/resolv.conf,
    // which is not on this machine. The C servers therefore run in a private mount namespace whose resolv.conf
    // names the bench's stub DNS on loopback (dns.ts: every lookup fails at once, no packet leaves loopback), and
    // drop to nobody only after the bind mount. unshare and setpriv exec in place, so the pid stays the server's.
    const resolv = join(dir, 'resolv.conf');
    writeFileSync(resolv, `nameserver ${dns?.address ?? '127.0.0.1'}\n`, { mode: 0o644 });
    args = [
      '--mount',
      '--',
      'sh',
      '-c',
      'mount --bind "$0" /etc/resolv.conf && exec setpriv --reuid=65534 --regid=65534 --clear-groups "$@"',
      resolv,
      bin,
      ...args,
    ];
    command = 'unshare';
  } else if (name === 'ircd-hybrid') {
    throw new Error(
      'ircd-hybrid: the bench must run as root to start it (it needs a private resolv.conf, see servers.ts)',
    );
  }
  const child = spawn(command, args, {
    cwd: name === 'natter' ? REPO_ROOT : dir,
    stdio: ['ignore', out, out],
  });
  live.add(child);
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      resolve();
    });
  });
  const pid = child.pid;
  if (pid === undefined) {
    dns?.socket.close();
    throw new Error(`${name}: could not start ${command}`);
  }

  const stop = async (): Promise<void> => {
    dns?.socket.close();
    if (child.exitCode === null && child.signalCode === null) {
      process.kill(pid, 'SIGTERM');
      const done = await Promise.race([exited.then(() => true), sleep(5000).then(() => false)]);
      if (!done) {
        process.kill(pid, 'SIGKILL');
        await exited;
      }
    }
    live.delete(child);
    rmSync(dir, { recursive: true, force: true });
  };

  // Ready when the port (and the TLS port) accept connections; fail early if the process dies (bad config, missing
  // module). The TLS port is only dialled, without a handshake: Natter logs the aborted handshake at debug level.
  const readyBy = Date.now() + 20_000;
  const ports = tlsPort === undefined ? [port] : [port, tlsPort];
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      const log = readFileSync(logFile, 'utf8').split('\n').slice(-15).join('\n');
      dns?.socket.close();
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`${name} exited during start-up (${child.exitCode ?? child.signalCode}); its output:\n${log}`);
    }
    const open = await Promise.all(ports.map((p) => canConnect(p)));
    if (open.every(Boolean)) break;
    if (Date.now() > readyBy) {
      await stop();
      throw new Error(`${name} did not accept connections on 127.0.0.1:${ports.join(' and ')} within 20 s`);
    }
    await sleep(100);
  }
  return {
    name,
    variant,
    version: recipe.version(bin),
    host: '127.0.0.1',
    port,
    tlsPort,
    clientPort: tlsPort ?? port,
    pid,
    dir,
    logFile,
    stop,
  };
}

/** The comment block at the top of a server's bench config: the list of changes we made, for the report. */
export function configNotes(name: ServerName): string[] {
  // JSON has no comments: Natter's notes sit in a NOTES.md beside its config, one '#' line each.
  const file = name === 'natter' ? 'natter/NOTES.md' : RECIPES[name].config;
  const text = readFileSync(join(SERVERS_DIR, file), 'utf8');
  const lines: string[] = [];
  for (const raw of text.split('\n')) {
    const l = raw.trim();
    if (l.startsWith('#')) lines.push(l.replace(/^#\s?/, ''));
    else if (l.startsWith('/*') || l.startsWith('*')) {
      if (l === '*/') break;
      lines.push(l.replace(/^\/?\*+\s?/, ''));
    } else if (lines.length > 0 || l !== '') break;
  }
  return lines.filter((l) => l !== '');
}

export function configPath(name: ServerName): string {
  return join('bench', 'servers', RECIPES[name].config);
}

export function currentUser(): string {
  return userInfo().username;
}
