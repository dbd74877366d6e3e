/**
 * The full-screen terminal client (`natter connect`), in ink: a header (where you are, the topic, the connection),
 * the list of rooms and conversations with unread counts, the message pane with scroll-back, who is typing, the
 * input line and a line of key hints. All chat logic is the engine's (src/client), shared with the web client; this
 * is only how it looks and which keys do what.
 */
import { Box, Text, useApp, useInput, useStdout } from 'ink';
import type { Key } from 'ink';
import { useCallback, useEffect, useMemo, useRef, useState, useSyncExternalStore } from 'react';
import { COMMANDS, SERVER_BUFFER, foldOf, parseInput, runInput } from '../client/index.js';
import type { ChatBuffer, ChatClient, ChatMessage, ClientState } from '../client/index.js';
import * as line from './line-editor.js';
import type { LineState } from './line-editor.js';
import { KEYS_HELP, LOCAL_COMMANDS } from './local-commands.js';
import type { Screen } from './local-commands.js';
import { bufferEntries, networkOf, paletteOf, paneLines, safeText, typingLine } from './view.js';
import type { BufferEntry } from './view.js';

export interface AppProps {
  readonly client: ChatClient;
  /** Where this is connected, for the header ("Book club · 192.168.1.20:6697, TLS"). */
  readonly place: string;
  readonly colors: boolean;
  /** Called once when the user quits (after QUIT is sent). */
  readonly onQuit: (reason: string) => void;
  /** The terminal's size; read from stdout when not given (tests render at a fixed size). */
  readonly size?: { readonly columns: number; readonly rows: number };
}

const SIDEBAR_WIDTH = 20;
/** A sidebar only when the pane keeps room for a conversation beside it. */
const SIDEBAR_MIN_COLUMNS = 70;
const MARK_READ_DELAY_MS = 800;

function useClientState(client: ChatClient): ClientState {
  const subscribe = useCallback((listener: () => void) => client.subscribe(listener), [client]);
  return useSyncExternalStore(subscribe, () => client.state);
}

function useTerminalSize(fixed: AppProps['size']): { columns: number; rows: number } {
  const { stdout } = useStdout();
  const read = (): { columns: number; rows: number } => fixed ?? { columns: stdout.columns || 80, rows: stdout.rows || 24 };
  const [size, setSize] = useState(read);
  useEffect(() => {
    if (fixed !== undefined) return undefined;
    const onResize = (): void => {
      setSize(read());
    };
    stdout.on('resize', onResize);
    return () => {
      stdout.off('resize', onResize);
    };
  }, [stdout, fixed]);
  return size;
}

function newestServerTime(buffer: ChatBuffer | undefined): number | undefined {
  return buffer?.messages.findLast((message) => !message.id.startsWith('local:'))?.time;
}

