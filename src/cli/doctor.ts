/**
 * `natter doctor` (issue 10): checks an installation and says what is wrong in plain words, one line per check
 * (✓ ok, ⚠ warning, ✗ problem) and a closing summary; exit code 1 when a check failed, 0 otherwise (warnings alone
 * included), 2 for bad flags. Each check is a small function returning {status, title, detail}.
 *
 * It changes nothing, so it is safe beside a running server and as another user (root): the configuration is read
 * with the loader `natter serve` uses; SQLite is opened read-only and never migrated (see openSnapshot for why a
 * stopped server's file is read through a copy); PostgreSQL only sees SELECTs; ports are tried by binding and closing
 * at once, or by asking whoever holds them.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { accessSync, constants, copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statfsSync, statSync } from 'node:fs';
import type { Stats } from 'node:fs';
import { request as httpRequest } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect as netConnect, createServer } from 'node:net';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { connect as tlsConnect, TLSSocket } from 'node:tls';
import BetterSqlite3 from 'better-sqlite3';
import chalk from 'chalk';
import pg from 'pg';
import { ConfigError, loadConfig, parseHostPort } from '../config/load.js';
import type { ConfigOverrides } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { migrations } from '../store/migrations.js';
import type { Dialect } from '../store/migrations.js';
import { redactUrl } from '../store/postgres/open.js';
import { ClusterStatusError, readClusterStatus, redactedUrl } from './cluster-status.js';
import { dataDirOf, VERSION } from './compose.js';
import { hostFile } from './host-identity.js';

export interface DoctorFlags {
  config?: string;
  data?: string;
  database?: string;
  json?: boolean;
}

export type CheckStatus = 'ok' | 'warn' | 'fail';
type Fact = string | number | boolean | null;
type Facts = Readonly<Record<string, Fact>>;

export interface CheckResult {
  readonly status: CheckStatus;
  /** What was checked: "config", "store integrity", "port 127.0.0.1:6667 (IRC)". */
  readonly title: string;
  /** What was found, and what to do about it, in one line. */
  readonly detail: string;
  /** The same as values, for --json (a fingerprint, a schema version, counts). */
  readonly facts?: Facts;
}

function result(status: CheckStatus, title: string, detail: string, facts?: Facts): CheckResult {
  return facts === undefined ? { status, title, detail } : { status, title, detail, facts };
}
const ok = (title: string, detail: string, facts?: Facts): CheckResult => result('ok', title, detail, facts);
const warn = (title: string, detail: string, facts?: Facts): CheckResult => result('warn', title, detail, facts);
const fail = (title: string, detail: string, facts?: Facts): CheckResult => result('fail', title, detail, facts);

/** Free space below either of these is a warning: 1 GiB, or 5% of the disk. */
export const LOW_DISK_BYTES = 1024 ** 3;
export const LOW_DISK_FRACTION = 0.05;
/** A certificate this close to its end is a warning. */
export const CERT_WARN_DAYS = 14;
/** How long whoever holds a port has to answer. */
const PROBE_TIMEOUT_MS = 3000;
/** A stopped server's database up to this size is checked in memory; a bigger one through a temporary copy. */
const SNAPSHOT_IN_MEMORY_MAX_BYTES = 256 * 1024 * 1024;
const DAY_MS = 24 * 3600 * 1000;

/** The words of an error: Node's AggregateError (every address refused) has an empty message. */
function reasonOf(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  if (error.message !== '') return error.message;
  if (error instanceof AggregateError) return error.errors.map(reasonOf).join('; ');
  return (error as NodeJS.ErrnoException).code ?? error.name;
}

function codeOf(error: unknown): string {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : reasonOf(error);
}

export function humanBytes(bytes: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${String(bytes)} bytes` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit] ?? ''}`;
}

function plural(count: number, word: string, words = `${word}s`): string {
  return `${String(count)} ${count === 1 ? word : words}`;
}

function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

