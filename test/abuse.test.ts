/**
 * Resource abuse (issue 10, item 2): each way one client (or a few) could take the server's connections, memory, CPU
 * or disk, and the limit that contains it, over real loopback sockets. Every test here fails when its protection is
 * switched off (docs/SECURITY.md lists which). Timing bounds are generous: the machine running them may be busy.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { hashPassword } from '../src/auth/authenticator.js';
import { createAccount } from '../src/core/accounts.js';
import { ConnectionRate } from '../src/net/connection-rate.js';
import type { Connection } from '../src/net/connection.js';
import { TestClient } from './helpers/client.js';
import type { Received } from './helpers/client.js';
import { startCrowd } from './helpers/crowd.js';
import { saslPlain } from './helpers/login.js';
import { serveNatter } from './helpers/process.js';
import { startTestServer } from './helpers/server.js';
import type { TestServer } from './helpers/server.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A bystander's PING round trip, however long it takes (up to a minute), in milliseconds. */
async function roundTripMs(client: TestClient, token: string): Promise<number> {
  const start = performance.now();
  client.send(`PING ${token}`);
  await client.expect((m) => m.command === 'PONG' && m.params.at(-1) === token, 60_000);
  return performance.now() - start;
}

/** Round trips of `client`, one after the other, until `until` settles; their durations in milliseconds. */
async function roundTripsDuring(client: TestClient, until: Promise<unknown>): Promise<number[]> {
  const state = { done: false };
  const finished = until.then(
    () => {
      state.done = true;
    },
    () => {
      state.done = true;
    },
  );
  const times: number[] = [];
  // At least one, however fast `until` settles.
  do {
    times.push(await roundTripMs(client, `rtt${String(times.length)}`));
    await Promise.race([sleep(50), finished]);
  } while (!state.done);
  client.drain();
  return times;
}

/** A connection as the server sees it, by nick. */
function serverSide(server: TestServer, nick: string): Connection {
  for (const connection of server.server.connections) if (connection.session.nick === nick) return connection;
  return assert.fail(`the server has no connection for ${nick}`);
}

