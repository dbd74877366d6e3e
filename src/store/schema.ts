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

export interface Database {
  accounts: AccountsTable;
  account_certfps: AccountCertfpsTable;
  rooms: RoomsTable;
  room_roles: RoomRolesTable;
  room_lists: RoomListsTable;
}
