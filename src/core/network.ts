/**
 * The network's state on this node (sessions, nicks, channels) and the one place it changes: apply(),
 * which every node runs for every event from the Bus, delivering the event to its local sessions as it goes.
 */
import { Cap } from '../protocol/caps.js';
import type { Casefold } from '../protocol/casemapping.js';
import { casefolder } from '../protocol/casemapping.js';
import { Channel, isRank, Membership, Rank, RANKS, RoomRegistration } from './channel.js';
import type { ModeChange, NetworkEvent, RoleChange, UserIntro } from './events.js';
import { Counters } from './counters.js';
import { LoginThrottle } from './auth.js';
import type { LoginAttempts } from './auth.js';
import { MonitorRegistry } from './monitor.js';
import * as N from '../protocol/numerics.js';
import { MsgidSource } from './msgid.js';
import { deliverMultilineToChannel, deliverMultilineToUser } from './multiline.js';
import { Outbound } from './outbound.js';
import { LocalClaims } from './local-claims.js';
import type { Bus, Claims, Clock, Route } from './ports.js';
import { Session, UserMode } from './session.js';
import type { ServerSettings } from './settings.js';
import { readSnapshot, SNAPSHOT_VERSION, SnapshotError } from './snapshot.js';
import type { ChannelSnapshot, NetworkSnapshot, SessionSnapshot } from './snapshot.js';
import type { HistoryCommand } from './history.js';
import { deliverViewOnce, deliverViewOnceOpened } from './view-once.js';

/** What the network tells history as it applies events (core/history-recorder.ts writes it to the store). */
export interface RoomEventRecorder {
  /** A room event (JOIN, PART, KICK, TOPIC, MODE, NICK, QUIT) as its members saw it, for event-playback. */
  roomEvent(room: string, message: Outbound): void;
  /** A logged-in user's membership of a room began (JOIN) or ended (PART, KICK): not a disconnection. */
  roomJoined(accountId: number, room: string, time: number): void;
  roomLeft(accountId: number, room: string): void;
}

/** Commands of room events that history keeps for event-playback. */
export const ROOM_EVENT_COMMANDS: ReadonlySet<HistoryCommand> = new Set(['JOIN', 'PART', 'KICK', 'TOPIC', 'MODE', 'NICK', 'QUIT']);

export interface WhowasEntry {
  readonly nick: string;
  readonly nickFolded: string;
  readonly user: string;
  readonly host: string;
  readonly realname: string;
  /** Seconds since the epoch. */
  readonly leftAt: number;
}

export class Network {
  readonly sessions = new Map<string, Session>();
  /** Casefolded nick -> session, for registered sessions and for nicks reserved before registration. */
  readonly nicks = new Map<string, Session>();
  readonly channels = new Map<string, Channel>();
  /** Account id -> the registered sessions logged in to it (several for multi-device, or one per login by nick). */
  readonly accountSessions = new Map<number, Set<Session>>();
  readonly whowas: WhowasEntry[] = [];
  /** Sessions using an account's nick without being logged in to it, and when their grace period ends. */
  readonly nickDeadlines = new Map<Session, { readonly nickFolded: string; readonly at: number }>();
  fold: Casefold;
  settings: ServerSettings;
  readonly startedAt: number;
  /** Highest count of registered users seen, for LUSERS. */
  maxUsers = 0;
  registeredCount = 0;
  /** Registered sessions with +i and with +o, kept as counts so LUSERS does not walk every session. */
  invisibleCount = 0;
  operCount = 0;
  /**
   * Per casefolded room: the tail of its queue of store writes (registered-rooms.ts withRoomWrite), so that the
   * writes of one registered room and their events happen one after the other, in the same order.
   */
  readonly roomWrites = new Map<string, Promise<void>>();
  private deliveryEpoch = 0;
  /** Keeps room events for draft/event-playback and room joins for "joined" history; set by the server. */
  recorder: RoomEventRecorder | undefined = undefined;
  readonly msgids = new MsgidSource();
  /** MONITOR lists of this node's sessions (core/monitor.ts); only sign-on/off and presence events touch it. */
  readonly monitor = new MonitorRegistry();
  /** What this node counts for its metrics (core/counters.ts): net/ and commands/ count here too. */
  readonly counters = new Counters();
  /**
   * Failed logins of the whole network by throttle key, as the events said them (loginFailed, loginSucceeded).
   * Checked through `loginAttempts`, which counts through the bus, so that in cluster mode each node knows of the
   * others' failures within milliseconds and guesses spread over nodes meet one limit.
   */
  readonly loginThrottle: LoginThrottle;
  readonly loginAttempts: LoginAttempts;
  private ownRoute: Route = undefined;
  /**
   * Who holds each nick and who founded each room, network-wide (issue 9): asked before NICK and a room's first JOIN
   * are published. One process answers from memory; cluster mode gives the Redis one (ServerOptions.claims).
   */
  claims: Claims;

  constructor(
    settings: ServerSettings,
    readonly clock: Clock,
    readonly bus: Bus,
    claims: Claims = new LocalClaims(),
  ) {
    this.settings = settings;
    this.claims = claims;
    this.fold = casefolder(settings.casemapping);
    this.startedAt = clock.now();
    this.loginThrottle = new LoginThrottle(settings.accounts.maxFailedLogins, settings.accounts.failedLoginWindowSeconds * 1000, () => clock.now());
    this.loginAttempts = {
      retryAfter: (key) => this.loginThrottle.retryAfter(key),
      fail: (key) => {
        this.publish({ type: 'loginFailed', key });
      },
      succeed: (key) => {
        this.publish({ type: 'loginSucceeded', key });
      },
    };
    bus.subscribe((event, delivery) => {
      this.apply(event, delivery.local);
    });
    bus.onSnapshotRequest(() => this.exportState());
  }

  /**
   * Cluster mode (issue 9): before this node serves anyone, takes the state of a node of the running network (its
   * users and rooms) and then follows the events that came after it. Resolves false when no node was there to give
   * one: the network is then what this node has (the registered rooms loaded from the store). Rejects when it could
   * not get a consistent copy; the node must then not serve.
   */
  bootstrap(): Promise<boolean> {
    return this.bus.bootstrap((snapshot) => {
      this.importState(readSnapshot(snapshot));
    });
  }