describe('connection floods from one address', () => {
  it('past limits.maxConnections, over every listener together, a new connection gets "ERROR :Closing Link: ... (Server is full; try again later)"; a freed slot is used again', async () => {
    const server = await startTestServer({ limits: { maxConnections: 3 }, tls: { listen: ['127.0.0.1:0'] } });
    try {
      const tlsPort = server.tlsAddresses[0]?.port ?? assert.fail('no TLS listener');
      const held = [await TestClient.register(server.port, 'full1'), await TestClient.connect(server.port), await TestClient.connectTls(tlsPort)];
      await Promise.all(held.slice(1).map((client) => client.roundtrip()));
      // One more on either listener: the limit counts connections in all, not per listener.
      for (const extra of [await TestClient.connect(server.port), await TestClient.connectTls(tlsPort)]) {
        const error = await extra.expect('ERROR', 10_000);
        assert.equal(error.params[0], 'Closing Link: 127.0.0.1 (Server is full; try again later)');
        await extra.closed;
      }
      assert.ok(held.every((client) => !client.isClosed), 'the connections already in are untouched');
      await held[0]?.quit();
      let admitted: TestClient | undefined;
      for (let attempt = 0; attempt < 50 && admitted === undefined; attempt++) {
        // The slot is freed when the server sees the close, a moment after the client does.
        const candidate = await TestClient.connect(server.port);
        candidate.send('PING :slot');
        const answer = await candidate.expect((m) => m.command === 'PONG' || m.command === 'ERROR', 10_000);
        if (answer.command === 'PONG') admitted = candidate;
        else await sleep(50);
      }
      assert.ok(admitted !== undefined, 'after one left, a new connection is taken');
      for (const client of [...held, admitted]) client.close();
    } finally {
      await server.stop();
    }
  });

  it('past limits.connectionsPerIpPerMinute new connections, the next gets ERROR with the reason and when to retry, even after the earlier ones closed', async () => {
    const server = await startTestServer({ limits: { connectionsPerIpPerMinute: 5, connectionRateExempt: [] } });
    try {
      for (let i = 0; i < 5; i++) {
        // Each one closes before the next: the limit is on the rate of new connections, not on how many are open.
        const client = await TestClient.connect(server.port);
        await client.roundtrip();
        await client.quit();
      }
      const refused = await TestClient.connect(server.port);
      const error = await refused.expect('ERROR', 10_000);
      assert.match(error.params[0] ?? '', /^Closing Link: 127\.0\.0\.1 \(Too many new connections from your IP address; try again in \d+ seconds\)$/);
      await refused.closed;
    } finally {
      await server.stop();
    }
  });

  it('loopback is exempt from connectionsPerIpPerMinute by default (the host itself, a local proxy), and the limit can be switched off with 0', async () => {
    for (const limits of [{ connectionsPerIpPerMinute: 2 }, { connectionsPerIpPerMinute: 0, connectionRateExempt: [] }]) {
      const server = await startTestServer({ limits });
      try {
        for (let i = 0; i < 6; i++) {
          const client = await TestClient.connect(server.port);
          assert.ok((await client.roundtrip()).every((m) => m.command !== 'ERROR'), JSON.stringify(limits));
          client.close();
        }
      } finally {
        await server.stop();
      }
    }
  });

  it('ConnectionRate: a burst of a minute\'s worth at once (a LAN party behind one NAT address), then one per 60/N seconds; exempt subnets; bounded memory', () => {
    let now = 0;
    const rate = new ConnectionRate(() => now);
    const lanParty = '203.0.113.7';
    for (let i = 0; i < 60; i++) assert.deepEqual(rate.take(lanParty, 60, []), { admitted: true }, `connection ${String(i)} of the burst`);
    assert.deepEqual(rate.take(lanParty, 60, []), { admitted: false, retryAfterSeconds: 1, firstRefusal: true });
    assert.deepEqual(rate.take(lanParty, 60, []), { admitted: false, retryAfterSeconds: 1, firstRefusal: false }, 'a hammering address is logged once');
    now += 1000;
    assert.deepEqual(rate.take(lanParty, 60, []), { admitted: true }, 'one more a second later');
    assert.equal(rate.take(lanParty, 60, []).admitted, false);
    assert.deepEqual(rate.take('203.0.113.8', 60, []), { admitted: true }, 'other addresses have their own budget');
    const exempt = ['192.168.0.0/16', '::1', '10.0.0.7'];
    for (const ip of ['192.168.4.20', '::1', '10.0.0.7']) {
      for (let i = 0; i < 100; i++) assert.equal(rate.take(ip, 5, exempt).admitted, true, ip);
    }
    assert.equal(rate.take('10.0.0.8', 1, exempt).admitted, true);
    assert.equal(rate.take('10.0.0.8', 1, exempt).admitted, false, '10.0.0.8 is not in the list');
    for (let i = 0; i < 150_000; i++) rate.take(`2001:db8::${i.toString(16)}`, 60, []);
    assert.ok(rate.tracked <= 100_000, `addresses tracked: ${String(rate.tracked)}`);
  });
});

