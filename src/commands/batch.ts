/**
 * BATCH from clients: IRCv3 draft/multiline (ircv3.net/specs/extensions/multiline). `BATCH +ref draft/multiline
 * <target>` opens a batch, `@batch=ref PRIVMSG <target> :line` lines (optionally `draft/multiline-concat`) are
 * collected here instead of being run, and `BATCH -ref` sends them as one message (core/multiline.ts delivers it).
 *
 * Rules, each answered with `FAIL BATCH <code>` and the batch dropped (its later lines and its BATCH -ref are then
 * ignored silently, so one bad batch gets one FAIL):
 * - MULTILINE_MAX_LINES <limit>, MULTILINE_MAX_BYTES <limit>: checked as lines arrive, so an oversized batch is
 *   never held whole; bytes are the lines' UTF-8 plus one per line break (the spec's count).
 * - MULTILINE_INVALID_TARGET <batch-target> <line-target>: a line for another target.
 * - MULTILINE_INVALID: the caps draft/multiline and batch not both enabled, a type other than draft/multiline, no
 *   target or several, a service as target, a batch opened inside another (nested or overlapping: both dropped), a
 *   line or BATCH -ref of no open batch, a command other than PRIVMSG/NOTICE tagged with the batch, PRIVMSG and
 *   NOTICE mixed, draft/multiline-concat on a blank line, a batch with no line or only blank lines, and any other
 *   command (PING and PONG excepted) sent while a batch is open: that drops the batch, then the command runs.
 * A batch never closed holds at most max-bytes and goes with its connection.
 *
 * labeled-response: a label on the opening BATCH is kept for the end; the response is the message's echo (the
 * label on its opening BATCH alone, spec "Labeled response"), else ACK, or the FAIL that ended the batch.
 */
import type { MultilineLine } from '../core/events.js';
import { joinLines, MULTILINE_BATCH_TYPE, MULTILINE_CONCAT_TAG, utf8Length } from '../core/multiline.js';
import { Cap } from '../protocol/caps.js';
import type { IrcMessage } from '../protocol/message.js';
import { isValidMiddleParam } from '../protocol/message.js';
import type { CommandContext } from './context.js';
import { eachTarget } from './dispatch-helpers.js';
import { clientTags, sendToTarget } from './message.js';
import { isService } from './services.js';
import type { CommandTable } from './types.js';

/** Refs of dropped batches remembered, so their remaining lines are ignored without a FAIL each. */
const DROPPED_REFS_KEPT = 8;

interface OpenBatch {
  readonly ref: string;
  readonly target: string;
  /** Client-only tags of the opening BATCH: they apply to the whole message (spec "Message tags"). */
  readonly tags: ReadonlyMap<string, string> | undefined;
  /** The opening BATCH's label (labeled-response), answered when the batch ends. */
  readonly label: string | undefined;
  command: 'PRIVMSG' | 'NOTICE' | undefined;
  readonly lines: MultilineLine[];
  /** Lines received, blank and concat ones included: what max-lines counts. */
  received: number;
  bytes: number;
}

/** A connection's multiline input: the batch it has open, if any, and the refs of batches dropped lately. */
export class MultilineInput {
  open: OpenBatch | undefined = undefined;
  private readonly dropped: string[] = [];

  drop(ref: string): void {
    if (this.dropped.includes(ref)) return;
    this.dropped.push(ref);
    if (this.dropped.length > DROPPED_REFS_KEPT) this.dropped.shift();
  }

  wasDropped(ref: string): boolean {
    return this.dropped.includes(ref);
  }
}

function fail(ctx: CommandContext, code: string, context: readonly string[], description: string): void {
  ctx.standardReply('FAIL', 'BATCH', code, ...context, description);
}

/** Drops the open batch (if any) and says why, with the opening BATCH's label when this command has none. */
function abandon(ctx: CommandContext, input: MultilineInput, code: string, context: readonly string[], description: string): void {
  const open = input.open;
  input.open = undefined;
  if (open !== undefined) {
    input.drop(open.ref);
    if (ctx.label === undefined && open.label !== undefined) ctx.beginLabeled(open.label);
  }
  fail(ctx, code, context, description);
}

/**
 * The dispatcher's hook, before the command table: true when the message was a line of a client batch and has been
 * handled here. A command that is no part of an open batch drops it (FAIL sent at once), then runs as usual.
 */
export function interceptMultiline(ctx: CommandContext, message: IrcMessage): boolean {
  if (!ctx.session.registered) return false;
  const ref = message.tags?.get('batch');
  const verb = message.command.toUpperCase();
  if (ref === undefined) {
    const input = ctx.multiline;
    if (input?.open === undefined || verb === 'BATCH' || verb === 'PING' || verb === 'PONG') return false;
    abandon(ctx, input, 'MULTILINE_INVALID', [], `${verb} cannot be sent while a multiline batch is open; the batch was dropped`);
    ctx.flush();
    return false;
  }
  // A BATCH inside a batch: the BATCH handler refuses it.
  if (verb === 'BATCH') return false;
  addLine(ctx, (ctx.multiline ??= new MultilineInput()), ref, verb, message);
  ctx.flush();
  return true;
}

