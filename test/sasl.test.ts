/**
 * SASL (IRCv3 SASL 3.1/3.2: AUTHENTICATE, 400-byte chunks both ways, numerics 900-908) with PLAIN (RFC 4616),
 * SCRAM-SHA-256 (RFC 5802/7677) and EXTERNAL (TLS client certificates), and the failed-login throttle, over real
 * sockets.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { generate } from 'selfsigned';
import { ScramClient } from '../src/auth/scram.js';
import { startNatter } from '../src/cli/compose.js';
import type { RunningNatter } from '../src/cli/compose.js';
import { parseConfig } from '../src/config/load.js';
import { createAccount } from '../src/core/accounts.js';
import { LoginThrottle } from '../src/core/auth.js';
import { TestClient } from './helpers/client.js';
import type { Received } from './helpers/client.js';
import { startTestServer, tempDataDir } from './helpers/server.js';
import type { TestServer } from './helpers/server.js';

const PASSWORD = 'correct horse battery';
const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');
const SASL_OUTCOME = new Set(['900', '902', '903', '904', '905', '906', '907', '908']);
const outcome = (client: TestClient): Promise<Received> => client.expect((m) => SASL_OUTCOME.has(m.command));
const isAuthenticate = (m: Received): boolean => m.command === 'AUTHENTICATE';

/** Opens a connection that has sent CAP LS 302, NICK, USER and got sasl ACKed: registration waits for CAP END. */
async function connectForSasl(port: number, nick: string, tls?: { cert: string; key: string } | 'tls'): Promise<TestClient> {
  const client = tls === undefined ? await TestClient.connect(port) : await TestClient.connectTls(port, tls === 'tls' ? undefined : tls);
  client.nick = nick;
  client.send('CAP LS 302');
  client.send(`NICK ${nick}`);
  client.send(`USER ${nick} 0 * :${nick} real name`);
  client.send('CAP REQ :sasl');
  await client.expect((m) => m.command === 'CAP' && m.params[1] === 'ACK');
  client.drain();
  return client;
}

/** The client's side of IRCv3 SASL chunking: 400-byte pieces, "+" after a last piece of exactly 400. */
function sendResponse(client: TestClient, data: string): void {
  if (data === '') {
    client.send('AUTHENTICATE +');
    return;
  }
  for (let i = 0; i < data.length; i += 400) client.send(`AUTHENTICATE ${data.slice(i, i + 400)}`);
  if (data.length % 400 === 0) client.send('AUTHENTICATE +');
}

async function startMechanism(client: TestClient, mechanism: string): Promise<void> {
  client.send(`AUTHENTICATE ${mechanism}`);
  const reply = await client.expect(isAuthenticate);
  assert.deepEqual(reply.params, ['+']);
}

/** AUTHENTICATE PLAIN with "authzid NUL authcid NUL password"; resolves with the first SASL numeric. */
async function plain(client: TestClient, authcid: string, password: string, authzid = ''): Promise<Received> {
  await startMechanism(client, 'PLAIN');
  sendResponse(client, b64(`${authzid}\0${authcid}\0${password}`));
  return outcome(client);
}

/** Reads one server challenge, joining 400-byte chunks as the spec describes. */
async function readChallenge(client: TestClient): Promise<string> {
  let data = '';
  for (;;) {
    const chunk = (await client.expect(isAuthenticate)).params[0] ?? '';
    if (chunk !== '+') data += chunk;
    if (chunk.length !== 400) return Buffer.from(data, 'base64').toString('utf8');
  }
}

async function expectLoggedIn(client: TestClient, account: string): Promise<void> {
  const loggedIn = await outcome(client);
  assert.equal(loggedIn.command, '900', client.log.slice(-5).join('\n'));
  assert.equal(loggedIn.params[2], account);
  assert.equal((await outcome(client)).command, '903');
}

