/**
 * The navigation: rooms and direct messages (separate lists) with unread and mention badges, the focused one marked
 * aria-current, actions to join or create a room, browse the directory and start a conversation, and who you are
 * with the connection's status. Also the two small dialogs those actions open.
 */
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { SERVER_BUFFER, bufferKey, foldOf, isRoomName } from '../../../src/client/index.js';
import type { ChatBuffer, ChatClient, ClientState } from '../../../src/client/index.js';
import type { Casefold } from '../../../src/protocol/casemapping.js';
import { Dialog } from './Directory.js';
import { Icon, IconButton, statusText } from './Header.js';
import { Avatar } from './MemberList.js';
import { Logo } from './SignIn.js';

/** The buffers in sidebar order: rooms, then conversations, each by name. */
export function orderedBuffers(state: ClientState): { rooms: ChatBuffer[]; conversations: ChatBuffer[] } {
  const byName = (a: ChatBuffer, b: ChatBuffer): number => a.name.localeCompare(b.name, undefined, { sensitivity: 'base' });
  const all = [...state.buffers.values()];
  return {
    rooms: all.filter((buffer) => buffer.kind === 'room').sort(byName),
    conversations: all.filter((buffer) => buffer.kind === 'dm').sort(byName),
  };
}

/**
 * What the badges say, for screen readers (", not joined, 3 unread, 1 mention"): the button's name is the buffer's
 * name and these; its visible text (the name, the badge's count) is part of it, and its decorations are drawn by CSS.
 */
function describeCounts(buffer: ChatBuffer): string {
  const parts: string[] = [];
  if (buffer.kind === 'room' && !buffer.joined) parts.push('not joined');
  if (buffer.unread > 0) parts.push(`${buffer.unread} unread`);
  if (buffer.mentions > 0 && buffer.kind === 'room') parts.push(`${buffer.mentions} ${buffer.mentions === 1 ? 'mention' : 'mentions'}`);
  return parts.map((part) => `, ${part}`).join('');
}

interface BufferSectionProps {
  readonly id: string;
  readonly title: string;
  /** The label of the section's "+" button. */
  readonly addLabel: string;
  readonly onAdd: () => void;
  readonly buffers: readonly ChatBuffer[];
  readonly state: ClientState;
  readonly fold: Casefold;
  readonly onSelect: (name: string) => void;
  readonly children?: ComponentChildren;
}

/** A titled list of buffers (rooms, or direct messages) with its "+" button, and what follows the list. */
function BufferSection({ id, title, addLabel, onAdd, buffers, state, fold, onSelect, children }: BufferSectionProps) {
  return (
    <section class="sidebar-section" aria-labelledby={id}>
      <div class="section-head">
        <h2 id={id}>{title}</h2>
        <IconButton label={addLabel} icon="plus" onClick={onAdd} />
      </div>
      <ul class="buffer-list">
        {buffers.map((buffer) => (
          <BufferLink key={buffer.name} buffer={buffer} active={bufferKey(state, buffer.name) === state.active} fold={fold} onSelect={onSelect} />
        ))}
      </ul>
      {children}
    </section>
  );
}

interface BufferLinkProps {
  readonly buffer: ChatBuffer;
  readonly active: boolean;
  readonly fold: Casefold;
  readonly onSelect: (name: string) => void;
}

function BufferLink({ buffer, active, fold, onSelect }: BufferLinkProps) {
  const classes = ['buffer-link', active ? 'active' : '', buffer.unread > 0 ? 'unread' : '', buffer.kind === 'room' && !buffer.joined ? 'parted' : ''];
  // In a conversation every message is for you: one badge, in the mention color.
  const badge = buffer.kind === 'dm' ? buffer.unread : buffer.mentions;
  return (
    <li>
      <button
        type="button"
        class={classes.filter((name) => name !== '').join(' ')}
        aria-current={active ? 'page' : undefined}
        aria-label={`${buffer.name}${describeCounts(buffer)}`}
        onClick={() => {
          onSelect(buffer.name);
        }}
      >
        {buffer.kind === 'room' ? <span class="buffer-sigil" data-sigil={buffer.name[0]} aria-hidden="true" /> : <Avatar nick={buffer.name} fold={fold} size="sm" />}
        <span class="buffer-name">{buffer.kind === 'room' ? buffer.name.slice(1) : buffer.name}</span>
        {badge > 0 ? (
          <span class="badge badge-mention" aria-hidden="true">
            {badge}
          </span>
        ) : (
          buffer.unread > 0 && (
            <span class="badge" aria-hidden="true">
              {buffer.unread}
            </span>
          )
        )}
      </button>
    </li>
  );
}

export type SidebarDialog = 'join' | 'directory' | 'message' | 'switch';