  /** The state every mirror keeps, as plain JSON data (core/snapshot.ts), for a node that joins. */
  exportState(): NetworkSnapshot {
    const sessions: SessionSnapshot[] = [];
    for (const session of this.sessions.values()) {
      if (!session.registered) continue;
      sessions.push({
        id: session.id,
        node: session.node,
        ...(session.otherNodes.size === 0 ? {} : { otherNodes: [...session.otherNodes] }),
        nick: session.nick,
        user: session.user,
        host: session.host,
        ip: session.ip,
        realname: session.realname,
        modes: session.modes,
        signonAt: session.signonAt,
        ...(session.account === undefined ? {} : { account: session.account }),
        ...(session.accountId === undefined ? {} : { accountId: session.accountId }),
        ...(session.away === undefined ? {} : { away: session.away }),
      });
    }
    const channels: ChannelSnapshot[] = [];
    for (const channel of this.channels.values()) {
      const { modes, lists, registration } = channel;
      channels.push({
        name: channel.name,
        nameFolded: channel.nameFolded,
        createdAt: channel.createdAt,
        topic: channel.topic,
        topicSetBy: channel.topicSetBy,
        topicSetAt: channel.topicSetAt,
        modes: {
          noExternal: modes.noExternal,
          topicLocked: modes.topicLocked,
          secret: modes.secret,
          inviteOnly: modes.inviteOnly,
          moderated: modes.moderated,
          ...(modes.key === undefined ? {} : { key: modes.key }),
          ...(modes.limit === undefined ? {} : { limit: modes.limit }),
        },
        lists: { b: [...lists.b], e: [...lists.e], I: [...lists.I] },
        invited: [...channel.invited],
        ...(registration === undefined
          ? {}
          : {
              registration: {
                founderId: registration.founderId,
                founderName: registration.founderName,
                registeredAt: registration.registeredAt,
                history: registration.history,
                roles: [...registration.roles].map(([accountId, role]) => [accountId, role.rank, role.accountName] as const),
              },
            }),
        members: [...channel.members.values()].map((membership) => [membership.session.id, membership.prefixes, membership.joinedAtMs] as const),
      });
    }
    return { v: SNAPSHOT_VERSION, casemapping: this.settings.casemapping, sessions, channels, whowas: [...this.whowas], maxUsers: this.maxUsers };
  }

  /**
   * Takes another node's state (exportState) as this node's mirror: its users, and its rooms in place of the ones
   * this node has (the registered rooms it loaded from the store, which the copy has too, as current as the events
   * made them). Only before this node has users of its own; throws SnapshotError for a copy that does not hold
   * together (a member who is no user), leaving the network as it was.
   */
  importState(snapshot: NetworkSnapshot): void {
    if (snapshot.casemapping !== this.settings.casemapping) {
      throw new SnapshotError(`snapshot casemapping ${snapshot.casemapping} is not this node's ${this.settings.casemapping}`);
    }
    if (this.registeredCount > 0) throw new SnapshotError('a snapshot is taken only before this node has users');
    const sessions = new Map<string, Session>();
    for (const intro of snapshot.sessions) {
      if (sessions.has(intro.id) || this.sessions.has(intro.id)) throw new SnapshotError(`snapshot names session ${intro.id} twice`);
      const session = new Session(intro.id, intro.host, intro.ip, intro.signonAt);
      session.node = intro.node;
      for (const node of intro.otherNodes ?? []) session.otherNodes.add(node);
      session.nick = intro.nick;
      session.nickFolded = this.fold(intro.nick);
      session.user = intro.user;
      session.realname = intro.realname;
      session.modes = intro.modes;
      session.account = intro.account;
      session.accountId = intro.accountId;
      session.away = intro.away;
      session.updatePrefix();
      session.registered = true;
      sessions.set(session.id, session);
    }
    const channels: Array<{ readonly channel: Channel; readonly members: ChannelSnapshot['members'] }> = [];
    for (const room of snapshot.channels) {
      const channel = new Channel(room.name, room.nameFolded, room.createdAt);
      channel.topic = room.topic;
      channel.topicSetBy = room.topicSetBy;
      channel.topicSetAt = room.topicSetAt;
      const { modes } = channel;
      modes.noExternal = room.modes.noExternal;
      modes.topicLocked = room.modes.topicLocked;
      modes.secret = room.modes.secret;
      modes.inviteOnly = room.modes.inviteOnly;
      modes.moderated = room.modes.moderated;
      modes.key = room.modes.key;
      modes.limit = room.modes.limit;
      for (const letter of ['b', 'e', 'I'] as const) channel.lists[letter].push(...room.lists[letter].map((entry) => ({ ...entry })));
      for (const id of room.invited) {
        channel.invited.add(id);
        sessions.get(id)?.invitedTo.add(channel);
      }
      if (room.registration !== undefined) {
        const registration = new RoomRegistration(room.registration.founderId, room.registration.founderName, room.registration.registeredAt);
        registration.history = room.registration.history;
        for (const [accountId, rank, accountName] of room.registration.roles) {
          if (isRank(rank) && accountId !== registration.founderId) registration.roles.set(accountId, { rank, accountName });
        }
        channel.registration = registration;
      }
      for (const [id] of room.members) {
        if (!sessions.has(id)) throw new SnapshotError(`snapshot room ${room.name} has member ${id}, who is no user`);
      }
      channels.push({ channel, members: room.members });
    }
    // It holds together: now it becomes this node's state.
    for (const session of sessions.values()) {
      this.sessions.set(session.id, session);
      this.nicks.set(session.nickFolded, session);
      this.indexAccount(session, session.accountId);
      this.countModes(session.modes, 1);
      this.registeredCount++;
    }
    this.maxUsers = Math.max(this.maxUsers, snapshot.maxUsers, this.registeredCount);
    this.channels.clear();
    for (const { channel, members } of channels) {
      this.channels.set(channel.nameFolded, channel);
      for (const [id, prefixes, joinedAtMs] of members) {
        const session = sessions.get(id);
        if (session === undefined || channel.members.has(session)) continue;
        const membership = new Membership(session, channel, Math.floor(joinedAtMs / 1000), joinedAtMs);
        membership.prefixes = prefixes;
        this.addMember(channel, session, membership);
      }
    }
    this.whowas.length = 0;
    this.whowas.push(...snapshot.whowas.slice(-this.settings.limits.whowasEntries));
  }

  /** Seconds since the epoch. */
  nowSeconds(): number {
    return Math.floor(this.clock.now() / 1000);
  }

  findNick(nick: string): Session | undefined {
    const session = this.nicks.get(this.fold(nick));
    return session?.registered === true ? session : undefined;
  }

