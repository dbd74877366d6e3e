/**
 * Numbered migrations, shared by SQLite and PostgreSQL: only identity and 64-bit columns differ, and
 * that difference is passed in (ARCHITECTURE.md lesson 7). A migration once released never changes;
 * a new one is added after it.
 */
import type { Kysely, Migration, MigrationProvider } from 'kysely';
import { sql } from 'kysely';

export type Dialect = 'sqlite' | 'postgres';

type AnyDb = Kysely<unknown>;

function migration0001(dialect: Dialect): Migration {
  const bigint = dialect === 'postgres' ? 'bigint' : 'integer';
  return {
    async up(db: AnyDb): Promise<void> {
      await db.schema
        .createTable('accounts')
        .addColumn('id', dialect === 'postgres' ? 'bigserial' : 'integer', (c) => (dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('name_folded', 'text', (c) => c.notNull().unique())
        .addColumn('password_hash', 'text', (c) => c.notNull())
        .addColumn('scram_salt', 'text', (c) => c.notNull())
        .addColumn('scram_iterations', 'integer', (c) => c.notNull())
        .addColumn('scram_stored_key', 'text', (c) => c.notNull())
        .addColumn('scram_server_key', 'text', (c) => c.notNull())
        .addColumn('created_at', sql.raw(bigint), (c) => c.notNull())
        .addColumn('is_oper', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema
        .createTable('account_certfps')
        .addColumn('fingerprint', 'text', (c) => c.primaryKey())
        .addColumn('account_id', sql.raw(bigint), (c) => c.notNull().references('accounts.id').onDelete('cascade'))
        .execute();
      await db.schema.createIndex('account_certfps_account').on('account_certfps').column('account_id').execute();
      await db.schema
        .createTable('rooms')
        .addColumn('name_folded', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('founder_id', sql.raw(bigint), (c) => c.notNull().references('accounts.id').onDelete('cascade'))
        .addColumn('registered_at', sql.raw(bigint), (c) => c.notNull())
        .addColumn('topic', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('topic_set_by', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('topic_set_at', sql.raw(bigint), (c) => c.notNull().defaultTo(0))
        .addColumn('modes', 'text', (c) => c.notNull().defaultTo('nt'))
        .addColumn('key', 'text')
        .addColumn('user_limit', 'integer')
        .execute();
      await db.schema
        .createTable('room_roles')
        .addColumn('room', 'text', (c) => c.notNull().references('rooms.name_folded').onDelete('cascade'))
        .addColumn('account_id', sql.raw(bigint), (c) => c.notNull().references('accounts.id').onDelete('cascade'))
        .addColumn('rank', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('room_roles_pk', ['room', 'account_id'])
        .execute();
      await db.schema
        .createTable('room_lists')
        .addColumn('room', 'text', (c) => c.notNull().references('rooms.name_folded').onDelete('cascade'))
        .addColumn('mode', 'text', (c) => c.notNull())
        .addColumn('mask', 'text', (c) => c.notNull())
        .addColumn('mask_folded', 'text', (c) => c.notNull())
        .addColumn('set_by', 'text', (c) => c.notNull())
        .addColumn('set_at', sql.raw(bigint), (c) => c.notNull())
        .addPrimaryKeyConstraint('room_lists_pk', ['room', 'mode', 'mask_folded'])
        .execute();
    },
  };
}

/**
 * An account's e-mail address (nullable): draft/account-registration's REGISTER and NickServ REGISTER take one,
 * to be kept for password resets and verification. Accounts made before it have none.
 */
const migration0002: Migration = {
  async up(db: AnyDb): Promise<void> {
    await db.schema.alterTable('accounts').addColumn('email', 'text').execute();
  },
};

/**
 * Message history (CHATHISTORY, reactions, event-playback), read markers, and when an account joined a room (for
 * rooms whose history starts at the reader's join), plus each registered room's choice of who sees its history.
 * history.seq is the store's insertion counter: rows of one millisecond keep their order (AUTOINCREMENT on SQLite,
 * so a seq is never reused after deletes). Its indexes: paging one target by (time, seq), which retention by age
 * also walks; the conversations of one party (historyTargets), private messages only.
 */
function migration0003(dialect: Dialect): Migration {
  const bigint = dialect === 'postgres' ? 'bigint' : 'integer';
  return {
    async up(db: AnyDb): Promise<void> {
      await db.schema
        .createTable('history')
        .addColumn('seq', dialect === 'postgres' ? 'bigserial' : 'integer', (c) => (dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()))
        .addColumn('target', 'text', (c) => c.notNull())
        .addColumn('party1', 'text')
        .addColumn('party2', 'text')
        .addColumn('msgid', 'text', (c) => c.notNull().unique())
        .addColumn('time', sql.raw(bigint), (c) => c.notNull())
        .addColumn('command', 'text', (c) => c.notNull())
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('account', 'text')
        .addColumn('params', 'text', (c) => c.notNull())
        .addColumn('tags', 'text')
        .execute();
      await db.schema.createIndex('history_target_time').on('history').columns(['target', 'time', 'seq']).execute();
      // Every index is written on every message (measured: each one costs about as much as the row), so there are
      // few: the conversations' party indexes hold private messages only, and retention by age walks the target
      // index room by room instead of keeping a time index.
      await db.schema.createIndex('history_party1_time').on('history').columns(['party1', 'time']).where(sql.ref('party1'), 'is not', null).execute();
      await db.schema.createIndex('history_party2_time').on('history').columns(['party2', 'time']).where(sql.ref('party2'), 'is not', null).execute();
      await db.schema
        .createTable('read_markers')
        .addColumn('account_id', sql.raw(bigint), (c) => c.notNull().references('accounts.id').onDelete('cascade'))
        .addColumn('target', 'text', (c) => c.notNull())
        .addColumn('time', sql.raw(bigint), (c) => c.notNull())
        .addPrimaryKeyConstraint('read_markers_pk', ['account_id', 'target'])
        .execute();
      await db.schema
        .createTable('room_joins')
        .addColumn('account_id', sql.raw(bigint), (c) => c.notNull().references('accounts.id').onDelete('cascade'))
        .addColumn('room', 'text', (c) => c.notNull())
        .addColumn('joined_at', sql.raw(bigint), (c) => c.notNull())
        .addPrimaryKeyConstraint('room_joins_pk', ['account_id', 'room'])
        .execute();
      await db.schema.alterTable('rooms').addColumn('history', 'text').execute();
    },
  };
}

/**
 * Uploaded images (issue 7, soju.im/FILEHOST): one row per upload, its files in the data folder. Rows go with their
 * account (ON DELETE CASCADE) so none is left pointing at a dropped account; the server deletes the files first.
 * Indexed by account for the quota (SUM) and for deleting an account's uploads.
 */
function migration0004(dialect: Dialect): Migration {
  const bigint = dialect === 'postgres' ? 'bigint' : 'integer';
  return {
    async up(db: AnyDb): Promise<void> {
      await db.schema
        .createTable('uploads')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('account_id', sql.raw(bigint), (c) => c.notNull().references('accounts.id').onDelete('cascade'))
        .addColumn('mime', 'text', (c) => c.notNull())
        .addColumn('size', sql.raw(bigint), (c) => c.notNull())
        .addColumn('width', 'integer', (c) => c.notNull())
        .addColumn('height', 'integer', (c) => c.notNull())
        .addColumn('filename', 'text', (c) => c.notNull())
        .addColumn('thumbnail', 'text')
        .addColumn('thumbnail_size', sql.raw(bigint), (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', sql.raw(bigint), (c) => c.notNull())
        .execute();
      await db.schema.createIndex('uploads_account').on('uploads').columns(['account_id', 'created_at']).execute();
    },
  };
}

/**
 * View-once messages (issue 7, docs/extensions/view-once.md): the content, kept once, and who may still open it.
 * A recipient's row goes when it opens the message; the message goes with its last recipient (`pending` counts them,
 * and updating it locks the message row, so concurrent openings of one message are serialized on PostgreSQL) or when
 * it expires (indexed by expires_at for the sweep). Recipient rows go with their message (ON DELETE CASCADE), and are
 * indexed by recipient for VIEWONCE LIST. Nothing here is history: CHATHISTORY never reads these tables.
 */
function migration0005(dialect: Dialect): Migration {
  const bigint = dialect === 'postgres' ? 'bigint' : 'integer';
  return {
    async up(db: AnyDb): Promise<void> {
      await db.schema
        .createTable('view_once')
        .addColumn('msgid', 'text', (c) => c.primaryKey())
        .addColumn('time', sql.raw(bigint), (c) => c.notNull())
        .addColumn('expires_at', sql.raw(bigint), (c) => c.notNull())
        .addColumn('command', 'text', (c) => c.notNull())
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('account', 'text')
        .addColumn('room', 'text')
        .addColumn('text', 'text', (c) => c.notNull())
        .addColumn('tags', 'text')
        .addColumn('pending', 'integer', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('view_once_expires').on('view_once').column('expires_at').execute();
      await db.schema
        .createTable('view_once_recipients')
        .addColumn('msgid', 'text', (c) => c.notNull().references('view_once.msgid').onDelete('cascade'))
        .addColumn('recipient', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('view_once_recipients_pk', ['msgid', 'recipient'])
        .execute();
      await db.schema.createIndex('view_once_recipients_recipient').on('view_once_recipients').column('recipient').execute();
    },
  };
}

/** Every migration in order; the name's number is its place. */
export function migrations(dialect: Dialect): Record<string, Migration> {
  return {
    '0001_accounts_and_rooms': migration0001(dialect),
    '0002_account_email': migration0002,
    '0003_history': migration0003(dialect),
    '0004_uploads': migration0004(dialect),
    '0005_view_once': migration0005(dialect),
  };
}

/** The newest migration's name: what a store opened by this version is migrated to. */
export function latestMigration(dialect: Dialect): string {
  return Object.keys(migrations(dialect)).sort().at(-1) ?? '';
}

export function migrationProvider(dialect: Dialect): MigrationProvider {
  return { getMigrations: () => Promise.resolve(migrations(dialect)) };
}
