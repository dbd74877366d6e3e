/**
 * Slash commands as a table (as gamja's commands.js): each with its usage, a description for /help, and what it
 * does through the engine. Shared by the web and terminal clients; "//text" sends "/text" as a message.
 */
import type { ChatClient } from './engine.js';
import { SERVER_BUFFER, isRoomName } from './state.js';

export interface CommandContext {
  readonly client: ChatClient;
  /** The buffer the command was typed in ("*" for the server buffer). */
  readonly buffer: string;
  readonly now: number;
}

export interface SlashCommand {
  readonly usage: string;
  readonly description: string;
  execute(context: CommandContext, args: string): Promise<unknown> | undefined;
}

/** A command used wrongly: its message is shown to the user as is. */
export class CommandError extends Error {
  override readonly name = 'CommandError';
}

function words(args: string): string[] {
  return args.split(' ').filter((word) => word !== '');
}

/** The first word and the rest of the text after it. */
function firstAndRest(args: string): [string, string] {
  const trimmed = args.trimStart();
  const space = trimmed.indexOf(' ');
  return space === -1 ? [trimmed, ''] : [trimmed.slice(0, space), trimmed.slice(space + 1)];
}

function roomOf(context: CommandContext, usage: string): string {
  if (!isRoomName(context.client.state, context.buffer)) throw new CommandError(`Use this in a room: ${usage}`);
  return context.buffer;
}

function need(value: string | undefined, usage: string): string {
  if (value === undefined || value === '') throw new CommandError(`Usage: ${usage}`);
  return value;
}

/** A nick becomes the mask nick!*@*; something that already looks like a mask is kept. */
export function maskOf(nickOrMask: string): string {
  return /[!@*]/.test(nickOrMask) ? nickOrMask : `${nickOrMask}!*@*`;
}

function memberMode(name: string, mode: string, description: string): SlashCommand {
  const usage = `/${name} <nick> [nick…]`;
  return {
    usage,
    description,
    execute(context, args) {
      const nicks = words(args);
      if (nicks.length === 0) throw new CommandError(`Usage: ${usage}`);
      const room = roomOf(context, usage);
      return context.client.request('MODE', [room, `${mode[0]!}${mode[1]!.repeat(nicks.length)}`, ...nicks]);
    },
  };
}

