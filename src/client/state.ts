/**
 * The state of one client connection as the UI sees it: buffers (the server, rooms and direct conversations), their
 * messages, members and unread counts. Plain immutable data, changed only by the reducer (reducer.ts), so a UI can
 * compare references to know what changed and a test can replay a transcript into it.
 */
import { casefolder } from '../protocol/casemapping.js';
import type { Casefold, Casemapping } from '../protocol/casemapping.js';
import type { IrcMessage } from '../protocol/message.js';

export type MessageKind =
  | 'privmsg'
  | 'notice'
  | 'action'
  | 'join'
  | 'part'
  | 'quit'
  | 'kick'
  | 'nick'
  | 'topic'
  | 'mode'
  | 'info'
  | 'error';

export interface ChatMessage {
  /** The server's msgid, or a local id ("local:N") for lines the server gave none (numerics, our own notes). */
  readonly id: string;
  /** Milliseconds since the epoch: server-time when the server sent it, else when it arrived. */
  readonly time: number;
  readonly kind: MessageKind;
  /** The sender's nick; the server's name for server lines. */
  readonly from: string;
  readonly account?: string;
  readonly text: string;
  /** +draft/reply: the msgid this message answers. */
  readonly replyTo?: string;
  /** emoji -> the nicks who reacted with it, in the order they did. */
  readonly reactions?: Readonly<Record<string, readonly string[]>>;
  readonly redacted?: boolean;
  /** Sent by this user (from any of their devices). */
  readonly self: boolean;
  /** Mentions this user by nick, or is a direct message to them. */
  readonly highlight: boolean;
  /** The bot tag: sent by a bot. */
  readonly bot?: boolean;
  /**
   * A whisper (+channel-context on a private message): said privately to one member of `room`, and shown there.
   * `with` is the other party: the recipient of one this user sent, the sender of one they received.
   */
  readonly whisper?: { readonly with: string; readonly room: string };
  /**
   * A view-once message (natter.chat/view-once, docs/extensions/view-once.md); its `text` is then empty, never the
   * server's placeholder, and the content is never kept in the state. sealed: can be opened (once); opened: it was,
   * here or on another device; gone: the server has it no more (expired, or opened elsewhere and forgotten); sent: this
   * user's own.
   */
  readonly viewOnce?: { readonly state: ViewOnceState };
}

export type ViewOnceState = 'sealed' | 'opened' | 'gone' | 'sent';

/** The capability and the tag of view-once messages. */
export const VIEW_ONCE = 'natter.chat/view-once';

export interface Member {
  readonly nick: string;
  /** The membership prefixes, highest first ("@+"), as multi-prefix gives them. */
  readonly prefixes: string;
  readonly account?: string;
  readonly away?: boolean;
  readonly user?: string;
  readonly host?: string;
}

export type BufferKind = 'server' | 'room' | 'dm';

export interface Typist {
  readonly state: 'active' | 'paused';
  readonly at: number;
}

export interface ChatBuffer {
  /** The room or nick as last seen (display form). The server buffer is named "*". */
  readonly name: string;
  readonly kind: BufferKind;
  /** Sorted by time; no two with the same msgid. */
  readonly messages: readonly ChatMessage[];
  readonly topic?: string;
  readonly topicSetBy?: string;
  /** Casefolded nick -> member. Rooms only. */
  readonly members: ReadonlyMap<string, Member>;
  /** This user is in the room (rooms) or the conversation is open (DMs). */
  readonly joined: boolean;
  /** Messages from others after the read marker. */
  readonly unread: number;
  /** Unread messages that mention this user (every unread message of a DM). */
  readonly mentions: number;
  /** The read marker (draft/read-marker) in ms, when the server told us one. */
  readonly readMarker?: number;
  /** Casefolded nick -> what they are doing (+typing). Stale entries are filtered by the UI by `at`. */
  readonly typing: ReadonlyMap<string, Typist>;
  /** No older history exists on the server (a BEFORE query returned less than asked). */
  readonly historyComplete: boolean;
  /** Older history is being fetched (scroll-back): what arrives goes before what is shown, even at equal times. */
  readonly loadingOlder: boolean;
  /** Channel modes as last told (RPL_CHANNELMODEIS / MODE), e.g. "+nt". */
  readonly modes?: string;
}

export interface ListEntry {
  readonly name: string;
  readonly users: number;
  readonly topic: string;
}

