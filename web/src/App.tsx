/**
 * The web client: the sign-in page until the server welcomes the user, then the chat: navigation (rooms and direct
 * messages), the conversation (header, messages, composer) and the room's members, in three columns on a wide screen
 * and as slide-overs on a phone. Dialogs (join, browse, message someone) are opened from here.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { SERVER_BUFFER, bufferKey } from '../../src/client/index.js';
import type { ChatClient, ChatMessage, ClientState } from '../../src/client/index.js';
import { UploadCredentialsContext } from './components/Attach.js';
import { Composer } from './components/Composer.js';
import { Directory } from './components/Directory.js';
import { Header, Icon } from './components/Header.js';
import { MemberList } from './components/MemberList.js';
import { MessageList } from './components/MessageList.js';
import { SignIn } from './components/SignIn.js';
import { DirectMessageDialog, JoinRoomDialog, QuickSwitcher, Sidebar, orderedBuffers } from './components/Sidebar.js';
import type { SidebarDialog } from './components/Sidebar.js';
import { useDesktopNotifications, useNotificationSetting } from './notifications.js';
import { rememberedRooms, storeTheme, storedTheme } from './storage.js';
import type { Identity, Theme } from './storage.js';
import { markRead, useChat, useMarkRead, useRestoreFocus, useTitle } from './useClient.js';
import './components/shell.css';

const darkQuery = (): MediaQueryList => window.matchMedia('(prefers-color-scheme: dark)');

/** Sets data-theme on <html> (the CSS follows prefers-color-scheme when it is absent). */
export function applyTheme(theme: Theme | undefined): void {
  if (theme === undefined) delete document.documentElement.dataset['theme'];
  else document.documentElement.dataset['theme'] = theme;
}

/** The theme in effect: the user's choice, else the system's; toggling remembers the choice. */
function useTheme(): { theme: Theme; toggle: () => void } {
  const [chosen, setChosen] = useState<Theme | undefined>(storedTheme);
  const [systemDark, setSystemDark] = useState(() => darkQuery().matches);
  useEffect(() => {
    const query = darkQuery();
    const changed = (): void => {
      setSystemDark(query.matches);
    };
    query.addEventListener('change', changed);
    return () => {
      query.removeEventListener('change', changed);
    };
  }, []);
  const theme = chosen ?? (systemDark ? 'dark' : 'light');
  return {
    theme,
    toggle() {
      const next: Theme = theme === 'dark' ? 'light' : 'dark';
      // Back to following the system when the choice matches it.
      const stored = next === (systemDark ? 'dark' : 'light') ? undefined : next;
      storeTheme(stored);
      applyTheme(stored);
      setChosen(stored);
    },
  };
}

/** Whether a media query matches, following changes. */
function useMedia(query: string): boolean {
  const [matches, setMatches] = useState(() => window.matchMedia(query).matches);
  useEffect(() => {
    const list = window.matchMedia(query);
    const changed = (): void => {
      setMatches(list.matches);
    };
    list.addEventListener('change', changed);
    return () => {
      list.removeEventListener('change', changed);
    };
  }, [query]);
  return matches;
}

export function App() {
  const chat = useChat();
  useTitle(chat.state);
  if (chat.phase !== 'ready' || chat.client === undefined || chat.state === undefined || chat.identity === undefined) return <SignIn chat={chat} />;
  return (
    <UploadCredentialsContext.Provider value={chat.uploadCredentials}>
      <Shell client={chat.client} state={chat.state} identity={chat.identity} onSignOut={chat.signOut} />
    </UploadCredentialsContext.Provider>
  );
}

