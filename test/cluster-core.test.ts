/**
 * Cluster mode, core side (issue 9): several Networks in one process, without sockets, joined by a bus made here
 * that hands each event to the other nodes as a remote delivery (structured-cloned, as a wire would). Checks that an
 * event means the same on every node: the msgid and time its publisher gave, history written once, messages routed
 * to the nodes that have recipients, session ids that never collide, and a repeated introduction counted once.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseConfig, toServerSettings } from '../src/config/load.js';
import type { Channel } from '../src/core/channel.js';
import type { NetworkEvent } from '../src/core/events.js';
import { HistoryRecorder } from '../src/core/history-recorder.js';
import { sendMessage } from '../src/core/messaging.js';
import { changeChannelModes } from '../src/core/modes.js';
import { LocalClaims } from '../src/core/local-claims.js';
import { Network } from '../src/core/network.js';
import type { RoomEventRecorder } from '../src/core/network.js';
import type { Outbound } from '../src/core/outbound.js';
import type { Bus, Delivery, Route } from '../src/core/ports.js';
import { joinChannel, kickMember, partChannel, setTopic } from '../src/core/rooms.js';
import { Device, Session, UserMode } from '../src/core/session.js';
import type { SessionLink } from '../src/core/session.js';
import type { RoomStore } from '../src/core/store.js';
import { changeNick, quit, registerSession } from '../src/core/users.js';
import { openSqliteStore } from '../src/store/sqlite/open.js';
import { TestClient } from './helpers/client.js';
import { startTestServer } from './helpers/server.js';

type Listener = (event: NetworkEvent, delivery: Delivery) => void;

/** What a node published, with the nodes its route named (undefined: every node), copied when it was published. */
interface Published {
  readonly event: NetworkEvent;
  readonly nodes: readonly string[] | undefined;
}

/** The tiny cable between the test's nodes: every bus made by one hub reaches the others. */
class Hub {
  readonly buses: HubBus[] = [];

  bus(nodeId: string): HubBus {
    const bus = new HubBus(nodeId, this);
    this.buses.push(bus);
    return bus;
  }
}

class HubBus implements Bus {
  readonly published: Published[] = [];
  /** Events that reached this node from another one. */
  readonly received: NetworkEvent[] = [];
  private readonly listeners: Listener[] = [];

  constructor(
    readonly nodeId: string,
    private readonly hub: Hub,
  ) {}

  publish(event: NetworkEvent, route?: Route): void {
    this.published.push({ event, nodes: route === undefined ? undefined : [...route.nodes].sort() });
    const local: Delivery = { local: true, origin: this.nodeId };
    for (const listener of this.listeners) listener(event, local);
    const remote: Delivery = { local: false, origin: this.nodeId };
    for (const other of this.hub.buses) {
      if (other === this || (route !== undefined && !route.nodes.has(other.nodeId))) continue;
      other.deliver(structuredClone(event), remote);
    }
  }

  /** An event from another node (also used to deliver one twice, as a bus replaying after a reconnect could). */
  deliver(event: NetworkEvent, delivery: Delivery): void {
    this.received.push(event);
    for (const listener of this.listeners) listener(event, delivery);
  }

  subscribe(listener: Listener): void {
    this.listeners.push(listener);
  }

  onNodeLost(): void {
    // Nodes of one process never die.
  }

  onSnapshotRequest(): void {
    // Every node here exists from the start: nobody joins later.
  }

  bootstrap(): Promise<boolean> {
    return Promise.resolve(false);
  }

  close(): Promise<void> {
    this.listeners.length = 0;
    return Promise.resolve();
  }
}

/** A room write store never reached: the rooms here are not registered, so TOPIC and MODE never wait on it. */
const NO_ROOM_STORE = {} as RoomStore;

/**
 * TOPIC and MODE in a room that is not registered are decided and published at once, never through the store; NICK
 * and JOIN too, since LocalClaims answers their claims at once.
 */
function atOnce<T>(result: T | Promise<T>): T {
  assert.ok(!(result instanceof Promise), 'decided at once');
  return result;
}

const settings = toServerSettings(parseConfig({ serverName: 'test.natter' }, 'test'));

interface Node {
  readonly id: string;
  readonly bus: HubBus;
  readonly network: Network;
  /** This node's clock: each node's is off from the others, so a value read from a clock in apply() would show. */
  readonly clock: { now: () => number };
}

interface User {
  readonly node: Node;
  readonly session: Session;
  readonly device: Device;
  /** Everything the user's one connection was sent. */
  readonly got: Outbound[];
}

