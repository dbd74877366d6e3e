/**
 * The pure state reducer of the client engine (as gamja's `applyMessage`): what one IRC message, or one local
 * action, does to the state. No I/O and no clock of its own, so a recorded transcript replays to the same state.
 */
import type { IrcMessage } from '../protocol/message.js';
import type { Casemapping } from '../protocol/casemapping.js';
import {
  SERVER_BUFFER,
  VIEW_ONCE,
  bufferKey,
  emptyBuffer,
  foldOf,
  isRoomName,
  prefixTable,
} from './state.js';
import type { BatchItem, BufferKind, ChatBuffer, ChatMessage, ClientState, ConnectionStatus, Member, MessageKind, OpenBatch, Outgoing, ViewOnceState } from './state.js';

/** A buffer keeps at most this many messages in memory; older ones are fetched again from history on scroll. */
export const MAX_MESSAGES_PER_BUFFER = 4000;

export type LocalAction =
  | { readonly type: 'status'; readonly status: ConnectionStatus }
  /** The connection was lost or restarted: what the server knew of this connection is void until it registers again. */
  | { readonly type: 'reset'; readonly nick: string }
  | { readonly type: 'focus'; readonly name: string }
  /** Opens (and focuses) a buffer for a room or a nick without joining anything: a DM started from a name. */
  | { readonly type: 'open'; readonly name: string }
  | { readonly type: 'close'; readonly name: string }
  | { readonly type: 'note'; readonly name?: string; readonly text: string; readonly kind?: 'info' | 'error'; readonly time: number }
  | { readonly type: 'historyComplete'; readonly name: string }
  | { readonly type: 'loadingOlder'; readonly name: string; readonly loading: boolean }
  | { readonly type: 'directoryRequested' }
  | { readonly type: 'outboxAdd'; readonly message: Outgoing }
  | { readonly type: 'outboxState'; readonly id: string; readonly state: Outgoing['state'] }
  | { readonly type: 'outboxRemove'; readonly id: string }
  | { readonly type: 'error'; readonly text: string }
  /** A view-once message was opened (or found unopenable) by this client: marks it, the content stays out of the state. */
  | { readonly type: 'viewOnce'; readonly name?: string; readonly msgid: string; readonly state: ViewOnceState };

const NAMES_REPLY = '353';
const END_OF_NAMES = '366';

export function applyAction(state: ClientState, action: LocalAction): ClientState {
  switch (action.type) {
    case 'status':
      return { ...state, status: action.status };
    case 'reset': {
      const buffers = new Map<string, ChatBuffer>();
      for (const [key, buffer] of state.buffers) {
        buffers.set(key, buffer.kind === 'room' ? { ...buffer, joined: false, members: new Map(), typing: new Map() } : { ...buffer, typing: new Map() });
      }
      return { ...state, nick: action.nick, caps: new Set(), batches: new Map(), namesPending: new Set(), buffers };
    }
    case 'focus': {
      const key = bufferKey(state, action.name);
      const buffer = state.buffers.get(key);
      if (buffer === undefined) return state;
      return withBuffer({ ...state, active: key }, key, { ...buffer, unread: 0, mentions: 0 });
    }
    case 'open': {
      const key = bufferKey(state, action.name);
      const opened = ensureBuffer(state, action.name, isRoomName(state, action.name) ? 'room' : 'dm');
      return applyAction({ ...opened, active: key }, { type: 'focus', name: action.name });
    }
    case 'close': {
      const key = bufferKey(state, action.name);
      if (key === SERVER_BUFFER || !state.buffers.has(key)) return state;
      const buffers = new Map(state.buffers);
      buffers.delete(key);
      return { ...state, buffers, active: state.active === key ? SERVER_BUFFER : state.active };
    }
    case 'note': {
      const name = action.name ?? state.buffers.get(state.active)?.name ?? SERVER_BUFFER;
      const next = nextLocalId(state);
      return addMessages(next.state, name, 'dm', [{ id: next.id, time: action.time, kind: action.kind ?? 'info', from: '', text: action.text, self: false, highlight: false }], false);
    }
    case 'historyComplete': {
      const key = bufferKey(state, action.name);
      const buffer = state.buffers.get(key);
      return buffer === undefined ? state : withBuffer(state, key, { ...buffer, historyComplete: true });
    }
    case 'loadingOlder': {
      const key = bufferKey(state, action.name);
      const buffer = state.buffers.get(key);
      return buffer === undefined ? state : withBuffer(state, key, { ...buffer, loadingOlder: action.loading });
    }
    case 'directoryRequested':
      return { ...state, directory: { entries: [], complete: false } };
    case 'outboxAdd':
      return { ...state, outbox: [...state.outbox, action.message] };
    case 'outboxState':
      return { ...state, outbox: state.outbox.map((message) => (message.id === action.id ? { ...message, state: action.state } : message)) };
    case 'outboxRemove':
      return { ...state, outbox: state.outbox.filter((message) => message.id !== action.id) };
    case 'error':
      return { ...state, lastError: action.text };
    case 'viewOnce':
      return markViewOnce(state, action.msgid, action.state, action.name);
  }
}

/**
 * Applies one message from the server. `now` stands in for server-time when the message has none. Lines inside a
 * batch wait for its end; a chathistory batch is then added as history (it changes no membership and is read unless
 * it is newer than the read marker).
 */
export function applyMessage(state: ClientState, message: IrcMessage, now: number): ClientState {
  const batchRef = message.tags?.get('batch');
  if (message.command.toUpperCase() === 'BATCH') return applyBatchLine(state, message, now);
  if (batchRef !== undefined) {
    const open = state.batches.get(batchRef);
    if (open !== undefined) return withBatch(state, batchRef, { ...open, items: [...open.items, { line: message }] });
  }
  return applyLine(state, message, now, false);
}