/** A message the user sent that the server has not yet confirmed (its echo), shown as "sending". */
export interface Outgoing {
  readonly id: string;
  readonly target: string;
  readonly text: string;
  readonly action: boolean;
  readonly replyTo?: string;
  /** A whisper: `target` is a nick, and this is the room it is said in (shown there while sending). */
  readonly context?: string;
  /** When the user sent it (this device's clock), to show until the server's time replaces it. */
  readonly time: number;
  /** queued: waits for a connection; sent: written to a connection that may have dropped since. */
  readonly state: 'queued' | 'sent';
}

export type ConnectionStatus = 'disconnected' | 'connecting' | 'registering' | 'connected' | 'reconnecting';

/** A batch still open: its lines (and nested batches) wait for its end, so it is applied as one. */
export interface OpenBatch {
  readonly type: string;
  readonly params: readonly string[];
  readonly tags: ReadonlyMap<string, string> | undefined;
  /** The enclosing batch, for nested batches (a chathistory batch inside a labeled-response batch). */
  readonly parent?: string;
  readonly items: readonly BatchItem[];
}

export type BatchItem = { readonly line: IrcMessage } | { readonly batch: OpenBatch };

export interface ClientState {
  readonly status: ConnectionStatus;
  readonly nick: string;
  readonly account?: string;
  /** This user is marked away (RPL_NOWAWAY / RPL_UNAWAY). */
  readonly away: boolean;
  /** The server's name, from the source of its numerics. */
  readonly serverName?: string;
  /** NETWORK from ISUPPORT. */
  readonly networkName?: string;
  /** Capabilities enabled on this connection. */
  readonly caps: ReadonlySet<string>;
  /** ISUPPORT tokens; a token without a value maps to "". */
  readonly isupport: ReadonlyMap<string, string>;
  readonly casemapping: Casemapping;
  /** Casefolded name -> buffer. The server buffer's key is "*". */
  readonly buffers: ReadonlyMap<string, ChatBuffer>;
  /** The key of the buffer the user is looking at. */
  readonly active: string;
  readonly batches: ReadonlyMap<string, OpenBatch>;
  /** The room directory (LIST) as last received; `complete` once RPL_LISTEND came. */
  readonly directory?: { readonly entries: readonly ListEntry[]; readonly complete: boolean };
  /** Rooms whose NAMES reply is being received: their member list is rebuilt from it. */
  readonly namesPending: ReadonlySet<string>;
  /** The last error the server gave before registration finished (a refused nick or password), for a sign-in form. */
  readonly lastError?: string;
  /** What the user sent and the server has not confirmed yet, oldest first. */
  readonly outbox: readonly Outgoing[];
  /** Counter for local message ids. */
  readonly localSeq: number;
}

export const SERVER_BUFFER = '*';

export function initialState(nick: string): ClientState {
  return {
    status: 'disconnected',
    nick,
    away: false,
    caps: new Set(),
    isupport: new Map(),
    casemapping: 'rfc1459',
    buffers: new Map([[SERVER_BUFFER, emptyBuffer(SERVER_BUFFER, 'server')]]),
    active: SERVER_BUFFER,
    batches: new Map(),
    namesPending: new Set(),
    outbox: [],
    localSeq: 0,
  };
}

export function emptyBuffer(name: string, kind: BufferKind): ChatBuffer {
  return { name, kind, messages: [], members: new Map(), joined: kind !== 'room', unread: 0, mentions: 0, typing: new Map(), historyComplete: kind === 'server', loadingOlder: false };
}

export function foldOf(state: ClientState): Casefold {
  return casefolder(state.casemapping);
}

/** The buffer key of a room or nick under the server's casemapping. */
export function bufferKey(state: ClientState, name: string): string {
  return name === SERVER_BUFFER ? SERVER_BUFFER : foldOf(state)(name);
}

export function isRoomName(state: ClientState, name: string): boolean {
  const types = state.isupport.get('CHANTYPES') ?? '#&';
  return name.length > 0 && types.includes(name[0] ?? '');
}

/** PREFIX=(qaohv)~&@%+ -> modes and symbols, highest first. */
export function prefixTable(state: ClientState): { readonly modes: string; readonly symbols: string } {
  const match = /^\(([^)]*)\)(.*)$/.exec(state.isupport.get('PREFIX') ?? '(ov)@+');
  return { modes: match?.[1] ?? 'ov', symbols: match?.[2] ?? '@+' };
}

/** The highest membership symbol of a member ('' for none). */
export function highestPrefix(member: Member | undefined): string {
  return member?.prefixes[0] ?? '';
}

/** This user's membership in a room. */
export function myMembership(state: ClientState, room: string): Member | undefined {
  const buffer = state.buffers.get(bufferKey(state, room));
  return buffer?.members.get(foldOf(state)(state.nick));
}
