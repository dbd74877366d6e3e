/**
 * Cluster mode (issue 9) over real sockets: three Natter nodes sharing one network through the real Redis and one
 * PostgreSQL schema, clients spread over them as a load balancer would. Room messages reach every member on every
 * node exactly once and in the sender's order, and are written to history once; private messages, whispers and
 * TAGMSGs cross nodes; a node killed with SIGKILL disappears from the others' view with its users' QUITs, and its
 * nicks are free again. Under CI=true these run against the machine's Redis and PostgreSQL, never skipped.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TestClient } from './helpers/client.js';
import { postgresUrlWithSchema } from './helpers/durability.js';
import { hashPassword } from '../src/auth/authenticator.js';
import { loggedInWithCaps, registerAccount, saslPlain } from './helpers/login.js';
import { createSchema, dropSchema, freshSchemaName, postgresAvailable } from './helpers/postgres.js';
import { serveNatter } from './helpers/process.js';
import type { ServedNatter } from './helpers/process.js';
import { REDIS_URL, deleteNamespace, freshNamespace, redisAvailable, startRedisProxy } from './helpers/redis.js';
import { startTestServer } from './helpers/server.js';
import type { TestServer } from './helpers/server.js';

const LEASE_MS = 1000;

async function unavailable(): Promise<string | undefined> {
  return (await redisAvailable()) ?? (await postgresAvailable());
}
const skip = await unavailable();

interface Cluster {
  readonly nodes: TestServer[];
  readonly schema: string;
  readonly namespace: string;
}

const OPER_PASSWORD = 'cluster-oper-secret';

async function startCluster(count: number, maxFailedLogins = 1000): Promise<Cluster> {
  const opers = [{ name: 'root', password: await hashPassword(OPER_PASSWORD) }];
  const schema = freshSchemaName('natter_cluster');
  const namespace = freshNamespace('natter_cluster');
  await createSchema(schema);
  const nodes: TestServer[] = [];
  try {
    // One after the other: the first creates the schema, the others find it.
    for (let index = 0; index < count; index++) {
      nodes.push(await startTestServer({ database: postgresUrlWithSchema(schema), cluster: { redis: REDIS_URL, namespace, leaseMs: LEASE_MS }, accounts: { maxFailedLogins }, opers }));
    }
  } catch (error) {
    for (const node of nodes) await node.stop();
    throw error;
  }
  return { nodes, schema, namespace };
}

async function stopCluster(cluster: Cluster): Promise<void> {
  for (const node of cluster.nodes) await node.stop();
  await dropSchema(cluster.schema);
  await deleteNamespace(cluster.namespace);
}

/** Joins and waits for the room's end of NAMES (the JOIN has been applied on the client's node). */
async function joinRoom(client: TestClient, room: string): Promise<void> {
  client.send(`JOIN ${room}`);
  await client.expect((m) => m.command === '366' && m.params[1] === room);
}

