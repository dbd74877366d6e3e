/**
 * `natter account add | list | passwd | del | oper`: accounts managed from the shell, on the same store the
 * server uses (the SQLite file in the data folder, or PostgreSQL with --database). SQLite runs in WAL mode with a
 * busy timeout, so this works while the server runs, and the server sees the change at the next login.
 * Passwords are read from standard input, never from the command line (where `ps` and shell history see them).
 */
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { authenticator } from '../auth/authenticator.js';
import { MemoryBus } from '../bus/memory.js';
import { loadConfig, toServerSettings } from '../config/load.js';
import type { ConfigOverrides } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { AccountError, changePassword, checkPassword, createAccount } from '../core/accounts.js';
import { Network } from '../core/network.js';
import type { Store } from '../core/store.js';
import { UploadLibrary } from '../http/upload-library.js';
import { dataDirOf, openStore } from './compose.js';

/** Where the accounts are: the same flags, with the same defaults, as `natter serve`. */
export interface StoreFlags {
  data?: string;
  database?: string;
  config?: string;
}

/** A request the store refused (a taken name, an unknown account, a weak password): exit code 1. */
export class AccountCommandError extends Error {
  override name = 'AccountCommandError';
}

export interface AccountIo {
  readonly stdin: Readable & { isTTY?: boolean; setRawMode?: (mode: boolean) => unknown };
  readonly stdout: Writable;
  readonly stderr: Writable;
}

const processIo: AccountIo = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr };

async function loadFor(flags: StoreFlags): Promise<Config> {
  const overrides: ConfigOverrides = {};
  if (flags.data !== undefined) overrides.data = flags.data;
  if (flags.database !== undefined) overrides.database = flags.database;
  return loadConfig(flags.config, overrides);
}

/**
 * Opens the store and a Network that only lends its casemapping (`fold`), settings (name length, minimum password
 * length) and clock to core's account functions, the same rules the server applies to REGISTER.
 */
async function withAccounts<T>(flags: StoreFlags, run: (network: Network, store: Store, config: Config) => Promise<T>): Promise<T> {
  const config = await loadFor(flags);
  const network = new Network(toServerSettings(config), { now: () => Date.now() }, new MemoryBus());
  const store = await openStore(config);
  try {
    return await run(network, store, config);
  } finally {
    await store.close();
  }
}

/** Reads one line from a pipe; on a terminal, prompts on stderr and reads without echo. */
export async function readPassword(prompt: string, io: AccountIo = processIo): Promise<string> {
  const { stdin } = io;
  if (stdin.isTTY === true && stdin.setRawMode !== undefined) return readHidden(prompt, io);
  const lines = createInterface({ input: stdin, crlfDelay: Infinity, terminal: false });
  try {
    for await (const line of lines) return line.replace(/\r$/, '');
  } finally {
    lines.close();
  }
  return '';
}

function readHidden(prompt: string, io: AccountIo): Promise<string> {
  const { stdin, stderr } = io;
  const setRawMode = stdin.setRawMode?.bind(stdin);
  // Echo goes off before the prompt shows, so nothing typed after it is ever echoed.
  setRawMode?.(true);
  stderr.write(prompt);
  stdin.resume();
  return new Promise((resolve, reject) => {
    const typed: string[] = [];
    const finish = (error?: Error): void => {
      stdin.off('data', onData);
      setRawMode?.(false);
      stdin.pause();
      stderr.write('\n');
      if (error === undefined) resolve(typed.join(''));
      else reject(error);
    };
    const onData = (chunk: Buffer | string): void => {
      for (const char of typeof chunk === 'string' ? chunk : chunk.toString('utf8')) {
        if (char === '\r' || char === '\n') {
          finish();
          return;
        }
        if (char === '\u0003' || (char === '\u0004' && typed.length === 0)) {
          finish(new AccountCommandError('cancelled'));
          return;
        }
        if (char === '\u007f' || char === '\b') typed.pop();
        else if (char >= ' ') typed.push(char);
      }
    };
    stdin.on('data', onData);
  });
}

