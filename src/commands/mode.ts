/** MODE for rooms and for oneself (Modern IRC "MODE"). */
import type { Channel, ListMode } from '../core/channel.js';
import { ChatError } from '../core/errors.js';
import { changeChannelModes } from '../core/modes.js';
import type { ModeRequest } from '../core/modes.js';
import { isVisibleTo } from '../core/rooms.js';
import { changeUserModes } from '../core/users.js';
import * as N from '../protocol/numerics.js';
import type { CommandContext } from './context.js';
import { reportError } from './dispatch-helpers.js';
import type { CommandTable } from './types.js';

const LIST_REPLIES: Record<ListMode, readonly [string, string, string]> = {
  b: [N.RPL_BANLIST, N.RPL_ENDOFBANLIST, 'End of channel ban list'],
  e: [N.RPL_EXCEPTLIST, N.RPL_ENDOFEXCEPTLIST, 'End of channel exception list'],
  I: [N.RPL_INVEXLIST, N.RPL_ENDOFINVEXLIST, 'End of channel invite list'],
};

function sendList(ctx: CommandContext, channel: Channel, mode: ListMode): void {
  const [item, end, text] = LIST_REPLIES[mode];
  for (const entry of channel.lists[mode]) ctx.numeric(item, channel.name, entry.mask, entry.setBy, String(entry.setAt));
  ctx.numeric(end, channel.name, text);
}

function channelMode(ctx: CommandContext, channel: Channel, modeString: string | undefined, params: readonly string[]): void | Promise<void> {
  const { session, network } = ctx;
  if (modeString === undefined) {
    ctx.numeric(N.RPL_CHANNELMODEIS, channel.name, ...channel.modes.describe(channel.members.has(session) || session.isOper));
    ctx.numeric(N.RPL_CREATIONTIME, channel.name, String(channel.createdAt));
    return;
  }
  const report = (request: ModeRequest): void => {
    for (const mode of request.listQueries) sendList(ctx, channel, mode);
    for (const error of request.errors) reportError(ctx, error);
  };
  // A registered room stores the changes before they are applied: the reply waits for the store.
  const request = changeChannelModes(network, ctx.server.store, session, channel, modeString, params);
  if (request instanceof Promise) return request.then(report);
  report(request);
}

export const modeCommands: CommandTable = {
  MODE: {
    minParams: 1,
    handler(ctx, message) {
      const [target = '', modeString, ...params] = message.params;
      const { network, session } = ctx;
      if (target.startsWith('#')) {
        const channel = network.findChannel(target);
        if (channel === undefined || !isVisibleTo(channel, session)) throw new ChatError('noSuchChannel', [target]);
        return channelMode(ctx, channel, modeString, params);
      }
      const user = network.findNick(target);
      if (user === undefined) throw new ChatError('noSuchNick', [target]);
      if (user !== session) throw new ChatError('usersDontMatch');
      if (modeString === undefined) {
        ctx.numeric(N.RPL_UMODEIS, session.modeString());
        return;
      }
      const result = changeUserModes(network, session, modeString);
      if (result.unknownLetters) throw new ChatError('umodeUnknownFlag');
    },
  },
};
