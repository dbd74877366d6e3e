/**
 * The configuration file's shape, its defaults, and how it becomes core's ServerSettings.
 * Every key is optional in the file; an unknown key or a wrong value is refused naming the key.
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { isValidChannelName } from '../core/rooms.js';

const hostPort = z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[^\s:[\]]+):\d{1,5}$/, 'expected HOST:PORT, e.g. 127.0.0.1:6667 or [::1]:6667');
const serverName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9.-]*\.[A-Za-z0-9.-]*$/, 'expected a host-like name with a dot, e.g. irc.example.org');
const positive = z.number().int().positive();
const nonNegative = z.number().int().nonnegative();

/** An IP address or a CIDR subnet (node's BlockList takes both): "10.0.0.7", "192.168.1.0/24", "::1", "fd00::/8". */
function isAddressOrSubnet(entry: string): boolean {
  const [address = '', prefix, extra] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || extra !== undefined) return false;
  return prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 6 ? 128 : 32));
}
const addressOrSubnet = z.string().refine(isAddressOrSubnet, 'expected an IP address or a subnet, e.g. 192.168.1.0/24, 10.0.0.7 or ::1');

export const floodSchema = z.strictObject({
  enabled: z.boolean().default(true),
  burst: positive.default(20),
  perSecond: z.number().positive().default(5),
  maxQueued: positive.default(100),
});

export const limitsSchema = z.strictObject({
  nickLength: z.number().int().min(9).max(64).default(30),
  userLength: z.number().int().min(4).max(64).default(16),
  realnameLength: z.number().int().min(16).max(400).default(200),
  channelLength: z.number().int().min(8).max(200).default(64),
  topicLength: z.number().int().min(16).max(400).default(390),
  kickLength: z.number().int().min(16).max(400).default(255),
  awayLength: z.number().int().min(16).max(400).default(255),
  channelsPerUser: positive.default(50),
  maxTargets: positive.max(100).default(4),
  modesPerCommand: positive.max(100).default(4),
  listEntries: positive.default(100),
  flood: floodSchema.default(floodSchema.parse({})),
  sendQueueBytes: z.number().int().min(4096).default(1024 * 1024),
  connectionsPerIp: nonNegative.default(32),
  maxConnections: nonNegative.default(20000),
  /** New connections one address may open per minute, all of them at once if it likes (a token bucket); 0: no limit. */
  connectionsPerIpPerMinute: nonNegative.default(60),
  /** Addresses and subnets connectionsPerIpPerMinute does not apply to: loopback (the host itself, a local proxy). */
  connectionRateExempt: z.array(addressOrSubnet).default(['127.0.0.0/8', '::1']),
  registrationTimeoutSeconds: positive.default(60),
  pingIntervalSeconds: positive.default(120),
  pingTimeoutSeconds: positive.default(60),
  whowasEntries: nonNegative.default(1000),
  /** draft/multiline: bytes of text and lines in one multiline message. */
  multilineMaxBytes: z.number().int().min(512).max(65536).default(4096),
  multilineMaxLines: z.number().int().min(2).max(1000).default(100),
  /** MONITOR: nicks one client may watch. */
  monitorEntries: nonNegative.max(10000).default(100),
});

const operSchema = z.strictObject({
  name: z.string().min(1).regex(/^\S+$/, 'expected a name without spaces'),
  password: z
    .string()
    .regex(/^\$(argon2id|scrypt)\$/, 'expected a password hash made by `natter hash-password` (plain text passwords are refused)'),
  hosts: z.array(z.string().min(1)).default([]),
});

export const accountsSchema = z.strictObject({
  registration: z.boolean().default(true),
  required: z.boolean().default(false),
  minPasswordLength: z.number().int().min(4).max(128).default(8),
  nickGraceSeconds: z.number().int().min(0).max(3600).default(30),
  maxFailedLogins: positive.max(1000).default(5),
  failedLoginWindowSeconds: positive.max(86400).default(60),
  /** A second connection logging in with SASL to an account already online joins it as another device. */
  multiclient: z.boolean().default(true),
});

export const historySchema = z.strictObject({
  /** Keep room and private messages for CHATHISTORY (draft/chathistory). */
  enabled: z.boolean().default(true),
  /** Messages older than this many days go; 0 keeps them for ever. */
  maxAgeDays: nonNegative.max(36500).default(0),
  /** At most this many messages per room or conversation are kept (the newest); 0 for no limit. */
  maxPerTarget: nonNegative.default(0),
  /** Who sees a room's past messages when the room has not chosen (ChanServ SET #room HISTORY). */
  visibility: z.enum(['everything', 'joined']).default('everything'),
  /** Authors may delete (REDACT) their own messages; room moderators always may. */
  authorsMayRedact: z.boolean().default(true),
  /** Messages per CHATHISTORY reply at most (ISUPPORT CHATHISTORY). */
  maxPerQuery: positive.max(1000).default(100),
});

/** Image uploads over HTTP (soju.im/FILEHOST, docs/uploads.md). */
export const uploadsSchema = z.strictObject({
  enabled: z.boolean().default(true),
  maxBytes: positive.max(1024 * 1024 * 1024).default(10 * 1024 * 1024),
  /** Bytes one account may keep stored; 0 for no limit. */
  quotaBytes: nonNegative.default(200 * 1024 * 1024),
  /** Uploads per account per minute; 0 for no limit. */
  perMinute: nonNegative.max(10000).default(10),
});

