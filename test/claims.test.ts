/**
 * Cluster-wide claims (issue 9: "two users on two nodes can never get the same nick or both found the same room").
 * (a) The Claims contract of core/ports.ts, one suite run against LocalClaims and against RedisClaims on the real
 *     Redis (ARCHITECTURE.md lesson 6; under CI=true the Redis run must not skip).
 * (b) Networks of several nodes joined by MemoryHub and sharing one RedisClaims: sessions on two nodes race for one
 *     nick, and two first JOINs of one new room race, and exactly one wins each time on every node's mirror.
 * (c) One server whose claims answer later, as Redis does: NICK and JOIN over real sockets keep their replies, their
 *     order and their labels.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it, test } from 'node:test';
import { MemoryHub } from '../src/bus/memory-hub.js';
import { ClaimFencedError, RedisClaims } from '../src/bus/redis-claims.js';
import { parseConfig, toServerSettings } from '../src/config/load.js';
import { Rank } from '../src/core/channel.js';
import { ChatError } from '../src/core/errors.js';
import { LocalClaims } from '../src/core/local-claims.js';
import { Network } from '../src/core/network.js';
import type { Claims } from '../src/core/ports.js';
import { joinChannel, partChannel } from '../src/core/rooms.js';
import { Device, Session } from '../src/core/session.js';
import { changeNick, quit, registerSession } from '../src/core/users.js';
import { TestClient } from './helpers/client.js';
import { deleteNamespace, freshNamespace, keysOf, REDIS_URL, redisAvailable, withRedis } from './helpers/redis.js';
import { startTestServer } from './helpers/server.js';
import type { TestServer } from './helpers/server.js';

interface ClaimsHarness {
  /** Two handles on one set of claims, as two nodes see it (LocalClaims: the same object twice). */
  readonly claims: Claims;
  readonly other: Claims;
  /** The keys still in Redis (empty once everything is released); undefined where nothing is stored outside. */
  leftovers?(): Promise<string[]>;
  dispose(): Promise<void>;
}

