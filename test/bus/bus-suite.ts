/**
 * One conformance suite for every multi-node Bus (ARCHITECTURE.md lesson 6): the same assertions run against the
 * in-process MemoryHub and against RedisBus on the real Redis. It checks the contract of core/ports.ts Bus: local
 * listeners inside publish(), every other node exactly once and in publish order, routes, node loss, joining.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { NetworkEvent } from '../../src/core/events.js';
import type { Bus, Delivery } from '../../src/core/ports.js';

export interface BusHarness {
  /** n new nodes of one network, each connected (and known to the others) when the promise resolves. */
  nodes(n: number): Promise<Bus[]>;
  /** The node dies without a word (kill -9): no clean leave, no more lease renewals. */
  kill(bus: Bus): Promise<void>;
  dispose(): Promise<void>;
  /** How long a killed node may take to be reported lost (default 5000 ms). */
  readonly lossWithinMs?: number;
  /** How long to wait for something that must not happen, such as a duplicate (default 100 ms). */
  readonly quietMs?: number;
  /** How long to wait for a second, wrong onNodeLost after the first (default quietMs). */
  readonly lossQuietMs?: number;
}

interface Received {
  readonly event: NetworkEvent;
  readonly delivery: Delivery;
}

type Samples = { readonly [T in NetworkEvent['type']]: Extract<NetworkEvent, { type: T }> };

const TIME = 1_700_000_000_123;

