/** PRIVMSG, NOTICE, TAGMSG, AWAY, SETNAME (Modern IRC "Sending Messages"; IRCv3 message-tags, setname). */
import { ChatError, FailError } from '../core/errors.js';
import type { MultilineLine } from '../core/events.js';
import { sendMessage } from '../core/messaging.js';
import type { MessageCommand } from '../core/messaging.js';
import { setAway, setRealname } from '../core/users.js';
import { isViewOnce, VIEW_ONCE_TAG } from '../core/view-once.js';
import { Cap } from '../protocol/caps.js';
import { serializeTags } from '../protocol/message.js';
import type { IrcMessage } from '../protocol/message.js';
import * as N from '../protocol/numerics.js';
import { isClientTag } from '../protocol/tags.js';
import type { CommandContext } from './context.js';
import { eachTarget } from './dispatch-helpers.js';
import { isService, runService } from './services.js';
import type { CommandTable } from './types.js';

/**
 * Client-only tags (+foo) are relayed only from clients that negotiated message-tags; all others are dropped. The
 * natter.chat/view-once tag is kept whatever the client negotiated (core/view-once.ts): dropped, it would let what
 * was meant to be seen once go out, and into history, in the clear.
 */
export function clientTags(ctx: CommandContext, message: IrcMessage): Map<string, string> | undefined {
  const viewOnce = isViewOnce(message.tags);
  if (message.tags === undefined || !ctx.device.hasCap(Cap.messageTags)) return viewOnce ? new Map([[VIEW_ONCE_TAG, '']]) : undefined;
  let relayed: Map<string, string> | undefined;
  for (const [key, value] of message.tags) {
    if (!isClientTag(key)) continue;
    relayed ??= new Map();
    relayed.set(key, value);
  }
  if (viewOnce) (relayed ??= new Map()).set(VIEW_ONCE_TAG, '');
  // message-tags "Size limit": clients get 4094 bytes of tag data, the server adds its own (time, msgid, account) on
  // top, and what goes out must stay within 8191. The connection takes up to 8191 from a client (label, batch and
  // other server-read tags are not relayed), so the relayed part is checked here.
  if (relayed !== undefined && Buffer.byteLength(serializeTags(relayed)) > MAX_CLIENT_TAG_DATA) throw new ChatError('inputTooLong');
  return relayed;
}

/** message-tags: the tag data a client may send, without the '@' and the space. */
export const MAX_CLIENT_TAG_DATA = 4094;

function deliver(ctx: CommandContext, message: IrcMessage, command: MessageCommand): Promise<void> | undefined {
  const [targets, text = ''] = message.params;
  if (targets === undefined || targets === '') throw new ChatError('noRecipient', [], `No recipient given (${command})`);
  if (command !== 'TAGMSG' && text === '') throw new ChatError('noTextToSend');
  const tags = clientTags(ctx, message);
  if (command === 'TAGMSG' && tags === undefined) return undefined;
  // A NOTICE never gets an automatic reply: no RPL_AWAY and no delivery errors (as Ergo does; 411/412 still
  // answer a malformed command).
  return eachTarget(
    ctx,
    targets,
    (target) => sendToTarget(ctx, command, target, text, tags),
    command === 'NOTICE',
  );
}

/** One target's message (also a draft/multiline batch, with its `lines`: commands/batch.ts). */
export function sendToTarget(
  ctx: CommandContext,
  command: MessageCommand,
  target: string,
  text: string,
  tags: ReadonlyMap<string, string> | undefined,
  lines?: readonly MultilineLine[],
): Promise<void> | undefined {
  let sent: ReturnType<typeof sendMessage>;
  try {
    sent = sendMessage(ctx.network, ctx.network.settings.history.enabled ? ctx.server.store : undefined, ctx.session, ctx.device.id, command, target, text, tags, lines, ctx.server.store);
  } catch (error) {
    // Modern IRC "NOTICE": no error goes back for a NOTICE, so a refused whisper NOTICE is dropped without a FAIL.
    if (command === 'NOTICE' && error instanceof FailError && error.code === 'INVALID_CONTEXT') return undefined;
    throw error;
  }
  const { recipient, done } = sent;
  if (recipient?.away !== undefined && command === 'PRIVMSG') ctx.numeric(N.RPL_AWAY, recipient.nick, recipient.away);
  return done?.catch((error: unknown) => {
    ctx.log('error', { kind: 'store', err: error, command }, 'message not stored, so not delivered');
    throw new FailError(command, 'MESSAGE_NOT_STORED', [target], 'The message could not be stored and was not delivered; try again');
  });
}

export const messageCommands: CommandTable = {
  PRIVMSG: {
    minParams: 0,
    handler(ctx, message) {
      const [target = '', text = ''] = message.params;
      if (text !== '' && isService(ctx, target)) return runService(ctx, target, text);
      return deliver(ctx, message, 'PRIVMSG');
    },
  },
  NOTICE: {
    minParams: 0,
    handler(ctx, message) {
      return deliver(ctx, message, 'NOTICE');
    },
  },
  TAGMSG: {
    minParams: 1,
    handler(ctx, message) {
      return deliver(ctx, message, 'TAGMSG');
    },
  },
  AWAY: {
    minParams: 0,
    handler(ctx, message) {
      const text = message.params[0];
      setAway(ctx.network, ctx.session, text);
      if (text === undefined || text === '') ctx.numeric(N.RPL_UNAWAY, 'You are no longer marked as being away');
      else ctx.numeric(N.RPL_NOWAWAY, 'You have been marked as being away');
    },
  },
  SETNAME: {
    minParams: 1,
    handler(ctx, message) {
      const realname = message.params[0] ?? '';
      if (realname === '' || realname.length > ctx.network.settings.limits.realnameLength) {
        ctx.fromServer('FAIL', ['SETNAME', 'INVALID_REALNAME', 'Realname is not valid']);
        return;
      }
      setRealname(ctx.network, ctx.session, realname);
    },
  },
};