/** Runs every contract test against one implementation; `make` returns a skip reason when it cannot run here. */
function runClaimsSuite(name: string, make: () => Promise<ClaimsHarness | string>): void {
  describe(`Claims contract: ${name}`, () => {
    let harness: ClaimsHarness | string = 'not started';
    before(async () => {
      harness = await make();
    });
    after(async () => {
      if (typeof harness !== 'string') await harness.dispose();
    });
    const check = (title: string, body: (claims: Claims, other: Claims, h: ClaimsHarness) => Promise<void>): void => {
      it(title, async (t) => {
        if (typeof harness === 'string') {
          t.skip(harness);
          return;
        }
        await body(harness.claims, harness.other, harness);
      });
    };

    check('a free nick is taken, its holder keeps it, and any other session is refused', async (claims, other) => {
      assert.equal(await claims.claimNick('alice', 'n1.1'), true);
      assert.equal(await claims.claimNick('alice', 'n1.1'), true, 'kept');
      assert.equal(await other.claimNick('alice', 'n2.1'), false, 'from another node');
      assert.equal(await claims.claimNick('alice', 'n1.2'), false, 'from the same node');
      await claims.releaseNick('alice', 'n1.1');
    });

    check('only the holder releases a nick; then another session may take it', async (claims, other) => {
      assert.equal(await claims.claimNick('bob', 'n1.1'), true);
      await other.releaseNick('bob', 'n2.1');
      assert.equal(await other.claimNick('bob', 'n2.1'), false, 'a release by a non-holder does nothing');
      await claims.releaseNick('bob', 'n1.1');
      assert.equal(await other.claimNick('bob', 'n2.1'), true);
      await other.releaseNick('bob', 'n2.1');
    });

    check('a new nick lets go of the previous one in the same step; a refused one keeps it', async (claims, other) => {
      assert.equal(await claims.claimNick('carol', 'n1.1'), true);
      assert.equal(await claims.claimNick('caroline', 'n1.1', 'carol'), true);
      assert.equal(await other.claimNick('carol', 'n2.1'), true, 'the previous nick was let go');
      assert.equal(await claims.claimNick('carol', 'n1.1', 'caroline'), false, 'refused');
      assert.equal(await other.claimNick('caroline', 'n2.2'), false, 'a refused claim keeps the previous nick');
      // A previous nick held by somebody else is not theirs to let go.
      assert.equal(await claims.claimNick('carrie', 'n1.1', 'carol'), true);
      assert.equal(await claims.claimNick('carol', 'n1.3'), false, 'carol is still n2.1');
      for (const [nick, id] of [['caroline', 'n1.1'], ['carrie', 'n1.1'], ['carol', 'n2.1']] as const) await claims.releaseNick(nick, id);
    });

    check('a room is founded once: only its founder is told yes, until it is released', async (claims, other) => {
      assert.equal(await claims.claimRoom('#room', 'n1.1'), true);
      assert.equal(await claims.claimRoom('#room', 'n1.1'), true, 'asked again by the founder');
      assert.equal(await other.claimRoom('#room', 'n2.1'), false);
      assert.equal(await claims.claimRoom('#room', 'n1.2'), false);
      await other.releaseRoom('#room');
      assert.equal(await other.claimRoom('#room', 'n2.1'), true, 'founded again once released');
      await claims.releaseRoom('#room');
    });

    check('releaseNode drops every claim of that node and nothing of the others', async (claims, other) => {
      // Node ids may hold dots: a session id is "<node>.<n>".
      const lost = 'web-1.example';
      assert.equal(await claims.claimNick('dave', `${lost}.1`), true);
      assert.equal(await claims.claimNick('erin', `${lost}.2`), true);
      assert.equal(await claims.claimRoom('#lost', `${lost}.2`), true);
      assert.equal(await other.claimNick('frank', 'web-1.7'), true);
      assert.equal(await other.claimRoom('#kept', 'web-1.7'), true);
      await other.releaseNode(lost);
      assert.equal(await other.claimNick('dave', 'n2.1'), true);
      assert.equal(await other.claimNick('erin', 'n2.2'), true);
      assert.equal(await other.claimRoom('#lost', 'n2.1'), true);
      assert.equal(await claims.claimNick('frank', 'n1.1'), false, "another node's nick stays");
      assert.equal(await claims.claimRoom('#kept', 'n1.1'), false, "another node's room stays");
      await other.releaseNode('n2');
      await other.releaseNode('web-1');
    });

    check('of 100 concurrent claims of one nick, and of one room, from two nodes exactly one wins', async (claims, other) => {
      const tries = Array.from({ length: 100 }, (_, i) => (i % 2 === 0 ? claims : other).claimNick('grace', `n${String(1 + (i % 2))}.${String(i)}`));
      const won = (await Promise.all(tries.map((answer) => Promise.resolve(answer)))).filter(Boolean).length;
      assert.equal(won, 1);
      const founding = Array.from({ length: 100 }, (_, i) => (i % 2 === 0 ? other : claims).claimRoom('#race', `n${String(1 + (i % 2))}.${String(i)}`));
      assert.equal((await Promise.all(founding.map((answer) => Promise.resolve(answer)))).filter(Boolean).length, 1);
      await claims.releaseNode('n1');
      await claims.releaseNode('n2');
    });

    check('nothing is left behind once every claim was released', async (claims, _other, h) => {
      assert.equal(await claims.claimNick('heidi', 'n1.1'), true);
      assert.equal(await claims.claimNick('heidi2', 'n1.1', 'heidi'), true);
      assert.equal(await claims.claimRoom('#tidy', 'n1.1'), true);
      await claims.releaseNick('heidi2', 'n1.1');
      await claims.releaseRoom('#tidy');
      if (h.leftovers !== undefined) assert.deepEqual(await h.leftovers(), []);
    });
  });
}

runClaimsSuite('LocalClaims', () => {
  const claims = new LocalClaims();
  return Promise.resolve({ claims, other: claims, dispose: () => Promise.resolve() });
});