/** A new password: twice on a terminal (a typo would lock the account out), once from a pipe. */
async function newPassword(network: Network, name: string, io: AccountIo): Promise<string> {
  const password = await readPassword(`New password for ${name}: `, io);
  if (password === '') throw new AccountCommandError('no password was given on standard input');
  try {
    checkPassword(network, password);
  } catch (error) {
    if (error instanceof AccountError) throw new AccountCommandError(error.message);
    throw error;
  }
  if (io.stdin.isTTY === true) {
    const again = await readPassword('Again: ', io);
    if (again !== password) throw new AccountCommandError('the passwords do not match');
  }
  return password;
}

async function requireAccount(network: Network, store: Store, name: string): Promise<string> {
  const account = await store.findAccount(network.fold(name));
  if (account === undefined) throw new AccountCommandError(`there is no account ${name}`);
  return account.name;
}

export async function addAccount(name: string, flags: StoreFlags, io: AccountIo = processIo): Promise<void> {
  await withAccounts(flags, async (network, store) => {
    // Checked before asking for a password, so a mistake is reported at once.
    if ((await store.findAccount(network.fold(name))) !== undefined) throw new AccountCommandError(`the account ${name} already exists`);
    const password = await newPassword(network, name, io);
    try {
      const account = await createAccount(network, store, authenticator, name, password);
      io.stdout.write(`account ${account.name} created\n`);
    } catch (error) {
      if (error instanceof AccountError) throw new AccountCommandError(error.message);
      throw error;
    }
  });
}

export async function listAccounts(flags: StoreFlags, io: AccountIo = processIo): Promise<void> {
  await withAccounts(flags, async (_network, store) => {
    const accounts = await store.listAccounts();
    if (accounts.length === 0) {
      io.stderr.write('no accounts yet\n');
      return;
    }
    const width = Math.max(...accounts.map((a) => a.name.length));
    for (const account of accounts) {
      const created = new Date(account.createdAt).toISOString().replace(/\.\d+Z$/, 'Z');
      io.stdout.write(`${account.name.padEnd(width)}  ${created}${account.isOper ? '  oper' : ''}\n`);
    }
  });
}

export async function setAccountPassword(name: string, flags: StoreFlags, io: AccountIo = processIo): Promise<void> {
  await withAccounts(flags, async (network, store) => {
    const account = await requireAccount(network, store, name);
    const password = await newPassword(network, account, io);
    await changePassword(network, store, authenticator, account, password);
    io.stdout.write(`password of ${account} changed\n`);
  });
}

export async function deleteAccount(name: string, flags: StoreFlags, io: AccountIo = processIo): Promise<void> {
  await withAccounts(flags, async (network, store, config) => {
    const account = await requireAccount(network, store, name);
    // Its uploads' files first: the rows go with the account, and the files would be left unreachable (issue 7).
    const record = await store.findAccount(network.fold(account));
    if (record !== undefined) {
      const uploads = new UploadLibrary(store, join(dataDirOf(config), 'uploads'), (error, what) => {
        io.stderr.write(`${what}: ${error instanceof Error ? error.message : String(error)}\n`);
      });
      await uploads.deleteAccountUploads(record.id);
    }
    if (!(await store.deleteAccount(network.fold(account)))) throw new AccountCommandError(`there is no account ${name}`);
    io.stdout.write(`account ${account} deleted, with the rooms it founded\n`);
  });
}

export async function setAccountOper(name: string, off: boolean, flags: StoreFlags, io: AccountIo = processIo): Promise<void> {
  await withAccounts(flags, async (network, store) => {
    const account = await requireAccount(network, store, name);
    await store.setOper(network.fold(account), !off);
    io.stdout.write(off ? `${account} is no longer a server operator\n` : `${account} is a server operator from their next login\n`);
  });
}
