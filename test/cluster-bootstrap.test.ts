/**
 * Cluster mode, joining a running network (issue 9: "A restarted node rejoins without disturbing the others"): a node
 * that starts while others run takes a copy of one live node's state (Network.exportState/importState through
 * Bus.bootstrap) and then applies the events the copy does not include, each once. The same cases run on the
 * in-process MemoryHub and on RedisBus with the real Redis. Networks are built without sockets, as in
 * cluster-core.test.ts; users and rooms are made by publishing the domain events core would publish.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';
import { MemoryHub } from '../src/bus/memory-hub.js';
import { RedisBus, splitText } from '../src/bus/redis.js';
import { parseConfig, toServerSettings } from '../src/config/load.js';
import { Channel, RoomRegistration } from '../src/core/channel.js';
import type { ModeChange } from '../src/core/events.js';
import { Network } from '../src/core/network.js';
import { dropNodeSessions } from '../src/core/nodes.js';
import type { Bus } from '../src/core/ports.js';
import { Device, Session, UserMode } from '../src/core/session.js';
import type { SessionLink } from '../src/core/session.js';
import { readSnapshot, SnapshotError } from '../src/core/snapshot.js';
import type { NetworkSnapshot } from '../src/core/snapshot.js';
import { deleteNamespace, freshNamespace, REDIS_URL, redisAvailable, withRedis } from './helpers/redis.js';

const settings = toServerSettings(parseConfig({ serverName: 'test.natter' }, 'test'));
const clock = { now: (): number => Date.now() };
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Node {
  readonly id: string;
  readonly bus: Bus;
  readonly network: Network;
}

interface Harness {
  /** Closes the nodes of the last test and starts a network of its own for the next one. */
  reset(): Promise<void>;
  /** A node connected to the network, its Network made (and its lost-node handler set), not bootstrapped yet. */
  /** `leaseMs`: for a node whose test blocks its event loop for long (building a large network synchronously). */
  node(id: string, options?: { leaseMs?: number }): Promise<Node>;
  /** Waits until the condition holds, every event in flight having had the time to arrive. */
  settle(condition: () => boolean, what: string): Promise<void>;
  /** The node dies without a word; resolves once a survivor has handled the loss. */
  kill(node: Node): Promise<void>;
  /** Pieces of snapshot answers left in a node's inbox (RedisBus deletes them once read). */
  leftovers?(node: Node): Promise<number>;
  dispose(): Promise<void>;
}

const NO_LINK: SessionLink = { send: () => undefined, sendTagged: () => undefined, close: () => undefined };

let counter = 0;
const msgid = (): string => `m${String(++counter)}`;

/** A user connected to `node`, registered as core does it (one userRegistered), with optional presence. */
function user(node: Node, nick: string, options: { account?: string; accountId?: number; modes?: number; away?: string } = {}): Session {
  const id = `${node.bus.nodeId}.${String(++counter)}`;
  const session = new Session(id, `${nick}.example`, '192.0.2.1', Math.floor(clock.now() / 1000));
  session.node = node.bus.nodeId;
  session.devices.push(new Device(id, NO_LINK));
  node.network.addLocalSession(session);
  node.network.publish({
    type: 'userRegistered',
    user: {
      id,
      node: node.bus.nodeId,
      nick,
      user: `~${nick}`,
      host: `${nick}.example`,
      ip: '192.0.2.1',
      realname: `${nick} Realname`,
      modes: options.modes ?? 0,
      signonAt: session.signonAt,
      account: options.account,
      accountId: options.accountId,
    },
  });
  if (options.away !== undefined) node.network.publish({ type: 'awayChanged', id, message: options.away, time: clock.now() });
  return session;
}

function join(node: Node, session: Session, name: string): void {
  const folded = node.network.fold(name);
  node.network.publish({ type: 'channelJoined', id: session.id, channel: folded, name, created: !node.network.channels.has(folded), time: clock.now(), msgid: msgid() });
}

