/**
 * The cluster bus (issue 9): the codec, the Bus conformance suite against the in-process MemoryHub and the real
 * Redis, and what only RedisBus does (keys, health, fencing, node status).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CodecError, decodeEnvelope, encodeEnvelope, type Envelope } from '../src/bus/codec.js';
import { MemoryHub } from '../src/bus/memory-hub.js';
import { RedisBus, type RedisBusOptions } from '../src/bus/redis.js';
import type { NetworkEvent } from '../src/core/events.js';
import type { Bus } from '../src/core/ports.js';
import { message, runBusSuite, sampleEvents } from './bus/bus-suite.js';
import { deleteNamespace, freshNamespace, keysOf, REDIS_URL, redisAvailable, startRedisProxy, withRedis } from './helpers/redis.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(condition: () => boolean, what: string, withinMs = 10_000): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${withinMs} ms waiting for ${what}`);
    await sleep(5);
  }
}

describe('bus codec', () => {
  it('every event variant round-trips: Maps, undefined fields, absent options', () => {
    let seq = 0;
    for (const event of sampleEvents()) {
      const envelope: Envelope = { origin: 'node-a', seq: ++seq, event };
      const text = encodeEnvelope(envelope);
      assert.equal(typeof text, 'string');
      assert.deepEqual(decodeEnvelope(text), envelope, event.type);
    }
  });

  it('keeps a field holding undefined apart from an absent option', () => {
    const decoded = decodeEnvelope(encodeEnvelope({ origin: 'a', seq: 1, event: message('x') })).event;
    assert.ok(Object.hasOwn(decoded, 'tags') && Object.hasOwn(decoded, 'device'), 'present, holding undefined');
    assert.ok(!Object.hasOwn(decoded, 'lines'), 'absent stays absent');
  });

  it('writes tags as [key, value] pairs and strings exactly, lone surrogates included', () => {
    const event: NetworkEvent = {
      type: 'privateMessage',
      from: 'a.1',
      command: 'PRIVMSG',
      to: 'b.1',
      text: 'odd \ud800 and emoji 🎉 and "quotes"',
      tags: new Map([['+k', 'v']]),
      time: 1,
      msgid: 'm',
      device: undefined,
    };
    const text = encodeEnvelope({ origin: 'a', seq: 1, event });
    assert.ok(text.includes('"tags":[["+k","v"]]'), text);
    assert.deepEqual(decodeEnvelope(text).event, event);
  });

  it('drops fields it does not know (a newer node added them)', () => {
    const text = JSON.stringify({ v: 1, o: 'a', s: 3, e: { type: 'roomDropped', channel: '#x', time: 5, shiny: true } });
    assert.deepEqual(decodeEnvelope(text), { origin: 'a', seq: 3, event: { type: 'roomDropped', channel: '#x', time: 5 } });
  });

  const good = { v: 1, o: 'a', s: 1, e: { type: 'wallops', source: 's', text: 't', time: 1 } };
  const malformed: Array<[string, string]> = [
    ['not JSON', '{"v":1,'],
    ['not an object', '[1,2]'],
    ['another version', JSON.stringify({ ...good, v: 2 })],
    ['no origin', JSON.stringify({ ...good, o: '' })],
    ['a seq that is not a positive integer', JSON.stringify({ ...good, s: 1.5 })],
    ['a zero seq', JSON.stringify({ ...good, s: 0 })],
    ['no event', JSON.stringify({ ...good, e: null })],
    ['an unknown type', JSON.stringify({ ...good, e: { type: 'launchRockets' } })],
    ['an inherited name as type', JSON.stringify({ ...good, e: { type: 'toString' } })],
    ['a missing field', JSON.stringify({ ...good, e: { type: 'wallops', source: 's', time: 1 } })],
    ['a field of the wrong type', JSON.stringify({ ...good, e: { type: 'wallops', source: 's', text: 5, time: 1 } })],
    ['a number that is not finite', '{"v":1,"o":"a","s":1,"e":{"type":"wallops","source":"s","text":"t","time":1e999}}'],
    ['an unknown command', JSON.stringify({ ...good, e: { ...message('x'), command: 'KILL' } })],
    ['tags that are not pairs', JSON.stringify({ ...good, e: { ...message('x'), tags: [['k']] } })],
    ['tags as an object', JSON.stringify({ ...good, e: { ...message('x'), tags: { k: 'v' } } })],
    ['a bad nested field', JSON.stringify({ ...good, e: { type: 'roomRoleChanged', channel: '#x', time: 1, role: { accountId: 'x', accountName: 'a', rank: 1 } } })],
    ['lines that are not an array', JSON.stringify({ ...good, e: { ...message('x'), lines: 'no' } })],
  ];
  for (const [what, text] of malformed) {
    it(`rejects an envelope with ${what}`, () => {
      assert.throws(() => decodeEnvelope(text), CodecError);
    });
  }
});

runBusSuite('MemoryHub', () => {
  const hub = new MemoryHub();
  return Promise.resolve({
    nodes: (n: number) => Promise.resolve(Array.from({ length: n }, () => hub.bus())),
    kill: (bus: Bus) => {
      hub.kill(bus.nodeId);
      return Promise.resolve();
    },
    dispose: () => Promise.resolve(),
  });
});

/** Short leases, so that a killed node is reaped in about a second. */
const TEST_LEASE_MS = 600;