  findChannel(name: string): Channel | undefined {
    return this.channels.get(this.fold(name));
  }

  /** Adds a connection's session before registration; it holds no nick and is seen by nobody yet. */
  addLocalSession(session: Session): void {
    this.sessions.set(session.id, session);
  }

  /** Forgets a session that never registered (or a remote one whose QUIT was applied). */
  removeUnregistered(session: Session): void {
    this.sessions.delete(session.id);
    if (session.nickFolded !== '' && this.nicks.get(session.nickFolded) === session) this.nicks.delete(session.nickFolded);
  }

  reserveNick(session: Session, nick: string): void {
    const folded = this.fold(nick);
    if (session.nickFolded !== '' && this.nicks.get(session.nickFolded) === session) this.nicks.delete(session.nickFolded);
    session.nick = nick;
    session.nickFolded = folded;
    this.nicks.set(folded, session);
  }

  publish(event: NetworkEvent): void {
    this.bus.publish(event, this.routeOf(event));
  }

  /**
   * Where an event must go (issue 9): a message only to the nodes of its recipients and of the sender (its other
   * devices); everything else to every node, since every node's mirror applies it. Messages change no state.
   */
  private routeOf(event: NetworkEvent): Route {
    switch (event.type) {
      case 'channelMessage':
        return this.roomRoute(event.channel, event.from);
      case 'privateMessage':
        return this.usersRoute(event.from, event.to);
      case 'messageRedacted':
        return event.channel === undefined ? this.usersRoute(event.from, event.to) : this.roomRoute(event.channel, event.from);
      case 'viewOnceMessage':
        return this.viewOnceRoute(event);
      default:
        return undefined;
    }
  }

  /** The nodes with members of the room, and the sender's: the room's own route unless the sender's node has none. */
  private roomRoute(folded: string, from: string): Route {
    const sender = this.sessions.get(from);
    if (sender === undefined) return undefined;
    const channel = this.channels.get(folded);
    if (channel === undefined) return this.sessionRoute(sender);
    if (channel.nodes.has(sender.node) && (sender.otherNodes.size === 0 || [...sender.otherNodes].every((node) => channel.nodes.has(node)))) return channel.route;
    const nodes = new Set(channel.nodes).add(sender.node);
    for (const node of sender.otherNodes) nodes.add(node);
    return { nodes };
  }

  private usersRoute(from: string, to: string | undefined): Route {
    const sender = this.sessions.get(from);
    if (sender === undefined) return undefined;
    const other = to === undefined ? undefined : this.sessions.get(to);
    if (other === undefined) return this.sessionRoute(sender);
    if (other.node === sender.node && other.otherNodes.size === 0 && sender.otherNodes.size === 0) return this.nodeRoute(sender.node);
    return { nodes: new Set([sender.node, ...sender.otherNodes, other.node, ...other.otherNodes]) };
  }

  /** A view-once message goes only where its recipients are: its content must not reach other nodes. */
  private viewOnceRoute(event: Extract<NetworkEvent, { type: 'viewOnceMessage' }>): Route {
    const sender = this.sessions.get(event.from);
    if (sender === undefined) return undefined;
    const nodes = new Set<string>([sender.node, ...sender.otherNodes]);
    for (const id of [...event.sealedFor, ...event.plainFor]) {
      const session = this.sessions.get(id);
      if (session === undefined) continue;
      nodes.add(session.node);
      for (const node of session.otherNodes) nodes.add(node);
    }
    return { nodes };
  }

  /** The nodes with devices of one session. */
  private sessionRoute(session: Session): Route {
    if (session.otherNodes.size === 0) return this.nodeRoute(session.node);
    return { nodes: new Set([session.node, ...session.otherNodes]) };
  }

  /** A route to one node; this node's is made once (the publisher's sessions are this node's). */
  private nodeRoute(node: string): Route {
    if (node !== this.bus.nodeId) return { nodes: new Set([node]) };
    this.ownRoute ??= { nodes: new Set([node]) };
    return this.ownRoute;
  }

  /**
   * Applies an event to this node's state and delivers it to this node's sessions. `local` is false for an event
   * another node published: that node has written what it leaves in history already (issue 9).
   */
  apply(event: NetworkEvent, local = true): void {
    switch (event.type) {
      // Deliveries are the lines the fan-out queued on this node's connections (counted by net/ in linesQueued).
      case 'channelMessage': {
        const queued = this.counters.linesQueued;
        this.applyChannelMessage(event);
        this.counters.deliveries += this.counters.linesQueued - queued;
        return;
      }
      case 'privateMessage': {
        const queued = this.counters.linesQueued;
        this.applyPrivateMessage(event);
        this.counters.deliveries += this.counters.linesQueued - queued;
        return;
      }
      case 'userRegistered':
        this.applyUserRegistered(event.user);
        return;
      case 'nickChanged':
        this.applyNickChanged(event.id, event.nick, event.time, event.msgid, local);
        return;
      case 'accountChanged':
        this.applyAccountChanged(event.id, event.account, event.accountId, event.time);
        return;
      case 'userQuit':
        this.applyUserQuit(event.id, event.reason, event.time, event.msgid, local);
        return;
      case 'loginFailed':
        this.loginThrottle.fail(event.key);
        return;
      case 'loginSucceeded':
        this.loginThrottle.succeed(event.key);
        return;
      case 'deviceNodeAdded':
        this.applyDeviceNodeAdded(event.id, event.node);
        return;
      case 'deviceNodeRemoved':
        this.applyDeviceNodeRemoved(event.id, event.node);
        return;
      case 'awayChanged':
        this.applyAwayChanged(event.id, event.message, event.time);
        return;
      case 'userModeChanged':
        this.applyUserModeChanged(event.id, event.modes, event.changes, event.time);
        return;
      case 'realnameChanged':
        this.applyRealnameChanged(event.id, event.realname, event.time);
        return;
      case 'channelJoined':
        this.applyChannelJoined(event, local);
        return;
      case 'channelParted':
        this.applyChannelParted(event, local);
        return;
      case 'memberKicked':
        this.applyMemberKicked(event, local);
        return;
      case 'topicChanged':
        this.applyTopicChanged(event, local);
        return;
      case 'channelModeChanged':
        this.applyChannelModeChanged(event, local);
        return;
      case 'userInvited':
        this.applyUserInvited(event);
        return;
      case 'wallops':
        this.applyWallops(event.source, event.text, event.time);
        return;
      case 'messageRedacted':
        this.applyMessageRedacted(event);
        return;
      case 'readMarkerMoved':
        this.applyReadMarkerMoved(event.accountId, event.target, event.marker, event.device, event.time);
        return;
      case 'roomRegistered':
        this.applyRoomRegistered(event);
        return;
      case 'roomDropped':
        this.applyRoomDropped(event.channel, local);
        return;
      case 'roomHistoryChanged': {
        const registration = this.channels.get(event.channel)?.registration;
        if (registration !== undefined) registration.history = event.history;
        return;
      }
      case 'roomFounderChanged':
        this.applyRoomFounderChanged(event);
        return;
      case 'roomRoleChanged':
        this.applyRoomRoleChanged(event.channel, event.role, event.time);
        return;
      case 'hostChanged':
        this.applyHostChanged(event.id, event.user, event.host, event.time);
        return;
      case 'accountRoomsForgotten':
        this.applyAccountRoomsForgotten(event.accountId, local);
        return;
      // natter.chat/view-once: delivered by its own rules (sealed or marked, per recipient).
      case 'viewOnceMessage': {
        const queued = this.counters.linesQueued;
        deliverViewOnce(this, event);
        this.counters.deliveries += this.counters.linesQueued - queued;
        return;
      }
      case 'viewOnceOpened':
        deliverViewOnceOpened(this, event);
        return;
    }
  }

