/**
 * The Store ports over Kysely: one query path for SQLite and PostgreSQL (STACK.md). The dialects differ
 * only in how they are opened (sqlite/, postgres/) and in the DDL of the migrations.
 */
import type { Kysely, Selectable } from 'kysely';
import { CompiledQuery, Migrator, sql } from 'kysely';
import type { HistoryCommand, HistoryItem, HistoryQuery, HistoryTarget, RetentionPolicy, StoredHistoryItem } from '../core/history.js';
import type {
  AccountRecord,
  NewAccount,
  RoomListEntry,
  RoomHistoryVisibility,
  RoomPatch,
  RoomRecord,
  RoomRole,
  ScramCredentials,
  Store,
  UploadRecord,
} from '../core/store.js';
import { StoreConflictError } from '../core/store.js';
import type { NewViewOnce, OpenedViewOnce, SealedViewOnce, ViewOnceGone, ViewOnceRecord } from '../core/view-once.js';
import { migrationProvider } from './migrations.js';
import type { Dialect } from './migrations.js';
import type { AccountsTable, Database, HistoryTable, RoomsTable, UploadsTable, ViewOnceTable } from './schema.js';

/** Raised when a store cannot be opened or migrated: the start stops with this message. */
export class StoreOpenError extends Error {
  override name = 'StoreOpenError';
}

/**
 * The Migrator of a store. On PostgreSQL its bookkeeping tables (kysely_migration, kysely_migration_lock) are
 * named in the connection's current schema: without that, Kysely takes a table of that name in *any* schema of
 * the database for its own (another Natter's, another application's) and then fails, or skips migrations.
 */
export async function migratorFor<DB>(db: Kysely<DB>, dialect: Dialect, description: string): Promise<Migrator> {
  if (dialect === 'sqlite') return new Migrator({ db, provider: migrationProvider(dialect) });
  const { rows } = await sql<{ schema: string | null }>`SELECT current_schema() AS schema`.execute(db);
  const schema = rows[0]?.schema ?? null;
  if (schema === null) {
    // search_path (e.g. "?options=-c search_path=natter" in the URL) names no schema that exists.
    throw new StoreOpenError(`${description}: the schema in search_path does not exist; create it first (CREATE SCHEMA ...)`);
  }
  return new Migrator({ db, provider: migrationProvider(dialect), migrationTableSchema: schema });
}

export async function migrateToLatest(db: Kysely<Database>, dialect: Dialect, description: string): Promise<void> {
  const migrator = await migratorFor(db, dialect, description);
  const { error, results } = await migrator.migrateToLatest();
  if (error !== undefined) {
    const reason = error instanceof Error ? error.message : JSON.stringify(error);
    // Kysely refuses to run when the store has a migration this version does not know: it was written by a
    // newer Natter. Said plainly, since going back would lose what the newer version keeps.
    const unknown = /previously executed migration (\S+) is missing/.exec(reason)?.[1];
    if (unknown !== undefined) {
      throw new StoreOpenError(`${description} was written by a newer version of Natter (migration ${unknown} is unknown to this one); run that version or newer`);
    }
    const failed = results?.find((r) => r.status === 'Error')?.migrationName;
    throw new StoreOpenError(`${description}: ${failed === undefined ? 'migrations' : `migration ${failed}`} failed: ${reason}`);
  }
}

function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

async function conflictsAs<T>(what: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (isUniqueViolation(error)) throw new StoreConflictError(what);
    throw error;
  }
}

function toAccount(row: Selectable<AccountsTable>): AccountRecord {
  return {
    id: row.id,
    name: row.name,
    nameFolded: row.name_folded,
    passwordHash: row.password_hash,
    scram: { salt: row.scram_salt, iterations: row.scram_iterations, storedKey: row.scram_stored_key, serverKey: row.scram_server_key },
    createdAt: row.created_at,
    isOper: row.is_oper !== 0,
    email: row.email,
  };
}

function toUpload(row: Selectable<UploadsTable>): UploadRecord {
  return {
    id: row.id,
    accountId: row.account_id,
    mime: row.mime,
    size: row.size,
    width: row.width,
    height: row.height,
    filename: row.filename,
    thumbnail: row.thumbnail,
    thumbnailSize: row.thumbnail_size,
    createdAt: row.created_at,
  };
}

function toRoom(row: Selectable<RoomsTable>): RoomRecord {
  return {
    name: row.name,
    nameFolded: row.name_folded,
    founderId: row.founder_id,
    registeredAt: row.registered_at,
    topic: row.topic,
    topicSetBy: row.topic_set_by,
    topicSetAt: row.topic_set_at,
    modes: row.modes,
    key: row.key,
    userLimit: row.user_limit,
    history: toHistoryVisibility(row.history),
  };
}