/** One sample of every NetworkEvent type (the compiler asks for a new one), with Maps, undefined fields and options. */
const SAMPLES: Samples = {
  userRegistered: {
    type: 'userRegistered',
    user: {
      id: 'n1.1',
      node: 'n1',
      nick: 'Alice',
      user: '~alice',
      host: 'host.example',
      ip: '192.0.2.1',
      realname: 'Alice “Ally” Liddell',
      modes: 5,
      signonAt: TIME,
      account: undefined,
      accountId: undefined,
    },
  },
  nickChanged: { type: 'nickChanged', id: 'n1.1', nick: 'Alicia', time: TIME, msgid: 'm-nick' },
  accountChanged: { type: 'accountChanged', id: 'n1.1', account: 'alice', accountId: 7, time: TIME },
  userQuit: { type: 'userQuit', id: 'n1.1', reason: 'Quit: bye', time: TIME, msgid: 'm-quit' },
  loginFailed: { type: 'loginFailed', key: 'ip:203.0.113.9' },
  loginSucceeded: { type: 'loginSucceeded', key: 'account:alice' },
  deviceNodeAdded: { type: 'deviceNodeAdded', id: 'n1.1', node: 'n2' },
  deviceNodeRemoved: { type: 'deviceNodeRemoved', id: 'n1.1', node: 'n1' },
  awayChanged: { type: 'awayChanged', id: 'n1.1', message: undefined, time: TIME },
  userModeChanged: { type: 'userModeChanged', id: 'n1.1', modes: 12, changes: '+iw', time: TIME },
  realnameChanged: { type: 'realnameChanged', id: 'n1.1', realname: '', time: TIME },
  hostChanged: { type: 'hostChanged', id: 'n1.1', user: 'alice', host: 'cloak/alice', time: TIME },
  channelJoined: { type: 'channelJoined', id: 'n1.1', channel: '#chat', name: '#Chat', created: true, time: TIME, msgid: 'm-join' },
  channelParted: { type: 'channelParted', id: 'n1.1', channel: '#chat', reason: undefined, time: TIME, msgid: 'm-part' },
  memberKicked: { type: 'memberKicked', by: 'n1.2', channel: '#chat', target: 'n1.1', reason: 'spam', time: TIME, msgid: 'm-kick' },
  topicChanged: { type: 'topicChanged', by: 'Bob!~bob@host', channel: '#chat', topic: 'Hello\tworld 🌍', time: TIME, msgid: 'm-topic' },
  channelModeChanged: {
    type: 'channelModeChanged',
    by: 'ChanServ',
    channel: '#chat',
    changes: [
      { adding: true, letter: 'o', param: 'Alice' },
      { adding: false, letter: 'm' },
    ],
    roles: [{ accountId: 7, accountName: 'alice', rank: 4 }],
    time: TIME,
    msgid: 'm-mode',
  },
  userInvited: {
    type: 'userInvited',
    by: 'Bob!~bob@host',
    from: 'n1.2',
    channel: '#secret',
    name: '#Secret',
    target: 'n2.1',
    admits: false,
    time: TIME,
  },
  channelMessage: {
    type: 'channelMessage',
    from: 'n1.1',
    command: 'PRIVMSG',
    channel: '#chat',
    target: '@#Chat',
    minRank: 3,
    text: 'line one\nline two',
    tags: new Map([
      ['+draft/reply', 'abc'],
      ['+example.com/x', 'semi;colon space\\back'],
    ]),
    time: TIME,
    msgid: 'm-chan',
    device: 'n1.1',
    lines: [
      { text: 'line one', concat: false },
      { text: 'line two', concat: true },
    ],
  },
  privateMessage: {
    type: 'privateMessage',
    from: 'n1.1',
    command: 'TAGMSG',
    to: 'n2.1',
    text: '',
    tags: new Map([['+typing', 'active']]),
    time: TIME,
    msgid: 'm-priv',
    device: undefined,
  },
  wallops: { type: 'wallops', source: 'irc.example', text: 'maintenance at noon', time: TIME },
  messageRedacted: {
    type: 'messageRedacted',
    from: 'n1.1',
    device: undefined,
    channel: undefined,
    to: 'n2.1',
    target: 'Bob',
    redacted: 'm-priv',
    reason: undefined,
    time: TIME,
    msgid: 'm-redact',
  },
  readMarkerMoved: { type: 'readMarkerMoved', accountId: 7, target: '#Chat', marker: TIME - 5, device: 'n1.3', time: TIME },
  roomRegistered: { type: 'roomRegistered', channel: '#chat', founderId: 7, founderName: 'alice', registeredAt: TIME, time: TIME },
  roomDropped: { type: 'roomDropped', channel: '#chat', time: TIME },
  roomHistoryChanged: { type: 'roomHistoryChanged', channel: '#chat', history: null, time: TIME },
  roomFounderChanged: {
    type: 'roomFounderChanged',
    channel: '#chat',
    founderId: 8,
    founderName: 'bob',
    previousFounderId: 7,
    previousFounderName: 'alice',
    time: TIME,
  },
  roomRoleChanged: { type: 'roomRoleChanged', channel: '#chat', role: { accountId: 8, accountName: 'bob', rank: 0 }, time: TIME },
  accountRoomsForgotten: { type: 'accountRoomsForgotten', accountId: 7, time: TIME },
  viewOnceMessage: {
    type: 'viewOnceMessage',
    from: 'n1.1',
    device: 'n1.1',
    command: 'PRIVMSG',
    channel: '#chat',
    target: '#Chat',
    to: undefined,
    tags: undefined,
    time: TIME,
    expiresAt: TIME + 86_400_000,
    msgid: 'm-vo',
    sealedFor: ['n2.1', 'n2.2'],
    plainFor: ['n1.4'],
    text: 'see this once',
  },
  viewOnceOpened: { type: 'viewOnceOpened', recipient: 'a:7', msgid: 'm-vo', expiresAt: TIME + 86_400_000, device: undefined, time: TIME },
};

/** One event of every type, plus the other shapes of the types with options (no tags, no lines, no roles, an accountful intro). */
export function sampleEvents(): NetworkEvent[] {
  return [
    ...Object.values(SAMPLES),
    { ...SAMPLES.userRegistered, user: { ...SAMPLES.userRegistered.user, account: 'alice', accountId: 7 } },
    { type: 'channelMessage', from: 'n1.1', command: 'NOTICE', channel: '#chat', target: '#chat', minRank: 0, text: 'hi', tags: undefined, time: TIME, msgid: 'm2', device: undefined },
    { type: 'channelMessage', from: 'n1.1', command: 'TAGMSG', channel: '#chat', target: '#chat', minRank: 0, text: '', tags: new Map(), time: TIME, msgid: 'm3', device: 'n1.1' },
    { type: 'channelModeChanged', by: 'irc.example', channel: '#chat', changes: [], time: TIME, msgid: 'm-mode2' },
    { type: 'roomHistoryChanged', channel: '#chat', history: 'joined', time: TIME },
    { ...SAMPLES.viewOnceMessage, channel: undefined, target: undefined, to: 'n2.1', tags: new Map([['+x', '']]), plainFor: [], text: undefined },
  ];
}