  private applyChannelMessage(event: Extract<NetworkEvent, { type: 'channelMessage' }>): void {
    if (event.lines !== undefined) {
      deliverMultilineToChannel(this, event);
      return;
    }
    const channel = this.channels.get(event.channel);
    const sender = this.sessions.get(event.from);
    if (channel === undefined || sender === undefined) return;
    const tagOnly = event.command === 'TAGMSG';
    const message = new Outbound(sender.prefix, event.command, tagOnly ? [event.target] : [event.target, event.text], event.time, event.tags, sender.account, event.msgid, (sender.modes & UserMode.bot) !== 0 ? 'bot' : undefined);
    const needs = tagOnly ? Cap.messageTags : 0;
    for (const membership of channel.members.values()) {
      const member = membership.session;
      if (member === sender || member.devices.length === 0) continue;
      if (event.minRank !== Rank.none && membership.highestRank < event.minRank) continue;
      if (needs === 0) member.send(message);
      else member.sendIfCap(message, needs);
    }
    // The sender's own connections: echo-message returns it to the one that sent it, whatever the target (also a
    // "@#room" the sender ranks below, and a -n room the sender is not in); its other devices always see it.
    this.echoToSender(sender, event.device, message, needs);
  }

  private applyPrivateMessage(event: Extract<NetworkEvent, { type: 'privateMessage' }>): void {
    if (event.lines !== undefined) {
      deliverMultilineToUser(this, event);
      return;
    }
    const sender = this.sessions.get(event.from);
    const recipient = this.sessions.get(event.to);
    if (sender === undefined || recipient === undefined) return;
    const tagOnly = event.command === 'TAGMSG';
    const message = new Outbound(sender.prefix, event.command, tagOnly ? [recipient.nick] : [recipient.nick, event.text], event.time, event.tags, sender.account, event.msgid, (sender.modes & UserMode.bot) !== 0 ? 'bot' : undefined);
    const needs = tagOnly ? Cap.messageTags : 0;
    if (needs === 0) recipient.send(message);
    else recipient.sendIfCap(message, needs);
    // A message to oneself has reached every device already.
    if (recipient !== sender) this.echoToSender(sender, event.device, message, needs);
  }

  private echoToSender(sender: Session, originDevice: string | undefined, message: Outbound, needs: number): void {
    for (const device of sender.devices) {
      if (needs !== 0 && (device.caps & needs) === 0) continue;
      if (device.id === originDevice && (device.caps & Cap.echoMessage) === 0) continue;
      device.link.send(message);
    }
  }

  private applyUserRegistered(intro: UserIntro): void {
    let session = this.sessions.get(intro.id);
    if (session === undefined) {
      session = new Session(intro.id, intro.host, intro.ip, intro.signonAt);
      this.sessions.set(session.id, session);
    }
    // The same intro applied twice (a bus redelivering it) must count the user once: it only refreshes the fields.
    const again = session.registered;
    if (again) {
      this.unindexAccount(session);
      this.countModes(session.modes, -1);
    }
    // Rooms count their members per node (addMember): the node of a session already counted stays.
    if (!again) session.node = intro.node;
    session.user = intro.user;
    session.realname = intro.realname;
    session.modes = intro.modes;
    session.host = intro.host;
    session.account = intro.account;
    session.accountId = intro.accountId;
    this.indexAccount(session, intro.accountId);
    this.reserveNick(session, intro.nick);
    session.updatePrefix();
    session.registered = true;
    this.countModes(session.modes, 1);
    if (again) return;
    this.registeredCount++;
    if (this.registeredCount > this.maxUsers) this.maxUsers = this.registeredCount;
    this.monitor.signedOn(session, this.settings.serverName, this.clock.now());
  }

  private applyNickChanged(id: string, nick: string, time: number, msgid: string, local: boolean): void {
    const session = this.sessions.get(id);
    if (session === undefined) return;
    const message = new Outbound(session.prefix, 'NICK', [nick], time, undefined, session.account, msgid);
    const [oldNick, oldFolded] = [session.nick, session.nickFolded];
    this.reserveNick(session, nick);
    session.updatePrefix();
    const mark = this.nextMark();
    session.deliveryMark = mark;
    session.send(message);
    this.sendToChannelPeers(session, message, mark, 0);
    if (local) this.recordForRooms(session, message);
    this.monitor.nickChanged(session, oldNick, oldFolded, this.settings.serverName, time);
  }

  private applyAccountChanged(id: string, account: string | undefined, accountId: number | undefined, time: number): void {
    const session = this.sessions.get(id);
    if (session === undefined) return;
    if (session.registered) this.unindexAccount(session);
    session.account = account;
    session.accountId = accountId;
    if (!session.registered) return;
    this.indexAccount(session, accountId);
    const message = new Outbound(session.prefix, 'ACCOUNT', [account ?? '*'], time, undefined, account);
    const mark = this.nextMark();
    session.deliveryMark = mark;
    this.sendToChannelPeers(session, message, mark, Cap.accountNotify);
    this.monitor.notify(session, message, mark, Cap.accountNotify);
    // Logging in inside a registered room gives the account's role there now, not only at the next JOIN.
    // Logging out takes nothing away, as a JOIN before login would not have either.
    if (accountId === undefined) return;
    for (const [channel, membership] of session.channels) {
      const rank = channel.registration?.roleOf(accountId) ?? Rank.none;
      if (rank !== Rank.none && !membership.has(rank)) this.changeRoles(channel, [{ membership, adding: true, rank }], time);
    }
  }