function part(node: Node, session: Session, name: string): void {
  node.network.publish({ type: 'channelParted', id: session.id, channel: node.network.fold(name), reason: 'bye', time: clock.now(), msgid: msgid() });
}

function topic(node: Node, by: Session, name: string, text: string): void {
  node.network.publish({ type: 'topicChanged', by: by.prefix, channel: node.network.fold(name), topic: text, time: clock.now(), msgid: msgid() });
}

function mode(node: Node, by: Session, name: string, changes: readonly ModeChange[]): void {
  node.network.publish({ type: 'channelModeChanged', by: by.prefix, channel: node.network.fold(name), changes, time: clock.now(), msgid: msgid() });
}

function quit(node: Node, session: Session): void {
  node.network.publish({ type: 'userQuit', id: session.id, reason: 'gone', time: clock.now(), msgid: msgid() });
}

/** What every mirror must agree on, in a canonical order (rooms' member order aside, which follows arrival). */
function dump(network: Network): unknown {
  const sessions = [...network.sessions.values()]
    .filter((session) => session.registered)
    .map((session) => ({
      id: session.id,
      node: session.node,
      nick: session.nick,
      prefix: session.prefix,
      realname: session.realname,
      modes: session.modes,
      signonAt: session.signonAt,
      account: session.account ?? null,
      accountId: session.accountId ?? null,
      away: session.away ?? null,
      rooms: [...session.channels].map(([channel, membership]) => `${membership.prefixString(true)}${channel.nameFolded}`).sort(),
    }))
    .sort((x, y) => x.id.localeCompare(y.id));
  const channels = [...network.channels.values()]
    .map((channel) => ({
      name: channel.name,
      createdAt: channel.createdAt,
      topic: [channel.topic, channel.topicSetBy, channel.topicSetAt],
      modes: channel.modes.describe(true),
      lists: channel.lists,
      invited: [...channel.invited].sort(),
      registration:
        channel.registration === undefined
          ? null
          : {
              founder: [channel.registration.founderId, channel.registration.founderName, channel.registration.registeredAt],
              history: channel.registration.history,
              roles: [...channel.registration.roles].sort(([x], [y]) => x - y),
            },
      members: [...channel.members.values()].map((membership) => [membership.session.id, membership.prefixString(true), membership.joinedAtMs]).sort(),
      nodes: [...channel.membersPerNode].sort(),
    }))
    .sort((x, y) => x.name.localeCompare(y.name));
  return {
    sessions,
    nicks: [...network.nicks].map(([folded, session]) => `${folded}=${session.id}`).sort(),
    accounts: [...network.accountSessions].map(([id, set]) => [id, [...set].map((session) => session.id).sort()]).sort(),
    channels,
    counts: [network.registeredCount, network.invisibleCount, network.operCount],
    whowas: network.whowas.map((entry) => `${entry.nick}@${String(entry.leftAt)}`).sort(),
  };
}

const same = (x: Network, y: Network): boolean => JSON.stringify(dump(x)) === JSON.stringify(dump(y));

/**
 * A network with some of everything: users on two nodes, in rooms with prefixes, modes, lists, a topic, invitations.
 * `flush` lets the other node learn what one did, where the next step acts on it (as a user would only act on what
 * their node has seen).
 */
