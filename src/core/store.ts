import type { HistoryStore, ReadMarkerStore, RoomJoinStore } from './history.js';
import type { ViewOnceStore } from './view-once.js';

/**
 * The persistence ports: what must outlive the process (accounts, registered rooms and their roles,
 * message history, read markers and room joins). Implemented by store/sqlite and store/postgres over one conformance suite.
 * Names reach the store already casefolded by core (`...Folded`), so the store never needs the casemapping.
 */

/** SCRAM-SHA-256 credentials (RFC 5802/7677), stored beside the password hash whenever a password is set. */
export interface ScramCredentials {
  /** Base64. */
  readonly salt: string;
  readonly iterations: number;
  /** Base64 of H(ClientKey). */
  readonly storedKey: string;
  /** Base64 of HMAC(SaltedPassword, "Server Key"). */
  readonly serverKey: string;
}

export interface AccountRecord {
  readonly id: number;
  readonly name: string;
  readonly nameFolded: string;
  /** argon2id PHC string. */
  readonly passwordHash: string;
  readonly scram: ScramCredentials;
  /** Milliseconds since the epoch. */
  readonly createdAt: number;
  /** Set by `natter account oper`: this account is a server operator when it logs in. */
  readonly isOper: boolean;
  /** The address given at registration (draft/account-registration's REGISTER), if any. */
  readonly email: string | null;
}

export interface NewAccount {
  readonly name: string;
  readonly nameFolded: string;
  readonly passwordHash: string;
  readonly scram: ScramCredentials;
  readonly createdAt: number;
  /** Optional: null or left out when none was given. */
  readonly email?: string | null;
}

/** A registered room's lasting state. Modes are the flag letters ("nt"), key and limit apart. */
export interface RoomRecord {
  readonly name: string;
  readonly nameFolded: string;
  readonly founderId: number;
  readonly registeredAt: number;
  readonly topic: string;
  readonly topicSetBy: string;
  readonly topicSetAt: number;
  readonly modes: string;
  readonly key: string | null;
  readonly userLimit: number | null;
  /**
   * Who may read the room's history: 'everything' (all of it, to anyone who may join), 'joined' (only what was
   * said since the reader joined, see RoomJoinStore), or null for the server's default.
   */
  readonly history: RoomHistoryVisibility | null;
}

export type RoomHistoryVisibility = 'everything' | 'joined';

export type RoomPatch = Partial<Pick<RoomRecord, 'topic' | 'topicSetBy' | 'topicSetAt' | 'modes' | 'key' | 'userLimit' | 'history'>>;

export interface RoomRole {
  readonly accountId: number;
  readonly accountName: string;
  /** core/channel.ts Rank: voice 1 .. owner 5. */
  readonly rank: number;
}

export interface RoomListEntry {
  readonly mode: 'b' | 'e' | 'I';
  readonly mask: string;
  readonly maskFolded: string;
  readonly setBy: string;
  readonly setAt: number;
}

/** A write that would break uniqueness (an account or room name already taken). */
export class StoreConflictError extends Error {
  override name = 'StoreConflictError';
}

export interface AccountStore {
  createAccount(account: NewAccount): Promise<AccountRecord>;
  findAccount(nameFolded: string): Promise<AccountRecord | undefined>;
  findAccountById(id: number): Promise<AccountRecord | undefined>;
  findAccountByCertfp(fingerprint: string): Promise<AccountRecord | undefined>;
  listAccounts(): Promise<AccountRecord[]>;
  setPassword(nameFolded: string, passwordHash: string, scram: ScramCredentials): Promise<boolean>;
  setOper(nameFolded: string, isOper: boolean): Promise<boolean>;
  /** Also drops the rooms the account founded and its roles elsewhere. */
  deleteAccount(nameFolded: string): Promise<boolean>;
  addCertfp(accountId: number, fingerprint: string): Promise<void>;
  removeCertfp(accountId: number, fingerprint: string): Promise<boolean>;
  listCertfps(accountId: number): Promise<string[]>;
}

export interface RoomStore {
  registerRoom(room: RoomRecord): Promise<void>;
  findRoom(nameFolded: string): Promise<RoomRecord | undefined>;
  listRooms(): Promise<RoomRecord[]>;
  updateRoom(nameFolded: string, patch: RoomPatch): Promise<void>;
  transferRoom(nameFolded: string, founderId: number): Promise<boolean>;
  dropRoom(nameFolded: string): Promise<boolean>;
  /** rank 0 removes the role. */
  setRole(nameFolded: string, accountId: number, rank: number): Promise<void>;
  listRoles(nameFolded: string): Promise<RoomRole[]>;
  addListEntry(nameFolded: string, entry: RoomListEntry): Promise<void>;
  removeListEntry(nameFolded: string, mode: RoomListEntry['mode'], maskFolded: string): Promise<boolean>;
  listEntries(nameFolded: string): Promise<RoomListEntry[]>;
}

/** An uploaded image (issue 7): its files are `<id>.<ext of mime>` and `thumbnail` in the uploads folder. */
export interface UploadRecord {
  /** 128 random bits, base64url (core/uploads.ts isUploadId). */
  readonly id: string;
  readonly accountId: number;
  /** The sniffed type: image/jpeg, image/png, image/gif or image/webp. */
  readonly mime: string;
  /** Bytes of the stored image (as re-encoded, without metadata). */
  readonly size: number;
  readonly width: number;
  readonly height: number;
  /** A safe name for Content-Disposition (core/uploads.ts safeFilename). */
  readonly filename: string;
  /** The thumbnail's file name, or null when none was made. */
  readonly thumbnail: string | null;
  readonly thumbnailSize: number;
  /** Milliseconds since the epoch. */
  readonly createdAt: number;
}

export interface UploadStore {
  /** Throws StoreConflictError when the id is taken. */
  addUpload(upload: UploadRecord): Promise<void>;
  findUpload(id: string): Promise<UploadRecord | undefined>;
  /** The account's uploads, oldest first. */
  listUploads(accountId: number): Promise<UploadRecord[]>;
  /** Bytes the account's uploads keep stored: images and thumbnails. */
  uploadUsage(accountId: number): Promise<number>;
  /** Deletes the row only if it belongs to the account; the files are the caller's. */
  deleteUpload(id: string, accountId: number): Promise<boolean>;
}

export interface Store extends AccountStore, RoomStore, HistoryStore, ReadMarkerStore, RoomJoinStore, UploadStore, ViewOnceStore {
  /** "sqlite:/path/natter.db" or "postgres://host/db", for messages and `natter doctor`. */
  readonly description: string;
  /** Resolves once the database answers a trivial query (the readiness check, /readyz); rejects once closing. */
  ping(): Promise<void>;
  /** Writes the history appends still pending first; appends made after close() was called are rejected. */
  close(): Promise<void>;
}
