/**
 * `natter account add | list | passwd | del | oper`: through the real command (also while the server runs on the
 * same SQLite file, and on a terminal, where the password is not echoed) and, for every refusal, through the
 * functions behind it with in-memory standard streams.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { Readable, Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { authenticator } from '../src/auth/authenticator.js';
import { addAccount, AccountCommandError, deleteAccount, listAccounts, readPassword, setAccountOper, setAccountPassword } from '../src/cli/account.js';
import type { AccountIo } from '../src/cli/account.js';
import { openSqliteStore } from '../src/store/sqlite/open.js';
import { postgresUrlWithSchema } from './helpers/durability.js';
import { saslPlain } from './helpers/login.js';
import { dropSchema, freshSchemaName, POSTGRES_URL, postgresAvailable } from './helpers/postgres.js';
import { childDataHome, runNatter, serveNatter } from './helpers/process.js';
import { tempDataDir } from './helpers/server.js';

const ROOT = new URL('..', import.meta.url).pathname;

const folders: Array<{ remove: () => void }> = [];
after(() => {
  for (const folder of folders) folder.remove();
});
function dataDir(): string {
  const data = tempDataDir();
  folders.push(data);
  return data.path;
}

/** Standard streams in memory: `input` is what is piped in. */
function io(input: string): AccountIo & { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return {
    stdin: Readable.from([input]),
    stdout: new Writable({
      write(chunk: Buffer, _encoding, done) {
        out += chunk.toString();
        done();
      },
    }),
    stderr: new Writable({
      write(chunk: Buffer, _encoding, done) {
        err += chunk.toString();
        done();
      },
    }),
    out: () => out,
    err: () => err,
  };
}

async function storedAccount(dir: string, name: string) {
  const store = await openSqliteStore(`${dir}/natter.db`);
  try {
    return await store.findAccount(name);
  } finally {
    await store.close();
  }
}

describe('natter account (the command)', { concurrency: 3 }, () => {
  it('an account added while the server runs on the same data folder logs in at once; oper gives it +o at its next login; list shows it', async () => {
    const dir = dataDir();
    const served = await serveNatter(['--data', dir]);
    try {
      const add = runNatter(['account', 'add', 'Alice', '--data', dir], { input: 'correct horse\n' });
      assert.equal(await add.exited, 0, add.stderr);
      assert.equal(add.stdout, 'account Alice created\n');
      // A refusal is one line and exit code 1 (checked while the login runs).
      const taken = runNatter(['account', 'add', 'ALICE', '--data', dir], { input: 'other password\n' });
      const login = await saslPlain(served.port, 'alice', 'alice', 'correct horse');
      assert.equal(login.ok, true, login.client.log.join('\n'));
      assert.ok(!login.burst.some((m) => m.command === 'MODE' && (m.params[1] ?? '').includes('o')), 'not an operator yet');
      await login.client.quit();
      assert.equal(await taken.exited, 1);
      assert.equal(taken.stderr, 'natter: the account ALICE already exists\n');

      const oper = runNatter(['account', 'oper', 'alice', '--data', dir]);
      assert.equal(await oper.exited, 0, oper.stderr);
      const list = runNatter(['account', 'list', '--data', dir]);
      const again = await saslPlain(served.port, 'alice', 'Alice', 'correct horse');
      assert.equal(again.ok, true);
      const mode = again.burst.find((m) => m.command === 'MODE' && m.params[0] === 'alice');
      assert.match(mode?.params[1] ?? '', /^\+.*o/, `an operator account gets +o at login: ${again.client.log.join('\n')}`);
      await again.client.quit();
      assert.equal(await list.exited, 0, list.stderr);
      assert.match(list.stdout, /^Alice {2}\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ {2}oper\n$/);
    } finally {
      assert.equal(await served.stop(), 0);
    }
  });

  it('a password on the command line is not accepted (it would show in ps and the shell history)', async () => {
    const dir = dataDir();
    const inArgv = runNatter(['account', 'add', 'carol', 'secret-password', '--data', dir]);
    assert.notEqual(await inArgv.exited, 0);
    assert.match(inArgv.stderr, /too many arguments/);
    assert.equal(await storedAccount(dir, 'carol'), undefined);
  });

  it('on a terminal the password is asked for twice and never echoed', async () => {
    const dir = dataDir();
    const command = `${process.execPath} --import tsx src/cli/run.ts account add tty --data ${dir}`;
    // script(1) gives the command a pseudo-terminal: what it prints, and what the terminal echoes, comes back here.
    const child = spawn('script', ['-qec', command, '/dev/null'], { cwd: ROOT, env: { ...process.env, XDG_DATA_HOME: childDataHome() } });
    let output = '';
    const waiters: Array<() => void> = [];
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
      for (const wake of waiters.splice(0)) wake();
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    const waitFor = async (text: string): Promise<void> => {
      const deadline = Date.now() + 15_000;
      while (!output.includes(text)) {
        if (Date.now() > deadline) assert.fail(`no "${text}" on the terminal: ${JSON.stringify(output)}`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 100);
        });
      }
    };
    try {
      await waitFor('New password for tty: ');
      child.stdin.write('hidden-secret\r');
      await waitFor('Again: ');
      child.stdin.write('hidden-secret\r');
      await waitFor('account tty created');
      assert.equal(await exited, 0);
    } finally {
      child.kill('SIGKILL');
    }
    assert.ok(!output.includes('hidden-secret'), `the password was echoed: ${JSON.stringify(output)}`);
    const stored = await storedAccount(dir, 'tty');
    assert.ok(stored !== undefined && (await authenticator.verifyPassword(stored.passwordHash, 'hidden-secret')));
  });
});