function cluster(...ids: string[]): Node[] {
  const hub = new Hub();
  // One set of nick and room claims for the whole cluster, as its nodes share one Redis (issue 9).
  const claims = new LocalClaims();
  return ids.map((id, index) => {
    const bus = hub.bus(id);
    const clock = { now: () => 1_800_000_000_000 + index * 7_000 };
    return { id, bus, network: new Network(settings, clock, bus, claims), clock };
  });
}

let nextId = 0;

/** A connection on `node` that registers as `nick`, as net/server.ts and the registration commands do. */
function connect(node: Node, nick: string, options: { accountId?: number; modes?: number } = {}): User {
  const id = `${node.id}.${String(++nextId)}`;
  const got: Outbound[] = [];
  const link: SessionLink = {
    send: (message) => got.push(message),
    sendTagged: (message) => got.push(message),
    close: () => undefined,
  };
  const session = new Session(id, 'host.example', '192.0.2.1', Math.floor(node.clock.now() / 1000));
  session.node = node.bus.nodeId;
  const device = new Device(id, link);
  session.devices.push(device);
  node.network.addLocalSession(session);
  atOnce(changeNick(node.network, session, nick));
  session.user = nick;
  session.realname = `${nick} test`;
  session.modes = options.modes ?? 0;
  if (options.accountId !== undefined) {
    session.account = nick;
    session.accountId = options.accountId;
  }
  registerSession(node.network, session);
  got.length = 0;
  return { node, session, device, got };
}

/** The last line of `command` a user was sent. */
function lastOf(user: User, command: string): Outbound {
  const found = user.got.findLast((message) => message.command === command);
  assert.ok(found !== undefined, `${user.session.nick} got no ${command}`);
  return found;
}

function room(node: Node, name: string): Channel {
  const channel = node.network.findChannel(name);
  assert.ok(channel !== undefined, `${name} on ${node.id}`);
  return channel;
}

/** The route of the last event of `type` a node published. */
function lastRoute(node: Node, type: NetworkEvent['type']): readonly string[] | undefined {
  const found = node.bus.published.findLast((entry) => entry.event.type === type);
  assert.ok(found !== undefined, `${node.id} published no ${type}`);
  return found.nodes;
}