async function populate(a: Node, b: Node, flush: () => Promise<void>): Promise<{ alice: Session; bob: Session }> {
  const alice = user(a, 'Alice', { account: 'alice', accountId: 1, modes: UserMode.invisible });
  const carol = user(a, 'carol', { away: 'lunch', modes: UserMode.oper | UserMode.wallops });
  const bob = user(b, 'Bob', { account: 'bob', accountId: 2 });
  const dave = user(b, 'dave', { modes: UserMode.bot });
  const gone = user(b, 'gone');
  await flush();
  join(a, alice, '#Room');
  join(b, bob, '#Room');
  join(a, carol, '#room');
  join(b, dave, '#Room');
  join(b, gone, '#room');
  await flush();
  topic(a, alice, '#room', 'Welcome to the room');
  mode(a, alice, '#room', [
    { adding: true, letter: 'o', param: 'Bob' },
    { adding: true, letter: 'v', param: 'carol' },
    { adding: true, letter: 'h', param: 'dave' },
    { adding: true, letter: 'm' },
    { adding: true, letter: 'k', param: 'sesame' },
    { adding: true, letter: 'l', param: '42' },
    { adding: true, letter: 'b', param: '*!*@spam.example' },
    { adding: true, letter: 'b', param: 'troll!*@*' },
    { adding: true, letter: 'e', param: 'friend!*@*' },
    { adding: true, letter: 'I', param: '*!*@trusted.example' },
  ]);
  join(b, bob, '#bobs');
  mode(b, bob, '#bobs', [
    { adding: true, letter: 'i' },
    { adding: true, letter: 's' },
    { adding: false, letter: 't' },
  ]);
  b.network.publish({ type: 'userInvited', by: bob.prefix, from: bob.id, channel: '#bobs', name: '#bobs', target: alice.id, admits: true, time: clock.now() });
  // A registered room (ChanServ), with a role and its history setting.
  join(a, alice, '#Registered');
  a.network.publish({ type: 'roomRegistered', channel: '#registered', founderId: 1, founderName: 'alice', registeredAt: 1_700_000_000_000, time: clock.now() });
  a.network.publish({ type: 'roomRoleChanged', channel: '#registered', role: { accountId: 2, accountName: 'bob', rank: 4 }, time: clock.now() });
  a.network.publish({ type: 'roomHistoryChanged', channel: '#registered', history: 'joined', time: clock.now() });
  await flush();
  join(b, bob, '#registered');
  // Changes after the fact: a nick, an account, a user mode, a part and a quit (WHOWAS).
  b.network.publish({ type: 'nickChanged', id: dave.id, nick: 'David', time: clock.now(), msgid: msgid() });
  a.network.publish({ type: 'accountChanged', id: carol.id, account: 'carol', accountId: 3, time: clock.now() });
  a.network.publish({ type: 'userModeChanged', id: carol.id, modes: UserMode.oper, changes: '-w', time: clock.now() });
  part(a, carol, '#registered');
  quit(b, gone);
  await flush();
  return { alice, bob };
}

/** Sessions whose home is `nodeId` in this mirror. */
const sessionsOf = (network: Network, nodeId: string): number => [...network.sessions.values()].filter((session) => session.node === nodeId).length;