describe('slow clients (slowloris)', { concurrency: true }, () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ limits: { registrationTimeoutSeconds: 2, pingIntervalSeconds: 1, pingTimeoutSeconds: 1 } });
  });
  after(async () => {
    await server.stop();
  });

  /** Sends one byte of `text` every `everyMs` until the socket closes, never ending the line. */
  const trickle = async (client: TestClient, text: string, everyMs: number): Promise<void> => {
    for (let i = 0; !client.isClosed; i = (i + 1) % text.length) {
      client.sendRaw(text[i] ?? 'x');
      await sleep(everyMs);
    }
  };

  it('a client trickling a line that never ends, never registering, is closed at registrationTimeoutSeconds', async () => {
    const client = await TestClient.connect(server.port);
    const start = Date.now();
    const trickling = trickle(client, 'NICK slowloris', 200);
    const error = await client.expect('ERROR', 15_000);
    assert.equal(error.params[0], 'Closing Link: 127.0.0.1 (Registration timeout)');
    await client.closed;
    await trickling;
    assert.ok(Date.now() - start >= 1500, 'not before the timeout');
  });

  it('a client sending whole lines (PING, CAP LS) but never finishing registration is closed at registrationTimeoutSeconds', async () => {
    const client = await TestClient.connect(server.port);
    client.send('CAP LS 302');
    client.send('NICK capstall');
    client.send('USER capstall 0 * :holds registration open with CAP');
    const pinging = { on: true };
    const pings = (async () => {
      for (let i = 0; pinging.on && !client.isClosed; i++) {
        client.send(`PING :alive${String(i)}`);
        await sleep(200);
      }
    })();
    const error = await client.expect('ERROR', 15_000);
    assert.equal(error.params[0], 'Closing Link: 127.0.0.1 (Registration timeout)');
    pinging.on = false;
    await pings;
  });

  it('a registered client that sends half a line and then nothing is PINGed and closed with "Ping timeout"', async () => {
    const client = await TestClient.register(server.port, 'halfline');
    client.sendRaw('PRIVMSG halfline :this line never en');
    await client.expect('PING', 15_000);
    const error = await client.expect('ERROR', 15_000);
    assert.match(error.params[0] ?? '', /^Closing Link: 127\.0\.0\.1 \(Ping timeout: \d+ seconds\)$/);
  });

  it('a registered client trickling one byte at a time of a line that never ends is closed with "Ping timeout": bytes without a line end are not activity', async () => {
    const client = await TestClient.register(server.port, 'trickler');
    const trickling = trickle(client, `PRIVMSG trickler :${'z'.repeat(200)}`, 150);
    const error = await client.expect('ERROR', 20_000);
    assert.match(error.params[0] ?? '', /^Closing Link: 127\.0\.0\.1 \(Ping timeout: \d+ seconds\)$/);
    await client.closed;
    await trickling;
  });
});

describe('a client that never reads', () => {
  const SENDQ = 64 * 1024;
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ limits: { sendQueueBytes: SENDQ } });
  });
  after(async () => {
    await server.stop();
  });

  it('the bytes the server holds for it (its queue and its socket\'s buffer) never pass sendQueueBytes; then it is dropped with "SendQ exceeded"', async () => {
    const reader = await TestClient.register(server.port, 'stone');
    const talker = await TestClient.register(server.port, 'chatty');
    for (const client of [reader, talker]) {
      client.send('JOIN #deaf');
      await client.expect('366');
    }
    await talker.roundtrip();
    const { transport } = serverSide(server, 'stone');
    let mostHeld = 0;
    const write = transport.write.bind(transport);
    // Everything queued for a client goes through one write per flush; what the socket still holds after it is what
    // the server keeps in memory for that client.
    transport.write = (data: Buffer): boolean => {
      const written = write(data);
      mostHeld = Math.max(mostHeld, transport.writableLength);
      return written;
    };
    reader.socket.pause();
    const text = `:${'x'.repeat(440)}`;
    let quit: Received | undefined;
    for (let batch = 0; batch < 600 && quit === undefined; batch++) {
      talker.sendRaw(`PRIVMSG #deaf ${text}\r\n`.repeat(40));
      quit = (await talker.roundtrip()).find((m) => m.command === 'QUIT');
    }
    assert.ok(quit !== undefined, 'the client that never reads was dropped');
    assert.deepEqual(quit.params, ['SendQ exceeded']);
    assert.ok(mostHeld > 0, 'the socket did back up');
    assert.ok(mostHeld <= SENDQ, `the server held ${String(mostHeld)} bytes for it, more than sendQueueBytes (${String(SENDQ)})`);
    reader.socket.resume();
    await reader.closed;
    await talker.quit();
  });
});