function applyBatchLine(state: ClientState, message: IrcMessage, now: number): ClientState {
  const [reference = '', type = '', ...params] = message.params;
  if (reference.startsWith('+')) {
    const ref = reference.slice(1);
    const parent = message.tags?.get('batch');
    // Closing a batch applies its nested batches recursively: a server nesting thousands deep would overflow the
    // stack. Real servers nest one or two levels; deeper batches (and those inside a batch that is not open) are not
    // opened, and their lines apply one by one.
    if (parent !== undefined && !state.batches.has(parent)) return state;
    if (parent !== undefined && batchDepth(state, parent) >= MAX_BATCH_DEPTH) return state;
    const batch: OpenBatch = { type, params, tags: message.tags, ...(parent === undefined ? {} : { parent }), items: [] };
    return withBatch(state, ref, batch);
  }
  if (!reference.startsWith('-')) return state;
  const ref = reference.slice(1);
  const batch = state.batches.get(ref);
  if (batch === undefined) return state;
  const batches = new Map(state.batches);
  batches.delete(ref);
  const closed = { ...state, batches };
  if (batch.parent !== undefined) {
    const parent = batches.get(batch.parent);
    if (parent !== undefined) return withBatch(closed, batch.parent, { ...parent, items: [...parent.items, { batch }] });
  }
  return applyBatch(closed, batch, now, false);
}

const MAX_BATCH_DEPTH = 8;

/** How many open batches `ref` is inside of, itself included; stops counting at MAX_BATCH_DEPTH. */
function batchDepth(state: ClientState, ref: string): number {
  let depth = 0;
  for (let current: string | undefined = ref; current !== undefined && depth < MAX_BATCH_DEPTH; depth++) {
    const open = state.batches.get(current);
    if (open === undefined) break;
    current = open.parent;
  }
  return depth;
}

function applyBatch(state: ClientState, batch: OpenBatch, now: number, historical: boolean): ClientState {
  const type = batch.type.toLowerCase();
  if (type === 'draft/multiline' || type === 'multiline') return applyMultiline(state, batch, now, historical);
  const inHistory = historical || type === 'chathistory' || type === 'draft/chathistory';
  if (type === 'chathistory' || type === 'draft/chathistory') return applyHistory(state, batch, now);
  let next = state;
  for (const item of batch.items) next = applyItem(next, item, now, inHistory);
  return next;
}

function applyItem(state: ClientState, item: BatchItem, now: number, historical: boolean): ClientState {
  return 'line' in item ? applyLine(state, item.line, now, historical) : applyBatch(state, item.batch, now, historical);
}

/** A chathistory batch: its messages are merged into the buffer in one step (they may be older than what is shown). */
function applyHistory(state: ClientState, batch: OpenBatch, now: number): ClientState {
  const target = batch.params[0] ?? '';
  let next = state;
  const collected: ChatMessage[] = [];
  let bufferName = target;
  const flush = (): void => {
    if (collected.length > 0) next = addMessages(next, bufferName, kindOfName(next, bufferName), collected.splice(0), true);
  };
  const collect = (built: { state: ClientState; bufferName: string; message: ChatMessage }): void => {
    next = built.state;
    // A conversation's history may hold whispers, which go to their rooms: each run of one buffer is added to it.
    if (bufferKey(next, built.bufferName) !== bufferKey(next, bufferName)) flush();
    bufferName = built.bufferName;
    collected.push(built.message);
  };
  for (const item of batch.items) {
    if ('batch' in item) {
      const inner = item.batch.type.toLowerCase();
      if (inner === 'draft/multiline' || inner === 'multiline') {
        const combined = multilineMessage(next, item.batch, now);
        if (combined !== undefined) collect(combined);
      }
      continue;
    }
    const line = item.line;
    const command = line.command.toUpperCase();
    if (command === 'PRIVMSG' || command === 'NOTICE') {
      const built = chatMessage(next, line, now);
      if (built !== undefined) collect(built);
    } else if (command === 'TAGMSG' || command === 'REDACT') {
      flush();
      next = applyLine(next, line, now, true);
    } else {
      const event = eventMessage(next, line, now, target);
      if (event !== undefined) collect(event);
    }
  }
  flush();
  return next;
}

function applyMultiline(state: ClientState, batch: OpenBatch, now: number, historical: boolean): ClientState {
  const combined = multilineMessage(state, batch, now);
  if (combined === undefined) return state;
  const next = addMessages(combined.state, combined.bufferName, kindOfName(combined.state, combined.bufferName), [combined.message], historical);
  return historical ? next : stopTyping(next, combined.bufferName, combined.message.from);
}

/** draft/multiline: the lines joined by newlines, except where draft/multiline-concat says to join them directly. */
function multilineMessage(state: ClientState, batch: OpenBatch, now: number): { state: ClientState; bufferName: string; message: ChatMessage } | undefined {
  let text = '';
  let first: IrcMessage | undefined;
  for (const item of batch.items) {
    if (!('line' in item)) continue;
    const line = item.line;
    if (first === undefined) first = line;
    else if (!line.tags?.has('draft/multiline-concat')) text += '\n';
    text += line.params[1] ?? '';
  }
  if (first === undefined) return undefined;
  // The batch's own tags (msgid, time, account, +draft/reply) describe the whole message.
  const tags = new Map(first.tags ?? []);
  for (const [key, value] of batch.tags ?? []) if (key !== 'batch') tags.set(key, value);
  return chatMessage(state, { ...first, tags, params: [batch.params[0] ?? first.params[0] ?? '', text] }, now);
}

