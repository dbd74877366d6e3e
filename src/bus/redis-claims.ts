/**
 * Claims (core/ports.ts) across processes, through Redis (issue 9: "two users on two nodes can never get the same
 * nick or both found the same room"). Each decision is one Lua script, so Redis makes it atomically for the whole
 * network; docs/cluster.md "Claims".
 *
 * Keys, beside the bus's under the same `<network>:` prefix:
 *   <network>:claim:nick:<folded>   string: the session id holding the nick (registered, or reserved before registering)
 *   <network>:claim:room:<folded>   string: the session id that founded the room, until the room empties
 *   <network>:claims:<nodeId>       set: the claim keys held by that node's sessions, so releaseNode drops them at once
 * A session id is "<node>.<n>" (net/server.ts): the node of a claim is read from its holder.
 *
 * Fencing (default on): a claim for a session of a node whose bus lease (`<network>:node:<id>`, bus/redis.ts) is gone
 * is refused with an error. A node declared lost keeps running for a moment; its claims after the survivor released
 * them (releaseNode) would otherwise hold nicks nobody could ever free.
 */
import { Redis } from 'ioredis';
import { nodeOfSession } from '../core/local-claims.js';
import type { Claims } from '../core/ports.js';

export interface RedisClaimsOptions {
  /** redis://[user:password@]host:port[/db], or rediss:// for TLS: the Redis of the bus. */
  readonly url: string;
  /** The key prefix of the chat network, the bus's `network` (e.g. "natter"). */
  readonly network: string;
  /** Refuse claims for sessions of a node without a live bus lease (default true; false where no RedisBus runs). */
  readonly fenced?: boolean;
  /** How long a claim may wait for Redis before it fails (default 3000 ms): a NICK or JOIN waits that long at most. */
  readonly timeoutMs?: number;
  /** A release that failed (the claim stays until the node is released); claims themselves reject instead. */
  readonly onError?: (error: Error) => void;
}

/** A node whose lease is gone claims nothing: the script says so with -1. */
export class ClaimFencedError extends Error {
  override name = 'ClaimFencedError';
}

// KEYS: nick, held set of the session's node, that node's lease, previous nick (the nick again when none).
// ARGV: session id, fenced ('1' or '0'). 1 taken or kept, 0 held by another session (previous kept), -1 fenced.
const CLAIM_NICK = `
if ARGV[2] == '1' and redis.call('EXISTS', KEYS[3]) == 0 then return -1 end
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
if not holder then
  redis.call('SET', KEYS[1], ARGV[1])
  redis.call('SADD', KEYS[2], KEYS[1])
end
if KEYS[4] ~= KEYS[1] and redis.call('GET', KEYS[4]) == ARGV[1] then
  redis.call('DEL', KEYS[4])
  redis.call('SREM', KEYS[2], KEYS[4])
end
return 1`;

// KEYS: room, held set of the session's node, that node's lease. ARGV: session id, fenced.
const CLAIM_ROOM = `
if ARGV[2] == '1' and redis.call('EXISTS', KEYS[3]) == 0 then return -1 end
local holder = redis.call('GET', KEYS[1])
if holder then
  if holder == ARGV[1] then return 1 end
  return 0
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SADD', KEYS[2], KEYS[1])
return 1`;

// KEYS: a claim key. ARGV: prefix of the held sets ("<network>:claims:"), and the holder it must have ('' for any).
const RELEASE = `
local holder = redis.call('GET', KEYS[1])
if not holder or (ARGV[2] ~= '' and holder ~= ARGV[2]) then return 0 end
redis.call('DEL', KEYS[1])
local node = string.match(holder, '^(.*)%.[^.]*$')
if node then redis.call('SREM', ARGV[1] .. node, KEYS[1]) end
return 1`;

// KEYS: the node's held set. ARGV: node id. Drops every claim still held by one of its sessions, then the set.
const RELEASE_NODE = `
local count = 0
for _, key in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local holder = redis.call('GET', key)
  if holder and string.match(holder, '^(.*)%.[^.]*$') == ARGV[1] then
    redis.call('DEL', key)
    count = count + 1
  end
end
redis.call('DEL', KEYS[1])
return count`;

interface ClaimCommands {
  natterClaimNick(nick: string, held: string, lease: string, previous: string, sessionId: string, fenced: string): Promise<number>;
  natterClaimRoom(room: string, held: string, lease: string, sessionId: string, fenced: string): Promise<number>;
  natterRelease(key: string, heldPrefix: string, holder: string): Promise<number>;
  natterReleaseNode(held: string, nodeId: string): Promise<number>;
}
type Connection = Redis & ClaimCommands;

const DEFAULT_TIMEOUT_MS = 3000;

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