export interface SidebarProps {
  readonly state: ClientState;
  readonly open: boolean;
  readonly onSelect: (name: string) => void;
  readonly onDialog: (dialog: SidebarDialog) => void;
  readonly onClose: () => void;
  readonly onSignOut: () => void;
}

export function Sidebar({ state, open, onSelect, onDialog, onClose, onSignOut }: SidebarProps) {
  const { rooms, conversations } = orderedBuffers(state);
  const network = state.networkName ?? 'Natter';
  const fold = foldOf(state);
  const nav = useRef<HTMLElement>(null);
  // Opened as a slide-over (a phone): focus goes into it, on the buffer being looked at.
  useEffect(() => {
    if (!open) return;
    const current = nav.current?.querySelector<HTMLElement>('[aria-current="page"]') ?? nav.current?.querySelector<HTMLElement>('button');
    current?.focus();
  }, [open]);
  return (
    <nav ref={nav} id="sidebar" class={`sidebar${open ? ' open' : ''}`} aria-label="Rooms and conversations">
      <div class="sidebar-head">
        <button
          type="button"
          class={`workspace${state.active === SERVER_BUFFER ? ' active' : ''}`}
          aria-current={state.active === SERVER_BUFFER ? 'page' : undefined}
          aria-label={`${network}, server messages`}
          onClick={() => {
            onSelect(SERVER_BUFFER);
          }}
        >
          <Logo />
          <span class="workspace-name">{network}</span>
        </button>
        <IconButton class="sidebar-close" label="Close navigation" icon="close" onClick={onClose} />
      </div>
      <div class="sidebar-scroll">
        <BufferSection id="rooms-heading" title="Rooms" addLabel="Join or create a room" onAdd={() => {
            onDialog('join');
          }} buffers={rooms} state={state} fold={fold} onSelect={onSelect}>
          <button
            type="button"
            class="sidebar-action"
            onClick={() => {
              onDialog('directory');
            }}
          >
            <Icon name="compass" />
            Browse rooms
          </button>
        </BufferSection>
        <BufferSection id="dms-heading" title="Direct messages" addLabel="New direct message" onAdd={() => {
            onDialog('message');
          }} buffers={conversations} state={state} fold={fold} onSelect={onSelect}>
          {conversations.length === 0 && <p class="sidebar-hint">Click a name in a room, or use +, to message someone.</p>}
        </BufferSection>
      </div>
      <div class="sidebar-foot">
        <span class="me-avatar">
          <Avatar nick={state.nick} fold={fold} />
          <span class={`presence presence-${state.status === 'connected' ? 'online' : 'offline'}`} aria-hidden="true" />
        </span>
        <span class="me-text">
          <span class="me-nick">{state.nick}</span>
          <span class="me-status">{state.status === 'connected' ? (state.account === undefined ? 'Guest' : 'Online') : statusText(state.status)}</span>
        </span>
        <IconButton label="Sign out" icon="signOut" onClick={onSignOut} />
      </div>
    </nav>
  );
}

function errorText(failure: unknown, fallback: string): string {
  return failure instanceof Error && failure.message !== '' ? failure.message : fallback;
}