/** The web address clients reach the HTTP(S) listeners at, for links (FILEHOST, uploads): "https://chat.example.org". */
const publicUrl = z
  .string()
  .regex(/^https?:\/\/[^\s/?#@]+(\/[^\s?#]*)?$/, 'expected an absolute http:// or https:// URL without query or fragment, e.g. https://chat.example.org')
  .transform((url) => url.replace(/\/+$/, ''));

/**
 * GET /metrics on the HTTP face (docs/operations.md): served to loopback clients only, or with a token to whoever
 * sends it as `Authorization: Bearer <token>`.
 */
export const metricsSchema = z.strictObject({
  enabled: z.boolean().default(true),
  token: z
    .string()
    .min(16, 'expected at least 16 characters, e.g. the output of `openssl rand -hex 32`')
    .regex(/^\S+$/, 'expected no spaces')
    .optional(),
});

/** natter.chat/view-once messages (docs/extensions/view-once.md). */
export const viewOnceSchema = z.strictObject({
  /** A view-once message is deleted this many hours after it was sent, opened by all its recipients or not (fractions allowed). */
  ttlHours: z.number().positive().max(8760).default(168),
});

export const tlsSchema = z.strictObject({
  listen: z.array(hostPort).default([]),
  cert: z.string().min(1).optional(),
  key: z.string().min(1).optional(),
  sts: z
    .strictObject({
      durationSeconds: nonNegative.default(0),
      preload: z.boolean().default(false),
    })
    .default({ durationSeconds: 0, preload: false }),
});

export const configSchema = z.strictObject({
  serverName: serverName.default('natter.local'),
  networkName: z.string().regex(/^[A-Za-z0-9_.-]{1,32}$/, 'expected letters, digits, "_", "." or "-", at most 32').default('Natter'),
  listen: z.array(hostPort).min(1).default(['127.0.0.1:6667']),
  data: z.string().min(1).optional(),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  casemapping: z.enum(['rfc1459', 'ascii']).default('rfc1459'),
  motd: z.union([z.string(), z.array(z.string())]).default(['Welcome to Natter.', 'Be kind, and have a good chat.']),
  password: z.string().min(1).optional(),
  /** Rooms every new connection is joined to once registered, as if it had sent JOIN (InspIRCd's conn_join). */
  autojoin: z.array(z.string()).default([]),
  opers: z.array(operSchema).default([]),
  admin: z
    .strictObject({
      location1: z.string().default('A Natter server'),
      location2: z.string().default('Run by its host'),
      email: z.string().default('nobody@localhost'),
    })
    .default({ location1: 'A Natter server', location2: 'Run by its host', email: 'nobody@localhost' }),
  limits: limitsSchema.default(limitsSchema.parse({})),
  database: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'expected a PostgreSQL URL, postgres://user@host:port/database')
    .optional(),
  accounts: accountsSchema.default(accountsSchema.parse({})),
  history: historySchema.default(historySchema.parse({})),
  viewOnce: viewOnceSchema.default(viewOnceSchema.parse({})),
  /** The HTTP face: the web client, IRC over WebSocket and /healthz on each of these addresses. */
  http: z.strictObject({ listen: z.array(hostPort).default([]), publicUrl: publicUrl.optional() }).default({ listen: [] }),
  /** The same over HTTPS (and wss), with the TLS certificate of `tls` (tls.cert and tls.key, else self-signed). */
  https: z.strictObject({ listen: z.array(hostPort).default([]) }).default({ listen: [] }),
  /**
   * Load balancers in front (docs/cluster.md): connections from these addresses to the IRC listeners start with a
   * PROXY protocol header (v1 or v2), and their HTTP requests name the client in X-Forwarded-For; both give the
   * client's address to limits, bans and prefixes. Read at start.
   */
  proxy: z.strictObject({ trusted: z.array(addressOrSubnet).default([]) }).default({ trusted: [] }),
  /** /metrics on the HTTP and HTTPS listeners (docs/operations.md). */
  metrics: metricsSchema.default(metricsSchema.parse({})),
  uploads: uploadsSchema.default(uploadsSchema.parse({})),
  tls: tlsSchema.default(tlsSchema.parse({})),
  /** Cluster mode (docs/cluster.md): several processes serve one network through Redis; the store is PostgreSQL. */
  cluster: z
    .strictObject({
      redis: z.string().regex(/^rediss?:\/\//, 'expected a Redis URL, redis://host:port'),
      /** Every Redis key of this network starts with it: several networks may share one Redis. */
      namespace: z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'expected 1 to 64 letters, digits, ".", "_", ":" or "-"').default('natter'),
      /** How long a node may go silent before the others declare it lost and drop its users. */
      leaseMs: z.number().int().min(500).max(60_000).default(5000),
    })
    .optional(),
}).superRefine((config, issues) => {
  if (config.cluster !== undefined && config.database === undefined) {
    issues.addIssue({
      code: 'custom',
      path: ['cluster'],
      message: 'cluster mode keeps accounts, rooms and history in one PostgreSQL database that every node shares: give "database" too (--database postgres://user@host:port/database)',
    });
  }
  // Checked here, not per item: a name's longest length is limits.channelLength, a sibling key.
  config.autojoin.forEach((name, index) => {
    if (!isValidChannelName(name, config.limits.channelLength)) {
      issues.addIssue({
        code: 'custom',
        path: ['autojoin', index],
        message: `expected a channel name: "#" then up to ${String(config.limits.channelLength - 1)} characters, no spaces, commas or colons (got ${JSON.stringify(name)})`,
      });
    }
  });
});

export type ConfigFile = z.input<typeof configSchema>;
export type Config = z.output<typeof configSchema>;