export class RedisClaims implements Claims {
  private readonly prefix: string;
  private readonly fenced: string;
  private readonly onError: (error: Error) => void;
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly redis: Connection,
    options: RedisClaimsOptions,
  ) {
    this.prefix = `${options.network}:`;
    this.fenced = options.fenced === false ? '0' : '1';
    this.onError =
      options.onError ??
      ((error) => {
        process.emitWarning(error);
      });
  }

  /** Connects (one connection of its own); rejects when Redis is unreachable. */
  static async connect(options: RedisClaimsOptions): Promise<RedisClaims> {
    if (!/^[^\s]{1,100}$/.test(options.network)) throw new Error(`network ${JSON.stringify(options.network)} must be 1-100 characters without spaces`);
    const redis = new Redis(options.url, {
      lazyConnect: true,
      // RESP2: the reply shapes the code expects, whatever ioredis defaults to.
      protocol: 2,
      connectionName: 'natter:claims',
      // A command waits for a reconnect, bounded by the timeout: a NICK must not hang for good.
      maxRetriesPerRequest: null,
      commandTimeout: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      retryStrategy: (times) => Math.min(50 * times, 1000),
    }) as Connection;
    redis.on('error', () => {
      // Reconnects are ioredis' business; a command that fails says so to its caller.
    });
    redis.defineCommand('natterClaimNick', { lua: CLAIM_NICK, numberOfKeys: 4 });
    redis.defineCommand('natterClaimRoom', { lua: CLAIM_ROOM, numberOfKeys: 3 });
    redis.defineCommand('natterRelease', { lua: RELEASE, numberOfKeys: 1 });
    redis.defineCommand('natterReleaseNode', { lua: RELEASE_NODE, numberOfKeys: 1 });
    try {
      await redis.connect();
    } catch (error) {
      redis.disconnect();
      throw new Error(`claims: cannot connect to Redis: ${asError(error).message}`, { cause: error });
    }
    return new RedisClaims(redis, options);
  }

  async claimNick(folded: string, sessionId: string, previous?: string): Promise<boolean> {
    const key = this.nickKey(folded);
    const node = nodeOfSession(sessionId);
    try {
      const answer = await this.redis.natterClaimNick(key, this.heldKey(node), this.leaseKey(node), previous === undefined ? key : this.nickKey(previous), sessionId, this.fenced);
      return this.answer(answer, node);
    } catch (error) {
      // A claim that timed out may still run later: let go of it then (same connection, so after it), unless held before.
      if (!(error instanceof ClaimFencedError) && previous !== folded) void this.release(key, sessionId);
      throw error;
    }
  }

  releaseNick(folded: string, sessionId: string): Promise<void> {
    return this.release(this.nickKey(folded), sessionId);
  }

  async claimRoom(folded: string, sessionId: string): Promise<boolean> {
    const key = this.roomKey(folded);
    const node = nodeOfSession(sessionId);
    try {
      return this.answer(await this.redis.natterClaimRoom(key, this.heldKey(node), this.leaseKey(node), sessionId, this.fenced), node);
    } catch (error) {
      if (!(error instanceof ClaimFencedError)) void this.release(key, sessionId);
      throw error;
    }
  }

  releaseRoom(folded: string): Promise<void> {
    return this.release(this.roomKey(folded), '');
  }

  async releaseNode(nodeId: string): Promise<void> {
    try {
      await this.redis.natterReleaseNode(this.heldKey(nodeId), nodeId);
    } catch (error) {
      this.onError(new Error(`claims: could not release the claims of node ${nodeId}: ${asError(error).message}`, { cause: error }));
    }
  }

  /** Waits for the commands sent, then closes the connection. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.redis.quit().then(
      () => undefined,
      () => {
        this.redis.disconnect();
      },
    );
    return this.closing;
  }

  private answer(reply: number, node: string): boolean {
    if (reply === -1) throw new ClaimFencedError(`claims: node ${node} has no lease (declared lost): it may claim nothing`);
    return reply === 1;
  }

  private async release(key: string, holder: string): Promise<void> {
    try {
      await this.redis.natterRelease(key, `${this.prefix}claims:`, holder);
    } catch (error) {
      this.onError(new Error(`claims: could not release ${key}: ${asError(error).message}`, { cause: error }));
    }
  }

  private nickKey(folded: string): string {
    return `${this.prefix}claim:nick:${folded}`;
  }

  private roomKey(folded: string): string {
    return `${this.prefix}claim:room:${folded}`;
  }

  private heldKey(node: string): string {
    return `${this.prefix}claims:${node}`;
  }

  /** The bus's lease key (bus/redis.ts Keys.lease). */
  private leaseKey(node: string): string {
    return `${this.prefix}node:${node}`;
  }
}
