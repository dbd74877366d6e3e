/**
 * `natter cluster status` and /healthz in cluster mode, against real nodes: two Natter nodes sharing one PostgreSQL
 * schema and a fresh Redis namespace, clients on each. The status lists both nodes with their session counts (a
 * node writes its count as soon as it changes), as a table and as JSON; a namespace with no node says so and exits
 * 0; an unreachable Redis is one line and exit 1; no Redis URL at all names --cluster. /healthz names the node and
 * answers 503 while it is out of service. Under CI=true these run against the machine's Redis and PostgreSQL.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { clusterStatus, clusterTarget, duration } from '../src/cli/cluster-status.js';
import type { ClusterStatusFlags } from '../src/cli/cluster-status.js';
import { ConfigError } from '../src/config/load.js';
import { TestClient } from './helpers/client.js';
import { postgresUrlWithSchema } from './helpers/durability.js';
import { createSchema, dropSchema, freshSchemaName, postgresAvailable } from './helpers/postgres.js';
import { runNatter } from './helpers/process.js';
import { REDIS_URL, deleteNamespace, freshNamespace, redisAvailable } from './helpers/redis.js';
import { startTestServer } from './helpers/server.js';
import type { TestServer } from './helpers/server.js';

const LEASE_MS = 1000;

const skip = (await redisAvailable()) ?? (await postgresAvailable());

interface JsonStatus {
  redis: string;
  namespace: string;
  nodes: Array<{
    nodeId: string;
    host: string | null;
    pid: number | null;
    server: string | null;
    sessions: number | null;
    inService: boolean | null;
    startedAt: string | null;
    sinceMs: number | null;
    leaseTtlMs: number;
  }>;
  total: { nodes: number; sessions: number; inService: number };
}

/** Runs the command in this process and returns what it printed. */
async function statusOutput(flags: ClusterStatusFlags): Promise<string> {
  let text = '';
  const out = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      text += chunk.toString();
      done();
    },
  });
  await clusterStatus(flags, out);
  return text;
}

async function jsonStatus(namespace: string): Promise<JsonStatus> {
  return JSON.parse(await statusOutput({ cluster: REDIS_URL, namespace, json: true })) as JsonStatus;
}

