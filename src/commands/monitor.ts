/**
 * MONITOR (ircv3.net/specs/extensions/monitor): "+ targets", "- targets", "C", "L", "S". The lists live in
 * core/monitor.ts, held by the Network, which also sends the sign-on/sign-off notifications.
 */
import { FailError } from '../core/errors.js';
import { packTargets } from '../core/monitor.js';
import { isValidNick } from '../core/users.js';
import { isValidMiddleParam } from '../protocol/message.js';
import * as N from '../protocol/numerics.js';
import type { CommandContext } from './context.js';
import type { CommandTable } from './types.js';

function targetsOf(param: string | undefined): string[] {
  return (param ?? '').split(',').filter((target) => target !== '');
}

/** One numeric per group of targets that fits a line: ":server <code> <nick> [middle...] :a,b,c [tail]". */
function sendPacked(ctx: CommandContext, code: string, items: readonly string[], middle: readonly string[] = [], tail?: string): void {
  if (items.length === 0) return;
  const server = ctx.network.settings.serverName;
  const head = `:${server} ${code} ${ctx.session.nick} ${middle.map((param) => `${param} `).join('')}:`;
  for (const group of packTargets(items, head, tail === undefined ? '' : ` :${tail}`)) {
    if (tail === undefined) ctx.numeric(code, ...middle, group);
    else ctx.numeric(code, ...middle, group, tail);
  }
}

/** 730 for the targets online (nick!user@host, as the spec allows), 731 for the others (as the client wrote them). */
function sendStatus(ctx: CommandContext, targets: Iterable<string>): void {
  const online: string[] = [];
  const offline: string[] = [];
  for (const target of targets) {
    const user = ctx.network.findNick(target);
    if (user === undefined) offline.push(target);
    else online.push(user.prefix);
  }
  sendPacked(ctx, N.RPL_MONONLINE, online);
  sendPacked(ctx, N.RPL_MONOFFLINE, offline);
}

/**
 * "+": adds in order while the list has room; the targets that did not fit are named in 734 ERR_MONLISTFULL, those
 * added (and those already there, which are not added twice) get their status. A target that is not a valid nick
 * is ignored (the spec: "'target' MUST be a valid nick as determined by the IRC daemon").
 */
function add(ctx: CommandContext, param: string | undefined): void {
  const { network, session } = ctx;
  const { monitor, settings } = network;
  const limit = settings.limits.monitorEntries;
  const status = new Map<string, string>();
  const refused: string[] = [];
  for (const target of targetsOf(param)) {
    if (!isValidNick(target, settings.limits.nickLength)) continue;
    const folded = network.fold(target);
    if (!monitor.has(session, folded)) {
      if (refused.length > 0 || monitor.listOf(session).size >= limit) {
        refused.push(target);
        continue;
      }
      monitor.add(session, folded, target);
    }
    if (!status.has(folded)) status.set(folded, target);
  }
  sendStatus(ctx, status.values());
  sendPacked(ctx, N.ERR_MONLISTFULL, refused, [String(limit)], 'Monitor list is full.');
}

export const monitorCommands: CommandTable = {
  MONITOR: {
    minParams: 1,
    handler(ctx, message) {
      const [modifier = '', targets] = message.params;
      const { network, session } = ctx;
      switch (modifier.toUpperCase()) {
        case '+':
          if (targetsOf(targets).length === 0) {
            ctx.numeric(N.ERR_NEEDMOREPARAMS, 'MONITOR', 'Not enough parameters');
            return;
          }
          add(ctx, targets);
          return;
        case '-':
          // "No output will be returned for use of this command."
          for (const target of targetsOf(targets)) network.monitor.remove(session, network.fold(target));
          return;
        case 'C':
          network.monitor.clear(session);
          return;
        case 'L':
          sendPacked(ctx, N.RPL_MONLIST, [...network.monitor.listOf(session).values()]);
          ctx.numeric(N.RPL_ENDOFMONLIST, 'End of MONITOR list');
          return;
        case 'S':
          sendStatus(ctx, network.monitor.listOf(session).values());
          return;
        default:
          throw new FailError('MONITOR', 'INVALID_PARAMS', [isValidMiddleParam(modifier) ? modifier : '*'], 'Unknown MONITOR subcommand: expected +, -, C, L or S');
      }
    },
  },
};
