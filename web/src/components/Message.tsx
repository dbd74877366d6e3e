/**
 * One message of the log. User text is only ever rendered as text nodes and http(s) links (text.ts linkify), never as
 * HTML. Memoized: a message object is immutable (src/client/state.ts), so a re-render is only needed when it, its
 * grouping or its reply parent changes.
 */
import { memo } from 'preact/compat';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { ChatClient, ChatMessage } from '../../../src/client/index.js';
import type { Casefold } from '../../../src/protocol/casemapping.js';
import { firstLine, formatFull, formatTime, initials, linkify, nickColor } from '../text.js';
import { EmojiPicker } from './EmojiPicker.js';
import { InlineImages } from './InlineImage.js';
import { ViewOnceBody } from './ViewOnce.js';

/** The DOM id of a message's element, for reply jumps. */
export function messageDomId(id: string): string {
  return `msg-${id.replace(/[^A-Za-z0-9_-]/g, '_')}`;
}

/** Only messages with a server msgid can be reacted to, replied to or deleted. */
export function hasMsgid(message: ChatMessage): boolean {
  return !message.id.startsWith('local:') && !message.id.startsWith('out:');
}

const CHAT_KINDS = new Set(['privmsg', 'notice', 'action']);

export function isChatKind(message: ChatMessage): boolean {
  return CHAT_KINDS.has(message.kind);
}

/**
 * Where a message's reactions and deletion go: a whisper belongs to the two parties' conversation (it is not in the
 * room's history, and the room must not learn of it), anything else to the buffer it is shown in.
 */
export function conversationOf(message: ChatMessage, bufferName: string): string {
  return message.whisper?.with ?? bufferName;
}

/** How a whisper is marked: to whom, or that it came to this user; in a conversation, the room it was said in. */
export function whisperLabel(message: ChatMessage, bufferName: string, fold: Casefold): string | undefined {
  const whisper = message.whisper;
  if (whisper === undefined) return undefined;
  if (fold(bufferName) !== fold(whisper.room)) return `whisper in ${whisper.room}`;
  return message.self ? `whisper to ${whisper.with}` : 'whispered to you';
}

/** The lock and words that mark a whisper, in the header of a message (a sent one too, while it is sending). */
export function WhisperMark({ label }: { readonly label: string }) {
  return (
    <span class="msg-whisper">
      <span class="msg-whisper-icon" aria-hidden="true">
        🔒
      </span>
      {label}
    </span>
  );
}

/** Text with its http(s) links clickable; newlines are kept by CSS (white-space: pre-wrap). */
export function RichText({ text }: { readonly text: string }) {
  return (
    <>
      {linkify(text).map((segment, index) =>
        segment.kind === 'link' ? (
          <a key={index} href={segment.href} target="_blank" rel="noopener noreferrer">
            {segment.text}
          </a>
        ) : (
          segment.text
        ),
      )}
    </>
  );
}

export function Avatar({ nick, fold }: { readonly nick: string; readonly fold: Casefold }) {
  return (
    <span class={`msg-avatar nick-bg-${nickColor(fold(nick))}`} aria-hidden="true">
      {initials(nick)}
    </span>
  );
}

export function Time({ time, class: className }: { readonly time: number; readonly class?: string }) {
  return (
    <time class={className ?? 'msg-time'} dateTime={new Date(time).toISOString()} title={formatFull(time)}>
      {formatTime(time)}
    </time>
  );
}

interface ReplyQuoteProps {
  readonly parent: ChatMessage | undefined;
  readonly fold: Casefold;
  readonly onJump: (id: string) => void;
  readonly parentId: string;
}

function ReplyQuote({ parent, fold, onJump, parentId }: ReplyQuoteProps) {
  if (parent === undefined) {
    return (
      <div class="reply-quote is-missing">
        <span class="reply-icon" aria-hidden="true">↩</span> original message not loaded
      </div>
    );
  }
  const text = parent.redacted === true ? 'message deleted' : firstLine(parent.text);
  return (
    <button
      type="button"
      class="reply-quote"
      title="Show the original"
      onClick={() => {
        onJump(parentId);
      }}
    >
      <span class="reply-icon" aria-hidden="true">
        ↩
      </span>
      <span class="visually-hidden">{`In reply to ${parent.from}: ${text}`}</span>
      <span class={`reply-from nick-fg-${nickColor(fold(parent.from))}`} aria-hidden="true">
        {parent.from}
      </span>
      <span class={parent.redacted === true ? 'reply-text is-deleted' : 'reply-text'} aria-hidden="true">
        {text}
      </span>
    </button>
  );
}

interface ReactionsProps {
  readonly reactions: Readonly<Record<string, readonly string[]>>;
  readonly selfFolded: string;
  readonly fold: Casefold;
  readonly tabIndex: number;
  readonly onToggle: (emoji: string, mine: boolean) => void;
}

