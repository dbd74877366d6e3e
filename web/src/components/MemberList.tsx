/**
 * A room's members, grouped by role (PREFIX from ISUPPORT: owners ~, admins &, moderators @, half-ops %, voiced +),
 * away members dimmed. A name opens a small menu: message them, whisper to them in this room, whois, and the
 * moderation the user's own role allows.
 * Also the Avatar the sidebar shares.
 */
import { useEffect, useId, useMemo, useRef, useState } from 'preact/hooks';
import { foldOf, myMembership, prefixTable } from '../../../src/client/index.js';
import type { ChatBuffer, ChatClient, ClientState, Member } from '../../../src/client/index.js';
import type { Casefold } from '../../../src/protocol/casemapping.js';
import { initials, nickColor } from '../text.js';

/**
 * A person's initials on their color: the same helpers and palette (text.ts, messages.css .nick-bg-N) as the message
 * list's avatars, so one person looks the same in the sidebar, the member list and the conversation.
 */
export function Avatar({ nick, fold, size = 'md' }: { readonly nick: string; readonly fold: Casefold; readonly size?: 'sm' | 'md' }) {
  // The letters are drawn by CSS (attr()), so they never leak into the name of the button the avatar sits in.
  return <span class={`user-avatar user-avatar-${size} nick-bg-${nickColor(fold(nick))}`} data-initials={initials(nick)} aria-hidden="true" />;
}

const ROLE_NAMES: Readonly<Record<string, string>> = { '~': 'Owners', '&': 'Admins', '@': 'Moderators', '%': 'Half-ops', '+': 'Voiced' };

interface Group {
  readonly label: string;
  readonly members: readonly Member[];
}

/** Members by their highest prefix, in the server's order of prefixes, then plain members; each group by nick. */
export function groupMembers(state: ClientState, buffer: ChatBuffer): Group[] {
  const { symbols } = prefixTable(state);
  const byNick = (a: Member, b: Member): number => a.nick.localeCompare(b.nick, undefined, { sensitivity: 'base' });
  const all = [...buffer.members.values()];
  const groups: Group[] = [];
  for (const symbol of [...Array.from(symbols), '']) {
    const members = all.filter((member) => (member.prefixes[0] ?? '') === symbol || (symbol === '' && !symbols.includes(member.prefixes[0] ?? ''))).sort(byNick);
    if (members.length > 0) groups.push({ label: symbol === '' ? 'Members' : (ROLE_NAMES[symbol] ?? `Role ${symbol}`), members });
  }
  return groups;
}

/** 0 is the highest role; a member without one ranks below every role. */
function rank(state: ClientState, member: Member | undefined): number {
  const { symbols } = prefixTable(state);
  const index = symbols.indexOf(member?.prefixes[0] ?? '');
  return index === -1 || member?.prefixes === '' ? symbols.length : index;
}

/**
 * The user may moderate this member: an operator or higher (docs/rooms.md), acting on members up to operator (or
 * anyone, for the highest role). The server decides in the end; this only hides what would be refused.
 */
function mayModerate(state: ClientState, room: string, target: Member): boolean {
  const { symbols } = prefixTable(state);
  const op = symbols.indexOf('@');
  if (op === -1) return false;
  const mine = rank(state, myMembership(state, room));
  return mine <= op && (mine === 0 || rank(state, target) >= op);
}

/** The mute extban's mask (EXTBAN=<prefix>,<types> with type m), or undefined when the server has none. */
function muteMask(state: ClientState, nick: string): string | undefined {
  const extban = state.isupport.get('EXTBAN');
  if (extban === undefined) return undefined;
  const [prefix = '', types = ''] = extban.split(',');
  return types.includes('m') ? `${prefix}m:${nick}!*@*` : undefined;
}

interface Action {
  readonly label: string;
  readonly danger?: boolean;
  /** A message to the server (a refusal is shown by the reducer, as a note in the room), or a local action. */
  readonly requests?: ReadonlyArray<readonly [command: string, params: readonly string[]]>;
  readonly open?: string;
  /** Puts the composer in whisper mode to this member (a whisper needs message-tags to carry its room). */
  readonly whisper?: string;
}

function memberActions(state: ClientState, room: string, member: Member): Action[] {
  const self = foldOf(state)(member.nick) === foldOf(state)(state.nick);
  const actions: Action[] = [];
  if (!self) actions.push({ label: 'Message', open: member.nick });
  if (!self && state.caps.has('message-tags')) actions.push({ label: 'Whisper', whisper: member.nick });
  actions.push({ label: 'Whois', requests: [['WHOIS', [member.nick]]] });
  if (self || !mayModerate(state, room, member)) return actions;
  const isOp = member.prefixes.includes('@');
  const isVoiced = member.prefixes.includes('+');
  actions.push(
    { label: isOp ? 'Remove moderator' : 'Make moderator', requests: [['MODE', [room, isOp ? '-o' : '+o', member.nick]]] },
    { label: isVoiced ? 'Remove voice' : 'Give voice', requests: [['MODE', [room, isVoiced ? '-v' : '+v', member.nick]]] },
  );
  const mute = muteMask(state, member.nick);
  if (mute !== undefined) actions.push({ label: 'Mute', requests: [['MODE', [room, '+b', mute]]] }, { label: 'Unmute', requests: [['MODE', [room, '-b', mute]]] });
  actions.push(
    { label: 'Kick from room', danger: true, requests: [['KICK', [room, member.nick]]] },
    {
      label: 'Ban from room',
      danger: true,
      requests: [
        ['MODE', [room, '+b', `${member.nick}!*@*`]],
        ['KICK', [room, member.nick, 'Banned']],
      ],
    },
  );
  return actions;
}

