/**
 * The client engine (ARCHITECTURE.md, "client/"): one connection to a Natter (or any IRCv3) server with capability
 * negotiation, SASL or account registration, label-matched requests, and a reconnect that neither loses nor doubles a
 * message. All state lives in the pure reducer; this class owns only the connection and its timers.
 *
 * Resume after a drop: every buffer remembers its last msgid; after reconnecting, rooms are joined again and each
 * asks CHATHISTORY AFTER that msgid (the reducer drops what it already has), direct conversations likewise plus
 * CHATHISTORY TARGETS for new ones. A message the user sent whose echo never came is looked for in that history: found,
 * it was delivered; not found, it is sent again.
 */
import { encodeBase64 } from '../protocol/base64.js';
import { parseMessage, serializeMessage } from '../protocol/message.js';
import type { IrcMessage } from '../protocol/message.js';
import { applyAction, applyMessage } from './reducer.js';
import type { LocalAction } from './reducer.js';
import { SERVER_BUFFER, VIEW_ONCE, bufferKey, foldOf, initialState, isRoomName } from './state.js';
import type { ChatBuffer, ClientState, Outgoing } from './state.js';
import type { Transport, TransportFactory } from './transport.js';

export interface Credentials {
  readonly account: string;
  readonly password: string;
}

export interface ChatClientOptions {
  readonly transport: TransportFactory;
  readonly nick: string;
  readonly realname?: string;
  /** Log in with SASL PLAIN. */
  readonly login?: Credentials;
  /** Create this account while connecting (draft/account-registration); reconnects then log in with it. */
  readonly register?: Credentials & { readonly email?: string };
  /** Rooms joined once connected (besides those the server joins this account to). */
  readonly autojoin?: readonly string[];
  /** false: never reconnect. Otherwise exponential backoff with jitter between these bounds. */
  readonly reconnect?: false | { readonly initialDelayMs?: number; readonly maxDelayMs?: number };
  readonly historyPageSize?: number;
  readonly requestTimeoutMs?: number;
  /** Send a PING after this long without a line from the server; give up on the connection after as long again. */
  readonly keepaliveMs?: number;
  readonly now?: () => number;
}

/** The capabilities the engine asks for when offered (the rest of IRCv3 it does not need). */
export const WANTED_CAPS: readonly string[] = [
  'message-tags',
  'server-time',
  'echo-message',
  'batch',
  'labeled-response',
  'multi-prefix',
  'userhost-in-names',
  'extended-join',
  'away-notify',
  'account-notify',
  'account-tag',
  'chghost',
  'setname',
  'invite-notify',
  'cap-notify',
  'standard-replies',
  'draft/chathistory',
  'draft/read-marker',
  'draft/message-redaction',
  'draft/multiline',
  'natter.chat/view-once',
];

export class RequestError extends Error {
  constructor(
    message: string,
    readonly replies: readonly IrcMessage[] = [],
  ) {
    super(message);
    this.name = 'RequestError';
  }
}

interface PendingRequest {
  readonly resolve: (replies: IrcMessage[]) => void;
  readonly reject: (error: Error) => void;
  readonly replies: IrcMessage[];
  readonly timer: ReturnType<typeof setTimeout>;
}

interface ResumeMark {
  readonly id: string | undefined;
  readonly time: number;
}

type Listener = (state: ClientState) => void;

const DEFAULT_PAGE = 50;
/** A resume fetches at most this many pages per target; beyond that the gap is left for scroll-back. */
const MAX_RESUME_PAGES = 20;
/** Room for the ":nick!user@host PRIVMSG target :" a relay adds in front of the text, within 512 bytes. */
const LINE_OVERHEAD_BYTES = 140;
const TYPING_THROTTLE_MS = 3000;

const encoder = new TextEncoder();

export function utf8Length(text: string): number {
  return encoder.encode(text).length;
}

/** Splits text into pieces of at most `maxBytes` UTF-8 bytes, at a space when there is one, never inside a character. */
export function splitText(text: string, maxBytes: number): string[] {
  const pieces: string[] = [];
  let rest = text;
  while (utf8Length(rest) > maxBytes) {
    let cut = 0;
    let bytes = 0;
    for (const char of rest) {
      const size = utf8Length(char);
      if (bytes + size > maxBytes) break;
      bytes += size;
      cut += char.length;
    }
    // A space inside the piece (before `cut`), so the piece with it stays within maxBytes.
    const space = rest.lastIndexOf(' ', cut - 1);
    if (space > cut / 2) cut = space + 1;
    pieces.push(rest.slice(0, cut));
    rest = rest.slice(cut);
  }
  pieces.push(rest);
  return pieces;
}

