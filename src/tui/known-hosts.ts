/**
 * Trust on first use of TLS certificates, as SSH's known_hosts: a self-signed server (what `natter host` makes)
 * cannot be checked against a certificate authority, so the fingerprint a person accepted the first time is
 * remembered per server, and a different one later is reported rather than silently trusted.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync, chmodSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, posix, win32 } from 'node:path';
import { z } from 'zod';
import { ConnectError } from './address.js';
import { sameFingerprint } from './tcp-transport.js';

export type TrustCheck =
  | { readonly kind: 'new' }
  | { readonly kind: 'match' }
  | { readonly kind: 'changed'; readonly remembered: string; /** ISO date it was remembered. */ readonly since: string };

interface Remembered {
  readonly fingerprint: string;
  readonly since: string;
}

const fileSchema = z.object({
  version: z.literal(1),
  hosts: z.record(
    z.string(),
    z.object({
      fingerprint: z.string().regex(/^[0-9a-f]{2}(:?[0-9a-f]{2})+$/i, 'not a hex fingerprint'),
      since: z.iso.datetime(),
    }),
  ),
});

/** The per-user config folder (beside the data folder of src/config/paths.ts on macOS and Windows). */
export function knownHostsPath(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform, home: string = homedir()): string {
  // The target platform's separators, so the path is right whatever platform computes it (and tests can check it).
  const appData = env['APPDATA'];
  if (platform === 'win32') return win32.join(appData !== undefined && appData !== '' ? appData : win32.join(home, 'AppData', 'Roaming'), 'Natter', 'known-hosts.json');
  if (platform === 'darwin') return posix.join(home, 'Library', 'Application Support', 'Natter', 'known-hosts.json');
  const xdg = env['XDG_CONFIG_HOME'];
  // The XDG spec says a relative value is to be ignored.
  const configHome = xdg !== undefined && posix.isAbsolute(xdg) ? xdg : posix.join(home, '.config');
  return posix.join(configHome, 'natter', 'known-hosts.json');
}

export class KnownHosts {
  private constructor(
    readonly path: string,
    private entries: ReadonlyMap<string, Remembered>,
  ) {}

  /** A missing file is an empty list; one that cannot be read or understood stops here, naming the file. */
  static load(path: string): KnownHosts {
    return new KnownHosts(path, readEntries(path));
  }

  check(key: string, fingerprint: string): TrustCheck {
    const remembered = this.entries.get(normalizeKey(key));
    if (remembered === undefined) return { kind: 'new' };
    if (sameFingerprint(remembered.fingerprint, fingerprint)) return { kind: 'match' };
    return { kind: 'changed', remembered: remembered.fingerprint, since: remembered.since };
  }

  /** Saved at once, so a crash later cannot lose a decision the person already made. */
  remember(key: string, fingerprint: string): void {
    this.update((entries) => {
      entries.set(normalizeKey(key), { fingerprint, since: new Date().toISOString() });
      return true;
    });
  }

  /** Whether there was anything to forget. */
  forget(key: string): boolean {
    return this.update((entries) => entries.delete(normalizeKey(key)));
  }

  /**
   * Applies a change to what is on disk now, not to what was read at load: another `natter connect` may have
   * remembered a server since, and rewriting the file from a stale copy would drop it.
   */
  private update(change: (entries: Map<string, Remembered>) => boolean): boolean {
    const entries = new Map(readEntries(this.path));
    const changed = change(entries);
    if (changed) writeEntries(this.path, entries);
    this.entries = entries;
    return changed;
  }
}

function normalizeKey(key: string): string {
  return key.toLowerCase();
}

function readEntries(path: string): Map<string, Remembered> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw new ConnectError(`cannot read ${path} (${(error as Error).message}); fix its permissions or delete it`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new ConnectError(`${path} is not valid JSON (${(error as Error).message}); fix it or delete it to forget all remembered certificates`);
  }
  const parsed = fileSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue === undefined || issue.path.length === 0 ? '' : `"${issue.path.map(String).join('.')}": `;
    throw new ConnectError(
      `${path} is not a known-hosts file (${where}${issue?.message ?? 'unexpected content'}); fix it or delete it to forget all remembered certificates`,
    );
  }
  return new Map(Object.entries(parsed.data.hosts).map(([key, entry]) => [normalizeKey(key), entry]));
}

/** Temp file then rename: a reader, or a crash mid-write, sees the old file or the new one, never half of one. */
function writeEntries(path: string, entries: ReadonlyMap<string, Remembered>): void {
  const sorted = [...entries].sort(([a], [b]) => a.localeCompare(b));
  const text = `${JSON.stringify({ version: 1, hosts: Object.fromEntries(sorted) }, null, 2)}\n`;
  const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    const fd = openSync(temp, 'wx', 0o600);
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    // The mode given to open is reduced by the umask; the file holds what this person trusts, so owner only.
    chmodSync(temp, 0o600);
    renameSync(temp, path);
  } catch (error) {
    rmSync(temp, { force: true });
    throw new ConnectError(`cannot save ${path} (${(error as Error).message})`);
  }
}
