/**
 * The network's state on this node (sessions, nicks, channels) and the one place it changes: apply(),
 * which every node runs for every event from the Bus, delivering the event to its local sessions as it goes.
 */
import { Cap } from '../protocol/caps.js';
import type { Casefold } from '../protocol/casemapping.js';
import { casefolder } from '../protocol/casemapping.js';
import { Channel, isRank, Membership, Rank, RANKS, RoomRegistration } from './channel.js';
import type { ModeChange, NetworkEvent, RoleChange, UserIntro } from './events.js';
import { MonitorRegistry } from './monitor.js';
import * as N from '../protocol/numerics.js';
import { MsgidSource } from './msgid.js';
import { deliverMultilineToChannel, deliverMultilineToUser } from './multiline.js';
import { Outbound } from './outbound.js';
import type { Bus, Clock } from './ports.js';
import { Session, UserMode } from './session.js';
import type { ServerSettings } from './settings.js';
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

  constructor(
    settings: ServerSettings,
    readonly clock: Clock,
    readonly bus: Bus,
  ) {
    this.settings = settings;
    this.fold = casefolder(settings.casemapping);
    this.startedAt = clock.now();
    bus.subscribe((event) => {
      this.apply(event);
    });
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
    this.bus.publish(event);
  }

  /** Applies an event to this node's state and delivers it to this node's sessions. */
  apply(event: NetworkEvent): void {
    switch (event.type) {
      case 'channelMessage':
        this.applyChannelMessage(event);
        return;
      case 'privateMessage':
        this.applyPrivateMessage(event);
        return;
      case 'userRegistered':
        this.applyUserRegistered(event.user);
        return;
      case 'nickChanged':
        this.applyNickChanged(event.id, event.nick, event.time);
        return;
      case 'accountChanged':
        this.applyAccountChanged(event.id, event.account, event.accountId, event.time);
        return;
      case 'userQuit':
        this.applyUserQuit(event.id, event.reason, event.time);
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
        this.applyChannelJoined(event.id, event.channel, event.name, event.created, event.time);
        return;
      case 'channelParted':
        this.applyChannelParted(event.id, event.channel, event.reason, event.time);
        return;
      case 'memberKicked':
        this.applyMemberKicked(event.by, event.channel, event.target, event.reason, event.time);
        return;
      case 'topicChanged':
        this.applyTopicChanged(event.by, event.channel, event.topic, event.time);
        return;
      case 'channelModeChanged':
        this.applyChannelModeChanged(event.by, event.channel, event.changes, event.roles, event.time);
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
        this.applyReadMarkerMoved(event.accountId, event.target, event.marker, event.device);
        return;
      case 'roomRegistered':
        this.applyRoomRegistered(event);
        return;
      case 'roomDropped':
        this.applyRoomDropped(event.channel);
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
        this.applyAccountRoomsForgotten(event.accountId);
        return;
      // natter.chat/view-once: delivered by its own rules (sealed or marked, per recipient).
      case 'viewOnceMessage':
        deliverViewOnce(this, event);
        return;
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
    this.registeredCount++;
    this.countModes(session.modes, 1);
    if (this.registeredCount > this.maxUsers) this.maxUsers = this.registeredCount;
    this.monitor.signedOn(session, this.settings.serverName, this.clock.now());
  }

  private applyNickChanged(id: string, nick: string, time: number): void {
    const session = this.sessions.get(id);
    if (session === undefined) return;
    const message = new Outbound(session.prefix, 'NICK', [nick], time, undefined, session.account, this.msgids.next());
    const [oldNick, oldFolded] = [session.nick, session.nickFolded];
    this.reserveNick(session, nick);
    session.updatePrefix();
    const mark = this.nextMark();
    session.deliveryMark = mark;
    session.send(message);
    this.sendToChannelPeers(session, message, mark, 0);
    this.recordForRooms(session, message);
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

  private applyUserQuit(id: string, reason: string, time: number): void {
    const session = this.sessions.get(id);
    if (session === undefined) return;
    const message = new Outbound(session.prefix, 'QUIT', [reason], time, undefined, session.account, this.msgids.next());
    const mark = this.nextMark();
    session.deliveryMark = mark;
    this.sendToChannelPeers(session, message, mark, 0);
    this.recordForRooms(session, message);
    for (const channel of session.channels.keys()) this.removeMember(channel, session);
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

  private applyChannelJoined(id: string, folded: string, name: string, created: boolean, time: number): void {
    const session = this.sessions.get(id);
    if (session === undefined) return;
    let channel = this.channels.get(folded);
    if (channel === undefined) {
      channel = new Channel(name, folded, Math.floor(time / 1000));
      this.channels.set(folded, channel);
    }
    if (channel.members.has(session)) return;
    const membership = new Membership(session, channel, Math.floor(time / 1000), time);
    if (created) membership.prefixes = 1 << Rank.op;
    channel.members.set(session, membership);
    session.channels.set(channel, membership);
    channel.invited.delete(session.id);
    // extended-join (IRCv3): the joiner's account ("*" for none) and realname for clients that asked.
    const msgid = this.msgids.next();
    const plain = new Outbound(session.prefix, 'JOIN', [channel.name], time, undefined, session.account, msgid);
    const extended = new Outbound(session.prefix, 'JOIN', [channel.name, session.account ?? '*', session.realname], time, undefined, session.account, msgid);
    for (const member of channel.members.keys()) member.sendByCap(extended, plain, Cap.extendedJoin);
    // away-notify: AWAY is also sent "when a user joins and has an away message set".
    if (session.away !== undefined) {
      const away = new Outbound(session.prefix, 'AWAY', [session.away], time, undefined, session.account);
      for (const member of channel.members.keys()) if (member !== session) member.sendIfCap(away, Cap.awayNotify);
    }
    if (this.recorder !== undefined) {
      this.recorder.roomEvent(channel.nameFolded, plain);
      if (session.accountId !== undefined && session.isLocal) this.recorder.roomJoined(session.accountId, channel.nameFolded, time);
    }
    // A registered room gives a logged-in member the role of their account, as a MODE from the server right after
    // the JOIN (so the member's NAMES reply already shows it).
    const rank = channel.registration?.roleOf(session.accountId) ?? Rank.none;
    if (rank !== Rank.none) this.changeRoles(channel, [{ membership, adding: true, rank }], time);
  }

  private applyChannelParted(id: string, name: string, reason: string | undefined, time: number): void {
    const session = this.sessions.get(id);
    const channel = this.channels.get(name);
    if (session === undefined || channel === undefined || !channel.members.has(session)) return;
    const params = reason === undefined || reason === '' ? [channel.name] : [channel.name, reason];
    const message = new Outbound(session.prefix, 'PART', params, time, undefined, session.account, this.msgids.next());
    this.sendToMembers(channel, message, 0);
    this.recordLeaving(channel, session, message);
    this.removeMember(channel, session);
  }

  private applyMemberKicked(by: string, name: string, targetId: string, reason: string, time: number): void {
    const channel = this.channels.get(name);
    const target = this.sessions.get(targetId);
    if (channel === undefined || target === undefined || !channel.members.has(target)) return;
    const message = new Outbound(by, 'KICK', [channel.name, target.nick, reason], time, undefined, undefined, this.msgids.next());
    this.sendToMembers(channel, message, 0);
    this.recordLeaving(channel, target, message);
    this.removeMember(channel, target);
  }

  private applyTopicChanged(by: string, name: string, topic: string, time: number): void {
    const channel = this.channels.get(name);
    if (channel === undefined) return;
    channel.topic = topic;
    channel.topicSetBy = by;
    channel.topicSetAt = Math.floor(time / 1000);
    const message = new Outbound(by, 'TOPIC', [channel.name, topic], time, undefined, undefined, this.msgids.next());
    this.sendToMembers(channel, message, 0);
    this.recorder?.roomEvent(channel.nameFolded, message);
  }

  private applyChannelModeChanged(by: string, name: string, changes: readonly ModeChange[], roles: readonly RoleChange[] | undefined, time: number): void {
    const channel = this.channels.get(name);
    if (channel === undefined || changes.length === 0) return;
    const setAt = Math.floor(time / 1000);
    for (const change of changes) applyModeChange(this, channel, change, by, setAt);
    if (roles !== undefined && channel.registration !== undefined) for (const role of roles) setCachedRole(channel.registration, role);
    const message = new Outbound(by, 'MODE', [channel.name, ...modeChangeParams(changes)], time, undefined, undefined, this.msgids.next());
    this.sendToMembers(channel, message, 0);
    this.recorder?.roomEvent(channel.nameFolded, message);
  }

  private applyUserInvited(event: Extract<NetworkEvent, { type: 'userInvited' }>): void {
    const channel = this.channels.get(event.channel);
    const target = this.sessions.get(event.target);
    if (target === undefined) return;
    const channelName = channel?.name ?? event.name;
    if (event.admits) channel?.invited.add(target.id);
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
  private applyReadMarkerMoved(accountId: number, target: string, marker: number, origin: string | undefined): void {
    const sessions = this.accountSessions.get(accountId);
    if (sessions === undefined) return;
    const message = new Outbound(this.settings.serverName, 'MARKREAD', [target, `timestamp=${new Date(marker).toISOString()}`], this.clock.now());
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

  private applyRoomDropped(name: string): void {
    const channel = this.channels.get(name);
    if (channel === undefined) return;
    // The room stays, with its members' modes, as an ordinary room until its last member leaves.
    channel.registration = undefined;
    if (channel.members.size === 0) this.channels.delete(channel.nameFolded);
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

  private applyAccountRoomsForgotten(accountId: number): void {
    for (const channel of [...this.channels.values()]) {
      const registration = channel.registration;
      if (registration === undefined) continue;
      if (registration.founderId === accountId) this.applyRoomDropped(channel.nameFolded);
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

  private recordLeaving(channel: Channel, session: Session, message: Outbound): void {
    if (this.recorder === undefined) return;
    this.recorder.roomEvent(channel.nameFolded, message);
    if (session.accountId !== undefined && session.isLocal) this.recorder.roomLeft(session.accountId, channel.nameFolded);
  }

  private removeMember(channel: Channel, session: Session): void {
    channel.members.delete(session);
    session.channels.delete(channel);
    // A registered room outlives its last member: its modes, lists and topic wait for the next one.
    if (channel.members.size === 0 && channel.registration === undefined) this.channels.delete(channel.nameFolded);
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
