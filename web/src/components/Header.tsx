/**
 * The top of the conversation: its name, the room's topic (edited in place by whoever may: half-ops and up, or
 * anyone when the room is not +t), member count, the connection's status, and the toggles (members on narrow
 * screens, theme, notifications). Also the small line icons the shell uses (drawn here: no icon font, no request).
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import type { ComponentChildren } from 'preact';
import { myMembership, prefixTable } from '../../../src/client/index.js';
import type { ChatBuffer, ChatClient, ClientState, ConnectionStatus } from '../../../src/client/index.js';
import type { NotificationControl } from '../notifications.js';
import type { Theme } from '../storage.js';

const ICONS = {
  menu: ['M3 6h18', 'M3 12h18', 'M3 18h18'],
  users: ['M17 21v-2a4 4 0 0 0-4-4H5a4 4 0 0 0-4 4v2', 'M9 11a4 4 0 1 0 0-8 4 4 0 0 0 0 8z', 'M23 21v-2a4 4 0 0 0-3-3.87', 'M16 3.13a4 4 0 0 1 0 7.75'],
  sun: ['M12 16a4 4 0 1 0 0-8 4 4 0 0 0 0 8z', 'M12 2v2', 'M12 20v2', 'M4.93 4.93l1.41 1.41', 'M17.66 17.66l1.41 1.41', 'M2 12h2', 'M20 12h2', 'M6.34 17.66l-1.41 1.41', 'M19.07 4.93l-1.41 1.41'],
  moon: ['M21 12.79A9 9 0 1 1 11.21 3 7 7 0 0 0 21 12.79z'],
  bell: ['M18 8A6 6 0 0 0 6 8c0 7-3 9-3 9h18s-3-2-3-9', 'M13.73 21a2 2 0 0 1-3.46 0'],
  bellOff: ['M13.73 21a2 2 0 0 1-3.46 0', 'M18.63 13A17.89 17.89 0 0 1 18 8', 'M6.26 6.26A5.86 5.86 0 0 0 6 8c0 7-3 9-3 9h14', 'M18 8a6 6 0 0 0-9.33-5', 'M1 1l22 22'],
  plus: ['M12 5v14', 'M5 12h14'],
  compass: ['M12 22a10 10 0 1 0 0-20 10 10 0 0 0 0 20z', 'M16.24 7.76l-2.12 6.36-6.36 2.12 2.12-6.36 6.36-2.12z'],
  pencil: ['M12 20h9', 'M16.5 3.5a2.12 2.12 0 0 1 3 3L7 19l-4 1 1-4L16.5 3.5z'],
  close: ['M18 6L6 18', 'M6 6l12 12'],
  signOut: ['M9 21H5a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2h4', 'M16 17l5-5-5-5', 'M21 12H9'],
  hash: ['M4 9h16', 'M4 15h16', 'M10 3L8 21', 'M16 3l-2 18'],
  message: ['M21 15a2 2 0 0 1-2 2H7l-4 4V5a2 2 0 0 1 2-2h14a2 2 0 0 1 2 2z'],
  search: ['M11 19a8 8 0 1 0 0-16 8 8 0 0 0 0 16z', 'M21 21l-4.35-4.35'],
  server: ['M4 4h16v6H4z', 'M4 14h16v6H4z', 'M8 7h.01', 'M8 17h.01'],
} as const;

export type IconName = keyof typeof ICONS;

export function Icon({ name }: { readonly name: IconName }) {
  return (
    <svg class="icon" viewBox="0 0 24 24" aria-hidden="true" focusable="false" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round">
      {ICONS[name].map((d) => (
        <path key={d} d={d} />
      ))}
    </svg>
  );
}

export function IconButton({ label, icon, onClick, expanded, controls, class: extra, children }: {
  readonly label: string;
  readonly icon: IconName;
  readonly onClick: () => void;
  readonly expanded?: boolean;
  readonly controls?: string;
  readonly class?: string;
  readonly children?: ComponentChildren;
}) {
  return (
    <button
      type="button"
      class={`icon-button${extra === undefined ? '' : ` ${extra}`}`}
      aria-label={label}
      title={label}
      aria-expanded={expanded}
      aria-controls={controls}
      onClick={onClick}
    >
      <Icon name={icon} />
      {children}
    </button>
  );
}

/** Half-ops and up set the topic of a +t room (docs/rooms.md); anyone may in a room without +t. */
export function maySetTopic(state: ClientState, buffer: ChatBuffer): boolean {
  if (buffer.kind !== 'room' || !buffer.joined) return false;
  const { symbols } = prefixTable(state);
  const halfop = symbols.indexOf('%') === -1 ? symbols.indexOf('@') : symbols.indexOf('%');
  const mine = symbols.indexOf(myMembership(state, buffer.name)?.prefixes[0] ?? '\0');
  if (mine !== -1 && mine <= halfop) return true;
  // Modes not yet known: a new room is +t, so assume it.
  return buffer.modes !== undefined && !buffer.modes.includes('t');
}

