/**
 * Registered rooms and ChanServ (issue 4, docs/chanserv.md): REGISTER, INFO, DROP, TRANSFER, AMODE and ACCESS over
 * real sockets; roles re-applied on JOIN and on login; the permission rules; topic, modes, key, limit, lists and roles
 * surviving a restart on the same data folder; and acknowledged writes surviving kill -9 of a `natter serve` process.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { after, afterEach, before, describe, it } from 'node:test';
import { hash } from '@node-rs/argon2';
import { TestClient } from './helpers/client.js';
import type { Received } from './helpers/client.js';
import { startTestServer, tempDataDir } from './helpers/server.js';
import type { TestServer } from './helpers/server.js';

const SERVER = 'test.natter';
const PASSWORD = 'chanserv-secret';
const OPER_PASSWORD = 'correct-horse';
/** Many accounts come from 127.0.0.1 here: the per-address limit on account creation is raised. */
const ACCOUNTS = { maxFailedLogins: 1000 };
const ROOT = new URL('..', import.meta.url).pathname;

let serial = 0;
let open: TestClient[] = [];

const unique = (name: string): string => `${name}${++serial}`;

async function connect(port: number, nick: string): Promise<TestClient> {
  const client = await TestClient.register(port, nick, { caps: ['multi-prefix'] });
  open.push(client);
  return client;
}

/** Registers an account named `account` (draft/account-registration) and waits for 900 RPL_LOGGEDIN. */
async function createAccount(client: TestClient, account: string): Promise<void> {
  client.send(`REGISTER ${account} * ${PASSWORD}`);
  await client.expect((m) => m.command === 'REGISTER' && m.params[0] === 'SUCCESS');
  await client.expect('900');
  await client.roundtrip();
}

async function identify(client: TestClient, account: string): Promise<void> {
  client.send(`NS IDENTIFY ${account} ${PASSWORD}`);
  await client.expect('900');
}

/** The texts of ChanServ's NOTICEs answering one command. */
async function cs(client: TestClient, command: string): Promise<string[]> {
  client.send(`CS ${command}`);
  const got = await client.roundtrip();
  return got.filter((m) => m.command === 'NOTICE' && m.source?.startsWith('ChanServ!') === true).map((m) => m.params[1] ?? '');
}

async function join(client: TestClient, channel: string, key?: string): Promise<Received[]> {
  client.send(key === undefined ? `JOIN ${channel}` : `JOIN ${channel} ${key}`);
  await client.expect((m) => m.command === '366' && m.params[1] === channel);
  return client.roundtrip();
}

async function names(client: TestClient, channel: string): Promise<string[]> {
  client.send(`NAMES ${channel}`);
  const reply = await client.expect('353');
  await client.roundtrip();
  return (reply.params[3] ?? '').split(' ').sort();
}

/** MODE lines from the server (not from a user's nick!user@host): roles being applied. */
const serverModes = (messages: readonly Received[]): string[] =>
  messages.filter((m) => m.command === 'MODE' && m.source?.includes('!') === false).map((m) => m.params.join(' '));

async function part(client: TestClient, channel: string): Promise<void> {
  client.send(`PART ${channel}`);
  await client.expect((m) => m.command === 'PART' && m.params[0] === channel);
  await client.roundtrip();
}

/** A logged-in founder in a room they created (so they are its operator), registered with ChanServ. */
async function registeredRoom(port: number): Promise<{ channel: string; founder: TestClient; account: string }> {
  const account = unique('founder');
  const founder = await connect(port, unique('f'));
  await createAccount(founder, account);
  const channel = `#${unique('reg')}`;
  await join(founder, channel);
  assert.deepEqual(await cs(founder, `REGISTER ${channel}`), [`${channel} is now registered to ${account}.`]);
  return { channel, founder, account };
}

