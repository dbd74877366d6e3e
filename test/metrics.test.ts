/**
 * Operations (issue 10, docs/operations.md): GET /metrics in the Prometheus text format (connections, registrations,
 * messages, deliveries, SendQ drops, errors, store latency; loopback only or with a bearer token), GET /readyz (200
 * when the server can take clients, 503 naming why not), and log lines about a connection carrying its session id.
 * In cluster mode every metric carries the node's id as the label `node`.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import type { Logger } from 'pino';
import WebSocket from 'ws';
import { startNatter } from '../src/cli/compose.js';
import { ConfigError, parseConfig } from '../src/config/load.js';
import type { ConfigFile } from '../src/config/schema.js';
import { TestClient } from './helpers/client.js';
import type { Received } from './helpers/client.js';
import { join } from './helpers/clients.js';
import { postgresUrlWithSchema } from './helpers/durability.js';
import { createSchema, dropSchema, freshSchemaName, postgresAvailable } from './helpers/postgres.js';
import { serveNatter } from './helpers/process.js';
import { REDIS_URL, deleteNamespace, freshNamespace, redisAvailable } from './helpers/redis.js';
import { startTestServer, tempDataDir } from './helpers/server.js';
import type { TestServer } from './helpers/server.js';

/** Generous: the machine may be busy with other test runs. */
const SLOW_MS = 15_000;
const TOKEN = 'metrics-token-for-tests-0123456789';

interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** The samples of a Prometheus text exposition (comments skipped). */
function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(match !== null, `a well-formed sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1] ?? ''] = pair[2] ?? '';
    samples.push({ name: match[1] ?? '', labels, value: Number(match[3]) });
  }
  return samples;
}

/** The value of the one sample named `name` whose labels include `labels`. */
function valueOf(samples: readonly Sample[], name: string, labels: Readonly<Record<string, string>> = {}): number {
  const found = samples.filter((sample) => sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value));
  assert.equal(found.length, 1, `one sample ${name}${JSON.stringify(labels)}, found ${String(found.length)}`);
  return found[0]?.value ?? NaN;
}

function httpPort(server: TestServer): number {
  return server.httpAddresses[0]?.port ?? assert.fail('the server has no HTTP listener');
}

async function get(server: TestServer, path: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string; headers: Headers }> {
  const response = await fetch(`http://127.0.0.1:${String(httpPort(server))}${path}`, { headers });
  return { status: response.status, text: await response.text(), headers: response.headers };
}

async function scrape(server: TestServer, headers: Record<string, string> = {}): Promise<Sample[]> {
  const response = await get(server, '/metrics', headers);
  assert.equal(response.status, 200, response.text);
  assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return parseExposition(response.text);
}