function applyLine(state: ClientState, message: IrcMessage, now: number, historical: boolean): ClientState {
  const command = message.command.toUpperCase();
  if (historical && command !== 'PRIVMSG' && command !== 'NOTICE' && command !== 'TAGMSG' && command !== 'REDACT') {
    const event = eventMessage(state, message, now);
    return event === undefined ? state : addMessages(event.state, event.bufferName, 'room', [event.message], true);
  }
  switch (command) {
    case 'PRIVMSG':
    case 'NOTICE': {
      const built = chatMessage(state, message, now);
      if (built === undefined) return state;
      const next = addMessages(built.state, built.bufferName, kindOfName(built.state, built.bufferName), [built.message], historical);
      return historical ? next : stopTyping(next, built.bufferName, built.message.from);
    }
    case 'TAGMSG':
      return applyTagmsg(state, message, now, historical);
    case 'REDACT':
      return applyRedact(state, message);
    case 'JOIN':
      return applyJoin(state, message, now);
    case 'PART':
      return applyPart(state, message, now);
    case 'KICK':
      return applyKick(state, message, now);
    case 'QUIT':
      return applyQuit(state, message, now);
    case 'NICK':
      return applyNick(state, message, now);
    case 'MODE':
      return applyMode(state, message, now);
    case 'TOPIC':
      return applyTopic(state, message, now);
    case 'AWAY':
      return updateMember(state, nickOf(message.source), (member) => ({ ...member, away: message.params.length > 0 && message.params[0] !== '' }));
    case 'ACCOUNT': {
      const account = message.params[0];
      const next = updateMember(state, nickOf(message.source), (member) => withOptional(member, 'account', account === '*' ? undefined : account));
      return sameNick(state, nickOf(message.source)) ? withOptionalState(next, 'account', account === '*' ? undefined : account) : next;
    }
    case 'CHGHOST':
      return updateMember(state, nickOf(message.source), (member) => ({ ...member, user: message.params[0] ?? '', host: message.params[1] ?? '' }));
    case 'MARKREAD':
      return applyMarkread(state, message);
    case 'INVITE':
      return note(state, undefined, `${nickOf(message.source)} invites you to ${message.params[1] ?? ''}`, 'info', timeOf(message, now));
    case 'CAP':
      return applyCap(state, message);
    case 'ERROR':
      return note(state, SERVER_BUFFER, message.params[0] ?? 'Connection closed', 'error', now);
    case 'VIEWONCE':
      return applyViewOnce(state, message);
    case 'FAIL':
    case 'WARN':
    case 'NOTE':
      return applyStandardReply(state, message, command, now);
    case 'PING':
    case 'PONG':
    case 'AUTHENTICATE':
      return state;
    default:
      if (/^\d{3}$/.test(command)) return applyNumeric(state, message, command, now);
      return state;
  }
}

// --- messages ------------------------------------------------------------------------------------------------------

function nickOf(source: string | undefined): string {
  if (source === undefined) return '';
  const bang = source.indexOf('!');
  return bang === -1 ? source : source.slice(0, bang);
}

function isServerSource(source: string | undefined): boolean {
  return source === undefined || !source.includes('!');
}

function sameNick(state: ClientState, nick: string): boolean {
  const fold = foldOf(state);
  return fold(nick) === fold(state.nick);
}

export function timeOf(message: IrcMessage, now: number): number {
  const time = message.tags?.get('time');
  if (time === undefined) return now;
  const parsed = Date.parse(time);
  return Number.isNaN(parsed) ? now : parsed;
}

function nextLocalId(state: ClientState): { state: ClientState; id: string } {
  const localSeq = state.localSeq + 1;
  return { state: { ...state, localSeq }, id: `local:${localSeq}` };
}

/** The target without STATUSMSG prefixes ("@#room" -> "#room"). */
function stripStatusPrefix(state: ClientState, target: string): string {
  const statusPrefixes = state.isupport.get('STATUSMSG') ?? '@+';
  let index = 0;
  while (index < target.length && statusPrefixes.includes(target[index] ?? '')) index++;
  return index > 0 && isRoomName(state, target.slice(index)) ? target.slice(index) : target;
}

/** Mentions: the user's nick as a whole word, in any case. */
export function mentions(state: ClientState, text: string): boolean {
  const nick = state.nick;
  if (nick === '') return false;
  const fold = foldOf(state);
  const haystack = fold(text);
  const needle = fold(nick);
  let from = 0;
  for (;;) {
    const at = haystack.indexOf(needle, from);
    if (at === -1) return false;
    const before = at === 0 ? '' : haystack[at - 1] ?? '';
    const after = haystack[at + needle.length] ?? '';
    if (!isNickChar(before) && !isNickChar(after)) return true;
    from = at + 1;
  }
}