describe('ChanServ and registered rooms', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ accounts: ACCOUNTS, opers: [{ name: 'root', password: await hash(OPER_PASSWORD) }] });
  });
  afterEach(() => {
    for (const client of open) client.close();
    open = [];
  });
  after(async () => {
    await server.stop();
  });

  it('REGISTER: an operator of the room registers it to their account and becomes owner (~) at once; INFO shows the founder', async () => {
    const account = unique('founder');
    const founder = await connect(server.port, unique('f'));
    const other = await connect(server.port, unique('o'));
    const channel = `#${unique('reg')}`;
    await join(founder, channel);
    await join(other, channel);
    assert.deepEqual(await cs(founder, `REGISTER ${channel}`), ['You must be logged in to an account to register a room.']);
    await createAccount(founder, account);
    await createAccount(other, unique('acct'));
    assert.deepEqual(await cs(other, `REGISTER ${channel}`), [`You must be an operator (@) of ${channel} to register it.`]);
    assert.deepEqual(await cs(founder, `REGISTER #${unique('nowhere')}`).then((r) => r.map((t) => t.replace(/^#\S+/, '#x'))), ['#x does not exist: join it first.']);
    founder.send(`CS REGISTER ${channel}`);
    const mode = await other.expect('MODE');
    assert.equal(mode.raw, `:${SERVER} MODE ${channel} +q ${founder.nick}`, 'the room sees the founder become owner');
    await founder.roundtrip();
    assert.deepEqual(await names(other, channel), [other.nick, `~@${founder.nick}`]);
    assert.deepEqual(await cs(founder, `REGISTER ${channel}`), [`${channel} is already registered to ${account}.`]);
    const info = await cs(other, `INFO ${channel}`);
    assert.match(info[0] ?? '', new RegExp(`^\\${channel} is registered to ${account} since .+ GMT\\.$`));
    assert.equal(info[1], 'No topic is set.');
    assert.equal(info[2], `Roles: ${account} (owner, founder)`);
    assert.deepEqual(await cs(other, `INFO #${unique('nope')}`).then((r) => r.map((t) => t.replace(/^#\S+/, '#x'))), ['#x is not registered.']);
  });

  it('a registered room outlives its last member; the founder gets ~ back on rejoin, and the first to join an empty registered room gets no @', async () => {
    const { channel, founder } = await registeredRoom(server.port);
    await part(founder, channel);
    const outsider = await connect(server.port, unique('x'));
    outsider.send('LIST');
    const listed = (await outsider.roundtrip()).filter((m) => m.command === '322').map((m) => m.params[1]);
    assert.ok(listed.includes(channel), 'the empty registered room is still listed');
    const joined = await join(outsider, channel);
    assert.deepEqual(serverModes(joined), [], 'nobody is given @ for joining an empty registered room');
    assert.deepEqual(await names(outsider, channel), [outsider.nick]);
    const rejoin = await join(founder, channel);
    assert.deepEqual(serverModes(rejoin), [`${channel} +q ${founder.nick}`]);
    assert.deepEqual(await names(founder, channel), [outsider.nick, `~${founder.nick}`]);
  });

  it('AMODE grants persist: applied at once, on JOIN and on login; ACCESS LIST shows them; AMODE - takes the role away', async () => {
    const { channel, founder, account } = await registeredRoom(server.port);
    const bobAccount = unique('bob');
    const bob = await connect(server.port, unique('b'));
    await createAccount(bob, bobAccount);
    await join(bob, channel);
    assert.deepEqual(await cs(founder, `AMODE ${channel} +o ${bobAccount}`), [`${bobAccount} now has the op role (+o) in ${channel}.`]);
    assert.deepEqual(serverModes(await bob.roundtrip()), [`${channel} +o ${bob.nick}`], 'a member logged in to the account gets it now');
    // On JOIN.
    await part(bob, channel);
    assert.deepEqual(serverModes(await join(bob, channel)), [`${channel} +o ${bob.nick}`]);
    // On login inside the room.
    const later = await connect(server.port, unique('l'));
    await join(later, channel);
    assert.deepEqual(await names(later, channel), [`@${bob.nick}`, `~@${founder.nick}`, later.nick].sort());
    await identify(later, bobAccount);
    assert.deepEqual(serverModes(await later.roundtrip()), [`${channel} +o ${later.nick}`]);
    assert.deepEqual(await cs(bob, `ACCESS ${channel} LIST`), [
      `Roles in ${channel}:`,
      `  ${account} owner (+q) founder`,
      `  ${bobAccount} op (+o)`,
      `End of roles in ${channel}.`,
    ]);
    // ACCESS ADD replaces the role; the members present lose the old prefix and get the new one.
    assert.deepEqual(await cs(founder, `ACCESS ${channel} ADD ${bobAccount} voice`), [`${bobAccount} now has the voice role (+v) in ${channel}.`]);
    assert.deepEqual(serverModes(await later.roundtrip()), [`${channel} -oo+vv ${bob.nick} ${later.nick} ${bob.nick} ${later.nick}`]);
    assert.deepEqual(await cs(founder, `AMODE ${channel} -o ${bobAccount}`), [`${bobAccount} has no op role in ${channel}.`]);
    assert.deepEqual(await cs(founder, `AMODE ${channel} -v ${bobAccount}`), [`${bobAccount} no longer has the voice role in ${channel}.`]);
    await part(bob, channel);
    assert.deepEqual(serverModes(await join(bob, channel)), [], 'no role, no mode on JOIN');
    assert.deepEqual(await cs(founder, `AMODE ${channel}`), [`Roles in ${channel}:`, `  ${account} owner (+q) founder`, `End of roles in ${channel}.`]);
  });

  it('permissions: an admin cannot grant admin or owner, an op cannot take an admin role, nobody touches the founder, only the founder drops or transfers; outsiders do not see roles', async () => {
    const { channel, founder, account } = await registeredRoom(server.port);
    const [adminAccount, opAccount, plainAccount] = [unique('adm'), unique('op'), unique('pl')];
    const admin = await connect(server.port, unique('a'));
    const op = await connect(server.port, unique('o'));
    const plain = await connect(server.port, unique('p'));
    await createAccount(admin, adminAccount);
    await createAccount(op, opAccount);
    await createAccount(plain, plainAccount);
    assert.deepEqual(await cs(founder, `AMODE ${channel} +a ${adminAccount}`), [`${adminAccount} now has the admin role (+a) in ${channel}.`]);
    // The admin's role counts even outside the room.
    assert.deepEqual(await cs(admin, `AMODE ${channel} +a ${plainAccount}`), [`You may not give the admin role in ${channel}.`]);
    assert.deepEqual(await cs(admin, `AMODE ${channel} +q ${plainAccount}`), [`You may not give the owner role in ${channel}.`]);
    assert.deepEqual(await cs(admin, `AMODE ${channel} +o ${opAccount}`), [`${opAccount} now has the op role (+o) in ${channel}.`]);
    assert.deepEqual(await cs(op, `AMODE ${channel} -a ${adminAccount}`), [`You may not take the admin role of ${adminAccount} in ${channel}.`]);
    assert.deepEqual(await cs(op, `AMODE ${channel} +a ${opAccount}`), [`You may not give the admin role in ${channel}.`]);
    assert.deepEqual(await cs(op, `AMODE ${channel} +v ${plainAccount}`), [`${plainAccount} now has the voice role (+v) in ${channel}.`]);
    assert.deepEqual(await cs(plain, `AMODE ${channel} +v ${opAccount}`), [`You may not take the op role of ${opAccount} in ${channel}.`]);
    assert.deepEqual(await cs(admin, `AMODE ${channel} -q ${account}`), [`${account} founded ${channel} and is always its owner (see TRANSFER).`]);
    assert.deepEqual(await cs(plain, `AMODE ${channel} -v ${plainAccount}`), [`${plainAccount} no longer has the voice role in ${channel}.`], 'anyone may give up their own role');
    assert.deepEqual(await cs(plain, `INFO ${channel}`).then((r) => r.length), 2, 'no roles line for someone without a role outside the room');
    assert.deepEqual(await cs(plain, `ACCESS ${channel} LIST`), [`Join ${channel} to see its roles.`]);
    // DROP and TRANSFER are the founder's alone.
    assert.deepEqual(await cs(admin, `DROP ${channel}`), [`Only the founder of ${channel} (${account}) or a server operator can drop it.`]);
    assert.deepEqual(await cs(admin, `TRANSFER ${channel} ${adminAccount}`), [`Only the founder of ${channel} (${account}) can transfer it.`]);
    assert.deepEqual(await cs(founder, `TRANSFER ${channel} ${unique('ghost')}`).then((r) => r.map((t) => t.replace(/^\S+/, 'X'))), ['X is not a registered account.']);
  });

  it('MODE on a logged-in member of a registered room stores the role: +o persists and returns on JOIN; stepping down oneself is not stored', async () => {
    const { channel, founder } = await registeredRoom(server.port);
    const carolAccount = unique('carol');
    const carol = await connect(server.port, unique('c'));
    const guest = await connect(server.port, unique('g'));
    await createAccount(carol, carolAccount);
    await join(carol, channel);
    await join(guest, channel);
    founder.send(`MODE ${channel} +ov ${carol.nick} ${guest.nick}`);
    await carol.expect((m) => m.command === 'MODE' && m.params[1] === '+ov');
    await founder.roundtrip();
    assert.ok((await cs(founder, `ACCESS ${channel} LIST`)).includes(`  ${carolAccount} op (+o)`), 'the logged-in member has the op role now');
    // A member who steps down keeps the role: it comes back on the next JOIN.
    carol.send(`MODE ${channel} -o ${carol.nick}`);
    await carol.expect('MODE');
    assert.ok((await cs(founder, `ACCESS ${channel} LIST`)).includes(`  ${carolAccount} op (+o)`));
    await part(carol, channel);
    assert.deepEqual(serverModes(await join(carol, channel)), [`${channel} +o ${carol.nick}`]);
    // Taken by someone else, it is gone; the guest (no account) never had a role to store.
    founder.send(`MODE ${channel} -o ${carol.nick}`);
    await carol.expect('MODE');
    await founder.roundtrip();
    assert.deepEqual((await cs(founder, `ACCESS ${channel} LIST`)).length, 3);
    await part(guest, channel);
    assert.deepEqual(serverModes(await join(guest, channel)), []);
  });

  it('TRANSFER makes another account founder and owner; the old founder keeps admin. DROP (founder or operator) leaves the room until it empties', async () => {
    const { channel, founder, account } = await registeredRoom(server.port);
    const heirAccount = unique('heir');
    const heir = await connect(server.port, unique('h'));
    await createAccount(heir, heirAccount);
    await join(heir, channel);
    assert.deepEqual(await cs(founder, `TRANSFER ${channel} ${heirAccount}`), [`${heirAccount} is now the founder of ${channel}.`]);
    const modes = serverModes(await heir.roundtrip());
    assert.deepEqual(modes, [`${channel} -q+aq ${founder.nick} ${founder.nick} ${heir.nick}`]);
    assert.deepEqual(await cs(founder, `DROP ${channel}`), [`Only the founder of ${channel} (${heirAccount}) or a server operator can drop it.`]);
    assert.deepEqual(await cs(heir, `ACCESS ${channel} LIST`), [
      `Roles in ${channel}:`,
      `  ${heirAccount} owner (+q) founder`,
      `  ${account} admin (+a)`,
      `End of roles in ${channel}.`,
    ]);
    assert.deepEqual(await cs(heir, `DROP ${channel}`), [`${channel} is no longer registered.`]);
    assert.deepEqual(await cs(heir, `INFO ${channel}`), [`${channel} is not registered.`]);
    assert.deepEqual(await names(heir, channel), [`&@${founder.nick}`, `~${heir.nick}`], 'an ordinary room now, members keep their modes');
    await part(founder, channel);
    await part(heir, channel);
    heir.send(`JOIN ${channel}`);
    assert.deepEqual(await names(heir, channel), [`@${heir.nick}`], 'the room was gone: joining created it anew');
    // A server operator may drop any room.
    const second = await registeredRoom(server.port);
    const oper = await connect(server.port, unique('oper'));
    oper.send(`OPER root ${OPER_PASSWORD}`);
    await oper.expect('381');
    assert.deepEqual(await cs(oper, `DROP ${second.channel}`), [`${second.channel} is no longer registered.`]);
  });

  it('the founder drops their account with NickServ DROP: its rooms are unregistered and its roles elsewhere forgotten', async () => {
    const { channel, founder, account } = await registeredRoom(server.port);
    const other = await registeredRoom(server.port);
    assert.deepEqual(await cs(other.founder, `AMODE ${other.channel} +v ${account}`), [`${account} now has the voice role (+v) in ${other.channel}.`]);
    const record = await server.store.findAccount(account.toLowerCase());
    assert.ok(record !== undefined);
    founder.send(`PRIVMSG NickServ :DROP ${PASSWORD}`);
    await founder.expect((m) => m.command === 'NOTICE' && (m.params[1] ?? '').includes('has been deleted'));
    assert.deepEqual(await cs(founder, `INFO ${channel}`), [`${channel} is not registered.`]);
    assert.deepEqual(await cs(other.founder, `AMODE ${other.channel}`), [`Roles in ${other.channel}:`, `  ${other.account} owner (+q) founder`, `End of roles in ${other.channel}.`]);
    assert.deepEqual(await server.store.findRoom(channel.toLowerCase()), undefined, 'the store dropped it too');
  });
});

describe('registered rooms across a restart', () => {
  const data = tempDataDir();
  let server: TestServer | undefined;
  afterEach(() => {
    for (const client of open) client.close();
    open = [];
  });
  after(async () => {
    await server?.stop();
    data.remove();
  });

  it('topic, flags, key, limit, bans, exceptions and roles survive a restart; a banned user still cannot join', async () => {
    server = await startTestServer({ data: data.path, accounts: ACCOUNTS });
    const { channel, founder, account } = await registeredRoom(server.port);
    const voicedAccount = unique('v');
    const voiced = await connect(server.port, unique('v'));
    await createAccount(voiced, voicedAccount);
    founder.send(`TOPIC ${channel} :Persistent topic`);
    await founder.expect('TOPIC');
    founder.send(`MODE ${channel} +imkl secret 10`);
    await founder.expect('MODE');
    founder.send(`MODE ${channel} +bbe bad!*@* worse!*@* good!*@*`);
    await founder.expect('MODE');
    founder.send(`MODE ${channel} -b worse!*@*`);
    await founder.expect('MODE');
    assert.ok((await cs(founder, `AMODE ${channel} +v ${voicedAccount}`))[0]?.includes('voice'));
    await server.stop();
    server = undefined;
    for (const client of open) client.close();
    open = [];

    server = await startTestServer({ data: data.path, accounts: ACCOUNTS });
    const bad = await connect(server.port, 'bad');
    bad.send(`JOIN ${channel} secret`);
    assert.equal((await bad.expect('473')).params[1], channel, 'invite only still');
    const looker = await connect(server.port, unique('look'));
    looker.send(`MODE ${channel}`);
    assert.equal((await looker.expect('324')).raw, `:${SERVER} 324 ${looker.nick} ${channel} +iklmnt * 10`);
    looker.send(`TOPIC ${channel}`);
    assert.equal((await looker.expect('332')).params[2], 'Persistent topic');
    const topicWho = await looker.expect('333');
    assert.match(topicWho.params[2] ?? '', new RegExp(`^${founder.nick}!`));
    // The founder logs in and comes back as owner, and may look at the lists.
    const back = await connect(server.port, unique('back'));
    await identify(back, account);
    // Its role lets the founder past +i and +k, as an invitation would.
    const joined = await join(back, channel);
    assert.deepEqual(serverModes(joined), [`${channel} +q ${back.nick}`]);
    back.send(`MODE ${channel} +b`);
    const bans = (await back.roundtrip()).filter((m) => m.command === '367').map((m) => m.params[2]);
    assert.deepEqual(bans, ['bad!*@*']);
    back.send(`MODE ${channel} +e`);
    assert.deepEqual((await back.roundtrip()).filter((m) => m.command === '348').map((m) => m.params[2]), ['good!*@*']);
    // Invited, the banned user still meets the ban... an invitation lets past +b once; so lift +i and try again.
    back.send(`MODE ${channel} -i`);
    await back.expect('MODE');
    bad.send(`JOIN ${channel} secret`);
    assert.equal((await bad.expect('474')).params[1], channel, 'the ban survived');
    const voicedAgain = await connect(server.port, unique('va'));
    await identify(voicedAgain, voicedAccount);
    assert.deepEqual(serverModes(await join(voicedAgain, channel, 'secret')), [`${channel} +v ${voicedAgain.nick}`]);
  });
});

interface ServeProcess {
  readonly child: ChildProcess;
  readonly port: number;
  readonly exited: Promise<unknown>;
}

/** `natter serve` as a child process on the data folder, resolved once it listens. */
async function serve(dataDir: string): Promise<ServeProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/run.ts', 'serve', '--data', dataDir, '--listen', '127.0.0.1:0', '--log-level', 'info'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  let stdout = '';
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`natter serve did not listen; stdout:\n${stdout}\nstderr:\n${stderr}`));
    }, 30_000);
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      for (const line of stdout.split('\n').slice(0, -1)) {
        if (!line.startsWith('{')) continue;
        const record = JSON.parse(line) as { msg?: string; address?: string };
        if (record.msg !== 'listening for IRC over TCP') continue;
        clearTimeout(timer);
        resolve(Number(/:(\d+)$/.exec(record.address ?? '')?.[1]));
      }
    });
    void exited.then(() => {
      reject(new Error(`natter serve exited; stderr:\n${stderr}`));
    });
  });
  return { child, port, exited };
}

