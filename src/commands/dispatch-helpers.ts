/** Small pieces shared by handlers. */
import { ChatError, FailError } from '../core/errors.js';
import type { CommandContext } from './context.js';
import { replyFor } from './replies.js';
import { ERR_TOOMANYTARGETS } from '../protocol/numerics.js';

/** Replies with a ChatError's numeric; anything else is rethrown for the dispatcher to contain. */
export function reportError(ctx: CommandContext, error: unknown): void {
  if (error instanceof FailError) {
    ctx.standardReply('FAIL', error.command, error.code, ...error.context, error.description);
    return;
  }
  if (!(error instanceof ChatError)) throw error;
  const { numeric, params } = replyFor(error);
  ctx.numeric(numeric, ...params);
}

/** A target's work: done at once, or a promise for work that waits on the store. */
// A callback with no return statement returns void; it is the common, synchronous case.
// eslint-disable-next-line @typescript-eslint/no-invalid-void-type
export type TargetResult = Promise<void> | undefined | void;

/**
 * Runs `each` for every comma-separated target (at most MAXTARGETS; one 407 names the first dropped), one after
 * the other, reporting an error per target so one bad target does not stop the others. With `quiet` (NOTICE) no
 * ChatError is sent at all: Modern IRC "NOTICE": servers "must not send any error back to the client on receipt of
 * a NOTICE command". Returns a promise only when some target's work had to wait.
 */
export function eachTarget(ctx: CommandContext, list: string, each: (target: string) => TargetResult, quiet = false): Promise<void> | undefined {
  if (!list.includes(',')) {
    // The common case, one target: no arrays on the message path.
    return list === '' ? undefined : runTarget(ctx, list, each, quiet);
  }
  const targets = list.split(',').filter((t) => t !== '');
  const max = ctx.network.settings.limits.maxTargets;
  const run = (index: number): Promise<void> | undefined => {
    for (let i = index; i < targets.length; i++) {
      if (i >= max) {
        if (!quiet) ctx.numeric(ERR_TOOMANYTARGETS, targets[i] ?? '', `Too many targets. The maximum is ${max}, the rest were dropped.`);
        return undefined;
      }
      const pending = runTarget(ctx, targets[i] ?? '', each, quiet);
      if (pending !== undefined) return pending.then(() => run(i + 1));
    }
    return undefined;
  };
  return run(0);
}

function runTarget(ctx: CommandContext, target: string, each: (target: string) => TargetResult, quiet: boolean): Promise<void> | undefined {
  const report = (error: unknown): void => {
    if (!quiet || !(error instanceof ChatError)) reportError(ctx, error);
  };
  let pending: TargetResult;
  try {
    pending = each(target);
  } catch (error) {
    report(error);
  }
  if (pending instanceof Promise) {
    return pending.then(
      () => {
        ctx.flushPartial();
      },
      (error: unknown) => {
        report(error);
        ctx.flushPartial();
      },
    );
  }
  // What the Bus delivered for this target (our own JOIN, echo-message) is already queued; sending this target's
  // replies now keeps them next to it, e.g. "JOIN #a, 353/366 #a, JOIN #b, 353/366 #b" as Modern IRC "JOIN" orders.
  ctx.flushPartial();
  return undefined;
}
