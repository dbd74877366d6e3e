/**
 * The page's hold on the client engine: one ChatClient per sign-in, over IRC-over-WebSocket to the server that served
 * the page, and a re-render on every state change. Also what follows the state without being shown: the rooms to
 * remember for next time, marking the focused buffer read, and the page title's unread count.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { ChatClient, SERVER_BUFFER, foldOf, webSocketTransport } from '../../src/client/index.js';
import type { ClientState } from '../../src/client/index.js';
import { lastActive, rememberActive, rememberIdentity, rememberRooms, rememberedRooms } from './storage.js';
import type { Identity } from './storage.js';
import type { UploadCredentials } from './upload.js';

export interface SignInRequest extends Identity {
  readonly password?: string;
  readonly email?: string;
  /** Rooms to join besides the remembered ones (host mode's room, on the host's first sign-in). */
  readonly rooms?: readonly string[];
}

export type Phase = 'signed-out' | 'connecting' | 'ready';

export interface Chat {
  readonly phase: Phase;
  readonly client: ChatClient | undefined;
  readonly state: ClientState | undefined;
  readonly identity: Identity | undefined;
  /** Why the last sign-in failed, in the server's words. */
  readonly error: string | undefined;
  readonly signIn: (request: SignInRequest) => void;
  /** Gives up a sign-in still connecting, or signs out. */
  readonly signOut: () => void;
  /**
   * The account's name and password for picture uploads (HTTP Basic, docs/uploads.md); undefined for a guest. Kept
   * in memory for this sign-in only, never in storage.
   */
  readonly uploadCredentials: UploadCredentials | undefined;
}

interface Connection {
  readonly client: ChatClient;
  readonly identity: Identity;
  readonly uploadCredentials: UploadCredentials | undefined;
}

/** IRC over WebSocket at /irc beside the page (relative, so a reverse proxy may serve Natter under a path). */
export function ircUrl(location: Location): string {
  const url = new URL('irc', location.href);
  url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  url.hash = '';
  url.search = '';
  return url.href;
}


function createClient(request: SignInRequest): ChatClient {
  const credentials = request.password === undefined ? undefined : { account: request.name, password: request.password };
  return new ChatClient({
    transport: webSocketTransport(ircUrl(window.location), WebSocket),
    nick: request.name,
    autojoin: withRooms(rememberedRooms(request.name), request.rooms ?? []),
    ...(credentials !== undefined && request.mode === 'login' ? { login: credentials } : {}),
    ...(credentials !== undefined && request.mode === 'register'
      ? { register: { ...credentials, ...(request.email === undefined || request.email === '' ? {} : { email: request.email }) } }
      : {}),
  });
}

export function useChat(): Chat {
  const [connection, setConnection] = useState<Connection | undefined>(undefined);
  const [state, setState] = useState<ClientState | undefined>(undefined);
  const [phase, setPhase] = useState<Phase>('signed-out');
  const [error, setError] = useState<string | undefined>(undefined);

  useEffect(() => {
    if (connection === undefined) return undefined;
    const { client, identity } = connection;
    let previous = client.state;
    let welcomed = false;
    setState(previous);
    const unsubscribe = client.subscribe((next) => {
      rememberRoomChanges(identity.name, previous, next);
      previous = next;
      setState(next);
      if (!welcomed && next.status === 'connected') {
        welcomed = true;
        rememberIdentity(identity);
        setPhase('ready');
      } else if (!welcomed && next.status === 'disconnected') {
        // Refused (a wrong password, a name taken): the engine gives up; the form shows why.
        setError(next.lastError ?? 'The server closed the connection');
        setConnection(undefined);
      }
    });
    client.start();
    return () => {
      unsubscribe();
      client.close();
    };
  }, [connection]);

  const chat: Chat = {
    phase: connection === undefined ? 'signed-out' : phase,
    client: connection?.client,
    state: connection === undefined ? undefined : state,
    identity: connection?.identity,
    error,
    uploadCredentials: connection?.uploadCredentials,
    signIn(request) {
      setError(undefined);
      setPhase('connecting');
      setState(undefined);
      const uploadCredentials = request.mode !== 'guest' && request.password !== undefined ? { account: request.name, password: request.password } : undefined;
      setConnection({ client: createClient(request), identity: { mode: request.mode, name: request.name }, uploadCredentials });
    },
    signOut() {
      setConnection(undefined);
      setPhase('signed-out');
    },
  };
  useHostLogin(chat, setError);
  return chat;
}

/** The remembered rooms and then `more`, each once (ASCII case-insensitively; the server folds names itself). */
function withRooms(remembered: readonly string[], more: readonly string[]): string[] {
  const rooms = [...remembered];
  for (const room of more) if (!rooms.some((known) => known.toLowerCase() === room.toLowerCase())) rooms.push(room);
  return rooms;
}

/**
 * Host mode (issue 8, docs/host.md): `natter host` opens the page at `#token=…`, a link that works once. The token
 * leaves the address bar (and with it the history) before anything else, then POST host-login trades it for the host
 * account's name and password, which sign in as the form would. A refused link shows the server's words on the form.
 */
function useHostLogin(chat: Chat, setError: (error: string) => void): void {
  useEffect(() => {
    const token = takeHostToken(window.location, window.history);
    if (token === undefined) return;
    void redeemHostToken(token).then((result) => {
      if ('error' in result) setError(result.error);
      else chat.signIn({ mode: 'login', name: result.account, password: result.password, rooms: [result.room] });
    });
    // Once, at page load: the fragment is read only then (and removed at once). chat.signIn uses only state setters,
    // so the first render's chat is as good as any.
  }, []);
}