describe('durability: what ChanServ acknowledged survives kill -9', () => {
  const data = tempDataDir();
  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const client of open) client.close();
    open = [];
  });
  after(() => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    data.remove();
  });

  it('a room registration, a role grant and a ban acknowledged just before SIGKILL are there after the restart', { timeout: 90_000 }, async () => {
    const first = await serve(data.path);
    children.push(first.child);
    const founder = await connect(first.port, 'founder');
    await createAccount(founder, 'founder');
    const helper = await connect(first.port, 'helper');
    await createAccount(helper, 'helper');
    await join(founder, '#durable');
    founder.send('CS REGISTER #durable');
    await founder.expect((m) => m.command === 'NOTICE' && m.params[1] === '#durable is now registered to founder.');
    founder.send('CS AMODE #durable +o helper');
    await founder.expect((m) => m.command === 'NOTICE' && m.params[1] === 'helper now has the op role (+o) in #durable.');
    founder.send('MODE #durable +b spammer!*@*');
    await founder.expect((m) => m.command === 'MODE' && m.params[1] === '+b');
    first.child.kill('SIGKILL');
    await first.exited;
    for (const client of open) client.close();
    open = [];

    const second = await serve(data.path);
    children.push(second.child);
    const helperAgain = await connect(second.port, 'helper2');
    await identify(helperAgain, 'helper');
    assert.deepEqual(serverModes(await join(helperAgain, '#durable')), ['#durable +o helper2']);
    assert.deepEqual(await cs(helperAgain, 'ACCESS #durable LIST'), ['Roles in #durable:', '  founder owner (+q) founder', '  helper op (+o)', 'End of roles in #durable.']);
    helperAgain.send('MODE #durable +b');
    assert.deepEqual((await helperAgain.roundtrip()).filter((m) => m.command === '367').map((m) => m.params[2]), ['spammer!*@*']);
    second.child.kill('SIGTERM');
    await second.exited;
  });
});