describe('JOIN, PART and NICK storms', () => {
  const FLOOD = { enabled: true, burst: 10, perSecond: 10, maxQueued: 50 };
  let server: TestServer;
  let watcher: TestClient;
  let bystander: TestClient;
  before(async () => {
    server = await startTestServer({ limits: { flood: FLOOD } });
    watcher = await TestClient.register(server.port, 'watcher');
    bystander = await TestClient.register(server.port, 'bystander');
  });
  after(async () => {
    watcher.close();
    bystander.close();
    await server.stop();
  });

  /** JOIN, PART and NICK in turn, `count` lines in one write. */
  const storm = (room: string, nick: string, count: number): string => {
    const lines: string[] = [];
    for (let i = 0; lines.length < count; i++) lines.push(`JOIN ${room}`, `PART ${room} :again`, `NICK ${nick}${String(i % 2)}`);
    return `${lines.slice(0, count).join('\r\n')}\r\n`;
  };
  const stormEvents = (messages: readonly Received[], room: string): Received[] =>
    messages.filter((m) => (m.command === 'JOIN' || m.command === 'PART') && m.params[0] === room);

  it('a storm within flood.maxQueued is slowed to flood.perSecond: every command runs, in order, after the burst at the flood rate', async () => {
    const room = '#slowed';
    watcher.send(`JOIN ${room}`);
    await watcher.expect('366');
    watcher.drain();
    const stormer = await TestClient.register(server.port, 'patient');
    await sleep(1100); // the budget refills to a full burst after registration
    const start = Date.now();
    stormer.sendRaw(storm(room, 'patient', 40));
    const seen: number[] = [];
    while (seen.length < 27) {
      // 40 lines: 14 JOIN, 13 PART (and 13 NICK); the watcher sees each JOIN and PART.
      await watcher.expect((m) => (m.command === 'JOIN' || m.command === 'PART') && m.params[0] === room, 20_000);
      seen.push(Date.now() - start);
    }
    // 30 commands past the burst of 10 at 10 a second: the last runs about 3 s after the first.
    assert.ok((seen.at(-1) ?? 0) >= 2500, `the storm was slowed down (last event after ${String(seen.at(-1))} ms)`);
    assert.ok(!stormer.isClosed);
    stormer.close();
  });

  it('one client storming past flood.maxQueued is closed with "Excess Flood" after at most burst + maxQueued commands, and a bystander is served promptly throughout', async () => {
    const room = '#stormy';
    watcher.send(`JOIN ${room}`);
    await watcher.expect('366');
    watcher.drain();
    const stormer = await TestClient.register(server.port, 'stormer');
    stormer.sendRaw(storm(room, 'stormer', 600));
    const closed = stormer.expect('ERROR', 20_000);
    const times = await roundTripsDuring(bystander, closed);
    assert.equal((await closed).params[0], 'Closing Link: 127.0.0.1 (Excess Flood)');
    const events = stormEvents(await watcher.roundtrip(), room);
    assert.ok(events.length <= FLOOD.burst + FLOOD.maxQueued, `${String(events.length)} JOIN/PART events ran`);
    assert.ok(Math.max(...times) < 2000, `bystander round trips during the storm (ms): ${times.map(Math.round).join(', ')}`);
  });

  it('lines refused before parsing (invalid UTF-8, NUL, too long) cost flood budget too: a storm of them gets at most burst + maxQueued replies, then "Excess Flood"', async () => {
    const stormer = await TestClient.register(server.port, 'badbytes');
    const bad = Buffer.concat([Buffer.from([0xff, 0x0d, 0x0a]), Buffer.from('PING a\0b\r\n'), Buffer.from(`PING ${'x'.repeat(600)}\r\n`)]);
    stormer.sendRaw(Buffer.concat(Array.from({ length: 200 }, () => bad)));
    const error = await stormer.expect('ERROR', 20_000);
    assert.equal(error.params[0], 'Closing Link: 127.0.0.1 (Excess Flood)');
    const replies = stormer.log.filter((line) => / (FAIL \* INVALID_(UTF8|MESSAGE)|417) /.test(line));
    assert.ok(replies.length <= FLOOD.burst + FLOOD.maxQueued, `${String(replies.length)} replies to 600 bad lines`);
  });

  it('eight clients storming at once are all closed with "Excess Flood"; a bystander is served promptly and a newcomer can still join', async () => {
    const room = '#maelstrom';
    watcher.send(`JOIN ${room}`);
    await watcher.expect('366');
    watcher.drain();
    const stormers = await Promise.all(Array.from({ length: 8 }, (_, i) => TestClient.register(server.port, `gale${String(i)}`)));
    stormers.forEach((stormer, i) => {
      stormer.sendRaw(storm(room, `gale${String(i)}x`, 400));
    });
    const closed = Promise.all(stormers.map((stormer) => stormer.expect('ERROR', 30_000)));
    const times = await roundTripsDuring(bystander, closed);
    for (const error of await closed) assert.equal(error.params[0], 'Closing Link: 127.0.0.1 (Excess Flood)');
    const events = stormEvents(await watcher.roundtrip(), room);
    assert.ok(events.length <= 8 * (FLOOD.burst + FLOOD.maxQueued), `${String(events.length)} JOIN/PART events ran`);
    assert.ok(Math.max(...times) < 2000, `bystander round trips during the storms (ms): ${times.map(Math.round).join(', ')}`);
    const newcomer = await TestClient.register(server.port, 'newcomer');
    newcomer.send(`JOIN ${room}`);
    await newcomer.expect('366', 10_000);
    newcomer.close();
  });
});