export const COMMANDS: Readonly<Record<string, SlashCommand>> = {
  help: {
    usage: '/help [command]',
    description: 'List the commands, or explain one',
    execute(context, args) {
      const name = words(args)[0]?.replace(/^\//, '').toLowerCase();
      const lines =
        name === undefined
          ? Object.entries(COMMANDS).map(([, command]) => `${command.usage} — ${command.description}`)
          : [COMMANDS[name] === undefined ? `No command /${name}; /help lists them` : `${COMMANDS[name].usage} — ${COMMANDS[name].description}`];
      for (const text of lines) context.client.act({ type: 'note', name: context.buffer, text, time: context.now });
      return undefined;
    },
  },
  join: {
    usage: '/join <#room> [key]',
    description: 'Join a room (it is created if it does not exist)',
    async execute(context, args) {
      const [room, key] = words(args);
      const name = need(room, this.usage);
      const target = isRoomName(context.client.state, name) ? name : `#${name}`;
      await context.client.join(target, key);
      context.client.act({ type: 'open', name: target });
    },
  },
  part: {
    usage: '/part [#room] [reason]',
    description: 'Leave a room (this one by default)',
    execute(context, args) {
      const [first, rest] = firstAndRest(args);
      const explicit = first !== '' && isRoomName(context.client.state, first);
      const room = explicit ? first : roomOf(context, this.usage);
      const reason = explicit ? rest : args.trim();
      return context.client.part(room, reason === '' ? undefined : reason);
    },
  },
  msg: {
    usage: '/msg <nick|#room> <text>',
    description: 'Send a message to someone (a direct message) or to a room',
    execute(context, args) {
      const [target, text] = firstAndRest(args);
      need(target, this.usage);
      need(text, this.usage);
      context.client.act({ type: 'open', name: target });
      context.client.say(target, text);
      return undefined;
    },
  },
  whisper: {
    usage: '/whisper <nick> <text>',
    description: 'Whisper to a member of this room: only they see it, shown here in the room',
    execute(context, args) {
      const [nick, text] = firstAndRest(args);
      need(nick, this.usage);
      need(text.trim(), this.usage);
      context.client.whisper(roomOf(context, this.usage), nick, text);
      return undefined;
    },
  },
  query: {
    usage: '/query <nick>',
    description: 'Open a direct conversation with someone',
    execute(context, args) {
      context.client.act({ type: 'open', name: need(words(args)[0], this.usage) });
      return undefined;
    },
  },
  me: {
    usage: '/me <action>',
    description: 'Say what you are doing ("/me waves" shows as "* you waves")',
    execute(context, args) {
      if (context.buffer === SERVER_BUFFER) throw new CommandError('Use this in a room or a conversation');
      context.client.say(context.buffer, need(args.trim(), this.usage), { action: true });
      return undefined;
    },
  },
  nick: {
    usage: '/nick <new nick>',
    description: 'Change your nick',
    execute(context, args) {
      return context.client.request('NICK', [need(words(args)[0], this.usage)]);
    },
  },
  topic: {
    usage: '/topic [new topic]',
    description: "Show or set this room's topic",
    execute(context, args) {
      const room = roomOf(context, this.usage);
      return context.client.request('TOPIC', args.trim() === '' ? [room] : [room, args.trim()]);
    },
  },
  away: {
    usage: '/away [message]',
    description: 'Mark yourself away (without a message: back)',
    execute(context, args) {
      return context.client.request('AWAY', args.trim() === '' ? [] : [args.trim()]);
    },
  },
  back: {
    usage: '/back',
    description: 'Mark yourself back',
    execute(context) {
      return context.client.request('AWAY', []);
    },
  },
  kick: {
    usage: '/kick <nick> [reason]',
    description: 'Remove someone from this room',
    execute(context, args) {
      const [nick, reason] = firstAndRest(args);
      const room = roomOf(context, this.usage);
      need(nick, this.usage);
      return context.client.request('KICK', reason === '' ? [room, nick] : [room, nick, reason]);
    },
  },
  ban: {
    usage: '/ban <nick|mask>',
    description: 'Ban someone (nick!user@host mask) from this room',
    execute(context, args) {
      const room = roomOf(context, this.usage);
      return context.client.request('MODE', [room, '+b', maskOf(need(words(args)[0], this.usage))]);
    },
  },
  unban: {
    usage: '/unban <nick|mask>',
    description: 'Lift a ban in this room',
    execute(context, args) {
      const room = roomOf(context, this.usage);
      return context.client.request('MODE', [room, '-b', maskOf(need(words(args)[0], this.usage))]);
    },
  },
  mute: {
    usage: '/mute <nick|mask>',
    description: 'Mute someone in this room: they stay but cannot speak',
    execute(context, args) {
      const room = roomOf(context, this.usage);
      return context.client.request('MODE', [room, '+b', `m:${maskOf(need(words(args)[0], this.usage))}`]);
    },
  },
  unmute: {
    usage: '/unmute <nick|mask>',
    description: 'Let a muted member speak again',
    execute(context, args) {
      const room = roomOf(context, this.usage);
      return context.client.request('MODE', [room, '-b', `m:${maskOf(need(words(args)[0], this.usage))}`]);
    },
  },
  mode: {
    usage: '/mode [target] <+/-modes> [arguments]',
    description: 'Show or change modes (of this room by default)',
    execute(context, args) {
      const parts = words(args);
      const first = parts[0];
      const target = first === undefined || first.startsWith('+') || first.startsWith('-') ? roomOf(context, this.usage) : parts.shift()!;
      return context.client.request('MODE', [target, ...parts]);
    },
  },
  op: memberMode('op', '+o', 'Make someone an operator (moderator) of this room'),
  deop: memberMode('deop', '-o', 'Take away operator status'),
  voice: memberMode('voice', '+v', 'Let someone speak in a moderated (+m) room'),
  devoice: memberMode('devoice', '-v', 'Take away voice'),
  invite: {
    usage: '/invite <nick> [#room]',
    description: 'Invite someone to a room (this one by default)',
    execute(context, args) {
      const [nick, room] = words(args);
      return context.client.request('INVITE', [need(nick, this.usage), room ?? roomOf(context, this.usage)]);
    },
  },
  whois: {
    usage: '/whois <nick>',
    description: 'Show who someone is',
    execute(context, args) {
      return context.client.request('WHOIS', [need(words(args)[0], this.usage)]);
    },
  },
  list: {
    usage: '/list',
    description: 'Browse the room directory',
    execute(context) {
      return context.client.list();
    },
  },
  close: {
    usage: '/close',
    description: 'Close this conversation (and leave the room)',
    async execute(context) {
      if (isRoomName(context.client.state, context.buffer) && context.client.state.buffers.get(context.client.state.active)?.joined === true) {
        await context.client.part(context.buffer);
      }
      context.client.act({ type: 'close', name: context.buffer });
    },
  },
  quote: {
    usage: '/quote <raw IRC line>',
    description: 'Send a raw IRC line to the server',
    execute(context, args) {
      context.client.sendRaw(need(args.trim(), this.usage));
      return undefined;
    },
  },
};

export type ParsedInput = { readonly kind: 'message'; readonly text: string } | { readonly kind: 'command'; readonly name: string; readonly args: string };

/** "/join #a" is a command; "//join" and anything else is a message. */
export function parseInput(input: string): ParsedInput {
  if (!input.startsWith('/') || input.startsWith('//')) return { kind: 'message', text: input.startsWith('//') ? input.slice(1) : input };
  const space = input.indexOf(' ');
  const name = (space === -1 ? input.slice(1) : input.slice(1, space)).toLowerCase();
  return { kind: 'command', name, args: space === -1 ? '' : input.slice(space + 1) };
}

/**
 * Runs what the user typed in a buffer: a message to the buffer's room or person, or a slash command. Errors (a
 * wrong usage, the server's refusal) become notes in the buffer rather than exceptions.
 */
export async function runInput(
  client: ChatClient,
  buffer: string,
  input: string,
  /** whisperTo: the composer is whispering to this member of the room, so a message goes to them alone. */
  options: { readonly replyTo?: string; readonly whisperTo?: string; readonly now?: number } = {},
): Promise<void> {
  const now = options.now ?? Date.now();
  const parsed = parseInput(input);
  if (parsed.kind === 'message') {
    if (buffer === SERVER_BUFFER) {
      client.act({ type: 'note', name: buffer, text: 'This is the server window: join a room (/join #room) or open a conversation (/query nick) to talk', kind: 'error', time: now });
      return;
    }
    const reply = options.replyTo === undefined ? {} : { replyTo: options.replyTo };
    if (options.whisperTo !== undefined && isRoomName(client.state, buffer)) client.whisper(buffer, options.whisperTo, parsed.text, reply);
    else client.say(buffer, parsed.text, reply);
    return;
  }
  const command = COMMANDS[parsed.name];
  if (command === undefined) {
    client.act({ type: 'note', name: buffer, text: `Unknown command /${parsed.name}; /help lists them`, kind: 'error', time: now });
    return;
  }
  try {
    await command.execute({ client, buffer, now }, parsed.args);
  } catch (error) {
    // The server's refusals are already shown by the reducer; a usage error is shown here.
    if (error instanceof CommandError) client.act({ type: 'note', name: buffer, text: error.message, kind: 'error', time: now });
  }
}