function Topic({ client, state, buffer }: { readonly client: ChatClient; readonly state: ClientState; readonly buffer: ChatBuffer }) {
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState('');
  const [error, setError] = useState<string | undefined>(undefined);
  const input = useRef<HTMLInputElement>(null);
  const editable = maySetTopic(state, buffer);
  useEffect(() => {
    setEditing(false);
    setError(undefined);
  }, [buffer.name]);
  useEffect(() => {
    if (editing) input.current?.select();
  }, [editing]);
  // Whether the room is +t decides who may edit: ask its modes once when they are not known (RPL_CHANNELMODEIS).
  const modesUnknown = buffer.joined && buffer.modes === undefined && state.status === 'connected';
  useEffect(() => {
    if (modesUnknown) client.request('MODE', [buffer.name]).catch(() => undefined);
  }, [client, buffer.name, modesUnknown]);
  if (editing) {
    return (
      <form
        class="topic-form"
        onSubmit={(event) => {
          event.preventDefault();
          client.request('TOPIC', [buffer.name, draft.trim()]).then(
            () => {
              setEditing(false);
            },
            (failure: unknown) => {
              setError(failure instanceof Error ? failure.message : 'The topic could not be set');
            },
          );
        }}
      >
        <input
          ref={input}
          value={draft}
          aria-label={`Topic of ${buffer.name}`}
          maxLength={390}
          onInput={(event) => {
            setDraft(event.currentTarget.value);
          }}
          onKeyDown={(event) => {
            if (event.key === 'Escape') {
              event.stopPropagation();
              setEditing(false);
            }
          }}
        />
        <button type="submit" class="button button-small button-primary">
          Save
        </button>
        <button
          type="button"
          class="button button-small"
          onClick={() => {
            setEditing(false);
          }}
        >
          Cancel
        </button>
        {error !== undefined && (
          <p role="alert" class="field-error">
            {error}
          </p>
        )}
      </form>
    );
  }
  if (buffer.topic === undefined && !editable) return null;
  return (
    <div class="topic">
      <p class={buffer.topic === undefined ? 'topic-text muted' : 'topic-text'} title={buffer.topic}>
        {buffer.topic ?? 'No topic yet'}
      </p>
      {editable && (
        <button
          type="button"
          class="topic-edit"
          aria-label="Edit topic"
          title="Edit topic"
          onClick={() => {
            setDraft(buffer.topic ?? '');
            setError(undefined);
            setEditing(true);
          }}
        >
          <Icon name="pencil" />
        </button>
      )}
    </div>
  );
}

const STATUS_TEXT: Readonly<Record<ConnectionStatus, string>> = {
  connected: 'Connected',
  connecting: 'Connecting…',
  registering: 'Connecting…',
  reconnecting: 'Reconnecting…',
  disconnected: 'Offline',
};

/** Says nothing while connected; otherwise a pill ("Reconnecting…"), announced politely. */
export function ConnectionPill({ status }: { readonly status: ConnectionStatus }) {
  return (
    <span role="status" class="status-slot">
      {status !== 'connected' && <span class={`pill pill-${status === 'disconnected' ? 'danger' : 'warning'}`}>{STATUS_TEXT[status]}</span>}
    </span>
  );
}

export function statusText(status: ConnectionStatus): string {
  return STATUS_TEXT[status];
}

export interface HeaderProps {
  readonly client: ChatClient;
  readonly state: ClientState;
  readonly bufferKey: string;
  readonly navOpen: boolean;
  readonly onOpenNav: () => void;
  readonly membersShown: boolean;
  readonly onToggleMembers: () => void;
  readonly theme: Theme;
  readonly onToggleTheme: () => void;
  readonly notifications: NotificationControl;
  /** Leave the room or close the conversation. */
  readonly onLeave: () => void;
}

function notificationLabel(control: NotificationControl): string {
  switch (control.setting) {
    case 'on':
      return 'Turn off notifications';
    case 'off':
      return 'Enable notifications';
    case 'denied':
      return 'Notifications are blocked in this browser';
    case 'unsupported':
      return 'Notifications are not supported by this browser';
  }
}

export function Header(props: HeaderProps) {
  const { client, state, bufferKey, theme, notifications } = props;
  const buffer = state.buffers.get(bufferKey);
  const isRoom = buffer?.kind === 'room';
  const isServer = buffer === undefined || buffer.kind === 'server';
  const title = isServer ? (state.networkName ?? 'Natter') : buffer.name;
  return (
    <header class="room-header">
      <IconButton class="nav-toggle" label="Open rooms and conversations" icon="menu" expanded={props.navOpen} controls="sidebar" onClick={props.onOpenNav} />
      <div class="room-heading">
        <h1 class="room-name">
          {isRoom && <span class="room-sigil">{buffer.name[0]}</span>}
          <span>{isRoom ? buffer.name.slice(1) : title}</span>
        </h1>
        {isRoom && <Topic client={client} state={state} buffer={buffer} />}
        {buffer?.kind === 'dm' && <p class="topic-text muted">Direct message</p>}
        {isServer && <p class="topic-text muted">Server messages</p>}
      </div>
      <ConnectionPill status={state.status} />
      <div class="header-actions">
        {isRoom && (
          <button
            type="button"
            class="icon-button members-toggle"
            title="Members"
            aria-expanded={props.membersShown}
            aria-controls="members"
            onClick={props.onToggleMembers}
          >
            <Icon name="users" />
            <span class="visually-hidden">{props.membersShown ? 'Hide' : 'Show'} members, </span>
            <span class="members-count">{buffer.members.size}</span>
          </button>
        )}
        <IconButton
          label={notificationLabel(notifications)}
          icon={notifications.setting === 'on' ? 'bell' : 'bellOff'}
          onClick={notifications.toggle}
        />
        <IconButton label={theme === 'dark' ? 'Switch to light theme' : 'Switch to dark theme'} icon={theme === 'dark' ? 'sun' : 'moon'} onClick={props.onToggleTheme} />
        {!isServer && <IconButton label={isRoom ? `Leave ${buffer.name}` : `Close conversation with ${buffer.name}`} icon="signOut" onClick={props.onLeave} />}
      </div>
    </header>
  );
}