/** A value this version does not know (written by hand, or by a newer Natter) reads as the server's default. */
function toHistoryVisibility(value: string | null): RoomHistoryVisibility | null {
  return value === 'everything' || value === 'joined' ? value : null;
}

function scramColumns(scram: ScramCredentials): Pick<AccountsTable, 'scram_salt' | 'scram_iterations' | 'scram_stored_key' | 'scram_server_key'> {
  return { scram_salt: scram.salt, scram_iterations: scram.iterations, scram_stored_key: scram.storedKey, scram_server_key: scram.serverKey };
}

// ---- history rows ----------------------------------------------------------------------------------

/** Rows per INSERT of a group commit: 10 parameters a row stays far below SQLite's (32766) and PG's (65535) limits. */
const APPEND_CHUNK_ROWS = 200;
/** The least time between two history commits once they come back to back (see scheduleWrite). */
const COMMIT_SPACING_MS = 2;

/** A scheduled history write: at the end of the turn (immediate) or after a wait (timeout). */
type FlushTimer = { readonly immediate: NodeJS.Immediate } | { readonly timeout: NodeJS.Timeout };

function clearFlushTimer(timer: FlushTimer): void {
  if ('immediate' in timer) clearImmediate(timer.immediate);
  else clearTimeout(timer.timeout);
}
const HISTORY_INSERT_COLUMNS = '(target, party1, party2, msgid, "time", command, source, account, params, tags)';
const HISTORY_INSERT_COLUMN_COUNT = 10;
/** What a row reads back as (party1/party2 only serve the indexes). */
const HISTORY_SELECT = ['seq', 'msgid', 'time', 'target', 'command', 'source', 'account', 'params', 'tags'] as const;
/** The rows that are messages; the others are room events (draft/event-playback). */
const MESSAGE_COMMANDS: readonly HistoryCommand[] = ['PRIVMSG', 'NOTICE', 'TAGMSG'];
/** The rows historyTargets counts (CHATHISTORY TARGETS lists conversations, not reactions). */
const TEXT_COMMANDS: readonly HistoryCommand[] = ['PRIVMSG', 'NOTICE'];

/** Appends of one event-loop turn (or of one write's duration): written together, then each settled. */
interface AppendBatch {
  readonly items: HistoryItem[];
  readonly resolves: Array<() => void>;
  readonly rejects: Array<(error: unknown) => void>;
}

/** Times and ids reach the store as JS numbers; a fraction or NaN would fail on PG bigint and be stored as REAL on SQLite. */
function checkMilliseconds(time: number, what: string): void {
  if (!Number.isSafeInteger(time)) throw new RangeError(`${what} must be an integer of milliseconds, not ${String(time)}`);
}

/** The INSERT of `rows` history rows, with the dialect's placeholders; skips (and does not return) a msgid already stored. */
function historyInsertSql(dialect: Dialect, rows: number): string {
  const tuples: string[] = [];
  let parameter = 0;
  for (let row = 0; row < rows; row++) {
    const marks: string[] = [];
    for (let column = 0; column < HISTORY_INSERT_COLUMN_COUNT; column++) marks.push(dialect === 'postgres' ? `$${String(++parameter)}` : '?');
    tuples.push(`(${marks.join(', ')})`);
  }
  return `INSERT INTO history ${HISTORY_INSERT_COLUMNS} VALUES ${tuples.join(', ')} ON CONFLICT (msgid) DO NOTHING RETURNING msgid`;
}

/** Appends one item's values in HISTORY_INSERT_COLUMNS order. */
function pushHistoryValues(values: unknown[], item: HistoryItem): void {
  // A conversation's target is two party keys joined by a space; a room's name never has a space (RFC 2812 1.3).
  const space = item.target.indexOf(' ');
  values.push(
    item.target,
    space < 0 ? null : item.target.slice(0, space),
    space < 0 ? null : item.target.slice(space + 1),
    item.msgid,
    item.time,
    item.command,
    item.source,
    item.account ?? null,
    JSON.stringify(item.params),
    item.tags === undefined || item.tags.size === 0 ? null : JSON.stringify(Object.fromEntries(item.tags)),
  );
}

type HistoryRow = Pick<Selectable<HistoryTable>, (typeof HISTORY_SELECT)[number]>;

