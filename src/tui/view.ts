/**
 * What the terminal client shows, as plain functions of the engine's state: the lines of a buffer (times, names,
 * whispers, view-once messages, reactions, day separators and the "new" divider) wrapped to the pane's width, and
 * the entries of the buffer list. Kept apart from the ink components so it can be tested without a terminal.
 *
 * Security: user text reaches a terminal, which obeys escape sequences as a browser obeys HTML. Every piece of text
 * from the network goes through `safeText`, which removes control characters (ESC and the C1 set included), so a
 * message can never move the cursor, retitle the window or recolour the screen.
 */
import { Chalk } from 'chalk';
import type { ChalkInstance } from 'chalk';
import stringWidth from 'string-width';
import wrapAnsi from 'wrap-ansi';
import { SERVER_BUFFER } from '../client/index.js';
import type { ChatBuffer, ChatMessage, ClientState, Outgoing } from '../client/index.js';

/** C0 and C1 controls (tab, ESC, IRC formatting bytes included) and the line/paragraph separators. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

/** Text from the network made safe for a terminal: controls removed, a tab is a space. */
export function safeText(text: string): string {
  return text.replace(/\t/g, ' ').replace(CONTROL, '');
}

export interface Palette {
  readonly chalk: ChalkInstance;
}

/** Colours on a terminal that has them; plain text otherwise (and in tests, to compare screens). */
export function paletteOf(colors: boolean): Palette {
  return { chalk: new Chalk({ level: colors ? 1 : 0 }) };
}

const NICK_COLORS = ['cyan', 'green', 'yellow', 'blue', 'magenta', 'red'] as const;

/** A stable colour per nick, so a person is recognised by colour as well as by name. */
export function nickColor(nick: string): (typeof NICK_COLORS)[number] {
  let hash = 0;
  for (const char of nick.toLowerCase()) hash = (hash * 31 + char.charCodeAt(0)) | 0;
  return NICK_COLORS[Math.abs(hash) % NICK_COLORS.length]!;
}

function pad2(value: number): string {
  return value < 10 ? `0${String(value)}` : String(value);
}

export function clockOf(time: number): string {
  const date = new Date(time);
  return `${pad2(date.getHours())}:${pad2(date.getMinutes())}`;
}

function sameDay(a: number, b: number): boolean {
  return new Date(a).toDateString() === new Date(b).toDateString();
}