/** Waits until `client`'s node sees `count` members in the room (JOINs from other nodes have arrived). */
async function membersSeen(client: TestClient, room: string, count: number): Promise<void> {
  const deadline = Date.now() + 5000;
  for (;;) {
    client.send(`NAMES ${room}`);
    const names = await client.expect((m) => m.command === '353' && m.params[2] === room);
    await client.expect((m) => m.command === '366' && m.params[1] === room);
    if ((names.params[3] ?? '').split(' ').filter((name) => name !== '').length >= count) return;
    if (Date.now() > deadline) assert.fail(`${room} has ${names.params[3] ?? ''} on ${client.nick}'s node, not ${String(count)} members`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('cluster mode: three nodes, one network', { skip, concurrency: 1 }, () => {
  let cluster: Cluster;
  before(async () => {
    cluster = await startCluster(3);
  });
  after(async () => {
    await stopCluster(cluster);
  });

  it('room messages reach every member on every node exactly once, in each sender’s order, and are written to history once', { timeout: 60_000 }, async () => {
    const caps = ['message-tags', 'server-time', 'echo-message', 'draft/chathistory', 'batch'];
    const clients: TestClient[] = [];
    for (let index = 0; index < 6; index++) {
      const node = cluster.nodes[index % 3]!;
      clients.push(await TestClient.register(node.port, `member${String(index)}`, { caps }));
    }
    try {
      for (const client of clients) await joinRoom(client, '#spread');
      for (const client of clients) await membersSeen(client, '#spread', 6);
      const perSender = 15; // 90 messages: within one CHATHISTORY page (at most 100)
      for (let round = 0; round < perSender; round++) for (const [index, client] of clients.entries()) client.send(`PRIVMSG #spread :m${String(index)}-${String(round)}`);
      const expected = clients.length * perSender;
      const msgids = new Set<string>();
      for (const [receiverIndex, receiver] of clients.entries()) {
        const seen: string[] = [];
        while (seen.length < expected) {
          const message = await receiver.expect((m) => m.command === 'PRIVMSG' && m.params[0] === '#spread', 10_000);
          seen.push(message.params[1] ?? '');
          const msgid = message.tags?.get('msgid');
          assert.ok(msgid !== undefined, 'every message has a msgid');
          if (receiverIndex === 0) msgids.add(msgid);
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
        assert.equal(receiver.drain().filter((m) => m.command === 'PRIVMSG').length, 0, `${receiver.nick}: nothing twice`);
        assert.equal(new Set(seen).size, expected, `${receiver.nick}: each message once`);
        for (const [senderIndex] of clients.entries()) {
          const order = seen.filter((text) => text.startsWith(`m${String(senderIndex)}-`)).map((text) => Number(text.split('-')[1]));
          assert.deepEqual(order, [...order].sort((a, b) => a - b), `${receiver.nick} sees member${String(senderIndex)}'s messages in order`);
        }
      }
      assert.equal(msgids.size, expected, 'one msgid per message, the same on every node');
      // History: asked on another node, each message is there once.
      const reader = clients[2]!;
      reader.send('CHATHISTORY LATEST #spread * 200');
      const batchStart = await reader.expect((m) => m.command === 'BATCH' && (m.params[0] ?? '').startsWith('+'));
      const reference = (batchStart.params[0] ?? '').slice(1);
      const rows: string[] = [];
      for (;;) {
        const line = await reader.expect((m) => (m.command === 'PRIVMSG' && m.tags?.get('batch') === reference) || (m.command === 'BATCH' && m.params[0] === `-${reference}`));
        if (line.command === 'BATCH') break;
        rows.push(line.tags?.get('msgid') ?? '');
      }
      assert.equal(rows.length, expected, 'every message is in history');
      assert.equal(new Set(rows).size, expected, 'and none twice');
      for (const row of rows) assert.ok(msgids.has(row), 'with the msgid members saw');
    } finally {
      for (const client of clients) client.close();
    }
  });

  it('private messages, whispers and TAGMSGs cross nodes; a nick is one across the network', { timeout: 30_000 }, async () => {
    const [a, b, c] = cluster.nodes;
    const ada = await TestClient.register(a!.port, 'ada', { caps: ['message-tags', 'echo-message'] });
    const bob = await TestClient.register(b!.port, 'bob', { caps: ['message-tags'] });
    try {
      await joinRoom(ada, '#whisper');
      await joinRoom(bob, '#whisper');
      await membersSeen(ada, '#whisper', 2);
      ada.send('PRIVMSG bob :hello across nodes');
      const direct = await bob.expect((m) => m.command === 'PRIVMSG' && m.params[0] === 'bob');
      assert.equal(direct.params[1], 'hello across nodes');
      assert.ok(direct.source?.startsWith('ada!'));
      ada.send('@+typing=active TAGMSG bob');
      const typing = await bob.expect((m) => m.command === 'TAGMSG');
      assert.equal(typing.tags?.get('+typing'), 'active');
      ada.send('@+draft/channel-context=#whisper PRIVMSG bob :just for you');
      const whisper = await bob.expect((m) => m.command === 'PRIVMSG' && m.params[1] === 'just for you');
      assert.equal(whisper.tags?.get('+draft/channel-context'), '#whisper');
      bob.send('PRIVMSG ada :and back');
      await ada.expect((m) => m.command === 'PRIVMSG' && m.params[1] === 'and back');
      // The nick ada is taken network-wide: a third node refuses it.
      const late = await TestClient.connect(c!.port);
      late.send('NICK ada');
      late.send('USER x 0 * :x');
      await late.expect('433');
      late.close();
    } finally {
      ada.close();
      bob.close();
    }
  });

  it('races across nodes: of two users taking one nick at once exactly one gets it; of two first JOINs exactly one founds the room', { timeout: 60_000 }, async () => {
    const [a, b] = cluster.nodes;
    for (let round = 0; round < 5; round++) {
      const left = await TestClient.register(a!.port, `left${String(round)}`);
      const right = await TestClient.register(b!.port, `right${String(round)}`);
      try {
        const wanted = `prize${String(round)}`;
        left.send(`NICK ${wanted}`);
        right.send(`NICK ${wanted}`);
        const outcome = (client: TestClient): Promise<string> =>
          client.expect((m) => (m.command === 'NICK' && m.params[0] === wanted) || m.command === '433', 5000).then((m) => m.command);
        const results = (await Promise.all([outcome(left), outcome(right)])).sort();
        assert.deepEqual(results, ['433', 'NICK'], `round ${String(round)}: one winner`);

        const room = `#founded${String(round)}`;
        left.send(`JOIN ${room}`);
        right.send(`JOIN ${room}`);
        const namesOf = async (client: TestClient): Promise<string> => {
          await client.expect((m) => m.command === '366' && m.params[1] === room, 5000);
          return '';
        };
        await Promise.all([namesOf(left), namesOf(right)]);
        await membersSeen(left, room, 2);
        left.send(`NAMES ${room}`);
        const names = await left.expect((m) => m.command === '353' && m.params[2] === room);
        const ops = (names.params[3] ?? '').split(' ').filter((name) => name.startsWith('@'));
        assert.equal(ops.length, 1, `round ${String(round)}: one founder in ${names.params[3] ?? ''}`);
      } finally {
        left.close();
        right.close();
      }
    }
  });

  it('one account on two nodes is one user: both devices get its messages once, and it stays online until its last device goes', { timeout: 60_000 }, async () => {
    const [a, b, c] = cluster.nodes;
    const caps = ['message-tags', 'echo-message', 'server-time'];
    const first = await registerAccount(a!.port, 'multi', 'multi-password-1');
    const bob = await TestClient.register(c!.port, 'mdbob', { caps });
    let second: TestClient | undefined;
    try {
      await joinRoom(first, '#devices');
      await joinRoom(bob, '#devices');
      await membersSeen(bob, '#devices', 2);
      second = await loggedInWithCaps(b!.port, 'multi-phone', 'multi', 'multi-password-1', caps);
      assert.equal(second.nick, 'multi', 'the second device is the same user, under its nick');
      second.send('NAMES #devices');
      const names = await second.expect((m) => m.command === '353' && m.params[2] === '#devices');
      assert.match(names.params[3] ?? '', /multi/, 'in the user’s rooms on the second node');
      // The phone speaks first: bob's node hears of the new device (deviceNodeAdded) before that message, on the
      // same ordered stream, so once bob has it his node routes to the phone's node too. Until then a message
      // can miss the device that attached a moment ago (it gets it from history); see docs/cluster.md.
      second.send('PRIVMSG #devices :from the phone');
      const heard = await bob.expect((m) => m.command === 'PRIVMSG' && m.params[1] === 'from the phone');
      assert.ok(heard.source?.startsWith('multi!'));
      await first.expect((m) => m.command === 'PRIVMSG' && m.params[1] === 'from the phone');
      await second.expect((m) => m.command === 'PRIVMSG' && m.params[1] === 'from the phone'); // its echo
      bob.send('PRIVMSG #devices :to the room');
      await first.expect((m) => m.command === 'PRIVMSG' && m.params[1] === 'to the room');
      await second.expect((m) => m.command === 'PRIVMSG' && m.params[1] === 'to the room');
      bob.send('PRIVMSG multi :to you');
      await first.expect((m) => m.command === 'PRIVMSG' && m.params[1] === 'to you');
      await second.expect((m) => m.command === 'PRIVMSG' && m.params[1] === 'to you');
      await new Promise((resolve) => setTimeout(resolve, 200));
      for (const device of [first, second]) assert.equal(device.drain().filter((m) => m.command === 'PRIVMSG').length, 0, 'each once');
      // The first device (the user's home node) goes: the user stays, on the other node.
      first.close();
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.ok(!bob.drain().some((m) => m.command === 'QUIT'), 'no QUIT while a device remains');
      bob.send('PRIVMSG #devices :still there?');
      await second.expect((m) => m.command === 'PRIVMSG' && m.params[1] === 'still there?');
      second.close();
      const quit = await bob.expect((m) => m.command === 'QUIT' && m.source?.startsWith('multi!') === true);
      assert.ok(quit);
    } finally {
      first.close();
      second?.close();
      bob.close();
    }
  });

  it('an operator on one node KILLs a user on another: the user’s connection there is closed', { timeout: 30_000 }, async () => {
    const [a, b] = cluster.nodes;
    const oper = await TestClient.register(a!.port, 'sheriff');
    const target = await TestClient.register(b!.port, 'outlaw');
    try {
      oper.send(`OPER root ${OPER_PASSWORD}`);
      await oper.expect('381');
      oper.send('KILL outlaw :spamming');
      const error = await target.expect('ERROR', 5000);
      assert.match(error.params[0] ?? '', /spamming/);
      await target.closed;
      oper.send('WHOIS outlaw');
      await oper.expect('401');
    } finally {
      oper.close();
      target.close();
    }
  });
});

describe('cluster mode: one login throttle for the whole network', { skip, concurrency: 1 }, () => {
  it('wrong passwords tried on one node count on the others: after accounts.maxFailedLogins, the right one is refused on another node too', { timeout: 60_000 }, async () => {
    const cluster = await startCluster(2, 3);
    try {
      const [a, b] = cluster.nodes;
      const owner = await registerAccount(a!.port, 'guarded', 'guarded-password-1');
      owner.close();
      for (let attempt = 0; attempt < 3; attempt++) {
        const wrong = await saslPlain(a!.port, `guess${String(attempt)}`, 'guarded', 'not-the-password');
        assert.equal(wrong.ok, false);
        wrong.client.close();
      }
      // Node b hears of a's failures through the bus within milliseconds; a moment is left for it.
      await new Promise((resolve) => setTimeout(resolve, 300));
      const right = await saslPlain(b!.port, 'guarded', 'guarded', 'guarded-password-1');
      assert.equal(right.ok, false, 'the right password is refused while the account is throttled');
      assert.ok(right.client.log.some((line) => /Too many failed logins/.test(line)), right.client.log.join('\n'));
      right.client.close();
    } finally {
      await stopCluster(cluster);
    }
  });
});

describe('cluster mode: a node killed with SIGKILL', { skip, concurrency: 1 }, () => {
  it('its users quit on the other nodes within seconds, and their nicks are free again', { timeout: 60_000 }, async () => {
    const schema = freshSchemaName('natter_cluster');
    const namespace = freshNamespace('natter_cluster');
    await createSchema(schema);
    const folder = mkdtempSync(join(tmpdir(), 'natter-cluster-'));
    const file = join(folder, 'natter.json');
    writeFileSync(file, JSON.stringify({ database: postgresUrlWithSchema(schema), cluster: { redis: REDIS_URL, namespace, leaseMs: LEASE_MS }, limits: { connectionsPerIp: 0 } }));
    const config = ['--config', file, '--log-level', 'info'];
    let survivor: ServedNatter | undefined;
    let victim: ServedNatter | undefined;
    const clients: TestClient[] = [];
    try {
      survivor = await serveNatter(config);
      victim = await serveNatter(config);
      const stay = await TestClient.register(survivor.port, 'stay');
      const doomed = await TestClient.register(victim.port, 'doomed', { caps: ['message-tags', 'echo-message'] });
      clients.push(stay, doomed);
      await joinRoom(stay, '#party');
      await joinRoom(doomed, '#party');
      await membersSeen(stay, '#party', 2);
      // A burst, killed in the middle: every message the victim acknowledged (echoed) must survive it.
      for (let index = 0; index < 40; index++) doomed.send(`PRIVMSG #party :burst ${String(index)}`);
      const acknowledged: string[] = [];
      for (let index = 0; index < 10; index++) {
        const echo = await doomed.expect((m) => m.command === 'PRIVMSG' && m.params[0] === '#party');
        acknowledged.push(echo.tags?.get('msgid') ?? '');
      }

      const killedAt = Date.now();
      await victim.kill9();
      // Echoes that were already on their way count as acknowledged too.
      for (const echo of doomed.drain()) if (echo.command === 'PRIVMSG') acknowledged.push(echo.tags?.get('msgid') ?? '');
      const quit = await stay.expect((m) => m.command === 'QUIT' && m.source?.startsWith('doomed!') === true, LEASE_MS * 8);
      const took = Date.now() - killedAt;
      assert.ok(took < LEASE_MS * 6, `the QUIT came ${String(took)} ms after the kill`);
      assert.match(quit.params[0] ?? '', /split/);
      // The nick is free: its user, reconnected through the load balancer to the survivor, takes it back and gets
      // what it acknowledged (and what it missed) from history.
      stay.send('PRIVMSG #party :while you were away');
      const again = await TestClient.register(survivor.port, 'doomed', { caps: ['message-tags', 'batch', 'draft/chathistory', 'server-time'] });
      clients.push(again);
      await joinRoom(again, '#party');
      await membersSeen(stay, '#party', 2);
      again.send('CHATHISTORY LATEST #party * 100');
      const start = await again.expect((m) => m.command === 'BATCH' && (m.params[0] ?? '').startsWith('+'));
      const reference = (start.params[0] ?? '').slice(1);
      const kept = new Map<string, string>();
      for (;;) {
        const line = await again.expect((m) => (m.command === 'PRIVMSG' && m.tags?.get('batch') === reference) || (m.command === 'BATCH' && m.params[0] === `-${reference}`));
        if (line.command === 'BATCH') break;
        kept.set(line.tags?.get('msgid') ?? '', line.params[1] ?? '');
      }
      for (const msgid of acknowledged) assert.ok(kept.has(msgid), `acknowledged message ${msgid} is in history`);
      assert.ok([...kept.values()].includes('while you were away'), 'what was said meanwhile is there');
      assert.equal(new Set(kept.values()).size, kept.size, 'nothing twice');
    } finally {
      for (const client of clients) client.close();
      await victim?.kill9().catch(() => undefined);
      await survivor?.stop();
      await dropSchema(schema);
      await deleteNamespace(namespace);
      rmSync(folder, { recursive: true, force: true });
    }
  });
});

describe('cluster mode: a node that starts while others run', { skip, concurrency: 1 }, () => {
  it('copies the network first: the users, rooms, topics, roles and bans of the others; a restarted node does too', { timeout: 60_000 }, async () => {
    const schema = freshSchemaName('natter_cluster');
    const namespace = freshNamespace('natter_cluster');
    await createSchema(schema);
    const options = { database: postgresUrlWithSchema(schema), cluster: { redis: REDIS_URL, namespace, leaseMs: LEASE_MS } };
    const first = await startTestServer(options);
    const clients: TestClient[] = [];
    let later: TestServer | undefined;
    let replacement: TestServer | undefined;
    try {
      const alice = await TestClient.register(first.port, 'alice');
      clients.push(alice);
      await joinRoom(alice, '#room');
      alice.send('TOPIC #room :hello world');
      await alice.expect('TOPIC');
      alice.send('MODE #room +b bad!*@*');
      await alice.expect('MODE');

      later = await startTestServer(options);
      const bob = await TestClient.register(later.port, 'bob');
      clients.push(bob);
      bob.send('NICK alice');
      await bob.expect('433');
      bob.send('JOIN #room');
      const topic = await bob.expect('332');
      assert.equal(topic.params[2], 'hello world');
      const names = await bob.expect('353');
      assert.match(names.params.at(-1) ?? '', /@alice/, 'alice is the room’s operator there too');
      bob.send('MODE #room +b');
      const ban = await bob.expect('367');
      assert.equal(ban.params[2], 'bad!*@*');
      await alice.expect((m) => m.command === 'JOIN' && m.source?.startsWith('bob!') === true);

      // The later node stops; a new one takes its place and copies the network again, bob gone.
      await later.stop();
      later = undefined;
      await alice.expect((m) => m.command === 'QUIT' && m.source?.startsWith('bob!') === true);
      replacement = await startTestServer(options);
      const carol = await TestClient.register(replacement.port, 'carol');
      clients.push(carol);
      carol.send('WHO #room');
      const who = await carol.expect('352');
      assert.equal(who.params[5], 'alice');
      const end = await carol.expect('315');
      assert.ok(end, 'only alice: bob is not brought back');
      assert.ok(!carol.drain().some((m) => m.command === '352'));
    } finally {
      for (const client of clients) client.close();
      await replacement?.stop();
      await later?.stop();
      await first.stop();
      await dropSchema(schema);
      await deleteNamespace(namespace);
    }
  });
});

describe('cluster mode: a node cut off from Redis', { skip, concurrency: 1 }, () => {
  it('says so and serves nobody while cut off, rather than split the network; when Redis is back it serves again', { timeout: 60_000 }, async () => {
    const schema = freshSchemaName('natter_cluster');
    const namespace = freshNamespace('natter_cluster');
    await createSchema(schema);
    const proxy = await startRedisProxy();
    // A lease long enough that the cut is shorter: the node comes back as itself.
    const node = await startTestServer({ database: postgresUrlWithSchema(schema), cluster: { redis: proxy.url, namespace, leaseMs: 5000 }, http: { listen: ['127.0.0.1:0'] } });
    try {
      const user = await TestClient.register(node.port, 'cutoff');
      proxy.cut();
      const error = await user.expect('ERROR', 5000);
      assert.match(error.params[0] ?? '', /lost the cluster/);
      await user.closed;
      const refused = await TestClient.connect(node.port);
      const why = await refused.expect('ERROR', 5000);
      assert.match(why.params[0] ?? '', /lost the cluster/);
      refused.close();
      const health = await fetch(`http://127.0.0.1:${String(node.httpAddresses[0]?.port ?? 0)}/healthz`);
      assert.equal(health.status, 503, 'a load balancer’s health check takes it out');

      proxy.restore();
      const deadline = Date.now() + 10_000;
      for (;;) {
        const back = await TestClient.connect(node.port);
        back.send('NICK cameback');
        back.send('USER x 0 * :x');
        const first = await back.expect((m) => m.command === '001' || m.command === 'ERROR', 5000);
        back.close();
        if (first.command === '001') break;
        if (Date.now() > deadline) assert.fail('still out of service 10 s after Redis came back');
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    } finally {
      await node.stop();
      await proxy.close();
      await dropSchema(schema);
      await deleteNamespace(namespace);
    }
  });
});

describe('cluster mode: configuration', () => {
  it('refuses cluster mode without PostgreSQL, naming the keys', async () => {
    await assert.rejects(startTestServer({ cluster: { redis: REDIS_URL } }), /cluster.*PostgreSQL.*database/);
    await assert.rejects(startTestServer({ cluster: { redis: 'http://nope' } }), /"cluster\.redis": expected a Redis URL/);
  });
});