describe('SASL', () => {
  let server: TestServer;
  let tlsPort: number;
  const clients: TestClient[] = [];
  const track = (client: TestClient): TestClient => {
    clients.push(client);
    return client;
  };
  const account = (name: string, password = PASSWORD): Promise<unknown> =>
    createAccount(server.server.network, server.store, server.server.auth, name, password);

  before(async () => {
    // A high failure budget: these tests fail many logins from 127.0.0.1 on purpose; the throttle has its own server.
    server = await startTestServer({ accounts: { maxFailedLogins: 1000 }, tls: { listen: ['127.0.0.1:0'] } });
    const port = server.tlsAddresses[0]?.port;
    if (port === undefined) throw new Error('no TLS listener');
    tlsPort = port;
    await Promise.all(['pam', 'scrammy', 'chunky', 'longpw', 'certy', 'twice', 'late'].map((name) => account(name)));
    await account('chunk400', 'x'.repeat(290));
    await account('chunk680', 'y'.repeat(500));
  });
  after(async () => {
    for (const client of clients) client.close();
    await server.stop();
  });

  it('CAP LS 302 offers sasl=PLAIN,SCRAM-SHA-256,EXTERNAL and draft/account-registration=before-connect,custom-account-name', async () => {
    const client = track(await TestClient.connect(server.port));
    const { tokens } = await client.capLs();
    assert.ok(tokens.includes('sasl=PLAIN,SCRAM-SHA-256,EXTERNAL'), tokens.join(' '));
    assert.ok(tokens.includes('draft/account-registration=before-connect,custom-account-name'), tokens.join(' '));
  });

  it('PLAIN before registration: AUTHENTICATE +, then 900 with nick!user@host and the account, 903, and CAP END gives 001', async () => {
    const client = track(await connectForSasl(server.port, 'pamnick'));
    await startMechanism(client, 'PLAIN');
    client.send(`AUTHENTICATE ${b64('\0pam\0' + PASSWORD)}`);
    const loggedIn = await client.expect('900');
    assert.deepEqual(loggedIn.params.slice(0, 3), ['pamnick', 'pamnick!~pamnick@127.0.0.1', 'pam']);
    assert.match(loggedIn.params[3] ?? '', /logged in as pam/);
    await client.expect('903');
    assert.ok(!client.has('001'), 'registration waits for CAP END');
    client.send('CAP END');
    await client.expect('001');
    client.send('NS INFO pam');
    await client.expect((m) => m.command === 'NOTICE' && /Online as pamnick/.test(m.params[1] ?? ''));
  });

  it('PLAIN after registration logs in, 900 carrying the registered prefix', async () => {
    const client = track(await TestClient.register(server.port, 'latenick', { caps: ['sasl'] }));
    assert.equal((await plain(client, 'late', PASSWORD)).command, '900');
    await client.expect('903');
  });

  it('PLAIN with an authzid equal to the authcid is accepted; a different authzid is refused (904)', async () => {
    const other = track(await connectForSasl(server.port, 'authz1'));
    assert.equal((await plain(other, 'pam', PASSWORD, 'late')).command, '904');
    const same = track(await connectForSasl(server.port, 'authz2'));
    assert.equal((await plain(same, 'pam', PASSWORD, 'PAM')).command, '900');
  });

  it('a wrong password gets 904, and the client may retry from AUTHENTICATE <mechanism>', async () => {
    const client = track(await connectForSasl(server.port, 'wrongpw'));
    const failed = await plain(client, 'pam', 'not the password');
    assert.equal(failed.command, '904');
    assert.ok(!client.has('900'));
    assert.equal((await plain(client, 'pam', PASSWORD)).command, '900');
  });

  it('an unknown account gets the same 904 as a wrong password', async () => {
    const client = track(await connectForSasl(server.port, 'nobodyhere'));
    const failed = await plain(client, 'nosuchaccount', PASSWORD);
    assert.equal(failed.command, '904');
    assert.equal(failed.params[1], 'SASL authentication failed');
  });

  it('AUTHENTICATE * aborts an exchange with 906 (and is answered 906 with none in progress)', async () => {
    const client = track(await connectForSasl(server.port, 'aborter'));
    await startMechanism(client, 'PLAIN');
    client.send('AUTHENTICATE *');
    assert.equal((await outcome(client)).command, '906');
    // The exchange is over: data now is taken as a mechanism name, unknown (908 + 904).
    client.send(`AUTHENTICATE ${b64('\0pam\0' + PASSWORD)}`);
    assert.equal((await outcome(client)).command, '908');
    assert.equal((await outcome(client)).command, '904');
    client.send('AUTHENTICATE *');
    assert.equal((await outcome(client)).command, '906');
  });

  it('a second login on a logged-in connection gets 907', async () => {
    const client = track(await connectForSasl(server.port, 'twicenick'));
    assert.equal((await plain(client, 'twice', PASSWORD)).command, '900');
    await client.expect('903');
    client.send('AUTHENTICATE PLAIN');
    assert.equal((await outcome(client)).command, '907');
    assert.ok(!client.has(isAuthenticate));
  });

  it('an unknown mechanism gets 908 listing the mechanisms, then 904', async () => {
    const client = track(await connectForSasl(server.port, 'mechs'));
    client.send('AUTHENTICATE GSSAPI');
    const mechs = await outcome(client);
    assert.equal(mechs.command, '908');
    assert.equal(mechs.params[1], 'PLAIN,SCRAM-SHA-256,EXTERNAL');
    assert.equal((await outcome(client)).command, '904');
  });

  it('a response of exactly 400 bytes of base64 is followed by AUTHENTICATE + and succeeds', async () => {
    const payload = b64(`\0chunk400\0${'x'.repeat(290)}`);
    assert.equal(payload.length, 400);
    const client = track(await connectForSasl(server.port, 'c400'));
    await startMechanism(client, 'PLAIN');
    client.send(`AUTHENTICATE ${payload}`);
    await client.roundtrip();
    assert.ok(!client.has((m) => SASL_OUTCOME.has(m.command)), 'a 400-byte chunk means more follows');
    client.send('AUTHENTICATE +');
    await expectLoggedIn(client, 'chunk400');
  });

  it('a response longer than 400 bytes arrives in 400-byte chunks and succeeds', async () => {
    const payload = b64(`\0chunk680\0${'y'.repeat(500)}`);
    assert.ok(payload.length > 400 && payload.length % 400 !== 0);
    const client = track(await connectForSasl(server.port, 'c680'));
    await startMechanism(client, 'PLAIN');
    sendResponse(client, payload);
    await expectLoggedIn(client, 'chunk680');
  });

  it('a chunk over 400 bytes gets 905 alone and ends the exchange', async () => {
    const client = track(await connectForSasl(server.port, 'toolong'));
    await startMechanism(client, 'PLAIN');
    client.send(`AUTHENTICATE ${'A'.repeat(404)}`);
    assert.equal((await outcome(client)).command, '905');
    await client.roundtrip().then((rest) => {
      assert.ok(!rest.some((m) => m.command === '904'), '905 is the failure; no 904 besides');
    });
    // The exchange is over, and the client may start again.
    assert.equal((await plain(client, 'pam', PASSWORD)).command, '900');
  });

  it('a response growing past the payload limit in 400-byte chunks gets 905', async () => {
    const client = track(await connectForSasl(server.port, 'toobig'));
    await startMechanism(client, 'PLAIN');
    for (let i = 0; i < 30; i++) client.send(`AUTHENTICATE ${'A'.repeat(400)}`);
    assert.equal((await outcome(client)).command, '905');
  });

  it('a response that is not base64 gets 904', async () => {
    const client = track(await connectForSasl(server.port, 'notb64'));
    await startMechanism(client, 'PLAIN');
    client.send('AUTHENTICATE ***not*base64***');
    const failed = await outcome(client);
    assert.equal(failed.command, '904');
    assert.match(failed.params[1] ?? '', /base64/);
  });

  it('registration completed while an exchange is in progress aborts it with 906 and registers without an account', async () => {
    const client = track(await connectForSasl(server.port, 'impatient'));
    await startMechanism(client, 'PLAIN');
    client.send('CAP END');
    assert.equal((await outcome(client)).command, '906');
    await client.expect('001');
    client.send(`AUTHENTICATE ${b64('\0pam\0' + PASSWORD)}`);
    assert.equal((await outcome(client)).command, '908', 'the aborted exchange does not take data any more');
  });

  it('SCRAM-SHA-256: full exchange, the client verifies the server signature, then AUTHENTICATE + gives 900 and 903', async () => {
    const client = track(await connectForSasl(server.port, 'scramnick'));
    const scram = new ScramClient('scrammy', PASSWORD);
    await startMechanism(client, 'SCRAM-SHA-256');
    sendResponse(client, b64(scram.first()));
    const serverFirst = await readChallenge(client);
    assert.match(serverFirst, /^r=[^,]+,s=[^,]+,i=\d+$/);
    sendResponse(client, b64(scram.final(serverFirst)));
    const serverFinal = await readChallenge(client);
    assert.equal(scram.verifyServer(serverFinal), true, `server signature ${serverFinal}`);
    assert.ok(!client.has('900'), 'no login before the client acknowledges the signature');
    client.send('AUTHENTICATE +');
    await expectLoggedIn(client, 'scrammy');
  });

  it('SCRAM-SHA-256 with a wrong password fails with 904 at the proof', async () => {
    const client = track(await connectForSasl(server.port, 'scrambad'));
    const scram = new ScramClient('scrammy', 'not the password');
    await startMechanism(client, 'SCRAM-SHA-256');
    sendResponse(client, b64(scram.first()));
    const serverFirst = await readChallenge(client);
    sendResponse(client, b64(scram.final(serverFirst)));
    const failed = await outcome(client);
    assert.equal(failed.command, '904');
    await client.roundtrip();
    assert.ok(!client.has('900') && !client.has('903'));
  });

  it('SCRAM-SHA-256 for an unknown user gets a challenge like any other and then 904', async () => {
    const client = track(await connectForSasl(server.port, 'scramghost'));
    const scram = new ScramClient('nosuchscram', PASSWORD);
    await startMechanism(client, 'SCRAM-SHA-256');
    sendResponse(client, b64(scram.first()));
    const serverFirst = await readChallenge(client);
    assert.match(serverFirst, /^r=[^,]+,s=[^,]+,i=4096$/);
    sendResponse(client, b64(scram.final(serverFirst)));
    assert.equal((await outcome(client)).command, '904');
  });

  it('SCRAM-SHA-256: anything but an empty message after the server signature fails', async () => {
    const client = track(await connectForSasl(server.port, 'scramodd'));
    const scram = new ScramClient('scrammy', PASSWORD);
    await startMechanism(client, 'SCRAM-SHA-256');
    sendResponse(client, b64(scram.first()));
    sendResponse(client, b64(scram.final(await readChallenge(client))));
    await readChallenge(client);
    client.send(`AUTHENTICATE ${b64('surprise')}`);
    assert.equal((await outcome(client)).command, '904');
  });

  it('EXTERNAL over TLS with a client certificate added by NickServ CERT ADD logs in (900, 903)', async () => {
    const pems = await generate([{ name: 'commonName', value: 'certy' }], { keyType: 'ec', curve: 'P-256', algorithm: 'sha256' });
    const clientCert = { cert: pems.cert, key: pems.private };
    const fingerprint = new X509Certificate(pems.cert).fingerprint256.replace(/:/g, '').toLowerCase();
    // Log in with a password over TLS with the certificate, and attach it to the account.
    const first = track(await connectForSasl(tlsPort, 'certnick', clientCert));
    assert.equal((await plain(first, 'certy', PASSWORD)).command, '900');
    first.send('CAP END');
    await first.expect('001');
    first.send('PRIVMSG NickServ :CERT ADD');
    const added = await first.expect((m) => m.command === 'NOTICE' && /Fingerprint/.test(m.params[1] ?? ''));
    assert.match(added.params[1] ?? '', new RegExp(fingerprint));
    await first.quit();
    // The next connection with that certificate logs in without a password.
    const second = track(await connectForSasl(tlsPort, 'certnick2', clientCert));
    await startMechanism(second, 'EXTERNAL');
    second.send('AUTHENTICATE +');
    await expectLoggedIn(second, 'certy');
    // An authzid naming the account is accepted; naming another is not.
    const third = track(await connectForSasl(tlsPort, 'certnick3', clientCert));
    await startMechanism(third, 'EXTERNAL');
    third.send(`AUTHENTICATE ${b64('pam')}`);
    assert.equal((await outcome(third)).command, '904');
  });

  it('EXTERNAL without a client certificate gets 904 saying why, over TLS and over plain TCP', async () => {
    const overTls = track(await connectForSasl(tlsPort, 'nocert', 'tls'));
    await startMechanism(overTls, 'EXTERNAL');
    overTls.send('AUTHENTICATE +');
    const failed = await outcome(overTls);
    assert.equal(failed.command, '904');
    assert.match(failed.params[1] ?? '', /certificate/);
    const overTcp = track(await connectForSasl(server.port, 'nocerttcp'));
    await startMechanism(overTcp, 'EXTERNAL');
    overTcp.send('AUTHENTICATE +');
    assert.equal((await outcome(overTcp)).command, '904');
  });

  it('EXTERNAL with a certificate no account has gets 904', async () => {
    const pems = await generate([{ name: 'commonName', value: 'stranger' }], { keyType: 'ec', curve: 'P-256', algorithm: 'sha256' });
    const client = track(await connectForSasl(tlsPort, 'stranger', { cert: pems.cert, key: pems.private }));
    await startMechanism(client, 'EXTERNAL');
    client.send('AUTHENTICATE +');
    assert.equal((await outcome(client)).command, '904');
  });
});