describe('cluster core: an event means the same on every node', () => {
  test('JOIN, TOPIC, MODE, KICK, PART, NICK and QUIT carry the msgid and time of the node that published them', () => {
    const [a, b, c] = cluster('na', 'nb', 'nc') as [Node, Node, Node];
    const alice = connect(a, 'alice');
    const bob = connect(b, 'bob');
    const carol = connect(c, 'carol');
    atOnce(joinChannel(a.network, alice.session, '#room', undefined));
    atOnce(joinChannel(b.network, bob.session, '#room', undefined));
    // Published on B: seen on A with B's msgid and B's time (each node's clock is different).
    const joinOnB = lastOf(bob, 'JOIN');
    assert.ok(joinOnB.msgid !== undefined && joinOnB.msgid !== '');
    assert.equal(lastOf(alice, 'JOIN').msgid, joinOnB.msgid);
    assert.equal(lastOf(alice, 'JOIN').time, b.clock.now());
    atOnce(joinChannel(c.network, carol.session, '#room', undefined));

    const sameEverywhere = (command: string): void => {
      const ids = [alice, bob, carol].map((user) => lastOf(user, command).msgid);
      assert.ok(ids[0] !== undefined, `${command} has a msgid`);
      assert.deepEqual(ids, [ids[0], ids[0], ids[0]], `${command} has one msgid on every node`);
    };
    atOnce(setTopic(a.network, NO_ROOM_STORE, alice.session, '#room', 'hello'));
    sameEverywhere('TOPIC');
    for (const node of [a, b, c]) assert.equal(room(node, '#room').topicSetAt, Math.floor(a.clock.now() / 1000));
    atOnce(changeChannelModes(a.network, NO_ROOM_STORE, alice.session, room(a, '#room'), '+mo', ['bob']));
    sameEverywhere('MODE');
    for (const node of [a, b, c]) assert.equal(room(node, '#room').modes.moderated, true);
    atOnce(changeNick(b.network, bob.session, 'robert'));
    sameEverywhere('NICK');
    kickMember(b.network, bob.session, '#room', 'carol', 'bye');
    sameEverywhere('KICK');
    atOnce(joinChannel(c.network, carol.session, '#room', undefined));
    partChannel(c.network, carol.session, '#room', 'later');
    sameEverywhere('PART');
    atOnce(joinChannel(c.network, carol.session, '#room', undefined));
    quit(b.network, bob.session, 'gone');
    const quits = [alice, carol].map((user) => lastOf(user, 'QUIT'));
    assert.equal(quits[0]?.msgid, quits[1]?.msgid);
    assert.equal(quits[0]?.time, b.clock.now());
    for (const node of [a, b, c]) {
      assert.equal(node.network.sessions.has(bob.session.id), false, `bob is gone from ${node.id}`);
      assert.equal(node.network.whowas.at(-1)?.leftAt, Math.floor(b.clock.now() / 1000));
    }
  });

  test('MARKREAD to the other connections has the time of the node that moved the marker', () => {
    const [a, b] = cluster('ma', 'mb') as [Node, Node];
    const phone = connect(a, 'dana', { accountId: 7 });
    const laptop = connect(b, 'dana_', { accountId: 7 });
    laptop.device.caps = 0xffff_ffff;
    a.network.publish({ type: 'readMarkerMoved', accountId: 7, target: '#room', marker: 1_700_000_000_000, device: phone.device.id, time: a.clock.now() });
    const line = lastOf(laptop, 'MARKREAD');
    assert.equal(line.time, a.clock.now());
    assert.deepEqual(line.params, ['#room', 'timestamp=2023-11-14T22:13:20.000Z']);
  });

  test("a room event's history row is written once, by the node that published it", () => {
    const [a, b, c] = cluster('ha', 'hb', 'hc') as [Node, Node, Node];
    const rows: { node: string; room: string; command: string; msgid: string | undefined }[] = [];
    const joins: { node: string; accountId: number; room: string; left: boolean }[] = [];
    for (const node of [a, b, c]) {
      const recorder: RoomEventRecorder = {
        roomEvent: (roomName, message) => rows.push({ node: node.id, room: roomName, command: message.command, msgid: message.msgid }),
        roomJoined: (accountId, roomName) => joins.push({ node: node.id, accountId, room: roomName, left: false }),
        roomLeft: (accountId, roomName) => joins.push({ node: node.id, accountId, room: roomName, left: true }),
      };
      node.network.recorder = recorder;
    }
    const alice = connect(a, 'alice', { accountId: 1 });
    const bob = connect(b, 'bob', { accountId: 2 });
    connect(c, 'carol');
    atOnce(joinChannel(a.network, alice.session, '#room', undefined));
    atOnce(joinChannel(b.network, bob.session, '#room', undefined));
    atOnce(setTopic(a.network, NO_ROOM_STORE, alice.session, '#room', 'topic'));
    atOnce(changeChannelModes(a.network, NO_ROOM_STORE, alice.session, room(a, '#room'), '+s', []));
    atOnce(changeNick(b.network, bob.session, 'bobby'));
    kickMember(a.network, alice.session, '#room', 'bobby', 'out');
    atOnce(joinChannel(b.network, bob.session, '#room', undefined));
    partChannel(b.network, bob.session, '#room', undefined);
    atOnce(joinChannel(b.network, bob.session, '#room', undefined));
    quit(b.network, bob.session, 'bye');
    assert.deepEqual(
      rows.map((row) => `${row.node} ${row.command}`),
      ['ha JOIN', 'hb JOIN', 'ha TOPIC', 'ha MODE', 'hb NICK', 'ha KICK', 'hb JOIN', 'hb PART', 'hb JOIN', 'hb QUIT'],
    );
    assert.equal(new Set(rows.map((row) => row.msgid)).size, rows.length, 'every row its own msgid');
    // The member's own record of joining and leaving is written where its connection is: bob's on B, also when
    // alice's KICK was published on A.
    assert.deepEqual(
      joins.map((entry) => `${entry.node} ${String(entry.accountId)} ${entry.left ? 'left' : 'joined'}`),
      ['ha 1 joined', 'hb 2 joined', 'hb 2 left', 'hb 2 joined', 'hb 2 left', 'hb 2 joined'],
    );
  });

  describe('with one SQLite store shared by the nodes', () => {
    let dir = '';
    let store: Awaited<ReturnType<typeof openSqliteStore>>;
    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'natter-cluster-'));
      store = await openSqliteStore(join(dir, 'natter.db'));
    });
    after(async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    });

    test('each room event is one row, and no node is refused a duplicate', async () => {
      const [a, b] = cluster('sa', 'sb') as [Node, Node];
      const errors: unknown[] = [];
      for (const node of [a, b]) {
        node.network.recorder = new HistoryRecorder(store, (error) => errors.push(error));
      }
      const alice = connect(a, 'alice');
      const bob = connect(b, 'bob');
      atOnce(joinChannel(a.network, alice.session, '#shared', undefined));
      atOnce(joinChannel(b.network, bob.session, '#shared', undefined));
      atOnce(setTopic(a.network, NO_ROOM_STORE, alice.session, '#shared', 'from a'));
      atOnce(changeNick(a.network, alice.session, 'alicia'));
      quit(b.network, bob.session, 'bye');
      // A later append resolves once everything appended before it is committed (group commit, in order).
      await store.appendHistory({ msgid: 'barrier', time: a.clock.now(), target: '#other', command: 'PRIVMSG', source: 'x!y@z', account: undefined, params: ['#other', 'x'], tags: undefined });
      const stored = await store.queryHistory({ target: '#shared', direction: 'forward', limit: 100, events: true });
      // In time order, and B's clock is ahead of A's: A's JOIN, TOPIC and NICK come first.
      assert.deepEqual(
        stored.map((item) => item.command),
        ['JOIN', 'TOPIC', 'NICK', 'JOIN', 'QUIT'],
      );
      assert.deepEqual(errors, []);
    });
  });

  test('a room message goes to the nodes that have members, and the sender’s', () => {
    const [a, b, c] = cluster('ra', 'rb', 'rc') as [Node, Node, Node];
    const alice = connect(a, 'alice');
    const bob = connect(b, 'bob');
    const carol = connect(c, 'carol');
    const alice2 = connect(a, 'alice2');
    atOnce(joinChannel(a.network, alice.session, '#room', undefined));
    atOnce(joinChannel(a.network, alice2.session, '#room', undefined));
    atOnce(joinChannel(b.network, bob.session, '#room', undefined));
    // -n: a sender outside the room may speak there (checked at the end).
    atOnce(changeChannelModes(a.network, NO_ROOM_STORE, alice.session, room(a, '#room'), '-n', []));
    const say = (user: User, target: string, text: string): void => {
      sendMessage(user.node.network, undefined, user.session, user.device.id, 'PRIVMSG', target, text, undefined);
    };

    say(alice, '#room', 'one');
    assert.deepEqual(lastRoute(a, 'channelMessage'), ['ra', 'rb']);
    assert.equal(lastOf(bob, 'PRIVMSG').params[1], 'one');
    assert.equal(c.bus.received.some((event) => event.type === 'channelMessage'), false, 'C has no member: it gets nothing');
    assert.equal(carol.got.length, 0);

    atOnce(joinChannel(c.network, carol.session, '#room', undefined));
    say(bob, '#room', 'two');
    assert.deepEqual(lastRoute(b, 'channelMessage'), ['ra', 'rb', 'rc']);
    assert.equal(lastOf(carol, 'PRIVMSG').params[1], 'two');

    // One of A's two members leaving keeps A on the route; both leaving takes it off.
    partChannel(a.network, alice2.session, '#room', undefined);
    say(carol, '#room', 'three');
    assert.deepEqual(lastRoute(c, 'channelMessage'), ['ra', 'rb', 'rc']);
    partChannel(a.network, alice.session, '#room', undefined);
    quit(a.network, alice2.session, 'bye');
    say(carol, '#room', 'four');
    assert.deepEqual(lastRoute(c, 'channelMessage'), ['rb', 'rc']);
    for (const node of [a, b, c]) assert.deepEqual([...room(node, '#room').nodes].sort(), ['rb', 'rc'], `members per node on ${node.id}`);

    // A sender outside a -n room: its own node is on the route too (its other devices see the echo).
    const dave = connect(a, 'dave');
    say(dave, '#room', 'from outside');
    assert.deepEqual(lastRoute(a, 'channelMessage'), ['ra', 'rb', 'rc']);

    // A private message: the recipient's node and the sender's. State events still go everywhere.
    say(alice, 'carol', 'psst');
    assert.deepEqual(lastRoute(a, 'privateMessage'), ['ra', 'rc']);
    assert.equal(lastOf(carol, 'PRIVMSG').params[1], 'psst');
    assert.equal(b.bus.received.some((event) => event.type === 'privateMessage'), false);
    say(alice, 'dave', 'next door');
    assert.deepEqual(lastRoute(a, 'privateMessage'), ['ra']);
    assert.equal(lastRoute(a, 'channelParted'), undefined);
    assert.equal(lastRoute(a, 'userQuit'), undefined);

    // A redaction follows the message it redacts.
    c.network.publish({
      type: 'messageRedacted',
      from: carol.session.id,
      device: carol.device.id,
      channel: '#room',
      to: undefined,
      target: '#room',
      redacted: 'x',
      reason: undefined,
      time: c.clock.now(),
      msgid: c.network.msgids.next(),
    });
    assert.deepEqual(lastRoute(c, 'messageRedacted'), ['rb', 'rc']);
  });

  test('a view-once message goes only to the nodes of its recipients', async () => {
    const [a, b, c] = cluster('va', 'vb', 'vc') as [Node, Node, Node];
    const alice = connect(a, 'alice');
    const bob = connect(b, 'bob');
    connect(c, 'carol');
    atOnce(joinChannel(a.network, alice.session, '#room', undefined));
    atOnce(joinChannel(b.network, bob.session, '#room', undefined));
    const viewOnce = { createViewOnce: () => Promise.resolve() } as unknown as Parameters<typeof sendMessage>[9];
    const tags = new Map([['+natter.chat/view-once', '']]);
    const sent = sendMessage(a.network, undefined, alice.session, alice.device.id, 'PRIVMSG', '#room', 'secret', tags, undefined, viewOnce);
    await sent.done;
    assert.deepEqual(lastRoute(a, 'viewOnceMessage'), ['va', 'vb']);
    assert.equal(c.bus.received.some((event) => event.type === 'viewOnceMessage'), false);
  });

  test('a userRegistered applied twice counts the user once', () => {
    const [a, b] = cluster('da', 'db') as [Node, Node];
    connect(a, 'alice', { accountId: 5, modes: UserMode.invisible | UserMode.oper });
    const intro = a.bus.published.find((entry) => entry.event.type === 'userRegistered')?.event;
    assert.ok(intro?.type === 'userRegistered');
    assert.equal(intro.user.node, 'da');
    const counts = (network: Network): number[] => [network.registeredCount, network.invisibleCount, network.operCount, network.maxUsers, network.sessions.size, network.accountSessions.get(5)?.size ?? 0];
    assert.deepEqual(counts(b.network), [1, 1, 1, 1, 1, 1]);
    const mirror = b.network.sessions.get(intro.user.id);
    assert.equal(mirror?.node, 'da', 'the mirror keeps its home node');
    b.bus.deliver(structuredClone(intro), { local: false, origin: 'da' });
    assert.deepEqual(counts(b.network), [1, 1, 1, 1, 1, 1]);
    assert.equal(b.network.sessions.get(intro.user.id), mirror, 'the same session, not a second one');
    assert.equal(b.network.findNick('alice'), mirror);
    // Applied again on its own node too, and then the quit brings every count back to zero.
    a.bus.deliver(structuredClone(intro), { local: false, origin: 'da' });
    assert.deepEqual(counts(a.network), [1, 1, 1, 1, 1, 1]);
    const alice = a.network.findNick('alice');
    assert.ok(alice !== undefined);
    assert.equal(alice.isLocal, true, 'the local session keeps its connection');
    quit(a.network, alice, 'bye');
    for (const node of [a, b]) assert.deepEqual(counts(node.network), [0, 0, 0, 1, 0, 0]);
  });
});