describe('a huge room with a fast talker', () => {
  // 10,000 members take minutes to join on a 2-core machine (every JOIN goes to everyone already in: N²/2 lines),
  // too long for the suite; NATTER_HUGE_ROOM_MEMBERS=10000 runs the full size by hand.
  const MEMBERS = Number(process.env['NATTER_HUGE_ROOM_MEMBERS'] ?? 2000);
  const MESSAGES = 100;
  const FLOOD = { enabled: true, burst: 10, perSecond: 20, maxQueued: 200 };
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ limits: { flood: FLOOD, maxConnections: MEMBERS + 100 } });
  });
  after(async () => {
    await server.stop();
  });

  it(`${String(MEMBERS)} members: the talker is slowed by flood control, every member gets every message in order, nobody who reads is dropped, a bystander is served promptly`, { timeout: Math.max(600_000, MEMBERS * 100) }, async () => {
    const room = '#stadium';
    const crowd = startCrowd({ port: server.port, members: MEMBERS, channel: room, batch: 250 });
    try {
      const joinMs = await crowd.joined;
      const talker = await TestClient.register(server.port, 'talker', { caps: ['echo-message', 'server-time'] });
      talker.send(`JOIN ${room}`);
      await talker.expect('366', 60_000);
      const bystander = await TestClient.register(server.port, 'outsider');
      await talker.roundtrip();
      await sleep(600); // a full burst after JOIN
      const start = Date.now();
      talker.sendRaw(Array.from({ length: MESSAGES }, (_, i) => `PRIVMSG ${room} :seq ${String(i)}\r\n`).join(''));
      const echoes = (async () => {
        const times: number[] = [];
        for (let i = 0; i < MESSAGES; i++) {
          const echo = await talker.expect((m) => m.command === 'PRIVMSG' && m.params[1] === `seq ${String(i)}`, 120_000);
          times.push(Date.parse(echo.tags?.get('time') ?? ''));
        }
        return times;
      })();
      const times = await roundTripsDuring(bystander, echoes);
      const stamps = await echoes;
      let report = await crowd.report();
      for (const deadline = Date.now() + 120_000; report.fewest < MESSAGES && report.closed === 0 && Date.now() < deadline; report = await crowd.report()) await sleep(250);
      const deliveredMs = Date.now() - start;
      assert.deepEqual(report, { open: MEMBERS, closed: 0, firstError: undefined, fewest: MESSAGES, most: MESSAGES, outOfOrder: 0 });
      // The server stamped the messages as it ran them: past the burst, 20 a second.
      const spreadMs = (stamps.at(-1) ?? 0) - (stamps[0] ?? 0);
      assert.ok(spreadMs >= ((MESSAGES - FLOOD.burst) / FLOOD.perSecond) * 1000 * 0.8, `the talker was slowed down (its messages span ${String(spreadMs)} ms)`);
      assert.ok(!talker.isClosed, 'the talker stayed within maxQueued and is not dropped');
      assert.ok(Math.max(...times) < 3000, `bystander round trips (ms): ${times.map(Math.round).join(', ')}`);
      // Recorded for the report of issue 10: how long this takes here.
      console.log(`# huge room: ${String(MEMBERS)} members joined in ${String(joinMs)} ms; ${String(MESSAGES)} messages delivered to all in ${String(deliveredMs)} ms; bystander round trips max ${String(Math.round(Math.max(...times)))} ms`);
      talker.close();
      bystander.close();
    } finally {
      crowd.stop();
    }
  });
});

