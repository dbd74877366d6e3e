/**
 * View-once messages in the web client (natter.chat/view-once, docs/extensions/view-once.md).
 *
 * A received one shows sealed with an "Open" button. Opening asks the server for the content (released once), which
 * lives only in this component's memory while it is shown: never in the engine's state, storage or notifications.
 * Closing it (or leaving: switching buffers, hiding the page) forgets it, and the message then shows "Opened". A
 * picture (the content is a URL of an upload on this server) is fetched without caching and shown from a blob URL that
 * is revoked on close. The sender's own copy shows "View-once message sent".
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { VIEW_ONCE } from '../../../src/client/index.js';
import type { ChatClient, ChatMessage, ClientState } from '../../../src/client/index.js';
import { RichText } from './Message.js';
import './viewonce.css';

/** An http(s) URL of a file under this server's /uploads/, which may be a picture; undefined for other text. */
export function uploadUrl(content: string, origin: string): string | undefined {
  const text = content.trim();
  if (/\s/.test(text)) return undefined;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return undefined;
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.origin !== origin || !url.pathname.startsWith('/uploads/')) return undefined;
  return url.href;
}

type Shown = { readonly kind: 'text'; readonly text: string } | { readonly kind: 'image'; readonly src: string; readonly href: string };

/** Fetches an upload without caching; a picture comes back as a blob URL (the caller revokes it), anything else as its link. */
async function showContent(content: string): Promise<Shown> {
  const href = uploadUrl(content, window.location.origin);
  if (href === undefined) return { kind: 'text', text: content };
  try {
    const response = await fetch(href, { cache: 'no-store', credentials: 'same-origin' });
    const blob = await response.blob();
    if (response.ok && blob.type.startsWith('image/')) return { kind: 'image', src: URL.createObjectURL(blob), href };
  } catch {
    // Not fetchable (deleted already?): the link is shown instead.
  }
  return { kind: 'text', text: content };
}

function Seal() {
  return (
    <span class="viewonce-icon" aria-hidden="true">
      ①
    </span>
  );
}

export interface ViewOnceBodyProps {
  readonly client: ChatClient;
  /** Where the message was said (its room, or the conversation). */
  readonly conversation: string;
  readonly message: ChatMessage;
}

/** The body of a view-once message, in place of its text. */
export function ViewOnceBody({ client, conversation, message }: ViewOnceBodyProps) {
  const [shown, setShown] = useState<Shown | undefined>(undefined);
  const [opening, setOpening] = useState(false);
  const [error, setError] = useState<string | undefined>(undefined);
  const closeButton = useRef<HTMLButtonElement>(null);
  const state = message.viewOnce?.state ?? 'sealed';

  const close = () => {
    setShown((current) => {
      if (current?.kind === 'image') URL.revokeObjectURL(current.src);
      return undefined;
    });
  };

  // Leaving (the message leaves the page, or the page is hidden) forgets the content as closing does.
  useEffect(() => {
    if (shown === undefined) return undefined;
    const hidden = () => {
      if (document.visibilityState === 'hidden') close();
    };
    document.addEventListener('visibilitychange', hidden);
    return () => {
      document.removeEventListener('visibilitychange', hidden);
      if (shown.kind === 'image') URL.revokeObjectURL(shown.src);
    };
  }, [shown]);

  useEffect(() => {
    if (shown !== undefined) closeButton.current?.focus();
  }, [shown]);

  const open = () => {
    setOpening(true);
    setError(undefined);
    client
      .openViewOnce(conversation, message.id)
      .then(showContent)
      .then(setShown)
      .catch((failure: unknown) => {
        // ALREADY_OPENED and NOT_FOUND mark the message in the state; anything else is said here.
        setError(failure instanceof Error ? failure.message : 'Could not open it');
      })
      .finally(() => {
        setOpening(false);
      });
  };

  if (message.self || state === 'sent') {
    return (
      <span class="viewonce is-sent">
        <Seal />
        <span>View-once message sent</span>
      </span>
    );
  }
  if (shown !== undefined) {
    return (
      <div class="viewonce-open" role="group" aria-label="View-once message">
        <div class="viewonce-content">
          {shown.kind === 'image' ? <img class="viewonce-image" src={shown.src} alt="View-once picture" /> : <RichText text={shown.text} />}
        </div>
        <div class="viewonce-footer">
          <span class="viewonce-note">Shown once: it is gone when you close it.</span>
          <button type="button" class="m-button" ref={closeButton} onClick={close}>
            Close
          </button>
        </div>
      </div>
    );
  }
  if (state === 'opened' || state === 'gone') {
    return (
      <span class="viewonce is-spent">
        <Seal />
        <span>{state === 'opened' ? 'Opened' : 'View-once message no longer available'}</span>
      </span>
    );
  }
  return (
    <span class="viewonce is-sealed">
      <Seal />
      <span>View-once message</span>
      <button type="button" class="m-button viewonce-open-button" aria-label="Open view-once message" disabled={opening} onClick={open}>
        {opening ? 'Opening…' : 'Open'}
      </button>
      {error !== undefined && (
        <span class="viewonce-error" role="alert">
          {error}
        </span>
      )}
    </span>
  );
}

/** View-once mode of the composer: off again after each message sent and when the buffer changes. */
export function useViewOnceMode(bufferKey: string): [boolean, (on: boolean) => void] {
  const [on, setOn] = useState(false);
  useEffect(() => {
    setOn(false);
  }, [bufferKey]);
  return [on, setOn];
}

/** Whether the composer may offer view-once: the server supports it, and the buffer is a room or a conversation. */
export function canSendViewOnce(client: ChatClient, state: ClientState, bufferKey: string): boolean {
  const kind = state.buffers.get(bufferKey)?.kind;
  return (kind === 'room' || kind === 'dm') && client.hasCap(VIEW_ONCE) && client.hasCap('message-tags');
}

/** Sends the composer's text as a view-once message; a refusal is told in the buffer (the content is not repeated). */
export function sendViewOnceFrom(client: ChatClient, target: string, text: string): void {
  client.sendViewOnce(target, text).catch((failure: unknown) => {
    const reason = failure instanceof Error ? failure.message : 'refused';
    client.act({ type: 'note', name: target, text: `View-once message not sent: ${reason}`, kind: 'error', time: Date.now() });
  });
}

export interface ViewOnceToggleProps {
  readonly pressed: boolean;
  readonly onChange: (on: boolean) => void;
}

/** The composer's "Send as view-once" toggle. */
export function ViewOnceToggle({ pressed, onChange }: ViewOnceToggleProps) {
  return (
    <button
      type="button"
      class={pressed ? 'viewonce-toggle is-on' : 'viewonce-toggle'}
      aria-pressed={pressed}
      aria-label="Send as view-once"
      title={pressed ? 'View-once: each recipient sees it once (they can still keep what they see)' : 'Send as view-once'}
      onClick={() => {
        onChange(!pressed);
      }}
    >
      <span aria-hidden="true">①</span>
      {pressed && <span class="viewonce-toggle-label">View once</span>}
    </button>
  );
}