/** What a signed-in user with no room sees: what to do first. */
function Welcome({ state, identity, onDialog }: { readonly state: ClientState; readonly identity: Identity; readonly onDialog: (dialog: SidebarDialog) => void }) {
  // The remembered rooms are being joined (the view switches to one as soon as it is); give up saying so after a while.
  const [waited, setWaited] = useState(false);
  useEffect(() => {
    const timer = setTimeout(() => {
      setWaited(true);
    }, 5000);
    return () => {
      clearTimeout(timer);
    };
  }, []);
  const pending = !waited && rememberedRooms(identity.name).length > 0;
  return (
    <div class="welcome">
      <div class="welcome-card">
        <div class="welcome-art" aria-hidden="true">
          <Icon name="message" />
        </div>
        <h2>Welcome to {state.networkName ?? 'Natter'}, {state.nick}!</h2>
        <p class="muted">{pending ? 'Joining your rooms…' : 'You are not in any room yet. Join or create one to start talking, or see which rooms are open.'}</p>
        <div class="welcome-actions">
          <button
            type="button"
            class="button button-primary"
            onClick={() => {
              onDialog('join');
            }}
          >
            <Icon name="plus" />
            Join or create a room
          </button>
          <button
            type="button"
            class="button"
            onClick={() => {
              onDialog('directory');
            }}
          >
            <Icon name="compass" />
            Browse rooms
          </button>
          <button
            type="button"
            class="button"
            onClick={() => {
              onDialog('message');
            }}
          >
            <Icon name="message" />
            Message someone
          </button>
        </div>
      </div>
    </div>
  );
}

interface ShellProps {
  readonly client: ChatClient;
  readonly state: ClientState;
  readonly identity: Identity;
  readonly onSignOut: () => void;
}

