/**
 * `natter cluster status`: the live nodes of a cluster (docs/cluster.md) and the sessions each one holds, read from
 * the nodes' leases in Redis (RedisBus.liveNodes). It needs no database and works from any machine that reaches
 * Redis. Where Redis is, and the key namespace, come from --cluster and --namespace, else from the configuration
 * file's "cluster" object (flags win, as for `natter serve`).
 */
import type { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { RedisBus } from '../bus/redis.js';
import type { LiveNode } from '../bus/redis.js';
import { ConfigError, readConfigFile } from '../config/load.js';
import { configSchema } from '../config/schema.js';

export interface ClusterStatusFlags {
  cluster?: string;
  namespace?: string;
  config?: string;
  json?: boolean;
}

/** Redis could not be reached or did not answer: exit code 1, one line. */
export class ClusterStatusError extends Error {
  override name = 'ClusterStatusError';
}

export interface ClusterTarget {
  readonly redis: string;
  readonly namespace: string;
}

/** One live node as the command shows it; a field the node did not report is absent. */
export interface NodeStatus {
  readonly nodeId: string;
  readonly host?: string;
  readonly pid?: number;
  readonly server?: string;
  readonly sessions?: number;
  readonly inService?: boolean;
  /** When the node started, epoch milliseconds. */
  readonly sinceMs?: number;
  /** Milliseconds left on its lease (it is renewed every third of the lease). */
  readonly leaseTtlMs: number;
}

/** How long to wait for Redis before saying it is out of reach. */
const CONNECT_TIMEOUT_MS = 3000;

/**
 * The Redis URL and namespace: flags over the file's "cluster" object. Only that object is read, so a file made for
 * `natter serve` works, and flags alone need no database.
 */
export async function clusterTarget(flags: ClusterStatusFlags): Promise<ClusterTarget> {
  let fromFile: Record<string, unknown> = {};
  let source = 'command line';
  if (flags.config !== undefined) {
    const raw = await readConfigFile(flags.config);
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError(`config file ${flags.config}: expected a JSON object at the top level`);
    const section = (raw as Record<string, unknown>)['cluster'];
    if (section !== undefined && (typeof section !== 'object' || section === null || Array.isArray(section))) {
      throw new ConfigError(`config file ${flags.config}: "cluster": expected an object`);
    }
    fromFile = (section as Record<string, unknown> | undefined) ?? {};
    source = `config file ${flags.config}`;
  }
  const merged: Record<string, unknown> = {
    ...fromFile,
    ...(flags.cluster === undefined ? {} : { redis: flags.cluster }),
    ...(flags.namespace === undefined ? {} : { namespace: flags.namespace }),
  };
  if (merged['redis'] === undefined) {
    throw new ConfigError(
      flags.config === undefined
        ? 'cluster status: where is Redis? Give --cluster redis://host:port (or --config with a "cluster" object)'
        : `cluster status: ${source} has no "cluster.redis"; give --cluster redis://host:port`,
    );
  }
  const result = configSchema.shape.cluster.safeParse(merged);
  if (!result.success || result.data === undefined) {
    const issues = result.error?.issues ?? [];
    const described = issues.map((issue) => {
      const key = issue.path.map(String).join('.');
      const flag = key === 'redis' && flags.cluster !== undefined ? '--cluster' : key === 'namespace' && flags.namespace !== undefined ? '--namespace' : `"cluster.${key}" in ${source}`;
      return `cluster status: ${flag}: ${issue.code === 'unrecognized_keys' ? `unknown setting ${issue.keys.join(', ')}` : issue.message}`;
    });
    throw new ConfigError(described.join('\n') || 'cluster status: invalid "cluster" settings');
  }
  return { redis: result.data.redis, namespace: result.data.namespace };
}

/** The URL without its password, for messages. */
export function redactedUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString().replace(/\/$/, '');
  } catch {
    return url;
  }
}

/**
 * Connects once, without retrying, to learn why Redis cannot be reached (RedisBus.liveNodes only says "Connection is
 * closed").
 */
async function probe(url: string): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, protocol: 2, maxRetriesPerRequest: 0, connectTimeout: CONNECT_TIMEOUT_MS, retryStrategy: () => null, enableOfflineQueue: false });
  let lastError: Error | undefined;
  redis.on('error', (error: Error) => {
    lastError ??= error;
  });
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    const why = lastError ?? (error instanceof Error ? error : new Error(String(error)));
    throw new ClusterStatusError(`cluster status: cannot reach Redis at ${redactedUrl(url)} (${why.message})`);
  } finally {
    redis.disconnect();
  }
}

const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
const count = (value: unknown): number | undefined => (typeof value === 'number' && Number.isFinite(value) ? value : undefined);
const yesNo = (value: unknown): boolean | undefined => (typeof value === 'boolean' ? value : undefined);

