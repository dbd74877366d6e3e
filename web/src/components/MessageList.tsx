/**
 * The buffer's messages as a log: day separators, a "New" divider at the read marker, messages of one sender grouped,
 * the user's unconfirmed messages ("sending…") at the bottom. It sticks to the bottom while the user is there, keeps
 * what they read in place otherwise (older history prepended, new messages appended), and loads older history from
 * the server when they scroll near the top.
 *
 * Only a window of the buffer is rendered: the last WINDOW messages, plus whatever the user scrolled back into, so a
 * buffer of thousands does not freeze the page.
 */
import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { ComponentChild } from 'preact';
import { bufferKey as keyOf, foldOf } from '../../../src/client/index.js';
import type { ChatBuffer, ChatClient, ChatMessage, ClientState, Outgoing } from '../../../src/client/index.js';
import type { Casefold } from '../../../src/protocol/casemapping.js';
import { formatDay, sameDay } from '../text.js';
import { EventLine, Message, PendingMessage, isChatKind, messageDomId } from './Message.js';
import './messages.css';

export interface MessageListProps {
  readonly client: ChatClient;
  readonly state: ClientState;
  readonly bufferKey: string;
  readonly onReply: (message: ChatMessage) => void;
}

/** Messages rendered when the user is at the bottom. */
export const WINDOW = 300;
/** Messages revealed at a time when scrolling back into what is already in memory. */
const PAGE = 100;
/** Consecutive messages of one sender closer than this share a header. */
const GROUP_MS = 5 * 60_000;
/** How close to an edge (px) counts as "at the bottom" and "near the top". */
const BOTTOM_SLACK = 48;
const TOP_TRIGGER = 300;
/** A read marker the server tells shortly after the buffer opened still counts as the one "when it was opened". */
const MARKER_GRACE_MS = 600;

export function MessageList({ client, state, bufferKey, onReply }: MessageListProps) {
  const buffer = state.buffers.get(bufferKey);
  if (buffer === undefined) return <div class="log-empty">Nothing here.</div>;
  // One BufferLog per buffer: switching buffers starts with fresh scroll state.
  return <BufferLog key={bufferKey} client={client} state={state} buffer={buffer} bufferKey={bufferKey} onReply={onReply} />;
}

interface BufferLogProps {
  readonly client: ChatClient;
  readonly state: ClientState;
  readonly buffer: ChatBuffer;
  readonly bufferKey: string;
  readonly onReply: (message: ChatMessage) => void;
}

/** Where the user is reading: the first visible row and its distance from the top of the viewport. */
interface Anchor {
  readonly key: string;
  readonly offset: number;
}

function firstVisibleRow(container: HTMLElement): Anchor | undefined {
  const rows = container.querySelectorAll<HTMLElement>('[data-row]:not([data-row="top"])');
  const top = container.scrollTop;
  // Rows are in document order: binary search for the first whose bottom is below the viewport's top.
  let low = 0;
  let high = rows.length - 1;
  let found: HTMLElement | undefined;
  while (low <= high) {
    const middle = (low + high) >> 1;
    const row = rows[middle]!;
    if (row.offsetTop + row.offsetHeight > top) {
      found = row;
      high = middle - 1;
    } else {
      low = middle + 1;
    }
  }
  return found === undefined ? undefined : { key: found.dataset['row'] ?? '', offset: found.offsetTop - top };
}

function isAtBottom(container: HTMLElement): boolean {
  return container.scrollHeight - container.scrollTop - container.clientHeight < BOTTOM_SLACK;
}

/** One page of older history (the engine pages by the oldest chat message, and marks the beginning). */
function fetchOlder(client: ChatClient, buffer: ChatBuffer): Promise<boolean> {
  return client.loadOlder(buffer.name);
}

/** The user's unconfirmed messages shown in this buffer: a whisper in its room, not in the conversation it goes to. */
function pendingFor(state: ClientState, key: string): Outgoing[] {
  return state.outbox.filter((message) => keyOf(state, message.context ?? message.target) === key);
}