function perform(client: ChatClient, action: Action): void {
  if (action.open !== undefined) client.act({ type: 'open', name: action.open });
  for (const [command, params] of action.requests ?? []) client.request(command, params).catch(() => undefined);
}

interface MemberItemProps {
  readonly client: ChatClient;
  readonly state: ClientState;
  readonly room: string;
  readonly member: Member;
  readonly open: boolean;
  readonly onToggle: (open: boolean) => void;
  readonly onOpenedConversation: () => void;
  readonly onWhisper: (nick: string) => void;
}

function MemberItem({ client, state, room, member, open, onToggle, onOpenedConversation, onWhisper }: MemberItemProps) {
  const button = useRef<HTMLButtonElement>(null);
  const menu = useRef<HTMLUListElement>(null);
  const self = foldOf(state)(member.nick) === foldOf(state)(state.nick);
  const menuId = useId();
  useEffect(() => {
    if (open) menu.current?.querySelector('button')?.focus();
  }, [open]);
  const close = (): void => {
    onToggle(false);
    button.current?.focus();
  };
  const actions = open ? memberActions(state, room, member) : [];
  return (
    <li
      class={`member${member.away === true ? ' member-away' : ''}`}
      onKeyDown={(event) => {
        if (event.key === 'Escape' && open) {
          event.stopPropagation();
          close();
        }
      }}
    >
      <button
        ref={button}
        type="button"
        class="member-button"
        aria-expanded={open}
        aria-controls={menuId}
        onClick={() => {
          onToggle(!open);
        }}
      >
        <Avatar nick={member.nick} fold={foldOf(state)} size="sm" />
        <span class="member-nick">{member.nick}</span>
        {self && <span class="member-tag">you</span>}
        {member.away === true && <span class="visually-hidden"> (away)</span>}
      </button>
      {open && (
        <ul
          ref={menu}
          id={menuId}
          class="member-menu"
          aria-label={`Actions for ${member.nick}`}
        >
          {actions.map((action) => (
            <li key={action.label}>
              <button
                type="button"
                class={action.danger === true ? 'danger' : undefined}
                onClick={() => {
                  perform(client, action);
                  onToggle(false);
                  if (action.open !== undefined) onOpenedConversation();
                  if (action.whisper !== undefined) onWhisper(action.whisper);
                }}
              >
                {action.label}
              </button>
            </li>
          ))}
        </ul>
      )}
    </li>
  );
}

export interface MemberListProps {
  readonly client: ChatClient;
  readonly state: ClientState;
  readonly bufferKey: string;
  /** Shown over the conversation (narrow screens): focus goes into it, on its close button. */
  readonly overlay: boolean;
  /** After "Message": the conversation opened (the narrow layout hides the list then). */
  readonly onOpenedConversation: () => void;
  /** "Whisper": the composer whispers to this member (the narrow layout hides the list then too). */
  readonly onWhisper: (nick: string) => void;
  readonly onClose: () => void;
}

export function MemberList({ client, state, bufferKey, overlay, onOpenedConversation, onWhisper, onClose }: MemberListProps) {
  const [openNick, setOpenNick] = useState<string | undefined>(undefined);
  const list = useRef<HTMLElement>(null);
  const closeButton = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (overlay) closeButton.current?.focus();
  }, [overlay]);
  const buffer = state.buffers.get(bufferKey);
  useEffect(() => {
    setOpenNick(undefined);
  }, [bufferKey]);
  useEffect(() => {
    if (openNick === undefined) return undefined;
    const outside = (event: PointerEvent): void => {
      if (event.target instanceof Node && !list.current?.contains(event.target)) setOpenNick(undefined);
    };
    document.addEventListener('pointerdown', outside);
    return () => {
      document.removeEventListener('pointerdown', outside);
    };
  }, [openNick]);
  // Regrouped only when the members (or the server's roles) change, not on every message.
  const members = buffer?.members;
  const prefix = state.isupport.get('PREFIX');
  const groups = useMemo(() => (buffer === undefined ? [] : groupMembers(state, buffer)), [members, prefix]);
  if (buffer === undefined) return null;
  return (
    <aside id="members" ref={list} class="members" aria-label={`Members of ${buffer.name}`}>
      <div class="members-head">
        <h2>
          Members <span class="count">{buffer.members.size}</span>
        </h2>
        <button ref={closeButton} type="button" class="icon-button members-close" aria-label="Hide members" onClick={onClose}>
          <span aria-hidden="true">×</span>
        </button>
      </div>
      {groups.length === 0 && <p class="muted members-empty">{buffer.joined ? 'Loading members…' : 'You are not in this room.'}</p>}
      {groups.map((group) => (
        <div key={group.label} class="member-group">
          <h3>
            {group.label} <span class="count">{group.members.length}</span>
          </h3>
          <ul>
            {group.members.map((member) => (
              <MemberItem
                key={member.nick}
                client={client}
                state={state}
                room={buffer.name}
                member={member}
                open={openNick === member.nick}
                onToggle={(open) => {
                  setOpenNick(open ? member.nick : undefined);
                }}
                onOpenedConversation={onOpenedConversation}
                onWhisper={onWhisper}
              />
            ))}
          </ul>
        </div>
      ))}
    </aside>
  );
}
