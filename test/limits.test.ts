/**
 * Limits that protect the server (Modern IRC "Message format" lengths, message-tags' 8191 bytes, flood
 * control, the bounded send queue, connections per IP) and robustness against malformed input.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TestClient } from './helpers/client.js';
import type { Received } from './helpers/client.js';
import { startTestServer } from './helpers/server.js';
import type { TestServer } from './helpers/server.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('flood control', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ limits: { flood: { enabled: true, burst: 5, perSecond: 10, maxQueued: 20 } } });
  });
  after(async () => {
    await server.stop();
  });

  it('a client sending beyond its burst has later commands delayed, and every one is answered, in order', async () => {
    const client = await TestClient.register(server.port, 'eager');
    await sleep(600); // let the budget refill to the full burst after NICK/USER
    const arrivals: number[] = [];
    const start = Date.now();
    for (let i = 0; i < 15; i++) client.send(`PING :n${i}`);
    for (let i = 0; i < 15; i++) {
      const pong = await client.expect('PONG', 4000);
      assert.equal(pong.params[1], `n${i}`, 'replies arrive in the order the commands were sent');
      arrivals.push(Date.now() - start);
    }
    assert.ok((arrivals[4] ?? Infinity) < 300, `the burst is answered at once (${arrivals.join(',')})`);
    // 10 commands beyond the burst at 10 per second: about one second for the last.
    assert.ok((arrivals[14] ?? 0) >= 700, `commands beyond the burst are delayed (${arrivals.join(',')})`);
    assert.ok(!client.isClosed);
    await client.quit();
  });

  it('a sustained flood past maxQueued is closed with "ERROR :Closing Link: ... (Excess Flood)", and peers see why', async () => {
    const flooder = await TestClient.register(server.port, 'flooder');
    const peer = await TestClient.register(server.port, 'floodpeer');
    flooder.send('JOIN #flood');
    await flooder.expect('366');
    peer.send('JOIN #flood');
    await peer.expect('366');
    flooder.sendRaw('PRIVMSG #flood :spam\r\n'.repeat(60));
    const error = await flooder.expect('ERROR', 3000);
    assert.equal(error.params[0], 'Closing Link: 127.0.0.1 (Excess Flood)');
    await flooder.closed;
    const quit = await peer.expect('QUIT', 3000);
    assert.deepEqual(quit.params, ['Excess Flood']);
    const spam = peer.drain().filter((m) => m.command === 'PRIVMSG');
    assert.ok(spam.length <= 5 + 20, `at most burst + maxQueued lines were run (${spam.length})`);
    await peer.quit();
  });
});

describe('send queue', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ limits: { sendQueueBytes: 65536 } });
  });
  after(async () => {
    await server.stop();
  });

  it('a client that stops reading is disconnected with "SendQ exceeded" while others keep chatting', async () => {
    const slow = await TestClient.register(server.port, 'sloth');
    const talker = await TestClient.register(server.port, 'talker');
    const friend = await TestClient.register(server.port, 'friend');
    for (const client of [slow, talker]) {
      client.send('JOIN #busy');
      await client.expect('366');
    }
    await talker.roundtrip();
    talker.socket.setNoDelay(true); // each batch's PING barrier leaves at once (no Nagle delay)
    slow.socket.pause(); // reads nothing from now on: the server's queue for it can only grow
    const text = `:${'x'.repeat(440)}`;
    let quit: Received | undefined;
    for (let batch = 0; batch < 400 && quit === undefined; batch++) {
      talker.sendRaw(`PRIVMSG #busy ${text}\r\n`.repeat(40));
      await talker.roundtrip().then((seen) => {
        quit = seen.find((m) => m.command === 'QUIT');
      });
    }
    assert.ok(quit !== undefined, 'the reader that never reads was dropped');
    assert.equal(quit.source?.split('!')[0], 'sloth');
    assert.deepEqual(quit.params, ['SendQ exceeded']);
    talker.send('PRIVMSG friend :still here');
    assert.deepEqual((await friend.expect('PRIVMSG')).params, ['friend', 'still here']);
    talker.send('PRIVMSG #busy :anyone?');
    assert.ok(!(await talker.roundtrip()).some((m) => m.command === '404' || m.command === '403'));
    slow.socket.resume();
    await slow.closed;
    await Promise.all([talker.quit(), friend.quit()]);
  });
});

describe('connections per IP', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ limits: { connectionsPerIp: 3 } });
  });
  let stoppedEarly = false;
  after(async () => {
    if (!stoppedEarly) await server.stop();
  });

  it('a connection beyond connectionsPerIp gets ERROR and is closed; a freed slot can be used again', async () => {
    const first = await TestClient.register(server.port, 'ip1');
    const second = await TestClient.connect(server.port);
    const third = await TestClient.connect(server.port);
    await Promise.all([second.roundtrip(), third.roundtrip()]);
    const fourth = await TestClient.connect(server.port);
    const error = await fourth.expect('ERROR');
    assert.match(error.params[0] ?? '', /^Closing Link: 127\.0\.0\.1 \(Too many connections from your IP address\)$/);
    await fourth.closed;
    assert.ok(!first.isClosed && !second.isClosed && !third.isClosed, 'the first three are untouched');
    await first.quit();
    let fifth: TestClient | undefined;
    for (let attempt = 0; attempt < 20 && fifth === undefined; attempt++) {
      // The slot is freed when the server sees the close, which may be a moment after the client does.
      const candidate = await TestClient.connect(server.port);
      candidate.send('PING :slot');
      const answer = await candidate.expect((m) => m.command === 'PONG' || m.command === 'ERROR');
      if (answer.command === 'PONG') fifth = candidate;
      else await sleep(25);
    }
    assert.ok(fifth !== undefined, 'after one left, a new connection is accepted');
    for (const client of [second, third, fifth]) client.close();
    // A refused socket must be closed by the server too, or it lingers and holds up shutdown.
    const stopped = server.stop().then(() => true);
    assert.ok(await Promise.race([stopped, sleep(2000).then(() => false)]), 'the server stops promptly: no refused socket is left open');
    stoppedEarly = true;
  });
});

describe('malformed and oversized input', () => {
  let server: TestServer;
  let client: TestClient;
  before(async () => {
    server = await startTestServer();
    client = await TestClient.register(server.port, 'fuzzer');
  });
  after(async () => {
    client.close();
    await server.stop();
  });

  const pingOfBodyLength = (bytes: number): string => `PING :${'x'.repeat(bytes - 'PING :'.length)}`;

  it('a line whose body exceeds 510 bytes gets ERR_INPUTTOOLONG (417) and the connection keeps working', async () => {
    client.send(pingOfBodyLength(510));
    assert.deepEqual((await client.roundtrip()).map((m) => m.command), ['PONG'], '510 bytes is allowed');
    client.send(pingOfBodyLength(511));
    const replies = await client.roundtrip();
    assert.deepEqual(replies.map((m) => m.command), ['417']);
    assert.deepEqual(replies[0]?.params, ['fuzzer', 'Input line was too long']);
    client.send('PING after');
    assert.equal((await client.expect('PONG')).params[1], 'after');
  });

  it('a tag block over 8191 bytes gets 417; one of exactly 8191 bytes is accepted', async () => {
    const tags = (total: number): string => `@a=${'t'.repeat(total - '@a= '.length)} `;
    client.send(`${tags(8191)}PING :tagged`);
    assert.deepEqual((await client.roundtrip()).map((m) => [m.command, m.params[1]]), [['PONG', 'tagged']]);
    client.send(`${tags(8192)}PING :tagged`);
    assert.deepEqual((await client.roundtrip()).map((m) => m.command), ['417']);
    client.send(`@a=${'t'.repeat(20_000)} PING :tagged`);
    assert.deepEqual((await client.roundtrip()).map((m) => m.command), ['417']);
  });

  it('100 KB without a newline, then a normal line: one 417, and the next command works', async () => {
    for (let i = 0; i < 10; i++) client.sendRaw(`PRIVMSG fuzzer :${'y'.repeat(10_240)}`);
    await sleep(30);
    client.sendRaw('\r\nPING :next\r\n');
    const replies = await client.roundtrip();
    assert.deepEqual(replies.map((m) => [m.command, m.params[1]]), [['417', 'Input line was too long'], ['PONG', 'next']]);
  });

  it('invalid UTF-8 gets "FAIL * INVALID_UTF8" and the client stays connected', async () => {
    client.sendRaw(Buffer.concat([Buffer.from('PRIVMSG fuzzer :bad '), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('\r\n')]));
    const replies = await client.roundtrip();
    assert.deepEqual(replies.map((m) => m.command), ['FAIL']);
    assert.deepEqual(replies[0]?.params.slice(0, 2), ['*', 'INVALID_UTF8']);
    assert.equal(replies[0].params.length, 3, 'FAIL <command> <code> <description>, no nick');
    assert.ok(!client.isClosed);
  });

  it('a NUL byte gets FAIL and the line is not run', async () => {
    client.sendRaw(Buffer.from('PRIVMSG fuzzer :nul\0here\r\n'));
    const replies = await client.roundtrip();
    assert.deepEqual(replies.map((m) => m.command), ['FAIL']);
    assert.equal(replies[0]?.params[0], '*');
    assert.ok(!client.isClosed);
  });

  it('empty lines and lone line endings are ignored', async () => {
    client.sendRaw('\r\n\r\n\n\r   \r\n');
    assert.deepEqual(await client.roundtrip(), []);
  });

  it('garbage lines (":", "@", ":x", "@a", "   ") get no reply and do not break the connection', async () => {
    for (const garbage of [':', '@', ':x', '@a', '@a=b', '@a=b :src', '   ', ': ', '@ ']) client.sendRaw(`${garbage}\r\n`);
    assert.deepEqual(await client.roundtrip(), []);
  });

  it('a tagged garbage line followed by more than 8 KB of other lines is not mistaken for a long tag block', async () => {
    client.sendRaw(`@a\r\n${'PONG\r\n'.repeat(2000)}PING :x y\r\n`);
    assert.deepEqual((await client.roundtrip()).map((m) => [m.command, m.params[1]]), [['PONG', 'x y']]);
  });

  it('after all of that the server still serves a fresh client', async () => {
    const fresh = await TestClient.register(server.port, 'fresh');
    fresh.send('PRIVMSG fuzzer :hello');
    assert.deepEqual((await client.expect('PRIVMSG')).params, ['fuzzer', 'hello']);
    await fresh.quit();
  });
});