/** Scrapes until `check` holds (a close is seen by the server a moment after the client sees it). */
async function scrapeUntil(server: TestServer, check: (samples: Sample[]) => boolean, what: string): Promise<Sample[]> {
  const deadline = Date.now() + SLOW_MS;
  for (;;) {
    const samples = await scrape(server);
    if (check(samples)) return samples;
    if (Date.now() > deadline) assert.fail(`${what}; last scrape:\n${samples.filter((s) => s.name.startsWith('natter_')).map((s) => `${s.name}${JSON.stringify(s.labels)} ${String(s.value)}`).join('\n')}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A pino logger whose JSON lines land in `lines`, for tests that read what the server logged. */
function capturingLogger(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line.startsWith('{')) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'info' }, sink), lines };
}

/** startTestServer's defaults, with HTTP on an ephemeral port and the log captured. */
async function startLoggedServer(overrides: ConfigFile = {}): Promise<{ server: TestServer; lines: Array<Record<string, unknown>> }> {
  const data = tempDataDir();
  const { limits, ...rest } = overrides;
  const config = parseConfig(
    {
      listen: ['127.0.0.1:0'],
      http: { listen: ['127.0.0.1:0'] },
      serverName: 'test.natter',
      data: data.path,
      ...rest,
      limits: { connectionsPerIp: 0, ...limits, flood: { enabled: false, ...limits?.flood } },
    },
    'test',
  );
  const { logger, lines } = capturingLogger();
  const natter = await startNatter({ config, logger });
  const port = natter.addresses[0]?.port ?? assert.fail('no IRC port');
  return {
    lines,
    server: {
      ...natter,
      port,
      async stop(reason?: string) {
        await natter.stop(reason);
        data.remove();
      },
    },
  };
}

describe('GET /metrics', () => {
  let server: TestServer;
  let lines: Array<Record<string, unknown>>;
  before(async () => {
    ({ server, lines } = await startLoggedServer({ limits: { sendQueueBytes: 65536 } }));
  });
  after(async () => {
    await server.stop();
  });

  it('counts connections, registrations, accepted messages and their deliveries (echoes included)', { timeout: 60_000 }, async () => {
    const before = await scrape(server);
    const echoer = await TestClient.register(server.port, 'echoer', { caps: ['echo-message'] });
    const bob = await TestClient.register(server.port, 'bob');
    const carol = await TestClient.register(server.port, 'carol');
    try {
      for (const client of [echoer, bob, carol]) await join(client, '#metrics');
      await Promise.all([echoer.roundtrip(), bob.roundtrip(), carol.roundtrip()]);
      echoer.send('PRIVMSG #metrics :one');
      echoer.send('PRIVMSG #metrics :two');
      echoer.send('NOTICE #metrics :three');
      // Every copy arrived: each message went to bob, to carol, and back to the sender (echo-message).
      for (const client of [echoer, bob, carol]) {
        for (const text of ['one', 'two', 'three']) await client.expect((m: Received) => m.params[0] === '#metrics' && m.params[1] === text, SLOW_MS);
      }
      const during = await scrape(server);
      const delta = (name: string, labels: Record<string, string> = {}): number => valueOf(during, name, labels) - valueOf(before, name, labels);
      assert.equal(delta('natter_connections_accepted_total', { transport: 'tcp' }), 3);
      assert.equal(delta('natter_connections_open', { transport: 'tcp' }), 3);
      assert.equal(delta('natter_registrations_total'), 3);
      assert.equal(delta('natter_users'), 3);
      assert.equal(delta('natter_messages_accepted_total', { command: 'PRIVMSG' }), 2);
      assert.equal(delta('natter_messages_accepted_total', { command: 'NOTICE' }), 1);
      assert.equal(delta('natter_messages_accepted_total', { command: 'TAGMSG' }), 0);
      assert.equal(delta('natter_message_deliveries_total'), 9, 'three messages, three copies each');
      assert.ok(delta('natter_lines_sent_total') >= 9, 'every delivery is a line sent');
      assert.ok(delta('natter_store_operation_seconds_count', { operation: 'history_append' }) >= 3, 'each message was appended to history');
      const appends = valueOf(during, 'natter_store_operation_seconds_count', { operation: 'history_append' });
      assert.equal(valueOf(during, 'natter_store_operation_seconds_bucket', { operation: 'history_append', le: '+Inf' }), appends);
      assert.equal(delta('natter_sendq_drops_total'), 0);
      assert.equal(delta('natter_errors_total', { kind: 'store' }), 0);
    } finally {
      await Promise.all([echoer.quit(), bob.quit(), carol.quit()]);
    }
    await scrapeUntil(server, (samples) => valueOf(samples, 'natter_connections_open', { transport: 'tcp' }) === valueOf(before, 'natter_connections_open', { transport: 'tcp' }), 'the three connections are counted closed');
  });

  it('counts WebSocket connections apart from TCP', { timeout: 60_000 }, async () => {
    const before = await scrape(server);
    const ws = new WebSocket(`ws://127.0.0.1:${String(httpPort(server))}/`, ['text.ircv3.net']);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    try {
      const during = await scrapeUntil(server, (samples) => valueOf(samples, 'natter_connections_open', { transport: 'websocket' }) === 1, 'the WebSocket connection is open');
      assert.equal(valueOf(during, 'natter_connections_accepted_total', { transport: 'websocket' }) - valueOf(before, 'natter_connections_accepted_total', { transport: 'websocket' }), 1);
      assert.equal(valueOf(during, 'natter_connections_accepted_total', { transport: 'tcp' }), valueOf(before, 'natter_connections_accepted_total', { transport: 'tcp' }));
    } finally {
      ws.close();
    }
    await scrapeUntil(server, (samples) => valueOf(samples, 'natter_connections_open', { transport: 'websocket' }) === 0, 'the WebSocket connection is counted closed');
  });

  it('a client that stops reading is dropped with "SendQ exceeded", counted, and logged with its session id', { timeout: 120_000 }, async () => {
    const before = await scrape(server);
    const slow = await TestClient.register(server.port, 'sloth');
    const talker = await TestClient.register(server.port, 'talker');
    try {
      for (const client of [slow, talker]) await join(client, '#busy');
      await talker.roundtrip();
      slow.socket.pause(); // reads nothing from now on: the server's queue for it can only grow
      const text = `:${'x'.repeat(440)}`;
      let quit: Received | undefined;
      for (let batch = 0; batch < 400 && quit === undefined; batch++) {
        talker.sendRaw(`PRIVMSG #busy ${text}\r\n`.repeat(40));
        quit = (await talker.roundtrip()).find((m) => m.command === 'QUIT');
      }
      assert.ok(quit !== undefined, 'the reader that never reads was dropped');
      assert.deepEqual(quit.params, ['SendQ exceeded']);
      const after = await scrape(server);
      assert.equal(valueOf(after, 'natter_sendq_drops_total') - valueOf(before, 'natter_sendq_drops_total'), 1);
      assert.equal(valueOf(after, 'natter_flood_disconnects_total'), valueOf(before, 'natter_flood_disconnects_total'));
      const closed = lines.find((line) => line['msg'] === 'connection closed' && line['reason'] === 'SendQ exceeded');
      assert.ok(closed !== undefined, 'the drop is logged');
      assert.equal(closed['level'], 40, 'as a warning');
      assert.equal(closed['nick'], 'sloth');
      const opened = lines.find((line) => line['msg'] === 'connection opened' && line['session'] === closed['session']);
      assert.ok(opened !== undefined, `the drop names the session its connection opened with (${String(closed['session'])})`);
    } finally {
      slow.socket.resume();
      slow.close();
      await talker.quit();
    }
  });

  it('is served to loopback clients, but not to a request a proxy relayed', async () => {
    assert.equal((await get(server, '/metrics')).status, 200);
    const relayed = await get(server, '/metrics', { 'X-Forwarded-For': '203.0.113.9' });
    assert.equal(relayed.status, 403);
    assert.match(relayed.text, /loopback clients only; set metrics\.token/);
    assert.equal((await get(server, '/metrics', { Forwarded: 'for=203.0.113.9' })).status, 403);
  });

  it('includes the process metrics and no node label in single mode', async () => {
    const samples = await scrape(server);
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'process_open_fds', 'nodejs_heap_size_used_bytes']) {
      assert.ok(samples.some((sample) => sample.name === name), `${name} is exposed`);
    }
    assert.equal(valueOf(samples, 'natter_info'), 1);
    for (const statistic of ['p50', 'p99', 'max']) {
      const lag = valueOf(samples, 'natter_event_loop_lag_seconds', { statistic });
      assert.ok(lag >= 0 && lag < 60, `event-loop lag ${statistic} is a plausible number of seconds (${String(lag)})`);
    }
    assert.ok(samples.every((sample) => sample.labels['node'] === undefined));
  });
});