function runBootstrapSuite(name: string, make: () => Promise<Harness | string>): void {
  describe(`joining a running network: ${name}`, () => {
    let harness: Harness | undefined;
    let skipReason: string | undefined;
    before(async () => {
      const made = await make();
      if (typeof made === 'string') skipReason = made;
      else harness = made;
    });
    after(async () => {
      await harness?.dispose();
    });
    const test = (title: string, body: (h: Harness, t: TestContext) => Promise<void>): void => {
      it(title, { timeout: 60_000 }, async (t) => {
        if (harness === undefined) {
          t.skip(skipReason ?? 'no harness');
          return;
        }
        await harness.reset();
        await body(harness, t);
      });
    };
    let run = 0;
    const ids = (): [string, string, string] => {
      run++;
      return [`a${String(run)}`, `b${String(run)}`, `c${String(run)}`];
    };

    test('a node that joins later has the mirror of the others: users, rooms, members, modes, lists, topic, invitations', async (h) => {
      const [ia, ib, ic] = ids();
      const a = await h.node(ia);
      assert.equal(await a.network.bootstrap(), false, 'the first node finds nobody to ask');
      const b = await h.node(ib);
      assert.equal(await b.network.bootstrap(), true, 'the second takes the state of the first');
      await populate(a, b, () => h.settle(() => same(a.network, b.network), 'A and B agree'));
      const c = await h.node(ic);
      assert.equal(await c.network.bootstrap(), true);
      await h.settle(() => same(a.network, c.network), 'C has the mirror of A');
      assert.deepEqual(dump(c.network), dump(a.network));
      assert.equal(c.network.maxUsers, a.network.maxUsers);
      // The copy is one that works: C's own users see and are seen by the others.
      const room = c.network.findChannel('#ROOM');
      assert.ok(room !== undefined);
      assert.deepEqual(room.modes.describe(true), ['+klmnt', 'sesame', '42']);
      assert.equal(c.network.findNick('david')?.node, ib);
      const erin = user(c, 'erin');
      join(c, erin, '#room');
      await h.settle(() => same(a.network, c.network) && same(b.network, c.network), 'everyone sees erin');
      assert.ok(a.network.findChannel('#room')?.nodes.has(ic), 'A routes #room messages to C now');
    });

    test('events published while the state is on its way are applied once: none lost, none doubled', async (h) => {
      const [ia, ib, ic] = ids();
      const a = await h.node(ia);
      await a.network.bootstrap();
      const b = await h.node(ib);
      await b.network.bootstrap();
      const { alice, bob } = await populate(a, b, () => h.settle(() => same(a.network, b.network), 'A and B agree'));
      const c = await h.node(ic);
      // What reaches C from A: the burst's topics, in order, each once.
      const topics: string[] = [];
      c.bus.subscribe((event, delivery) => {
        if (event.type === 'topicChanged' && delivery.origin === ia && event.topic.startsWith('burst ')) topics.push(event.topic);
      });
      let n = 0;
      const burstTopics: string[] = [];
      const extras: Session[] = [];
      const step = (): void => {
        const text = `burst ${String(++n)}`;
        burstTopics.push(text);
        topic(a, alice, '#room', text);
        // State changes of every kind, from both nodes, while C joins.
        if (n % 3 === 0) extras.push(user(a, `extra${String(n)}`));
        const extra = extras.at(-1);
        if (extra !== undefined && n % 3 === 1) join(a, extra, '#room');
        if (extra !== undefined && n % 7 === 0) quit(a, extras.shift() ?? extra);
        mode(b, bob, '#bobs', [{ adding: n % 2 === 0, letter: 'm' }, { adding: true, letter: 'b', param: `ban${String(n)}!*@*` }]);
        if (n % 5 === 0) topic(b, bob, '#bobs', `bob's burst ${String(n)}`);
      };
      // Some before C asks (they reach C and are in the copy too), some while it waits, more after.
      for (let i = 0; i < 5; i++) step();
      let snapshotTopic: string | undefined;
      const progress = { done: false };
      const joining = c.bus.bootstrap((raw) => {
        c.network.importState(readSnapshot(raw));
        snapshotTopic = c.network.findChannel('#room')?.topic;
      });
      void joining.finally(() => {
        progress.done = true;
      });
      while (!progress.done) {
        step();
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      assert.equal(await joining, true);
      for (let i = 0; i < 20; i++) step();
      await h.settle(() => topics.at(-1) === burstTopics.at(-1), 'the last topic reaches C');
      await h.settle(() => same(a.network, c.network) && same(b.network, c.network), 'A, B and C agree');
      assert.deepEqual(dump(c.network), dump(a.network));
      // The copy had burst k; C then got exactly k+1 .. n from the stream.
      assert.ok(snapshotTopic !== undefined && snapshotTopic.startsWith('burst '), `the copy has a burst topic (${String(snapshotTopic)})`);
      const k = burstTopics.indexOf(snapshotTopic);
      assert.ok(k >= 4 && k < burstTopics.length - 20, `the copy was taken during the burst (at ${String(k + 1)} of ${String(n)})`);
      assert.deepEqual(topics, burstTopics.slice(k + 1));
    });

    test('a node alone starts with an empty network, and keeps the registered rooms it loaded', async (h) => {
      const [ia] = ids();
      const a = await h.node(ia);
      // As loadRegisteredRooms does at start.
      const channel = new Channel('#Kept', '#kept', 1_700_000_000);
      channel.registration = new RoomRegistration(9, 'founder', 1_700_000_000_000);
      channel.topic = 'from the store';
      a.network.channels.set(channel.nameFolded, channel);
      assert.equal(await a.network.bootstrap(), false);
      assert.equal(a.network.sessions.size, 0);
      assert.deepEqual([...a.network.channels.keys()], ['#kept']);
      assert.equal(a.network.findChannel('#kept')?.topic, 'from the store');
      await a.bus.close();
    });

    test('nodes that join together, with nobody to ask, both start empty', async (h) => {
      const [ia, ib] = ids();
      const a = await h.node(ia);
      const b = await h.node(ib);
      // Neither waits for the other: the first finds nobody to ask; the second nobody, or the first once it has joined.
      const [first] = await Promise.all([a.network.bootstrap(), b.network.bootstrap()]);
      assert.equal(first, false);
      assert.equal(a.network.sessions.size + b.network.sessions.size, 0);
      const ann = user(a, 'ann');
      join(a, ann, '#x');
      await h.settle(() => same(a.network, b.network), 'they agree');
      await Promise.all([a.bus.close(), b.bus.close()]);
    });

    test("a lost node's users are not brought back by a node that joins after it died", async (h) => {
      const [ia, ib, ic] = ids();
      const a = await h.node(ia);
      await a.network.bootstrap();
      const b = await h.node(ib);
      await b.network.bootstrap();
      await populate(a, b, () => h.settle(() => same(a.network, b.network), 'A and B agree'));
      assert.ok(sessionsOf(a.network, ib) > 0);
      await h.kill(b);
      await h.settle(() => sessionsOf(a.network, ib) === 0, "A dropped B's users");
      const c = await h.node(ic);
      assert.equal(await c.network.bootstrap(), true);
      await h.settle(() => same(a.network, c.network), 'C has the mirror of A');
      assert.equal(sessionsOf(c.network, ib), 0);
      assert.deepEqual(dump(c.network), dump(a.network));
    });

    test('a node that dies while another joins: the joiner waits until it is gone, and its users go everywhere', async (h) => {
      const [ia, ib, ic] = ids();
      const a = await h.node(ia);
      await a.network.bootstrap();
      const b = await h.node(ib);
      await b.network.bootstrap();
      await populate(a, b, () => h.settle(() => same(a.network, b.network), 'A and B agree'));
      await h.kill(b);
      // C may come while B still looks alive (its lease holds): it says hello to B and gets no welcome.
      const c = await h.node(ic);
      assert.equal(await c.network.bootstrap(), true);
      await h.settle(() => sessionsOf(a.network, ib) === 0 && sessionsOf(c.network, ib) === 0 && same(a.network, c.network), "B's users are gone from A and C alike");
      assert.deepEqual(dump(c.network), dump(a.network));
    });

    test('a large network (10,000 users in 1,000 rooms) is copied, in pieces', async (h, t) => {
      const [ia, ic] = ids();
      // Building 10,000 users blocks the loop for longer than the short test lease on a loaded machine.
      const a = await h.node(ia, { leaseMs: 10_000 });
      await a.network.bootstrap();
      const users: Session[] = [];
      for (let i = 0; i < 10_000; i++) users.push(user(a, `u${String(i)}`, i % 3 === 0 ? { account: `acct${String(i)}`, accountId: i } : {}));
      for (let i = 0; i < users.length; i++) for (let r = 0; r < 5; r++) join(a, users[i]!, `#r${String((i * 7 + r * 211) % 1000)}`);
      const size = JSON.stringify(a.network.exportState()).length;
      const c = await h.node(ic, { leaseMs: 10_000 });
      const started = performance.now();
      assert.equal(await c.network.bootstrap(), true);
      t.diagnostic(`${(size / 1e6).toFixed(2)} MB of state copied in ${(performance.now() - started).toFixed(0)} ms`);
      assert.equal(c.network.registeredCount, 10_000);
      assert.deepEqual(dump(c.network), dump(a.network));
      if (h.leftovers !== undefined) assert.equal(await h.leftovers(c), 0, 'the pieces were deleted from the inbox');
    });
  });
}

// ---------------------------------------------------------------------------------------------------------------

function lostHandler(node: Node): void {
  node.bus.onNodeLost((nodeId) => {
    dropNodeSessions(node.network, nodeId, 'test.natter *.split');
  });
}

runBootstrapSuite('MemoryHub', () => {
  let hub = new MemoryHub();
  let nodes: Node[] = [];
  return Promise.resolve({
    async reset(): Promise<void> {
      await Promise.all(nodes.map((node) => node.bus.close()));
      hub = new MemoryHub();
      nodes = [];
    },
    node(id: string): Promise<Node> {
      const bus = hub.bus(id, { bootstrap: true });
      const node = { id, bus, network: new Network(settings, clock, bus) };
      lostHandler(node);
      nodes.push(node);
      return Promise.resolve(node);
    },
    async settle(condition: () => boolean, what: string): Promise<void> {
      for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
      assert.ok(condition(), what);
    },
    async kill(node: Node): Promise<void> {
      hub.kill(node.bus.nodeId);
      await new Promise<void>((resolve) => setImmediate(resolve));
    },
    async dispose(): Promise<void> {
      await Promise.all(nodes.map((node) => node.bus.close()));
    },
  });
});

runBootstrapSuite('RedisBus on the real Redis', async () => {
  const unavailable = await redisAvailable();
  if (unavailable !== undefined) return unavailable;
  const namespaces: string[] = [];
  let namespace = freshNamespace('natter_boot');
  let buses: RedisBus[] = [];
  return {
    async reset(): Promise<void> {
      await Promise.all(buses.map((bus) => bus.close()));
      buses = [];
      namespaces.push(namespace);
      namespace = freshNamespace('natter_boot');
    },
    async node(id: string, options: { leaseMs?: number } = {}): Promise<Node> {
      const bus = await RedisBus.connect({
        url: REDIS_URL,
        network: namespace,
        nodeId: id,
        leaseMs: options.leaseMs ?? 600,
        bootstrap: true,
        snapshotTimeoutMs: 5000,
        onError: () => undefined,
      });
      buses.push(bus);
      const node = { id, bus, network: new Network(settings, clock, bus) };
      lostHandler(node);
      return node;
    },
    async settle(condition: () => boolean, what: string): Promise<void> {
      const deadline = Date.now() + 10_000;
      while (!condition()) {
        if (Date.now() > deadline) assert.fail(`timed out waiting until ${what}`);
        await sleep(10);
      }
    },
    kill(node: Node): Promise<void> {
      buses.find((bus) => bus === node.bus)?.simulateCrash();
      return Promise.resolve();
    },
    leftovers(node: Node): Promise<number> {
      return withRedis(async (redis) => {
        const entries = await redis.xrange(`${namespace}:inbox:${node.id}`, '-', '+');
        return entries.filter(([, fields]) => fields[0] === 's').length;
      });
    },
    async dispose(): Promise<void> {
      await Promise.all(buses.map((bus) => bus.close()));
      for (const used of [...namespaces, namespace]) await deleteNamespace(used);
    },
  };
});

// ---------------------------------------------------------------------------------------------------------------

describe('the snapshot itself', () => {
  function network(): { node: Node; hub: MemoryHub } {
    const hub = new MemoryHub();
    const bus = hub.bus('s1');
    return { node: { id: 's1', bus, network: new Network(settings, clock, bus) }, hub };
  }

  it('round-trips through JSON and readSnapshot to the same mirror', async () => {
    const { node: a, hub } = network();
    const bBus = hub.bus('s2');
    const b: Node = { id: 's2', bus: bBus, network: new Network(settings, clock, bBus) };
    await populate(a, b, async () => {
      for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setImmediate(resolve));
    });
    const copy = new Network(settings, clock, new MemoryHub().bus('s3'));
    copy.importState(readSnapshot(JSON.parse(JSON.stringify(a.network.exportState()))));
    assert.deepEqual(dump(copy), dump(a.network));
    // Members keep the room's order (NAMES).
    assert.deepEqual(
      [...(copy.findChannel('#room')?.members.keys() ?? [])].map((session) => session.nick),
      [...(a.network.findChannel('#room')?.members.keys() ?? [])].map((session) => session.nick),
    );
  });

  it('refuses a copy of another version, of another casemapping, or that does not hold together, and changes nothing', () => {
    const { node: a } = network();
    const ann = user(a, 'ann');
    join(a, ann, '#x');
    const good = a.network.exportState();
    const target = new Network(settings, clock, new MemoryHub().bus('t'));
    const before = JSON.stringify(dump(target));
    assert.throws(() => readSnapshot({ ...good, v: 2 }), SnapshotError);
    assert.throws(() => readSnapshot({ ...good, sessions: [{ ...good.sessions[0], modes: 'x' }] }), /sessions\[0\]\.modes/);
    assert.throws(() => readSnapshot({ ...good, channels: [{ ...good.channels[0], members: [['id', 1]] }] }), /members\[0\]/);
    assert.throws(() => {
      target.importState({ ...good, casemapping: 'ascii-other' });
    }, /casemapping/);
    const orphan: NetworkSnapshot = { ...good, channels: [{ ...good.channels[0]!, members: [['nobody.1', 0, 1]] }] };
    assert.throws(() => {
      target.importState(orphan);
    }, /nobody\.1/);
    assert.equal(JSON.stringify(dump(target)), before);
  });

  it('is refused by a node that has users already', () => {
    const { node: a } = network();
    user(a, 'ann');
    assert.throws(() => {
      a.network.importState(a.network.exportState());
    }, /before this node has users/);
  });

  it('travels in pieces that never split a character', () => {
    const text = `${'a'.repeat(9)}🎉${'b'.repeat(10)}`;
    const pieces = splitText(text, 10);
    assert.equal(pieces.join(''), text);
    for (const piece of pieces) assert.ok(piece.length <= 10 && Buffer.from(piece, 'utf8').toString('utf8') === piece, JSON.stringify(piece));
    assert.deepEqual(splitText('', 10), ['']);
  });

  it('a bus that was not told it would bootstrap refuses to (its events may be applied already)', async () => {
    const hub = new MemoryHub();
    const bus = hub.bus('plain');
    const net = new Network(settings, clock, bus);
    await assert.rejects(net.bootstrap(), /bootstrap: true/);
  });

  it('size for 10,000 users in 1,000 rooms', (t) => {
    const { node: a } = network();
    const users: Session[] = [];
    for (let i = 0; i < 10_000; i++) {
      users.push(user(a, `user${String(i)}`, i % 3 === 0 ? { account: `acct${String(i)}`, accountId: i } : {}));
    }
    // Five rooms each: 50,000 memberships; some bans and topics.
    for (let i = 0; i < users.length; i++) {
      for (let r = 0; r < 5; r++) join(a, users[i]!, `#room${String((i * 7 + r * 211) % 1000)}`);
    }
    for (let r = 0; r < 1000; r++) {
      const first = a.network.findChannel(`#room${String(r)}`)?.members.keys().next().value;
      if (first === undefined) continue;
      topic(a, first, `#room${String(r)}`, `Topic of room ${String(r)}, with a few words in it`);
      mode(a, first, `#room${String(r)}`, [{ adding: true, letter: 'b', param: `bad${String(r)}!*@*` }]);
    }
    const started = performance.now();
    const text = JSON.stringify(a.network.exportState());
    const exportMs = performance.now() - started;
    const parsedAt = performance.now();
    const copy = new Network(settings, clock, new MemoryHub().bus('big'));
    copy.importState(readSnapshot(JSON.parse(text)));
    const importMs = performance.now() - parsedAt;
    t.diagnostic(`10k users, 1k rooms, 50k memberships: ${(text.length / 1e6).toFixed(2)} MB; export+stringify ${exportMs.toFixed(0)} ms, parse+import ${importMs.toFixed(0)} ms`);
    assert.equal(copy.registeredCount, 10_000);
    assert.equal(copy.channels.size, 1000);
    assert.ok(text.length < 8_000_000, `under 8 MB (${String(text.length)})`);
  });
});