describe('oversized tag blocks with many tags', () => {
  let server: TestServer;
  let client: TestClient;
  before(async () => {
    server = await startTestServer();
    client = await TestClient.register(server.port, 'tagger');
  });
  after(async () => {
    client.close();
    await server.stop();
  });

  /** "@k0;k1;...;kN " padded with the last key's value so the block, its space included, is exactly `total` bytes. */
  const manyTags = (total: number): string => {
    const keys: string[] = [];
    let length = 2; // '@' and the space
    for (let i = 0; length + `k${String(i)};`.length < total - 8; i++) {
      keys.push(`k${String(i)}`);
      length += `k${String(i)};`.length;
    }
    const block = `@${keys.join(';')};last=`;
    return `${block}${'v'.repeat(total - block.length - 1)} `;
  };

  it('about 1,700 tags filling exactly 8191 bytes are accepted; a byte more is 417, and the connection keeps working', async () => {
    const fits = manyTags(8191);
    assert.equal(Buffer.byteLength(fits), 8191);
    assert.ok(fits.split(';').length > 1500);
    client.send(`${fits}PING :many`);
    assert.deepEqual((await client.roundtrip()).map((m) => [m.command, m.params[1]]), [['PONG', 'many']]);
    client.send(`${manyTags(8192)}PING :many`);
    assert.deepEqual((await client.roundtrip()).map((m) => m.command), ['417']);
    client.send('PING :after');
    assert.equal((await client.expect('PONG')).params[1], 'after');
  });

  it('a tag value of escapes (\\s, \\:, \\\\) at the limit is accepted, one byte more is 417', async () => {
    const escaped = (total: number): string => {
      const room = total - '@e= '.length;
      // Whole escapes only (6 bytes each), then plain bytes to the exact length.
      return `@e=${'\\s\\:\\\\'.repeat(Math.floor(room / 6))}${'x'.repeat(room % 6)} `;
    };
    assert.equal(Buffer.byteLength(escaped(8191)), 8191);
    client.send(`${escaped(8191)}PING :escaped`);
    assert.deepEqual((await client.roundtrip()).map((m) => [m.command, m.params[1]]), [['PONG', 'escaped']]);
    client.send(`${escaped(8192)}PING :escaped`);
    assert.deepEqual((await client.roundtrip()).map((m) => m.command), ['417']);
  });
});