describe('GET /metrics with metrics.token', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ http: { listen: ['127.0.0.1:0'] }, metrics: { token: TOKEN } });
  });
  after(async () => {
    await server.stop();
  });

  it('answers 401 without the token or with a wrong one, and 200 with it', async () => {
    const without = await get(server, '/metrics');
    assert.equal(without.status, 401);
    assert.equal(without.headers.get('www-authenticate'), 'Bearer realm="natter metrics"');
    assert.doesNotMatch(without.text, /natter_/);
    assert.equal((await get(server, '/metrics', { Authorization: `Bearer ${TOKEN.slice(0, -1)}x` })).status, 401);
    assert.equal((await get(server, '/metrics', { Authorization: `Basic ${TOKEN}` })).status, 401);
    const samples = await scrape(server, { Authorization: `Bearer ${TOKEN}` });
    assert.ok(samples.some((sample) => sample.name === 'natter_registrations_total'));
    // With a token, a relayed request is fine: the token is the proof.
    assert.equal((await get(server, '/metrics', { Authorization: `bearer ${TOKEN}`, 'X-Forwarded-For': '203.0.113.9' })).status, 200);
  });

  it('leaves /healthz and /readyz open', async () => {
    assert.equal((await get(server, '/healthz')).status, 200);
    assert.equal((await get(server, '/readyz')).status, 200);
  });
});

describe('metrics configuration', () => {
  it('metrics.enabled false: /metrics is not served', async () => {
    const server = await startTestServer({ http: { listen: ['127.0.0.1:0'] }, metrics: { enabled: false } });
    try {
      assert.equal((await get(server, '/metrics')).status, 404);
      assert.equal((await get(server, '/readyz')).status, 200, '/readyz does not depend on metrics');
    } finally {
      await server.stop();
    }
  });

  it('a short token is refused naming metrics.token', () => {
    assert.throws(() => parseConfig({ metrics: { token: 'short' } }, 'test'), (error: unknown) => error instanceof ConfigError && /metrics\.token/.test(error.message));
  });
});