function mayWrite(path: string): boolean {
  try {
    accessSync(path, constants.R_OK | constants.W_OK | constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Configuration

/** Flags doctor takes for `natter serve`'s, checked before anything else: a bad one is an error naming it (exit 2). */
function checkFlags(flags: DoctorFlags): void {
  if (flags.database !== undefined && !/^postgres(ql)?:\/\//.test(flags.database)) {
    throw new ConfigError(`doctor: --database: expected a PostgreSQL URL, postgres://user@host:port/database (got "${redactUrl(flags.database)}")`);
  }
  if (flags.data?.trim() === '') throw new ConfigError('doctor: --data: expected a folder, got an empty value');
  if (flags.config?.trim() === '') throw new ConfigError('doctor: --config: expected a file, got an empty value');
}

/** The file is found, parses and validates, with the loader (and so the messages) of `natter serve`. */
export async function checkConfig(flags: DoctorFlags): Promise<{ result: CheckResult; config: Config | undefined }> {
  const overrides: ConfigOverrides = {};
  if (flags.data !== undefined) overrides.data = flags.data;
  if (flags.database !== undefined) overrides.database = flags.database;
  try {
    const config = await loadConfig(flags.config, overrides);
    const detail = flags.config === undefined ? 'no --config file: the built-in defaults (and --data, --database)' : `${flags.config} is valid`;
    return { result: ok('config', detail, { file: flags.config ?? null }), config };
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    // The loader names every bad key on a line of its own; one check is one line.
    return { result: fail('config', `${error.message.split('\n').join('; ')} (natter serve refuses to start with it)`, { file: flags.config ?? null }), config: undefined };
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Data folder

export function checkDataFolder(dir: string): CheckResult {
  const title = 'data folder';
  let stats: Stats;
  try {
    stats = statSync(dir);
  } catch (error) {
    const code = codeOf(error);
    if (code === 'ENOENT') {
      return warn(title, `${dir} does not exist: natter serve makes it, empty, at first start; if your data should be there, check --data or "data" in the config`, { path: dir, exists: false });
    }
    if (code === 'ENOTDIR') return fail(title, `${dir} is inside a file, not a folder`, { path: dir });
    return fail(title, `${dir} cannot be read (${code})`, { path: dir });
  }
  if (!stats.isDirectory()) return fail(title, `${dir} is a file, not a folder`, { path: dir });
  if (!mayWrite(dir)) return fail(title, `${dir} is not readable and writable by you (uid ${String(process.getuid?.() ?? '?')}): natter serve run as you cannot use it`, { path: dir });
  return ok(title, `${dir}: a folder you can read and write`, { path: dir, exists: true });
}

/**
 * Whether every user of this machine can read `path`: the file is readable by others and every folder above it
 * searchable by others. (Groups and ACLs are left out: they are someone's deliberate choice.)
 */
export function readableByEveryone(path: string): boolean {
  const stats = statOrUndefined(path);
  if (stats === undefined || (stats.mode & 0o004) === 0) return false;
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    const folder = statOrUndefined(dir);
    if (folder === undefined || (folder.mode & 0o001) === 0) return false;
    if (dirname(dir) === dir) return true;
  }
}

/** Secrets in the data folder: host mode's password (host.json), the self-signed TLS key, and the database itself. */
export function checkSecrets(dir: string): CheckResult {
  const title = 'permissions';
  const folder = statOrUndefined(dir);
  if (folder === undefined || !folder.isDirectory()) return ok(title, 'nothing to check: no data folder yet');
  const mode = (folder.mode & 0o777).toString(8).padStart(3, '0');
  // The files natter itself writes 0600 (host.json, tls/key.pem); a copy or a restore may not have kept that.
  const credentials = [hostFile(dir), join(dir, 'tls', 'key.pem')].filter(readableByEveryone);
  if (credentials.length > 0) {
    return fail(title, `${credentials.join(' and ')} can be read by every user of this machine (a password, a private key): chmod 600 them and chmod 700 ${dir}`, { folderMode: mode });
  }
  const data = ['natter.db', 'natter.db-wal'].map((name) => join(dir, name)).filter(readableByEveryone);
  if (data.length > 0) {
    return warn(title, `${data.join(' and ')} can be read by every user of this machine (messages, password hashes): chmod 700 ${dir}`, { folderMode: mode });
  }
  return ok(title, `other users cannot read its secrets (the folder is mode ${mode})`, { folderMode: mode });
}

/** The folder itself, or the nearest folder above it that exists (where it would be made). */
function nearestExisting(path: string): string {
  let current = path;
  while (!existsSync(current) && dirname(current) !== current) current = dirname(current);
  return current;
}

export function checkDiskSpace(dir: string): CheckResult {
  const title = 'disk space';
  const where = nearestExisting(dir);
  let free: number;
  let total: number;
  try {
    const stats = statfsSync(where);
    free = stats.bavail * stats.bsize;
    total = stats.blocks * stats.bsize;
  } catch (error) {
    return warn(title, `cannot tell the free space at ${where} (${codeOf(error)})`);
  }
  const percent = total > 0 ? (100 * free) / total : 100;
  const facts = { freeBytes: free, totalBytes: total };
  const detail = `${humanBytes(free)} free of ${humanBytes(total)} (${percent.toFixed(0)}%) at ${where}`;
  if (free < LOW_DISK_BYTES || percent < LOW_DISK_FRACTION * 100) {
    return warn(title, `only ${detail}: SQLite and uploads fail when the disk is full; free some space`, facts);
  }
  return ok(title, detail, facts);
}

// ---------------------------------------------------------------------------------------------------------------
// Store

/** Table names in the store that are Natter's, for telling an empty store from someone else's database. */
const NATTER_TABLES = ['accounts', 'rooms', 'history', 'kysely_migration'];

/** Applied migrations against this build's: behind is a warning (serve migrates), ahead a problem. */
export function schemaCheck(dialect: Dialect, applied: readonly string[] | undefined, tables: readonly string[]): CheckResult {
  const title = 'store schema';
  const known = Object.keys(migrations(dialect)).sort();
  const expected = known.at(-1) ?? '';
  if (applied === undefined || applied.length === 0) {
    if (!tables.some((table) => NATTER_TABLES.includes(table))) {
      return warn(title, 'empty: no Natter tables yet; natter serve creates them at first start', { version: null, expected });
    }
    return fail(title, 'Natter tables without a record of migrations (kysely_migration): not a store this build can use; restore it from a backup', { version: null, expected });
  }
  const version = [...applied].sort().at(-1) ?? '';
  const facts = { version, expected, applied: applied.length, known: known.length };
  const unknown = applied.filter((name) => !known.includes(name));
  if (unknown.length > 0) {
    return fail(title, `ahead: this build (natter ${VERSION}) is older than the data, which has ${unknown.join(', ')}; run that newer Natter (going back would lose what it keeps)`, facts);
  }
  const pending = known.filter((name) => !applied.includes(name));
  if (pending.length > 0) {
    return warn(title, `behind: ${plural(pending.length, 'migration')} to apply (${pending.join(', ')}); run natter serve to migrate (after a backup)`, facts);
  }
  return ok(title, `up to date: ${version} (${plural(known.length, 'migration')})`, facts);
}

function contentsCheck(counts: Readonly<Record<string, number>>): CheckResult {
  const parts = [
    plural(counts['accounts'] ?? 0, 'account'),
    plural(counts['rooms'] ?? 0, 'registered room'),
    plural(counts['history'] ?? 0, 'message'),
    ...(counts['uploads'] === undefined ? [] : [plural(counts['uploads'], 'upload')]),
  ];
  return ok('store contents', parts.join(', '), { accounts: counts['accounts'] ?? 0, rooms: counts['rooms'] ?? 0, messages: counts['history'] ?? 0, uploads: counts['uploads'] ?? 0 });
}

const COUNTED_TABLES = ['accounts', 'rooms', 'history', 'uploads'] as const;

export interface Snapshot {
  readonly db: BetterSqlite3.Database;
  /** How it was opened, for the store line. */
  readonly how: string;
  /** True when a server (or `natter account`) opened the file while it was read: a failure may be a torn read. */
  changedSince(): boolean;
  close(): void;
}

/**
 * The database, read-only, without creating a file in the data folder. A read-only SQLite connection to a WAL
 * database still creates natter.db-wal and natter.db-shm when they are missing, and leaves them behind: run as root,
 * those root-owned files would stop the server's next start. So:
 * - with natter.db-wal and -shm there (a server runs, or a crash left them), it is opened read-only beside them,
 *   reading what the server committed;
 * - without them (stopped cleanly), a copy is read: in memory up to `inMemoryMax` bytes, else in a temporary folder.
 */
export function openSnapshot(path: string, inMemoryMax = SNAPSHOT_IN_MEMORY_MAX_BYTES): Snapshot {
  const wal = `${path}-wal`;
  const shm = `${path}-shm`;
  if (existsSync(wal) && existsSync(shm)) {
    const db = new BetterSqlite3(path, { readonly: true, fileMustExist: true, timeout: 5000 });
    return { db, how: 'opened read-only beside its WAL (a server runs, or did not stop cleanly)', changedSince: () => false, close: () => db.close() };
  }
  if (existsSync(wal)) throw new SnapshotRefused(`${wal} is there without ${shm}: start natter serve once to recover it, then run natter doctor again`);
  const size = statSync(path).size;
  const changedSince = (): boolean => existsSync(wal);
  if (size <= inMemoryMax) {
    const bytes = readFileSync(path);
    // A copy cannot be opened in WAL mode (the file format bytes 18-19 say 2): rollback mode (1) reads it as it is.
    if (bytes.length >= 100 && bytes[18] === 2 && bytes[19] === 2) {
      bytes[18] = 1;
      bytes[19] = 1;
    }
    const db = new BetterSqlite3(bytes, { readonly: true });
    return { db, how: 'read from a copy in memory (no server runs)', changedSince, close: () => db.close() };
  }
  const folder = mkdtempSync(join(tmpdir(), 'natter-doctor-'));
  try {
    const stats = statfsSync(folder);
    if (stats.bavail * stats.bsize < size * 1.1) throw new SnapshotRefused(`${path} (${humanBytes(size)}) is too big to copy to ${tmpdir()} for a read-only check; set TMPDIR to a folder with room, or run natter doctor while the server runs`);
    const copy = join(folder, 'natter.db');
    copyFileSync(path, copy);
    const db = new BetterSqlite3(copy, { readonly: true });
    return {
      db,
      how: `read from a copy in ${tmpdir()} (no server runs)`,
      changedSince,
      close: () => {
        db.close();
        rmSync(folder, { recursive: true, force: true });
      },
    };
  } catch (error) {
    rmSync(folder, { recursive: true, force: true });
    throw error;
  }
}

/** The snapshot cannot be made for a reason that is the user's to fix, not damage. */
class SnapshotRefused extends Error {
  override name = 'SnapshotRefused';
}

function pragmaLines(db: BetterSqlite3.Database, pragma: string): string[] {
  return (db.pragma(pragma) as Array<Record<string, unknown>>).map((row) => String(Object.values(row)[0]));
}

/** SQLite in the data folder: present, opens read-only, passes quick_check and integrity_check, schema, counts. */
export function checkSqliteStore(path: string): CheckResult[] {
  const stats = statOrUndefined(path);
  if (stats === undefined) {
    return [warn('store', `no database at ${path}: natter serve makes an empty one at first start; if your accounts and rooms should be there, check --data`, { backend: 'sqlite', path })];
  }
  try {
    accessSync(path, constants.R_OK);
  } catch (error) {
    return [fail('store', `${path} cannot be read by you (${codeOf(error)})`, { backend: 'sqlite', path })];
  }
  const damaged = (why: string): CheckResult =>
    fail('store integrity', `${path} is damaged or not a Natter database (${why}): stop the server, restore it from a backup or move it away`, { path });
  let snapshot: Snapshot;
  try {
    snapshot = openSnapshot(path);
  } catch (error) {
    if (error instanceof SnapshotRefused) return [warn('store', error.message, { backend: 'sqlite', path })];
    return [fail('store', `${path} cannot be opened read-only: ${reasonOf(error)}`, { backend: 'sqlite', path })];
  }
  const results: CheckResult[] = [ok('store', `SQLite ${path} (${humanBytes(stats.size)}), ${snapshot.how}`, { backend: 'sqlite', path, bytes: stats.size })];
  try {
    const { db } = snapshot;
    // quick_check first (it is fast and says most); integrity_check adds the indexes' agreement with their tables.
    const quick = pragmaLines(db, 'quick_check(10)');
    const problems = quick.join('') === 'ok' ? pragmaLines(db, 'integrity_check(10)') : quick;
    if (problems.join('') !== 'ok') {
      results.push(damaged(`${plural(problems.length, 'problem')}${problems.length >= 10 ? ' or more' : ''}: ${problems.slice(0, 3).join('; ')}`));
    } else {
      results.push(ok('store integrity', 'PRAGMA quick_check and integrity_check: ok'));
      const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{ name: string }>).map((row) => row.name);
      const applied = tables.includes('kysely_migration') ? (db.prepare('SELECT name FROM kysely_migration ORDER BY name').all() as Array<{ name: string }>).map((row) => row.name) : undefined;
      const schema = schemaCheck('sqlite', applied, tables);
      results.push(schema);
      if (applied !== undefined && schema.status !== 'fail') {
        const counts: Record<string, number> = {};
        for (const table of COUNTED_TABLES) {
          if (tables.includes(table)) counts[table] = (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
        }
        results.push(contentsCheck(counts));
      }
    }
  } catch (error) {
    results.push(damaged(reasonOf(error)));
  } finally {
    snapshot.close();
  }
  if (snapshot.changedSince() && results.some((check) => check.status === 'fail')) {
    // A server started while the copy was read: what failed may be a torn read, not damage.
    return [...results.filter((check) => check.status !== 'fail'), warn('store integrity', `${path} changed while it was read (a server or natter account opened it): run natter doctor again`)];
  }
  return results;
}

/** PostgreSQL: reachable, the schema in search_path exists, its migrations and counts. SELECTs only. */
export async function checkPostgresStore(url: string): Promise<CheckResult[]> {
  const where = redactUrl(url);
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000, query_timeout: 30_000 });
  client.on('error', () => {
    // A dropped connection fails the query that needs it, which is reported.
  });
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => undefined);
    return [fail('store', `PostgreSQL ${where} cannot be reached: ${reasonOf(error)}`, { backend: 'postgres', url: where })];
  }
  try {
    const { rows } = await client.query<{ version: string; schema: string | null; database: string }>(
      "SELECT current_setting('server_version') AS version, current_schema() AS schema, current_database() AS database",
    );
    const info = rows[0];
    if (info === undefined) return [fail('store', `PostgreSQL ${where} answered no row to SELECT current_schema()`)];
    if (info.schema === null) {
      return [fail('store', `PostgreSQL ${where}: the schema in search_path does not exist (natter serve would refuse to start); create it (CREATE SCHEMA ...)`, { backend: 'postgres', url: where })];
    }
    const results = [ok('store', `PostgreSQL ${info.version} at ${where}: reachable, database ${info.database}, schema ${info.schema}`, { backend: 'postgres', url: where, server: info.version, database: info.database, schema: info.schema })];
    const tables = (await client.query<{ name: string }>('SELECT table_name AS name FROM information_schema.tables WHERE table_schema = $1', [info.schema])).rows.map((row) => row.name);
    const schema = client.escapeIdentifier(info.schema);
    const applied = tables.includes('kysely_migration') ? (await client.query<{ name: string }>(`SELECT name FROM ${schema}.kysely_migration ORDER BY name`)).rows.map((row) => row.name) : undefined;
    const check = schemaCheck('postgres', applied, tables);
    results.push(check);
    if (applied !== undefined && check.status !== 'fail') {
      const counts: Record<string, number> = {};
      for (const table of COUNTED_TABLES) {
        // count(*) is a bigint, which pg hands over as a string.
        if (tables.includes(table)) counts[table] = Number((await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${schema}.${client.escapeIdentifier(table)}`)).rows[0]?.n ?? 0);
      }
      results.push(contentsCheck(counts));
    }
    return results;
  } catch (error) {
    return [fail('store', `PostgreSQL ${where}: ${reasonOf(error)}`, { backend: 'postgres', url: where })];
  } finally {
    await client.end().catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// TLS

function tlsUsed(config: Config): boolean {
  // As compose.ts decides: IRC over TLS and HTTPS share the one certificate.
  return config.tls.listen.length > 0 || config.https.listen.length > 0;
}

/**
 * The certificate and key: the configured files, else the self-signed pair natter serve keeps in DATA/tls (the
 * paths of loadOrCreateSelfSigned). Checked also when unused if the files are there (natter host made them).
 */
export function checkTls(config: Config, dataDir: string, now = Date.now()): { result: CheckResult; fingerprint: string | undefined } {
  const title = 'TLS certificate';
  const done = (check: CheckResult, fingerprint?: string): { result: CheckResult; fingerprint: string | undefined } => ({ result: check, fingerprint });
  const used = tlsUsed(config);
  const { cert, key } = config.tls;
  if ((cert === undefined) !== (key === undefined)) return done(fail(title, 'give both tls.cert and tls.key (--tls-cert, --tls-key), or neither for a self-signed certificate'));
  const selfSigned = cert === undefined;
  const certPath = cert ?? join(dataDir, 'tls', 'cert.pem');
  const keyPath = key ?? join(dataDir, 'tls', 'key.pem');
  if (selfSigned && !existsSync(certPath) && !existsSync(keyPath)) {
    if (!used) return done(ok(title, 'not used (no tls.listen or https.listen in the config)'));
    return done(warn(title, `none yet: natter serve makes a self-signed one in ${dirname(certPath)} at first start (clients will be asked to trust it)`));
  }
  let certPem: string;
  let keyPem: string;
  try {
    certPem = readFileSync(certPath, 'utf8');
    keyPem = readFileSync(keyPath, 'utf8');
  } catch (error) {
    const path = (error as NodeJS.ErrnoException).path ?? certPath;
    return done(fail(title, `${path} cannot be read (${codeOf(error)})`, { cert: certPath, key: keyPath }));
  }
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(certPem);
  } catch (error) {
    return done(fail(title, `${certPath} is not a PEM certificate (${reasonOf(error)})`, { cert: certPath, key: keyPath }));
  }
  const fingerprint = x509.fingerprint256;
  const notAfter = Date.parse(x509.validTo);
  const notBefore = Date.parse(x509.validFrom);
  const until = new Date(notAfter).toISOString().slice(0, 10);
  const facts = { cert: certPath, key: keyPath, fingerprint, validTo: new Date(notAfter).toISOString(), selfSigned, used };
  const problems: string[] = [];
  const warnings: string[] = [];
  try {
    if (!x509.checkPrivateKey(createPrivateKey(keyPem))) problems.push(`the key ${keyPath} does not belong to the certificate`);
  } catch (error) {
    problems.push(`${keyPath} is not a PEM private key (${reasonOf(error)})`);
  }
  const days = Math.floor((notAfter - now) / DAY_MS);
  if (notAfter <= now) problems.push(`it expired on ${until}: clients refuse it; renew it (natter serve reads new files on SIGHUP)`);
  else if (notBefore > now) problems.push(`it is not valid before ${new Date(notBefore).toISOString().slice(0, 10)}`);
  else if (notAfter - now < CERT_WARN_DAYS * DAY_MS) warnings.push(`it expires in ${plural(days, 'day')} (${until}): renew it (natter serve reads new files on SIGHUP)`);
  if (readableByEveryone(keyPath)) problems.push(`the private key ${keyPath} can be read by every user of this machine: chmod 600 ${keyPath}`);
  const what = `${certPath}${selfSigned ? ' (self-signed)' : ''}${used ? '' : ', not used by this config'}`;
  const tail = `SHA-256 ${fingerprint}`;
  if (problems.length > 0) return done(fail(title, `${what}: ${[...problems, ...warnings].join('; ')}; ${tail}`, facts), fingerprint);
  if (warnings.length > 0) return done(warn(title, `${what}: ${warnings.join('; ')}; ${tail}`, facts), fingerprint);
  return done(ok(title, `${what}: the key matches, valid until ${until} (${plural(days, 'day')}); ${tail}`, facts), fingerprint);
}

// ---------------------------------------------------------------------------------------------------------------
// Ports

type ListenerKind = 'IRC' | 'IRC over TLS' | 'HTTP' | 'HTTPS';

interface Listener {
  readonly address: string;
  readonly kind: ListenerKind;
  /** The config key that lists it, for the advice. */
  readonly key: string;
}

function listenersOf(config: Config): Listener[] {
  return [
    ...config.listen.map((address) => ({ address, kind: 'IRC' as const, key: 'listen' })),
    ...config.tls.listen.map((address) => ({ address, kind: 'IRC over TLS' as const, key: 'tls.listen' })),
    ...config.http.listen.map((address) => ({ address, kind: 'HTTP' as const, key: 'http.listen' })),
    ...config.https.listen.map((address) => ({ address, kind: 'HTTPS' as const, key: 'https.listen' })),
  ];
}

/** Binds and closes at once: undefined when the port is free, else the error code (EADDRINUSE, EACCES, ...). */
function tryBind(host: string, port: number): Promise<string | undefined> {
  return new Promise((done) => {
    const probe = createServer();
    probe.once('error', (error) => {
      done(codeOf(error));
    });
    probe.listen({ host, port, exclusive: true }, () => {
      probe.close(() => {
        done(undefined);
      });
    });
  });
}

/** Where to reach a listener: a wildcard address is reached on loopback. */
function reachableHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '::1';
  return host;
}

interface Answer {
  /** It is a Natter: what it said about itself. */
  readonly natter?: string;
  /** Not a Natter (or no answer): what it did. */
  readonly other?: string;
  /** Out of service (its /healthz answers 503). */
  readonly outOfService?: boolean;
  /** The SHA-256 fingerprint of the certificate it presented, over TLS. */
  readonly fingerprint?: string;
}

/** Sends CAP LS (any IRC server answers it before registration) and reads the first line. */
function askIrc(socket: Socket): Promise<Answer> {
  const secure = socket instanceof TLSSocket;
  return new Promise((done) => {
    let buffer = '';
    let fingerprint: string | undefined;
    let finished = false;
    const finish = (answer: Answer): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      // A polite goodbye; unref'd so a peer that never closes cannot keep doctor running.
      socket.end('QUIT :natter doctor\r\n');
      socket.unref();
      done(fingerprint === undefined ? answer : { ...answer, fingerprint });
    };
    const timer = setTimeout(() => {
      finish({ other: `it did not answer CAP LS within ${String(PROBE_TIMEOUT_MS / 1000)} s` });
    }, PROBE_TIMEOUT_MS);
    socket.setEncoding('utf8');
    socket.once(secure ? 'secureConnect' : 'connect', () => {
      if (socket instanceof TLSSocket) fingerprint = socket.getPeerCertificate().fingerprint256;
      socket.write('CAP LS 302\r\n');
    });
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      if (buffer.length > 65536) {
        finish({ other: 'it sent a flood of bytes' });
        return;
      }
      // CAP LS 302 may come as several lines ("CAP * LS * :..."); Natter's own capabilities say it is Natter.
      for (let end = buffer.indexOf('\n'); end >= 0; end = buffer.indexOf('\n')) {
        const line = buffer.slice(0, end).replace(/\r$/, '');
        buffer = buffer.slice(end + 1);
        const cap = /^:(\S+) CAP \S+ LS (\* )?/.exec(line);
        if (cap === null) {
          finish({ other: `it answered ${JSON.stringify(line.slice(0, 80))}` });
        } else if (line.includes('natter.chat/')) {
          finish({ natter: `server ${cap[1] ?? '?'}` });
        } else if (cap[2] === undefined) {
          finish({ other: `an IRC server that is not Natter (${cap[1] ?? '?'}) answered` });
        }
        if (finished) return;
      }
    });
    socket.on('error', (error) => {
      finish({ other: `connecting failed (${codeOf(error)})` });
    });
    socket.on('close', () => {
      finish({ other: 'it closed the connection without answering' });
    });
  });
}

/** GET /healthz: a Natter answers JSON with "inService". */
function askHttp(host: string, port: number, secure: boolean): Promise<Answer> {
  return new Promise((done) => {
    const onResponse = (response: IncomingMessage): void => {
      const fingerprint = response.socket instanceof TLSSocket ? response.socket.getPeerCertificate().fingerprint256 : undefined;
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        if (body.length < 65536) body += chunk;
      });
      response.on('end', () => {
        let health: Record<string, unknown> | undefined;
        try {
          const parsed: unknown = JSON.parse(body);
          if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) health = parsed as Record<string, unknown>;
        } catch {
          // Not JSON: not a Natter.
        }
        const withPrint = (answer: Answer): Answer => (fingerprint === undefined ? answer : { ...answer, fingerprint });
        if (health !== undefined && typeof health['inService'] === 'boolean') {
          const connections = typeof health['connections'] === 'number' ? `, ${plural(health['connections'], 'connection')}` : '';
          done(withPrint({ natter: `/healthz: ${String(health['status'])}${connections}`, outOfService: !health['inService'] }));
        } else {
          done(withPrint({ other: `its /healthz answered HTTP ${String(response.statusCode)}, not as Natter does` }));
        }
      });
    };
    const options = { host, port, path: '/healthz', method: 'GET', agent: false, timeout: PROBE_TIMEOUT_MS, headers: { 'user-agent': `natter-doctor/${VERSION}` } } as const;
    const request = secure ? httpsRequest({ ...options, rejectUnauthorized: false }, onResponse) : httpRequest(options, onResponse);
    request.on('timeout', () => {
      request.destroy(new Error(`no answer within ${String(PROBE_TIMEOUT_MS / 1000)} s`));
    });
    request.on('error', (error) => {
      done({ other: `asking for /healthz failed (${reasonOf(error)})` });
    });
    request.end();
  });
}

function ask(listener: Listener, host: string, port: number): Promise<Answer> {
  switch (listener.kind) {
    case 'IRC':
      return askIrc(netConnect({ host, port }));
    case 'IRC over TLS':
      // Any certificate: this asks who is there, it does not trust it with anything.
      return askIrc(tlsConnect({ host, port, rejectUnauthorized: false }));
    case 'HTTP':
      return askHttp(host, port, false);
    case 'HTTPS':
      return askHttp(host, port, true);
  }
}

/** Free to bind, or held by a running Natter (fine), or by another program (a problem): which, in words. */
export async function checkPort(listener: Listener, fingerprint: string | undefined): Promise<CheckResult> {
  const title = `port ${listener.address} (${listener.kind})`;
  const { host, port } = parseHostPort(listener.address);
  const facts = { address: listener.address, kind: listener.kind, port };
  if (port === 0) return ok(title, 'port 0: a free port is picked at each start', { ...facts, state: 'any' });
  const code = await tryBind(host, port);
  if (code === undefined) return ok(title, `port ${String(port)} is free: natter serve can listen there`, { ...facts, state: 'free' });
  if (code === 'EACCES') return fail(title, `port ${String(port)} needs administrator rights to listen on (ports under 1024): choose a port from 1024 up in "${listener.key}"`, { ...facts, state: 'refused' });
  if (code === 'EADDRNOTAVAIL') return fail(title, `this machine has no address ${host}: change "${listener.key}"`, { ...facts, state: 'no address' });
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return fail(title, `the name ${host} does not resolve: change "${listener.key}"`, { ...facts, state: 'no address' });
  if (code !== 'EADDRINUSE') return fail(title, `port ${String(port)} cannot be listened on (${code})`, { ...facts, state: code });
  const answer = await ask(listener, reachableHost(host), port);
  if (answer.natter === undefined) {
    return fail(title, `port ${String(port)} is in use by another program (${answer.other ?? 'unknown'}): stop it, or choose another port in "${listener.key}"`, { ...facts, state: 'in use' });
  }
  const running = `port ${String(port)} is in use by a running Natter (${answer.natter})`;
  if (answer.outOfService === true) return warn(title, `${running}, which is out of service`, { ...facts, state: 'natter' });
  if (fingerprint !== undefined && answer.fingerprint !== undefined && answer.fingerprint !== fingerprint) {
    return warn(title, `${running}, with another certificate (SHA-256 ${answer.fingerprint}) than the file's: it reads the files again on SIGHUP`, { ...facts, state: 'natter' });
  }
  return ok(title, running, { ...facts, state: 'natter' });
}

export async function checkPorts(config: Config, fingerprint: string | undefined): Promise<CheckResult[]> {
  const listeners = listenersOf(config);
  const seen = new Map<string, Listener>();
  return Promise.all(
    listeners.map((listener) => {
      const { host, port } = parseHostPort(listener.address);
      const key = `${host}:${String(port)}`;
      const first = seen.get(key);
      if (port !== 0 && first !== undefined) {
        return Promise.resolve(fail(`port ${listener.address} (${listener.kind})`, `${listener.address} is also given for ${first.kind} ("${first.key}"): natter serve cannot listen on it twice`));
      }
      seen.set(key, listener);
      // Only TLS listeners present the certificate.
      return checkPort(listener, listener.kind === 'IRC over TLS' || listener.kind === 'HTTPS' ? fingerprint : undefined);
    }),
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Cluster and uploads

/** Cluster mode: Redis answers, and its live nodes (the logic of `natter cluster status`). */
export async function checkCluster(config: Config): Promise<CheckResult> {
  const title = 'cluster';
  if (config.cluster === undefined) return ok(title, 'not in cluster mode (no cluster.redis)');
  const { redis, namespace } = config.cluster;
  try {
    const nodes = await readClusterStatus({ redis, namespace });
    const list = nodes.map((node) => `${node.nodeId}${node.host === undefined ? '' : ` on ${node.host}`}${node.sessions === undefined ? '' : `, ${plural(node.sessions, 'session')}`}${node.inService === false ? ', OUT of service' : ''}`);
    const detail = `Redis at ${redactedUrl(redis)} answers; namespace ${namespace}: ${plural(nodes.length, 'live node')}${list.length > 0 ? ` (${list.join('; ')})` : ''}`;
    const facts = { redis: redactedUrl(redis), namespace, liveNodes: nodes.length };
    // A node out of service has lost Redis for a while; its users are sent to the others.
    if (nodes.some((node) => node.inService === false)) return warn(title, detail, facts);
    return ok(title, detail, facts);
  } catch (error) {
    if (!(error instanceof ClusterStatusError)) throw error;
    return fail(title, `${error.message.replace(/^cluster status: /, '')}: the nodes cannot serve the network without it`, { redis: redactedUrl(redis), namespace });
  }
}

function folderUsage(dir: string): { files: number; bytes: number } {
  let files = 0;
  let bytes = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      const inner = folderUsage(path);
      files += inner.files;
      bytes += inner.bytes;
    } else if (entry.isFile()) {
      files++;
      bytes += statSync(path).size;
    }
  }
  return { files, bytes };
}

/** The uploads folder (DATA/uploads, as compose.ts makes the UploadLibrary), when uploads are served. */
export function checkUploads(config: Config, dataDir: string): CheckResult {
  const title = 'uploads';
  if (!config.uploads.enabled) return ok(title, 'turned off (uploads.enabled is false)');
  if (config.http.listen.length === 0 && config.https.listen.length === 0) return ok(title, 'not served (no http.listen or https.listen)');
  const dir = join(dataDir, 'uploads');
  const stats = statOrUndefined(dir);
  if (stats === undefined) return ok(title, `none yet (${dir} is made at the first upload)`, { path: dir, files: 0, bytes: 0 });
  if (!stats.isDirectory()) return fail(title, `${dir} is a file, not a folder: uploads will fail; move it away`, { path: dir });
  if (!mayWrite(dir)) return fail(title, `${dir} is not writable by you: uploads will fail`, { path: dir });
  const usage = folderUsage(dir);
  const quota = config.uploads.quotaBytes === 0 ? 'no quota per account' : `quota ${humanBytes(config.uploads.quotaBytes)} per account`;
  return ok(title, `${dir}: ${plural(usage.files, 'file')}, ${humanBytes(usage.bytes)} used (${quota})`, { path: dir, ...usage });
}

// ---------------------------------------------------------------------------------------------------------------
// The command

/** An unexpected error inside one check is that check's failure, not the end of the others. */
async function guarded(title: string, run: () => CheckResult | CheckResult[] | Promise<CheckResult | CheckResult[]>): Promise<CheckResult[]> {
  try {
    const checked = await run();
    return Array.isArray(checked) ? checked : [checked];
  } catch (error) {
    return [fail(title, `the check itself failed: ${reasonOf(error)}`)];
  }
}

export async function runChecks(flags: DoctorFlags): Promise<CheckResult[]> {
  checkFlags(flags);
  const { result: configResult, config } = await checkConfig(flags);
  if (config === undefined) return [configResult];
  const dataDir = resolve(dataDirOf(config));
  let tls: { result: CheckResult; fingerprint: string | undefined };
  try {
    tls = checkTls(config, dataDir);
  } catch (error) {
    tls = { result: fail('TLS certificate', `the check itself failed: ${reasonOf(error)}`), fingerprint: undefined };
  }
  // The slow ones (store, ports, Redis) in parallel; the order of the lines stays fixed.
  const [store, ports, cluster] = await Promise.all([
    guarded('store', () => (config.database === undefined ? checkSqliteStore(join(dataDir, 'natter.db')) : checkPostgresStore(config.database))),
    guarded('ports', () => checkPorts(config, tls.fingerprint)),
    guarded('cluster', () => checkCluster(config)),
  ]);
  return [
    configResult,
    ...(await guarded('data folder', () => checkDataFolder(dataDir))),
    ...(await guarded('permissions', () => checkSecrets(dataDir))),
    ...(await guarded('disk space', () => checkDiskSpace(dataDir))),
    ...store,
    tls.result,
    ...ports,
    ...cluster,
    ...(await guarded('uploads', () => checkUploads(config, dataDir))),
  ];
}

export interface Summary {
  readonly ok: number;
  readonly warnings: number;
  readonly problems: number;
}

export function summarize(results: readonly CheckResult[]): Summary {
  return {
    ok: results.filter((check) => check.status === 'ok').length,
    warnings: results.filter((check) => check.status === 'warn').length,
    problems: results.filter((check) => check.status === 'fail').length,
  };
}

const SYMBOLS: Record<CheckStatus, string> = { ok: '✓', warn: '⚠', fail: '✗' };
const COLORS: Record<CheckStatus, (text: string) => string> = { ok: chalk.green, warn: chalk.yellow, fail: chalk.red };

/** The report as lines; `color` on a terminal only, so a pipe or a log file gets the bare symbols. */
export function formatReport(results: readonly CheckResult[], color = false): string {
  const lines = results.map((check) => `${color ? COLORS[check.status](SYMBOLS[check.status]) : SYMBOLS[check.status]} ${check.title}: ${check.detail}`);
  const { ok: good, warnings, problems } = summarize(results);
  const counts = `${plural(results.length, 'check')}: ${String(good)} ok, ${plural(warnings, 'warning')}, ${plural(problems, 'problem')}`;
  const configOnly = results.length === 1 && results[0]?.title === 'config' && problems > 0;
  const verdict =
    problems > 0
      ? configOnly
        ? 'fix the configuration, then run natter doctor again for the other checks.'
        : `${problems === 1 ? 'something is' : 'some things are'} wrong (✗ above).`
      : warnings > 0
        ? 'nothing is wrong; look at the warnings (⚠).'
        : 'nothing is wrong.';
  return `natter doctor ${VERSION}\n${lines.join('\n')}\n\n${counts}; ${verdict}\n`;
}

export function reportJson(results: readonly CheckResult[]): string {
  const summary = summarize(results);
  return `${JSON.stringify({ version: VERSION, ok: summary.problems === 0, summary, checks: results }, null, 2)}\n`;
}

/** `natter doctor`: prints the report; the exit code is 1 when a check failed. */
export async function doctor(flags: DoctorFlags, stdout: Writable = process.stdout): Promise<void> {
  const results = await runChecks(flags);
  stdout.write(flags.json === true ? reportJson(results) : formatReport(results, (stdout as { isTTY?: boolean }).isTTY === true));
  // Not process.exit(): standard output (a pipe) is written out before the process ends.
  if (results.some((check) => check.status === 'fail')) process.exitCode = 1;
}