function whoReacted(nicks: readonly string[], emoji: string): string {
  const names = nicks.length <= 2 ? nicks.join(' and ') : `${nicks.slice(0, -1).join(', ')} and ${nicks.at(-1) ?? ''}`;
  return `${names} reacted with ${emoji}`;
}

function Reactions({ reactions, selfFolded, fold, tabIndex, onToggle }: ReactionsProps) {
  const entries = Object.entries(reactions).filter(([, nicks]) => nicks.length > 0);
  if (entries.length === 0) return null;
  return (
    <div class="reactions" role="group" aria-label="Reactions">
      {entries.map(([emoji, nicks]) => {
        const mine = nicks.some((nick) => fold(nick) === selfFolded);
        return (
          <button
            key={emoji}
            type="button"
            class={mine ? 'reaction is-mine' : 'reaction'}
            aria-pressed={mine}
            aria-label={`${emoji} ${nicks.length}: ${whoReacted(nicks, emoji)}`}
            title={whoReacted(nicks, emoji)}
            tabIndex={tabIndex}
            onClick={() => { onToggle(emoji, mine); }}
          >
            <span class="reaction-emoji">{emoji}</span>
            <span class="reaction-count">{nicks.length}</span>
          </button>
        );
      })}
    </div>
  );
}

export interface MessageProps {
  readonly client: ChatClient;
  readonly bufferName: string;
  readonly message: ChatMessage;
  /** Follows a message of the same sender within a few minutes: no header of its own. */
  readonly continued: boolean;
  /** The message this one replies to, when it is loaded. */
  readonly parent: ChatMessage | undefined;
  readonly fold: Casefold;
  readonly selfFolded: string;
  readonly onReply: (message: ChatMessage) => void;
  readonly onJump: (id: string) => void;
}

function MessageView({ client, bufferName, message, continued, parent, fold, selfFolded, onReply, onJump }: MessageProps) {
  const [active, setActive] = useState(false);
  const [picking, setPicking] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const reactButton = useRef<HTMLButtonElement>(null);
  const deleteButton = useRef<HTMLButtonElement>(null);
  const confirmButton = useRef<HTMLButtonElement>(null);
  const deleted = message.redacted === true;
  const actionable = hasMsgid(message) && !deleted && isChatKind(message);
  const own = message.self;
  // Inner controls are tabbable only while the message has focus, so Tab does not walk every message's buttons.
  const innerTab = active || picking || confirming ? 0 : -1;

  useEffect(() => {
    if (confirming) confirmButton.current?.focus();
  }, [confirming]);

  const conversation = conversationOf(message, bufferName);
  const whisper = whisperLabel(message, bufferName, fold);
  const toggle = (emoji: string, mine: boolean) => {
    const done = mine ? client.unreact(conversation, message.id, emoji) : client.react(conversation, message.id, emoji);
    // A refusal is shown as a note by the engine's reducer.
    done.catch(() => undefined);
  };
  const mineSet = new Set(Object.entries(message.reactions ?? {}).filter(([, nicks]) => nicks.some((nick) => fold(nick) === selfFolded)).map(([emoji]) => emoji));
  const closePicker = () => {
    setPicking(false);
    reactButton.current?.focus();
  };
  const pick = (emoji: string) => {
    toggle(emoji, mineSet.has(emoji));
    closePicker();
  };
  const redact = () => {
    setConfirming(false);
    client.redact(conversation, message.id).catch(() => undefined);
  };
  const cancelDelete = () => {
    setConfirming(false);
    deleteButton.current?.focus();
  };

  const classes = ['msg', `kind-${message.kind}`];
  if (continued) classes.push('is-continued');
  if (message.highlight) classes.push('is-highlight');
  if (own) classes.push('is-own');
  if (deleted) classes.push('is-deleted');
  if (whisper !== undefined) classes.push('is-whisper');
  if (picking || confirming) classes.push('is-engaged');
  const color = nickColor(fold(message.from));

  return (
    <article
      id={messageDomId(message.id)}
      class={classes.join(' ')}
      tabIndex={-1}
      data-msgid={message.id}
      aria-label={continued ? undefined : `${message.from}, ${whisper === undefined ? '' : `${whisper}, `}${formatTime(message.time)}`}
      onFocusIn={() => { setActive(true); }}
      onFocusOut={(event) => {
        const next = event.relatedTarget;
        if (!(next instanceof Node) || !event.currentTarget.contains(next)) setActive(false);
      }}
    >
      <div class="msg-gutter">{continued ? <Time time={message.time} class="msg-time is-gutter" /> : <Avatar nick={message.from} fold={fold} />}</div>
      <div class="msg-main">
        {!continued && (
          <header class="msg-header">
            <span class={`msg-from nick-fg-${color}`}>{message.from}</span>
            {message.bot === true && <span class="msg-badge">bot</span>}
            {message.kind === 'notice' && <span class="msg-badge">notice</span>}
            {whisper !== undefined && <WhisperMark label={whisper} />}
            <Time time={message.time} />
          </header>
        )}
        {continued && <span class="visually-hidden">{whisper === undefined ? `${message.from}: ` : `${message.from}, ${whisper}: `}</span>}
        {message.replyTo !== undefined && !deleted && <ReplyQuote parent={parent} parentId={message.replyTo} fold={fold} onJump={onJump} />}
        <div class="msg-body">
          {deleted ? (
            <span class="msg-deleted">message deleted</span>
          ) : message.viewOnce !== undefined ? (
            <ViewOnceBody client={client} conversation={conversation} message={message} />
          ) : message.kind === 'action' ? (
            <span class="msg-action">
              * {message.from} <RichText text={message.text} />
            </span>
          ) : (
            <RichText text={message.text} />
          )}
        </div>
        {!deleted && <InlineImages text={message.text} from={message.from} />}
        {!deleted && message.reactions !== undefined && <Reactions reactions={message.reactions} selfFolded={selfFolded} fold={fold} tabIndex={innerTab} onToggle={toggle} />}
        {confirming && (
          <div
            class="msg-confirm"
            role="group"
            aria-label="Delete this message?"
            onKeyDown={(event) => {
              if (event.key === 'Escape') {
                event.stopPropagation();
                cancelDelete();
              }
            }}
          >
            <span>Delete this message for everyone?</span>
            <button type="button" class="m-button is-danger" ref={confirmButton} onClick={redact}>
              Delete
            </button>
            <button type="button" class="m-button" onClick={cancelDelete}>
              Cancel
            </button>
          </div>
        )}
      </div>
      {actionable && (
        <div class="msg-toolbar" role="toolbar" aria-label="Message actions">
          <button type="button" ref={reactButton} class="msg-tool" tabIndex={innerTab} aria-label="React" title="React" aria-haspopup="dialog" aria-expanded={picking} onClick={() => { setPicking((open) => !open); }}>
            <span aria-hidden="true">☺</span>
          </button>
          <button type="button" class="msg-tool" tabIndex={innerTab} aria-label="Reply" title="Reply" onClick={() => { onReply(message); }}>
            <span aria-hidden="true">↩</span>
          </button>
          {own && (
            <button type="button" ref={deleteButton} class="msg-tool is-danger" tabIndex={innerTab} aria-label="Delete" title="Delete" onClick={() => { setConfirming(true); }}>
              <span aria-hidden="true">🗑</span>
            </button>
          )}
          {picking && <EmojiPicker onPick={pick} onClose={closePicker} chosen={mineSet} anchor={reactButton.current} />}
        </div>
      )}
    </article>
  );
}