function toHistoryItem(row: HistoryRow): StoredHistoryItem {
  return {
    // Numbers on both dialects: postgres/open.ts parses BIGINT (seq, time) as a JS number, not pg's default string.
    seq: row.seq,
    msgid: row.msgid,
    time: row.time,
    target: row.target,
    command: row.command as HistoryCommand,
    source: row.source,
    account: row.account ?? undefined,
    params: JSON.parse(row.params) as string[],
    tags: row.tags === null ? undefined : new Map(Object.entries(JSON.parse(row.tags) as Record<string, string>)),
  };
}

// ---- view-once rows ---------------------------------------------------------------------------------

/** Recipient rows per INSERT: 2 parameters a row, far below either dialect's limit. */
const VIEW_ONCE_RECIPIENT_CHUNK = 1000;

function toSealedViewOnce(row: Omit<Selectable<ViewOnceTable>, 'text' | 'pending'>): SealedViewOnce {
  return {
    msgid: row.msgid,
    time: row.time,
    expiresAt: row.expires_at,
    command: row.command === 'NOTICE' ? 'NOTICE' : 'PRIVMSG',
    source: row.source,
    account: row.account ?? undefined,
    room: row.room ?? undefined,
    tags: row.tags === null ? undefined : new Map(Object.entries(JSON.parse(row.tags) as Record<string, string>)),
  };
}

function toViewOnce(row: Selectable<ViewOnceTable>): ViewOnceRecord {
  return { ...toSealedViewOnce(row), text: row.text };
}

export class KyselyStore implements Store {
  /** The batch taking appends; written when the current write (if any) is done. */
  private collecting: AppendBatch | undefined;
  /** Set while a batch waits for the end of the event-loop turn to be written. */
  private flushTimer: FlushTimer | undefined;
  /** When the last history write began (performance.now()), to space commits at least COMMIT_SPACING_MS apart. */
  private lastWriteAt = -Infinity;
  private lastBatchSize = 0;
  /** Set while batches are being written, one after the other. */
  private writing: Promise<void> | undefined;
  private closing = false;
  /** INSERT text by row count: built once each (and prepared once by sqlite/open.ts's statement cache). */
  private readonly historyInserts = new Map<number, string>();

  constructor(
    protected readonly db: Kysely<Database>,
    private readonly dialect: Dialect,
    readonly description: string,
    private readonly onClose: () => Promise<void>,
  ) {}

  async close(): Promise<void> {
    this.closing = true;
    if (this.flushTimer !== undefined) {
      clearFlushTimer(this.flushTimer);
      this.startWriting();
    }
    await this.writing;
    await this.db.destroy();
    await this.onClose();
  }

  async ping(): Promise<void> {
    if (this.closing) throw new Error(`${this.description} is closed`);
    await sql`select 1`.execute(this.db);
  }

  // ---- accounts ----------------------------------------------------------------------------------

  async createAccount(account: NewAccount): Promise<AccountRecord> {
    const row = await conflictsAs(`the account name ${account.name} is taken`, () =>
      this.db
        .insertInto('accounts')
        .values({
          name: account.name,
          name_folded: account.nameFolded,
          password_hash: account.passwordHash,
          ...scramColumns(account.scram),
          created_at: account.createdAt,
          is_oper: 0,
          email: account.email ?? null,
        })
        .returningAll()
        .executeTakeFirstOrThrow(),
    );
    return toAccount(row);
  }

  async findAccount(nameFolded: string): Promise<AccountRecord | undefined> {
    const row = await this.db.selectFrom('accounts').selectAll().where('name_folded', '=', nameFolded).executeTakeFirst();
    return row === undefined ? undefined : toAccount(row);
  }

  async findAccountById(id: number): Promise<AccountRecord | undefined> {
    const row = await this.db.selectFrom('accounts').selectAll().where('id', '=', id).executeTakeFirst();
    return row === undefined ? undefined : toAccount(row);
  }

  async findAccountByCertfp(fingerprint: string): Promise<AccountRecord | undefined> {
    const row = await this.db
      .selectFrom('account_certfps')
      .innerJoin('accounts', 'accounts.id', 'account_certfps.account_id')
      .selectAll('accounts')
      .where('account_certfps.fingerprint', '=', fingerprint.toLowerCase())
      .executeTakeFirst();
    return row === undefined ? undefined : toAccount(row);
  }

  async listAccounts(): Promise<AccountRecord[]> {
    const rows = await this.db.selectFrom('accounts').selectAll().orderBy('name_folded').execute();
    return rows.map(toAccount);
  }

