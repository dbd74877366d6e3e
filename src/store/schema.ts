/** The tables, as Kysely sees them. Times are milliseconds since the epoch (BIGINT). */
import type { Generated } from 'kysely';

export interface AccountsTable {
  id: Generated<number>;
  name: string;
  name_folded: string;
  password_hash: string;
  scram_salt: string;
  scram_iterations: number;
  scram_stored_key: string;
  scram_server_key: string;
  created_at: number;
  is_oper: number;
  /** Since migration 0002; null when none was given. */
  email: string | null;
}

export interface AccountCertfpsTable {
  fingerprint: string;
  account_id: number;
}

export interface RoomsTable {
  name_folded: string;
  name: string;
  founder_id: number;
  registered_at: number;
  topic: string;
  topic_set_by: string;
  topic_set_at: number;
  modes: string;
  key: string | null;
  user_limit: number | null;
  /** Since migration 0003: 'everything', 'joined', or null for the server's default. */
  history: string | null;
}

export interface RoomRolesTable {
  room: string;
  account_id: number;
  rank: number;
}

export interface RoomListsTable {
  room: string;
  mode: string;
  mask: string;
  mask_folded: string;
  set_by: string;
  set_at: number;
}

/** Since migration 0003: one row per stored message or event, ordered by (time, seq). */
export interface HistoryTable {
  seq: Generated<number>;
  target: string;
  /** The two party keys of a private conversation's target; null for a room. */
  party1: string | null;
  party2: string | null;
  msgid: string;
  time: number;
  command: string;
  source: string;
  account: string | null;
  /** JSON array of strings. */
  params: string;
  /** JSON object of the client tags; null when there are none. */
  tags: string | null;
}

export interface ReadMarkersTable {
  account_id: number;
  target: string;
  time: number;
}

export interface RoomJoinsTable {
  account_id: number;
  room: string;
  joined_at: number;
}

/** Since migration 0004: one row per uploaded image (issue 7); its files are in the data folder's uploads/. */
export interface UploadsTable {
  id: string;
  account_id: number;
  mime: string;
  size: number;
  width: number;
  height: number;
  filename: string;
  thumbnail: string | null;
  thumbnail_size: number;
  created_at: number;
}

/** Since migration 0005: one row per view-once message still waiting for a recipient (docs/extensions/view-once.md). */
export interface ViewOnceTable {
  msgid: string;
  time: number;
  expires_at: number;
  /** PRIVMSG or NOTICE. */
  command: string;
  source: string;
  account: string | null;
  /** The room as the sender wrote it; null for a private message. */
  room: string | null;
  /** The content. */
  text: string;
  /** JSON object of the client tags relayed with it; null when there are none. */
  tags: string | null;
  /** Recipients that have not opened it yet. */
  pending: number;
}

/** Since migration 0005: who may still open a view-once message (a recipient key of core/view-once.ts). */
export interface ViewOnceRecipientsTable {
  msgid: string;
  recipient: string;
}

export interface Database {
  accounts: AccountsTable;
  account_certfps: AccountCertfpsTable;
  rooms: RoomsTable;
  room_roles: RoomRolesTable;
  room_lists: RoomListsTable;
  history: HistoryTable;
  read_markers: ReadMarkersTable;
  room_joins: RoomJoinsTable;
  uploads: UploadsTable;
  view_once: ViewOnceTable;
  view_once_recipients: ViewOnceRecipientsTable;
}