  private applyUserQuit(id: string, reason: string, time: number, msgid: string, local: boolean): void {
    const session = this.sessions.get(id);
    if (session === undefined) return;
    const message = new Outbound(session.prefix, 'QUIT', [reason], time, undefined, session.account, msgid);
    const mark = this.nextMark();
    session.deliveryMark = mark;
    this.sendToChannelPeers(session, message, mark, 0);
    if (local) this.recordForRooms(session, message);
    for (const channel of session.channels.keys()) this.removeMember(channel, session, local);
    // An invitation not used dies with its holder (a registered room lives on, and its set would only grow).
    for (const channel of session.invitedTo) channel.invited.delete(session.id);
    session.invitedTo.clear();
    if (session.registered) {
      this.unindexAccount(session);
      this.registeredCount--;
      this.countModes(session.modes, -1);
      this.rememberWhowas(session, time);
      this.monitor.clear(session);
      this.monitor.signedOff(session.nick, session.nickFolded, this.settings.serverName, time);
    }
    this.nickDeadlines.delete(session);
    this.removeUnregistered(session);
    // Cluster mode: another node ended this node's session (KILL, GHOST, DROP): its connections close here, or they
    // would linger with no session behind them. A local quit closes its own connection already.
    if (!local && session.devices.length > 0) session.closeAll(reason);
  }

  private applyDeviceNodeAdded(id: string, node: string): void {
    const session = this.sessions.get(id);
    if (session === undefined || session.node === node || session.otherNodes.has(node)) return;
    session.otherNodes.add(node);
    for (const channel of session.channels.keys()) this.countNode(channel, node, 1);
  }

  private applyDeviceNodeRemoved(id: string, node: string): void {
    const session = this.sessions.get(id);
    if (session === undefined) return;
    if (session.otherNodes.delete(node)) {
      for (const channel of session.channels.keys()) this.countNode(channel, node, -1);
      return;
    }
    if (session.node !== node) return;
    // The home node's devices are gone: the first other node becomes home (it is counted in the rooms already).
    const next = session.otherNodes.values().next();
    if (next.done === true) return;
    session.otherNodes.delete(next.value);
    for (const channel of session.channels.keys()) this.countNode(channel, node, -1);
    session.node = next.value;
  }

  private applyAwayChanged(id: string, message: string | undefined, time: number): void {
    const session = this.sessions.get(id);
    if (session === undefined) return;
    session.away = message;
    const notice = new Outbound(session.prefix, 'AWAY', message === undefined ? [] : [message], time, undefined, session.account);
    const mark = this.nextMark();
    session.deliveryMark = mark;
    this.sendToChannelPeers(session, notice, mark, Cap.awayNotify);
    this.monitor.notify(session, notice, mark, Cap.awayNotify);
  }

  /**
   * IRCv3 chghost: the user's own devices and the members sharing a room with it that enabled the cap get
   * ":old!u@h CHGHOST <user> <host>"; the other members' devices see the spec's fallback, the user leaving (one QUIT)
   * and coming back to each shared room (JOIN, and its prefix modes as a MODE from the server). Own devices without
   * the cap get 396 RPL_VISIBLEHOST. extended-monitor watchers with chghost get the CHGHOST too.
   */
  private applyHostChanged(id: string, user: string, host: string, time: number): void {
    const session = this.sessions.get(id);
    if (session === undefined || !session.registered) return;
    const message = new Outbound(session.prefix, 'CHGHOST', [user, host], time, undefined, session.account);
    const quit = new Outbound(session.prefix, 'QUIT', ['Changing host'], time, undefined, session.account);
    session.user = user;
    session.host = host;
    session.updatePrefix();
    const mark = this.nextMark();
    session.deliveryMark = mark;
    const visible = new Outbound(this.settings.serverName, N.RPL_VISIBLEHOST, [session.nick, host, 'is now your displayed host'], time);
    session.sendByCap(message, visible, Cap.chghost);
    for (const channel of session.channels.keys()) {
      for (const member of channel.members.keys()) {
        if (member.deliveryMark === mark) continue;
        member.deliveryMark = mark;
        member.sendByCap(message, quit, Cap.chghost);
      }
    }
    for (const [channel, membership] of session.channels) {
      const plain = new Outbound(session.prefix, 'JOIN', [channel.name], time, undefined, session.account);
      const extended = new Outbound(session.prefix, 'JOIN', [channel.name, session.account ?? '*', session.realname], time, undefined, session.account);
      const ranks = RANKS.filter((def) => membership.has(def.rank)).map((def) => ({ adding: true, letter: def.letter, param: session.nick }));
      const mode = ranks.length === 0 ? undefined : new Outbound(this.settings.serverName, 'MODE', [channel.name, ...modeChangeParams(ranks)], time);
      for (const member of channel.members.keys()) {
        if (member === session) continue;
        for (const device of member.devices) {
          if (device.hasCap(Cap.chghost)) continue;
          device.link.send(device.hasCap(Cap.extendedJoin) ? extended : plain);
          if (mode !== undefined) device.link.send(mode);
        }
      }
    }
    this.monitor.notify(session, message, mark, Cap.chghost);
  }

  private applyUserModeChanged(id: string, modes: number, changes: string, time: number): void {
    const session = this.sessions.get(id);
    if (session === undefined) return;
    if (session.registered) {
      this.countModes(session.modes, -1);
      this.countModes(modes, 1);
    }
    session.modes = modes;
    if (changes !== '') session.send(new Outbound(session.nick, 'MODE', [session.nick, changes], time));
  }

  private applyRealnameChanged(id: string, realname: string, time: number): void {
    const session = this.sessions.get(id);
    if (session === undefined) return;
    session.realname = realname;
    const message = new Outbound(session.prefix, 'SETNAME', [realname], time);
    const mark = this.nextMark();
    session.deliveryMark = mark;
    session.sendIfCap(message, Cap.setname);
    this.sendToChannelPeers(session, message, mark, Cap.setname);
    this.monitor.notify(session, message, mark, Cap.setname);
  }