export function App({ client, place, colors, onQuit, size: fixedSize }: AppProps) {
  const state = useClientState(client);
  const { exit } = useApp();
  const { columns, rows } = useTerminalSize(fixedSize);
  const palette = useMemo(() => paletteOf(colors), [colors]);
  const [input, setInput] = useState<LineState>(() => line.emptyLine());
  /** Lines scrolled up from the newest (0: following the conversation). */
  const [scroll, setScroll] = useState(0);
  const [viewOnce, setViewOnce] = useState<{ from: string; content: string } | undefined>(undefined);
  const [replying, setReplying] = useState<ChatMessage | undefined>(undefined);
  /** Per buffer: where "new" begins, fixed when the buffer was focused, so the divider stays while reading. */
  const [newAfter, setNewAfter] = useState<ReadonlyMap<string, number>>(new Map());
  /** Per buffer: the newest message shown when the user left it (read markers exist for accounts only). */
  const lastSeen = useRef(new Map<string, number>());
  const focusedOnce = useRef(false);
  const quitting = useRef(false);

  const active = state.buffers.get(state.active);
  const entries = useMemo(() => bufferEntries(state), [state]);
  const fold = foldOf(state);

  const focus = useCallback(
    (key: string) => {
      const current = client.state;
      const target = current.buffers.get(key);
      if (target === undefined || key === current.active) return;
      const leaving = current.buffers.get(current.active);
      const leftAt = newestServerTime(leaving);
      if (leaving !== undefined && leftAt !== undefined) {
        lastSeen.current.set(current.active, leftAt);
        client.markRead(leaving.name, leftAt);
      }
      const marker = Math.max(target.readMarker ?? -Infinity, lastSeen.current.get(key) ?? -Infinity);
      setNewAfter((previous) => new Map(previous).set(key, Number.isFinite(marker) ? marker : Date.now()));
      setScroll(0);
      setReplying(undefined);
      client.act({ type: 'focus', name: target.name });
    },
    [client],
  );

  // Once connected, the first room joined (the host's room, an autojoin) is where the user lands.
  useEffect(() => {
    if (focusedOnce.current) return;
    if (state.active !== SERVER_BUFFER) {
      focusedOnce.current = true;
      return;
    }
    const room = entries.find((entry) => entry.kind === 'room' && !entry.parted);
    if (room !== undefined) {
      focusedOnce.current = true;
      focus(room.key);
    }
  }, [entries, state.active, focus]);

  // The focused buffer is read up to what is shown, a moment after it changes (several arrivals: one MARKREAD).
  const newest = newestServerTime(active);
  useEffect(() => {
    if (active === undefined || state.active === SERVER_BUFFER || newest === undefined || scroll > 0) return undefined;
    const timer = setTimeout(() => {
      client.markRead(active.name, newest);
    }, MARK_READ_DELAY_MS);
    return () => {
      clearTimeout(timer);
    };
  }, [client, active, state.active, newest, scroll]);

  const sidebar = columns >= SIDEBAR_MIN_COLUMNS;
  const paneWidth = Math.max(20, columns - (sidebar ? SIDEBAR_WIDTH + 1 : 0));
  // Header, typing line, input line and hints; one line short of the terminal, or ink redraws the whole screen.
  const paneHeight = Math.max(3, rows - 5);

  const lines = useMemo(
    () =>
      active === undefined
        ? []
        : paneLines({ buffer: active, selfNick: state.nick, fold, newAfter: newAfter.get(state.active), outbox: state.outbox, width: paneWidth, now: Date.now(), palette }),
    [active, state.nick, state.outbox, state.active, fold, newAfter, paneWidth, palette],
  );

  // Scrolled up, new lines at the bottom must not move what is being read.
  const previousLines = useRef({ key: state.active, count: lines.length, last: active?.messages.at(-1)?.id });
  useEffect(() => {
    const before = previousLines.current;
    const last = active?.messages.at(-1)?.id;
    if (before.key === state.active && scroll > 0 && last !== before.last && lines.length > before.count) setScroll((value) => value + lines.length - before.count);
    previousLines.current = { key: state.active, count: lines.length, last };
  }, [lines, active, state.active, scroll]);

  const maxScroll = Math.max(0, lines.length - paneHeight);
  const shownScroll = Math.min(scroll, maxScroll);
  const shownLines = lines.slice(Math.max(0, lines.length - paneHeight - shownScroll), lines.length - shownScroll);
  // The newest line sits just above the input, as in every chat: a short conversation is padded from the top.
  const visible = shownLines.length < paneHeight ? [...new Array<string>(paneHeight - shownLines.length).fill(''), ...shownLines] : shownLines;

  // At the top of what is loaded, scrolling up fetches older history.
  useEffect(() => {
    if (active === undefined || active.kind === 'server' || active.historyComplete || active.loadingOlder) return;
    if (scroll >= maxScroll && scroll > 0) void client.loadOlder(active.name).catch(() => undefined);
  }, [client, active, scroll, maxScroll]);

  const quit = useCallback(
    (reason: string) => {
      if (quitting.current) return;
      quitting.current = true;
      // The screen is left whatever closing the connection does: a quit must always quit.
      try {
        client.close(reason);
      } finally {
        onQuit(reason);
        exit();
      }
    },
    [client, onQuit, exit],
  );

  const screen: Screen = {
    showViewOnce(from, content) {
      setViewOnce({ from, content });
    },
    switchTo(which) {
      const entry = typeof which === 'number' ? entries[which - 1] : entries.find((candidate) => candidate.key === fold(which) || candidate.label === which);
      if (entry === undefined) return false;
      focus(entry.key);
      return true;
    },
    quit,
    replyTo(message) {
      setReplying(message);
    },
  };

  const send = (text: string): void => {
    const now = Date.now();
    const buffer = client.state.buffers.get(client.state.active);
    if (buffer === undefined || text.trim() === '') return;
    const parsed = parseInput(text);
    if (parsed.kind === 'command' && parsed.name === 'help' && parsed.args.trim() === '') {
      void runInput(client, buffer.name, text, { now }).then(() => {
        for (const [, command] of Object.entries(LOCAL_COMMANDS).filter(([name]) => COMMANDS[name] === undefined)) client.act({ type: 'note', name: buffer.name, text: `${command.usage} — ${command.description}`, time: now });
        for (const help of KEYS_HELP) client.act({ type: 'note', name: buffer.name, text: help, time: now });
      });
      return;
    }
    // The terminal's own commands first: some replace a shared one whose result the web shows in a dialog (/list).
    const local = parsed.kind === 'command' ? LOCAL_COMMANDS[parsed.name] : undefined;
    if (local !== undefined && parsed.kind === 'command') {
      Promise.resolve(local.execute({ client, buffer, screen, now }, parsed.args)).catch((error: unknown) => {
        client.act({ type: 'note', name: buffer.name, text: error instanceof Error ? error.message : String(error), kind: 'error', time: now });
      });
      return;
    }
    const replyTo = parsed.kind === 'message' ? replying?.id : undefined;
    setReplying(undefined);
    setScroll(0);
    void runInput(client, buffer.name, text, { now, ...(replyTo === undefined ? {} : { replyTo }) });
  };

  const switchBy = (step: number): void => {
    const index = entries.findIndex((entry) => entry.active);
    const next = entries[(index + step + entries.length) % entries.length];
    if (next !== undefined) focus(next.key);
  };

  const onKey = (typed: string, key: Key): void => {
    if (viewOnce !== undefined) {
      // The content is dropped for good when closed: there is no way back to it.
      if (key.escape || key.return) setViewOnce(undefined);
      return;
    }
    if (key.ctrl && typed === 'c') { quit('Leaving'); return; }
    if (key.ctrl && typed === 'd' && input.text === '') { quit('Leaving'); return; }
    if (key.ctrl && typed === 'n') { switchBy(1); return; }
    if (key.ctrl && typed === 'p') { switchBy(-1); return; }
    if (key.meta && /^[0-9]$/.test(typed)) {
      screen.switchTo(typed === '0' ? 10 : Number(typed));
      return;
    }
    if (key.pageUp) { setScroll((value) => Math.min(value, maxScroll) + Math.max(1, paneHeight - 2)); return; }
    if (key.pageDown) { setScroll((value) => Math.max(0, Math.min(value, maxScroll) - Math.max(1, paneHeight - 2))); return; }
    if (key.escape) {
      setScroll(0);
      setReplying(undefined);
      return;
    }
    let next = input;
    if (key.return) {
      const submitted = line.submit(input);
      setInput(submitted.next);
      if (active !== undefined) client.typing(active.name, 'done');
      send(submitted.line);
      return;
    }
    if (key.tab) next = line.complete(input, active === undefined ? [] : [...active.members.values()].map((member) => member.nick).filter((nick) => fold(nick) !== fold(state.nick)));
    else if (key.backspace || (key.ctrl && typed === 'h')) next = line.backspace(input);
    else if (key.delete) next = line.deleteForward(input);
    else if (key.leftArrow) next = line.left(input);
    else if (key.rightArrow) next = line.right(input);
    else if (key.home || (key.ctrl && typed === 'a')) next = line.home(input);
    else if (key.end || (key.ctrl && typed === 'e')) next = line.end(input);
    else if (key.upArrow) next = line.historyUp(input);
    else if (key.downArrow) next = line.historyDown(input);
    else if (key.ctrl && typed === 'u') next = line.killToStart(input);
    else if (key.ctrl && typed === 'k') next = line.killToEnd(input);
    else if (key.ctrl && typed === 'w') next = line.deleteWord(input);
    else if (!key.ctrl && !key.meta && typed !== '') next = line.insert(input, typed);
    if (next === input) return;
    setInput(next);
    if (active !== undefined && active.kind !== 'server' && next.text !== input.text) {
      const typing = next.text !== '' && !next.text.startsWith('/');
      client.typing(active.name, typing ? 'active' : 'done');
    }
  };
  useInput(onKey);

  const status = state.status === 'connected' ? '' : ` · ${state.status === 'reconnecting' ? 'reconnecting…' : state.status}`;
  const title = active === undefined || active.kind === 'server' ? safeText(networkOf(state) ?? place) : safeText(active.name);
  const topic = active?.topic === undefined || active.topic === '' ? '' : ` — ${safeText(active.topic)}`;
  const who = `${safeText(state.nick)}${state.account === undefined ? ' (guest)' : ''}${status}`;
  const typing = typingLine(active, Date.now());
  const prompt = `${replying === undefined ? '' : `↪ ${safeText(replying.from)} `}[${active === undefined || active.kind === 'server' ? 'server' : safeText(active.name)}] `;
  const scrollNote = shownScroll > 0 ? ` · scrolled back ${String(shownScroll)} lines (Esc: newest)${active?.loadingOlder === true ? ' · loading older…' : ''}` : '';

  return (
    <Box flexDirection="column" width={columns} height={rows - 1}>
      <Box width={columns} height={1}>
        <Text inverse wrap="truncate-end">
          {` ${title}${topic}`.padEnd(Math.max(0, columns - who.length - 2))}
          {` ${who} `}
        </Text>
      </Box>
      <Box flexDirection="row" height={paneHeight}>
        {sidebar ? <Sidebar entries={entries} height={paneHeight} place={place} /> : null}
        <Box flexDirection="column" width={paneWidth} height={paneHeight}>
          {viewOnce === undefined ? (
            visible.map((text, index) => (
              <Text key={index} wrap="truncate-end">
                {text === '' ? ' ' : text}
              </Text>
            ))
          ) : (
            <ViewOnceBox from={viewOnce.from} content={viewOnce.content} />
          )}
        </Box>
      </Box>
      <Text dimColor wrap="truncate-end">
        {typing === '' ? ' ' : typing}
      </Text>
      <InputLine prompt={prompt} state={input} width={columns} />
      <Text dimColor wrap="truncate-end">
        {`Ctrl+N/P or Alt+1…9 windows · PgUp/PgDn scroll · Tab nicks · /help${scrollNote}`}
      </Text>
    </Box>
  );
}