runClaimsSuite('RedisClaims', async () => {
  const unavailable = await redisAvailable();
  if (unavailable !== undefined) return unavailable;
  const network = freshNamespace();
  // Two connections, as two nodes have; no bus runs here, so no lease fences them.
  const claims = await RedisClaims.connect({ url: REDIS_URL, network, fenced: false, onError: (error) => assert.fail(error) });
  const other = await RedisClaims.connect({ url: REDIS_URL, network, fenced: false, onError: (error) => assert.fail(error) });
  return {
    claims,
    other,
    leftovers: () => keysOf(network),
    async dispose() {
      await Promise.all([claims.close(), other.close()]);
      await deleteNamespace(network);
    },
  };
});

describe('RedisClaims', () => {
  let skip: string | undefined;
  let network = '';
  const opened: RedisClaims[] = [];
  before(async () => {
    skip = await redisAvailable();
    network = freshNamespace();
  });
  after(async () => {
    await Promise.all(opened.map((claims) => claims.close()));
    if (skip === undefined) await deleteNamespace(network);
  });

  it('fenced: a node without a bus lease (declared lost) can claim nothing, and its claims can still be released', async (t) => {
    if (skip !== undefined) {
      t.skip(skip);
      return;
    }
    const claims = await RedisClaims.connect({ url: REDIS_URL, network, onError: (error) => assert.fail(error) });
    opened.push(claims);
    const lease = `${network}:node:n1`;
    await assert.rejects(Promise.resolve(claims.claimNick('ivan', 'n1.1')), ClaimFencedError);
    await withRedis((redis) => redis.set(lease, '{}', 'PX', 60_000));
    assert.equal(await claims.claimNick('ivan', 'n1.1'), true);
    assert.equal(await claims.claimRoom('#fence', 'n1.1'), true);
    await withRedis((redis) => redis.del(lease));
    await assert.rejects(Promise.resolve(claims.claimNick('ivan2', 'n1.1', 'ivan')), ClaimFencedError);
    await assert.rejects(Promise.resolve(claims.claimRoom('#fence2', 'n1.1')), ClaimFencedError);
    await claims.releaseNode('n1');
    assert.deepEqual(await keysOf(network), []);
  });

  it('keeps its keys under the namespace of the bus, with one set per node of the keys its sessions hold', async (t) => {
    if (skip !== undefined) {
      t.skip(skip);
      return;
    }
    const claims = await RedisClaims.connect({ url: REDIS_URL, network, fenced: false, onError: (error) => assert.fail(error) });
    opened.push(claims);
    assert.equal(await claims.claimNick('judy', 'n7.1'), true);
    assert.equal(await claims.claimRoom('#keys', 'n7.1'), true);
    assert.deepEqual(await keysOf(network), [`${network}:claim:nick:judy`, `${network}:claim:room:#keys`, `${network}:claims:n7`]);
    assert.equal(await withRedis((redis) => redis.get(`${network}:claim:nick:judy`)), 'n7.1');
    await claims.releaseNode('n7');
    assert.deepEqual(await keysOf(network), []);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// (b) Networks of several nodes, one RedisClaims.

const settings = toServerSettings(parseConfig({ serverName: 'test.natter' }, 'test'));

interface Node {
  readonly id: string;
  readonly network: Network;
}

let nextSession = 0;

/** A session of `node`, as net/server.ts admits one: no nick yet, not registered. */
function admit(node: Node): Session {
  const id = `${node.id}.${String(++nextSession)}`;
  const session = new Session(id, 'host.example', '192.0.2.1', 1_800_000_000);
  session.node = node.id;
  session.devices.push(new Device(id, { send: () => undefined, sendTagged: () => undefined, close: () => undefined }));
  node.network.addLocalSession(session);
  return session;
}

/** A registered session of `node` under `nick` (NICK, USER, then the welcome). */
async function register(node: Node, nick: string): Promise<Session> {
  const session = admit(node);
  await changeNick(node.network, session, nick);
  session.user = `~${nick}`;
  session.realname = nick;
  registerSession(node.network, session);
  return session;
}

/** Calls `act` now, turning a synchronous throw into a rejection, so that several attempts start at the same time. */
function attempt<T>(act: () => T | Promise<T>): Promise<T> {
  try {
    return Promise.resolve(act());
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
}

/** Waits for the hub's remote deliveries (microtasks) and for Redis to answer the releases fired meanwhile. */
async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
}

async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 3000;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * Starts both attempts in the same turn, node A's first in even rounds and node B's first in odd ones (so each side
 * also loses); their outcomes in the order A, B.
 */
async function raceOf<T>(round: number, onA: () => T | Promise<T>, onB: () => T | Promise<T>): Promise<Array<PromiseSettledResult<T>>> {
  if (round % 2 === 0) {
    const first = attempt(onA);
    return Promise.allSettled([first, attempt(onB)]);
  }
  const first = attempt(onB);
  return Promise.allSettled([attempt(onA), first]);
}

function isNickInUse(result: PromiseSettledResult<unknown>): boolean {
  return result.status === 'rejected' && result.reason instanceof ChatError && result.reason.code === 'nicknameInUse';
}

describe('Networks sharing one RedisClaims', () => {
  let skip: string | undefined;
  let namespace = '';
  let claims: RedisClaims | undefined;
  let nodes: Node[] = [];

  before(async () => {
    skip = await redisAvailable();
    if (skip !== undefined) return;
    namespace = freshNamespace();
    // The hub carries the events; no RedisBus holds a lease here, so the claims are not fenced.
    claims = await RedisClaims.connect({ url: REDIS_URL, network: namespace, fenced: false, onError: (error) => assert.fail(error) });
    const hub = new MemoryHub();
    const shared = claims;
    nodes = ['na', 'nb', 'nc'].map((id) => ({ id, network: new Network(settings, { now: () => Date.now() }, hub.bus(id), shared) }));
  });
  after(async () => {
    await claims?.close();
    if (skip === undefined) await deleteNamespace(namespace);
  });

  const nodeTest = (title: string, body: (a: Node, b: Node, c: Node) => Promise<void>): void => {
    test(title, async (t) => {
      if (skip !== undefined) {
        t.skip(skip);
        return;
      }
      const [a, b, c] = nodes as [Node, Node, Node];
      await body(a, b, c);
    });
  };

  nodeTest('two registered users on two nodes take one nick at once: one gets it, the other 433, every mirror agrees', async (a, b, c) => {
    for (let round = 0; round < 20; round++) {
      const x = await register(a, `x${String(round)}`);
      const y = await register(b, `y${String(round)}`);
      const wanted = `Star${String(round)}`;
      const results = await raceOf(round, () => changeNick(a.network, x, wanted), () => changeNick(b.network, y, wanted));
      await settle();
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1, `round ${String(round)}: one winner`);
      assert.equal(results.filter(isNickInUse).length, 1, `round ${String(round)}: the other is refused with 433`);
      const winner = results[0]?.status === 'fulfilled' ? x : y;
      for (const node of [a, b, c]) assert.equal(node.network.findNick(wanted)?.id, winner.id, `round ${String(round)} on ${node.id}`);
      assert.equal(await withRedis((redis) => redis.get(`${namespace}:claim:nick:${a.network.fold(wanted)}`)), winner.id);
      // The loser still holds its own nick, network-wide.
      const loser = winner === x ? y : x;
      assert.equal(c.network.findNick(loser.nick)?.id, loser.id);
      quit(a.network, x, 'done');
      quit(b.network, y, 'done');
    }
  });

  nodeTest('two connections on two nodes reserve one nick before registering: one gets it, the other 433', async (a, b) => {
    for (let round = 0; round < 20; round++) {
      const x = admit(a);
      const y = admit(b);
      const wanted = `early${String(round)}`;
      const results = await raceOf(round, () => changeNick(a.network, x, wanted), () => changeNick(b.network, y, wanted));
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1, `round ${String(round)}`);
      assert.equal(results.filter(isNickInUse).length, 1, `round ${String(round)}`);
      const [winner, winnerNode] = results[0]?.status === 'fulfilled' ? [x, a] : [y, b];
      assert.equal(winner.nick, wanted);
      // The winner registers under it and everyone sees it; the loser picks another.
      winner.user = '~w';
      registerSession(winnerNode.network, winner);
      await settle();
      for (const node of nodes) assert.equal(node.network.findNick(wanted)?.id, winner.id);
      quit(a.network, x, 'done');
      quit(b.network, y, 'done');
    }
  });

  nodeTest('a nick is free for another node once its holder quits or changes it', async (a, b) => {
    const x = await register(a, 'Keeper');
    const y = await register(b, 'Taker');
    await assert.rejects(attempt(() => changeNick(b.network, y, 'keeper')), (error: unknown) => error instanceof ChatError && error.code === 'nicknameInUse');
    await changeNick(a.network, x, 'Keeper2');
    await settle();
    await changeNick(b.network, y, 'Keeper');
    await settle();
    assert.equal(a.network.findNick('keeper')?.id, y.id);
    quit(a.network, x, 'bye');
    await settle();
    await eventually(async () => (await withRedis((redis) => redis.exists(`${namespace}:claim:nick:keeper2`))) === 0, 'the quit released Keeper2');
    await changeNick(b.network, y, 'Keeper2');
    quit(b.network, y, 'bye');
  });

  nodeTest('two first JOINs of a new room on two nodes at once: exactly one founder gets op, the same on every node', async (a, b, c) => {
    for (let round = 0; round < 20; round++) {
      const x = await register(a, `jx${String(round)}`);
      const y = await register(b, `jy${String(round)}`);
      const room = `#new${String(round)}`;
      const joins = await raceOf(round, () => joinChannel(a.network, x, room, undefined), () => joinChannel(b.network, y, room, undefined));
      assert.ok(
        joins.every((r) => r.status === 'fulfilled' && r.value !== undefined),
        'both joined',
      );
      await settle();
      const founder = await withRedis((redis) => redis.get(`${namespace}:claim:room:${room}`));
      assert.ok(founder === x.id || founder === y.id, `round ${String(round)}: the claim names one of them`);
      for (const node of [a, b, c]) {
        const channel = node.network.findChannel(room);
        assert.ok(channel !== undefined, `${room} on ${node.id}`);
        const ops = [...channel.members.values()].filter((membership) => membership.has(Rank.op)).map((membership) => membership.session.id);
        assert.equal(channel.members.size, 2, `round ${String(round)} on ${node.id}`);
        assert.deepEqual(ops, [founder], `round ${String(round)} on ${node.id}: one operator, the founder`);
      }
      partChannel(a.network, x, room, undefined);
      await settle();
      partChannel(b.network, y, room, undefined);
      await settle();
      // The node that published the PART that emptied the room let go of its claim.
      await eventually(async () => (await withRedis((redis) => redis.exists(`${namespace}:claim:room:${room}`))) === 0, `${room} released`);
      for (const node of [a, b, c]) assert.equal(node.network.findChannel(room), undefined);
      quit(a.network, x, 'done');
      quit(b.network, y, 'done');
    }
  });

  nodeTest('a room emptied on one node can be founded again, with op, on another', async (a, b, c) => {
    const x = await register(a, 'founder1');
    const y = await register(b, 'founder2');
    await joinChannel(a.network, x, '#again', undefined);
    await settle();
    quit(a.network, x, 'gone');
    await eventually(async () => (await withRedis((redis) => redis.exists(`${namespace}:claim:room:#again`))) === 0, 'the quit released #again');
    const channel = await joinChannel(b.network, y, '#again', undefined);
    await settle();
    assert.ok(channel?.members.get(y)?.has(Rank.op), 'the new founder is an operator');
    assert.ok(c.network.findChannel('#again')?.members.get(c.network.sessions.get(y.id) ?? y)?.has(Rank.op));
    quit(b.network, y, 'done');
  });

  nodeTest('releaseNode: a lost node’s reserved nicks and founded rooms are free again', async (a, b) => {
    const x = admit(a);
    await changeNick(a.network, x, 'Unregistered');
    const z = await register(a, 'Registered');
    await joinChannel(a.network, z, '#orphan', undefined);
    await settle();
    await assert.rejects(attempt(() => changeNick(b.network, admit(b), 'unregistered')), ChatError);
    await claims?.releaseNode(a.id);
    const y = admit(b);
    await changeNick(b.network, y, 'Unregistered');
    assert.equal(y.nick, 'Unregistered');
    quit(a.network, x, 'done');
    quit(a.network, z, 'done');
    quit(b.network, y, 'done');
  });
});

// ---------------------------------------------------------------------------------------------------------------
// (c) A server whose claims answer later, as Redis does.

/** LocalClaims answering after a few milliseconds, as a round trip to Redis would. */
class SlowClaims implements Claims {
  private readonly inner = new LocalClaims();
  private later<T>(value: T): Promise<T> {
    return new Promise((resolve) => {
      setTimeout(() => {
        resolve(value);
      }, 5);
    });
  }
  claimNick(folded: string, sessionId: string, previous?: string): Promise<boolean> {
    return this.later(undefined).then(() => this.inner.claimNick(folded, sessionId, previous));
  }
  releaseNick(folded: string, sessionId: string): void {
    this.inner.releaseNick(folded, sessionId);
  }
  claimRoom(folded: string, sessionId: string): Promise<boolean> {
    return this.later(undefined).then(() => this.inner.claimRoom(folded, sessionId));
  }
  releaseRoom(folded: string): void {
    this.inner.releaseRoom(folded);
  }
  releaseNode(nodeId: string): void {
    this.inner.releaseNode(nodeId);
  }
}

describe('a server whose claims answer later (cluster mode timing)', () => {
  let server: TestServer;
  const clients: TestClient[] = [];
  before(async () => {
    server = await startTestServer();
    server.server.network.claims = new SlowClaims();
  });
  after(async () => {
    for (const client of clients) client.close();
    await server.stop();
  });
  const connect = async (nick: string, caps: string[] = []): Promise<TestClient> => {
    const client = await TestClient.register(server.port, nick, { caps });
    clients.push(client);
    return client;
  };

  it('registers, refuses a nick in use with 433 before and after registering, and takes a free one', async () => {
    const alice = await connect('alice');
    const late = await TestClient.connect(server.port);
    clients.push(late);
    late.send('NICK alice');
    late.send('USER late 0 * :late');
    const refused = await late.expect('433');
    assert.equal(refused.params[1], 'alice');
    late.send('NICK latecomer');
    await late.expect('001');
    alice.send('NICK LATECOMER');
    assert.equal((await alice.expect('433')).params[1], 'LATECOMER');
    alice.send('NICK alice2');
    const nick = await alice.expect('NICK');
    assert.equal(nick.params[0], 'alice2');
    // The old nick is free at once for someone else.
    late.send('NICK alice');
    assert.equal((await late.expect('NICK')).params[0], 'alice');
  });

  it('two connections racing for one nick: one gets it, the other 433', async () => {
    const [one, two] = await Promise.all([TestClient.connect(server.port), TestClient.connect(server.port)]);
    clients.push(one, two);
    one.send('NICK racer');
    two.send('NICK racer');
    for (const client of [one, two]) client.send(`USER u 0 * :u`);
    const outcomes = await Promise.all([one, two].map((client) => client.expect((m) => m.command === '001' || m.command === '433')));
    assert.deepEqual(outcomes.map((m) => m.command).sort(), ['001', '433']);
  });

  it('a labeled JOIN of a new room answers JOIN, then NAMES, in its batch, with op for the founder', async () => {
    const carol = await connect('carol', ['labeled-response', 'batch', 'message-tags']);
    carol.send('@label=j1 JOIN #slow,#slow2');
    const start = await carol.expect((m) => m.command === 'BATCH' && m.tags?.get('label') === 'j1');
    const ref = (start.params[0] ?? '').slice(1);
    const end = await carol.expect((m) => m.command === 'BATCH' && m.params[0] === `-${ref}`);
    assert.ok(end);
    const inBatch = carol.drain().filter((m) => m.tags?.get('batch') === ref);
    assert.deepEqual(
      inBatch.map((m) => [m.command, m.command === 'JOIN' ? m.params[0] : m.params.at(-2) ?? '']),
      [
        ['JOIN', '#slow'],
        ['353', '#slow'],
        ['366', '#slow'],
        ['JOIN', '#slow2'],
        ['353', '#slow2'],
        ['366', '#slow2'],
      ],
    );
    assert.equal(inBatch[1]?.params.at(-1), '@carol');
    // A second user joins the room that exists: no claim, no op.
    const dan = await connect('dan');
    dan.send('JOIN #slow');
    const names = await dan.expect('353');
    assert.deepEqual((names.params.at(-1) ?? '').split(' ').sort(), ['@carol', 'dan']);
  });
});
