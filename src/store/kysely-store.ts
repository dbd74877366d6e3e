/**
 * The Store ports over Kysely: one query path for SQLite and PostgreSQL (STACK.md). The dialects differ
 * only in how they are opened (sqlite/, postgres/) and in the DDL of the migrations.
 */
import type { Kysely, Selectable } from 'kysely';
import { Migrator, sql } from 'kysely';
import type {
  AccountRecord,
  NewAccount,
  RoomListEntry,
  RoomPatch,
  RoomRecord,
  RoomRole,
  ScramCredentials,
  Store,
} from '../core/store.js';
import { StoreConflictError } from '../core/store.js';
import { migrationProvider } from './migrations.js';
import type { Dialect } from './migrations.js';
import type { AccountsTable, Database, RoomsTable } from './schema.js';

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
  };
}

function scramColumns(scram: ScramCredentials): Pick<AccountsTable, 'scram_salt' | 'scram_iterations' | 'scram_stored_key' | 'scram_server_key'> {
  return { scram_salt: scram.salt, scram_iterations: scram.iterations, scram_stored_key: scram.storedKey, scram_server_key: scram.serverKey };
}

export class KyselyStore implements Store {
  constructor(
    protected readonly db: Kysely<Database>,
    readonly description: string,
    private readonly onClose: () => Promise<void>,
  ) {}

  async close(): Promise<void> {
    await this.db.destroy();
    await this.onClose();
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
}
