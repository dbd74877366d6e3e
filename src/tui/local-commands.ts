/**
 * The slash commands only the terminal client has, besides the shared table of src/client/commands.ts: what the web
 * client does with buttons (open a view-once message, send one, react, reply, list the members, switch windows),
 * here typed. Each gets the same shape as a shared command, plus a handle on the screen.
 */
import { CommandError, isRoomName } from '../client/index.js';
import type { ChatBuffer, ChatClient, ChatMessage } from '../client/index.js';
import { safeText, sealedViewOnce } from './view.js';

/** What a local command may do to the screen. */
export interface Screen {
  /** Shows a view-once message's content until the user closes it; it is kept nowhere else. */
  showViewOnce(from: string, content: string): void;
  /** Focuses the Nth buffer of the list (1-based) or the one with this name. */
  switchTo(which: number | string): boolean;
  quit(reason: string): void;
  /** Starts or ends replying to a message (the next line sent answers it). */
  replyTo(message: ChatMessage | undefined): void;
}

export interface LocalContext {
  readonly client: ChatClient;
  readonly buffer: ChatBuffer;
  readonly screen: Screen;
  readonly now: number;
}

export interface LocalCommand {
  readonly usage: string;
  readonly description: string;
  execute(context: LocalContext, args: string): Promise<void> | undefined;
}

function note(context: LocalContext, text: string, kind: 'info' | 'error' = 'info'): void {
  context.client.act({ type: 'note', name: context.buffer.name, text, kind, time: context.now });
}

function conversationOnly(context: LocalContext, usage: string): void {
  if (context.buffer.kind === 'server') throw new CommandError(`Use this in a room or a conversation: ${usage}`);
}

/** The newest message someone else said in the buffer (what /react and /reply answer by default). */
function lastFromOthers(buffer: ChatBuffer): ChatMessage | undefined {
  return buffer.messages.findLast((message) => !message.self && !message.id.startsWith('local:') && (message.kind === 'privmsg' || message.kind === 'action'));
}

export const LOCAL_COMMANDS: Readonly<Record<string, LocalCommand>> = {
  list: {
    usage: '/list',
    description: 'Browse the room directory',
    async execute(context) {
      // The web client shows the directory in a dialog; here it is listed where /list was typed.
      await context.client.list();
      const entries = [...(context.client.state.directory?.entries ?? [])].sort((a, b) => b.users - a.users || a.name.localeCompare(b.name));
      if (entries.length === 0) note(context, 'No rooms yet: /join #name creates one');
      for (const entry of entries) note(context, `${safeText(entry.name)} (${String(entry.users)})${entry.topic === '' ? '' : ` — ${safeText(entry.topic)}`}`);
      if (entries.length > 0) note(context, 'Join one with /join #name');
    },
  },
  open: {
    usage: '/open [n]',
    description: 'See a view-once message, once (the newest, or the nth one shown with a number)',
    async execute(context, args) {
      const sealed = sealedViewOnce(context.buffer);
      const wanted = args.trim() === '' ? sealed.length : Number(args.trim());
      const message = Number.isInteger(wanted) ? sealed[wanted - 1] : undefined;
      if (message === undefined) throw new CommandError(sealed.length === 0 ? 'No view-once message to open here' : `Usage: /open [1-${String(sealed.length)}]`);
      try {
        const content = await context.client.openViewOnce(context.buffer.name, message.id);
        context.screen.showViewOnce(message.from, content);
      } catch (error) {
        throw new CommandError(`This view-once message cannot be opened: ${error instanceof Error ? error.message : 'refused'}`);
      }
    },
  },
  once: {
    usage: '/once <text>',
    description: 'Send a view-once message: each recipient can see it once, then the server forgets it',
    async execute(context, args) {
      conversationOnly(context, this.usage);
      if (args.trim() === '') throw new CommandError(`Usage: ${this.usage}`);
      try {
        await context.client.sendViewOnce(context.buffer.name, args);
      } catch (error) {
        throw new CommandError(`View-once message not sent: ${error instanceof Error ? error.message : 'refused'}`);
      }
    },
  },
  react: {
    usage: '/react <emoji>',
    description: 'React to the newest message from someone else',
    async execute(context, args) {
      conversationOnly(context, this.usage);
      const emoji = args.trim();
      if (emoji === '' || emoji.includes(' ')) throw new CommandError(`Usage: ${this.usage}`);
      const message = lastFromOthers(context.buffer);
      if (message === undefined) throw new CommandError('Nothing to react to here yet');
      await context.client.react(context.buffer.name, message.id, emoji);
    },
  },
  reply: {
    usage: '/reply [text]',
    description: 'Answer the newest message from someone else (with text: at once; without: the next line you send)',
    execute(context, args) {
      conversationOnly(context, this.usage);
      const message = lastFromOthers(context.buffer);
      if (message === undefined) throw new CommandError('Nothing to reply to here yet');
      if (args.trim() === '') {
        context.screen.replyTo(message);
        return undefined;
      }
      context.client.say(context.buffer.name, args, { replyTo: message.id });
      return undefined;
    },
  },
  names: {
    usage: '/names',
    description: 'List who is in this room',
    execute(context) {
      if (!isRoomName(context.client.state, context.buffer.name)) throw new CommandError('Use this in a room: /names');
      const members = [...context.buffer.members.values()].sort((a, b) => a.nick.localeCompare(b.nick));
      note(context, `${String(members.length)} in ${safeText(context.buffer.name)}: ${members.map((member) => `${member.prefixes}${safeText(member.nick)}${member.away === true ? ' (away)' : ''}`).join(', ')}`);
      return undefined;
    },
  },
  window: {
    usage: '/window <n|name>',
    description: 'Switch to the nth window of the list, or to a room or conversation by name (also Alt+1…9, Ctrl+N, Ctrl+P)',
    execute(context, args) {
      const which = args.trim();
      if (which === '') throw new CommandError(`Usage: ${this.usage}`);
      const target = /^\d+$/.test(which) ? Number(which) : which;
      if (!context.screen.switchTo(target)) throw new CommandError(`No window ${which}`);
      return undefined;
    },
  },
  quit: {
    usage: '/quit [reason]',
    description: 'Leave the chat and close the terminal client (also Ctrl+C)',
    execute(context, args) {
      context.screen.quit(args.trim() === '' ? 'Leaving' : args.trim());
      return undefined;
    },
  },
};

/** Shown after the shared commands by /help. */
export const KEYS_HELP = [
  'Keys: Ctrl+N / Ctrl+P or Alt+1…9 switch windows · PageUp / PageDown scroll back through history · Esc back to the newest',
  'Tab completes a nick · Up / Down walk what you sent · Ctrl+W deletes a word · Ctrl+U the line · Ctrl+C quits',
];