export function dayOf(time: number, now: number): string {
  if (sameDay(time, now)) return 'Today';
  if (sameDay(time, now - 86_400_000)) return 'Yesterday';
  return new Date(time).toLocaleDateString('en-GB', { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' });
}

export interface PaneInput {
  readonly buffer: ChatBuffer;
  /** The user's nick, casefolded comparisons done by the caller's fold. */
  readonly selfNick: string;
  readonly fold: (name: string) => string;
  /** Messages after this time (from others) are new: the divider goes before the first of them. */
  readonly newAfter: number | undefined;
  /** Sent and not yet confirmed by the server, shown as "sending". */
  readonly outbox: readonly Outgoing[];
  readonly width: number;
  readonly now: number;
  readonly palette: Palette;
}

/** The number shown on each sealed view-once message of a buffer ("/open 2"), oldest first. */
export function sealedViewOnce(buffer: ChatBuffer): ChatMessage[] {
  return buffer.messages.filter((message) => message.viewOnce?.state === 'sealed');
}

function isChat(message: ChatMessage): boolean {
  return message.kind === 'privmsg' || message.kind === 'notice' || message.kind === 'action';
}

function excerpt(text: string, length: number): string {
  const flat = safeText(text);
  return flat.length <= length ? flat : `${flat.slice(0, length - 1)}…`;
}

function reactionsOf(message: ChatMessage): string {
  const entries = Object.entries(message.reactions ?? {}).filter(([, nicks]) => nicks.length > 0);
  if (entries.length === 0) return '';
  return ` ${entries.map(([emoji, nicks]) => `[${safeText(emoji)} ${String(nicks.length)}]`).join(' ')}`;
}

/** The body of a chat message after the time: "<nick> text", "* nick does", a whisper, a view-once message. */
function chatBody(message: ChatMessage, input: PaneInput, byId: ReadonlyMap<string, ChatMessage>, viewOnceNumber: ReadonlyMap<string, number>): string {
  const { chalk } = input.palette;
  const from = safeText(message.from);
  const name = chalk[nickColor(from)](from);
  let text = safeText(message.text);
  if (message.redacted === true) text = chalk.dim('(message deleted)');
  const once = message.viewOnce?.state;
  if (once !== undefined) {
    const number = viewOnceNumber.get(message.id);
    text =
      once === 'sealed'
        ? chalk.bold.magenta(`🔒 view-once message: type /open${number === undefined || viewOnceNumber.size === 1 ? '' : ` ${String(number)}`} to see it, once`)
        : once === 'sent'
          ? chalk.magenta('🔒 view-once message (sent)')
          : once === 'opened'
            ? chalk.dim('🔓 view-once message (opened)')
            : chalk.dim('🔒 view-once message (no longer available)');
  }
  let reply = '';
  if (message.replyTo !== undefined) {
    const original = byId.get(message.replyTo);
    reply = chalk.dim(original === undefined ? '↪ (reply) ' : `↪ ${safeText(original.from)}: “${excerpt(original.text, 30)}” `);
  }
  const whisper = message.whisper;
  if (whisper !== undefined) {
    const withName = safeText(whisper.with);
    const between = message.self ? `${from} → ${withName}` : `${from} → you`;
    return `${chalk.magenta(`<${between}>`)} ${chalk.magenta.italic('(whisper)')} ${reply}${chalk.magenta(text)}`;
  }
  const bot = message.bot === true ? chalk.dim(' [bot]') : '';
  let line: string;
  if (message.kind === 'action') line = `${chalk.bold('*')} ${name}${bot} ${reply}${text}`;
  else if (message.kind === 'notice') line = `-${name}-${bot} ${reply}${text}`;
  else line = `<${name}>${bot} ${reply}${text}`;
  if (message.highlight && !message.self) line = chalk.bold(line);
  return `${line}${chalk.dim(reactionsOf(message))}`;
}

function eventBody(message: ChatMessage, palette: Palette): string {
  const { chalk } = palette;
  const text = safeText(message.text);
  if (message.kind === 'error') return chalk.red(`! ${text}`);
  if (message.kind === 'info') return chalk.dim(text);
  return chalk.dim(`→ ${text}`);
}

/** A separator across the pane: "─── Today ───". */
function rule(label: string, width: number, palette: Palette): string {
  const text = ` ${label} `;
  const side = Math.max(2, Math.floor((width - stringWidth(text)) / 2));
  return palette.chalk.dim(`${'─'.repeat(side)}${text}${'─'.repeat(Math.max(2, width - side - stringWidth(text)))}`);
}

/**
 * Every line of the buffer, wrapped to the width: continuation lines are indented under the text, so names and
 * times stay in their column.
 */
export function paneLines(input: PaneInput): string[] {
  const { buffer, width, palette, now } = input;
  const lines: string[] = [];
  const byId = new Map(buffer.messages.map((message) => [message.id, message]));
  const viewOnceNumber = new Map(sealedViewOnce(buffer).map((message, index) => [message.id, index + 1]));
  const indent = '      ';
  const wrap = (text: string): void => {
    const wrapped = wrapAnsi(text, Math.max(10, width - indent.length), { hard: true }).split('\n');
    lines.push(wrapped[0] ?? '');
    for (const rest of wrapped.slice(1)) lines.push(`${indent}${rest}`);
  };
  let previous: ChatMessage | undefined;
  let dividerShown = false;
  for (const message of buffer.messages) {
    if (previous === undefined || !sameDay(previous.time, message.time)) lines.push(rule(dayOf(message.time, now), width, palette));
    if (!dividerShown && input.newAfter !== undefined && message.time > input.newAfter && !message.self && isChat(message)) {
      dividerShown = true;
      lines.push(palette.chalk.red(rule('new', width, palette)));
    }
    const time = palette.chalk.dim(clockOf(message.time));
    wrap(`${time} ${isChat(message) ? chatBody(message, input, byId, viewOnceNumber) : eventBody(message, palette)}`);
    previous = message;
  }
  const key = input.fold(buffer.name);
  for (const sending of input.outbox) {
    const here = input.fold(sending.context ?? sending.target) === key;
    if (!here) continue;
    const from = safeText(input.selfNick);
    const body = sending.action ? `* ${from} ${safeText(sending.text)}` : `<${from}> ${safeText(sending.text)}`;
    wrap(palette.chalk.dim(`${clockOf(sending.time)} ${body} (${sending.state === 'queued' ? 'waiting for the connection' : 'sending'})`));
  }
  return lines;
}

/** The network's name (ISUPPORT NETWORK), when the server told it. */
export function networkOf(state: ClientState): string | undefined {
  return state.networkName ?? state.isupport.get('NETWORK');
}

export interface BufferEntry {
  readonly key: string;
  readonly label: string;
  readonly kind: ChatBuffer['kind'];
  readonly unread: number;
  readonly mentions: number;
  readonly active: boolean;
  /** A room the user is no longer in. */
  readonly parted: boolean;
}

/** The buffer list in the order of the sidebar (and of Alt+1…9): the server, rooms, then conversations, by name. */
export function bufferEntries(state: ClientState): BufferEntry[] {
  const all = [...state.buffers.entries()];
  const order = (kind: ChatBuffer['kind']): number => (kind === 'server' ? 0 : kind === 'room' ? 1 : 2);
  all.sort(([, a], [, b]) => order(a.kind) - order(b.kind) || a.name.localeCompare(b.name));
  return all.map(([key, buffer]) => ({
    key,
    label: key === SERVER_BUFFER ? safeText(networkOf(state) ?? 'server') : safeText(buffer.name),
    kind: buffer.kind,
    unread: buffer.unread,
    mentions: buffer.mentions,
    active: key === state.active,
    parted: buffer.kind === 'room' && !buffer.joined,
  }));
}

/** Who is typing in the buffer, in words ("alice is typing…"), or '' for nobody. Entries older than 6 s are stale. */
export function typingLine(buffer: ChatBuffer | undefined, now: number): string {
  if (buffer === undefined) return '';
  const active = [...buffer.typing.entries()].filter(([, typist]) => typist.state === 'active' && now - typist.at < 6000).map(([nick]) => buffer.members.get(nick)?.nick ?? nick);
  if (active.length === 0) return '';
  const names = active.map(safeText);
  if (names.length === 1) return `${names[0]!} is typing…`;
  if (names.length <= 3) return `${names.slice(0, -1).join(', ')} and ${names.at(-1)!} are typing…`;
  return 'Several people are typing…';
}
