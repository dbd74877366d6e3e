/**
 * Domain events: what core has decided happened on the network. They are published on the Bus and applied
 * by every node to its state, which also delivers them to that node's sessions. Plain data, so a Redis bus
 * can carry them between nodes; sessions are named by id.
 */

export interface UserIntro {
  /** Unique across the nodes of a network: "<node>.<n>" (net/server.ts). */
  readonly id: string;
  /** The session's home node (Bus.nodeId of the node its connection is on), which routes its messages. */
  readonly node: string;
  readonly nick: string;
  readonly user: string;
  readonly host: string;
  readonly ip: string;
  readonly realname: string;
  readonly modes: number;
  readonly signonAt: number;
  /** Logged in before registering (SASL). */
  readonly account: string | undefined;
  readonly accountId: number | undefined;
}

/** One line of a draft/multiline message; `concat` joins it to the previous line without a line break. */
export interface MultilineLine {
  readonly text: string;
  readonly concat: boolean;
}

export interface ModeChange {
  readonly adding: boolean;
  readonly letter: string;
  readonly param?: string;
}

/** A role of an account in a registered room, as the store now holds it; rank 0 is no role. */
export interface RoleChange {
  readonly accountId: number;
  readonly accountName: string;
  readonly rank: number;
}

export type NetworkEvent =
  | { readonly type: 'userRegistered'; readonly user: UserIntro }
  // The events members see as a line (NICK, QUIT, JOIN, PART, KICK, TOPIC, MODE) carry their msgid, given by the
  // publishing node, so every node delivers (and history keeps) the same id (issue 9).
  | { readonly type: 'nickChanged'; readonly id: string; readonly nick: string; readonly time: number; readonly msgid: string }
  | {
      readonly type: 'accountChanged';
      readonly id: string;
      /** The account's name, or undefined on logout. */
      readonly account: string | undefined;
      readonly accountId: number | undefined;
      readonly time: number;
    }
  | { readonly type: 'userQuit'; readonly id: string; readonly reason: string; readonly time: number; readonly msgid: string }
  /**
   * A failed or a successful password check (SASL, NickServ, OPER, REGISTER's rate) for a throttle key ("ip:…",
   * "account:…"): every node counts it, so guesses spread over the nodes of a cluster meet one limit.
   */
  | { readonly type: 'loginFailed'; readonly key: string }
  | { readonly type: 'loginSucceeded'; readonly key: string }
  /** Cluster mode: a device of this session connected to `node`, which had none (multi-device across nodes). */
  | { readonly type: 'deviceNodeAdded'; readonly id: string; readonly node: string }
  /**
   * Cluster mode: the last device of this session on `node` is gone (or the node is), while the session has devices on
   * other nodes: it stays on the network. When `node` was its home, the next node becomes its home.
   */
  | { readonly type: 'deviceNodeRemoved'; readonly id: string; readonly node: string }
  | { readonly type: 'awayChanged'; readonly id: string; readonly message: string | undefined; readonly time: number }
  | { readonly type: 'userModeChanged'; readonly id: string; readonly modes: number; readonly changes: string; readonly time: number }
  | { readonly type: 'realnameChanged'; readonly id: string; readonly realname: string; readonly time: number }
  /** An operator's CHGHOST (IRCv3 chghost): the user's username and host, both already validated. */
  | { readonly type: 'hostChanged'; readonly id: string; readonly user: string; readonly host: string; readonly time: number }
  | {
      readonly type: 'channelJoined';
      readonly id: string;
      /** Casefolded key. */
      readonly channel: string;
      /** The name as its creator wrote it, used when this join creates the channel. */
      readonly name: string;
      readonly created: boolean;
      readonly time: number;
      readonly msgid: string;
    }
  | {
      readonly type: 'channelParted';
      readonly id: string;
      readonly channel: string;
      readonly reason: string | undefined;
      readonly time: number;
      readonly msgid: string;
    }
  | {
      readonly type: 'memberKicked';
      readonly by: string;
      readonly channel: string;
      readonly target: string;
      readonly reason: string;
      readonly time: number;
      readonly msgid: string;
    }
  | { readonly type: 'topicChanged'; readonly by: string; readonly channel: string; readonly topic: string; readonly time: number; readonly msgid: string }
  | {
      readonly type: 'channelModeChanged';
      /** A nick!user@host or the server name. */
      readonly by: string;
      readonly channel: string;
      readonly changes: readonly ModeChange[];
      /** In a registered room: the roles of logged-in members this change stored (docs/chanserv.md). */
      readonly roles?: readonly RoleChange[];
      readonly time: number;
      readonly msgid: string;
    }
  | {
      readonly type: 'userInvited';
      /** The inviter's nick!user@host, and session id. */
      readonly by: string;
      readonly from: string;
      /** Casefolded key, and the name as written (the room may not exist). */
      readonly channel: string;
      readonly name: string;
      readonly target: string;
      /** The inviter is a half-operator or above, so the invitation lets the target past the room's restrictions. */
      readonly admits: boolean;
      readonly time: number;
    }
  | {
      readonly type: 'channelMessage';
      readonly from: string;
      readonly command: 'PRIVMSG' | 'NOTICE' | 'TAGMSG';
      readonly channel: string;
      /** The target as the sender wrote it, e.g. "@#room" for STATUSMSG. */
      readonly target: string;
      /** Only members of at least this rank receive it (STATUSMSG). */
      readonly minRank: number;
      readonly text: string;
      readonly tags: ReadonlyMap<string, string> | undefined;
      readonly time: number;
      /** IRCv3 message-ids, given by the node that accepted the message. */
      readonly msgid: string;
      /** The connection it was sent from, so echo-message applies to that one and not the sender's other devices. */
      readonly device: string | undefined;
      /** draft/multiline: the lines of the message (`text` is them joined); delivered by core/multiline.ts. */
      readonly lines?: readonly MultilineLine[];
    }
  | {
      readonly type: 'privateMessage';
      readonly from: string;
      readonly command: 'PRIVMSG' | 'NOTICE' | 'TAGMSG';
      readonly to: string;
      readonly text: string;
      readonly tags: ReadonlyMap<string, string> | undefined;
      readonly time: number;
      /** IRCv3 message-ids, given by the node that accepted the message. */
      readonly msgid: string;
      /** The connection it was sent from, so echo-message applies to that one and not the sender's other devices. */
      readonly device: string | undefined;
      /** draft/multiline: the lines of the message (`text` is them joined); delivered by core/multiline.ts. */
      readonly lines?: readonly MultilineLine[];
    }
  | { readonly type: 'wallops'; readonly source: string; readonly text: string; readonly time: number }
  /**
   * draft/message-redaction: a PRIVMSG/NOTICE/TAGMSG was deleted from history (core/redaction.ts); published after
   * the store's delete was awaited.
   */
  | {
      readonly type: 'messageRedacted';
      /** The redactor's session id, and the connection the REDACT came from (it gets the REDACT even without the cap). */
      readonly from: string;
      readonly device: string | undefined;
      /** Casefolded room, or undefined for a private conversation. */
      readonly channel: string | undefined;
      /** The other party of a private conversation (a session id), or undefined for a room. */
      readonly to: string | undefined;
      /** The target as the redactor wrote it, for when the room or the other party is gone by the time it applies. */
      readonly target: string;
      /** The msgid of the redacted message. */
      readonly redacted: string;
      readonly reason: string | undefined;
      readonly time: number;
      /** The REDACT's own message id. */
      readonly msgid: string;
    }
  /** draft/read-marker: an account's read marker for a target moved forward (stored); its other connections are told. */
  | {
      readonly type: 'readMarkerMoved';
      readonly accountId: number;
      /** The target as the client wrote it ("#Chat", "Bob"). */
      readonly target: string;
      /** The marker now stored, milliseconds since the epoch. */
      readonly marker: number;
      /** The connection that set it: it has its reply already. */
      readonly device: string | undefined;
      /** When it was set: the server-time of the MARKREAD lines, the same on every node. */
      readonly time: number;
    }
  // Registered rooms (ChanServ): each is published after its store write was awaited.
  | {
      readonly type: 'roomRegistered';
      /** Casefolded key of a channel that exists. */
      readonly channel: string;
      readonly founderId: number;
      readonly founderName: string;
      readonly registeredAt: number;
      readonly time: number;
    }
  | { readonly type: 'roomDropped'; readonly channel: string; readonly time: number }
  | { readonly type: 'roomHistoryChanged'; readonly channel: string; readonly history: 'everything' | 'joined' | null; readonly time: number }
  | {
      readonly type: 'roomFounderChanged';
      readonly channel: string;
      readonly founderId: number;
      readonly founderName: string;
      /** The previous founder, who keeps the admin role. */
      readonly previousFounderId: number;
      readonly previousFounderName: string;
      readonly time: number;
    }
  | { readonly type: 'roomRoleChanged'; readonly channel: string; readonly role: RoleChange; readonly time: number }
  /** The account was deleted (the store cascaded): rooms it founded are no longer registered, its roles are gone. */
  | { readonly type: 'accountRoomsForgotten'; readonly accountId: number; readonly time: number }
  /**
   * natter.chat/view-once (core/view-once.ts): a room or private message sealed for its recipients, published once
   * the store keeps its content for those who open it later.
   */
  | {
      readonly type: 'viewOnceMessage';
      readonly from: string;
      readonly device: string | undefined;
      readonly command: 'PRIVMSG' | 'NOTICE';
      /** Casefolded room, and the target as the sender wrote it ("#Room", "@#Room"); undefined for a private message. */
      readonly channel: string | undefined;
      readonly target: string | undefined;
      /** The recipient's session id of a private message. */
      readonly to: string | undefined;
      /** Client tags relayed with it (never the view-once tag itself). */
      readonly tags: ReadonlyMap<string, string> | undefined;
      readonly time: number;
      readonly expiresAt: number;
      readonly msgid: string;
      /** Session ids that get it sealed (their recipient opens it with VIEWONCE OPEN). */
      readonly sealedFor: readonly string[];
      /** Session ids that get the content now, marked, as their one opening (no connection of theirs has the cap). */
      readonly plainFor: readonly string[];
      /** The content: only when plainFor is not empty. */
      readonly text: string | undefined;
    }
  /** A recipient (core/view-once.ts recipientKey) opened a view-once message from `device`. */
  | { readonly type: 'viewOnceOpened'; readonly recipient: string; readonly msgid: string; readonly expiresAt: number; readonly device: string | undefined; readonly time: number };