describe('upload floods', () => {
  const PASSWORD = 'correct-horse-battery';
  const PER_MINUTE = 4;
  let server: TestServer;
  let origin: string;
  before(async () => {
    server = await startTestServer({
      http: { listen: ['127.0.0.1:0'] },
      uploads: { maxBytes: 256 * 1024, quotaBytes: 300 * 1024, perMinute: PER_MINUTE },
      accounts: { maxFailedLogins: 1000 },
    });
    origin = `http://127.0.0.1:${String(server.httpAddresses[0]?.port ?? assert.fail('no HTTP port'))}`;
  });
  after(async () => {
    await server.stop();
  });

  const upload = async (account: string, body: Buffer): Promise<Response> =>
    fetch(`${origin}/uploads`, {
      method: 'POST',
      body,
      headers: { authorization: `Basic ${Buffer.from(`${account}:${PASSWORD}`).toString('base64')}`, 'content-type': 'application/octet-stream' },
    });
  const solidPng = (): Promise<Buffer> => sharp({ create: { width: 4, height: 4, channels: 3, background: '#36c' } }).png().toBuffer();
  /** Random pixels: PNG cannot compress them, so the stored size stays near 256 * 256 * 3 bytes. */
  const noisePng = (): Promise<Buffer> => {
    const pixels = Buffer.alloc(256 * 256 * 3);
    for (let i = 0; i < pixels.length; i++) pixels[i] = Math.floor(Math.random() * 256);
    return sharp(pixels, { raw: { width: 256, height: 256, channels: 3 } }).png({ compressionLevel: 0 }).toBuffer();
  };

  it('a burst of 12 uploads at once by one account: uploads.perMinute of them are stored, the rest get 429 with a message and Retry-After', async () => {
    await createAccount(server.server.network, server.store, server.server.auth, 'burster', PASSWORD);
    const png = await solidPng();
    const responses = await Promise.all(Array.from({ length: 12 }, () => upload('burster', png)));
    const statuses = responses.map((response) => response.status).sort((a, b) => a - b);
    assert.deepEqual(statuses, [...Array<number>(PER_MINUTE).fill(201), ...Array<number>(12 - PER_MINUTE).fill(429)]);
    for (const response of responses.filter((r) => r.status === 429)) {
      assert.match(await response.text(), /^Too many uploads: at most 4 a minute; try again in \d+ seconds$/);
      assert.match(response.headers.get('retry-after') ?? '', /^\d+$/);
    }
    const id = (await server.store.findAccount('burster'))?.id ?? assert.fail('no account');
    assert.equal((await server.store.listUploads(id)).length, PER_MINUTE);
  });

  it('uploads sent at once that together pass the quota: only what fits is stored, the rest get 507, and the account stays within uploads.quotaBytes', async () => {
    await createAccount(server.server.network, server.store, server.server.auth, 'hoarder', PASSWORD);
    const images = await Promise.all([noisePng(), noisePng(), noisePng()]);
    const responses = await Promise.all(images.map((image) => upload('hoarder', image)));
    const statuses = responses.map((response) => response.status).sort((a, b) => a - b);
    assert.deepEqual(statuses, [201, 507, 507], 'one ~197 KiB image fits 300 KiB, a second would not');
    for (const response of responses.filter((r) => r.status === 507)) assert.match(await response.text(), /^Upload quota exceeded/);
    const id = (await server.store.findAccount('hoarder'))?.id ?? assert.fail('no account');
    assert.ok((await server.store.uploadUsage(id)) <= 300 * 1024);
  });
});

describe('operator password guessing', () => {
  const PASSWORD = 'the operator password';
  let server: TestServer;
  before(async () => {
    server = await startTestServer({
      opers: [
        { name: 'root', password: await hashPassword(PASSWORD) },
        { name: 'admin', password: await hashPassword(PASSWORD) },
      ],
      accounts: { maxFailedLogins: 3, failedLoginWindowSeconds: 60 },
    });
  });
  after(async () => {
    await server.stop();
  });

  const isOper = async (client: TestClient): Promise<boolean> => {
    client.send(`MODE ${client.nick}`);
    return /o/.test((await client.expect('221')).params[1] ?? '');
  };

  it('after accounts.maxFailedLogins wrong OPER passwords for one operator name, the right one is refused too (464, saying for how long), from any address', async () => {
    const guesser = await TestClient.register(server.port, 'opguess');
    for (let i = 0; i < 3; i++) {
      guesser.send(`OPER root wrong${String(i)}`);
      assert.deepEqual((await guesser.expect('464')).params.slice(1), ['Password incorrect']);
      // Only the name's budget is under test here: the address's is reset after each try, as if each came from elsewhere.
      server.server.loginThrottle.succeed('ip:127.0.0.1');
    }
    guesser.send(`OPER root :${PASSWORD}`);
    assert.match((await guesser.expect('464')).params[1] ?? '', /^Too many failed logins; try again in \d+ seconds$/);
    assert.equal(await isOper(guesser), false);
    guesser.send(`OPER admin :${PASSWORD}`);
    await guesser.expect('381');
    guesser.close();
  });

  it('wrong OPER passwords spread over several names lock out the address, with SASL and NickServ logins sharing the budget', async () => {
    const guesser = await TestClient.register(server.port, 'opspray');
    for (const name of ['alpha', 'beta', 'gamma']) {
      guesser.send(`OPER ${name} nope`);
      await guesser.expect('464');
    }
    guesser.send(`OPER admin :${PASSWORD}`);
    assert.match((await guesser.expect('464')).params[1] ?? '', /^Too many failed logins/);
    assert.equal(await isOper(guesser), false);
    await createAccount(server.server.network, server.store, server.server.auth, 'victimacct', 'an account password');
    const login = await saslPlain(server.port, 'opspray2', 'victimacct', 'an account password');
    assert.equal(login.ok, false, 'SASL from the locked-out address is refused too');
    server.server.loginThrottle.succeed('ip:127.0.0.1');
    guesser.send(`OPER admin :${PASSWORD}`);
    await guesser.expect('381');
    guesser.close();
    login.client.close();
  });
});

