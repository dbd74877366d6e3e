/**
 * VIEWONCE (the Natter extension natter.chat/view-once, docs/extensions/view-once.md): OPEN releases a sealed
 * message's content to one recipient, once; LIST replays the sealed messages still waiting for the user (after a
 * reconnection, since history never holds them). The rules are in core/view-once.ts.
 *
 * The command name has no vendor prefix: Modern IRC's grammar makes a command letters only, so a "/" would break
 * strict parsers; the cap and the tag carry the prefix, as soju.im/bouncer-networks does with BOUNCER.
 */
import { FailError } from '../core/errors.js';
import { uploadIdsIn } from '../core/uploads.js';
import type { SealedViewOnce } from '../core/view-once.js';
import { recipientKey, sealedMessage, VIEW_ONCE_LIST_LIMIT, VIEW_ONCE_TAG, ViewOnceStoreError, wasOpened } from '../core/view-once.js';
import { isValidMiddleParam } from '../protocol/message.js';
import type { CommandContext } from './context.js';
import type { CommandTable } from './types.js';

/**
 * How long the pictures a view-once message links to outlive its last opening: the recipient's client fetches the
 * picture after it receives the CONTENT, so the file cannot go at the same moment as the row.
 */
const UPLOAD_GRACE_MS = 120_000;

/** A store failure: logged without the driver's details (they may quote the content), answered INTERNAL_ERROR. */
function storeFailure(ctx: CommandContext, context: string, error: unknown): FailError {
  ctx.log('error', { kind: 'store', err: new ViewOnceStoreError(error), command: 'VIEWONCE' }, 'view-once store failed');
  return new FailError('VIEWONCE', 'INTERNAL_ERROR', [context], 'The view-once message could not be read; try again');
}

async function open(ctx: CommandContext, msgid: string | undefined): Promise<void> {
  if (msgid === undefined || msgid === '') throw new FailError('VIEWONCE', 'NEED_MORE_PARAMS', ['OPEN'], 'Missing parameters: VIEWONCE OPEN <msgid>');
  if (!isValidMiddleParam(msgid)) throw new FailError('VIEWONCE', 'INVALID_PARAMS', ['OPEN'], 'Invalid msgid');
  const { network, session, server } = ctx;
  const key = recipientKey(network, session);
  const now = network.clock.now();
  let opened;
  try {
    opened = await server.store.openViewOnce(msgid, key, now);
  } catch (error) {
    throw storeFailure(ctx, msgid, error);
  }
  if (opened === undefined) {
    if (wasOpened(network, key, msgid, now)) throw new FailError('VIEWONCE', 'ALREADY_OPENED', [msgid], 'You have already opened this view-once message');
    // One answer for an unknown msgid, an expired message and a message sent to others: whoever was not a
    // recipient learns nothing about it (as REDACT answers outsiders UNKNOWN_MSGID).
    throw new FailError('VIEWONCE', 'NOT_FOUND', [msgid], 'No view-once message with this msgid is waiting for you');
  }
  const { message, last } = opened;
  ctx.fromServer('VIEWONCE', ['CONTENT', msgid, message.text]);
  network.publish({ type: 'viewOnceOpened', recipient: key, msgid, expiresAt: message.expiresAt, device: ctx.device.id, time: now });
  if (last) forgetUploadsLater(ctx, message.account, message.text);
}

/** After the last opening, the sender's uploads the message links to go too, once the grace period is over. */
function forgetUploadsLater(ctx: CommandContext, account: string | undefined, text: string): void {
  const { uploads } = ctx.server;
  const ids = uploadIdsIn(text);
  if (uploads === undefined || account === undefined || ids.length === 0) return;
  const accountFolded = ctx.network.fold(account);
  // Only the upload ids wait for the timer, not the content: deleteLinkedUploads finds ids in URLs of any host.
  const links = ids.map((id) => `https://uploads.invalid/uploads/${id}`).join(' ');
  setTimeout(() => {
    void uploads.deleteLinkedUploads(links, accountFolded);
  }, UPLOAD_GRACE_MS).unref();
}

async function list(ctx: CommandContext): Promise<void> {
  const { network, session, server } = ctx;
  let pending: SealedViewOnce[];
  try {
    pending = await server.store.pendingViewOnce(recipientKey(network, session), network.clock.now(), VIEW_ONCE_LIST_LIMIT);
  } catch (error) {
    throw storeFailure(ctx, 'LIST', error);
  }
  // As they were delivered (a private message addressed to the user's nick of now), in one batch that says they
  // are a replay and not new messages.
  ctx.batch(VIEW_ONCE_TAG, [], () => {
    for (const message of pending) ctx.push(sealedMessage(message, message.room ?? session.nick, false));
  });
}

export const viewOnceCommands: CommandTable = {
  VIEWONCE: {
    // FAIL NEED_MORE_PARAMS rather than 461 (standard replies), as MARKREAD does: hence 0.
    minParams: 0,
    handler(ctx, message) {
      const [subcommand = ''] = message.params;
      switch (subcommand.toUpperCase()) {
        case 'OPEN':
          return open(ctx, message.params[1]);
        case 'LIST':
          return list(ctx);
        case '':
          throw new FailError('VIEWONCE', 'NEED_MORE_PARAMS', [], 'Missing parameters: VIEWONCE OPEN <msgid> or VIEWONCE LIST');
        default:
          throw new FailError('VIEWONCE', 'INVALID_PARAMS', [isValidMiddleParam(subcommand) ? subcommand : '*'], 'Unknown VIEWONCE subcommand');
      }
    },
  },
};
