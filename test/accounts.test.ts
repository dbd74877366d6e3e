/**
 * Accounts over real sockets: IRCv3 draft/account-registration (REGISTER), NickServ, nick protection,
 * accounts.required, account-tag, account-notify, extended-join and operator accounts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ScramClient } from '../src/auth/scram.js';
import { createAccount } from '../src/core/accounts.js';
import { TestClient } from './helpers/client.js';
import type { Received } from './helpers/client.js';
import { startTestServer } from './helpers/server.js';
import type { TestServer } from './helpers/server.js';

const PASSWORD = 'correct-horse-battery';
const SPACED = 'correct horse battery staple';
const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');
const GUEST = /^Guest\d{5}$/;

const notice = (pattern: RegExp) => (m: Received): boolean =>
  m.command === 'NOTICE' && m.source?.startsWith('NickServ!') === true && pattern.test(m.params[1] ?? '');
const registerFail = (code: string) => (m: Received): boolean => m.command === 'FAIL' && m.params[0] === 'REGISTER' && m.params[1] === code;

/** Connects, logs in with SASL PLAIN before registering, and registers; resolves after the welcome burst. */
async function registerLoggedIn(port: number, nick: string, account: string, password = PASSWORD, caps: string[] = []): Promise<TestClient> {
  const client = await TestClient.connect(port);
  client.nick = nick;
  client.send('CAP LS 302');
  client.send(`CAP REQ :${['sasl', ...caps].join(' ')}`);
  client.send(`NICK ${nick}`);
  client.send(`USER ${nick} 0 * :${nick} real`);
  await client.expect((m) => m.command === 'CAP' && m.params[1] === 'ACK');
  client.send('AUTHENTICATE PLAIN');
  await client.expect('AUTHENTICATE');
  client.send(`AUTHENTICATE ${b64(`\0${account}\0${password}`)}`);
  await client.expect('903');
  client.send('CAP END');
  await client.expect('001');
  await client.expect((m) => m.command === '376' || m.command === '422');
  await client.roundtrip();
  return client;
}

/** Registers with NICK/USER and keeps what follows the welcome burst (e.g. NickServ's warning) in the inbox. */
async function connectAs(port: number, nick: string): Promise<TestClient> {
  const client = await TestClient.connect(port);
  client.nick = nick;
  client.send(`NICK ${nick}`);
  client.send(`USER ${nick} 0 * :${nick} test`);
  await client.expect('001');
  await client.expect((m) => m.command === '376' || m.command === '422');
  return client;
}

/** Resolves when nothing matching arrived within `ms` (then the inbox is drained). */
async function nothingFor(client: TestClient, ms: number, matcher: (m: Received) => boolean): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
  const seen = await client.roundtrip();
  assert.ok(!seen.some(matcher), `unexpected: ${seen.map((m) => m.raw).join('\n')}`);
}