  private applyChannelJoined(event: Extract<NetworkEvent, { type: 'channelJoined' }>, local: boolean): void {
    const { channel: folded, time, msgid } = event;
    const session = this.sessions.get(event.id);
    if (session === undefined) return;
    let channel = this.channels.get(folded);
    if (channel === undefined) {
      channel = new Channel(event.name, folded, Math.floor(time / 1000));
      this.channels.set(folded, channel);
    }
    if (channel.members.has(session)) return;
    const membership = new Membership(session, channel, Math.floor(time / 1000), time);
    if (event.created) membership.prefixes = 1 << Rank.op;
    this.addMember(channel, session, membership);
    channel.invited.delete(session.id);
    session.invitedTo.delete(channel);
    // extended-join (IRCv3): the joiner's account ("*" for none) and realname for clients that asked.
    const plain = new Outbound(session.prefix, 'JOIN', [channel.name], time, undefined, session.account, msgid);
    const extended = new Outbound(session.prefix, 'JOIN', [channel.name, session.account ?? '*', session.realname], time, undefined, session.account, msgid);
    for (const member of channel.members.keys()) member.sendByCap(extended, plain, Cap.extendedJoin);
    // away-notify: AWAY is also sent "when a user joins and has an away message set".
    if (session.away !== undefined) {
      const away = new Outbound(session.prefix, 'AWAY', [session.away], time, undefined, session.account);
      for (const member of channel.members.keys()) if (member !== session) member.sendIfCap(away, Cap.awayNotify);
    }
    if (this.recorder !== undefined) {
      if (local) this.recorder.roomEvent(channel.nameFolded, plain);
      // The member's own record is written where its connections are (as for a KICK's target, whose node did not
      // publish the KICK), and the room's event where it was published: each once.
      if (session.accountId !== undefined && session.isLocal) this.recorder.roomJoined(session.accountId, channel.nameFolded, time);
    }
    // A registered room gives a logged-in member the role of their account, as a MODE from the server right after
    // the JOIN (so the member's NAMES reply already shows it).
    const rank = channel.registration?.roleOf(session.accountId) ?? Rank.none;
    if (rank !== Rank.none) this.changeRoles(channel, [{ membership, adding: true, rank }], time);
  }

  private applyChannelParted(event: Extract<NetworkEvent, { type: 'channelParted' }>, local: boolean): void {
    const { reason } = event;
    const session = this.sessions.get(event.id);
    const channel = this.channels.get(event.channel);
    if (session === undefined || channel === undefined || !channel.members.has(session)) return;
    const params = reason === undefined || reason === '' ? [channel.name] : [channel.name, reason];
    const message = new Outbound(session.prefix, 'PART', params, event.time, undefined, session.account, event.msgid);
    this.sendToMembers(channel, message, 0);
    this.recordLeaving(channel, session, message, local);
    this.removeMember(channel, session, local);
  }

  private applyMemberKicked(event: Extract<NetworkEvent, { type: 'memberKicked' }>, local: boolean): void {
    const channel = this.channels.get(event.channel);
    const target = this.sessions.get(event.target);
    if (channel === undefined || target === undefined || !channel.members.has(target)) return;
    const message = new Outbound(event.by, 'KICK', [channel.name, target.nick, event.reason], event.time, undefined, undefined, event.msgid);
    this.sendToMembers(channel, message, 0);
    this.recordLeaving(channel, target, message, local);
    this.removeMember(channel, target, local);
  }

  private applyTopicChanged(event: Extract<NetworkEvent, { type: 'topicChanged' }>, local: boolean): void {
    const { by, topic, time } = event;
    const channel = this.channels.get(event.channel);
    if (channel === undefined) return;
    channel.topic = topic;
    channel.topicSetBy = by;
    channel.topicSetAt = Math.floor(time / 1000);
    const message = new Outbound(by, 'TOPIC', [channel.name, topic], time, undefined, undefined, event.msgid);
    this.sendToMembers(channel, message, 0);
    if (local) this.recorder?.roomEvent(channel.nameFolded, message);
  }

  private applyChannelModeChanged(event: Extract<NetworkEvent, { type: 'channelModeChanged' }>, local: boolean): void {
    const { by, changes, roles, time } = event;
    const channel = this.channels.get(event.channel);
    if (channel === undefined || changes.length === 0) return;
    const setAt = Math.floor(time / 1000);
    for (const change of changes) applyModeChange(this, channel, change, by, setAt);
    if (roles !== undefined && channel.registration !== undefined) for (const role of roles) setCachedRole(channel.registration, role);
    const message = new Outbound(by, 'MODE', [channel.name, ...modeChangeParams(changes)], time, undefined, undefined, event.msgid);
    this.sendToMembers(channel, message, 0);
    if (local) this.recorder?.roomEvent(channel.nameFolded, message);
  }

  private applyUserInvited(event: Extract<NetworkEvent, { type: 'userInvited' }>): void {
    const channel = this.channels.get(event.channel);
    const target = this.sessions.get(event.target);
    if (target === undefined) return;
    const channelName = channel?.name ?? event.name;
    if (event.admits && channel !== undefined) {
      channel.invited.add(target.id);
      target.invitedTo.add(channel);
    }
    const message = new Outbound(event.by, 'INVITE', [target.nick, channelName], event.time);
    target.send(message);
    if (channel === undefined) return;
    // invite-notify: members who could have invited too are told (ircv3 invite-notify). Not the inviter, who has
    // RPL_INVITING already, as Ergo does.
    for (const membership of channel.members.values()) {
      const member = membership.session;
      if (member === target || member.id === event.from) continue;
      if (membership.highestRank >= Rank.halfop) member.sendIfCap(message, Cap.inviteNotify);
    }
  }

  private applyWallops(source: string, text: string, time: number): void {
    const message = new Outbound(source, 'WALLOPS', [text], time);
    for (const session of this.sessions.values()) {
      if (session.registered && (session.modes & UserMode.wallops) !== 0) session.send(message);
    }
  }