function BufferLog({ client, state, buffer, bufferKey, onReply }: BufferLogProps) {
  const messages = buffer.messages;
  const fold: Casefold = foldOf(state);
  const selfFolded = fold(state.nick);
  const pending = pendingFor(state, bufferKey);

  const container = useRef<HTMLDivElement>(null);
  const atBottom = useRef(true);
  const [stuck, setStuck] = useState(true);
  /** The id of the first rendered message once the user scrolled back; undefined: the last WINDOW. */
  const [windowStart, setWindowStart] = useState<string | undefined>(undefined);
  const [loading, setLoading] = useState(false);
  /** Bumped to re-render for a reply jump within the window. */
  const [, setRenders] = useState(0);
  /** loadOlder said there is nothing more (also without chathistory, where historyComplete never comes). */
  const [exhausted, setExhausted] = useState(false);
  /** A history request failed: no more automatic requests until the user asks. */
  const [stalled, setStalled] = useState(false);
  const lastSeen = useRef<string | undefined>(messages.at(-1)?.id);
  const pendingJump = useRef<string | undefined>(undefined);
  const anchor = useRef<Anchor | undefined>(undefined);
  const pendingCount = useRef(pending.length);

  // The read marker as it was when the buffer was opened: the "New" divider stays while the user reads.
  const [openedMarker, setOpenedMarker] = useState(buffer.readMarker);
  const openedAt = useRef(Date.now());
  useEffect(() => {
    if (openedMarker === undefined && buffer.readMarker !== undefined && Date.now() - openedAt.current < MARKER_GRACE_MS) setOpenedMarker(buffer.readMarker);
  }, [buffer.readMarker, openedMarker]);

  const byId = useMemo(() => new Map(messages.map((message) => [message.id, message])), [messages]);
  const anchoredIndex = windowStart === undefined ? -1 : messages.findIndex((message) => message.id === windowStart);
  const start = anchoredIndex >= 0 ? anchoredIndex : Math.max(0, messages.length - WINDOW);

  // Sending a message brings the user back to the bottom, to see it go.
  if (pending.length > pendingCount.current) atBottom.current = true;
  pendingCount.current = pending.length;

  // Before the DOM changes: remember what the user is looking at, to keep it in place after.
  const element = container.current;
  anchor.current = element !== null && !atBottom.current ? firstVisibleRow(element) : undefined;

  const unseen = useMemo(() => {
    if (stuck) return 0;
    const seenIndex = lastSeen.current === undefined ? -1 : messages.findIndex((message) => message.id === lastSeen.current);
    return messages.slice(seenIndex + 1).filter((message) => !message.self && isChatKind(message)).length;
  }, [messages, stuck]);

  const loadMore = useCallback(() => {
    const current = client.state.buffers.get(bufferKey);
    if (current === undefined) return;
    if (start > 0) {
      setWindowStart(current.messages[Math.max(0, start - PAGE)]?.id);
      return;
    }
    if (loading || exhausted || current.historyComplete) return;
    setLoading(true);
    fetchOlder(client, current)
      .then((more) => {
        if (!more) setExhausted(true);
      })
      .catch(() => {
        // Not connected, or refused: stop fetching by itself; the button above the log tries again.
        setStalled(true);
      })
      .finally(() => {
        setLoading(false);
        // Show what came: the window starts at the oldest message in memory now.
        setWindowStart(client.state.buffers.get(bufferKey)?.messages[0]?.id);
      });
  }, [client, bufferKey, start, loading, exhausted]);

  const onScroll = () => {
    const list = container.current;
    if (list === null) return;
    const bottom = isAtBottom(list);
    atBottom.current = bottom;
    if (bottom !== stuck) setStuck(bottom);
    if (bottom) {
      lastSeen.current = client.state.buffers.get(bufferKey)?.messages.at(-1)?.id;
      // Back at the bottom: drop what was scrolled back into, to render only the last WINDOW again.
      if (windowStart !== undefined && messages.length - start > WINDOW + PAGE) setWindowStart(undefined);
    }
    if (list.scrollTop < TOP_TRIGGER && !stalled) loadMore();
  };

  // After the DOM changed: stick to the bottom, or put the row the user was reading back where it was.
  useLayoutEffect(() => {
    const list = container.current;
    if (list === null) return;
    const jump = pendingJump.current;
    if (jump !== undefined) {
      const target = document.getElementById(messageDomId(jump));
      if (target !== null) {
        pendingJump.current = undefined;
        atBottom.current = false;
        target.scrollIntoView({ block: 'center' });
        target.focus({ preventScroll: true });
        target.classList.add('is-flash');
        setTimeout(() => { target.classList.remove('is-flash'); }, 1600);
        return;
      }
    }
    if (atBottom.current) {
      list.scrollTop = list.scrollHeight;
      lastSeen.current = messages.at(-1)?.id;
      return;
    }
    const saved = anchor.current;
    if (saved === undefined) return;
    const row = list.querySelector<HTMLElement>(`[data-row="${CSS.escape(saved.key)}"]`);
    if (row !== null) list.scrollTop = row.offsetTop - saved.offset;
  });

  // The log must fill the screen before the user can scroll: fetch older pages until it does (or there are none).
  useEffect(() => {
    const list = container.current;
    if (list === null || loading || stalled) return;
    if (list.scrollHeight <= list.clientHeight + TOP_TRIGGER && (start > 0 || (!buffer.historyComplete && !exhausted))) loadMore();
  }, [messages.length, loading, stalled, exhausted, buffer.historyComplete, start, loadMore]);

  // A resize (the composer growing, the window) keeps a stuck log at the bottom.
  useEffect(() => {
    const list = container.current;
    if (list === null) return undefined;
    const observer = new ResizeObserver(() => {
      if (atBottom.current) list.scrollTop = list.scrollHeight;
    });
    observer.observe(list);
    return () => {
      observer.disconnect();
    };
  }, []);

  const jumpToLatest = () => {
    atBottom.current = true;
    setStuck(true);
    setWindowStart(undefined);
    const list = container.current;
    if (list !== null) list.scrollTop = list.scrollHeight;
  };

  // Stable callbacks for the memoized messages: they read what changes through refs.
  const startRef = useRef(start);
  startRef.current = start;
  const replyRef = useRef(onReply);
  replyRef.current = onReply;
  const reply = useCallback((message: ChatMessage) => {
    replyRef.current(message);
  }, []);
  const onJump = useCallback(
    (id: string) => {
      const current = client.state.buffers.get(bufferKey)?.messages ?? [];
      const index = current.findIndex((message) => message.id === id);
      if (index === -1) return;
      pendingJump.current = id;
      // Bring the parent into the rendered window if it is above it; the layout effect scrolls to it.
      if (index < startRef.current) setWindowStart(current[Math.max(0, index - 20)]?.id);
      setRenders((count) => count + 1);
    },
    [client, bufferKey],
  );

  const onKeyDown = (event: KeyboardEvent) => {
    if (event.key !== 'ArrowUp' && event.key !== 'ArrowDown') return;
    const list = container.current;
    const target = event.target;
    if (list === null || !(target instanceof HTMLElement)) return;
    const rows = [...list.querySelectorAll<HTMLElement>('article.msg[tabindex]')];
    if (rows.length === 0) return;
    const index = rows.indexOf(target);
    if (index === -1 && target !== list) return;
    event.preventDefault();
    const next = index === -1 ? rows.at(-1) : rows[event.key === 'ArrowUp' ? Math.max(0, index - 1) : Math.min(rows.length - 1, index + 1)];
    next?.focus();
  };

  const complete = start === 0 && (buffer.historyComplete || exhausted);
  const label = buffer.kind === 'server' ? 'Server messages' : `Messages in ${buffer.name}`;

  return (
    <div class="log-wrap">
      <div ref={container} class="log" role="log" aria-live="polite" aria-label={label} tabIndex={0} onScroll={onScroll} onKeyDown={onKeyDown}>
        <div class="log-top" data-row="top">
          {complete ? (
            <p class="log-beginning">Beginning of the conversation</p>
          ) : loading ? (
            <p class="log-loading" role="status">
              Loading older messages…
            </p>
          ) : (
            <p class="log-more">
              <button
                type="button"
                class="m-button is-quiet"
                onClick={() => {
                  setStalled(false);
                  loadMore();
                }}
              >
                Load older messages
              </button>
            </p>
          )}
        </div>
        {renderRows({ client, buffer, messages, start, openedMarker, byId, fold, selfFolded, onReply: reply, onJump })}
        {pending.map((message, index) => (
          <div key={message.id} data-row={message.id}>
            <PendingMessage
              nick={state.nick}
              text={message.text}
              action={message.action}
              time={Date.now()}
              fold={fold}
              // A whisper keeps its header, which says to whom it goes.
              continued={message.context === undefined && (index > 0 ? pending[index - 1]?.context === undefined : lastIsOwn(messages, fold, selfFolded))}
              whisperTo={message.context === undefined ? undefined : message.target}
            />
          </div>
        ))}
        {messages.length === 0 && pending.length === 0 && complete && <p class="log-empty">No messages yet. Say hello!</p>}
      </div>
      {!stuck && (
        <button type="button" class="jump-latest" onClick={jumpToLatest}>
          {unseen > 0 ? `${unseen} new ${unseen === 1 ? 'message' : 'messages'} · Jump to latest` : 'Jump to latest'}
          <span aria-hidden="true"> ↓</span>
        </button>
      )}
    </div>
  );
}

