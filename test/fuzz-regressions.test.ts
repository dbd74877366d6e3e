/**
 * Bugs found by the fuzz run of the whole server (test/fuzz-server.test.ts, `npm run fuzz`; issue 10 item 1), each
 * kept as a named test of the smallest case that shows it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TestClient } from './helpers/client.js';
import { startTestServer } from './helpers/server.js';
import type { TestServer } from './helpers/server.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const base64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');

describe('a connection that closes while a command of it runs (src/net/connection.ts)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    await server.stop();
  });

  /** Waits until the server has seen every connection but `expected` go. */
  async function connectionsDownTo(expected: number): Promise<void> {
    for (let i = 0; i < 200 && server.server.connections.size > expected; i++) await sleep(10);
    assert.equal(server.server.connections.size, expected);
  }

  it('the lines it held behind that command never run: registration does not complete after the socket is gone, leaving a user online with no connection', async () => {
    const before = server.server.network.sessions.size;
    const client = await TestClient.connect(server.port);
    // The SASL password check is asynchronous (argon2), so CAP END waits behind it; the socket goes meanwhile.
    client.sendRaw(['CAP LS 302', 'CAP REQ :sasl', 'NICK ghosty', 'USER ghosty 0 * :ghost', 'AUTHENTICATE PLAIN', `AUTHENTICATE ${base64('\0nobody\0wrong-password')}`, 'CAP END', ''].join('\r\n'));
    // "AUTHENTICATE +" answers the line before the payload; the payload's check has started once it is read.
    await client.expect((m) => m.command === 'AUTHENTICATE' && m.params[0] === '+');
    client.close();
    await connectionsDownTo(0);
    // Time for the password check to end, and for whatever it let run after it.
    await sleep(1500);
    assert.equal(server.server.network.sessions.size, before, 'no session is left behind');
    assert.equal(server.server.network.findNick('ghosty'), undefined, 'nobody holds the nick');
    const fresh = await TestClient.register(server.port, 'ghosty');
    await fresh.quit();
  });

  it('a NICK it held behind that command does not claim the nick for the user who has left: the nick stays free', async () => {
    const client = await TestClient.register(server.port, 'leaver');
    // OPER's password check is asynchronous (argon2, even for an unknown name), so the NICK after it waits.
    client.sendRaw('PING :started\r\nOPER nobody wrong-password\r\nNICK takenlater\r\n');
    // The PONG leaves in the same turn in which the OPER check starts.
    await client.expect((m) => m.command === 'PONG' && m.params[1] === 'started');
    client.close();
    await connectionsDownTo(0);
    await sleep(1500);
    const fresh = await TestClient.connect(server.port);
    fresh.send('NICK takenlater');
    fresh.send('USER fresh 0 * :fresh');
    const answer = await fresh.expect((m) => m.command === '001' || m.command === '433');
    assert.equal(answer.command, '001', 'the nick is not held for the user who left');
    await fresh.quit();
  });
});

describe('standard replies (FAIL) quoting what a client wrote (src/commands/context.ts standardReply)', () => {
  let server: TestServer;
  let alice: TestClient;
  let bob: TestClient;
  before(async () => {
    server = await startTestServer();
    alice = await TestClient.register(server.port, 'failalice', { caps: ['message-tags', 'standard-replies'] });
    bob = await TestClient.register(server.port, 'failbob');
  });
  after(async () => {
    await Promise.all([alice.quit(), bob.quit()]);
    await server.stop();
  });

  /** The FAIL the line gets, as the client reads it: its parameters must be the ones the server meant. */
  async function failFor(line: string): Promise<string[]> {
    alice.send(line);
    const fail = (await alice.roundtrip()).find((m) => m.command === 'FAIL');
    assert.ok(fail !== undefined, `a FAIL for ${line}`);
    return fail.params;
  }

  it('a whisper with an empty +channel-context names the room "*", not an empty middle parameter that shifts the rest', async () => {
    const params = await failFor('@+channel-context= TAGMSG failbob');
    assert.deepEqual(params.slice(0, 4), ['TAGMSG', 'INVALID_CONTEXT', 'failbob', '*']);
    assert.equal(params.length, 5, 'FAIL <command> <code> <nick> <room> <description>');
  });

  it('a whisper whose +channel-context holds a space (an escaped \\s) names the room "*"', async () => {
    const params = await failFor('@+channel-context=a\\sb PRIVMSG failbob :hi');
    assert.deepEqual(params.slice(0, 4), ['PRIVMSG', 'INVALID_CONTEXT', 'failbob', '*']);
    assert.equal(params.length, 5);
  });

  it('CHATHISTORY with an unknown subcommand sent as a trailing parameter with a space, or empty, names it "*"', async () => {
    assert.deepEqual(await failFor('CHATHISTORY :a b'), ['CHATHISTORY', 'INVALID_PARAMS', '*', 'Unknown CHATHISTORY subcommand']);
    assert.deepEqual(await failFor('CHATHISTORY :'), ['CHATHISTORY', 'INVALID_PARAMS', '*', 'Unknown CHATHISTORY subcommand']);
  });

  it('CHATHISTORY with a limit that holds a space names the limit "*"', async () => {
    const params = await failFor('CHATHISTORY LATEST #nowhere * :1 0');
    assert.deepEqual(params.slice(0, 4), ['CHATHISTORY', 'INVALID_PARAMS', 'LATEST', '*']);
    assert.equal(params.length, 5);
  });
});
