/** Everything configurable that the domain reads. config/ builds it from files and flags; core only reads it. */
import type { Casemapping } from '../protocol/casemapping.js';
import type { UploadSettings } from './uploads.js';

export interface OperatorCredential {
  readonly name: string;
  /** An argon2id or scrypt PHC string; verified by a port, never compared as text. */
  readonly passwordHash: string;
  /** Wildcard masks of user@host allowed to use this block; empty means any. */
  readonly hosts: readonly string[];
}

export interface FloodSettings {
  readonly enabled: boolean;
  /** Commands a client may send at once before it is slowed down. */
  readonly burst: number;
  /** Commands per second refilled into the budget. */
  readonly perSecond: number;
  /** Delayed commands held per client; more than this disconnects it with "Excess Flood". */
  readonly maxQueued: number;
}

export interface LimitSettings {
  readonly nickLength: number;
  readonly userLength: number;
  readonly realnameLength: number;
  readonly channelLength: number;
  readonly topicLength: number;
  readonly kickLength: number;
  readonly awayLength: number;
  readonly channelsPerUser: number;
  /** Targets per PRIVMSG/NOTICE/JOIN/... command. */
  readonly maxTargets: number;
  /** Mode changes with a parameter per MODE command. */
  readonly modesPerCommand: number;
  /** Entries per ban, exception or invite-exception list. */
  readonly listEntries: number;
  readonly flood: FloodSettings;
  /** Bytes queued for one client before it is disconnected with "SendQ exceeded". */
  readonly sendQueueBytes: number;
  /** Simultaneous connections from one IP address; 0 means unlimited. */
  readonly connectionsPerIp: number;
  /** Connections in all, over every listener (TCP, TLS, WebSocket); 0 means unlimited. */
  readonly maxConnections: number;
  /** New connections from one IP address per minute, a burst of as many allowed; 0 means unlimited. */
  readonly connectionsPerIpPerMinute: number;
  /** Addresses and CIDR subnets not counted by connectionsPerIpPerMinute. */
  readonly connectionRateExempt: readonly string[];
  readonly registrationTimeoutSeconds: number;
  readonly pingIntervalSeconds: number;
  readonly pingTimeoutSeconds: number;
  readonly whowasEntries: number;
  readonly multilineMaxBytes: number;
  readonly multilineMaxLines: number;
  readonly monitorEntries: number;
}

export interface AdminInfo {
  readonly location1: string;
  readonly location2: string;
  readonly email: string;
}

export interface AccountSettings {
  /** REGISTER and NickServ REGISTER may create accounts. */
  readonly registration: boolean;
  /** Only clients logged in with SASL may finish registration. */
  readonly required: boolean;
  readonly minPasswordLength: number;
  /** How long someone using a registered account's nick has to log in before being renamed. */
  readonly nickGraceSeconds: number;
  readonly maxFailedLogins: number;
  readonly failedLoginWindowSeconds: number;
  /** SASL logins to an account already online join it as another device (multi-device). */
  readonly multiclient: boolean;
}

export interface HistorySettings {
  readonly enabled: boolean;
  /** 0 keeps messages for ever. */
  readonly maxAgeDays: number;
  /** 0 for no limit. */
  readonly maxPerTarget: number;
  /** For rooms that have not chosen. */
  readonly visibility: 'everything' | 'joined';
  readonly authorsMayRedact: boolean;
  readonly maxPerQuery: number;
}

/** natter.chat/view-once (docs/extensions/view-once.md). */
export interface ViewOnceSettings {
  /** Hours after which a view-once message is deleted, opened by all its recipients or not. */
  readonly ttlHours: number;
}

/** IRCv3 Strict Transport Security, advertised only when a TLS listener exists and a duration is set. */
export interface StsSettings {
  readonly port: number;
  readonly durationSeconds: number;
  readonly preload: boolean;
}

export interface ServerSettings {
  readonly serverName: string;
  readonly networkName: string;
  readonly casemapping: Casemapping;
  readonly motd: readonly string[];
  /** A server password (PASS) every client must give; undefined for none. Compared in constant time. */
  readonly password: string | undefined;
  readonly opers: readonly OperatorCredential[];
  readonly admin: AdminInfo;
  readonly limits: LimitSettings;
  readonly accounts: AccountSettings;
  readonly history: HistorySettings;
  readonly viewOnce: ViewOnceSettings;
  readonly sts: StsSettings | undefined;
  readonly uploads: UploadSettings;
  /** Rooms a new connection joins once registered, as if it had sent JOIN; not for a user's extra device. */
  readonly autojoin: readonly string[];
  /**
   * The upload URL announced as ISUPPORT soju.im/FILEHOST: set once HTTP(S) listens and while uploads are enabled
   * (cli/compose.ts), like `sts`.
   */
  readonly fileHost?: string;
}