describe('accounts', () => {
  let server: TestServer;
  const clients: TestClient[] = [];
  const track = (client: TestClient): TestClient => {
    clients.push(client);
    return client;
  };
  const register = async (nick: string, caps: string[] = []): Promise<TestClient> => track(await TestClient.register(server.port, nick, { caps }));
  const loggedIn = async (nick: string, account: string, caps: string[] = []): Promise<TestClient> =>
    track(await registerLoggedIn(server.port, nick, account, PASSWORD, caps));
  const account = async (name: string, password = PASSWORD): Promise<void> => {
    await createAccount(server.server.network, server.store, server.server.auth, name, password);
  };

  before(async () => {
    // One SASL login per user here (these tests are about accounts, not devices): multi-device is tested in multi-device.test.ts.
    server = await startTestServer({ accounts: { maxFailedLogins: 1000, minPasswordLength: 10, multiclient: false } });
    await Promise.all(['tagger', 'notifier', 'joiner', 'bossy', 'plainacct', 'owner', 'pwchange', 'dropper', 'certman', 'certother', 'ident'].map((n) => account(n)));
    await server.store.setOper('bossy', true);
  });
  after(async () => {
    for (const client of clients) client.close();
    await server.stop();
  });

  describe('REGISTER (draft/account-registration)', () => {
    it('before connecting: REGISTER * * <password> creates the nick\'s account, REGISTER SUCCESS and 900, then CAP END gives 001', async () => {
      const client = track(await TestClient.connect(server.port));
      client.send('CAP LS 302');
      client.send('NICK earlybird');
      client.send('USER earlybird 0 * :Early Bird');
      client.send(`REGISTER * * :${PASSWORD}`);
      const success = await client.expect('REGISTER');
      assert.deepEqual(success.params.slice(0, 2), ['SUCCESS', 'earlybird']);
      const loggedIn = await client.expect('900');
      assert.deepEqual(loggedIn.params.slice(0, 3), ['earlybird', 'earlybird!~earlybird@127.0.0.1', 'earlybird']);
      assert.ok(!client.has('001'));
      client.send('CAP END');
      await client.expect('001');
      const stored = await server.store.findAccount('earlybird');
      assert.equal(stored?.name, 'earlybird');
      // The new account's password works for SASL PLAIN and SCRAM-SHA-256 alike.
      const other = track(await TestClient.connect(server.port));
      other.send('AUTHENTICATE SCRAM-SHA-256');
      await other.expect('AUTHENTICATE');
      const scram = new ScramClient('earlybird', PASSWORD);
      other.send(`AUTHENTICATE ${b64(scram.first())}`);
      const serverFirst = Buffer.from((await other.expect('AUTHENTICATE')).params[0] ?? '', 'base64').toString();
      other.send(`AUTHENTICATE ${b64(scram.final(serverFirst))}`);
      assert.ok(scram.verifyServer(Buffer.from((await other.expect('AUTHENTICATE')).params[0] ?? '', 'base64').toString()));
      other.send('AUTHENTICATE +');
      await other.expect('903');
    });

    it('custom-account-name: REGISTER <name> registers a name other than the nick and logs in to it', async () => {
      const client = await register('customnick');
      client.send(`REGISTER customacct nobody@example.org :${PASSWORD}`);
      const success = await client.expect('REGISTER');
      assert.deepEqual(success.params.slice(0, 2), ['SUCCESS', 'customacct']);
      const loggedIn = await client.expect('900');
      assert.deepEqual(loggedIn.params.slice(1, 3), ['customnick!~customnick@127.0.0.1', 'customacct']);
    });

    it('FAIL REGISTER ACCOUNT_EXISTS for a name already registered, in any case', async () => {
      await account('takenname');
      const client = await register('Takenname');
      client.send(`REGISTER * * :${PASSWORD}`);
      const fail = await client.expect(registerFail('ACCOUNT_EXISTS'));
      assert.equal(fail.params[2], 'Takenname');
      client.send(`REGISTER TAKENNAME * :${PASSWORD}`);
      await client.expect(registerFail('ACCOUNT_EXISTS'));
      assert.ok(!client.has('900'));
    });

    it('FAIL REGISTER WEAK_PASSWORD below accounts.minPasswordLength', async () => {
      const client = await register('weakling');
      client.send('REGISTER * * :123456789');
      const fail = await client.expect(registerFail('WEAK_PASSWORD'));
      assert.match(fail.params[3] ?? '', /at least 10 characters/);
      assert.equal(await server.store.findAccount('weakling'), undefined);
    });

    it('FAIL REGISTER BAD_ACCOUNT_NAME for a name that cannot be a nick, or a service\'s', async () => {
      const client = await register('badnamer');
      for (const name of ['9lives', 'NickServ', 'chanserv', 'a.b']) {
        client.send(`REGISTER ${name} * :${PASSWORD}`);
        const fail = await client.expect(registerFail('BAD_ACCOUNT_NAME'));
        assert.equal(fail.params[2], name);
      }
    });

    it('FAIL REGISTER ALREADY_AUTHENTICATED when logged in', async () => {
      const client = await loggedIn('alreadyin', 'plainacct');
      client.send(`REGISTER anotheracct * :${PASSWORD}`);
      await client.expect(registerFail('ALREADY_AUTHENTICATED'));
      assert.equal(await server.store.findAccount('anotheracct'), undefined);
    });

    it('FAIL REGISTER NEED_NICK * for REGISTER * before NICK', async () => {
      const client = track(await TestClient.connect(server.port));
      client.send(`REGISTER * * :${PASSWORD}`);
      const fail = await client.expect(registerFail('NEED_NICK'));
      assert.equal(fail.params[2], '*');
    });

    it('REGISTER with too few parameters gets 461', async () => {
      const client = await register('fewparams');
      client.send('REGISTER fewparams :password');
      const reply = await client.expect('461');
      assert.equal(reply.params[1], 'REGISTER');
    });
  });

  describe('NickServ', () => {
    it('HELP lists the commands; an unknown command says so', async () => {
      const client = await register('helpme');
      client.send('PRIVMSG NickServ :HELP');
      await client.expect(notice(/NickServ commands/));
      await client.expect(notice(/IDENTIFY/));
      client.send('NS FROBNICATE');
      await client.expect(notice(/Unknown command FROBNICATE/));
    });

    it('REGISTER <password> registers the current nick and logs in (900); again says already logged in', async () => {
      const client = await register('nsregister');
      client.send(`PRIVMSG NickServ :REGISTER ${PASSWORD}`);
      const loggedIn = await client.expect('900');
      assert.deepEqual(loggedIn.params.slice(1, 3), ['nsregister!~nsregister@127.0.0.1', 'nsregister']);
      await client.expect(notice(/registered/));
      client.send(`NS REGISTER ${PASSWORD}`);
      await client.expect(notice(/already logged in/));
      const weak = await register('nsweak');
      weak.send('NS REGISTER short');
      await weak.expect(notice(/at least 10 characters/));
    });

    it('IDENTIFY: a wrong password is refused; "IDENTIFY <password>" for the nick\'s account and "IDENTIFY <account> <password>" log in', async () => {
      const client = await register('ident');
      client.send('NS IDENTIFY wrong-password');
      await client.expect(notice(/Invalid account name or password/));
      client.send(`NS IDENTIFY ${PASSWORD}`);
      const first = await client.expect('900');
      assert.equal(first.params[2], 'ident');
      await client.expect(notice(/now logged in as ident/));
      client.send(`NS IDENTIFY ident ${PASSWORD}`);
      await client.expect(notice(/already logged in/));
      const other = await register('identother');
      other.send(`PRIVMSG NickServ :IDENTIFY plainacct ${PASSWORD}`);
      assert.equal((await other.expect('900')).params[2], 'plainacct');
    });

    it('LOGOUT sends 901 and logs out; LOGOUT when logged out says so', async () => {
      const client = await loggedIn('leaver', 'plainacct');
      client.send('NS LOGOUT');
      const out = await client.expect('901');
      assert.deepEqual(out.params, ['leaver', 'leaver!~leaver@127.0.0.1', 'You are now logged out']);
      client.send('NS LOGOUT');
      await client.expect(notice(/not logged in/));
    });

    it('INFO shows an account, where it is online, and says when there is no such account', async () => {
      const client = await loggedIn('infonick', 'plainacct');
      client.send('NS INFO plainacct');
      await client.expect(notice(/^Account plainacct, registered /));
      await client.expect(notice(/Online as .*infonick/));
      client.send('NS INFO');
      await client.expect(notice(/^Account plainacct/));
      await client.expect(notice(/Online as/));
      await client.expect(notice(/certificate fingerprints/i));
      client.send('NS INFO nosuchaccount');
      await client.expect(notice(/nosuchaccount is not a registered account/));
    });

    it('PASSWORD changes the password for IDENTIFY and SASL (PLAIN and SCRAM); a weak one is refused', async () => {
      const NEW = 'a brand new password';
      const client = await loggedIn('pwnick', 'pwchange');
      client.send('NS PASSWORD short');
      await client.expect(notice(/at least 10 characters/));
      client.send(`NS PASSWORD ${NEW}`);
      await client.expect(notice(/password has been changed/));
      const old = await register('pwold');
      old.send(`NS IDENTIFY pwchange ${PASSWORD}`);
      await old.expect(notice(/Invalid account name or password/));
      const fresh = track(await registerLoggedIn(server.port, 'pwnew', 'pwchange', NEW));
      assert.ok(!fresh.isClosed);
      const scramClient = track(await TestClient.connect(server.port));
      const scram = new ScramClient('pwchange', NEW);
      scramClient.send('AUTHENTICATE SCRAM-SHA-256');
      await scramClient.expect('AUTHENTICATE');
      scramClient.send(`AUTHENTICATE ${b64(scram.first())}`);
      const serverFirst = Buffer.from((await scramClient.expect('AUTHENTICATE')).params[0] ?? '', 'base64').toString();
      scramClient.send(`AUTHENTICATE ${b64(scram.final(serverFirst))}`);
      await scramClient.expect('AUTHENTICATE');
      scramClient.send('AUTHENTICATE +');
      await scramClient.expect('903');
      const anonymous = await register('pwanon');
      anonymous.send(`NS PASSWORD ${NEW}`);
      await anonymous.expect(notice(/must be logged in/));
    });

    it('DROP: a wrong password is refused; the right one deletes the account and logs out every session on it', async () => {
      const client = await loggedIn('dropnick', 'dropper');
      const elsewhere = await loggedIn('dropnick2', 'dropper');
      client.send('NS DROP wrong-password');
      await client.expect(notice(/Wrong password/));
      assert.notEqual(await server.store.findAccount('dropper'), undefined);
      client.send(`NS DROP ${PASSWORD}`);
      await client.expect('901');
      await client.expect(notice(/dropper has been deleted/));
      assert.equal(await server.store.findAccount('dropper'), undefined);
      // The other session is not left logged in to an account that no longer exists.
      const out = await elsewhere.expect('901');
      assert.equal(out.params[1], 'dropnick2!~dropnick2@127.0.0.1');
      elsewhere.send(`REGISTER freshacct * :${PASSWORD}`);
      await elsewhere.expect((m) => m.command === 'REGISTER' && m.params[0] === 'SUCCESS');
    });

    it('CERT ADD <fingerprint>, LIST and DEL; a fingerprint on another account is refused; ADD over plain TCP needs one', async () => {
      const fp = 'ab'.repeat(32);
      const client = await loggedIn('certnick', 'certman');
      client.send('NS CERT ADD');
      await client.expect(notice(/Give a SHA-256 fingerprint/));
      client.send(`NS CERT ADD ${'AB:'.repeat(31)}AB`);
      await client.expect(notice(new RegExp(`Fingerprint ${fp} added`)));
      client.send('NS CERT LIST');
      await client.expect(notice(new RegExp(`Fingerprints: ${fp}`)));
      const other = await loggedIn('certnick2', 'certother');
      other.send(`NS CERT ADD ${fp}`);
      await other.expect(notice(/already attached/));
      client.send(`NS CERT DEL ${fp}`);
      await client.expect(notice(/removed/));
      client.send('NS CERT LIST');
      await client.expect(notice(/No certificate fingerprints/));
      const anonymous = await register('certanon');
      anonymous.send(`NS CERT ADD ${fp}`);
      await anonymous.expect(notice(/must be logged in/));
    });

    it('GHOST: the owner disconnects a session holding the account\'s nick, then takes the nick', async () => {
      const intruder = await register('owner');
      const ownerClient = await loggedIn('owner_', 'owner');
      const stranger = await register('stranger');
      stranger.send('NS GHOST owner');
      await stranger.expect(notice(/must be logged in/));
      ownerClient.send('NS GHOST nosuchnick');
      await ownerClient.expect(notice(/nosuchnick is not online/));
      ownerClient.send('NS GHOST stranger');
      await ownerClient.expect(notice(/not your account's nick/));
      ownerClient.send('NS GHOST owner');
      await ownerClient.expect(notice(/owner has been disconnected/));
      const error = await intruder.expect('ERROR');
      assert.match(error.params[0] ?? '', /GHOST command used by owner_/);
      await intruder.closed;
      ownerClient.send('NICK owner');
      const nick = await ownerClient.expect('NICK');
      assert.equal(nick.params[0], 'owner');
      assert.ok(!stranger.isClosed);
    });

    it('passwords with spaces: IDENTIFY <account> <password...>, PASSWORD and DROP take the rest of the line; REGISTER refuses rather than cut', async () => {
      await account('spacey', SPACED);
      const client = await register('spacey');
      // One word after IDENTIFY is the password; several are the account and the password.
      client.send(`NS IDENTIFY ${SPACED}`);
      await client.expect(notice(/Invalid account name or password/));
      client.send(`NS IDENTIFY spacey ${SPACED}`);
      assert.equal((await client.expect('900')).params[2], 'spacey');
      const NEW = 'a new  password with spaces';
      client.send(`PRIVMSG NickServ :PASSWORD ${NEW}`);
      await client.expect(notice(/password has been changed/));
      const check = track(await registerLoggedIn(server.port, 'spacey2', 'spacey', NEW));
      // (In a PRIVMSG the text is one parameter, so the double space survives; "NS DROP a new  pass..." would not.)
      check.send(`PRIVMSG NickServ :DROP ${NEW}`);
      await check.expect(notice(/spacey has been deleted/));
      // NickServ REGISTER: "<password> <email>" is fine; a password of several words is refused, not cut.
      const newcomer = await register('spacereg');
      newcomer.send(`NS REGISTER ${SPACED}`);
      await newcomer.expect(notice(/cannot contain spaces/));
      assert.equal(await server.store.findAccount('spacereg'), undefined);
      newcomer.send(`NS REGISTER ${PASSWORD} spacereg@example.org`);
      await newcomer.expect('900');
      const again = track(await registerLoggedIn(server.port, 'spacereg2', 'spacereg', PASSWORD));
      assert.ok(!again.isClosed);
    });

    it('the NickServ and ChanServ nicks cannot be taken (432), before or after registration', async () => {
      const client = await register('wannabe');
      for (const nick of ['NickServ', 'chanserv', 'NICKSERV']) {
        client.send(`NICK ${nick}`);
        const reply = await client.expect('432');
        assert.equal(reply.params[1], nick);
      }
      const early = track(await TestClient.connect(server.port));
      early.send('NICK NickServ');
      await early.expect('432');
    });
  });

  describe('account-tag, account-notify, extended-join', () => {
    it('account-tag: a logged-in sender\'s messages carry account=<name> for clients with the cap, and only for them', async () => {
      const sender = await loggedIn('tagsender', 'tagger');
      const withCap = await register('tagwith', ['account-tag']);
      const without = await register('tagwithout');
      sender.send('PRIVMSG tagwith :hello');
      sender.send('PRIVMSG tagwithout :hello');
      const tagged = await withCap.expect('PRIVMSG');
      assert.equal(tagged.tags?.get('account'), 'tagger');
      const plainMsg = await without.expect('PRIVMSG');
      assert.equal(plainMsg.tags, undefined);
      assert.doesNotMatch(plainMsg.raw, /account=/);
      // In a room as well; and a sender not logged in gives no tag.
      for (const client of [sender, withCap, without]) client.send('JOIN #tagroom');
      await withCap.roundtrip();
      await sender.roundtrip();
      await without.roundtrip();
      sender.send('PRIVMSG #tagroom :to the room');
      assert.equal((await withCap.expect('PRIVMSG')).tags?.get('account'), 'tagger');
      assert.doesNotMatch((await without.expect('PRIVMSG')).raw, /account=/);
      without.send('PRIVMSG #tagroom :anonymous');
      assert.equal((await withCap.expect('PRIVMSG')).tags?.get('account'), undefined);
    });

    it('account-notify: channel peers with the cap see ACCOUNT <name> on login and ACCOUNT * on logout; others do not', async () => {
      const watcher = await register('anwatcher', ['account-notify']);
      const blind = await register('anblind');
      const subject = await register('ansubject');
      for (const client of [watcher, blind, subject]) {
        client.send('JOIN #notify');
        await client.roundtrip();
      }
      await watcher.roundtrip();
      await blind.roundtrip();
      subject.send(`NS IDENTIFY notifier ${PASSWORD}`);
      const login = await watcher.expect('ACCOUNT');
      assert.equal(login.source, 'ansubject!~ansubject@127.0.0.1');
      assert.deepEqual(login.params, ['notifier']);
      subject.send('NS LOGOUT');
      const logout = await watcher.expect('ACCOUNT');
      assert.deepEqual(logout.params, ['*']);
      const seen = await blind.roundtrip();
      assert.ok(!seen.some((m) => m.command === 'ACCOUNT'), 'no ACCOUNT without the cap');
    });

    it('extended-join: JOIN #room <account> :<realname>, "*" for no account; plain JOIN without the cap', async () => {
      const watcher = await register('ejwatcher', ['extended-join']);
      const plainWatcher = await register('ejplain');
      watcher.send('JOIN #extjoin');
      plainWatcher.send('JOIN #extjoin');
      await watcher.roundtrip();
      await plainWatcher.roundtrip();
      await watcher.roundtrip();
      const member = await loggedIn('ejmember', 'joiner');
      member.send('JOIN #extjoin');
      const extended = await watcher.expect('JOIN');
      assert.deepEqual(extended.params, ['#extjoin', 'joiner', 'ejmember real']);
      assert.deepEqual((await plainWatcher.expect('JOIN')).params, ['#extjoin']);
      const anonymous = await register('ejanon', []);
      anonymous.send('JOIN #extjoin');
      const star = await watcher.expect('JOIN');
      assert.deepEqual(star.params, ['#extjoin', '*', 'ejanon test']);
      // The joiner with the cap sees its own JOIN extended too.
      const self = await loggedIn('ejself', 'joiner', ['extended-join']);
      self.send('JOIN #extjoin');
      assert.deepEqual((await self.expect('JOIN')).params, ['#extjoin', 'joiner', 'ejself real']);
    });
  });

  describe('operator accounts', () => {
    it('an account marked operator gets +o when it logs in with SASL before registering', async () => {
      const client = track(await TestClient.connect(server.port));
      client.send('CAP REQ :sasl');
      client.send('NICK bossnick');
      client.send('USER bossnick 0 * :Boss');
      await client.expect('CAP');
      client.send('AUTHENTICATE PLAIN');
      await client.expect('AUTHENTICATE');
      client.send(`AUTHENTICATE ${b64(`\0bossy\0${PASSWORD}`)}`);
      await client.expect('903');
      client.send('CAP END');
      await client.expect('001');
      const mode = await client.expect((m) => m.command === 'MODE' && /o/.test(m.params[1] ?? ''));
      assert.equal(mode.params[0], 'bossnick');
      client.send('MODE bossnick');
      assert.match((await client.expect('221')).params[1] ?? '', /o/);
    });

    it('an account marked operator gets +o when it logs in after registering; other accounts do not', async () => {
      const client = await register('lateboss');
      client.send(`NS IDENTIFY bossy ${PASSWORD}`);
      await client.expect('900');
      const mode = await client.expect('MODE');
      assert.match(mode.params[1] ?? '', /^\+[a-z]*o/);
      // The +o came with the account, and goes with it.
      client.send('NS LOGOUT');
      await client.expect('901');
      assert.match((await client.expect('MODE')).params[1] ?? '', /^-o$/);
      client.send('MODE lateboss');
      assert.doesNotMatch((await client.expect('221')).params[1] ?? '', /o/);
      const ordinary = await register('ordinary');
      ordinary.send(`NS IDENTIFY plainacct ${PASSWORD}`);
      await ordinary.expect('900');
      ordinary.send('MODE ordinary');
      assert.doesNotMatch((await ordinary.expect('221')).params[1] ?? '', /o/);
    });
  });
});

// Concurrent: each test waits out a grace period of its own, on its own nick.
describe('nick protection (accounts.nickGraceSeconds 1)', { concurrency: true }, () => {
  let server: TestServer;
  const clients: TestClient[] = [];
  const register = async (nick: string): Promise<TestClient> => {
    const client = await connectAs(server.port, nick);
    clients.push(client);
    return client;
  };

  before(async () => {
    server = await startTestServer({ accounts: { nickGraceSeconds: 1, maxFailedLogins: 1000 } });
    for (const name of ['guarded', 'guarded2', 'guarded3', 'guarded4', 'elsewhere', 'selfowned']) {
      await createAccount(server.server.network, server.store, server.server.auth, name, PASSWORD);
    }
  });
  after(async () => {
    for (const client of clients) client.close();
    await server.stop();
  });

  it('connecting with an account\'s nick without logging in: a NickServ notice, then renamed to Guest##### after the grace', async () => {
    const intruder = await register('guarded');
    const warning = await intruder.expect(notice(/belongs to the account guarded/));
    assert.match(warning.params[1] ?? '', /within 1 second, or you will be renamed/);
    const nick = await intruder.expect('NICK', 4000);
    assert.equal(nick.source?.split('!')[0], 'guarded');
    assert.match(nick.params[0] ?? '', GUEST);
    const peer = await register('peerlooker');
    peer.send('ISON guarded');
    assert.equal((await peer.expect('303')).params[1], '');
  });

  it('changing to an account\'s nick after registering starts the same countdown', async () => {
    const intruder = await register('wanderer');
    intruder.send('NICK guarded2');
    await intruder.expect((m) => m.command === 'NICK' && m.params[0] === 'guarded2');
    await intruder.expect(notice(/belongs to the account guarded2/));
    assert.match((await intruder.expect((m) => m.command === 'NICK' && m.params[0] !== 'guarded2', 4000)).params[0] ?? '', GUEST);
  });

  it('logging in to the account within the grace keeps the nick', async () => {
    const owner = await register('guarded3');
    await owner.expect(notice(/belongs to the account/));
    owner.send(`NS IDENTIFY ${PASSWORD}`);
    await owner.expect('900');
    await nothingFor(owner, 2200, (m) => m.command === 'NICK');
  });

  it('logging in to some other account does not keep a nick that belongs to another', async () => {
    const intruder = await register('guarded4');
    await intruder.expect(notice(/belongs to the account guarded4/));
    intruder.send(`NS IDENTIFY elsewhere ${PASSWORD}`);
    assert.equal((await intruder.expect('900')).params[2], 'elsewhere');
    assert.match((await intruder.expect('NICK', 4000)).params[0] ?? '', GUEST);
  });

  it('logging out while on the account\'s own nick starts the countdown', async () => {
    const owner = await register('selfowned');
    await owner.expect(notice(/belongs to the account/));
    owner.send(`NS IDENTIFY ${PASSWORD}`);
    await owner.expect('900');
    owner.send('NS LOGOUT');
    await owner.expect('901');
    await owner.expect(notice(/belongs to the account selfowned/));
    assert.match((await owner.expect('NICK', 4000)).params[0] ?? '', GUEST);
  });
});

describe('accounts.required', () => {
  let server: TestServer;
  const clients: TestClient[] = [];

  before(async () => {
    server = await startTestServer({ accounts: { required: true, maxFailedLogins: 1000 } });
    await createAccount(server.server.network, server.store, server.server.auth, 'member', PASSWORD);
  });
  after(async () => {
    for (const client of clients) client.close();
    await server.stop();
  });

  it('a client that did not log in gets FAIL * ACCOUNT_REQUIRED and ERROR, and is disconnected', async () => {
    const client = await TestClient.connect(server.port);
    clients.push(client);
    client.send('NICK outsider');
    client.send('USER outsider 0 * :Outsider');
    const fail = await client.expect('FAIL');
    assert.deepEqual(fail.params.slice(0, 2), ['*', 'ACCOUNT_REQUIRED']);
    await client.expect('ERROR');
    await client.closed;
    assert.ok(!client.log.some((line) => / 001 /.test(line)));
  });

  it('a client that logged in with SASL registers', async () => {
    const client = await registerLoggedIn(server.port, 'insider', 'member');
    clients.push(client);
    assert.ok(!client.isClosed);
  });

  it('a client that registers an account before connecting (REGISTER) is admitted', async () => {
    const client = await TestClient.connect(server.port);
    clients.push(client);
    client.send('CAP LS 302');
    client.send('NICK newcomer');
    client.send('USER newcomer 0 * :Newcomer');
    client.send(`REGISTER * * :${PASSWORD}`);
    await client.expect('900');
    client.send('CAP END');
    await client.expect('001');
  });
});

describe('REGISTER where registration is closed or a server password is set', () => {
  it('accounts.registration false: no draft/account-registration cap, FAIL REGISTER DISALLOWED, and NickServ REGISTER refused', async () => {
    const server = await startTestServer({ accounts: { registration: false } });
    const client = await TestClient.connect(server.port);
    try {
      client.send('CAP LS 302');
      const ls = await client.expect('CAP');
      assert.doesNotMatch(ls.params.at(-1) ?? '', /account-registration/);
      assert.match(ls.params.at(-1) ?? '', /sasl=/);
      client.send('NICK closedreg');
      client.send(`REGISTER * * :${PASSWORD}`);
      await client.expect(registerFail('DISALLOWED'));
      client.send('USER closedreg 0 * :x');
      client.send('CAP END');
      await client.expect('001');
      client.send(`NS REGISTER ${PASSWORD}`);
      await client.expect(notice(/disabled/));
      assert.equal(await server.store.findAccount('closedreg'), undefined);
    } finally {
      client.close();
      await server.stop();
    }
  });

  it('with a server password, REGISTER before connecting needs PASS first (it must not bypass it)', async () => {
    const server = await startTestServer({ password: 'letmein' });
    const sneaky = await TestClient.connect(server.port);
    const honest = await TestClient.connect(server.port);
    try {
      sneaky.send('NICK sneaky');
      sneaky.send(`REGISTER * * :${PASSWORD}`);
      await sneaky.expect(registerFail('DISALLOWED'));
      assert.equal(await server.store.findAccount('sneaky'), undefined);
      honest.send('PASS letmein');
      honest.send('NICK honest');
      honest.send(`REGISTER * * :${PASSWORD}`);
      await honest.expect((m) => m.command === 'REGISTER' && m.params[0] === 'SUCCESS');
    } finally {
      sneaky.close();
      honest.close();
      await server.stop();
    }
  });
});