/** Polls until `check` holds for the JSON status (a node writes its count within ~250 ms of a change). */
async function statusWhere(namespace: string, check: (status: JsonStatus) => boolean, what: string, timeoutMs = 3000): Promise<JsonStatus> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await jsonStatus(namespace);
    if (check(status)) return status;
    if (Date.now() > deadline) assert.fail(`${what}; the status is ${JSON.stringify(status)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function sessionsOf(status: JsonStatus, nodeId: string): number | null | undefined {
  return status.nodes.find((node) => node.nodeId === nodeId)?.sessions;
}

async function healthz(node: TestServer): Promise<{ status: number; body: Record<string, unknown> }> {
  const port = node.httpAddresses[0]?.port ?? assert.fail('the node has no HTTP listener');
  const response = await fetch(`http://127.0.0.1:${String(port)}/healthz`);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('natter cluster status and /healthz, on two real nodes', { skip, concurrency: 1 }, () => {
  const schema = freshSchemaName('natter_status');
  const namespace = freshNamespace('natter_status');
  const nodes: TestServer[] = [];
  let a: TestServer;
  let b: TestServer;

  before(async () => {
    await createSchema(schema);
    // One after the other: the first creates the tables, the second finds them.
    for (let index = 0; index < 2; index++) {
      nodes.push(await startTestServer({ database: postgresUrlWithSchema(schema), cluster: { redis: REDIS_URL, namespace, leaseMs: LEASE_MS }, http: { listen: ['127.0.0.1:0'] } }));
    }
    [a, b] = nodes as [TestServer, TestServer];
  }, { timeout: 30_000 });

  after(async () => {
    for (const node of nodes) await node.stop();
    await dropSchema(schema);
    await deleteNamespace(namespace);
  }, { timeout: 30_000 });

  it('lists both nodes with 1 and 2 sessions, as a table and as JSON, and follows a client leaving', { timeout: 30_000 }, async () => {
    const idA = a.server.network.bus.nodeId;
    const idB = b.server.network.bus.nodeId;
    const clients = [await TestClient.register(a.port, 'solo'), await TestClient.register(b.port, 'pair1'), await TestClient.register(b.port, 'pair2')];
    try {
      const status = await statusWhere(namespace, (s) => sessionsOf(s, idA) === 1 && sessionsOf(s, idB) === 2, 'node A shows 1 session and node B 2');
      assert.equal(status.namespace, namespace);
      assert.equal(status.redis, REDIS_URL.replace(/\/$/, ''));
      assert.deepEqual(status.total, { nodes: 2, sessions: 3, inService: 2 });
      assert.deepEqual(status.nodes.map((node) => node.nodeId), [idA, idB].sort());
      for (const node of status.nodes) {
        assert.deepEqual(Object.keys(node).sort(), ['host', 'inService', 'leaseTtlMs', 'nodeId', 'pid', 'server', 'sessions', 'sinceMs', 'startedAt'].sort());
        assert.equal(node.host, hostname());
        assert.equal(node.pid, process.pid, 'both test nodes run in this process');
        assert.equal(node.server, 'test.natter');
        assert.equal(node.inService, true);
        assert.ok(node.sinceMs !== null && node.sinceMs <= Date.now() && node.sinceMs > Date.now() - 120_000, 'started during this test');
        assert.equal(node.startedAt, new Date(node.sinceMs).toISOString());
        assert.ok(node.leaseTtlMs > 0 && node.leaseTtlMs <= LEASE_MS, `lease TTL ${String(node.leaseTtlMs)} ms within the ${String(LEASE_MS)} ms lease`);
      }

      // The table: a header, one line per node (id, host, pid, server, sessions, in service), and the total.
      const table = (await statusOutput({ cluster: REDIS_URL, namespace })).trimEnd().split('\n');
      assert.equal(table.length, 4, table.join('\n'));
      assert.match(table[0] ?? '', /^NODE\s+HOST\s+PID\s+SERVER\s+SESSIONS\s+SERVICE\s+UP SINCE\s+LEASE TTL$/);
      for (const [id, sessions] of [
        [idA, 1],
        [idB, 2],
      ] as const) {
        const line = table.find((row) => row.startsWith(`${id} `)) ?? assert.fail(`no line for ${id}:\n${table.join('\n')}`);
        const cells = line.split(/\s{2,}/);
        assert.equal(cells[1], hostname());
        assert.equal(cells[2], String(process.pid));
        assert.equal(cells[3], 'test.natter');
        assert.equal(cells[4], String(sessions));
        assert.equal(cells[5], 'in');
        assert.match(cells[6] ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(\d+(s|m\d+s)\)$/);
        assert.match(cells[7] ?? '', /^\d\.\ds$/);
      }
      assert.equal(table[3], `total: 2 nodes, 3 sessions (namespace ${namespace} on ${REDIS_URL.replace(/\/$/, '')})`);

      // A client leaving shows within a check interval, not at the next periodic refresh.
      const leaving = clients.pop()!;
      leaving.send('QUIT :bye');
      await leaving.closed;
      const started = Date.now();
      await statusWhere(namespace, (s) => sessionsOf(s, idB) === 1, 'node B shows 1 session after a QUIT', 2000);
      assert.ok(Date.now() - started < 2000);
    } finally {
      for (const client of clients) client.close();
    }
  });

  it('the real command prints the nodes and their total, and --json parses', { timeout: 30_000 }, async () => {
    const table = runNatter(['cluster', 'status', '--cluster', REDIS_URL, '--namespace', namespace]);
    assert.equal(await table.exited, 0, table.stderr);
    for (const node of nodes) assert.match(table.stdout, new RegExp(`^${node.server.network.bus.nodeId} `, 'm'));
    assert.match(table.stdout, /^total: 2 nodes, \d+ sessions? /m);
    const json = runNatter(['cluster', 'status', '--cluster', REDIS_URL, '--namespace', namespace, '--json']);
    assert.equal(await json.exited, 0, json.stderr);
    assert.equal((JSON.parse(json.stdout) as JsonStatus).total.nodes, 2);
  });

  it('/healthz names the node and answers 503 while it is out of service; the status shows it', { timeout: 30_000 }, async () => {
    const id = a.server.network.bus.nodeId;
    const healthy = await healthz(a);
    assert.equal(healthy.status, 200);
    assert.deepEqual({ status: healthy.body['status'], inService: healthy.body['inService'], node: healthy.body['node'] }, { status: 'ok', inService: true, node: id });
    assert.equal(typeof healthy.body['connections'], 'number');
    assert.notEqual((await healthz(b)).body['node'], id, 'each node names itself');

    a.server.setOutOfService('test: out of service');
    try {
      const out = await healthz(a);
      assert.equal(out.status, 503, 'a load balancer takes the node out');
      assert.deepEqual({ status: out.body['status'], inService: out.body['inService'], node: out.body['node'] }, { status: 'out of service', inService: false, node: id });
      assert.equal((await healthz(b)).status, 200, 'the other node stays in');
      await statusWhere(namespace, (s) => s.nodes.find((node) => node.nodeId === id)?.inService === false, 'node A shows out of service');
      const table = await statusOutput({ cluster: REDIS_URL, namespace });
      assert.match(table, new RegExp(`^${id} .* OUT `, 'm'));
      assert.match(table, /^total: 2 nodes \(1 out of service\), /m);
    } finally {
      a.server.setOutOfService(undefined);
    }
    assert.equal((await healthz(a)).status, 200, 'back in service');
    await statusWhere(namespace, (s) => s.total.inService === 2, 'both nodes back in service');
  });
});