runBusSuite('RedisBus', async () => {
  const unavailable = await redisAvailable();
  if (unavailable !== undefined) return unavailable;
  const network = freshNamespace();
  const opened: RedisBus[] = [];
  return {
    async nodes(n: number) {
      const buses: RedisBus[] = [];
      // One after the other: a node's connect() returns once the earlier ones know it.
      for (let i = 0; i < n; i++) {
        const bus = await RedisBus.connect({ url: REDIS_URL, network, leaseMs: TEST_LEASE_MS, onError: (error) => assert.fail(error) });
        opened.push(bus);
        buses.push(bus);
      }
      return buses;
    },
    kill(bus: Bus) {
      const redisBus = opened.find((candidate) => candidate === bus);
      assert.ok(redisBus);
      redisBus.simulateCrash();
      return Promise.resolve();
    },
    async dispose() {
      await Promise.all(opened.map((bus) => bus.close()));
      await deleteNamespace(network);
    },
    lossWithinMs: 4 * TEST_LEASE_MS,
    lossQuietMs: 2 * TEST_LEASE_MS,
  };
});

describe('RedisBus', () => {
  let skip: string | undefined;
  let network = '';
  const opened: RedisBus[] = [];
  const errors: Error[] = [];

  before(async () => {
    skip = await redisAvailable();
    network = freshNamespace();
  });
  after(async () => {
    await Promise.all(opened.map((bus) => bus.close()));
    if (skip === undefined) await deleteNamespace(network);
  });

  const connect = async (options: Partial<RedisBusOptions> = {}): Promise<RedisBus> => {
    const bus = await RedisBus.connect({ url: REDIS_URL, network, leaseMs: TEST_LEASE_MS, onError: (error) => errors.push(error), ...options });
    opened.push(bus);
    return bus;
  };

  const test = (title: string, body: () => Promise<void>): void => {
    it(title, { timeout: 30_000 }, async (t) => {
      if (skip !== undefined) {
        t.skip(skip);
        return;
      }
      errors.length = 0;
      await body();
    });
  };

  test('a node holds a lease, a set entry and an inbox, and close() removes all three (twice is fine)', async () => {
    const bus = await connect({ nodeId: 'keys-node' });
    assert.deepEqual(await keysOf(network), [`${network}:inbox:keys-node`, `${network}:node:keys-node`, `${network}:nodes`]);
    assert.ok(await withRedis((redis) => redis.sismember(`${network}:nodes`, 'keys-node')));
    await bus.close();
    await bus.close();
    assert.deepEqual(await keysOf(network), []);
    assert.deepEqual(errors, []);
  });

  test('a node id in use is refused', async () => {
    const bus = await connect({ nodeId: 'twin' });
    await assert.rejects(connect({ nodeId: 'twin' }), /node id twin is in use/);
    await bus.close();
    await assert.rejects(connect({ nodeId: 'has space' }), /node id/);
  });

  test('an unreachable Redis is an error from connect()', async () => {
    await assert.rejects(RedisBus.connect({ url: 'redis://127.0.0.1:1', network, leaseMs: TEST_LEASE_MS }), /cannot connect to Redis at redis:\/\/127\.0\.0\.1:1/);
  });

  test('liveNodes lists the nodes with their lease and what setStatus stored', async () => {
    const a = await connect({ nodeId: 'status-a' });
    const b = await connect({ nodeId: 'status-b' });
    a.setStatus({ sessions: 12, version: '0.1.0' });
    let nodes = await RedisBus.liveNodes(REDIS_URL, network);
    for (let i = 0; i < 50 && nodes[0]?.status['sessions'] !== 12; i++) {
      await sleep(20);
      nodes = await RedisBus.liveNodes(REDIS_URL, network);
    }
    assert.deepEqual(
      nodes.map((node) => node.nodeId),
      ['status-a', 'status-b'],
    );
    const [first] = nodes;
    assert.ok(first);
    assert.equal(first.status['sessions'], 12);
    assert.equal(first.status['version'], '0.1.0');
    assert.equal(first.status['pid'], process.pid);
    assert.ok(first.sinceMs !== undefined && Math.abs(Date.now() - first.sinceMs) < 60_000);
    assert.ok(first.leaseTtlMs > 0 && first.leaseTtlMs <= TEST_LEASE_MS);
    await Promise.all([a.close(), b.close()]);
    assert.deepEqual(await RedisBus.liveNodes(REDIS_URL, network), []);
  });

  test('a malformed inbox entry is reported through onError and skipped', async () => {
    const a = await connect();
    const b = await connect();
    const got: string[] = [];
    b.subscribe((event) => got.push(event.type === 'channelMessage' ? event.text : event.type));
    await withRedis(async (redis) => {
      await redis.xadd(`${network}:inbox:${b.nodeId}`, '*', 'e', '{"v":1,"o":"x","s":1,"e":{"type":"nope"}}');
      await redis.xadd(`${network}:inbox:${b.nodeId}`, '*', 'zzz', '1');
    });
    a.publish(message('after the junk'));
    await waitFor(() => got.includes('after the junk'), 'the good event');
    assert.equal(errors.length, 2, errors.map((error) => error.message).join('; '));
    assert.ok(errors.every((error) => error instanceof CodecError));
    await Promise.all([a.close(), b.close()]);
  });

  test('events read before the first subscribe() are held for it, in order', async () => {
    const a = await connect();
    const b = await connect();
    for (let k = 0; k < 5; k++) a.publish(message(`early${k}`));
    await sleep(200);
    const got: string[] = [];
    b.subscribe((event) => got.push(event.type === 'channelMessage' ? event.text : event.type));
    a.publish(message('late'));
    await waitFor(() => got.length === 6, 'six events');
    assert.deepEqual(got, ['early0', 'early1', 'early2', 'early3', 'early4', 'late']);
    await Promise.all([a.close(), b.close()]);
  });

  test('a dropped connection reports unhealthy then healthy, and nothing is lost or doubled', async () => {
    const health: Array<[boolean, string]> = [];
    const a = await connect({ onHealth: (healthy, why) => health.push([healthy, why]), onError: (error) => errors.push(error) });
    const b = await connect();
    const got: string[] = [];
    b.subscribe((event) => got.push(event.type === 'channelMessage' ? event.text : event.type));
    for (let k = 0; k < 100; k++) a.publish(message(`m${k}`));
    // Kill a's two connections from the server side (by their names), while it keeps publishing.
    await withRedis(async (redis) => {
      const list = await redis.client('LIST');
      for (const line of String(list).split('\n')) {
        const name = /name=(\S+)/.exec(line)?.[1];
        const id = /id=(\d+)/.exec(line)?.[1];
        if (name?.startsWith(`natter:${a.nodeId}:`) === true && id !== undefined) await redis.client('KILL', 'ID', id);
      }
    });
    for (let k = 100; k < 200; k++) a.publish(message(`m${k}`));
    await waitFor(() => got.length >= 200, '200 events');
    await waitFor(() => health.some(([healthy]) => healthy), 'healthy again');
    await sleep(100);
    assert.deepEqual(
      got,
      Array.from({ length: 200 }, (_, k) => `m${k}`),
    );
    const [first] = health;
    assert.ok(first);
    assert.equal(first[0], false, JSON.stringify(health));
    assert.match(first[1], /lost the connection to Redis/);
    assert.equal(health.at(-1)?.[0], true);
    await Promise.all([a.close(), b.close()]);
  });

  test('Redis out of reach for less than the lease: unhealthy, then healthy, and the queued events arrive once, in order', async () => {
    const proxy = await startRedisProxy();
    try {
      const health: Array<[boolean, string]> = [];
      const a = await connect({ url: proxy.url, leaseMs: 3000, onHealth: (healthy, why) => health.push([healthy, why]) });
      const b = await connect({ leaseMs: 3000 });
      const got: string[] = [];
      b.subscribe((event) => got.push(event.type === 'channelMessage' ? event.text : event.type));
      for (let k = 0; k < 50; k++) a.publish(message(`m${k}`));
      await waitFor(() => got.length === 50, 'the first 50');
      proxy.cut();
      await waitFor(() => health.length === 1, 'the outage to be reported');
      for (let k = 50; k < 100; k++) a.publish(message(`m${k}`));
      await sleep(300);
      proxy.restore();
      await waitFor(() => got.length >= 100 && health.length >= 2, 'the rest, and health');
      await sleep(100);
      assert.deepEqual(
        got,
        Array.from({ length: 100 }, (_, k) => `m${k}`),
      );
      assert.deepEqual(
        health.map(([healthy]) => healthy),
        [false, true],
      );
      assert.deepEqual(errors, []);
      await Promise.all([a.close(), b.close()]);
    } finally {
      await proxy.close();
    }
  });

  test('Redis out of reach for longer than the lease: the node is reaped, and when Redis is back it learns it was declared lost', async () => {
    const proxy = await startRedisProxy();
    try {
      const health: Array<[boolean, string]> = [];
      const a = await connect({ url: proxy.url, onHealth: (healthy, why) => health.push([healthy, why]) });
      const b = await connect();
      const got: string[] = [];
      b.subscribe((event) => got.push(event.type === 'channelMessage' ? event.text : event.type));
      const lost: string[] = [];
      b.onNodeLost((id) => lost.push(id));
      proxy.cut();
      a.publish(message('while away'));
      await waitFor(() => lost.length === 1, 'b to reap a', 5000);
      assert.deepEqual(lost, [a.nodeId]);
      proxy.restore();
      await waitFor(() => health.length === 2, 'a to learn it was lost', 5000);
      const [outage, verdict] = health;
      assert.ok(outage && verdict);
      assert.equal(outage[0], false);
      assert.match(outage[1], /lost the connection to Redis/);
      assert.equal(verdict[0], false);
      assert.match(verdict[1], /^this node was declared lost/);
      a.publish(message('after'));
      await sleep(200);
      assert.deepEqual(got, [], 'nothing it wrote got through the fence');
      await Promise.all([a.close(), b.close()]);
      assert.deepEqual(await keysOf(network), []);
    } finally {
      await proxy.close();
    }
  });

  test('a node whose lease expired is declared lost: it says so, is fenced, and another node reports it', async () => {
    const health: Array<[boolean, string]> = [];
    const a = await connect({ onHealth: (healthy, why) => health.push([healthy, why]) });
    const b = await connect();
    const c = await connect();
    const gotB: string[] = [];
    b.subscribe((event) => gotB.push(event.type === 'channelMessage' ? event.text : event.type));
    const lost: string[] = [];
    b.onNodeLost((id) => lost.push(`b:${id}`));
    c.onNodeLost((id) => lost.push(`c:${id}`));
    // As if Redis had been out of reach for longer than the lease: the lease is gone.
    await withRedis((redis) => redis.del(`${network}:node:${a.nodeId}`));
    await waitFor(() => health.length > 0, 'a to notice', 5000);
    const [first] = health;
    assert.ok(first);
    assert.equal(first[0], false);
    assert.match(first[1], /^this node was declared lost/);
    a.publish(message('zombie'));
    await waitFor(() => lost.length > 0, 'the loss', 5000);
    await sleep(2 * TEST_LEASE_MS);
    assert.equal(lost.length, 1, lost.join());
    assert.ok(lost[0]?.endsWith(`:${a.nodeId}`));
    assert.ok(!gotB.includes('zombie'));
    assert.equal(health.length, 1, 'reported once, and final');
    await Promise.all([a.close(), b.close(), c.close()]);
    assert.deepEqual(await keysOf(network), []);
  });

  test('the duty to report a loss passes on when the node that won it dies first', async () => {
    const b = await connect();
    const lost: string[] = [];
    b.onNodeLost((id) => lost.push(id));
    // Remote deliveries (and losses) wait for the first subscribe().
    b.subscribe(() => undefined);
    // A dead node "gone", whose loss a dead node "winner" took on and never reported.
    await withRedis(async (redis) => {
      await redis.hset(`${network}:lost`, 'gone', 'winner');
    });
    await waitFor(() => lost.length > 0, 'b to take the duty over', 5000);
    assert.deepEqual(lost, ['gone']);
    await sleep(200);
    assert.equal(await withRedis((redis) => redis.hlen(`${network}:lost`)), 0, 'done once reported');
    await b.close();
  });
});