describe('GET /readyz', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ http: { listen: ['127.0.0.1:0'] } });
  });
  after(async () => {
    await server.stop();
  });

  it('answers 200 while the server can take clients, and 503 naming the reason while it is out of service', async () => {
    const ready = await get(server, '/readyz');
    assert.equal(ready.status, 200);
    assert.deepEqual(JSON.parse(ready.text), { status: 'ready', ready: true });
    server.server.setOutOfService('test: out of service');
    try {
      const out = await get(server, '/readyz');
      assert.equal(out.status, 503);
      assert.deepEqual(JSON.parse(out.text), { status: 'not ready', ready: false, reason: 'test: out of service' });
      assert.equal((await get(server, '/healthz')).status, 503, '/healthz agrees');
    } finally {
      server.server.setOutOfService(undefined);
    }
    assert.equal((await get(server, '/readyz')).status, 200, 'ready again');
  });

  it('answers 503 once the store is closed, while /healthz (liveness) stays 200; the lost message counts as a store error', { timeout: 60_000 }, async () => {
    const client = await TestClient.register(server.port, 'writer');
    try {
      await join(client, '#closing');
      const before = await scrape(server);
      await server.store.close();
      const notReady = await get(server, '/readyz');
      assert.equal(notReady.status, 503);
      assert.deepEqual(JSON.parse(notReady.text), { status: 'not ready', ready: false, reason: 'store unreachable' });
      assert.equal((await get(server, '/healthz')).status, 200, 'the process itself is alive');
      client.send('PRIVMSG #closing :lost');
      const fail = await client.expect('FAIL', SLOW_MS);
      assert.equal(fail.params[1], 'MESSAGE_NOT_STORED');
      const after = await scrape(server);
      assert.equal(valueOf(after, 'natter_errors_total', { kind: 'store' }) - valueOf(before, 'natter_errors_total', { kind: 'store' }), 1);
      assert.equal(valueOf(after, 'natter_messages_accepted_total', { command: 'PRIVMSG' }) - valueOf(before, 'natter_messages_accepted_total', { command: 'PRIVMSG' }), 1, 'accepted, then not stored');
      assert.equal(valueOf(after, 'natter_message_deliveries_total'), valueOf(before, 'natter_message_deliveries_total'), 'and so delivered to nobody');
    } finally {
      client.close();
    }
  });
});

describe('log lines about a connection carry its session id', () => {
  it('natter serve logs connect, register, a refused login and the quit with one session id', { timeout: 60_000 }, async () => {
    const served = await serveNatter([]);
    try {
      const client = await TestClient.register(served.port, 'logged');
      client.send('PRIVMSG NickServ :IDENTIFY nobody wrong-password');
      await client.expect((m) => m.command === 'NOTICE' && /Invalid account name or password/.test(m.params[1] ?? ''), SLOW_MS);
      await client.quit();
      const opened = await served.run.logLine('connection opened');
      const session = opened['session'];
      assert.equal(typeof session, 'string');
      assert.match(String(session), /^[a-z0-9]+\.\d+$/, 'the id the session has on the network, "<node>.<n>"');
      assert.deepEqual({ ip: opened['ip'], transport: opened['transport'] }, { ip: '127.0.0.1', transport: 'tcp' });
      const registered = await served.run.logLine('registered');
      assert.deepEqual({ session: registered['session'], nick: registered['nick'] }, { session, nick: 'logged' });
      const failed = await served.run.logLine('failed login');
      assert.deepEqual({ session: failed['session'], mechanism: failed['mechanism'] }, { session, mechanism: 'NickServ' });
      const closed = await served.run.logLine('connection closed');
      assert.deepEqual({ session: closed['session'], nick: closed['nick'], reason: closed['reason'] }, { session, nick: 'logged', reason: 'Quit' });
      assert.doesNotMatch(served.run.stdout, /test done/, "the client's quit text is not logged");
    } finally {
      await served.stop();
    }
  });
});

const clusterSkip = (await redisAvailable()) ?? (await postgresAvailable());

describe('metrics in cluster mode', { skip: clusterSkip }, () => {
  const schema = freshSchemaName('natter_metrics');
  const namespace = freshNamespace('natter_metrics');
  let node: TestServer | undefined;
  before(async () => {
    await createSchema(schema);
    node = await startTestServer({ database: postgresUrlWithSchema(schema), cluster: { redis: REDIS_URL, namespace }, http: { listen: ['127.0.0.1:0'] } });
  }, { timeout: 30_000 });
  after(async () => {
    await node?.stop();
    await dropSchema(schema);
    await deleteNamespace(namespace);
  }, { timeout: 30_000 });

  it('every metric carries the node id as the label "node"; /readyz names the node', { timeout: 30_000 }, async () => {
    const running = node ?? assert.fail('no node');
    const id = running.server.network.bus.nodeId;
    const samples = await scrape(running);
    assert.ok(samples.length > 50);
    for (const sample of samples) assert.equal(sample.labels['node'], id, `${sample.name} carries node="${id}"`);
    assert.ok(samples.some((sample) => sample.name === 'natter_store_operation_seconds_count' && sample.labels['operation'] === 'history_append'));
    const ready = await get(running, '/readyz');
    assert.equal(ready.status, 200);
    assert.deepEqual(JSON.parse(ready.text), { status: 'ready', ready: true, node: id });
  });
});
