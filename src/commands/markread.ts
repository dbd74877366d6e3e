/** MARKREAD (IRCv3 draft/read-marker); the rules are in core/read-markers.ts. */
import type { Channel } from '../core/channel.js';
import { FailError } from '../core/errors.js';
import { Outbound } from '../core/outbound.js';
import { formatMarker, moveReadMarker, parseMarkerTimestamp, readMarkerKey } from '../core/read-markers.js';
import { Cap } from '../protocol/caps.js';
import { isValidMiddleParam } from '../protocol/message.js';
import type { CommandContext } from './context.js';
import type { CommandTable } from './types.js';

function internalError(ctx: CommandContext, target: string, error: unknown): FailError {
  ctx.log('error', { kind: 'store', err: error, command: 'MARKREAD' }, 'read marker not read or stored');
  return new FailError('MARKREAD', 'INTERNAL_ERROR', [target], 'The read timestamp could not be set');
}

function handleMarkread(ctx: CommandContext, target: string | undefined, timestamp: string | undefined): Promise<void> | undefined {
  // The spec wants FAIL NEED_MORE_PARAMS here, not 461: hence minParams 0.
  if (target === undefined || target === '') throw new FailError('MARKREAD', 'NEED_MORE_PARAMS', [], 'Missing parameters');
  const key = readMarkerKey(ctx.network, target);
  if (key === undefined) throw new FailError('MARKREAD', 'INVALID_PARAMS', [isValidMiddleParam(target) ? target : '*'], 'Invalid target');
  const { accountId } = ctx.session;
  if (accountId === undefined) throw new FailError('MARKREAD', 'ACCOUNT_REQUIRED', [target], 'Read markers are kept for logged-in users only');
  const { store } = ctx.server;
  if (timestamp === undefined) {
    return store.getReadMarker(accountId, key).then(
      (marker) => {
        ctx.fromServer('MARKREAD', [target, formatMarker(marker)]);
      },
      (error: unknown) => {
        throw internalError(ctx, target, error);
      },
    );
  }
  const time = parseMarkerTimestamp(timestamp);
  if (time === undefined) throw new FailError('MARKREAD', 'INVALID_PARAMS', [target, isValidMiddleParam(timestamp) ? timestamp : '*'], 'Invalid timestamp');
  return moveReadMarker(ctx.network, store, accountId, ctx.device.id, target, key, time).then(
    (stored) => {
      ctx.fromServer('MARKREAD', [target, formatMarker(stored)]);
    },
    (error: unknown) => {
      throw internalError(ctx, target, error);
    },
  );
}

/**
 * draft/read-marker: after the server JOIN, and before RPL_ENDOFNAMES, a connection with the cap gets MARKREAD for
 * the room. Every device of the session saw the JOIN, so each with the cap is told; this connection's copy goes
 * through its replies (labels, order). A guest has no marker: "*". Returns a promise when the store must be read;
 * a store failure answers FAIL MARKREAD INTERNAL_ERROR and lets the JOIN's replies go on.
 */
export function sendJoinReadMarker(ctx: CommandContext, channel: Channel): Promise<void> | undefined {
  const { session, device } = ctx;
  if (!session.devices.some((d) => d.hasCap(Cap.readMarker))) return undefined;
  const tell = (marker: number | undefined): void => {
    const message = new Outbound(ctx.network.settings.serverName, 'MARKREAD', [channel.name, formatMarker(marker)], ctx.network.clock.now());
    if (device.hasCap(Cap.readMarker)) ctx.push(message);
    for (const other of session.devices) if (other !== device && other.hasCap(Cap.readMarker)) other.link.send(message);
  };
  const { accountId } = session;
  if (accountId === undefined) {
    tell(undefined);
    return undefined;
  }
  return ctx.server.store.getReadMarker(accountId, channel.nameFolded).then(tell, (error: unknown) => {
    const failure = internalError(ctx, channel.name, error);
    if (device.hasCap(Cap.readMarker)) ctx.standardReply('FAIL', failure.command, failure.code, ...failure.context, failure.description);
  });
}

export const markreadCommands: CommandTable = {
  MARKREAD: {
    minParams: 0,
    handler(ctx, message) {
      return handleMarkread(ctx, message.params[0], message.params[1]);
    },
  },
};