/** The token of a `#token=…` fragment, removed from the address bar; undefined when there is none. */
export function takeHostToken(location: Location, history: History): string | undefined {
  const token = new URLSearchParams(location.hash.slice(1)).get('token');
  if (token === null) return undefined;
  history.replaceState(history.state, '', `${location.pathname}${location.search}`);
  return token === '' ? undefined : token;
}

interface HostCredentials {
  readonly account: string;
  readonly password: string;
  readonly room: string;
}

/** POST host-login beside the page (relative, like /irc): the host's credentials, or why not in the server's words. */
async function redeemHostToken(token: string): Promise<HostCredentials | { readonly error: string }> {
  try {
    const response = await fetch('host-login', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ token }), cache: 'no-store' });
    const body = (await response.json()) as Record<string, unknown>;
    const { account, password, room, error } = body;
    if (response.ok && typeof account === 'string' && typeof password === 'string' && typeof room === 'string') return { account, password, room };
    return { error: typeof error === 'string' ? error : `The host sign-in was refused (${String(response.status)})` };
  } catch {
    return { error: 'Could not reach the server to sign in as the host; log in with the host account instead.' };
  }
}

/**
 * Keeps the remembered rooms in step with the rooms joined: a room joined is added, a room left (PART, KICK, closed)
 * removed. Only while connected and registered: a dropped connection marks every room unjoined ("reset", which also
 * empties caps) without the user leaving any.
 */
function rememberRoomChanges(name: string, previous: ClientState, next: ClientState): void {
  if (previous.buffers === next.buffers || previous.status !== 'connected' || next.status !== 'connected' || next.caps.size === 0) return;
  const fold = foldOf(next);
  const joined: string[] = [];
  const left = new Set<string>();
  for (const [key, buffer] of next.buffers) {
    if (buffer.kind !== 'room') continue;
    const before = previous.buffers.get(key);
    if (buffer.joined && before?.joined !== true) joined.push(buffer.name);
    if (!buffer.joined && before?.joined === true) left.add(key);
  }
  for (const [key, before] of previous.buffers) if (before.kind === 'room' && before.joined && !next.buffers.has(key)) left.add(key);
  if (joined.length === 0 && left.size === 0) return;
  const rooms = rememberedRooms(name).filter((room) => !left.has(fold(room)));
  for (const room of joined) if (!rooms.some((known) => fold(known) === fold(room))) rooms.push(room);
  rememberRooms(name, rooms);
}

/** Read markers belong to accounts: the engine sends none for a guest. */
export function markRead(client: ChatClient, name: string, upTo?: number): void {
  client.markRead(name, upTo);
}

/** The time a new message in the focused buffer waits before it is marked read (several arriving together: one MARKREAD). */
const MARK_READ_DELAY_MS = 800;

function pageVisible(): boolean {
  return document.visibilityState === 'visible';
}

/**
 * Marks the focused buffer read when new messages arrive in it while the page is visible (debounced), when the page
 * becomes visible again, and when the user leaves it. Only what was rendered counts: the marker goes up to the newest
 * message shown, not one that arrived in the meantime.
 * Unread counts themselves are the reducer's: it does not count the focused buffer.
 */
export function useMarkRead(client: ChatClient, state: ClientState): void {
  const key = state.active;
  const buffer = state.buffers.get(key);
  // The newest line from the server (a local note carries this device's clock, not the server's).
  const newest = buffer?.messages.findLast((message) => !message.id.startsWith('local:'));
  const name = buffer?.name;
  useEffect(() => {
    if (name === undefined || key === SERVER_BUFFER || newest === undefined) return undefined;
    const mark = (): void => {
      // Up to what was rendered: a message that arrived since stays unread.
      if (pageVisible()) markRead(client, name, newest.time);
    };
    const timer = setTimeout(mark, MARK_READ_DELAY_MS);
    document.addEventListener('visibilitychange', mark);
    return () => {
      clearTimeout(timer);
      document.removeEventListener('visibilitychange', mark);
      // Leaving the buffer: what the user was looking at is read, even within the delay.
      if (client.state.active !== key) mark();
    };
  }, [client, key, name, newest]);
}

/**
 * After connecting, once the remembered rooms are joined, focuses the one looked at last time (else the first room).
 * Remembers the focused buffer from then on.
 */
export function useRestoreFocus(client: ChatClient, state: ClientState, identity: Identity): void {
  const restored = useRef(false);
  const active = state.buffers.get(state.active);
  useEffect(() => {
    if (restored.current) {
      if (active !== undefined && active.kind !== 'server') rememberActive(identity.name, active.name);
      return;
    }
    const rooms = [...state.buffers.values()].filter((buffer) => buffer.kind === 'room' && buffer.joined);
    // The reducer shows the first room joined while the server buffer is shown (the server's autojoin): no choice of
    // the user's, so the buffer looked at last time still wins; what the user opened before any room was joined stays.
    if (rooms.length === 0) {
      if (state.active !== SERVER_BUFFER) restored.current = true;
      return;
    }
    const wanted = lastActive(identity.name);
    const fold = foldOf(state);
    const target = (wanted === undefined ? undefined : state.buffers.get(fold(wanted))) ?? rooms[0];
    restored.current = true;
    if (target !== undefined) client.act({ type: 'focus', name: target.name });
  }, [client, state, identity, active]);
}

/** "(3) Natter": unread messages across buffers in the tab's title; an asterisk when one of them mentions the user. */
export function useTitle(state: ClientState | undefined): void {
  let unread = 0;
  let mentions = 0;
  for (const buffer of state?.buffers.values() ?? []) {
    unread += buffer.unread;
    mentions += buffer.mentions;
  }
  const title = unread === 0 ? 'Natter' : `(${unread}${mentions > 0 ? '*' : ''}) Natter`;
  useEffect(() => {
    document.title = title;
  }, [title]);
}
