/**
 * The real Redis on this machine (127.0.0.1:6379, DEVELOPERS.md), one fresh key namespace per run so runs never
 * collide. Under CI=true it must be there; elsewhere a test may skip with a clear message.
 */
import { randomBytes } from 'node:crypto';
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import { Redis } from 'ioredis';

export const REDIS_URL = process.env['NATTER_TEST_REDIS'] ?? 'redis://127.0.0.1:6379';

function client(): Redis {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, protocol: 2, maxRetriesPerRequest: 1, connectTimeout: 2000, retryStrategy: () => null });
  redis.on('error', () => undefined);
  return redis;
}

export async function redisAvailable(): Promise<string | undefined> {
  const redis = client();
  try {
    await redis.connect();
    await redis.ping();
    return undefined;
  } catch (error) {
    const reason = `Redis at ${REDIS_URL} is not reachable (${error instanceof Error ? error.message : String(error)})`;
    if (process.env['CI'] === 'true') throw new Error(`${reason}; under CI=true the Redis tests must run`, { cause: error });
    return reason;
  } finally {
    redis.disconnect();
  }
}

/** A key prefix no other run uses, given to RedisBus as its `network`. */
export function freshNamespace(prefix = 'natter_test'): string {
  return `${prefix}_${randomBytes(6).toString('hex')}`;
}

/** The keys under `<namespace>:`. */
export async function keysOf(namespace: string): Promise<string[]> {
  const redis = client();
  try {
    await redis.connect();
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await redis.scan(cursor, 'MATCH', `${namespace}:*`, 'COUNT', 1000);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0');
    return keys.sort();
  } finally {
    redis.disconnect();
  }
}

/** Deletes every key under `<namespace>:`; returns how many there were. */
export async function deleteNamespace(namespace: string): Promise<number> {
  const keys = await keysOf(namespace);
  if (keys.length === 0) return 0;
  const redis = client();
  try {
    await redis.connect();
    await redis.del(...keys);
    return keys.length;
  } finally {
    redis.disconnect();
  }
}

/** Runs one command on a connection of its own (to poke at the bus's keys from outside). */
export async function withRedis<T>(use: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = client();
  try {
    await redis.connect();
    return await use(redis);
  } finally {
    redis.disconnect();
  }
}

export interface RedisProxy {
  /** A redis:// URL that reaches REDIS_URL through this proxy. */
  readonly url: string;
  /** A network partition: open connections drop and new ones are closed at once, until restore(). */
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

/** A TCP proxy to the test Redis on a loopback port, to cut one client off Redis without touching anyone else. */
export async function startRedisProxy(): Promise<RedisProxy> {
  const target = new URL(REDIS_URL);
  const sockets = new Set<Socket>();
  let open = true;
  const server = createServer((client) => {
    if (!open) {
      client.destroy();
      return;
    }
    const upstream = connect(Number(target.port || 6379), target.hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => {
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  const proxied = new URL(REDIS_URL);
  proxied.hostname = '127.0.0.1';
  proxied.port = String(port);
  return {
    url: proxied.toString(),
    cut() {
      open = false;
      for (const socket of sockets) socket.destroy();
    },
    restore() {
      open = true;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      });
    },
  };
}
