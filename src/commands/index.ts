/**
 * The command table and its dispatcher: preconditions (registered? operator? enough parameters?) are
 * checked here once, then the handler runs; a ChatError becomes its numeric and anything unexpected is
 * logged and contained to the one connection (ARCHITECTURE.md lessons 1 and 2).
 */
import type { IrcMessage } from '../protocol/message.js';
import * as N from '../protocol/numerics.js';
import { batchCommands, interceptMultiline } from './batch.js';
import { capCommands } from './cap.js';
import { channelCommands } from './channel.js';
import { chathistoryCommands } from './chathistory.js';
import { chghostCommands } from './chghost.js';
import type { CommandContext } from './context.js';
import { reportError } from './dispatch-helpers.js';
import { messageCommands } from './message.js';
import { markreadCommands } from './markread.js';
import { viewOnceCommands } from './view-once.js';
import { modeCommands } from './mode.js';
import { monitorCommands } from './monitor.js';
import { operCommands } from './oper.js';
import { queryCommands } from './query.js';
import { redactCommands } from './redact.js';
import { registerCommands } from './register.js';
import { registrationCommands } from './registration.js';
import { saslCommands } from './sasl.js';
import { isService, serviceCommands } from './services.js';
import './nickserv.js';
import './chanserv.js';
import type { CommandSpec } from './types.js';
import { Cap } from '../protocol/caps.js';

/** Labels longer than this are ignored (labeled-response: servers need not keep arbitrary lengths; Ergo uses 64). */
const MAX_LABEL_LENGTH = 64;

export const COMMANDS: ReadonlyMap<string, CommandSpec> = new Map(
  Object.entries({
    ...capCommands,
    ...registrationCommands,
    ...channelCommands,
    ...chathistoryCommands,
    ...modeCommands,
    ...messageCommands,
    ...batchCommands,
    ...queryCommands,
    ...operCommands,
    ...chghostCommands,
    ...monitorCommands,
    ...saslCommands,
    ...registerCommands,
    ...serviceCommands,
    ...redactCommands,
    ...markreadCommands,
    ...viewOnceCommands,
  }),
);

function handleFailure(ctx: CommandContext, verb: string, error: unknown): void {
  try {
    reportError(ctx, error);
  } catch {
    ctx.log('error', { kind: 'command', err: error, command: verb }, 'command failed');
    ctx.fromServer('FAIL', [verb, 'INTERNAL_ERROR', 'The server could not complete this command']);
  }
}

/** Messages that may overtake nothing but may follow each other without waiting for the store (see net/connection.ts). */
const PIPELINED = new Set(['PRIVMSG', 'NOTICE', 'TAGMSG']);

/**
 * Whether a message may be run while this connection's earlier messages are still being stored: a plain message,
 * not labeled (a labeled response needs the reply buffer to itself), not part of a multiline batch, from a
 * registered client.
 */
export function canPipeline(ctx: CommandContext, message: IrcMessage): boolean {
  if (!PIPELINED.has(message.command.toUpperCase()) || !ctx.session.registered) return false;
  if (ctx.multiline?.open !== undefined || message.tags?.has('batch') === true) return false;
  // A service command (NickServ, ChanServ) runs alone: it reads and writes accounts and rooms.
  if (isService(ctx, message.params[0] ?? '')) return false;
  return !(message.tags?.has('label') === true && ctx.device.hasCap(Cap.labeledResponse));
}

/**
 * Runs one message. Returns a promise only when the handler is asynchronous, so the connection
 * can hold back its next lines until this one is done (commands of one client stay in order).
 */
export function dispatch(ctx: CommandContext, message: IrcMessage): Promise<void> | undefined {
  // draft/multiline: the lines of a client's batch are collected (commands/batch.ts), not run one by one.
  if ((ctx.multiline !== undefined || message.tags?.has('batch') === true) && interceptMultiline(ctx, message)) return undefined;
  const verb = message.command.toUpperCase();
  const spec = COMMANDS.get(verb);
  const { session } = ctx;
  const label = message.tags?.get('label');
  if (label !== undefined && label !== '' && label.length <= MAX_LABEL_LENGTH && ctx.device.hasCap(Cap.labeledResponse)) ctx.beginLabeled(label);
  if (spec === undefined) {
    if (session.registered) ctx.numeric(N.ERR_UNKNOWNCOMMAND, verb, 'Unknown command');
    else ctx.numeric(N.ERR_NOTREGISTERED, 'You have not registered');
    ctx.flush();
    return undefined;
  }
  if (!session.registered && spec.preRegistration !== true) {
    ctx.numeric(N.ERR_NOTREGISTERED, 'You have not registered');
  } else if (message.params.length < spec.minParams) {
    ctx.numeric(N.ERR_NEEDMOREPARAMS, verb, 'Not enough parameters');
  } else if (spec.operOnly === true && !session.isOper) {
    ctx.numeric(N.ERR_NOPRIVILEGES, "Permission Denied- You're not an IRC operator");
  } else {
    try {
      const pending = spec.handler(ctx, message);
      if (pending !== undefined) {
        return pending.then(
          () => {
            ctx.flush();
          },
          (error: unknown) => {
            handleFailure(ctx, verb, error);
            ctx.flush();
          },
        );
      }
    } catch (error) {
      handleFailure(ctx, verb, error);
    }
  }
  ctx.flush();
  return undefined;
}
