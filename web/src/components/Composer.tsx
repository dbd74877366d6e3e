/**
 * The message box: Enter sends, Shift+Enter starts a new line (the engine sends several lines as one draft/multiline
 * message), "/" runs a slash command (src/client/commands.ts) with a list of the matching ones, Tab completes a
 * member's nick. Stays enabled while disconnected: the engine queues what is sent until it is back.
 *
 * Whisper mode (from the member list, or replying to a whisper): messages go to that member alone, shown in the room,
 * until the "Whispering to" bar is closed; it stays on after sending, so a follow-up is never said to the whole room
 * by surprise. No typing notifications go out meanwhile: the room would see that someone is typing.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { COMMANDS, foldOf, runInput } from '../../../src/client/index.js';
import type { ChatBuffer, ChatClient, ChatMessage, ClientState } from '../../../src/client/index.js';
import { firstLine } from '../text.js';
import { Attach } from './Attach.js';
import { TypingIndicator } from './TypingIndicator.js';
import { ViewOnceToggle, canSendViewOnce, sendViewOnceFrom, useViewOnceMode } from './ViewOnce.js';
import './messages.css';

export interface ComposerProps {
  readonly client: ChatClient;
  readonly state: ClientState;
  readonly bufferKey: string;
  readonly replyTo: ChatMessage | undefined;
  readonly onCancelReply: () => void;
  /** Whisper mode: the member of this room that messages go to. */
  readonly whisperTo: string | undefined;
  readonly onCancelWhisper: () => void;
}

/** What was typed in each buffer and not sent, kept while the page lives. */
const drafts = new Map<string, string>();

interface Suggestion {
  readonly name: string;
  readonly usage: string;
  readonly description: string;
}

/** Commands matching "/pre" while the first word is typed; none once there is a space. */
export function commandSuggestions(text: string): Suggestion[] {
  if (!text.startsWith('/') || text.startsWith('//') || /\s/.test(text)) return [];
  const prefix = text.slice(1).toLowerCase();
  return Object.entries(COMMANDS)
    .filter(([name]) => name.startsWith(prefix))
    .map(([name, command]) => ({ name, usage: command.usage, description: command.description }));
}

interface Completion {
  readonly start: number;
  readonly end: number;
  readonly candidates: readonly string[];
  readonly index: number;
  readonly atStart: boolean;
}

/** The members whose nick starts with the word before the cursor (casefolded), the user's own nick last. */
function nickCandidates(buffer: ChatBuffer | undefined, state: ClientState, prefix: string): string[] {
  if (buffer === undefined || prefix === '') return [];
  const fold = foldOf(state);
  const wanted = fold(prefix);
  const self = fold(state.nick);
  return [...buffer.members.values()]
    .map((member) => member.nick)
    .filter((nick) => fold(nick).startsWith(wanted))
    .sort((a, b) => Number(fold(a) === self) - Number(fold(b) === self) || a.localeCompare(b));
}

function supportsFieldSizing(): boolean {
  return typeof CSS !== 'undefined' && CSS.supports('field-sizing', 'content');
}