export const Message = memo(MessageView);

/** A compact line for room events (join, part, quit, nick, mode, topic, kick) and the client's own notes. */
function EventLineView({ message }: { readonly message: ChatMessage }) {
  const kind = message.kind;
  const icon = kind === 'join' ? '→' : kind === 'part' || kind === 'quit' || kind === 'kick' ? '←' : kind === 'error' ? '!' : kind === 'info' ? 'i' : '•';
  return (
    <div id={messageDomId(message.id)} class={`event kind-${kind}`} data-msgid={message.id}>
      <span class="event-icon" aria-hidden="true">
        {icon}
      </span>
      <span class="event-text">
        {kind === 'error' && <span class="visually-hidden">Error: </span>}
        <RichText text={message.text} />
      </span>
      <Time time={message.time} class="event-time" />
    </div>
  );
}

export const EventLine = memo(EventLineView);

/** A message the server has not confirmed yet (state.outbox), shown as the user's own with "sending…". */
export function PendingMessage({
  nick,
  text,
  action,
  time,
  fold,
  continued,
  whisperTo,
}: {
  readonly nick: string;
  readonly text: string;
  readonly action: boolean;
  readonly time: number;
  readonly fold: Casefold;
  readonly continued: boolean;
  /** A whisper on its way: to whom. */
  readonly whisperTo?: string | undefined;
}) {
  const whisper = whisperTo === undefined ? undefined : `whisper to ${whisperTo}`;
  const classes = ['msg', 'is-own', 'is-pending'];
  if (continued) classes.push('is-continued');
  if (whisper !== undefined) classes.push('is-whisper');
  return (
    <article class={classes.join(' ')} aria-label={whisper === undefined ? `${nick}, sending` : `${nick}, ${whisper}, sending`}>
      <div class="msg-gutter">{continued ? null : <Avatar nick={nick} fold={fold} />}</div>
      <div class="msg-main">
        {!continued && (
          <header class="msg-header">
            <span class={`msg-from nick-fg-${nickColor(fold(nick))}`}>{nick}</span>
            {whisper !== undefined && <WhisperMark label={whisper} />}
            <span class="msg-sending">sending…</span>
          </header>
        )}
        <div class="msg-body">
          {action ? (
            <span class="msg-action">
              * {nick} <RichText text={text} />
            </span>
          ) : (
            <RichText text={text} />
          )}
          {continued && <span class="msg-sending is-inline">sending…</span>}
        </div>
      </div>
      <span class="visually-hidden">{formatTime(time)}</span>
    </article>
  );
}