/** "Join or create a room": a name (the # is added when missing), then JOIN; the server creates rooms that do not exist. */
export function JoinRoomDialog({ client, onClose }: { readonly client: ChatClient; readonly onClose: () => void }) {
  const [name, setName] = useState('');
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const nameId = 'join-room-name';
  return (
    <Dialog title="Join or create a room" description="Type the name of a room. If it does not exist yet, it is created and you run it." onClose={onClose}>
      <form
        class="form"
        onSubmit={(event) => {
          event.preventDefault();
          const trimmed = name.trim();
          const room = isRoomName(client.state, trimmed) ? trimmed : `#${trimmed}`;
          if (trimmed === '' || /[\s,:]/.test(room) || room.includes('\u0007')) {
            setError('A room name has no spaces, commas or colons.');
            return;
          }
          setBusy(true);
          setError(undefined);
          client.join(room).then(
            () => {
              client.act({ type: 'open', name: room });
              onClose();
            },
            (failure: unknown) => {
              setBusy(false);
              setError(errorText(failure, `Could not join ${room}`));
            },
          );
        }}
      >
        <div class="field">
          <label for={nameId}>Room name</label>
          <div class="input-prefix">
            <span aria-hidden="true">#</span>
            <input
              id={nameId}
              value={name}
              placeholder="general"
              autocomplete="off"
              required
              autoFocus
              onInput={(event) => {
                setName(event.currentTarget.value.replace(/^#/, ''));
              }}
            />
          </div>
        </div>
        {error !== undefined && (
          <p role="alert" class="form-error">
            {error}
          </p>
        )}
        <div class="dialog-actions">
          <button type="button" class="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" class="button button-primary" disabled={busy}>
            {busy ? 'Joining…' : 'Join room'}
          </button>
        </div>
      </form>
    </Dialog>
  );
}

/** "New direct message": a nick, then a conversation with them (nothing is sent until you write). */
export function DirectMessageDialog({ client, onClose }: { readonly client: ChatClient; readonly onClose: () => void }) {
  const [nick, setNick] = useState('');
  const [error, setError] = useState<string | undefined>(undefined);
  const nickId = 'direct-message-nick';
  return (
    <Dialog title="New direct message" description="Start a private conversation with someone on this server." onClose={onClose}>
      <form
        class="form"
        onSubmit={(event) => {
          event.preventDefault();
          const target = nick.trim().replace(/^@/, '');
          if (target === '' || /[\s,*?!@]/.test(target) || isRoomName(client.state, target)) {
            setError('Type a nick, such as alice.');
            return;
          }
          client.act({ type: 'open', name: target });
          onClose();
        }}
      >
        <div class="field">
          <label for={nickId}>Nick</label>
          <input
            id={nickId}
            value={nick}
            placeholder="alice"
            autocomplete="off"
            required
            autoFocus
            onInput={(event) => {
              setNick(event.currentTarget.value);
            }}
          />
        </div>
        {error !== undefined && (
          <p role="alert" class="form-error">
            {error}
          </p>
        )}
        <div class="dialog-actions">
          <button type="button" class="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" class="button button-primary">
            Open conversation
          </button>
        </div>
      </form>
    </Dialog>
  );
}

/**
 * Ctrl+K: jump to a room or conversation by typing part of its name; Enter opens the first match, the arrows and
 * Tab walk the list.
 */
export function QuickSwitcher({ state, onSelect, onClose }: { readonly state: ClientState; readonly onSelect: (name: string) => void; readonly onClose: () => void }) {
  const [filter, setFilter] = useState('');
  const list = useRef<HTMLUListElement>(null);
  const { rooms, conversations } = orderedBuffers(state);
  const needle = filter.trim().toLowerCase().replace(/^[#@]/, '');
  const matches = [...rooms, ...conversations]
    .filter((buffer) => buffer.name.toLowerCase().includes(needle))
    // Unread first, then the order of the sidebar.
    .sort((a, b) => Number(b.unread > 0) - Number(a.unread > 0));
  const fold = foldOf(state);
  const choose = (name: string): void => {
    onSelect(name);
    onClose();
  };
  const step = (event: KeyboardEvent, from: number): void => {
    const buttons = [...(list.current?.querySelectorAll<HTMLButtonElement>('button') ?? [])];
    const next = event.key === 'ArrowDown' ? from + 1 : event.key === 'ArrowUp' ? from - 1 : undefined;
    if (next === undefined) return;
    event.preventDefault();
    buttons[Math.max(0, Math.min(buttons.length - 1, next))]?.focus();
  };
  return (
    <Dialog title="Switch to…" description="Type part of the name of a room or a person." onClose={onClose}>
      <form
        class="form"
        onSubmit={(event) => {
          event.preventDefault();
          const first = matches[0];
          if (first !== undefined) choose(first.name);
        }}
      >
        <label class="search-field">
          <Icon name="search" />
          <span class="visually-hidden">Room or person</span>
          <input
            type="search"
            value={filter}
            placeholder="Room or person"
            autoFocus
            onInput={(event) => {
              setFilter(event.currentTarget.value);
            }}
            onKeyDown={(event) => {
              step(event, -1);
            }}
          />
        </label>
      </form>
      {matches.length === 0 ? (
        <p class="muted" role="status">
          Nothing matches.
        </p>
      ) : (
        <ul ref={list} class="buffer-list switcher-list">
          {matches.map((buffer, index) => (
            <li key={buffer.name}>
              <button
                type="button"
                class={`buffer-link${buffer.unread > 0 ? ' unread' : ''}`}
                aria-label={`${buffer.name}${describeCounts(buffer)}`}
                onClick={() => {
                  choose(buffer.name);
                }}
                onKeyDown={(event) => {
                  step(event, index);
                }}
              >
                {buffer.kind === 'room' ? <span class="buffer-sigil" data-sigil={buffer.name[0]} aria-hidden="true" /> : <Avatar nick={buffer.name} fold={fold} size="sm" />}
                <span class="buffer-name">{buffer.kind === 'room' ? buffer.name.slice(1) : buffer.name}</span>
                {buffer.unread > 0 && (
                  <span class={buffer.kind === 'dm' || buffer.mentions > 0 ? 'badge badge-mention' : 'badge'} aria-hidden="true">
                    {buffer.unread}
                  </span>
                )}
              </button>
            </li>
          ))}
        </ul>
      )}
    </Dialog>
  );
}