function isNickChar(char: string): boolean {
  return char !== '' && /[\p{L}\p{N}_\-[\]\\^{}|`]/u.test(char);
}

function kindOfName(state: ClientState, name: string): BufferKind {
  if (name === SERVER_BUFFER) return 'server';
  return isRoomName(state, name) ? 'room' : 'dm';
}

/** A PRIVMSG or NOTICE as a chat message, and the buffer it belongs in. */
function chatMessage(state: ClientState, message: IrcMessage, now: number): { state: ClientState; bufferName: string; message: ChatMessage } | undefined {
  const [rawTarget = '', rawText = ''] = message.params;
  const command = message.command.toUpperCase();
  const from = nickOf(message.source);
  const self = sameNick(state, from) && !isServerSource(message.source);
  const target = stripStatusPrefix(state, rawTarget);
  let kind: MessageKind = command === 'NOTICE' ? 'notice' : 'privmsg';
  let text = rawText;
  if (text.startsWith('\u0001')) {
    const body = text.slice(1, text.endsWith('\u0001') ? -1 : undefined);
    const space = body.indexOf(' ');
    const ctcp = (space === -1 ? body : body.slice(0, space)).toUpperCase();
    // Only ACTION is shown; other CTCP queries (VERSION, PING) are not chat.
    if (ctcp !== 'ACTION') return undefined;
    kind = 'action';
    text = space === -1 ? '' : body.slice(space + 1);
  }
  let bufferName: string;
  let whisper: ChatMessage['whisper'];
  const context = channelContext(message);
  if (isRoomName(state, target)) bufferName = target;
  else if (isServerSource(message.source) || state.status !== 'connected' || target === '*') bufferName = SERVER_BUFFER;
  else if (context !== undefined && isRoomName(state, context)) {
    // A whisper is shown in the room it was said in; a room this client does not have (history of one it left)
    // would only be an empty shell, so then it stays in the conversation, still marked.
    const other = self ? target : from;
    const room = state.buffers.get(bufferKey(state, context));
    whisper = { with: other, room: room?.name ?? context };
    bufferName = room?.kind === 'room' ? room.name : other;
  } else if (self) bufferName = target;
  else if (command === 'NOTICE' && !state.buffers.has(bufferKey(state, from))) bufferName = SERVER_BUFFER;
  else bufferName = from;
  const isDirect = kindOfName(state, bufferName) === 'dm';
  const next = message.tags?.get('msgid') === undefined ? nextLocalId(state) : { state, id: message.tags.get('msgid') ?? '' };
  const replyTo = message.tags?.get('+draft/reply') ?? message.tags?.get('+reply');
  const account = message.tags?.get('account');
  // A view-once message's text is the server's placeholder, never shown (its content is fetched on demand).
  const viewOnce = message.tags?.has(VIEW_ONCE) === true || message.tags?.has(`+${VIEW_ONCE}`) === true;
  if (viewOnce) text = '';
  const chat: ChatMessage = {
    id: next.id,
    time: timeOf(message, now),
    kind,
    from: isServerSource(message.source) ? message.source ?? state.serverName ?? '' : from,
    text,
    self,
    // A whisper is addressed to this user alone, as a direct message is.
    highlight: !self && (isDirect || whisper !== undefined || mentions(state, text)),
    ...(replyTo === undefined ? {} : { replyTo }),
    ...(whisper === undefined ? {} : { whisper }),
    ...(account === undefined ? {} : { account }),
    ...(message.tags?.has('bot') === true ? { bot: true } : {}),
    ...(viewOnce ? { viewOnce: { state: self ? 'sent' : 'sealed' } } : {}),
  };
  return { state: next.state, bufferName, message: chat };
}

/** The room a private message is said in (IRCv3 draft channel-context, or its older spelling): a whisper. */
function channelContext(message: IrcMessage): string | undefined {
  return message.tags?.get('+channel-context') ?? message.tags?.get('+draft/channel-context');
}

/** A room event (JOIN, PART, ...) as a line of the room, for history playback and for the live view. */
function eventMessage(state: ClientState, message: IrcMessage, now: number, roomOfPlayback = ''): { state: ClientState; bufferName: string; message: ChatMessage } | undefined {
  const command = message.command.toUpperCase();
  const from = nickOf(message.source);
  let kind: MessageKind;
  let text: string;
  let room = message.params[0] ?? '';
  switch (command) {
    case 'JOIN':
      kind = 'join';
      text = `${from} joined`;
      break;
    case 'PART':
      kind = 'part';
      text = `${from} left${message.params[1] ? ` (${message.params[1]})` : ''}`;
      break;
    case 'KICK':
      kind = 'kick';
      text = `${from} removed ${message.params[1] ?? ''}${message.params[2] ? ` (${message.params[2]})` : ''}`;
      break;
    case 'TOPIC':
      kind = 'topic';
      text = message.params[1] ? `${from} set the topic: ${message.params[1]}` : `${from} cleared the topic`;
      break;
    case 'MODE':
      kind = 'mode';
      text = `${from} set mode ${message.params.slice(1).join(' ')}`;
      break;
    case 'NICK':
      kind = 'nick';
      text = `${from} is now known as ${message.params[0] ?? ''}`;
      room = roomOfPlayback;
      break;
    case 'QUIT':
      kind = 'quit';
      text = `${from} quit${message.params[0] ? ` (${message.params[0]})` : ''}`;
      room = roomOfPlayback;
      break;
    default:
      return undefined;
  }
  if (room === '' || !isRoomName(state, room)) return undefined;
  const msgid = message.tags?.get('msgid');
  const next = msgid === undefined ? nextLocalId(state) : { state, id: msgid };
  return { state: next.state, bufferName: room, message: { id: next.id, time: timeOf(message, now), kind, from, text, self: sameNick(state, from), highlight: false } };
}

function note(state: ClientState, name: string | undefined, text: string, kind: 'info' | 'error', time: number): ClientState {
  return applyAction(state, { type: 'note', text, kind, time, ...(name === undefined ? {} : { name }) });
}

// --- buffers -------------------------------------------------------------------------------------------------------

function withBuffer(state: ClientState, key: string, buffer: ChatBuffer): ClientState {
  const buffers = new Map(state.buffers);
  buffers.set(key, buffer);
  return { ...state, buffers };
}

function withBatch(state: ClientState, ref: string, batch: OpenBatch): ClientState {
  const batches = new Map(state.batches);
  batches.set(ref, batch);
  return { ...state, batches };
}

function withOptional<T extends object, K extends keyof T>(value: T, key: K, field: T[K] | undefined): T {
  if (field !== undefined) return { ...value, [key]: field };
  // Optional fields are absent rather than undefined (exactOptionalPropertyTypes).
  return Object.fromEntries(Object.entries(value).filter(([name]) => name !== key)) as T;
}

function withOptionalState(state: ClientState, key: 'account', value: string | undefined): ClientState {
  return withOptional(state, key, value);
}

function ensureBuffer(state: ClientState, name: string, kind: BufferKind): ClientState {
  const key = bufferKey(state, name);
  const existing = state.buffers.get(key);
  if (existing !== undefined) return existing.name === name || kind === 'server' ? state : withBuffer(state, key, { ...existing, name });
  return withBuffer(state, key, emptyBuffer(name, kind));
}

/**
 * Merges messages into a buffer, in time order, dropping any whose msgid is already there (a resumed history overlaps
 * what was seen live). Counts unread and mentions for what is newer than the read marker and not looked at.
 */
function addMessages(state: ClientState, name: string, kind: BufferKind, incoming: readonly ChatMessage[], historical: boolean): ClientState {
  const withTarget = ensureBuffer(state, name, kind);
  const key = bufferKey(withTarget, name);
  const buffer = withTarget.buffers.get(key)!;
  const fresh = newMessages(buffer.messages, incoming);
  if (fresh.length === 0) return withTarget;
  let messages = mergeMessages(buffer.messages, fresh, buffer.loadingOlder);
  let unread = buffer.unread;
  let mentionCount = buffer.mentions;
  const countable = key !== withTarget.active;
  for (const message of fresh) {
    if (!countable || message.self || !isChat(message.kind)) continue;
    // History counts only when the read marker says it is unread; live messages count unless the marker says read.
    const marker = buffer.readMarker;
    const unreadByMarker = marker === undefined ? !historical : message.time > marker;
    if (!unreadByMarker) continue;
    unread++;
    if (message.highlight) mentionCount++;
  }
  let historyComplete = buffer.historyComplete;
  if (messages.length > MAX_MESSAGES_PER_BUFFER) {
    messages = messages.slice(messages.length - MAX_MESSAGES_PER_BUFFER);
    historyComplete = false;
  }
  const joined = buffer.kind === 'dm' ? true : buffer.joined;
  return withBuffer(withTarget, key, { ...buffer, messages, unread, mentions: mentionCount, historyComplete, joined });
}

function isChat(kind: MessageKind): boolean {
  return kind === 'privmsg' || kind === 'notice' || kind === 'action';
}

/** The incoming messages not already in the buffer (a resumed history overlaps what was seen live). */
function newMessages(messages: readonly ChatMessage[], incoming: readonly ChatMessage[]): ChatMessage[] {
  if (incoming.length === 1) {
    const [message] = incoming as [ChatMessage];
    // The common case, one live message: only messages at the same time can share its msgid.
    for (let index = messages.length - 1; index >= 0 && messages[index]!.time >= message.time; index--) {
      if (messages[index]!.id === message.id) return [];
    }
    return [message];
  }
  const known = new Set(messages.map((message) => message.id));
  return incoming.filter((message) => {
    if (known.has(message.id)) return false;
    known.add(message.id);
    return true;
  });
}

/**
 * Merges time-ordered `fresh` into time-ordered `messages`. At equal times (several messages in one millisecond) the
 * server's order is kept: older history goes before what is shown, everything else after.
 */
function mergeMessages(messages: readonly ChatMessage[], fresh: readonly ChatMessage[], older: boolean): readonly ChatMessage[] {
  const first = messages[0];
  const last = messages.at(-1);
  if (last === undefined) return fresh;
  if (older ? fresh.at(-1)!.time <= first!.time : fresh.at(-1)!.time < first!.time) return [...fresh, ...messages];
  if (fresh[0]!.time >= last.time) return [...messages, ...fresh];
  const merged: ChatMessage[] = [];
  let index = 0;
  for (const message of fresh) {
    while (index < messages.length && (older ? messages[index]!.time < message.time : messages[index]!.time <= message.time)) merged.push(messages[index++]!);
    merged.push(message);
  }
  while (index < messages.length) merged.push(messages[index++]!);
  return merged;
}

function replaceMessage(state: ClientState, msgid: string, preferred: string | undefined, change: (message: ChatMessage) => ChatMessage): ClientState {
  const keys = preferred === undefined ? [...state.buffers.keys()] : [preferred, ...[...state.buffers.keys()].filter((key) => key !== preferred)];
  for (const key of keys) {
    const buffer = state.buffers.get(key);
    if (buffer === undefined) continue;
    const index = buffer.messages.findLastIndex((message) => message.id === msgid);
    if (index === -1) continue;
    const messages = [...buffer.messages];
    messages[index] = change(buffer.messages[index]!);
    return withBuffer(state, key, { ...buffer, messages });
  }
  return state;
}

// --- members -------------------------------------------------------------------------------------------------------

function updateMember(state: ClientState, nick: string, change: (member: Member) => Member): ClientState {
  const folded = foldOf(state)(nick);
  let next = state;
  for (const [key, buffer] of state.buffers) {
    const member = buffer.members.get(folded);
    if (member === undefined) continue;
    const members = new Map(buffer.members);
    members.set(folded, change(member));
    next = withBuffer(next, key, { ...buffer, members });
  }
  return next;
}

function parseUserhost(source: string): { nick: string; user?: string; host?: string } {
  const bang = source.indexOf('!');
  const at = source.indexOf('@', bang + 1);
  if (bang === -1) return { nick: source };
  return at === -1 ? { nick: source.slice(0, bang), user: source.slice(bang + 1) } : { nick: source.slice(0, bang), user: source.slice(bang + 1, at), host: source.slice(at + 1) };
}

function applyJoin(state: ClientState, message: IrcMessage, now: number): ClientState {
  const room = message.params[0] ?? '';
  const who = parseUserhost(message.source ?? '');
  const account = message.params.length >= 3 && message.params[1] !== '*' ? message.params[1] : undefined;
  let next = ensureBuffer(state, room, 'room');
  const key = bufferKey(next, room);
  const buffer = next.buffers.get(key)!;
  const self = sameNick(next, who.nick);
  const members = new Map(self ? [] : buffer.members);
  members.set(foldOf(next)(who.nick), {
    nick: who.nick,
    prefixes: '',
    ...(account === undefined ? {} : { account }),
    ...(who.user === undefined ? {} : { user: who.user }),
    ...(who.host === undefined ? {} : { host: who.host }),
  });
  next = withBuffer(next, key, { ...buffer, name: self ? room : buffer.name, joined: self ? true : buffer.joined, members });
  // Our own JOIN while the server buffer is shown (one we did not ask for, e.g. the server's autojoin, or the first
  // room after signing in): the room becomes the active buffer, so a guest lands in the room, not the server log.
  if (self && next.active === SERVER_BUFFER) next = { ...next, active: key };
  const event = eventMessage(next, message, now);
  return event === undefined ? next : addMessages(event.state, room, 'room', [event.message], false);
}

function removeMember(state: ClientState, room: string, nick: string): ClientState {
  const key = bufferKey(state, room);
  const buffer = state.buffers.get(key);
  if (buffer === undefined) return state;
  if (sameNick(state, nick)) return withBuffer(state, key, { ...buffer, joined: false, members: new Map(), typing: new Map() });
  const members = new Map(buffer.members);
  members.delete(foldOf(state)(nick));
  return withBuffer(state, key, { ...buffer, members });
}

function applyPart(state: ClientState, message: IrcMessage, now: number): ClientState {
  const from = nickOf(message.source);
  let next = state;
  for (const room of (message.params[0] ?? '').split(',')) {
    const event = eventMessage(next, { ...message, params: [room, ...message.params.slice(1)] }, now);
    if (event !== undefined && next.buffers.has(bufferKey(next, room))) next = addMessages(event.state, room, 'room', [event.message], false);
    next = removeMember(next, room, from);
  }
  return next;
}

function applyKick(state: ClientState, message: IrcMessage, now: number): ClientState {
  const [room = '', kicked = ''] = message.params;
  const event = eventMessage(state, message, now);
  const next = event === undefined || !state.buffers.has(bufferKey(state, room)) ? state : addMessages(event.state, room, 'room', [event.message], false);
  return removeMember(next, room, kicked);
}

function applyQuit(state: ClientState, message: IrcMessage, now: number): ClientState {
  const from = nickOf(message.source);
  const folded = foldOf(state)(from);
  let next = state;
  for (const [key, buffer] of state.buffers) {
    if (!buffer.members.has(folded)) continue;
    const event = eventMessage(next, message, now, buffer.name);
    if (event !== undefined) next = addMessages(event.state, buffer.name, 'room', [event.message], false);
    const current = next.buffers.get(key)!;
    const members = new Map(current.members);
    members.delete(folded);
    next = withBuffer(next, key, { ...current, members });
  }
  return next;
}

function applyNick(state: ClientState, message: IrcMessage, now: number): ClientState {
  const from = nickOf(message.source);
  const to = message.params[0] ?? '';
  const fold = foldOf(state);
  const oldKey = fold(from);
  const newKey = fold(to);
  const self = sameNick(state, from);
  let next: ClientState = self ? { ...state, nick: to } : state;
  const time = timeOf(message, now);
  for (const [key, buffer] of state.buffers) {
    const member = buffer.members.get(oldKey);
    if (member === undefined) continue;
    const members = new Map(buffer.members);
    members.delete(oldKey);
    members.set(newKey, { ...member, nick: to });
    next = withBuffer(next, key, { ...buffer, members });
    const local = nextLocalId(next);
    next = addMessages(local.state, buffer.name, 'room', [{ id: message.tags?.get('msgid') ?? local.id, time, kind: 'nick', from, text: `${from} is now known as ${to}`, self, highlight: false }], false);
  }
  // A conversation follows the nick it is with.
  const conversation = next.buffers.get(oldKey);
  if (!self && conversation?.kind === 'dm' && oldKey !== newKey && !next.buffers.has(newKey)) {
    const buffers = new Map(next.buffers);
    buffers.delete(oldKey);
    buffers.set(newKey, { ...conversation, name: to });
    next = { ...next, buffers, active: next.active === oldKey ? newKey : next.active };
  } else if (!self && conversation?.kind === 'dm') {
    next = withBuffer(next, oldKey, { ...conversation, name: oldKey === newKey ? to : conversation.name });
  }
  return next;
}

/** Which modes take an argument (Modern IRC, CHANMODES and PREFIX). */
function modeTakesArgument(state: ClientState, mode: string, adding: boolean): boolean {
  if (prefixTable(state).modes.includes(mode)) return true;
  const [listModes = 'beI', alwaysArg = 'k', setArg = 'l'] = (state.isupport.get('CHANMODES') ?? 'beI,k,l,imnpst').split(',');
  if (listModes.includes(mode) || alwaysArg.includes(mode)) return true;
  return adding && setArg.includes(mode);
}

function applyMode(state: ClientState, message: IrcMessage, now: number): ClientState {
  const [target = '', modestring = '', ...args] = message.params;
  if (!isRoomName(state, target)) return state;
  const key = bufferKey(state, target);
  const buffer = state.buffers.get(key);
  if (buffer === undefined) return state;
  const { modes: prefixModes, symbols } = prefixTable(state);
  const fold = foldOf(state);
  const members = new Map(buffer.members);
  const flags = new Set((buffer.modes ?? '+').slice(1).split(''));
  let adding = true;
  let argIndex = 0;
  for (const mode of modestring) {
    if (mode === '+' || mode === '-') {
      adding = mode === '+';
      continue;
    }
    const arg = modeTakesArgument(state, mode, adding) ? args[argIndex++] : undefined;
    const prefixIndex = prefixModes.indexOf(mode);
    if (prefixIndex !== -1 && arg !== undefined) {
      const member = members.get(fold(arg));
      if (member === undefined) continue;
      const symbol = symbols[prefixIndex] ?? '';
      const held = new Set(member.prefixes.split('').filter((char) => char !== ''));
      if (adding) held.add(symbol);
      else held.delete(symbol);
      const prefixes = symbols.split('').filter((char) => held.has(char)).join('');
      members.set(fold(arg), { ...member, prefixes });
    } else if (arg === undefined || mode === 'l' || mode === 'k') {
      if (adding) flags.add(mode);
      else flags.delete(mode);
    }
  }
  const next = withBuffer(state, key, { ...buffer, members, modes: `+${[...flags].sort().join('')}` });
  const event = eventMessage(next, message, now);
  return event === undefined ? next : addMessages(event.state, target, 'room', [event.message], false);
}

function applyTopic(state: ClientState, message: IrcMessage, now: number): ClientState {
  const [room = '', topic = ''] = message.params;
  const key = bufferKey(state, room);
  const buffer = state.buffers.get(key);
  if (buffer === undefined) return state;
  const next = withBuffer(state, key, { ...withOptional(buffer, 'topic', topic === '' ? undefined : topic), topicSetBy: nickOf(message.source) });
  const event = eventMessage(next, message, now);
  return event === undefined ? next : addMessages(event.state, room, 'room', [event.message], false);
}

// --- tags: typing, reactions, redaction, read markers --------------------------------------------------------------

function applyTagmsg(state: ClientState, message: IrcMessage, now: number, historical: boolean): ClientState {
  const tags = message.tags;
  if (tags === undefined) return state;
  const from = nickOf(message.source);
  const self = sameNick(state, from);
  const target = stripStatusPrefix(state, message.params[0] ?? '');
  // A whisper's TAGMSG (typing in a whisper) belongs to its room, as the whisper does.
  const context = channelContext(message);
  const room = isRoomName(state, target) || context === undefined ? undefined : state.buffers.get(bufferKey(state, context));
  const bufferName = isRoomName(state, target) ? target : room?.kind === 'room' ? room.name : self ? target : from;
  const key = bufferKey(state, bufferName);
  const typing = tags.get('+typing');
  if (typing !== undefined && !historical && !self) {
    const buffer = state.buffers.get(key);
    if (buffer === undefined) return state;
    const typists = new Map(buffer.typing);
    const folded = foldOf(state)(from);
    if (typing === 'active' || typing === 'paused') typists.set(folded, { state: typing, at: timeOf(message, now) });
    else typists.delete(folded);
    return withBuffer(state, key, { ...buffer, typing: typists });
  }
  const parent = tags.get('+draft/reply') ?? tags.get('+reply');
  const react = tags.get('+draft/react') ?? tags.get('+react');
  const unreact = tags.get('+draft/unreact') ?? tags.get('+unreact');
  if (parent === undefined || (react === undefined && unreact === undefined)) return state;
  return replaceMessage(state, parent, key, (original) => {
    const reactions = new Map(Object.entries(original.reactions ?? {}));
    if (react !== undefined) {
      const nicks = reactions.get(react) ?? [];
      if (!nicks.includes(from)) reactions.set(react, [...nicks, from]);
    }
    if (unreact !== undefined) {
      const nicks = (reactions.get(unreact) ?? []).filter((nick) => nick !== from);
      if (nicks.length === 0) reactions.delete(unreact);
      else reactions.set(unreact, nicks);
    }
    return { ...original, reactions: Object.fromEntries(reactions) };
  });
}

/** A message ends its sender's typing (IRCv3 typing: "done" is implied by sending). */
function stopTyping(state: ClientState, bufferName: string, nick: string): ClientState {
  const key = bufferKey(state, bufferName);
  const buffer = state.buffers.get(key);
  const folded = foldOf(state)(nick);
  if (buffer?.typing.has(folded) !== true) return state;
  const typing = new Map(buffer.typing);
  typing.delete(folded);
  return withBuffer(state, key, { ...buffer, typing });
}

function applyRedact(state: ClientState, message: IrcMessage): ClientState {
  const [target = '', msgid = ''] = message.params;
  const from = nickOf(message.source);
  const bufferName = isRoomName(state, target) ? target : sameNick(state, from) ? target : from;
  return replaceMessage(state, msgid, bufferKey(state, bufferName), (original) => {
    const { reactions: _reactions, ...rest } = original;
    return { ...rest, text: '', redacted: true };
  });
}

/** VIEWONCE OPENED (another device opened it) and VIEWONCE CONTENT (this one did): the message is opened. */
function applyViewOnce(state: ClientState, message: IrcMessage): ClientState {
  const [sub = '', msgid = ''] = message.params;
  const upper = sub.toUpperCase();
  return upper === 'OPENED' || upper === 'CONTENT' ? markViewOnce(state, msgid, 'opened') : state;
}

function markViewOnce(state: ClientState, msgid: string, to: ViewOnceState, name?: string): ClientState {
  if (msgid === '') return state;
  return replaceMessage(state, msgid, name === undefined ? undefined : bufferKey(state, name), (original) =>
    // Own messages stay "sent"; one opened here stays "opened" when the server has since forgotten it.
    original.viewOnce === undefined || original.viewOnce.state === 'sent' || original.viewOnce.state === to || (original.viewOnce.state === 'opened' && to === 'gone') ? original : { ...original, viewOnce: { state: to } },
  );
}

function applyMarkread(state: ClientState, message: IrcMessage): ClientState {
  const [target = '', reference = ''] = message.params;
  if (!reference.startsWith('timestamp=')) return state;
  const marker = Date.parse(reference.slice('timestamp='.length));
  if (Number.isNaN(marker)) return state;
  const key = bufferKey(state, target);
  const existing = state.buffers.get(key);
  const next = existing === undefined ? ensureBuffer(state, target, kindOfName(state, target)) : state;
  const buffer = next.buffers.get(key)!;
  if (buffer.readMarker !== undefined && buffer.readMarker >= marker) return next;
  let unread = 0;
  let mentionCount = 0;
  for (const chat of buffer.messages) {
    if (chat.self || !isChat(chat.kind) || chat.time <= marker) continue;
    unread++;
    if (chat.highlight) mentionCount++;
  }
  if (key === next.active) {
    unread = 0;
    mentionCount = 0;
  }
  return withBuffer(next, key, { ...buffer, readMarker: marker, unread, mentions: mentionCount });
}

// --- registration, numerics, capabilities --------------------------------------------------------------------------

function applyCap(state: ClientState, message: IrcMessage): ClientState {
  const [, subcommand = '', ...rest] = message.params;
  const list = (rest[rest.length - 1] ?? '').split(' ').filter((token) => token !== '');
  const caps = new Set(state.caps);
  switch (subcommand.toUpperCase()) {
    case 'ACK':
      for (const token of list) {
        if (token.startsWith('-')) caps.delete(token.slice(1));
        else caps.add(token.split('=')[0] ?? token);
      }
      return { ...state, caps };
    case 'DEL':
      for (const token of list) caps.delete(token.split('=')[0] ?? token);
      return { ...state, caps };
    default:
      return state;
  }
}

function applyStandardReply(state: ClientState, message: IrcMessage, command: string, now: number): ClientState {
  // A view-once message that cannot be opened (any more): the message shows it, no note needed.
  const [failed = '', code = '', msgid = ''] = message.params;
  if (command === 'FAIL' && failed.toUpperCase() === 'VIEWONCE' && (code === 'ALREADY_OPENED' || code === 'NOT_FOUND')) {
    return markViewOnce(state, msgid, code === 'ALREADY_OPENED' ? 'opened' : 'gone');
  }
  const description = message.params[message.params.length - 1] ?? '';
  const text = `${message.params[0] ?? ''}: ${description}`;
  const next = state.status === 'connected' ? state : { ...state, lastError: description };
  return note(next, undefined, text, command === 'FAIL' ? 'error' : 'info', timeOf(message, now));
}

const WHOIS_NUMERICS = new Set(['301', '311', '312', '313', '317', '319', '320', '330', '335', '338', '378', '379', '671', '276']);
const SILENT_NUMERICS = new Set(['002', '003', '004', '250', '251', '252', '253', '254', '255', '265', '266', '315', '318', '321', '329', '352', '354', '369', '375', '376', '730', '731', '732', '733', '903', '908']);

function applyNumeric(state: ClientState, message: IrcMessage, numeric: string, now: number): ClientState {
  const params = message.params;
  const time = timeOf(message, now);
  switch (numeric) {
    case '001':
      return { ...state, nick: params[0] ?? state.nick, status: 'connected', ...(message.source === undefined ? {} : { serverName: message.source }) };
    case '005':
      return applyIsupport(state, params.slice(1, -1));
    case '221':
      return state;
    case '305':
    case '306':
      return note({ ...state, away: numeric === '306' }, SERVER_BUFFER, params[1] ?? '', 'info', time);
    case '324': {
      const key = bufferKey(state, params[1] ?? '');
      const buffer = state.buffers.get(key);
      return buffer === undefined ? state : withBuffer(state, key, { ...buffer, modes: params[2] ?? '+' });
    }
    case '331':
    case '332': {
      const key = bufferKey(state, params[1] ?? '');
      const buffer = state.buffers.get(key);
      if (buffer === undefined) return state;
      return withBuffer(state, key, withOptional(buffer, 'topic', numeric === '332' ? params[2] : undefined));
    }
    case '333': {
      const key = bufferKey(state, params[1] ?? '');
      const buffer = state.buffers.get(key);
      return buffer === undefined ? state : withBuffer(state, key, { ...buffer, topicSetBy: nickOf(params[2]) });
    }
    case NAMES_REPLY:
      return applyNames(state, params[2] ?? '', (params[3] ?? '').split(' '));
    case END_OF_NAMES: {
      const namesPending = new Set(state.namesPending);
      namesPending.delete(bufferKey(state, params[1] ?? ''));
      return { ...state, namesPending };
    }
    case '322': {
      const directory = state.directory ?? { entries: [], complete: false };
      const entry = { name: params[1] ?? '', users: Number(params[2] ?? 0), topic: params[3] ?? '' };
      return { ...state, directory: { entries: [...directory.entries, entry], complete: false } };
    }
    case '323':
      return { ...state, directory: { entries: state.directory?.entries ?? [], complete: true } };
    case '900':
      return { ...state, account: params[2] ?? '' };
    case '901': {
      const { account: _account, ...rest } = state;
      return rest;
    }
    case '372':
      return note(state, SERVER_BUFFER, params[1] ?? '', 'info', time);
    default:
      break;
  }
  if (SILENT_NUMERICS.has(numeric)) return state;
  const text = params.slice(1).join(' ');
  if (WHOIS_NUMERICS.has(numeric)) return note(state, undefined, text, 'info', time);
  const isError = numeric.startsWith('4') || numeric.startsWith('5') || numeric === '902' || numeric === '904' || numeric === '905' || numeric === '906';
  if (isError && state.status !== 'connected') return note({ ...state, lastError: params[params.length - 1] ?? text }, SERVER_BUFFER, text, 'error', time);
  // An error about a buffer we have goes to that buffer; others to the one being looked at.
  const about = params[1];
  const name = about !== undefined && state.buffers.has(bufferKey(state, about)) ? state.buffers.get(bufferKey(state, about))!.name : undefined;
  return note(state, isError ? name : SERVER_BUFFER, text, isError ? 'error' : 'info', time);
}

function applyIsupport(state: ClientState, tokens: readonly string[]): ClientState {
  const isupport = new Map(state.isupport);
  let casemapping: Casemapping = state.casemapping;
  for (const token of tokens) {
    if (token.startsWith('-')) {
      isupport.delete(token.slice(1));
      continue;
    }
    const equals = token.indexOf('=');
    const key = equals === -1 ? token : token.slice(0, equals);
    const value = equals === -1 ? '' : token.slice(equals + 1);
    isupport.set(key, value);
    if (key === 'CASEMAPPING') casemapping = value === 'ascii' ? 'ascii' : 'rfc1459';
  }
  // ISUPPORT values escape spaces and the like as \xHH (Modern IRC, "RPL_ISUPPORT").
  const network = isupport.get('NETWORK')?.replace(/\\x([0-9A-Fa-f]{2})/g, (_match, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  return { ...state, isupport, casemapping, ...(network === undefined || network === '' ? {} : { networkName: network }) };
}

function applyNames(state: ClientState, room: string, entries: readonly string[]): ClientState {
  const key = bufferKey(state, room);
  const buffer = state.buffers.get(key);
  if (buffer === undefined) return state;
  const { symbols } = prefixTable(state);
  const fold = foldOf(state);
  const first = !state.namesPending.has(key);
  const members = new Map(first ? [] : buffer.members);
  for (const entry of entries) {
    if (entry === '') continue;
    let index = 0;
    while (index < entry.length && symbols.includes(entry[index] ?? '')) index++;
    const who = parseUserhost(entry.slice(index));
    const previous = buffer.members.get(fold(who.nick));
    members.set(fold(who.nick), {
      ...(previous ?? {}),
      nick: who.nick,
      prefixes: entry.slice(0, index),
      ...(who.user === undefined ? {} : { user: who.user }),
      ...(who.host === undefined ? {} : { host: who.host }),
    });
  }
  const next = withBuffer(state, key, { ...buffer, members });
  if (!first) return next;
  const namesPending = new Set(state.namesPending);
  namesPending.add(key);
  return { ...next, namesPending };
}