function addLine(ctx: CommandContext, input: MultilineInput, ref: string, verb: string, message: IrcMessage): void {
  const open = input.open;
  if (open?.ref !== ref) {
    if (input.wasDropped(ref)) return;
    input.drop(ref);
    const why = open === undefined ? `No multiline batch ${ref} is open` : `A line of batch ${ref} was sent inside batch ${open.ref}; the batch was dropped`;
    abandon(ctx, input, 'MULTILINE_INVALID', [], why);
    return;
  }
  if (verb !== 'PRIVMSG' && verb !== 'NOTICE') {
    abandon(ctx, input, 'MULTILINE_INVALID', [], `${verb} cannot be part of a multiline batch, only PRIVMSG or NOTICE`);
    return;
  }
  if (open.command !== undefined && open.command !== verb) {
    abandon(ctx, input, 'MULTILINE_INVALID', [], 'A multiline batch cannot mix PRIVMSG and NOTICE');
    return;
  }
  open.command = verb;
  const [target = '', text = ''] = message.params;
  const { fold } = ctx.network;
  if (fold(target) !== fold(open.target)) {
    abandon(ctx, input, 'MULTILINE_INVALID_TARGET', [open.target, isValidMiddleParam(target) ? target : '*'], 'Invalid multiline target');
    return;
  }
  const concat = message.tags?.has(MULTILINE_CONCAT_TAG) === true;
  if (concat && text === '') {
    abandon(ctx, input, 'MULTILINE_INVALID', [], 'A blank line cannot carry draft/multiline-concat');
    return;
  }
  const { multilineMaxLines, multilineMaxBytes } = ctx.network.settings.limits;
  open.received += 1;
  // Each line break counts one byte (spec: "Each line feed used to join line messages contributes one byte").
  open.bytes += utf8Length(text) + (open.received > 1 && !concat ? 1 : 0);
  if (open.received > multilineMaxLines) {
    abandon(ctx, input, 'MULTILINE_MAX_LINES', [String(multilineMaxLines)], 'Multiline batch max-lines exceeded');
    return;
  }
  if (open.bytes > multilineMaxBytes) {
    abandon(ctx, input, 'MULTILINE_MAX_BYTES', [String(multilineMaxBytes)], 'Multiline batch max-bytes exceeded');
    return;
  }
  // Kept in a normal form, with the same combined text, so that history can split it again unambiguously
  // (core/multiline.ts): concat on the first line is a plain line; a concat line after a blank line takes its place.
  let joined = concat && open.lines.length > 0;
  if (joined && open.lines.at(-1)?.text === '') {
    open.lines.pop();
    joined = false;
  }
  open.lines.push({ text, concat: joined });
}

function openBatch(ctx: CommandContext, input: MultilineInput, message: IrcMessage, ref: string): void {
  const [, type = '', target = ''] = message.params;
  if (message.tags?.has('batch') === true || input.open !== undefined) {
    input.drop(ref);
    abandon(ctx, input, 'MULTILINE_INVALID', [], 'A multiline batch cannot be opened inside another; both were dropped');
    return;
  }
  let problem: string | undefined;
  if (!ctx.device.hasCap(Cap.multiline) || !ctx.device.hasCap(Cap.batch)) problem = 'Enable the draft/multiline and batch capabilities first';
  else if (type !== MULTILINE_BATCH_TYPE) problem = `Clients may only open ${MULTILINE_BATCH_TYPE} batches`;
  else if (!isValidMiddleParam(target) || target.includes(',')) problem = 'A multiline batch has exactly one target';
  else if (isService(ctx, target)) problem = 'Services take one line at a time';
  if (problem !== undefined) {
    input.drop(ref);
    fail(ctx, 'MULTILINE_INVALID', [], problem);
    return;
  }
  input.open = { ref, target, tags: clientTags(ctx, message), label: ctx.label, command: undefined, lines: [], received: 0, bytes: 0 };
  // The response to a labeled BATCH comes when the batch ends: nothing now, not even ACK.
  ctx.label = undefined;
  ctx.capturing = false;
}

function closeBatch(ctx: CommandContext, input: MultilineInput, ref: string): Promise<void> | undefined {
  const open = input.open;
  if (open?.ref !== ref) {
    // A dropped batch's end: its FAIL was sent already.
    if (input.wasDropped(ref)) return undefined;
    abandon(ctx, input, 'MULTILINE_INVALID', [], `No multiline batch ${ref} is open`);
    return undefined;
  }
  input.open = undefined;
  if (ctx.label === undefined && open.label !== undefined) ctx.beginLabeled(open.label);
  const { command, lines, target, tags } = open;
  if (command === undefined || lines.every((line) => line.text === '')) {
    fail(ctx, 'MULTILINE_INVALID', [], 'A multiline batch needs at least one line that is not blank');
    return undefined;
  }
  // One message: one permission check, one msgid, one history item; a NOTICE gets no delivery errors (message.ts).
  return eachTarget(ctx, target, (each) => sendToTarget(ctx, command, each, joinLines(lines), tags, lines), command === 'NOTICE');
}

export const batchCommands: CommandTable = {
  BATCH: {
    minParams: 1,
    handler(ctx, message) {
      const input = (ctx.multiline ??= new MultilineInput());
      const [reference = ''] = message.params;
      const ref = reference.slice(1);
      if (ref !== '' && reference.startsWith('+')) {
        openBatch(ctx, input, message, ref);
        return undefined;
      }
      if (ref !== '' && reference.startsWith('-')) return closeBatch(ctx, input, ref);
      abandon(ctx, input, 'MULTILINE_INVALID', [], 'A batch reference starts with + or - and is not empty');
      return undefined;
    },
  },
};