function toStatus(node: LiveNode): NodeStatus {
  const { status } = node;
  const host = text(status['host']);
  const pid = count(status['pid']);
  const server = text(status['server']);
  const sessions = count(status['sessions']);
  const inService = yesNo(status['inService']);
  return {
    nodeId: node.nodeId,
    ...(host === undefined ? {} : { host }),
    ...(pid === undefined ? {} : { pid }),
    ...(server === undefined ? {} : { server }),
    ...(sessions === undefined ? {} : { sessions }),
    ...(inService === undefined ? {} : { inService }),
    ...(node.sinceMs === undefined ? {} : { sinceMs: node.sinceMs }),
    leaseTtlMs: node.leaseTtlMs,
  };
}

/** The live nodes of `namespace`, sorted by id; ClusterStatusError when Redis is out of reach. */
export async function readClusterStatus(target: ClusterTarget): Promise<NodeStatus[]> {
  await probe(target.redis);
  let nodes: LiveNode[];
  try {
    nodes = await RedisBus.liveNodes(target.redis, target.namespace);
  } catch (error) {
    throw new ClusterStatusError(`cluster status: reading the nodes from Redis at ${redactedUrl(target.redis)} failed (${error instanceof Error ? error.message : String(error)})`);
  }
  return nodes.map(toStatus);
}

function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
}

/** "3d4h", "2h5m", "4m12s", "9s". */
export function duration(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  const [d, h, m, s] = [Math.floor(seconds / 86_400), Math.floor(seconds / 3600) % 24, Math.floor(seconds / 60) % 60, seconds % 60];
  if (d > 0) return `${String(d)}d${String(h)}h`;
  if (h > 0) return `${String(h)}h${String(m)}m`;
  if (m > 0) return `${String(m)}m${String(s)}s`;
  return `${String(s)}s`;
}

function totalSessions(nodes: readonly NodeStatus[]): number {
  return nodes.reduce((sum, node) => sum + (node.sessions ?? 0), 0);
}

/** The table: a header, one line per node, and the total. */
export function formatStatus(nodes: readonly NodeStatus[], target: ClusterTarget, now: number): string {
  const where = `namespace ${target.namespace} on ${redactedUrl(target.redis)}`;
  if (nodes.length === 0) return `no live nodes in ${where}\n`;
  const header = ['NODE', 'HOST', 'PID', 'SERVER', 'SESSIONS', 'SERVICE', 'UP SINCE', 'LEASE TTL'];
  const rows = nodes.map((node) => [
    node.nodeId,
    node.host ?? '?',
    node.pid === undefined ? '?' : String(node.pid),
    node.server ?? '?',
    node.sessions === undefined ? '?' : String(node.sessions),
    node.inService === undefined ? '?' : node.inService ? 'in' : 'OUT',
    node.sinceMs === undefined ? '?' : `${isoSeconds(node.sinceMs)} (${duration(now - node.sinceMs)})`,
    `${(node.leaseTtlMs / 1000).toFixed(1)}s`,
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]?.length ?? 0)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, column) => (column === 2 || column === 4 ? cell.padStart(widths[column] ?? 0) : cell.padEnd(widths[column] ?? 0)))
      .join('  ')
      .trimEnd();
  const out = [line(header), ...rows.map(line)];
  const outOfService = nodes.filter((node) => node.inService === false).length;
  const nodeWord = nodes.length === 1 ? 'node' : 'nodes';
  const sessions = totalSessions(nodes);
  out.push(`total: ${String(nodes.length)} ${nodeWord}${outOfService > 0 ? ` (${String(outOfService)} out of service)` : ''}, ${String(sessions)} ${sessions === 1 ? 'session' : 'sessions'} (${where})`);
  return `${out.join('\n')}\n`;
}

/** The JSON form: stable keys, times as epoch milliseconds and ISO strings. */
export function statusJson(nodes: readonly NodeStatus[], target: ClusterTarget): string {
  const body = {
    redis: redactedUrl(target.redis),
    namespace: target.namespace,
    nodes: nodes.map((node) => ({
      nodeId: node.nodeId,
      host: node.host ?? null,
      pid: node.pid ?? null,
      server: node.server ?? null,
      sessions: node.sessions ?? null,
      inService: node.inService ?? null,
      startedAt: node.sinceMs === undefined ? null : new Date(node.sinceMs).toISOString(),
      sinceMs: node.sinceMs ?? null,
      leaseTtlMs: node.leaseTtlMs,
    })),
    total: { nodes: nodes.length, sessions: totalSessions(nodes), inService: nodes.filter((node) => node.inService === true).length },
  };
  return `${JSON.stringify(body, null, 2)}\n`;
}

export async function clusterStatus(flags: ClusterStatusFlags, stdout: Writable = process.stdout): Promise<void> {
  const target = await clusterTarget(flags);
  const nodes = await readClusterStatus(target);
  stdout.write(flags.json === true ? statusJson(nodes, target) : formatStatus(nodes, target, Date.now()));
}
