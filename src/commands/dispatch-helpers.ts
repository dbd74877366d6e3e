/** Small pieces shared by handlers. */
import { ChatError } from '../core/errors.js';
import type { CommandContext } from './context.js';
import { replyFor } from './replies.js';
import { ERR_TOOMANYTARGETS } from '../protocol/numerics.js';

/** Replies with a ChatError's numeric; anything else is rethrown for the dispatcher to contain. */
export function reportError(ctx: CommandContext, error: unknown): void {
  if (!(error instanceof ChatError)) throw error;
  const { numeric, params } = replyFor(error);
  ctx.numeric(numeric, ...params);
}

/**
 * Runs `each` for every comma-separated target (at most MAXTARGETS; one 407 names the first dropped), reporting a
 * ChatError per target so one bad target does not stop the others. With `quiet` (NOTICE) no error is sent at all:
 * Modern IRC "NOTICE": servers "must not send any error back to the client on receipt of a NOTICE command".
 */
export function eachTarget(ctx: CommandContext, list: string, each: (target: string) => void, quiet = false): void {
  if (!list.includes(',')) {
    // The common case, one target: no arrays on the message path.
    if (list !== '') runTarget(ctx, list, each, quiet);
    return;
  }
  const targets = list.split(',').filter((t) => t !== '');
  const max = ctx.network.settings.limits.maxTargets;
  for (const [index, target] of targets.entries()) {
    if (index >= max) {
      if (!quiet) ctx.numeric(ERR_TOOMANYTARGETS, target, `Too many targets. The maximum is ${max}, the rest were dropped.`);
      return;
    }
    runTarget(ctx, target, each, quiet);
  }
}

function runTarget(ctx: CommandContext, target: string, each: (target: string) => void, quiet: boolean): void {
  try {
    each(target);
  } catch (error) {
    if (!quiet || !(error instanceof ChatError)) reportError(ctx, error);
  }
  // What the Bus delivered for this target (our own JOIN, echo-message) is already queued; sending this target's
  // replies now keeps them next to it, e.g. "JOIN #a, 353/366 #a, JOIN #b, 353/366 #b" as Modern IRC "JOIN" orders.
  ctx.flush();
}