describe('the log never holds a password tried', () => {
  it('REGISTER, SASL PLAIN, NickServ IDENTIFY and OPER, right and wrong: the JSON log of a natter process names the attempts, never the passwords', { timeout: 120_000 }, async () => {
    const secrets = {
      registered: 'Reg1stered-Secret-pw',
      saslWrong: 'Sasl-Wrong-Secret-pw',
      identifyWrong: 'Ident-Wrong-Secret-pw',
      operWrong: 'Oper-Wrong-Secret-pw',
      operRight: 'Oper-Right-Secret-pw',
    };
    const folder = mkdtempSync(join(tmpdir(), 'natter-abuse-'));
    const configFile = join(folder, 'natter.json');
    writeFileSync(configFile, JSON.stringify({ data: join(folder, 'data'), logLevel: 'trace', accounts: { maxFailedLogins: 50 }, opers: [{ name: 'boss', password: await hashPassword(secrets.operRight) }] }));
    const natter = await serveNatter(['--config', configFile]);
    try {
      const owner = await TestClient.register(natter.port, 'keeper');
      owner.send(`PRIVMSG NickServ :REGISTER ${secrets.registered}`);
      await owner.expect((m) => m.command === 'NOTICE' && /registered; you are logged in/.test(m.params[1] ?? ''), 20_000);
      owner.send(`OPER boss ${secrets.operWrong}`);
      await owner.expect('464', 20_000);
      owner.send(`OPER boss ${secrets.operRight}`);
      await owner.expect('381', 20_000);
      const stranger = await TestClient.register(natter.port, 'stranger');
      stranger.send(`PRIVMSG NickServ :IDENTIFY keeper ${secrets.identifyWrong}`);
      await stranger.expect((m) => m.command === 'NOTICE' && /Invalid account name or password/.test(m.params[1] ?? ''), 20_000);
      assert.equal((await saslPlain(natter.port, 'sasler', 'keeper', secrets.saslWrong)).ok, false);
      const good = await saslPlain(natter.port, 'sasler2', 'keeper', secrets.registered);
      assert.equal(good.ok, true);
      await natter.run.logLine('failed OPER attempt');
      await natter.run.logLine('operator logged in');
      await natter.run.logLine('failed login', { after: 1 });
      for (const client of [owner, stranger, good.client]) client.close();
    } finally {
      await natter.stop();
      rmSync(folder, { recursive: true, force: true });
    }
    const output = natter.run.stdout + natter.run.stderr;
    assert.ok(output.length > 0);
    for (const [what, secret] of Object.entries(secrets)) {
      assert.ok(!output.includes(secret), `the log holds the ${what} password`);
      assert.ok(!output.includes(Buffer.from(secret).toString('base64')), `the log holds the ${what} password in base64`);
    }
    assert.ok(!output.includes(Buffer.from(`\0keeper\0${secrets.saslWrong}`).toString('base64')), 'the log holds a SASL payload');
  });
});