function lastIsOwn(messages: readonly ChatMessage[], fold: Casefold, selfFolded: string): boolean {
  const last = messages.at(-1);
  return last !== undefined && isChatKind(last) && last.whisper === undefined && fold(last.from) === selfFolded && Date.now() - last.time < GROUP_MS;
}

interface RowsInput {
  readonly client: ChatClient;
  readonly buffer: ChatBuffer;
  readonly messages: readonly ChatMessage[];
  readonly start: number;
  readonly openedMarker: number | undefined;
  readonly byId: ReadonlyMap<string, ChatMessage>;
  readonly fold: Casefold;
  readonly selfFolded: string;
  readonly onReply: (message: ChatMessage) => void;
  readonly onJump: (id: string) => void;
}

/** The rendered rows: day separators, the "New" divider, and each message grouped with the one before when it may. */
function renderRows({ client, buffer, messages, start, openedMarker, byId, fold, selfFolded, onReply, onJump }: RowsInput): ComponentChild[] {
  const rows: ComponentChild[] = [];
  const now = Date.now();
  let previous: ChatMessage | undefined = start > 0 ? messages[start - 1] : undefined;
  let dividerShown = false;
  for (let index = start; index < messages.length; index++) {
    const message = messages[index]!;
    let breaks = false;
    if (previous === undefined || !sameDay(previous.time, message.time)) {
      const day = formatDay(message.time, now);
      rows.push(
        <div key={`day-${message.id}`} data-row={`day-${message.id}`} class="day-separator" role="separator" aria-label={day}>
          <span>{day}</span>
        </div>,
      );
      breaks = true;
    }
    if (!dividerShown && openedMarker !== undefined && message.time > openedMarker && !message.self && isChatKind(message)) {
      dividerShown = true;
      rows.push(
        <div key="new-divider" data-row="new-divider" class="new-divider" role="separator" aria-label="New messages">
          <span>New</span>
        </div>,
      );
      breaks = true;
    }
    if (isChatKind(message)) {
      const continued =
        !breaks &&
        previous !== undefined &&
        isChatKind(previous) &&
        previous.kind !== 'notice' &&
        message.kind !== 'notice' &&
        message.replyTo === undefined &&
        fold(previous.from) === fold(message.from) &&
        // Whispers group only with whispers of the same two people, so none reads as said to the room.
        fold(previous.whisper?.with ?? '') === fold(message.whisper?.with ?? '') &&
        message.time - previous.time < GROUP_MS;
      rows.push(
        <div key={message.id} data-row={message.id}>
          <Message
            client={client}
            bufferName={buffer.name}
            message={message}
            continued={continued}
            parent={message.replyTo === undefined ? undefined : byId.get(message.replyTo)}
            fold={fold}
            selfFolded={selfFolded}
            onReply={onReply}
            onJump={onJump}
          />
        </div>,
      );
    } else {
      rows.push(
        <div key={message.id} data-row={message.id}>
          <EventLine message={message} />
        </div>,
      );
    }
    previous = message;
  }
  return rows;
}
