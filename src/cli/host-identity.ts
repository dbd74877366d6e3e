/**
 * Who the host is in host mode (issue 8): an account made once, with a random password kept in the data folder
 * (host.json, mode 0600, readable by the host's user only), which is a server operator and the founder of the
 * default room. A second run finds host.json and reuses all of it, so the host's name, rooms and roles stay.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { authenticator } from '../auth/authenticator.js';
import { MemoryBus } from '../bus/memory.js';
import { toServerSettings } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { changePassword, checkAccountName, createAccount } from '../core/accounts.js';
import { Network } from '../core/network.js';
import { isValidChannelName } from '../core/rooms.js';
import type { Store } from '../core/store.js';

/** A refusal of host mode's setup or start: one line for the user, exit code 2. */
export class HostError extends Error {
  override name = 'HostError';
}

/** host.json: what a second run needs to be the same host. */
interface SavedHost {
  readonly account: string;
  readonly password: string;
  /** The room's name as the host typed it (--name), reused when --name is left out. */
  readonly name: string;
}

export interface HostIdentity {
  readonly account: string;
  readonly password: string;
  /** The room's name as typed, e.g. "Book club". */
  readonly title: string;
  /** The IRC room, e.g. "#book-club". */
  readonly room: string;
  /** Where the password is kept, for the banner. */
  readonly file: string;
  /** True when this run made the account (the first run in this data folder). */
  readonly created: boolean;
}

export const DEFAULT_TITLE = 'Lobby';

export function hostFile(dataDir: string): string {
  return join(dataDir, 'host.json');
}

async function readSaved(file: string): Promise<SavedHost | undefined> {
  if (!existsSync(file)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(file, 'utf8')) as unknown;
  } catch (error) {
    throw new HostError(`${file} cannot be read (${error instanceof Error ? error.message : String(error)}); move it away to make a new host account`);
  }
  const record = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
  const { account, password, name } = record;
  if (typeof account !== 'string' || typeof password !== 'string' || typeof name !== 'string') {
    throw new HostError(`${file} is not a host file of natter host (it needs "account", "password" and "name"); move it away to make a new host account`);
  }
  return { account, password, name };
}

/** Written beside and renamed over, so a crash never leaves half a file (and with it a lost password). */
async function writeSaved(file: string, saved: SavedHost): Promise<void> {
  const temporary = `${file}.${String(process.pid)}.tmp`;
  await writeFile(temporary, `${JSON.stringify(saved, null, 2)}\n`, { mode: 0o600 });
  // The mode of writeFile is masked by the umask; the password must be readable by this user only whatever it is.
  await chmod(temporary, 0o600);
  await rename(temporary, file);
}

/**
 * "Book club" to "#book-club": lowercase, runs of characters a channel name may not hold (space, comma, colon,
 * BELL, NUL: Modern IRC "Channels") become one "-". A name already starting with "#" keeps its case.
 */
export function roomNameOf(title: string, maxLength: number): string {
  const trimmed = title.trim();
  const body = (trimmed.startsWith('#') ? trimmed.slice(1) : trimmed.toLowerCase())
    // eslint-disable-next-line no-control-regex -- BELL and NUL are exactly what a channel name may not hold
    .replace(/[\s,\x07\x00:#]+/g, '-')
    .replace(/^-+|-+$/g, '');
  const name = `#${body === '' ? DEFAULT_TITLE.toLowerCase() : body}`.slice(0, maxLength).replace(/-+$/, '');
  return isValidChannelName(name, maxLength) ? name : `#${DEFAULT_TITLE.toLowerCase()}`;
}

/** The user's login name when it can be a nick (it is the name friends see), else "host". */
function accountCandidates(network: Network, username: string): string[] {
  const cleaned = username.replace(/[^A-Za-z0-9_\-[\]{}^|`\\]/g, '').replace(/^[\d-]+/, '').slice(0, 16);
  const names = [cleaned, 'host', ...Array.from({ length: 20 }, (_, i) => `host${String(i + 2)}`)];
  return names.filter((name) => {
    try {
      checkAccountName(network, name);
      return true;
    } catch {
      return false;
    }
  });
}

export interface PrepareOptions {
  readonly dataDir: string;
  /** --name, when given. */
  readonly title: string | undefined;
  /** The OS user's name, the account's name on the first run when it is free and can be a nick. */
  readonly username: string;
}

/**
 * Makes (first run) or finds (later runs) the host account, makes it a server operator, and registers the room to
 * it unless the room is registered already. The store must be open on the data folder.
 */
export async function prepareHost(config: Config, store: Store, options: PrepareOptions): Promise<HostIdentity> {
  const network = new Network(toServerSettings(config), { now: () => Date.now() }, new MemoryBus());
  const file = hostFile(options.dataDir);
  const saved = await readSaved(file);
  const title = (options.title ?? saved?.name ?? DEFAULT_TITLE).trim();
  if (title === '' || title.length > 100) throw new HostError('--name: give the room a name of 1 to 100 characters, e.g. --name "Book club"');
  const room = roomNameOf(title, network.settings.limits.channelLength);

  let account = saved?.account;
  let created = false;
  if (account === undefined) {
    for (const candidate of accountCandidates(network, options.username)) {
      if ((await store.findAccount(network.fold(candidate))) === undefined) {
        account = candidate;
        break;
      }
    }
    if (account === undefined) throw new HostError('no free name for the host account (tried your user name, host, host2 ... host21)');
  }
  // 24 characters of base64url: 144 random bits. Nobody types it; the one-time link or host.json gives it.
  const password = saved?.password ?? randomBytes(18).toString('base64url');
  // Saved before the account is made: a crash in between leaves a password for an account still to make, never an
  // account whose password is lost.
  await writeSaved(file, { account, password, name: title });

  let record = await store.findAccount(network.fold(account));
  if (record === undefined) {
    record = await createAccount(network, store, authenticator, account, password);
    created = saved === undefined;
  } else if (!(await authenticator.verifyPassword(record.passwordHash, password))) {
    // Changed with `natter account passwd` since: host.json is the host's own file, and the one-time link needs it.
    await changePassword(network, store, authenticator, record.name, password);
    process.stderr.write(`natter: the password of the host account ${record.name} was changed elsewhere; set back to the one in ${file}\n`);
  }
  if (!record.isOper) await store.setOper(record.nameFolded, true);

  const roomFolded = network.fold(room);
  if ((await store.findRoom(roomFolded)) === undefined) {
    const now = Date.now();
    await store.registerRoom({
      name: room,
      nameFolded: roomFolded,
      founderId: record.id,
      registeredAt: now,
      topic: title,
      topicSetBy: record.name,
      topicSetAt: now,
      // No messages from outside, topic set by operators: the usual defaults of a new room.
      modes: 'nt',
      key: null,
      userLimit: null,
      history: null,
    });
  }
  return { account: record.name, password, title, room, file, created };
}