/** A small room message whose text identifies it. */
export function message(text: string, from = 'n1.1'): NetworkEvent {
  return {
    type: 'channelMessage',
    from,
    command: 'PRIVMSG',
    channel: '#chat',
    target: '#chat',
    minRank: 0,
    text,
    tags: undefined,
    time: TIME,
    msgid: `m-${text}`,
    device: undefined,
  };
}

function textOf(event: NetworkEvent): string {
  return event.type === 'channelMessage' ? event.text : `(${event.type})`;
}

function record(bus: Bus): Received[] {
  const received: Received[] = [];
  bus.subscribe((event, delivery) => {
    received.push({ event, delivery });
  });
  return received;
}

const remote = (received: readonly Received[]): Received[] => received.filter((item) => !item.delivery.local);
const remoteTexts = (received: readonly Received[]): string[] => remote(received).map((item) => textOf(item.event));

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(condition: () => boolean, what: string, withinMs = 10_000): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${withinMs} ms waiting for ${what}`);
    await sleep(5);
  }
}

export function runBusSuite(name: string, make: () => Promise<BusHarness | string>): void {
  describe(`Bus conformance: ${name}`, () => {
    let harness: BusHarness | undefined;
    let skipReason: string | undefined;
    const h = (): BusHarness => {
      if (harness === undefined) throw new Error('no harness');
      return harness;
    };
    const quietMs = (): number => h().quietMs ?? 100;

    before(async () => {
      const made = await make();
      if (typeof made === 'string') skipReason = made;
      else harness = made;
    });
    after(async () => {
      await harness?.dispose();
    });

    /** A test with n fresh nodes, closed at its end whatever happens. */
    const test = (title: string, n: number, body: (buses: Bus[]) => Promise<void>): void => {
      it(title, { timeout: 60_000 }, async (t) => {
        if (skipReason !== undefined) {
          t.skip(skipReason);
          return;
        }
        const buses = await h().nodes(n);
        try {
          await body(buses);
        } finally {
          await Promise.all(buses.map((bus) => bus.close()));
        }
      });
    };

    test('local listeners run synchronously inside publish, with local: true and this node as origin', 2, ([a, b]) => {
      assert.ok(a && b);
      const seen: Received[] = [];
      a.subscribe((event, delivery) => seen.push({ event, delivery }));
      a.subscribe((event, delivery) => seen.push({ event, delivery }));
      const event = message('sync');
      a.publish(event);
      assert.equal(seen.length, 2, 'both listeners ran before publish returned');
      assert.equal(seen[0]?.event, event, 'the local listener gets the very object published');
      assert.deepEqual(seen[0].delivery, { local: true, origin: a.nodeId });
      // A route that leaves this node out still applies it here: the publisher always applies its own event.
      a.publish(message('routed away'), { nodes: new Set([b.nodeId]) });
      assert.equal(seen.length, 4);
      assert.notEqual(a.nodeId, b.nodeId);
      return Promise.resolve();
    });

    test('every other node gets each event exactly once, with local: false and the publisher as origin', 3, async (buses) => {
      const received = buses.map(record);
      const perNode = 20;
      for (let k = 0; k < perNode; k++) {
        for (const [i, bus] of buses.entries()) bus.publish(message(`${i}:${k}`));
      }
      const expected = perNode * (buses.length - 1);
      for (const [i, got] of received.entries()) {
        await waitFor(() => remote(got).length >= expected, `node ${i} to get ${expected} remote events`);
      }
      await sleep(quietMs());
      for (const [i, got] of received.entries()) {
        const remotes = remote(got);
        assert.equal(remotes.length, expected, `node ${i}: no duplicates`);
        assert.equal(got.length - remotes.length, perNode, `node ${i}: its own, locally`);
        const keys = new Set(remotes.map((item) => `${item.delivery.origin}/${textOf(item.event)}`));
        assert.equal(keys.size, expected);
        for (const item of remotes) {
          const publisher = Number(textOf(item.event).split(':')[0]);
          assert.notEqual(publisher, i);
          assert.equal(item.delivery.origin, buses[publisher]?.nodeId);
        }
      }
    });

    test('a burst of 2,000 events per publisher arrives in publish order on every other node', 3, async ([a, b, c]) => {
      assert.ok(a && b && c);
      const [, gotB, gotC] = [record(a), record(b), record(c)];
      const count = 2000;
      for (let k = 0; k < count; k++) {
        a.publish(message(`a${k}`));
        b.publish(message(`b${k}`));
        // Across event-loop turns too, not only within one.
        if (k % 250 === 0) await sleep(0);
      }
      await waitFor(() => remote(gotC).length >= 2 * count, `c to get ${2 * count} events`, 30_000);
      await waitFor(() => remote(gotB).length >= count, `b to get ${count} events`, 30_000);
      const fromA = remote(gotC).filter((item) => item.delivery.origin === a.nodeId).map((item) => textOf(item.event));
      const fromB = remote(gotC).filter((item) => item.delivery.origin === b.nodeId).map((item) => textOf(item.event));
      assert.deepEqual(fromA, Array.from({ length: count }, (_, k) => `a${k}`));
      assert.deepEqual(fromB, Array.from({ length: count }, (_, k) => `b${k}`));
      assert.deepEqual(remoteTexts(gotB), fromA);
    });

    test('a node never gets its own events back', 2, async ([a, b]) => {
      assert.ok(a && b);
      const [gotA, gotB] = [record(a), record(b)];
      for (let k = 0; k < 50; k++) a.publish(message(`own${k}`));
      await waitFor(() => remote(gotB).length >= 50, 'b to get 50 events');
      b.publish(message('reply'));
      await waitFor(() => remote(gotA).length >= 1, 'a to get the reply');
      await sleep(quietMs());
      assert.deepEqual(remoteTexts(gotA), ['reply']);
      assert.ok(remote(gotA).every((item) => item.delivery.origin === b.nodeId));
      assert.equal(gotA.filter((item) => item.delivery.local).length, 50);
    });

    test('a routed event reaches only the nodes of its route', 3, async ([a, b, c]) => {
      assert.ok(a && b && c);
      const [gotA, gotB, gotC] = [record(a), record(b), record(c)];
      a.publish(message('to c'), { nodes: new Set([c.nodeId]) });
      a.publish(message('to b and a'), { nodes: new Set([b.nodeId, a.nodeId]) });
      a.publish(message('to nobody'), { nodes: new Set() });
      a.publish(message('to a gone node'), { nodes: new Set(['no-such-node']) });
      // A publisher's events arrive in order, so its next broadcast shows the routed ones had their chance.
      a.publish(message('everyone'));
      await waitFor(() => remoteTexts(gotB).includes('everyone') && remoteTexts(gotC).includes('everyone'), 'the broadcast');
      await sleep(quietMs());
      assert.deepEqual(remoteTexts(gotB), ['to b and a', 'everyone']);
      assert.deepEqual(remoteTexts(gotC), ['to c', 'everyone']);
      assert.deepEqual(
        gotA.map((item) => [textOf(item.event), item.delivery.local]),
        ['to c', 'to b and a', 'to nobody', 'to a gone node', 'everyone'].map((text) => [text, true]),
      );
    });

    test('every NetworkEvent variant arrives on another node equal to what was published', 2, async ([a, b]) => {
      assert.ok(a && b);
      const gotB = record(b);
      const samples = sampleEvents();
      for (const event of samples) a.publish(event);
      await waitFor(() => remote(gotB).length >= samples.length, `${samples.length} events`);
      assert.deepEqual(
        remote(gotB).map((item) => item.event),
        samples,
      );
    });

    test('a closed node gets nothing more, publishes nothing, and the others carry on', 3, async ([a, b, c]) => {
      assert.ok(a && b && c);
      const [gotA, gotB, gotC] = [record(a), record(b), record(c)];
      let lostReports = 0;
      for (const bus of [a, c]) bus.onNodeLost(() => lostReports++);
      a.publish(message('before'));
      await waitFor(() => remote(gotB).length === 1 && remote(gotC).length === 1, 'the first event');
      await b.close();
      await b.close();
      b.publish(message('from the grave'));
      a.publish(message('after'));
      c.publish(message('after too'));
      await waitFor(() => remoteTexts(gotC).includes('after') && remoteTexts(gotA).includes('after too'), 'a and c to carry on');
      await sleep(quietMs());
      assert.deepEqual(
        gotB.map((item) => textOf(item.event)),
        ['before'],
      );
      assert.ok(!remoteTexts(gotA).includes('from the grave') && !remoteTexts(gotC).includes('from the grave'));
      assert.equal(lostReports, 0, 'a node that closed is not lost');
    });

    test('a killed node is reported through onNodeLost on exactly one survivor, within the bound', 3, async ([a, b, c]) => {
      assert.ok(a && b && c);
      const [gotA, gotB] = [record(a), record(b)];
      const reports: Array<{ by: string; lost: string; sawLastWords: boolean }> = [];
      for (const [bus, got] of [
        [a, gotA],
        [b, gotB],
      ] as const) {
        bus.onNodeLost((lost) => reports.push({ by: bus.nodeId, lost, sawLastWords: remoteTexts(got).includes('last words') }));
      }
      c.publish(message('last words'));
      await waitFor(() => remoteTexts(gotA).includes('last words') && remoteTexts(gotB).includes('last words'), 'the last words');
      const killedAt = Date.now();
      await h().kill(c);
      const bound = h().lossWithinMs ?? 5000;
      await waitFor(() => reports.length > 0, `onNodeLost within ${bound} ms`, bound);
      const tookMs = Date.now() - killedAt;
      await sleep(h().lossQuietMs ?? quietMs());
      assert.equal(reports.length, 1, `exactly one report: ${JSON.stringify(reports)}`);
      assert.equal(reports[0]?.lost, c.nodeId);
      assert.ok(reports[0].sawLastWords, 'the loss comes after the dead node’s last events');
      assert.ok(tookMs <= bound, `reported after ${tookMs} ms`);
      // The survivors still talk, and no longer to the dead node.
      a.publish(message('still here'));
      await waitFor(() => remoteTexts(gotB).includes('still here'), 'b to hear a');
    });

    test('a node started after a loss joins and exchanges events with the survivors', 3, async ([a, b, c]) => {
      assert.ok(a && b && c);
      const [gotA, gotB] = [record(a), record(b)];
      let lost = 0;
      for (const bus of [a, b]) bus.onNodeLost(() => lost++);
      await h().kill(c);
      await waitFor(() => lost > 0, 'the loss', h().lossWithinMs ?? 5000);
      const [d] = await h().nodes(1);
      assert.ok(d);
      try {
        assert.ok(![a.nodeId, b.nodeId, c.nodeId].includes(d.nodeId), 'a new node id');
        const gotD = record(d);
        a.publish(message('hi d'));
        b.publish(message('hello d'));
        d.publish(message('hi all'));
        await waitFor(() => remote(gotD).length >= 2, 'd to hear a and b');
        await waitFor(() => remoteTexts(gotA).includes('hi all') && remoteTexts(gotB).includes('hi all'), 'a and b to hear d');
        await sleep(quietMs());
        assert.deepEqual(remoteTexts(gotD).sort(), ['hello d', 'hi d']);
        assert.deepEqual(
          remote(gotD).map((item) => item.delivery.origin).sort(),
          [a.nodeId, b.nodeId].sort(),
        );
        assert.deepEqual(remoteTexts(gotA), ['hello d', 'hi all']);
      } finally {
        await d.close();
      }
    });
  });
}