function Shell({ client, state, identity, onSignOut }: ShellProps) {
  const wide = useMedia('(min-width: 1001px)');
  const phone = useMedia('(max-width: 640px)');
  const [navOpen, setNavOpen] = useState(false);
  const [membersWanted, setMembersWanted] = useState<boolean | undefined>(undefined);
  const [dialog, setDialog] = useState<SidebarDialog | undefined>(undefined);
  const [replyTo, setReplyTo] = useState<ChatMessage | undefined>(undefined);
  /** Whisper mode of the composer: the member of the active room that messages go to. */
  const [whisperTo, setWhisperTo] = useState<string | undefined>(undefined);
  const theme = useTheme();
  const notifications = useNotificationSetting();
  useMarkRead(client, state);
  useRestoreFocus(client, state, identity);
  useDesktopNotifications(client, state, notifications.setting === 'on');

  const active = state.buffers.get(state.active);
  const key = state.active;
  // Members show by default where there is room for a third column; the header's toggle overrides.
  const membersShown = active?.kind === 'room' && (membersWanted ?? wide);
  const hasBuffers = [...state.buffers.values()].some((buffer) => buffer.kind !== 'server');

  useEffect(() => {
    setReplyTo(undefined);
    setWhisperTo(undefined);
  }, [key]);
  /** Replying to a whisper whispers back: a reply to the room would show the room what was whispered. */
  const reply = (message: ChatMessage): void => {
    setReplyTo(message);
    if (message.whisper !== undefined && active?.kind === 'room') setWhisperTo(message.whisper.with);
  };
  useEffect(() => {
    if (!phone) setNavOpen(false);
  }, [phone]);
  // The slide-over navigation gives focus back to what opened it (the header's menu button) when it closes.
  const openedFrom = useRef<HTMLElement | null>(null);
  useEffect(() => {
    if (navOpen) {
      openedFrom.current = document.activeElement instanceof HTMLElement ? document.activeElement : null;
      return;
    }
    if (openedFrom.current?.isConnected === true && document.activeElement?.closest('#sidebar') !== null) openedFrom.current.focus();
    openedFrom.current = null;
  }, [navOpen]);
  // Overlays of the narrow layout close on Escape.
  useEffect(() => {
    const keydown = (event: KeyboardEvent): void => {
      if (event.key === 'Escape' && dialog === undefined) {
        if (navOpen) setNavOpen(false);
        else if (membersOverlay) hideMembers();
      }
      // Ctrl+K (Cmd+K): the quick switcher.
      if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === 'k' && dialog === undefined) {
        event.preventDefault();
        openDialog('switch');
        return;
      }
      // Alt+Up / Alt+Down: the previous or next buffer in the sidebar's order.
      if (event.altKey && (event.key === 'ArrowUp' || event.key === 'ArrowDown')) {
        const { rooms, conversations } = orderedBuffers(state);
        const order = [...rooms, ...conversations];
        if (order.length === 0) return;
        const index = order.findIndex((buffer) => buffer === active);
        const step = event.key === 'ArrowUp' ? -1 : 1;
        const next = order[(index + step + order.length) % order.length];
        if (next !== undefined) {
          event.preventDefault();
          select(next.name);
        }
      }
    };
    document.addEventListener('keydown', keydown);
    return () => {
      document.removeEventListener('keydown', keydown);
    };
  });

  function select(name: string): void {
    const target = state.buffers.get(bufferKey(state, name));
    client.act({ type: 'focus', name });
    if (target !== undefined && target.unread > 0) markRead(client, name);
    setNavOpen(false);
  }

  /** Leaves the room (or closes the conversation) and shows the next one in the sidebar's order, if any. */
  function leave(): void {
    if (active === undefined || active.kind === 'server') return;
    const name = active.name;
    const { rooms, conversations } = orderedBuffers(state);
    const order = [...rooms, ...conversations];
    const index = order.indexOf(active);
    const next = order[index + 1] ?? order[index - 1];
    if (active.kind === 'room' && active.joined) client.part(name).catch(() => undefined);
    client.act({ type: 'close', name });
    if (next !== undefined) client.act({ type: 'focus', name: next.name });
  }

  const openDialog = (next: SidebarDialog): void => {
    setNavOpen(false);
    setDialog(next);
  };
  const closeDialog = (): void => {
    setDialog(undefined);
  };
  const showWelcome = key === SERVER_BUFFER && !hasBuffers;
  const overlay = phone && navOpen;
  const membersOverlay = membersShown && !wide;
  const hideMembers = (): void => {
    setMembersWanted(false);
    // Back to the header's toggle that opened the list (once the conversation is no longer inert).
    if (membersOverlay) {
      requestAnimationFrame(() => {
        document.querySelector<HTMLElement>('[aria-controls="members"]')?.focus();
      });
    }
  };

  return (
    <div class={`shell${membersShown ? ' members-shown' : ''}${navOpen ? ' nav-open' : ''}`}>
      <Sidebar
        state={state}
        open={navOpen}
        onSelect={select}
        onDialog={openDialog}
        onClose={() => {
          setNavOpen(false);
        }}
        onSignOut={onSignOut}
      />
      {(overlay || membersOverlay) && (
        <div
          class="scrim"
          aria-hidden="true"
          onClick={() => {
            setNavOpen(false);
            if (membersOverlay) hideMembers();
          }}
        />
      )}
      <main id="main" class="conversation" inert={overlay || membersOverlay}>
        <Header
          client={client}
          state={state}
          bufferKey={key}
          navOpen={navOpen}
          onOpenNav={() => {
            setNavOpen(true);
          }}
          membersShown={membersShown}
          onToggleMembers={() => {
            setMembersWanted(!membersShown);
          }}
          theme={theme.theme}
          onToggleTheme={theme.toggle}
          notifications={notifications}
          onLeave={leave}
        />
        {showWelcome ? (
          <Welcome state={state} identity={identity} onDialog={openDialog} />
        ) : (
          <div class="timeline">
            <MessageList client={client} state={state} bufferKey={key} onReply={reply} />
          </div>
        )}
        {!showWelcome && (
          <Composer
            client={client}
            state={state}
            bufferKey={key}
            replyTo={replyTo}
            onCancelReply={() => {
              setReplyTo(undefined);
            }}
            whisperTo={whisperTo}
            onCancelWhisper={() => {
              setWhisperTo(undefined);
            }}
          />
        )}
      </main>
      {membersShown && (
        <MemberList
          client={client}
          state={state}
          bufferKey={key}
          overlay={membersOverlay}
          onOpenedConversation={() => {
            if (membersOverlay) setMembersWanted(false);
          }}
          onWhisper={(nick) => {
            setWhisperTo(nick);
            if (membersOverlay) setMembersWanted(false);
          }}
          onClose={hideMembers}
        />
      )}
      {dialog === 'join' && <JoinRoomDialog client={client} onClose={closeDialog} />}
      {dialog === 'message' && <DirectMessageDialog client={client} onClose={closeDialog} />}
      {dialog === 'switch' && <QuickSwitcher state={state} onSelect={select} onClose={closeDialog} />}
      {dialog === 'directory' && (
        <Directory
          client={client}
          state={state}
          onClose={closeDialog}
          onCreateRoom={() => {
            setDialog('join');
          }}
        />
      )}
    </div>
  );
}
