/**
 * CHATHISTORY (IRCv3 draft/chathistory, with draft/event-playback): LATEST, BEFORE, AFTER, AROUND, BETWEEN and
 * TARGETS, answered in a chathistory batch. Who may read what is decided in core/history-access.ts.
 */
import { FailError } from '../core/errors.js';
import type { StoredHistoryItem } from '../core/history.js';
import type { HistoryRequest, MessageRef } from '../core/history-access.js';
import { parseMessageRef, readableTarget, readHistory } from '../core/history-access.js';
import { partyOf } from '../core/messaging.js';
import { isMultilineItem, multilineReplay, receivesMultilineBatches } from '../core/multiline.js';
import { Outbound } from '../core/outbound.js';
import { Cap } from '../protocol/caps.js';
import type { CommandContext } from './context.js';
import type { CommandTable } from './types.js';

const SUBCOMMANDS = new Set(['LATEST', 'BEFORE', 'AFTER', 'AROUND', 'BETWEEN', 'TARGETS']);

/** A stored item as the client receives it: its original source, time, msgid, account and client tags. */
export function replayOf(item: StoredHistoryItem): Outbound {
  return new Outbound(item.source, item.command, item.params, item.time, item.tags, item.account, item.msgid);
}

function parseLimit(ctx: CommandContext, subcommand: string, text: string | undefined): number {
  const limit = Number(text);
  if (text === undefined || !/^\d+$/.test(text) || limit < 1) {
    throw new FailError('CHATHISTORY', 'INVALID_PARAMS', [subcommand, text ?? '*'], 'Messages could not be retrieved: the limit must be a positive number');
  }
  // More than the server's maximum (ISUPPORT CHATHISTORY) is answered with the maximum.
  return Math.min(limit, ctx.network.settings.history.maxPerQuery);
}

async function history(ctx: CommandContext, subcommand: HistoryRequest['subcommand'], params: readonly string[]): Promise<void> {
  const [targetName = '', ...rest] = params;
  const refCount = subcommand === 'BETWEEN' ? 2 : 1;
  if (rest.length < refCount + 1) throw new FailError('CHATHISTORY', 'NEED_MORE_PARAMS', [subcommand], 'Missing parameters');
  const refs: MessageRef[] = rest.slice(0, refCount).map((text) => parseMessageRef(subcommand, text, subcommand === 'LATEST'));
  const limit = parseLimit(ctx, subcommand, rest[refCount]);
  const { network, server, session } = ctx;
  const target = await readableTarget(network, server.store, session, subcommand, targetName);
  const items = await readHistory(server.store, target, { subcommand, refs, limit, events: ctx.device.hasCap(Cap.eventPlayback) });
  const withBatches = receivesMultilineBatches(ctx.device);
  ctx.batch('chathistory', [target.display], () => {
    for (const item of items) {
      // A multiline message is one item whose text holds line breaks: it goes out as its lines (or their batch).
      if (isMultilineItem(item)) for (const message of multilineReplay(item, withBatches)) ctx.push(message);
      else ctx.push(replayOf(item));
    }
  });
}

async function targets(ctx: CommandContext, params: readonly string[]): Promise<void> {
  const [fromText, toText, limitText] = params;
  if (fromText === undefined || toText === undefined || limitText === undefined) throw new FailError('CHATHISTORY', 'NEED_MORE_PARAMS', ['TARGETS'], 'Missing parameters');
  const from = parseMessageRef('TARGETS', fromText, false);
  const to = parseMessageRef('TARGETS', toText, false);
  if (from.kind !== 'time' || to.kind !== 'time') {
    throw new FailError('CHATHISTORY', 'INVALID_PARAMS', ['TARGETS'], 'Messages could not be retrieved: TARGETS takes two timestamps');
  }
  const limit = parseLimit(ctx, 'TARGETS', limitText);
  const { network, server, session } = ctx;
  const rooms = [...session.channels.keys()].map((channel) => channel.nameFolded);
  const mine = partyOf(network, session);
  let low = Math.min(from.time, to.time);
  // A guest sees only conversations of this connection's lifetime (core/history-access.ts).
  if (session.account === undefined) low = Math.max(low, session.connectedAtMs);
  const found = await server.store.historyTargets(rooms, mine, low, Math.max(from.time, to.time), limit);
  ctx.batch('draft/chathistory-targets', [], () => {
    for (const { target, latest } of found) {
      const name = network.channels.get(target)?.name ?? otherPartyName(target, mine);
      ctx.fromServer('CHATHISTORY', ['TARGETS', name, `timestamp=${new Date(latest).toISOString()}`]);
    }
  });
}

/** "a:alice n:bob" seen by "n:bob" is "alice". */
function otherPartyName(conversation: string, mine: string): string {
  const [first = '', second = ''] = conversation.split(' ');
  const other = first === mine ? second : first;
  return other.slice(2);
}

export const chathistoryCommands: CommandTable = {
  CHATHISTORY: {
    minParams: 1,
    async handler(ctx, message) {
      const subcommand = (message.params[0] ?? '').toUpperCase();
      if (!SUBCOMMANDS.has(subcommand)) throw new FailError('CHATHISTORY', 'INVALID_PARAMS', [subcommand], 'Unknown CHATHISTORY subcommand');
      if (!ctx.network.settings.history.enabled) throw new FailError('CHATHISTORY', 'MESSAGE_ERROR', [subcommand], 'This server keeps no history');
      const params = message.params.slice(1);
      if (subcommand === 'TARGETS') await targets(ctx, params);
      else await history(ctx, subcommand as HistoryRequest['subcommand'], params);
    },
  },
};