export class ChatClient {
  private current: ClientState;
  private readonly listeners = new Set<Listener>();
  private readonly now: () => number;
  private transport: Transport | undefined;
  /** Bumped per connection, so events of a transport that was replaced are ignored. */
  private generation = 0;
  private closedByUser = false;
  /** A refused login or registration: reconnecting would only be refused again. */
  private fatal = false;
  private attempts = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private keepaliveTimer: ReturnType<typeof setTimeout> | undefined;
  private awaitingPong = false;
  private labelSeq = 0;
  private outSeq = 0;
  private readonly requests = new Map<string, PendingRequest>();
  /** Open batch reference -> the label of the request it answers. */
  private readonly batchLabels = new Map<string, string>();
  private offered = new Map<string, string>();
  private capRequestsOutstanding = 0;
  private credentials: Credentials | undefined;
  private registration: (Credentials & { readonly email?: string }) | undefined;
  private nickAttempts = 0;
  private readonly resumeMarks = new Map<string, ResumeMark>();
  private roomsToRejoin: string[] = [];
  private readonly typingSentAt = new Map<string, number>();
  private readonly loadingOlder = new Set<string>();
  /** Label of a sent message's request -> its outbox id. */
  private readonly outboxLabels = new Map<string, string>();
  /** Labels of notifications (typing) whose refusals are not worth showing: a typo'd nick is said once, by the message. */
  private readonly silentLabels = new Set<string>();

  constructor(private readonly options: ChatClientOptions) {
    this.current = initialState(options.nick);
    this.now = options.now ?? Date.now;
    this.credentials = options.login;
    this.registration = options.register;
    this.roomsToRejoin = [...(options.autojoin ?? [])];
  }