describe('natter account (the functions behind it)', () => {
  const dir = dataDir();
  const flags = { data: dir };

  it('add: a weak password or a name that cannot be an account is refused, and nothing is created', async () => {
    await assert.rejects(addAccount('dave', flags, io('short\n')), (error: unknown) => {
      assert.ok(error instanceof AccountCommandError);
      assert.match(error.message, /at least 8 characters/);
      return true;
    });
    await assert.rejects(addAccount('#room', flags, io('long enough\n')), /cannot be an account name/);
    await assert.rejects(addAccount('NickServ', flags, io('long enough\n')), /cannot be an account name/);
    await assert.rejects(addAccount('dave', flags, io('')), /no password was given/);
    const list = io('');
    await listAccounts(flags, list);
    assert.equal(list.out(), '');
    assert.equal(list.err(), 'no accounts yet\n');
  });

  it('passwd: the new password works and the old one not; only the first line of the pipe is the password', async () => {
    await addAccount('Erin', flags, io('first-password\nignored line\n'));
    const erin = await storedAccount(dir, 'erin');
    assert.ok(erin && (await authenticator.verifyPassword(erin.passwordHash, 'first-password')));
    const changed = io('second-password\r\n');
    await setAccountPassword('ERIN', flags, changed);
    assert.equal(changed.out(), 'password of Erin changed\n');
    const after = await storedAccount(dir, 'erin');
    assert.ok(after);
    assert.equal(await authenticator.verifyPassword(after.passwordHash, 'second-password'), true);
    assert.equal(await authenticator.verifyPassword(after.passwordHash, 'first-password'), false);
    assert.notDeepEqual(after.scram, erin.scram, 'the SCRAM credentials change with the password');
    await assert.rejects(setAccountPassword('erin', flags, io('tiny\n')), /at least 8 characters/);
  });

  it('oper and oper --off set and clear the flag; del deletes; an unknown account is an error for each', async () => {
    await addAccount('frank', flags, io('frank-password\n'));
    await setAccountOper('Frank', false, flags, io(''));
    assert.equal((await storedAccount(dir, 'frank'))?.isOper, true);
    const off = io('');
    await setAccountOper('frank', true, flags, off);
    assert.equal(off.out(), 'frank is no longer a server operator\n');
    assert.equal((await storedAccount(dir, 'frank'))?.isOper, false);
    const deleted = io('');
    await deleteAccount('FRANK', flags, deleted);
    assert.equal(deleted.out(), 'account frank deleted, with the rooms it founded\n');
    assert.equal(await storedAccount(dir, 'frank'), undefined);
    for (const run of [() => deleteAccount('frank', flags, io('')), () => setAccountOper('frank', false, flags, io('')), () => setAccountPassword('frank', flags, io('whatever-password\n'))]) {
      await assert.rejects(run(), (error: unknown) => error instanceof AccountCommandError && error.message === 'there is no account frank');
    }
  });

  it('readPassword from a pipe: the first line without its line ending; nothing piped is an empty password', async () => {
    assert.equal(await readPassword('unused', io('one two \r\nthree\n')), 'one two ');
    assert.equal(await readPassword('unused', io('no newline')), 'no newline');
    assert.equal(await readPassword('unused', io('')), '');
  });
});

describe('natter account --database (PostgreSQL)', () => {
  const schema = freshSchemaName('natter_account');
  let created = false;
  after(async () => {
    if (created) await dropSchema(schema);
  });

  it('add, list, oper and del work on the database named by the URL', async (t) => {
    const unavailable = await postgresAvailable();
    if (unavailable !== undefined) {
      t.skip(unavailable);
      return;
    }
    const client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
    // Ended whatever happens: an open connection would keep this test file's process alive.
    try {
      await client.query(`CREATE SCHEMA ${schema}`);
      created = true;
      const flags = { database: postgresUrlWithSchema(schema) };
      await addAccount('Gina', flags, io('gina-password\n'));
      await setAccountOper('gina', false, flags, io(''));
      const list = io('');
      await listAccounts(flags, list);
      assert.match(list.out(), /^Gina {2}\S+ {2}oper\n$/);
      const rows = await client.query<{ name: string; is_oper: number }>(`SELECT name, is_oper FROM ${schema}.accounts`);
      assert.deepEqual(rows.rows, [{ name: 'Gina', is_oper: 1 }], 'written in the schema of the URL');
      await deleteAccount('GINA', flags, io(''));
      assert.equal((await client.query(`SELECT 1 FROM ${schema}.accounts`)).rowCount, 0);
    } finally {
      await client.end();
    }
  });
});