describe('LoginThrottle', () => {
  it('refuses a key after maxFailures within the window, says for how long, and forgets it after the window', () => {
    let now = 1_000_000;
    const throttle = new LoginThrottle(3, 60_000, () => now);
    for (let i = 0; i < 2; i++) throttle.fail('account:a');
    assert.equal(throttle.retryAfter('account:a'), 0, 'two failures of three allowed');
    throttle.fail('account:a');
    assert.equal(throttle.retryAfter('account:a'), 60);
    now += 45_500;
    assert.equal(throttle.retryAfter('account:a'), 15);
    assert.equal(throttle.retryAfter('account:b'), 0, 'other keys are not affected');
    now += 15_000;
    assert.equal(throttle.retryAfter('account:a'), 0);
    throttle.fail('account:a');
    assert.equal(throttle.retryAfter('account:a'), 0, 'a new window starts from one failure');
  });

  it('a success forgets the failures of its key', () => {
    const throttle = new LoginThrottle(2, 60_000, () => 0);
    throttle.fail('account:a');
    throttle.succeed('account:a');
    throttle.fail('account:a');
    assert.equal(throttle.retryAfter('account:a'), 0);
  });
});

describe('failed-login throttling, over the wire', () => {
  let natter: RunningNatter;
  let port: number;
  const lines: string[] = [];
  const data = tempDataDir();
  const clients: TestClient[] = [];
  const track = (client: TestClient): TestClient => {
    clients.push(client);
    return client;
  };
  const SECRET_WRONG = 'wrong-Secret-1';
  const SECRET_RIGHT = 'right-Secret-2';

  before(async () => {
    const config = parseConfig(
      {
        listen: ['127.0.0.1:0'],
        serverName: 'test.natter',
        data: data.path,
        logLevel: 'info',
        accounts: { maxFailedLogins: 3, failedLoginWindowSeconds: 60 },
        limits: { connectionsPerIp: 0, flood: { enabled: false } },
      },
      'test',
    );
    // The server's log, captured line by line, to check that no password or SASL payload is ever written.
    const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(line) });
    natter = await startNatter({ config, logger });
    port = natter.addresses[0]?.port ?? 0;
    for (const name of ['locked', 'other1', 'other2']) {
      await createAccount(natter.server.network, natter.store, natter.server.auth, name, SECRET_RIGHT);
    }
  });
  after(async () => {
    for (const client of clients) client.close();
    await natter.stop();
    data.remove();
  });

  it('after maxFailedLogins wrong passwords the right one is refused too, with a clear text, and the log has no password', async () => {
    const client = track(await connectForSasl(port, 'guesser'));
    for (let i = 0; i < 3; i++) {
      assert.equal((await plain(client, 'locked', `${SECRET_WRONG}${i}`)).command, '904');
      // Only the account's budget is under test here: the address's is reset after each try.
      natter.server.loginThrottle.succeed('ip:127.0.0.1');
    }
    const refused = await plain(client, 'locked', SECRET_RIGHT);
    assert.equal(refused.command, '904');
    assert.match(refused.params[1] ?? '', /^Too many failed logins; try again in \d+ seconds$/);
    assert.ok(!client.has('900'));
    // Refused on every path to the account: NickServ IDENTIFY says the same.
    client.send('CAP END');
    await client.expect('001');
    client.send(`NS IDENTIFY locked ${SECRET_RIGHT}`);
    await client.expect((m) => m.command === 'NOTICE' && /Too many failed logins; try again in \d+ seconds/.test(m.params[1] ?? ''));

    const log = lines.join('');
    assert.match(log, /failed login/);
    assert.match(log, /"account":"locked"/);
    for (const secret of [SECRET_WRONG, SECRET_RIGHT]) {
      assert.ok(!log.includes(secret), `the log holds a password: ${secret}`);
    }
    for (let i = 0; i < 3; i++) assert.ok(!log.includes(b64(`\0locked\0${SECRET_WRONG}${i}`)), 'the log holds a SASL payload');
  });

  it('failures spread over several accounts lock out the address', async () => {
    natter.server.loginThrottle.succeed('ip:127.0.0.1');
    const client = track(await connectForSasl(port, 'sprayer'));
    for (const name of ['other1', 'other2', 'other1']) assert.equal((await plain(client, name, SECRET_WRONG)).command, '904');
    const refused = await plain(client, 'other2', SECRET_RIGHT);
    assert.match(refused.params[1] ?? '', /Too many failed logins/);
    natter.server.loginThrottle.succeed('ip:127.0.0.1');
    assert.equal((await plain(client, 'other2', SECRET_RIGHT)).command, '900', 'other2 itself had only one failure');
  });

  it('a SCRAM-SHA-256 wrong proof counts against the account like a PLAIN failure', async () => {
    natter.server.loginThrottle.succeed('ip:127.0.0.1');
    await createAccount(natter.server.network, natter.store, natter.server.auth, 'scramlock', SECRET_RIGHT);
    for (let i = 0; i < 3; i++) {
      const client = track(await connectForSasl(port, `scramlock${i}`));
      const scram = new ScramClient('scramlock', SECRET_WRONG);
      await startMechanism(client, 'SCRAM-SHA-256');
      sendResponse(client, b64(scram.first()));
      sendResponse(client, b64(scram.final(await readChallenge(client))));
      assert.equal((await outcome(client)).command, '904');
      natter.server.loginThrottle.succeed('ip:127.0.0.1');
    }
    const client = track(await connectForSasl(port, 'scramlock9'));
    const refused = await plain(client, 'scramlock', SECRET_RIGHT);
    assert.match(refused.params[1] ?? '', /Too many failed logins/);
    // SCRAM itself is refused at the first step, before any proof is checked.
    const scram = new ScramClient('scramlock', SECRET_RIGHT);
    await startMechanism(client, 'SCRAM-SHA-256');
    sendResponse(client, b64(scram.first()));
    const scramRefused = await outcome(client);
    assert.equal(scramRefused.command, '904');
    assert.match(scramRefused.params[1] ?? '', /Too many failed logins/);
  });

  it('REGISTER and NickServ REGISTER share one per-address limit (FAIL REGISTER TEMPORARILY_UNAVAILABLE)', async () => {
    for (let i = 0; i < 3; i++) {
      const client = track(await TestClient.connect(port));
      client.send(`NICK minted${i}`);
      client.send(`REGISTER * * ${SECRET_RIGHT}`);
      await client.expect((m) => m.command === 'REGISTER' && m.params[0] === 'SUCCESS');
    }
    const client = track(await TestClient.connect(port));
    client.send('NICK minted9');
    client.send(`REGISTER * * ${SECRET_RIGHT}`);
    const fail = await client.expect('FAIL');
    assert.deepEqual(fail.params.slice(0, 3), ['REGISTER', 'TEMPORARILY_UNAVAILABLE', 'minted9']);
    const viaService = track(await TestClient.register(port, 'minted10'));
    viaService.send(`PRIVMSG NickServ :REGISTER ${SECRET_RIGHT}`);
    await viaService.expect((m) => m.command === 'NOTICE' && /Too many accounts registered from your address/.test(m.params[1] ?? ''));
    assert.equal(await natter.store.findAccount('minted10'), undefined);
  });
});