  get state(): ClientState {
    return this.current;
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Applies a local action (focus a buffer, open a conversation, a note) to the state. */
  act(action: LocalAction): void {
    this.update(applyAction(this.current, action));
  }

  start(): void {
    this.closedByUser = false;
    this.connect();
  }

  /** Ends the connection for good (no reconnect). */
  close(reason = 'Leaving'): void {
    this.closedByUser = true;
    if (this.reconnectTimer !== undefined) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    if (this.transport !== undefined) {
      this.transport.send(`QUIT :${reason}`);
      this.transport.close();
    }
  }

  /** Drops the connection as a network failure would (the reconnect logic then runs): for tests and "reconnect now". */
  dropConnection(): void {
    this.transport?.close();
  }

  get connected(): boolean {
    return this.current.status === 'connected';
  }

  hasCap(name: string): boolean {
    return this.current.caps.has(name);
  }

  // --- connection ----------------------------------------------------------------------------------------------------

  private connect(): void {
    const generation = ++this.generation;
    this.offered = new Map();
    this.capRequestsOutstanding = 0;
    this.nickAttempts = 0;
    this.update(applyAction(this.current, { type: 'status', status: this.attempts === 0 && this.resumeMarks.size === 0 ? 'connecting' : 'reconnecting' }));
    const live = (): boolean => generation === this.generation;
    this.transport = this.options.transport({
      open: () => {
        if (!live()) return;
        this.update(applyAction(this.current, { type: 'status', status: 'registering' }));
        this.send('CAP LS 302');
        this.send(`NICK ${this.options.nick}`);
        this.send(`USER ${usernameOf(this.options.nick)} 0 * :${this.options.realname ?? this.options.nick}`);
        this.armKeepalive();
      },
      line: (line) => {
        if (!live()) return;
        const message = parseMessage(line);
        if (message !== undefined) this.receive(message);
      },
      close: (reason) => {
        if (!live()) return;
        this.connectionLost(reason);
      },
    });
  }

  private connectionLost(reason: string): void {
    this.generation++;
    this.transport = undefined;
    if (this.keepaliveTimer !== undefined) clearTimeout(this.keepaliveTimer);
    for (const [label, request] of this.requests) {
      clearTimeout(request.timer);
      request.reject(new RequestError(`disconnected: ${reason}`));
      this.requests.delete(label);
    }
    this.batchLabels.clear();
    this.silentLabels.clear();
    // Remember where each buffer was, unless an earlier drop's resume is still owed for it.
    for (const [key, buffer] of this.current.buffers) {
      if (key === SERVER_BUFFER || this.resumeMarks.has(key)) continue;
      const last = lastServerMessage(buffer);
      if (last !== undefined) this.resumeMarks.set(key, last);
    }
    const joinedRooms = [...this.current.buffers.values()].filter((buffer) => buffer.kind === 'room' && buffer.joined).map((buffer) => buffer.name);
    if (joinedRooms.length > 0 || this.current.status === 'connected') this.roomsToRejoin = joinedRooms;
    this.update(applyAction(applyAction(this.current, { type: 'reset', nick: this.current.nick }), { type: 'note', name: SERVER_BUFFER, text: `Disconnected: ${reason}`, kind: 'error', time: this.now() }));
    if (this.closedByUser || this.fatal || this.options.reconnect === false) {
      this.update(applyAction(this.current, { type: 'status', status: 'disconnected' }));
      return;
    }
    const initial = this.options.reconnect?.initialDelayMs ?? 1000;
    const max = this.options.reconnect?.maxDelayMs ?? 30_000;
    const delay = Math.min(max, initial * 2 ** this.attempts) * (0.5 + Math.random() / 2);
    this.attempts++;
    this.update(applyAction(this.current, { type: 'status', status: 'reconnecting' }));
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.connect();
    }, delay);
  }

  private armKeepalive(): void {
    if (this.keepaliveTimer !== undefined) clearTimeout(this.keepaliveTimer);
    const interval = this.options.keepaliveMs ?? 30_000;
    this.keepaliveTimer = setTimeout(() => {
      if (this.awaitingPong) {
        this.transport?.close();
        return;
      }
      this.awaitingPong = true;
      this.send(`PING :keepalive`);
      this.armKeepalive();
    }, interval);
  }

  private send(line: string): void {
    this.transport?.send(line);
  }

  private update(next: ClientState): void {
    if (next === this.current) return;
    this.current = next;
    for (const listener of this.listeners) listener(next);
  }

  // --- incoming ------------------------------------------------------------------------------------------------------

  private receive(message: IrcMessage): void {
    this.awaitingPong = false;
    this.armKeepalive();
    const command = message.command.toUpperCase();
    if (command === 'PING') {
      this.send(`PONG :${message.params[0] ?? ''}`);
      return;
    }
    const wasConnected = this.current.status === 'connected';
    const batchRef = message.tags?.get('batch');
    // A JOIN answering a labeled JOIN comes inside a labeled-response batch; one inside chathistory is history.
    const liveJoin = command === 'JOIN' && this.isMe(message.source) && (batchRef === undefined || this.current.batches.get(batchRef)?.type === 'labeled-response');
    const label = message.tags?.get('label');
    const silent = label !== undefined && this.silentLabels.delete(label);
    let next = silent ? this.current : applyMessage(this.current, message, this.now());
    const finished = this.trackRequests(message, command);
    // The echo that confirms a sent message replaces its "sending" copy in the same update, so neither flickers.
    const confirmed = finished === undefined ? undefined : this.outboxLabels.get(finished);
    if (confirmed !== undefined) {
      this.outboxLabels.delete(finished!);
      next = applyAction(next, { type: 'outboxRemove', id: confirmed });
    }
    this.update(next);
    if (finished !== undefined) this.finishRequest(finished);
    if (!wasConnected) this.registering(message, command);
    else if (command === 'CAP') this.capChanged(message);
    if (command === '001') this.welcomed();
    if (liveJoin) void this.joinedRoom(message.params[0] ?? '');
  }

  private isMe(source: string | undefined): boolean {
    if (source === undefined) return false;
    const bang = source.indexOf('!');
    const fold = foldOf(this.current);
    return fold(bang === -1 ? source : source.slice(0, bang)) === fold(this.current.nick);
  }

  /**
   * labeled-response: a labeled reply is one message, ACK, or a batch whose lines (nested batches too) are the answer.
   * Collects replies; returns the label of a request this message completes.
   */
  private trackRequests(message: IrcMessage, command: string): string | undefined {
    const label = message.tags?.get('label');
    const batchRef = message.tags?.get('batch');
    if (command === 'BATCH') {
      const reference = message.params[0] ?? '';
      const ref = reference.slice(1);
      if (reference.startsWith('+')) {
        const owner = label ?? (batchRef === undefined ? undefined : this.batchLabels.get(batchRef));
        if (owner !== undefined) this.batchLabels.set(ref, owner);
        return undefined;
      }
      const owner = this.batchLabels.get(ref);
      this.batchLabels.delete(ref);
      // The request ends with the batch that carried its label, not with a batch nested in it.
      return owner !== undefined && message.tags?.get('batch') === undefined ? owner : undefined;
    }
    if (batchRef !== undefined) {
      const owner = this.batchLabels.get(batchRef);
      if (owner !== undefined) this.requests.get(owner)?.replies.push(message);
      return undefined;
    }
    if (label === undefined) return undefined;
    const request = this.requests.get(label);
    if (request === undefined) return undefined;
    if (command !== 'ACK') request.replies.push(message);
    return label;
  }

  private finishRequest(label: string): void {
    const request = this.requests.get(label);
    if (request === undefined) return;
    this.requests.delete(label);
    clearTimeout(request.timer);
    const failure = request.replies.find(isErrorReply);
    if (failure !== undefined) request.reject(new RequestError(failure.params[failure.params.length - 1] ?? failure.command, request.replies));
    else request.resolve(request.replies);
  }

  /** Capability negotiation, then SASL or REGISTER, then CAP END (IRCv3 Capability Negotiation 302). */
  private registering(message: IrcMessage, command: string): void {
    switch (command) {
      case 'CAP': {
        const sub = (message.params[1] ?? '').toUpperCase();
        if (sub === 'LS') {
          const more = message.params[2] === '*';
          for (const token of (message.params[message.params.length - 1] ?? '').split(' ')) {
            if (token === '') continue;
            const equals = token.indexOf('=');
            this.offered.set(equals === -1 ? token : token.slice(0, equals), equals === -1 ? '' : token.slice(equals + 1));
          }
          if (!more) this.requestCaps();
        } else if (sub === 'ACK' || sub === 'NAK') {
          this.capRequestsOutstanding--;
          if (this.capRequestsOutstanding <= 0) this.authenticate();
        }
        return;
      }
      case 'AUTHENTICATE':
        if (message.params[0] === '+' && this.credentials !== undefined) {
          const { account, password } = this.credentials;
          const payload = encodeBase64(`${account}\0${account}\0${password}`);
          // SASL 3.1: payloads are sent in chunks of 400 bytes, and a last chunk of exactly 400 is followed by "+".
          for (let index = 0; index < payload.length; index += 400) this.send(`AUTHENTICATE ${payload.slice(index, index + 400)}`);
          if (payload.length % 400 === 0) this.send('AUTHENTICATE +');
        }
        return;
      case '903':
        this.send('CAP END');
        return;
      case '902':
      case '904':
      case '905':
      case '906':
        this.failFatally(message.params[message.params.length - 1] ?? 'Login failed');
        return;
      case 'REGISTER':
        if ((message.params[0] ?? '').toUpperCase() === 'SUCCESS' && this.registration !== undefined) {
          this.credentials = { account: this.registration.account, password: this.registration.password };
          this.registration = undefined;
          this.send('CAP END');
        } else if ((message.params[0] ?? '').toUpperCase() === 'VERIFICATION_REQUIRED') {
          this.failFatally(message.params[message.params.length - 1] ?? 'The account needs verification');
        }
        return;
      case 'FAIL':
        if ((message.params[0] ?? '').toUpperCase() === 'REGISTER') this.failFatally(message.params[message.params.length - 1] ?? 'Registration failed');
        return;
      case '433':
      case '432':
        // A refused nick: try another (a logged-in device of an online account is welcomed under the account's nick).
        if (this.nickAttempts++ < 5) this.send(`NICK ${this.options.nick.slice(0, 24)}${this.nickAttempts === 1 ? '_' : String(Math.floor(Math.random() * 1000))}`);
        else this.failFatally(message.params[message.params.length - 1] ?? 'Nickname refused');
        return;
      case 'ERROR':
        return;
      default:
        return;
    }
  }

  private requestCaps(): void {
    const wanted = WANTED_CAPS.filter((cap) => this.offered.has(cap));
    if (this.credentials !== undefined || this.registration !== undefined) {
      if (this.offered.has('sasl')) wanted.push('sasl');
      if (this.registration !== undefined && this.offered.has('draft/account-registration')) wanted.push('draft/account-registration');
    }
    if (wanted.length === 0) {
      this.authenticate();
      return;
    }
    for (let index = 0; index < wanted.length; index += 10) {
      this.capRequestsOutstanding++;
      this.send(`CAP REQ :${wanted.slice(index, index + 10).join(' ')}`);
    }
  }

  private authenticate(): void {
    if (this.registration !== undefined) {
      if (!this.current.caps.has('draft/account-registration')) {
        this.failFatally('This server does not let clients create accounts');
        return;
      }
      const { account, password, email } = this.registration;
      this.send(serializeMessage({ command: 'REGISTER', params: [account, email ?? '*', password] }));
      return;
    }
    if (this.credentials !== undefined) {
      if (!this.current.caps.has('sasl')) {
        this.failFatally('This server does not offer logging in (SASL)');
        return;
      }
      this.send('AUTHENTICATE PLAIN');
      return;
    }
    this.send('CAP END');
  }

  private failFatally(reason: string): void {
    this.fatal = true;
    this.update(applyAction(this.current, { type: 'error', text: reason }));
    this.transport?.close();
  }

  private capChanged(message: IrcMessage): void {
    const sub = (message.params[1] ?? '').toUpperCase();
    if (sub !== 'NEW') return;
    const added = (message.params[message.params.length - 1] ?? '').split(' ').map((token) => token.split('=')[0] ?? '');
    const wanted = added.filter((cap) => WANTED_CAPS.includes(cap));
    if (wanted.length > 0) this.send(`CAP REQ :${wanted.join(' ')}`);
  }

  private welcomed(): void {
    this.attempts = 0;
    const rooms = [...new Set(this.roomsToRejoin)];
    if (rooms.length > 0) this.send(`JOIN ${rooms.join(',')}`);
    void this.resumeConversations();
    for (const message of this.current.outbox) if (message.state === 'queued') this.transmit(message);
    // Sealed messages are never in history: the ones still waiting come from VIEWONCE LIST.
    if (this.hasCap(VIEW_ONCE) && this.hasCap('message-tags')) this.request('VIEWONCE', ['LIST']).catch(() => undefined);
  }

  // --- history -------------------------------------------------------------------------------------------------------

  private get pageSize(): number {
    return this.options.historyPageSize ?? DEFAULT_PAGE;
  }

  /** A room was joined (by this device or another of the account's): its history since the last seen message. */
  private async joinedRoom(room: string): Promise<void> {
    // The room's modes (RPL_CHANNELMODEIS): who may set the topic (+t), whether it is moderated (+m), ...
    this.send(serializeMessage({ command: 'MODE', params: [room] }));
    if (!this.hasCap('draft/chathistory')) {
      this.resendUnconfirmed(bufferKey(this.current, room));
      return;
    }
    try {
      await this.catchUp(room);
    } catch {
      // A failed history fetch leaves the gap for scroll-back; the room itself works.
    }
    this.reconcileOutbox(room);
  }

  /** Fetches what a buffer missed: AFTER its resume mark, page by page, or the latest page when it has none. */
  private async catchUp(target: string): Promise<void> {
    const mark = this.resumeMarks.get(bufferKey(this.current, target));
    if (mark === undefined) {
      const replies = await this.request('CHATHISTORY', ['LATEST', target, '*', String(this.pageSize)]);
      if (countMessages(replies) < this.pageSize) this.act({ type: 'historyComplete', name: target });
      return;
    }
    let reference = mark.id === undefined ? `timestamp=${new Date(mark.time).toISOString()}` : `msgid=${mark.id}`;
    for (let page = 0; page < MAX_RESUME_PAGES; page++) {
      const replies = await this.request('CHATHISTORY', ['AFTER', target, reference, String(this.pageSize)]);
      const last = [...replies].reverse().find((reply) => reply.tags?.has('msgid') === true && reply.command.toUpperCase() !== 'BATCH');
      if (countMessages(replies) < this.pageSize || last === undefined) break;
      reference = `msgid=${last.tags?.get('msgid') ?? ''}`;
    }
  }

  /** After a (re)connect: direct conversations we had, and any new ones (CHATHISTORY TARGETS). */
  private async resumeConversations(): Promise<void> {
    const conversations = [...this.current.buffers.values()].filter((buffer) => buffer.kind === 'dm').map((buffer) => buffer.name);
    // Unconfirmed whispers are settled with their conversation's history, which may have no buffer of its own.
    for (const message of this.current.outbox) if (message.context !== undefined) conversations.push(message.target);
    if (!this.hasCap('draft/chathistory')) {
      for (const name of new Set(conversations.map((name) => bufferKey(this.current, name)))) this.resendUnconfirmed(name);
      return;
    }
    const markTimes = [...this.resumeMarks.values()].map((mark) => mark.time);
    const since = markTimes.length === 0 ? 0 : Math.min(...markTimes);
    const names = new Map(conversations.map((name) => [bufferKey(this.current, name), name]));
    try {
      const replies = await this.request('CHATHISTORY', ['TARGETS', `timestamp=${new Date(since).toISOString()}`, `timestamp=${new Date(this.now() + 86_400_000).toISOString()}`, String(this.pageSize)]);
      for (const reply of replies) {
        const target = reply.params[1] ?? '';
        if (reply.command.toUpperCase() !== 'CHATHISTORY' || target === '' || isRoomName(this.current, target)) continue;
        names.set(bufferKey(this.current, target), target);
      }
    } catch {
      // TARGETS is an optimisation: without it, only known conversations are resumed.
    }
    for (const target of names.values()) {
      try {
        await this.catchUp(target);
      } catch {
        // As for rooms: the gap is left for scroll-back.
      }
      this.reconcileOutbox(target);
    }
  }

  /** Loads a page of older history into a buffer (scroll-back). Resolves false when there is nothing older. */
  async loadOlder(target: string): Promise<boolean> {
    const key = bufferKey(this.current, target);
    const buffer = this.current.buffers.get(key);
    if (buffer === undefined || buffer.historyComplete || !this.hasCap('draft/chathistory') || this.loadingOlder.has(key)) return false;
    this.loadingOlder.add(key);
    this.act({ type: 'loadingOlder', name: target, loading: true });
    try {
      // Paging goes by the oldest message history holds: a chat message with a msgid (events and notes are not kept
      // unless event-playback is on), else the time of the oldest line shown.
      // A whisper shown in a room is of a conversation's history, not of the room's: it is no reference there.
      const oldest = buffer.messages.find((message) => isChatKind(message.kind) && !message.id.startsWith('local:') && !(buffer.kind === 'room' && message.whisper !== undefined));
      const first = buffer.messages[0];
      const reference = oldest !== undefined ? `msgid=${oldest.id}` : first !== undefined ? `timestamp=${new Date(first.time).toISOString()}` : undefined;
      const replies = await this.request('CHATHISTORY', reference === undefined ? ['LATEST', target, '*', String(this.pageSize)] : ['BEFORE', target, reference, String(this.pageSize)]);
      const complete = countMessages(replies) < this.pageSize;
      if (complete) this.act({ type: 'historyComplete', name: target });
      return !complete;
    } finally {
      this.loadingOlder.delete(key);
      this.act({ type: 'loadingOlder', name: target, loading: false });
    }
  }

  // --- outgoing ------------------------------------------------------------------------------------------------------

  /**
   * Sends a request and resolves with its replies (labeled-response): the lines of its batch, its one reply, or none
   * (ACK). Rejects on FAIL or an error numeric in the replies, on timeout, or when the connection drops.
   */
  request(command: string, params: readonly string[], tags?: ReadonlyMap<string, string>, outboxId?: string): Promise<IrcMessage[]> {
    if (this.transport === undefined || !this.connected) return Promise.reject(new RequestError('not connected'));
    const label = `n${++this.labelSeq}`;
    if (outboxId !== undefined) this.outboxLabels.set(label, outboxId);
    const allTags = new Map(tags ?? []);
    const labeled = this.hasCap('labeled-response');
    if (labeled) allTags.set('label', label);
    const line = serializeMessage({ tags: allTags, command, params: [...params] });
    if (!labeled) {
      this.send(line);
      return Promise.resolve([]);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.requests.delete(label);
        this.outboxLabels.delete(label);
        reject(new RequestError(`${command}: no answer from the server`));
      }, this.options.requestTimeoutMs ?? 30_000);
      this.requests.set(label, { resolve, reject, replies: [], timer });
      this.send(line);
    });
  }

  /** A raw line, for /quote; nothing is awaited. */
  sendRaw(line: string): void {
    if (this.connected) this.send(line);
  }

  /**
   * Sends a message (or an action, /me). It shows as "sending" until the server's echo; while disconnected it waits,
   * and after a reconnect it is sent unless history shows the server already had it. Several lines go as one
   * draft/multiline message when the server takes them, else as one message per line.
   */
  say(target: string, text: string, options: { readonly replyTo?: string; readonly action?: boolean; readonly context?: string } = {}): void {
    const body = text.replace(/\r\n?/g, '\n').replace(/\n+$/, '');
    if (body.trim() === '') return;
    // An action is one line; other text keeps its lines, as one multiline message when the server takes them.
    const single = options.action === true ? body.replace(/\n+/g, ' ') : body;
    const lines = this.hasCap('draft/multiline') || !this.connected ? [single] : single.split('\n').filter((line) => line !== '');
    for (const line of lines) {
      const message: Outgoing = {
        id: `out:${++this.outSeq}`,
        target,
        text: line,
        action: options.action === true,
        state: 'queued',
        time: this.now(),
        ...(options.replyTo === undefined ? {} : { replyTo: options.replyTo }),
        ...(options.context === undefined ? {} : { context: options.context }),
      };
      this.act({ type: 'outboxAdd', message });
      if (this.connected) this.transmit(message);
    }
    this.typingSentAt.delete(bufferKey(this.current, target));
  }

  /**
   * Whispers to `nick` in `room`: a private message with +channel-context (and the older +draft/channel-context, for
   * clients that know only that), which the server delivers only if both are in the room. Shown in the room, to the
   * two of them only. A server without message-tags could carry no room: then nothing is sent.
   */
  whisper(room: string, nick: string, text: string, options: { readonly replyTo?: string; readonly action?: boolean } = {}): void {
    if (this.connected && !this.hasCap('message-tags')) {
      this.act({ type: 'note', name: room, text: 'This server cannot carry whispers (no message-tags): nothing was sent', kind: 'error', time: this.now() });
      return;
    }
    this.say(nick, text, { ...options, context: room });
  }

  private transmit(message: Outgoing): void {
    const tags = new Map<string, string>();
    if (message.context !== undefined) {
      if (!this.hasCap('message-tags')) {
        // Sent without its room it would arrive as a plain direct message: the user meant it for the room's view.
        this.act({ type: 'outboxRemove', id: message.id });
        this.act({ type: 'note', name: message.context, text: 'This server cannot carry whispers (no message-tags): nothing was sent', kind: 'error', time: this.now() });
        return;
      }
      tags.set('+channel-context', message.context);
      tags.set('+draft/channel-context', message.context);
    }
    this.act({ type: 'outboxState', id: message.id, state: 'sent' });
    if (message.replyTo !== undefined && this.hasCap('message-tags')) tags.set('+draft/reply', message.replyTo);
    const maxBytes = Math.max(64, 512 - LINE_OVERHEAD_BYTES - utf8Length(message.target));
    const wrap = (text: string): string => (message.action ? `\u0001ACTION ${text}\u0001` : text);
    const needsBatch = message.text.includes('\n') || utf8Length(wrap(message.text)) > maxBytes;
    let done: Promise<IrcMessage[]>;
    if (needsBatch && !message.action && this.hasCap('draft/multiline') && this.hasCap('batch')) {
      done = this.sendMultiline(message, tags, maxBytes);
    } else {
      const pieces = message.text.split('\n').flatMap((line) => splitText(line, maxBytes - 12));
      const last = pieces.pop() ?? '';
      for (const piece of pieces) this.send(serializeMessage({ tags, command: 'PRIVMSG', params: [message.target, wrap(piece)] }));
      done = this.request('PRIVMSG', [message.target, wrap(last)], tags, message.id);
    }
    // A refusal is shown by the reducer (and ends the request, so the outbox entry goes); a dropped connection keeps
    // the entry for the resume to decide.
    done.catch(() => undefined);
  }

  /** draft/multiline: one message of several lines; a line longer than a line may be is split with multiline-concat. */
  private sendMultiline(message: Outgoing, tags: Map<string, string>, maxBytes: number): Promise<IrcMessage[]> {
    const ref = `ml${this.outSeq}n${this.labelSeq + 1}`;
    const done = this.request('BATCH', [`+${ref}`, 'draft/multiline', message.target], tags, message.id);
    for (const line of message.text.split('\n')) {
      splitText(line, maxBytes).forEach((piece, index) => {
        const lineTags = new Map([['batch', ref]]);
        if (index > 0) lineTags.set('draft/multiline-concat', '');
        this.send(serializeMessage({ tags: lineTags, command: 'PRIVMSG', params: [message.target, piece] }));
      });
    }
    this.send(`BATCH -${ref}`);
    return done;
  }

  /** After a resume: unconfirmed messages of a target that history shows are done; the others are sent again. */
  private reconcileOutbox(target: string): void {
    const key = bufferKey(this.current, target);
    const mark = this.resumeMarks.get(key);
    this.resumeMarks.delete(key);
    const claimed = new Set<string>();
    for (const message of this.current.outbox) {
      if (bufferKey(this.current, message.target) !== key) continue;
      if (message.state === 'queued') {
        this.transmit(message);
        continue;
      }
      // A whisper's echo is in its room (the reducer puts it there), though it came with the conversation's history.
      const shownIn = this.current.buffers.get(bufferKey(this.current, message.context ?? message.target));
      const delivered = shownIn?.messages.find(
        (candidate) =>
          candidate.self &&
          !claimed.has(candidate.id) &&
          (mark === undefined || candidate.time >= mark.time) &&
          candidate.text === message.text &&
          (message.context === undefined) === (candidate.whisper === undefined),
      );
      if (delivered !== undefined) {
        claimed.add(delivered.id);
        this.act({ type: 'outboxRemove', id: message.id });
      } else {
        this.transmit(message);
      }
    }
  }

  /** Without history the engine cannot know whether a message got through; it sends it again (and says so in notes). */
  private resendUnconfirmed(key: string): void {
    this.resumeMarks.delete(key);
    for (const message of this.current.outbox) if (bufferKey(this.current, message.target) === key) this.transmit(message);
  }

  /**
   * Sends a view-once message (natter.chat/view-once): recipients get it sealed and see its content once. It is one
   * line, sent at once and not queued while disconnected (a resend could not be matched with its sealed echo, which
   * carries no text). Rejects when the server does not offer view-once, when disconnected, or on a refusal.
   */
  async sendViewOnce(target: string, text: string): Promise<void> {
    const body = text.replace(/\s*[\r\n]+\s*/g, ' ').trim();
    if (body === '') throw new RequestError('A view-once message cannot be empty');
    if (!this.connected) throw new RequestError('not connected');
    if (!this.hasCap(VIEW_ONCE) || !this.hasCap('message-tags')) throw new RequestError('This server does not support view-once messages');
    if (utf8Length(body) > Math.max(64, 512 - LINE_OVERHEAD_BYTES - utf8Length(target))) throw new RequestError('Too long for a view-once message');
    this.typingSentAt.delete(bufferKey(this.current, target));
    await this.request('PRIVMSG', [target, body], new Map([[VIEW_ONCE, '']]));
  }

  /**
   * Opens a sealed view-once message: resolves with its content, which the server releases once. The content is not
   * put into the state (the caller shows it and forgets it); the message is marked opened. Rejects when it cannot be
   * opened (already opened, expired: the message is then marked so by the reducer).
   */
  async openViewOnce(target: string, msgid: string): Promise<string> {
    if (!this.hasCap('labeled-response')) throw new RequestError('Opening view-once messages needs labeled-response');
    const replies = await this.request('VIEWONCE', ['OPEN', msgid]);
    const content = replies.find((reply) => reply.command.toUpperCase() === 'VIEWONCE' && (reply.params[0] ?? '').toUpperCase() === 'CONTENT' && reply.params[1] === msgid);
    if (content === undefined) throw new RequestError('No content in the answer', replies);
    this.act({ type: 'viewOnce', name: target, msgid, state: 'opened' });
    return content.params[2] ?? '';
  }

  join(room: string, key?: string): Promise<IrcMessage[]> {
    return this.request('JOIN', key === undefined ? [room] : [room, key]);
  }

  part(room: string, reason?: string): Promise<IrcMessage[]> {
    return this.request('PART', reason === undefined ? [room] : [room, reason]);
  }

  react(target: string, msgid: string, emoji: string): Promise<IrcMessage[]> {
    return this.request('TAGMSG', [target], new Map([['+draft/react', emoji], ['+draft/reply', msgid]]));
  }

  unreact(target: string, msgid: string, emoji: string): Promise<IrcMessage[]> {
    return this.request('TAGMSG', [target], new Map([['+draft/unreact', emoji], ['+draft/reply', msgid]]));
  }

  redact(target: string, msgid: string, reason?: string): Promise<IrcMessage[]> {
    return this.request('REDACT', reason === undefined ? [target, msgid] : [target, msgid, reason]);
  }

  /**
   * Tells the server (and the account's other devices) that the buffer is read up to `upTo` (ms), by default its
   * newest message: a UI passes the newest message it has shown, so one that arrived meanwhile stays unread. Read
   * markers are kept per account, so a guest sends none.
   */
  markRead(target: string, upTo?: number): void {
    const key = bufferKey(this.current, target);
    const buffer = this.current.buffers.get(key);
    if (buffer === undefined || key === SERVER_BUFFER || this.current.account === undefined) return;
    const time = upTo ?? buffer.messages.findLast((message) => !message.id.startsWith('local:'))?.time;
    if (time !== undefined && this.connected && this.hasCap('draft/read-marker') && (buffer.readMarker === undefined || time > buffer.readMarker)) {
      this.send(serializeMessage({ command: 'MARKREAD', params: [buffer.name, `timestamp=${new Date(time).toISOString()}`] }));
    }
  }

  /** +typing (IRCv3 typing): "active" at most every 3 s per target; "done" when the text box is emptied. */
  typing(target: string, state: 'active' | 'paused' | 'done'): void {
    if (!this.connected || !this.hasCap('message-tags') || target === SERVER_BUFFER) return;
    const key = bufferKey(this.current, target);
    const last = this.typingSentAt.get(key);
    if (state === 'active' && last !== undefined && this.now() - last < TYPING_THROTTLE_MS) return;
    if (state !== 'active' && last === undefined) return;
    if (state === 'active') this.typingSentAt.set(key, this.now());
    else this.typingSentAt.delete(key);
    const tags = new Map<string, string>([['+typing', state]]);
    if (this.hasCap('labeled-response')) {
      const label = `t${++this.labelSeq}`;
      this.silentLabels.add(label);
      // A refusal (an unknown nick) is dropped; so is the ACK. The set stays small: every label gets one answer.
      tags.set('label', label);
    }
    this.send(serializeMessage({ tags, command: 'TAGMSG', params: [target] }));
  }

  /** LIST, into state.directory. */
  async list(): Promise<void> {
    this.act({ type: 'directoryRequested' });
    await this.request('LIST', []);
  }
}