describe('cluster core: session ids', () => {
  test('two nodes never give the same session id: each begins with its node id', async () => {
    const servers = [await startTestServer(), await startTestServer()];
    const clients: TestClient[] = [];
    try {
      const ids: string[] = [];
      for (const [index, natter] of servers.entries()) {
        clients.push(await TestClient.register(natter.port, `user${String(index)}`));
        const { network } = natter.server;
        const session = network.findNick(`user${String(index)}`);
        assert.ok(session !== undefined);
        assert.ok(session.id.startsWith(`${network.bus.nodeId}.`), session.id);
        assert.equal(session.node, network.bus.nodeId);
        assert.equal(session.devices[0]?.id, session.id);
        ids.push(session.id);
      }
      assert.notEqual(servers[0]?.server.network.bus.nodeId, servers[1]?.server.network.bus.nodeId);
      assert.notEqual(ids[0], ids[1]);
    } finally {
      for (const client of clients) client.close();
      for (const natter of servers) await natter.stop();
    }
  });

  test('batch references stay letters and digits (IRCv3 batch), whatever the node id', async () => {
    const natter = await startTestServer();
    const client = await TestClient.register(natter.port, 'batcher', { caps: ['batch', 'labeled-response', 'message-tags'] });
    try {
      client.send('@label=l1 JOIN #b');
      const opening = await client.expect((m) => m.command === 'BATCH' && m.params[0]?.startsWith('+') === true);
      assert.match(opening.params[0] ?? '', /^\+[A-Za-z0-9-]+$/);
    } finally {
      client.close();
      await natter.stop();
    }
  });
});