export function Composer({ client, state, bufferKey, replyTo, onCancelReply, whisperTo, onCancelWhisper }: ComposerProps) {
  const buffer = state.buffers.get(bufferKey);
  const name = buffer?.name ?? bufferKey;
  const [text, setText] = useState(() => drafts.get(bufferKey) ?? '');
  const [selected, setSelected] = useState(0);
  const [dismissed, setDismissed] = useState(false);
  const [viewOnce, setViewOnce] = useViewOnceMode(bufferKey);
  const offerViewOnce = whisperTo === undefined && canSendViewOnce(client, state, bufferKey);
  const box = useRef<HTMLTextAreaElement>(null);
  const completion = useRef<Completion | undefined>(undefined);
  const listId = `commands-${bufferKey.replace(/[^A-Za-z0-9_-]/g, '_')}`;

  // Another buffer: its own draft, and the box focused for typing.
  useEffect(() => {
    setText(drafts.get(bufferKey) ?? '');
    box.current?.focus();
  }, [bufferKey]);
  useEffect(() => {
    if (replyTo !== undefined || whisperTo !== undefined) box.current?.focus();
  }, [replyTo, whisperTo]);

  // Grow with the text up to the CSS max-height; Chromium and others with field-sizing do it in CSS alone.
  useEffect(() => {
    const element = box.current;
    if (element === null || supportsFieldSizing()) return;
    element.style.height = 'auto';
    element.style.height = `${String(element.scrollHeight)}px`;
  }, [text]);

  const suggestions = dismissed ? [] : commandSuggestions(text);
  const open = suggestions.length > 0;
  const active = Math.min(selected, suggestions.length - 1);

  const update = (value: string) => {
    setText(value);
    drafts.set(bufferKey, value);
    setSelected(0);
    setDismissed(false);
    completion.current = undefined;
    if (value.trim() === '') client.typing(name, 'done');
    else if (!value.startsWith('/') && whisperTo === undefined) client.typing(name, 'active');
  };

  const send = () => {
    const value = text;
    if (value.trim() === '') return;
    update('');
    client.typing(name, 'done');
    if (viewOnce && offerViewOnce && !value.startsWith('/')) {
      sendViewOnceFrom(client, name, value);
      setViewOnce(false);
    } else void runInput(client, name, value, { ...(replyTo === undefined ? {} : { replyTo: replyTo.id }), ...(whisperTo === undefined ? {} : { whisperTo }) });
    if (replyTo !== undefined) onCancelReply();
    box.current?.focus();
  };

  /**
   * An uploaded picture (Attach.tsx): its URL is sent, after what was typed (a command stays in the box); as a
   * view-once message when the toggle is on, so the picture can be seen once (the server deletes the upload after).
   */
  const sendUpload = (url: string) => {
    const typed = text.trim() === '' || text.startsWith('/') ? '' : text.trimEnd();
    if (typed !== '') update('');
    if (viewOnce && offerViewOnce) {
      sendViewOnceFrom(client, name, typed === '' ? url : `${typed} ${url}`);
      setViewOnce(false);
      return;
    }
    void runInput(client, name, typed === '' ? url : `${typed} ${url}`, { ...(replyTo === undefined ? {} : { replyTo: replyTo.id }), ...(whisperTo === undefined ? {} : { whisperTo }) });
    if (replyTo !== undefined) onCancelReply();
  };

  const chooseCommand = (index: number) => {
    const suggestion = suggestions[index];
    if (suggestion === undefined) return;
    update(`/${suggestion.name} `);
    box.current?.focus();
  };

  /** Tab: completes the nick being typed, and cycles through the other matches on the next Tab. */
  const completeNick = (element: HTMLTextAreaElement): boolean => {
    const previous = completion.current;
    if (previous !== undefined && element.selectionStart === previous.end) {
      const index = (previous.index + 1) % previous.candidates.length;
      return applyCompletion(element, { ...previous, index });
    }
    const cursor = element.selectionStart;
    const before = text.slice(0, cursor);
    const start = before.search(/\S+$/);
    if (start === -1) return false;
    const candidates = nickCandidates(buffer, state, before.slice(start));
    if (candidates.length === 0) return false;
    return applyCompletion(element, { start, end: cursor, candidates, index: 0, atStart: start === 0 });
  };

  const applyCompletion = (element: HTMLTextAreaElement, next: Completion): boolean => {
    const nick = next.candidates[next.index] ?? '';
    const insert = next.atStart ? `${nick}: ` : `${nick} `;
    const value = text.slice(0, next.start) + insert + text.slice(next.end);
    const end = next.start + insert.length;
    update(value);
    completion.current = { ...next, end };
    requestAnimationFrame(() => { element.setSelectionRange(end, end); });
    return true;
  };

  const onKeyDown = (event: KeyboardEvent) => {
    const element = event.currentTarget as HTMLTextAreaElement;
    if (event.isComposing) return;
    if (open && (event.key === 'ArrowDown' || event.key === 'ArrowUp')) {
      event.preventDefault();
      const step = event.key === 'ArrowDown' ? 1 : -1;
      setSelected((active + step + suggestions.length) % suggestions.length);
      return;
    }
    if (open && (event.key === 'Tab' || (event.key === 'Enter' && !event.shiftKey && `/${suggestions[active]?.name ?? ''}` !== text))) {
      event.preventDefault();
      chooseCommand(active);
      return;
    }
    if (event.key === 'Escape') {
      if (open) setDismissed(true);
      else if (replyTo !== undefined) onCancelReply();
      else if (whisperTo !== undefined) onCancelWhisper();
      else return;
      event.preventDefault();
      return;
    }
    if (event.key === 'Enter' && !event.shiftKey) {
      event.preventDefault();
      send();
      return;
    }
    if (event.key === 'Tab' && !event.shiftKey && !event.ctrlKey && !event.altKey && completeNick(element)) event.preventDefault();
  };

  const placeholder = buffer?.kind === 'server' ? 'Type /join #room or /help' : whisperTo !== undefined ? `Whisper to ${whisperTo}` : `Message ${name}`;
  const whisperBarId = `whisper-${bufferKey.replace(/[^A-Za-z0-9_-]/g, '_')}`;
  const offline = state.status !== 'connected';

  return (
    <div class="composer">
      <TypingIndicator state={state} bufferKey={bufferKey} />
      {open && (
        <ul class="command-list" id={listId} role="listbox" aria-label="Commands">
          {suggestions.map((suggestion, index) => (
            <li
              key={suggestion.name}
              id={`${listId}-${suggestion.name}`}
              role="option"
              aria-selected={index === active}
              class={index === active ? 'command is-active' : 'command'}
              onMouseDown={(event) => {
                // Keep the focus in the box.
                event.preventDefault();
                chooseCommand(index);
              }}
            >
              <span class="command-usage">{suggestion.usage}</span>
              <span class="command-description">{suggestion.description}</span>
            </li>
          ))}
        </ul>
      )}
      {whisperTo !== undefined && (
        <div class="composer-reply composer-whisper" id={whisperBarId}>
          <span class="reply-icon" aria-hidden="true">
            🔒
          </span>
          <span class="composer-reply-text">
            <span>
              Whispering to <strong>{whisperTo}</strong>
            </span>
            <span class="composer-reply-quote">· only they will see it</span>
          </span>
          <button type="button" class="msg-tool" aria-label="Stop whispering" title="Stop whispering (Esc)" onClick={onCancelWhisper}>
            ×
          </button>
        </div>
      )}
      {replyTo !== undefined && (
        <div class="composer-reply">
          <span class="reply-icon" aria-hidden="true">
            ↩
          </span>
          <span class="composer-reply-text">
            Replying to <strong>{replyTo.from}</strong>
            <span class="composer-reply-quote">{firstLine(replyTo.redacted === true ? 'message deleted' : replyTo.text, 100)}</span>
          </span>
          <button type="button" class="msg-tool" aria-label="Cancel reply" title="Cancel reply (Esc)" onClick={onCancelReply}>
            ×
          </button>
        </div>
      )}
      <form
        class="composer-form"
        onSubmit={(event) => {
          event.preventDefault();
          send();
        }}
      >
        <Attach state={state} bufferKey={bufferKey} onUploaded={sendUpload} />
        <textarea
          ref={box}
          class="composer-input"
          aria-label={`Message ${name}`}
          aria-describedby={whisperTo === undefined ? undefined : whisperBarId}
          placeholder={placeholder}
          rows={1}
          value={text}
          enterkeyhint="send"
          aria-controls={open ? listId : undefined}
          aria-activedescendant={open ? `${listId}-${suggestions[active]?.name ?? ''}` : undefined}
          aria-autocomplete="list"
          onInput={(event) => {
            update(event.currentTarget.value);
          }}
          onKeyDown={onKeyDown}
        />
        {offerViewOnce && <ViewOnceToggle pressed={viewOnce} onChange={setViewOnce} />}
        <button type="submit" class="composer-send" disabled={text.trim() === ''} aria-label="Send" title="Send (Enter)">
          <svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true" focusable="false">
            <path d="M3 20.5v-6.2l9-2.3-9-2.3V3.5L22 12z" fill="currentColor" />
          </svg>
        </button>
      </form>
      {offline && (
        <p class="composer-hint" role="status">
          {state.status === 'disconnected' ? 'Not connected.' : 'Reconnecting…'} Messages are sent once the connection is back.
        </p>
      )}
      {!offline && <p class="composer-hint is-quiet">Enter to send · Shift+Enter for a new line · /help for commands</p>}
    </div>
  );
}