describe('natter cluster status without nodes, or without Redis', { skip }, () => {
  it('a namespace with no live node says "no live nodes" and exits 0', { timeout: 30_000 }, async () => {
    const empty = freshNamespace('natter_status_empty');
    assert.equal(await statusOutput({ cluster: REDIS_URL, namespace: empty }), `no live nodes in namespace ${empty} on ${REDIS_URL.replace(/\/$/, '')}\n`);
    assert.deepEqual((JSON.parse(await statusOutput({ cluster: REDIS_URL, namespace: empty, json: true })) as JsonStatus).total, { nodes: 0, sessions: 0, inService: 0 });
    const run = runNatter(['cluster', 'status', '--cluster', REDIS_URL, '--namespace', empty]);
    assert.equal(await run.exited, 0, run.stderr);
    assert.match(run.stdout, /^no live nodes in namespace /);
  });

  it('an unreachable Redis is one line on stderr and exit 1, without the password of the URL', { timeout: 30_000 }, async () => {
    const run = runNatter(['cluster', 'status', '--cluster', 'redis://user:s3cret@127.0.0.1:1']);
    assert.equal(await run.exited, 1);
    assert.equal(run.stdout, '');
    assert.match(run.stderr, /^natter: cluster status: cannot reach Redis at redis:\/\/user:\*\*\*@127\.0\.0\.1:1 \(connect ECONNREFUSED 127\.0\.0\.1:1\)\n$/);
    assert.doesNotMatch(run.stderr, /s3cret/);
  });

  it('no Redis URL names --cluster; a URL that is not redis:// is refused; both exit 2', { timeout: 30_000 }, async () => {
    const missing = runNatter(['cluster', 'status']);
    assert.equal(await missing.exited, 2);
    assert.match(missing.stderr, /^natter: cluster status: .*--cluster redis:\/\/host:port/);
    assert.equal(missing.stderr.split('\n').length, 2, 'one line');
    const wrong = runNatter(['cluster', 'status', '--cluster', 'http://127.0.0.1:6379']);
    assert.equal(await wrong.exited, 2);
    assert.match(wrong.stderr, /^natter: cluster status: --cluster: expected a Redis URL/);
  });

  it('reads the Redis URL and namespace from the config file; flags override it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'natter-status-'));
    try {
      const file = join(dir, 'natter.json');
      writeFileSync(file, JSON.stringify({ database: 'postgres://db/natter', cluster: { redis: 'redis://file-host:6379', namespace: 'from_file' } }));
      assert.deepEqual(await clusterTarget({ config: file }), { redis: 'redis://file-host:6379', namespace: 'from_file' });
      assert.deepEqual(await clusterTarget({ config: file, cluster: 'redis://flag-host:6380' }), { redis: 'redis://flag-host:6380', namespace: 'from_file' });
      assert.deepEqual(await clusterTarget({ config: file, namespace: 'from_flag' }), { redis: 'redis://file-host:6379', namespace: 'from_flag' });
      assert.deepEqual(await clusterTarget({ cluster: 'redis://flag-host:6380' }), { redis: 'redis://flag-host:6380', namespace: 'natter' }, 'no database needed, the default namespace');
      const bare = join(dir, 'bare.json');
      writeFileSync(bare, JSON.stringify({ listen: ['127.0.0.1:6667'] }));
      await assert.rejects(clusterTarget({ config: bare }), (error: unknown) => error instanceof ConfigError && /has no "cluster.redis"; give --cluster/.test(error.message));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('cluster status durations', () => {
  it('are short and readable', () => {
    assert.equal(duration(9_400), '9s');
    assert.equal(duration(252_000), '4m12s');
    assert.equal(duration(7_500_000), '2h5m');
    assert.equal(duration(273_600_000), '3d4h');
  });
});