function usernameOf(nick: string): string {
  const cleaned = nick.replace(/[^A-Za-z0-9_-]/g, '').slice(0, 10);
  return cleaned === '' ? 'natter' : cleaned;
}

function isErrorReply(message: IrcMessage): boolean {
  const command = message.command.toUpperCase();
  if (command === 'FAIL') return true;
  if (!/^\d{3}$/.test(command)) return false;
  // 4xx and 5xx are errors (Modern IRC); 9xx SASL failures too, but a labeled request never gets those.
  return command.startsWith('4') || command.startsWith('5');
}

function countMessages(replies: readonly IrcMessage[]): number {
  let count = 0;
  for (const reply of replies) {
    const command = reply.command.toUpperCase();
    if (command === 'PRIVMSG' || command === 'NOTICE' || command === 'TAGMSG' || command === 'JOIN' || command === 'PART' || command === 'QUIT' || command === 'KICK' || command === 'MODE' || command === 'TOPIC' || command === 'NICK') count++;
  }
  return count;
}

function isChatKind(kind: string): boolean {
  return kind === 'privmsg' || kind === 'notice' || kind === 'action';
}

function lastServerMessage(buffer: ChatBuffer): ResumeMark | undefined {
  for (let index = buffer.messages.length - 1; index >= 0; index--) {
    const message = buffer.messages[index]!;
    // A whisper's msgid is not in the room's history (CHATHISTORY AFTER it would find nothing there).
    if (!message.id.startsWith('local:') && !(buffer.kind === 'room' && message.whisper !== undefined)) return { id: message.id, time: message.time };
  }
  const last = buffer.messages.at(-1);
  return last === undefined ? undefined : { id: undefined, time: last.time };
}