  async setPassword(nameFolded: string, passwordHash: string, scram: ScramCredentials): Promise<boolean> {
    const result = await this.db
      .updateTable('accounts')
      .set({ password_hash: passwordHash, ...scramColumns(scram) })
      .where('name_folded', '=', nameFolded)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async setOper(nameFolded: string, isOper: boolean): Promise<boolean> {
    const result = await this.db.updateTable('accounts').set({ is_oper: isOper ? 1 : 0 }).where('name_folded', '=', nameFolded).executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async deleteAccount(nameFolded: string): Promise<boolean> {
    const result = await this.db.deleteFrom('accounts').where('name_folded', '=', nameFolded).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async addCertfp(accountId: number, fingerprint: string): Promise<void> {
    await conflictsAs('that certificate fingerprint is already attached to an account', () =>
      this.db.insertInto('account_certfps').values({ fingerprint: fingerprint.toLowerCase(), account_id: accountId }).execute(),
    );
  }

  async removeCertfp(accountId: number, fingerprint: string): Promise<boolean> {
    const result = await this.db
      .deleteFrom('account_certfps')
      .where('account_id', '=', accountId)
      .where('fingerprint', '=', fingerprint.toLowerCase())
      .executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async listCertfps(accountId: number): Promise<string[]> {
    const rows = await this.db.selectFrom('account_certfps').select('fingerprint').where('account_id', '=', accountId).orderBy('fingerprint').execute();
    return rows.map((r) => r.fingerprint);
  }

  // ---- rooms -------------------------------------------------------------------------------------

  async registerRoom(room: RoomRecord): Promise<void> {
    await conflictsAs(`the room ${room.name} is already registered`, () =>
      this.db
        .insertInto('rooms')
        .values({
          name_folded: room.nameFolded,
          name: room.name,
          founder_id: room.founderId,
          registered_at: room.registeredAt,
          topic: room.topic,
          topic_set_by: room.topicSetBy,
          topic_set_at: room.topicSetAt,
          modes: room.modes,
          key: room.key,
          user_limit: room.userLimit,
          history: room.history,
        })
        .execute(),
    );
  }

  async findRoom(nameFolded: string): Promise<RoomRecord | undefined> {
    const row = await this.db.selectFrom('rooms').selectAll().where('name_folded', '=', nameFolded).executeTakeFirst();
    return row === undefined ? undefined : toRoom(row);
  }

  async listRooms(): Promise<RoomRecord[]> {
    const rows = await this.db.selectFrom('rooms').selectAll().orderBy('name_folded').execute();
    return rows.map(toRoom);
  }

  async updateRoom(nameFolded: string, patch: RoomPatch): Promise<void> {
    const set: Partial<RoomsTable> = {};
    if (patch.topic !== undefined) set.topic = patch.topic;
    if (patch.topicSetBy !== undefined) set.topic_set_by = patch.topicSetBy;
    if (patch.topicSetAt !== undefined) set.topic_set_at = patch.topicSetAt;
    if (patch.modes !== undefined) set.modes = patch.modes;
    if (patch.key !== undefined) set.key = patch.key;
    if (patch.userLimit !== undefined) set.user_limit = patch.userLimit;
    if (patch.history !== undefined) set.history = patch.history;
    if (Object.keys(set).length === 0) return;
    await this.db.updateTable('rooms').set(set).where('name_folded', '=', nameFolded).execute();
  }

  async transferRoom(nameFolded: string, founderId: number): Promise<boolean> {
    const result = await this.db.updateTable('rooms').set({ founder_id: founderId }).where('name_folded', '=', nameFolded).executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async dropRoom(nameFolded: string): Promise<boolean> {
    const result = await this.db.deleteFrom('rooms').where('name_folded', '=', nameFolded).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async setRole(nameFolded: string, accountId: number, rank: number): Promise<void> {
    if (rank === 0) {
      await this.db.deleteFrom('room_roles').where('room', '=', nameFolded).where('account_id', '=', accountId).execute();
      return;
    }
    await this.db
      .insertInto('room_roles')
      .values({ room: nameFolded, account_id: accountId, rank })
      .onConflict((oc) => oc.columns(['room', 'account_id']).doUpdateSet({ rank }))
      .execute();
  }

  async listRoles(nameFolded: string): Promise<RoomRole[]> {
    const rows = await this.db
      .selectFrom('room_roles')
      .innerJoin('accounts', 'accounts.id', 'room_roles.account_id')
      .select(['room_roles.account_id', 'accounts.name', 'room_roles.rank'])
      .where('room_roles.room', '=', nameFolded)
      .orderBy('room_roles.rank', 'desc')
      .orderBy('accounts.name_folded')
      .execute();
    return rows.map((r) => ({ accountId: r.account_id, accountName: r.name, rank: r.rank }));
  }

  async addListEntry(nameFolded: string, entry: RoomListEntry): Promise<void> {
    await this.db
      .insertInto('room_lists')
      .values({ room: nameFolded, mode: entry.mode, mask: entry.mask, mask_folded: entry.maskFolded, set_by: entry.setBy, set_at: entry.setAt })
      .onConflict((oc) => oc.columns(['room', 'mode', 'mask_folded']).doNothing())
      .execute();
  }

  async removeListEntry(nameFolded: string, mode: RoomListEntry['mode'], maskFolded: string): Promise<boolean> {
    const result = await this.db
      .deleteFrom('room_lists')
      .where('room', '=', nameFolded)
      .where('mode', '=', mode)
      .where('mask_folded', '=', maskFolded)
      .executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async listEntries(nameFolded: string): Promise<RoomListEntry[]> {
    const rows = await this.db.selectFrom('room_lists').selectAll().where('room', '=', nameFolded).orderBy('set_at').orderBy('mask_folded').execute();
    return rows.map((r) => ({ mode: r.mode as RoomListEntry['mode'], mask: r.mask, maskFolded: r.mask_folded, setBy: r.set_by, setAt: r.set_at }));
  }

  // ---- uploads -----------------------------------------------------------------------------------

  async addUpload(upload: UploadRecord): Promise<void> {
    checkMilliseconds(upload.createdAt, 'an upload time');
    await conflictsAs(`the upload id ${upload.id} is taken`, () =>
      this.db
        .insertInto('uploads')
        .values({
          id: upload.id,
          account_id: upload.accountId,
          mime: upload.mime,
          size: upload.size,
          width: upload.width,
          height: upload.height,
          filename: upload.filename,
          thumbnail: upload.thumbnail,
          thumbnail_size: upload.thumbnailSize,
          created_at: upload.createdAt,
        })
        .execute(),
    );
  }

  async findUpload(id: string): Promise<UploadRecord | undefined> {
    const row = await this.db.selectFrom('uploads').selectAll().where('id', '=', id).executeTakeFirst();
    return row === undefined ? undefined : toUpload(row);
  }

  async listUploads(accountId: number): Promise<UploadRecord[]> {
    const rows = await this.db.selectFrom('uploads').selectAll().where('account_id', '=', accountId).orderBy('created_at').orderBy('id').execute();
    return rows.map(toUpload);
  }

  async uploadUsage(accountId: number): Promise<number> {
    // SUM of a BIGINT is NUMERIC on PostgreSQL, which pg returns as a string: Number() reads both dialects' answers.
    const row = await this.db
      .selectFrom('uploads')
      .select(sql<number | string | null>`SUM(${sql.ref('size')} + ${sql.ref('thumbnail_size')})`.as('used'))
      .where('account_id', '=', accountId)
      .executeTakeFirst();
    return Number(row?.used ?? 0);
  }

  async deleteUpload(id: string, accountId: number): Promise<boolean> {
    const result = await this.db.deleteFrom('uploads').where('id', '=', id).where('account_id', '=', accountId).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  // ---- history -----------------------------------------------------------------------------------

  appendHistory(item: HistoryItem): Promise<void> {
    if (this.closing) return Promise.reject(new Error(`${this.description} is closed`));
    if (!Number.isSafeInteger(item.time)) return Promise.reject(new RangeError(`history time must be an integer of milliseconds, not ${String(item.time)}`));
    let batch = this.collecting;
    if (batch === undefined) {
      batch = { items: [], resolves: [], rejects: [] };
      this.collecting = batch;
      // While a write runs, its loop takes this batch next; otherwise the batch waits for the turn's other appends.
      if (this.writing === undefined) this.scheduleWrite();
    }
    const { items, resolves, rejects } = batch;
    return new Promise<void>((resolve, reject) => {
      items.push(item);
      resolves.push(resolve);
      rejects.push(reject);
    });
  }

  /**
   * Group commit: at the end of this turn, or under load (the last commit carried several messages) at least
   * COMMIT_SPACING_MS after the last one began, so that a commit carries many messages (its cost, pages written to
   * the WAL, is mostly per commit) while a quiet server adds no wait at all.
   */
  private scheduleWrite(): void {
    // A lone message (the last commit carried one) is written at the end of the turn: a quiet server adds no wait.
    const wait = this.lastBatchSize > 1 ? this.lastWriteAt + COMMIT_SPACING_MS - performance.now() : 0;
    this.flushTimer = wait <= 0 ? { immediate: setImmediate(this.startWriting) } : { timeout: setTimeout(this.startWriting, wait) };
  }

  private readonly startWriting = (): void => {
    this.flushTimer = undefined;
    this.lastWriteAt = performance.now();
    // writeBatches() awaits before it can finish, so `writing` is set here before the loop clears it.
    if (this.writing === undefined && this.collecting !== undefined) this.writing = this.writeBatches();
  };

  private async writeBatches(): Promise<void> {
    try {
      for (let batch = this.collecting; batch !== undefined; batch = this.collecting) {
        this.collecting = undefined;
        this.lastBatchSize = batch.items.length;
        await this.writeBatch(batch);
      }
    } finally {
      // Cleared in the same step as the loop's last look at `collecting`, so a later append schedules a new write.
      this.writing = undefined;
      // Only if the loop ended abnormally (writeBatch never rejects): a waiting batch must not be stranded.
      if (this.collecting !== undefined && this.flushTimer === undefined) this.scheduleWrite();
    }
  }

  /** Writes one batch and settles every promise of it; never rejects. */
  private async writeBatch(batch: AppendBatch): Promise<void> {
    const { items, resolves, rejects } = batch;
    let duplicates: number[] | undefined;
    try {
      // One statement is atomic by itself; only a batch of several statements needs BEGIN/COMMIT (two round trips on PG).
      duplicates =
        items.length <= APPEND_CHUNK_ROWS
          ? await this.insertHistoryRows(this.db, items)
          : await this.db.transaction().execute((trx) => this.insertHistoryRows(trx, items));
    } catch (error) {
      for (const reject of rejects) reject(error);
      return;
    }
    if (duplicates === undefined) {
      for (const resolve of resolves) resolve();
      return;
    }
    let next = 0;
    for (let i = 0; i < items.length; i++) {
      if (duplicates[next] === i) {
        next++;
        rejects[i]!(new StoreConflictError(`the msgid ${items[i]!.msgid} is already in the history`));
      } else {
        resolves[i]!();
      }
    }
  }

  /** Inserts the items in statements of APPEND_CHUNK_ROWS rows; returns the indexes (ascending) of those whose msgid was already stored. */
  private async insertHistoryRows(executor: Kysely<Database>, items: readonly HistoryItem[]): Promise<number[] | undefined> {
    let duplicates: number[] | undefined;
    for (let start = 0; start < items.length; start += APPEND_CHUNK_ROWS) {
      const end = Math.min(items.length, start + APPEND_CHUNK_ROWS);
      const values: unknown[] = [];
      for (let i = start; i < end; i++) pushHistoryValues(values, items[i]!);
      let text = this.historyInserts.get(end - start);
      if (text === undefined) {
        text = historyInsertSql(this.dialect, end - start);
        this.historyInserts.set(end - start, text);
      }
      // Built by hand: Kysely's builder would make a node per value of every row, on every chat message's path.
      const { rows } = await executor.executeQuery<{ msgid: string }>(CompiledQuery.raw(text, values));
      if (rows.length === end - start) continue;
      // Some msgid was already stored (or twice in this batch: the first one wins); RETURNING names those written.
      const written = new Set(rows.map((row) => row.msgid));
      for (let i = start; i < end; i++) {
        if (!written.delete(items[i]!.msgid)) (duplicates ??= []).push(i);
      }
    }
    return duplicates;
  }

  async queryHistory(query: HistoryQuery): Promise<StoredHistoryItem[]> {
    if (query.limit <= 0) return [];
    const { after, before, notBefore } = query;
    let select = this.db.selectFrom('history').select(HISTORY_SELECT).where('target', '=', query.target);
    // (time, seq) > after, written as OR for both dialects; the extra `time >=` lets the (target, time, seq) index seek.
    if (after !== undefined) {
      select = select
        .where('time', '>=', after.time)
        .where((eb) => eb.or([eb('time', '>', after.time), eb.and([eb('time', '=', after.time), eb('seq', '>', after.seq)])]));
    }
    if (before !== undefined) {
      select = select
        .where('time', '<=', before.time)
        .where((eb) => eb.or([eb('time', '<', before.time), eb.and([eb('time', '=', before.time), eb('seq', '<', before.seq)])]));
    }
    if (notBefore !== undefined) select = select.where('time', '>=', notBefore);
    if (!query.events) select = select.where('command', 'in', MESSAGE_COMMANDS);
    const order = query.direction === 'backward' ? 'desc' : 'asc';
    const rows = await select.orderBy('time', order).orderBy('seq', order).limit(query.limit).execute();
    const items = rows.map(toHistoryItem);
    if (order === 'desc') items.reverse();
    return items;
  }

  async findHistory(target: string, msgid: string): Promise<StoredHistoryItem | undefined> {
    const row = await this.db.selectFrom('history').select(HISTORY_SELECT).where('msgid', '=', msgid).where('target', '=', target).executeTakeFirst();
    return row === undefined ? undefined : toHistoryItem(row);
  }

  async deleteHistory(target: string, msgid: string): Promise<boolean> {
    const result = await this.db.deleteFrom('history').where('msgid', '=', msgid).where('target', '=', target).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async historyTargets(rooms: readonly string[], party: string | undefined, from: number, to: number, limit: number): Promise<HistoryTarget[]> {
    if ((rooms.length === 0 && party === undefined) || limit <= 0) return [];
    const rows = await this.db
      .selectFrom('history')
      .select((eb) => ['target', eb.fn.max('time').as('latest')])
      .where('command', 'in', TEXT_COMMANDS)
      .where('time', '>=', from)
      .where('time', '<=', to)
      .where((eb) => {
        const owned = [];
        // `IN ()` is a syntax error on PG: an empty room list adds no condition.
        if (rooms.length > 0) owned.push(eb('target', 'in', rooms));
        if (party !== undefined) owned.push(eb('party1', '=', party), eb('party2', '=', party));
        return eb.or(owned);
      })
      .groupBy('target')
      .orderBy('latest', 'desc')
      .orderBy('target')
      .limit(limit)
      .execute();
    return rows.map((row) => ({ target: row.target, latest: row.latest }));
  }

  async pruneHistory(policy: RetentionPolicy): Promise<number> {
    const { olderThan, maxPerTarget } = policy;
    if (olderThan !== undefined) checkMilliseconds(olderThan, 'olderThan');
    if (maxPerTarget !== undefined && !(Number.isSafeInteger(maxPerTarget) && maxPerTarget >= 0)) {
      throw new RangeError(`maxPerTarget must be a whole number, not ${String(maxPerTarget)}`);
    }
    if (olderThan === undefined && maxPerTarget === undefined) return 0;
    return this.db.transaction().execute(async (trx) => {
      let deleted = 0;
      if (olderThan !== undefined) {
        // Target by target through the (target, time, seq) index: there is no index on time alone (migration 0003).
        const targets = trx.selectFrom('history').select('target').distinct();
        const result = await trx.deleteFrom('history').where('target', 'in', targets).where('time', '<', olderThan).executeTakeFirst();
        deleted += Number(result.numDeletedRows);
      }
      if (maxPerTarget !== undefined) {
        // One statement for both dialects (window functions: SQLite 3.25+, PG): rank each target's rows newest first.
        const ranked = trx
          .selectFrom('history')
          .select(['seq', sql<number>`ROW_NUMBER() OVER (PARTITION BY ${sql.ref('target')} ORDER BY ${sql.ref('time')} DESC, ${sql.ref('seq')} DESC)`.as('rank')])
          .as('ranked');
        const result = await trx
          .deleteFrom('history')
          .where('seq', 'in', trx.selectFrom(ranked).select('ranked.seq').where('ranked.rank', '>', maxPerTarget))
          .executeTakeFirst();
        deleted += Number(result.numDeletedRows);
      }
      return deleted;
    });
  }

  // ---- read markers and room joins ---------------------------------------------------------------

  async getReadMarker(accountId: number, target: string): Promise<number | undefined> {
    const row = await this.db.selectFrom('read_markers').select('time').where('account_id', '=', accountId).where('target', '=', target).executeTakeFirst();
    return row === undefined ? undefined : row.time;
  }

  async setReadMarker(accountId: number, target: string, time: number): Promise<number> {
    checkMilliseconds(time, 'a read marker');
    // One statement keeps it forward-only under concurrent writers; CASE is the portable max (MAX() on SQLite, GREATEST on PG).
    const row = await this.db
      .insertInto('read_markers')
      .values({ account_id: accountId, target, time })
      .onConflict((oc) =>
        oc.columns(['account_id', 'target']).doUpdateSet({
          time: (eb) => eb.case().when('excluded.time', '>', eb.ref('read_markers.time')).then(eb.ref('excluded.time')).else(eb.ref('read_markers.time')).end(),
        }),
      )
      .returning('time')
      .executeTakeFirstOrThrow();
    return row.time;
  }

  async recordRoomJoin(accountId: number, room: string, time: number): Promise<number> {
    checkMilliseconds(time, 'a join time');
    // A forget (PART on another node) between the two statements leaves nothing to read: record again, a few times at most.
    for (let attempt = 0; attempt < 3; attempt++) {
      const inserted = await this.db
        .insertInto('room_joins')
        .values({ account_id: accountId, room, joined_at: time })
        .onConflict((oc) => oc.columns(['account_id', 'room']).doNothing())
        .returning('joined_at')
        .executeTakeFirst();
      if (inserted !== undefined) return inserted.joined_at;
      const stored = await this.roomJoinedAt(accountId, room);
      if (stored !== undefined) return stored;
    }
    throw new Error(`the join of account ${String(accountId)} to ${room} kept being forgotten while it was recorded`);
  }

  async roomJoinedAt(accountId: number, room: string): Promise<number | undefined> {
    const row = await this.db.selectFrom('room_joins').select('joined_at').where('account_id', '=', accountId).where('room', '=', room).executeTakeFirst();
    return row === undefined ? undefined : row.joined_at;
  }

  async forgetRoomJoin(accountId: number, room: string): Promise<void> {
    await this.db.deleteFrom('room_joins').where('account_id', '=', accountId).where('room', '=', room).execute();
  }

  // ---- view-once messages (docs/extensions/view-once.md) -----------------------------------------

  async createViewOnce(message: NewViewOnce): Promise<void> {
    checkMilliseconds(message.time, 'a view-once time');
    checkMilliseconds(message.expiresAt, 'a view-once expiry');
    const recipients = [...new Set(message.recipients)];
    if (recipients.length === 0) throw new RangeError('a view-once message needs at least one recipient');
    // One transaction: a message is never kept without its recipients (it could never be opened, only swept).
    await conflictsAs(`the msgid ${message.msgid} is already kept`, () =>
      this.db.transaction().execute(async (trx) => {
        await trx
          .insertInto('view_once')
          .values({
            msgid: message.msgid,
            time: message.time,
            expires_at: message.expiresAt,
            command: message.command,
            source: message.source,
            account: message.account ?? null,
            room: message.room ?? null,
            text: message.text,
            tags: message.tags === undefined || message.tags.size === 0 ? null : JSON.stringify(Object.fromEntries(message.tags)),
            pending: recipients.length,
          })
          .execute();
        for (let start = 0; start < recipients.length; start += VIEW_ONCE_RECIPIENT_CHUNK) {
          const chunk = recipients.slice(start, start + VIEW_ONCE_RECIPIENT_CHUNK);
          await trx.insertInto('view_once_recipients').values(chunk.map((recipient) => ({ msgid: message.msgid, recipient }))).execute();
        }
      }),
    );
  }

  async openViewOnce(msgid: string, recipient: string, now: number): Promise<OpenedViewOnce | undefined> {
    return this.db.transaction().execute(async (trx) => {
      // The message row is locked first (an update that changes nothing): two openings of one message, or an
      // opening and the sweep, then take their locks in the same order and wait for each other. The recipient's
      // DELETE that follows runs on a fresh snapshot (PostgreSQL READ COMMITTED), so of two devices racing for one
      // recipient only the first finds its row.
      const row = await trx
        .updateTable('view_once')
        .set((eb) => ({ pending: eb.ref('pending') }))
        .where('msgid', '=', msgid)
        .returningAll()
        .executeTakeFirst();
      if (row === undefined || row.expires_at <= now) return undefined;
      const removed = await trx.deleteFrom('view_once_recipients').where('msgid', '=', msgid).where('recipient', '=', recipient).executeTakeFirst();
      if (Number(removed.numDeletedRows) === 0) return undefined;
      const last = row.pending <= 1;
      if (last) await trx.deleteFrom('view_once').where('msgid', '=', msgid).execute();
      else await trx.updateTable('view_once').set({ pending: row.pending - 1 }).where('msgid', '=', msgid).execute();
      return { message: toViewOnce(row), last };
    });
  }

  async pendingViewOnce(recipient: string, now: number, limit: number): Promise<SealedViewOnce[]> {
    if (limit <= 0) return [];
    const rows = await this.db
      .selectFrom('view_once_recipients')
      .innerJoin('view_once', 'view_once.msgid', 'view_once_recipients.msgid')
      .select([
        'view_once.msgid',
        'view_once.time',
        'view_once.expires_at',
        'view_once.command',
        'view_once.source',
        'view_once.account',
        'view_once.room',
        'view_once.tags',
      ])
      .where('view_once_recipients.recipient', '=', recipient)
      .where('view_once.expires_at', '>', now)
      .orderBy('view_once.time')
      .orderBy('view_once.msgid')
      .limit(limit)
      .execute();
    return rows.map(toSealedViewOnce);
  }

  async sweepViewOnce(now: number): Promise<ViewOnceGone[]> {
    checkMilliseconds(now, 'the sweep time');
    // Recipient rows go with their message (ON DELETE CASCADE; foreign keys are on in sqlite/open.ts).
    const rows = await this.db.deleteFrom('view_once').where('expires_at', '<=', now).returning(['msgid', 'account', 'text']).execute();
    return rows.map((row) => ({ msgid: row.msgid, account: row.account ?? undefined, text: row.text }));
  }
}