  /**
   * draft/message-redaction: REDACT to the room's members (or both parties of a private conversation) that have the
   * cap, and to every device of the redactor with it; the connection that sent the REDACT gets it in any case.
   */
  private applyMessageRedacted(event: Extract<NetworkEvent, { type: 'messageRedacted' }>): void {
    const redactor = this.sessions.get(event.from);
    if (redactor === undefined) return;
    const channel = event.channel === undefined ? undefined : this.channels.get(event.channel);
    const other = event.to === undefined ? undefined : this.sessions.get(event.to);
    const target = channel?.name ?? other?.nick ?? event.target;
    const params = event.reason === undefined ? [target, event.redacted] : [target, event.redacted, event.reason];
    const message = new Outbound(redactor.prefix, 'REDACT', params, event.time, undefined, redactor.account, event.msgid);
    const recipients = channel === undefined ? (other === undefined ? [] : [other]) : channel.members.keys();
    for (const member of recipients) if (member !== redactor) member.sendIfCap(message, Cap.messageRedaction);
    for (const device of redactor.devices) {
      if (device.hasCap(Cap.messageRedaction) || device.id === event.device) device.link.send(message);
    }
  }

  /** draft/read-marker: every connection of the account with the cap learns the new marker, except the one that set it. */
  private applyReadMarkerMoved(accountId: number, target: string, marker: number, origin: string | undefined, time: number): void {
    const sessions = this.accountSessions.get(accountId);
    if (sessions === undefined) return;
    const message = new Outbound(this.settings.serverName, 'MARKREAD', [target, `timestamp=${new Date(marker).toISOString()}`], time);
    for (const session of sessions) {
      for (const device of session.devices) if (device.id !== origin && device.hasCap(Cap.readMarker)) device.link.send(message);
    }
  }

  private applyRoomRegistered(event: Extract<NetworkEvent, { type: 'roomRegistered' }>): void {
    const channel = this.channels.get(event.channel);
    if (channel === undefined) return;
    channel.registration = new RoomRegistration(event.founderId, event.founderName, event.registeredAt);
    // The founder is the owner at once, in every session logged in to the account that is in the room.
    this.giveRolesOf(channel, event.founderId, event.time);
  }

  private applyRoomDropped(name: string, local: boolean): void {
    const channel = this.channels.get(name);
    if (channel === undefined) return;
    // The room stays, with its members' modes, as an ordinary room until its last member leaves.
    channel.registration = undefined;
    if (channel.members.size === 0) this.forgetChannel(channel, local);
  }

  private applyRoomFounderChanged(event: Extract<NetworkEvent, { type: 'roomFounderChanged' }>): void {
    const channel = this.channels.get(event.channel);
    const registration = channel?.registration;
    if (channel === undefined || registration === undefined) return;
    registration.founderId = event.founderId;
    registration.founderName = event.founderName;
    registration.roles.delete(event.founderId);
    registration.roles.set(event.previousFounderId, { rank: Rank.admin, accountName: event.previousFounderName });
    const changes: RoleModeChange[] = [];
    for (const membership of channel.members.values()) {
      const accountId = membership.session.accountId;
      if (accountId === event.previousFounderId) {
        if (membership.has(Rank.owner)) changes.push({ membership, adding: false, rank: Rank.owner });
        if (!membership.has(Rank.admin)) changes.push({ membership, adding: true, rank: Rank.admin });
      } else if (accountId === event.founderId && !membership.has(Rank.owner)) {
        changes.push({ membership, adding: true, rank: Rank.owner });
      }
    }
    this.changeRoles(channel, changes, event.time);
  }

  /**
   * ChanServ AMODE/ACCESS: the account's members present get the new role now and lose the one it replaces
   * (not prefixes given by hand that the account never held as its role).
   */
  private applyRoomRoleChanged(name: string, role: RoleChange, time: number): void {
    const channel = this.channels.get(name);
    const registration = channel?.registration;
    if (channel === undefined || registration === undefined || role.accountId === registration.founderId) return;
    const previous = registration.roleOf(role.accountId);
    setCachedRole(registration, role);
    const rank = registration.roleOf(role.accountId);
    const changes: RoleModeChange[] = [];
    for (const membership of channel.members.values()) {
      if (membership.session.accountId !== role.accountId) continue;
      if (previous !== Rank.none && previous !== rank && membership.has(previous)) changes.push({ membership, adding: false, rank: previous });
      if (rank !== Rank.none && !membership.has(rank)) changes.push({ membership, adding: true, rank });
    }
    this.changeRoles(channel, changes, time);
  }

  private applyAccountRoomsForgotten(accountId: number, local: boolean): void {
    for (const channel of [...this.channels.values()]) {
      const registration = channel.registration;
      if (registration === undefined) continue;
      if (registration.founderId === accountId) this.applyRoomDropped(channel.nameFolded, local);
      else registration.roles.delete(accountId);
    }
  }

  /** Gives every member logged in to `accountId` the account's role in the channel, where they lack it. */
  private giveRolesOf(channel: Channel, accountId: number, time: number): void {
    const rank = channel.registration?.roleOf(accountId) ?? Rank.none;
    if (rank === Rank.none) return;
    const changes: RoleModeChange[] = [];
    for (const membership of channel.members.values()) {
      if (membership.session.accountId === accountId && !membership.has(rank)) changes.push({ membership, adding: true, rank });
    }
    this.changeRoles(channel, changes, time);
  }

  /** Changes members' prefixes and tells the room in one MODE line from the server. */
  private changeRoles(channel: Channel, changes: readonly RoleModeChange[], time: number): void {
    if (changes.length === 0) return;
    const modeChanges: ModeChange[] = [];
    // Removals first, so the line reads "-q+aq old old new" rather than alternating signs.
    for (const { membership, adding, rank } of [...changes].sort((a, b) => Number(a.adding) - Number(b.adding))) {
      if (adding) membership.prefixes |= 1 << rank;
      else membership.prefixes &= ~(1 << rank);
      const letter = RANKS.find((def) => def.rank === rank)?.letter ?? '';
      modeChanges.push({ adding, letter, param: membership.session.nick });
    }
    this.sendToMembers(channel, new Outbound(this.settings.serverName, 'MODE', [channel.name, ...modeChangeParams(modeChanges)], time), 0);
  }

  /** Sends to every local session sharing a channel with `session` once (those whose mark differs), optionally only with a cap. */
  private sendToChannelPeers(session: Session, message: Outbound, mark: number, requiredCap: number): void {
    for (const channel of session.channels.keys()) {
      for (const member of channel.members.keys()) {
        if (member.deliveryMark === mark) continue;
        member.deliveryMark = mark;
        if (requiredCap === 0) member.send(message);
        else member.sendIfCap(message, requiredCap);
      }
    }
  }