function Sidebar({ entries, height, place }: { entries: readonly BufferEntry[]; height: number; place: string }) {
  const shown = entries.slice(0, height);
  return (
    <Box flexDirection="column" width={SIDEBAR_WIDTH} height={height} marginRight={1} borderStyle="single" borderTop={false} borderBottom={false} borderLeft={false}>
      {shown.map((entry, index) => {
        const count = entry.unread > 0 ? ` ${String(entry.unread)}` : '';
        const label = `${index < 9 ? String(index + 1) : ' '} ${entry.kind === 'server' ? safeText(place) : entry.label}`;
        const width = SIDEBAR_WIDTH - 1 - count.length;
        const text = (label.length > width ? `${label.slice(0, width - 1)}…` : label.padEnd(width)) + count;
        return (
          <Text key={entry.key} inverse={entry.active} bold={entry.mentions > 0} {...(entry.mentions > 0 ? { color: 'yellow' } : entry.unread > 0 ? { color: 'cyan' } : {})} dimColor={entry.parted} wrap="truncate-end">
            {text}
          </Text>
        );
      })}
    </Box>
  );
}

function ViewOnceBox({ from, content }: { from: string; content: string }) {
  return (
    <Box flexDirection="column" borderStyle="round" borderColor="magenta" paddingX={1}>
      <Text color="magenta" bold>{`View-once message from ${safeText(from)}`}</Text>
      <Text>{safeText(content)}</Text>
      <Text dimColor>Shown this once: it is gone when you close it (Enter or Esc).</Text>
    </Box>
  );
}

/** The prompt and the text, scrolled sideways so the cursor stays in view; the cursor is shown inverse. */
function InputLine({ prompt, state, width }: { prompt: string; state: LineState; width: number }) {
  const room = Math.max(10, width - prompt.length - 1);
  const chars = Array.from(state.text);
  const cursorIndex = Array.from(state.text.slice(0, state.cursor)).length;
  const start = Math.max(0, cursorIndex - room + 1);
  const before = chars.slice(start, cursorIndex).join('');
  const at = chars[cursorIndex] ?? ' ';
  const after = chars.slice(cursorIndex + 1, start + room).join('');
  return (
    <Text wrap="truncate-end">
      <Text color="cyan">{prompt}</Text>
      {safeText(before)}
      <Text inverse>{safeText(at) === '' ? ' ' : safeText(at)}</Text>
      {safeText(after)}
    </Text>
  );
}