  private sendToMembers(channel: Channel, message: Outbound, requiredCap: number): void {
    for (const member of channel.members.keys()) {
      if (requiredCap === 0) member.send(message);
      else member.sendIfCap(message, requiredCap);
    }
  }

  /** A NICK or QUIT goes into the history of every room of the session. */
  private recordForRooms(session: Session, message: Outbound): void {
    if (this.recorder === undefined) return;
    for (const channel of session.channels.keys()) this.recorder.roomEvent(channel.nameFolded, message);
  }

  /** A PART or KICK: the room's history keeps it where it was published; the member's record, where the member is. */
  private recordLeaving(channel: Channel, session: Session, message: Outbound, local: boolean): void {
    if (this.recorder === undefined) return;
    if (local) this.recorder.roomEvent(channel.nameFolded, message);
    if (session.accountId !== undefined && session.isLocal) this.recorder.roomLeft(session.accountId, channel.nameFolded);
  }

  private addMember(channel: Channel, session: Session, membership: Membership): void {
    channel.members.set(session, membership);
    session.channels.set(channel, membership);
    this.countNode(channel, session.node, 1);
    for (const node of session.otherNodes) this.countNode(channel, node, 1);
  }

  /** Keeps channel.nodes (the route of the room's messages) as members, or their devices, come and go. */
  private countNode(channel: Channel, node: string, delta: 1 | -1): void {
    const count = (channel.membersPerNode.get(node) ?? 0) + delta;
    if (count > 0) {
      channel.membersPerNode.set(node, count);
      channel.nodes.add(node);
    } else {
      channel.membersPerNode.delete(node);
      channel.nodes.delete(node);
    }
  }

  private removeMember(channel: Channel, session: Session, local: boolean): void {
    if (!channel.members.delete(session)) return;
    session.channels.delete(channel);
    this.countNode(channel, session.node, -1);
    for (const node of session.otherNodes) this.countNode(channel, node, -1);
    // A registered room outlives its last member: its modes, lists and topic wait for the next one.
    if (channel.members.size === 0 && channel.registration === undefined) this.forgetChannel(channel, local);
  }

  /**
   * The room is gone from this node. Its founding claim goes with it, let go by the node that published the event
   * that emptied it (issue 9): every node applies that event, one node releases.
   */
  private forgetChannel(channel: Channel, local: boolean): void {
    this.channels.delete(channel.nameFolded);
    if (local) void this.claims.releaseRoom(channel.nameFolded);
  }

  private rememberWhowas(session: Session, time: number): void {
    this.whowas.push({
      nick: session.nick,
      nickFolded: session.nickFolded,
      user: session.user,
      host: session.host,
      realname: session.realname,
      leftAt: Math.floor(time / 1000),
    });
    const excess = this.whowas.length - this.settings.limits.whowasEntries;
    if (excess > 0) this.whowas.splice(0, excess);
  }

  private indexAccount(session: Session, accountId: number | undefined): void {
    if (accountId === undefined) return;
    let sessions = this.accountSessions.get(accountId);
    if (sessions === undefined) {
      sessions = new Set();
      this.accountSessions.set(accountId, sessions);
    }
    sessions.add(session);
  }

  private unindexAccount(session: Session): void {
    const accountId = session.accountId;
    if (accountId === undefined) return;
    const sessions = this.accountSessions.get(accountId);
    sessions?.delete(session);
    if (sessions?.size === 0) this.accountSessions.delete(accountId);
  }

  private countModes(modes: number, delta: number): void {
    if ((modes & UserMode.invisible) !== 0) this.invisibleCount += delta;
    if ((modes & UserMode.oper) !== 0) this.operCount += delta;
  }

  private nextMark(): number {
    this.deliveryEpoch = (this.deliveryEpoch + 1) | 0;
    return this.deliveryEpoch;
  }
}

interface RoleModeChange {
  readonly membership: Membership;
  readonly adding: boolean;
  readonly rank: Rank;
}

function setCachedRole(registration: RoomRegistration, role: RoleChange): void {
  if (role.accountId === registration.founderId) return;
  if (isRank(role.rank)) registration.roles.set(role.accountId, { rank: role.rank, accountName: role.accountName });
  else registration.roles.delete(role.accountId);
}

/** Applies one already-validated mode change to a channel's state. */
function applyModeChange(network: Network, channel: Channel, change: ModeChange, by: string, setAt: number): void {
  const { modes } = channel;
  switch (change.letter) {
    case 'n':
      modes.noExternal = change.adding;
      return;
    case 't':
      modes.topicLocked = change.adding;
      return;
    case 's':
      modes.secret = change.adding;
      return;
    case 'i':
      modes.inviteOnly = change.adding;
      return;
    case 'm':
      modes.moderated = change.adding;
      return;
    case 'k':
      modes.key = change.adding ? change.param : undefined;
      return;
    case 'l':
      modes.limit = change.adding && change.param !== undefined ? Number(change.param) : undefined;
      return;
    case 'b':
    case 'e':
    case 'I': {
      const list = channel.lists[change.letter];
      const mask = change.param ?? '';
      const folded = network.fold(mask);
      const index = list.findIndex((entry) => network.fold(entry.mask) === folded);
      if (change.adding && index === -1) list.push({ mask, setBy: by, setAt });
      if (!change.adding && index !== -1) list.splice(index, 1);
      return;
    }
    default: {
      const rankDef = RANK_BY_LETTER.get(change.letter);
      if (rankDef === undefined || change.param === undefined) return;
      const target = network.nicks.get(network.fold(change.param));
      const membership = target === undefined ? undefined : channel.members.get(target);
      if (membership === undefined) return;
      if (change.adding) membership.prefixes |= 1 << rankDef;
      else membership.prefixes &= ~(1 << rankDef);
    }
  }
}

const RANK_BY_LETTER = new Map<string, number>([
  ['q', Rank.owner],
  ['a', Rank.admin],
  ['o', Rank.op],
  ['h', Rank.halfop],
  ['v', Rank.voice],
]);

/** "+o-v nick1 nick2" from a list of changes, grouping signs as servers do. */
export function modeChangeParams(changes: readonly ModeChange[]): string[] {
  let letters = '';
  let sign = '';
  const params: string[] = [];
  for (const change of changes) {
    const wanted = change.adding ? '+' : '-';
    if (wanted !== sign) {
      letters += wanted;
      sign = wanted;
    }
    letters += change.letter;
    if (change.param !== undefined) params.push(change.param);
  }
  return [letters, ...params];
}
