/**
 * IRCv3 draft/multiline (ircv3.net/specs/extensions/multiline): one message made of several lines, sent by a client
 * in a `draft/multiline` batch (commands/batch.ts collects it) and delivered here as one message: one msgid, one
 * time, one history item. Devices that negotiated draft/multiline, batch and message-tags get the batch; the others
 * get each non-blank line as its own PRIVMSG/NOTICE, the msgid and client tags on the first (spec "Fallback").
 *
 * In history the message is one item whose text is the lines joined ("\n" between lines, nothing before a
 * draft/multiline-concat line) and whose tags hold MULTILINE_MARKER, from which multilineReplay() splits it again.
 */
import { Cap } from '../protocol/caps.js';
import { Rank } from './channel.js';
import type { MultilineLine, NetworkEvent } from './events.js';
import type { HistoryItem } from './history.js';
import type { Network } from './network.js';
import { Outbound } from './outbound.js';
import type { Device, Session } from './session.js';

export const MULTILINE_BATCH_TYPE = 'draft/multiline';
export const MULTILINE_CONCAT_TAG = 'draft/multiline-concat';
/**
 * The history tag that marks an item as a multiline message (a server-private key: no '+', never relayed as a client
 * tag). Its value is "1", then ",<offset>" for each draft/multiline-concat line: the UTF-16 offset in the stored text
 * where that line begins. "1" alone: every line began after a "\n".
 */
export const MULTILINE_MARKER = 'natter.chat/multiline';

/**
 * What a device needs to receive the batch form. message-tags too: the batch and concat tags of the lines, and the
 * msgid and client tags of the opening BATCH, are tags Natter serializes once for message-tags clients (the spec
 * "uses the message tags framework"); a device without it gets the fallback lines.
 */
const BATCH_FORM_CAPS = Cap.multiline | Cap.batch | Cap.messageTags;

export function receivesMultilineBatches(device: Device): boolean {
  return (device.caps & BATCH_FORM_CAPS) === BATCH_FORM_CAPS;
}

/** The combined message: lines joined by "\n", a concat line joined to the previous one with nothing. */
export function joinLines(lines: readonly MultilineLine[]): string {
  let text = '';
  lines.forEach((line, index) => {
    text += index === 0 || line.concat ? line.text : `\n${line.text}`;
  });
  return text;
}

/** UTF-8 length of a string, for max-bytes, without node:buffer (core runs anywhere). */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4;
        i++;
      } else bytes += 3;
    } else bytes += 3;
  }
  return bytes;
}

/** The value of MULTILINE_MARKER for these lines (see there). */
export function multilineMarker(lines: readonly MultilineLine[]): string {
  let marker = '1';
  let position = 0;
  lines.forEach((line, index) => {
    if (index > 0 && line.concat) marker += `,${position}`;
    else if (index > 0) position += 1;
    position += line.text.length;
  });
  return marker;
}

/** Splits a stored multiline text into its lines again, by its marker. */
export function splitLines(text: string, marker: string): MultilineLine[] {
  const cuts = marker
    .split(',')
    .slice(1)
    .map(Number)
    .filter((n) => Number.isInteger(n))
    .sort((a, b) => a - b);
  const lines: MultilineLine[] = [];
  let start = 0;
  let cut = 0;
  for (let end = text.indexOf('\n'); ; end = text.indexOf('\n', start)) {
    const stop = end === -1 ? text.length : end;
    let from = start;
    let concat = false;
    while (cut < cuts.length && (cuts[cut] ?? 0) <= start) cut++;
    while (cut < cuts.length && (cuts[cut] ?? 0) < stop) {
      const at = cuts[cut++] ?? stop;
      lines.push({ text: text.slice(from, at), concat });
      from = at;
      concat = true;
    }
    lines.push({ text: text.slice(from, stop), concat });
    if (end === -1) return lines;
    start = end + 1;
  }
}

export function isMultilineItem(item: HistoryItem): boolean {
  return item.tags?.has(MULTILINE_MARKER) === true;
}

/** A multiline message's parts, as the Outbounds of one fan-out or of one replay are built from them. */
interface MultilineMessage {
  readonly source: string;
  readonly account: string | undefined;
  readonly command: string;
  readonly target: string;
  readonly lines: readonly MultilineLine[];
  readonly time: number;
  readonly msgid: string;
  readonly clientTags: ReadonlyMap<string, string> | undefined;
}

/**
 * The batch ref of a message, the same for every recipient (so the lines' `batch=` tag is part of the bytes
 * serialized once): derived from the msgid, which is unique, so it cannot clash with a ref the connection has open.
 */
function batchRef(msgid: string): string {
  return `ml${msgid}`;
}

/**
 * The batch form: BATCH +ref with the msgid, time, account and client tags (spec "Server sending the same batch"),
 * each line with `batch=ref` (and draft/multiline-concat) in its serverTags, so that inside another batch
 * (chathistory, labeled-response) a line keeps its own batch tag; then BATCH -ref.
 */
function batchForm(message: MultilineMessage): Outbound[] {
  const { source, account, command, target, time } = message;
  const ref = batchRef(message.msgid);
  const out = [new Outbound(source, 'BATCH', [`+${ref}`, MULTILINE_BATCH_TYPE, target], time, message.clientTags, account, message.msgid)];
  for (const line of message.lines) {
    const tags = line.concat ? `batch=${ref};${MULTILINE_CONCAT_TAG}` : `batch=${ref}`;
    out.push(new Outbound(source, command, [target, line.text], time, undefined, account, undefined, tags));
  }
  out.push(new Outbound(source, 'BATCH', [`-${ref}`], time));
  return out;
}

/**
 * The fallback: each non-blank line as it was sent (spec: servers "SHOULD maintain the line composition sent by the
 * client"; a concat line stays its own message, as joining could exceed the line length it was split for), the
 * msgid and client tags on the first line only (spec "Message ids").
 */
function plainForm(message: MultilineMessage): Outbound[] {
  const { source, account, command, target, time } = message;
  const out: Outbound[] = [];
  for (const line of message.lines) {
    if (line.text === '') continue;
    const first = out.length === 0;
    out.push(
      new Outbound(source, command, [target, line.text], time, first ? message.clientTags : undefined, account, first ? message.msgid : undefined),
    );
  }
  return out;
}

/** One fan-out: each form is built (and so serialized) at most once, whatever the number of recipients. */
class Fanout {
  private batch: Outbound[] | undefined;
  private plain: Outbound[] | undefined;

  constructor(private readonly message: MultilineMessage) {}

  to(device: Device): void {
    const messages = receivesMultilineBatches(device) ? (this.batch ??= batchForm(this.message)) : (this.plain ??= plainForm(this.message));
    for (const message of messages) device.link.send(message);
  }

  toSession(session: Session): void {
    for (const device of session.devices) this.to(device);
  }

  /** The sender's devices, as Network.echoToSender: echo-message for the one that sent it, the others always. */
  echo(sender: Session, originDevice: string | undefined): void {
    for (const device of sender.devices) {
      if (device.id === originDevice && !device.hasCap(Cap.echoMessage)) continue;
      this.to(device);
    }
  }
}

type ChannelMessage = Extract<NetworkEvent, { type: 'channelMessage' }>;
type PrivateMessage = Extract<NetworkEvent, { type: 'privateMessage' }>;

/** Network.applyChannelMessage for an event with lines: the same recipients, the multiline forms. */
export function deliverMultilineToChannel(network: Network, event: ChannelMessage): void {
  const channel = network.channels.get(event.channel);
  const sender = network.sessions.get(event.from);
  if (channel === undefined || sender === undefined || event.lines === undefined) return;
  const fanout = new Fanout(messageOf(sender, event.command, event.target, event.lines, event));
  for (const membership of channel.members.values()) {
    const member = membership.session;
    if (member === sender || member.devices.length === 0) continue;
    if (event.minRank !== Rank.none && membership.highestRank < event.minRank) continue;
    fanout.toSession(member);
  }
  fanout.echo(sender, event.device);
}

/** Network.applyPrivateMessage for an event with lines. */
export function deliverMultilineToUser(network: Network, event: PrivateMessage): void {
  const sender = network.sessions.get(event.from);
  const recipient = network.sessions.get(event.to);
  if (sender === undefined || recipient === undefined || event.lines === undefined) return;
  const fanout = new Fanout(messageOf(sender, event.command, recipient.nick, event.lines, event));
  fanout.toSession(recipient);
  // A message to oneself has reached every device already.
  if (recipient !== sender) fanout.echo(sender, event.device);
}

function messageOf(
  sender: Session,
  command: string,
  target: string,
  lines: readonly MultilineLine[],
  event: ChannelMessage | PrivateMessage,
): MultilineMessage {
  return { source: sender.prefix, account: sender.account, command, target, lines, time: event.time, msgid: event.msgid, clientTags: event.tags };
}

/**
 * The Outbounds that replay a stored multiline item (CHATHISTORY): the batch form for a device that receives
 * multiline batches (receivesMultilineBatches), else the fallback lines. Queue them in order inside the chathistory
 * batch: the BATCH lines get the outer batch tag from the reply buffer, the lines carry their own `batch=` in
 * serverTags (CommandContext leaves those alone), so the multiline batch nests inside.
 * An item that is not multiline comes back as its one message.
 */
export function multilineReplay(item: HistoryItem, withBatch: boolean): Outbound[] {
  const [target = '*', text = ''] = item.params;
  const marker = item.tags?.get(MULTILINE_MARKER);
  let clientTags: ReadonlyMap<string, string> | undefined = item.tags;
  if (marker !== undefined && item.tags !== undefined) {
    const rest = new Map(item.tags);
    rest.delete(MULTILINE_MARKER);
    clientTags = rest.size === 0 ? undefined : rest;
  }
  if (marker === undefined) return [new Outbound(item.source, item.command, item.params, item.time, clientTags, item.account, item.msgid)];
  const message: MultilineMessage = {
    source: item.source,
    account: item.account,
    command: item.command,
    target,
    lines: splitLines(text, marker),
    time: item.time,
    msgid: item.msgid,
    clientTags,
  };
  return withBatch ? batchForm(message) : plainForm(message);
}

/** True when a message carries its own batch tag (a multiline line): an enclosing batch must not add another. */
export function carriesOwnBatch(message: Outbound): boolean {
  return message.serverTags?.startsWith('batch=') === true;
}

/**
 * True when queued replies are exactly one multiline batch (BATCH +ref, its lines, BATCH -ref): the echo of a
 * labeled multiline message, whose label goes on the opening BATCH alone (spec "Labeled response").
 */
export function isOneMultilineBatch(messages: readonly Outbound[]): boolean {
  const first = messages[0];
  const last = messages.at(-1);
  if (messages.length < 3 || first?.command !== 'BATCH' || first.params[1] !== MULTILINE_BATCH_TYPE || last?.command !== 'BATCH') return false;
  const ref = (first.params[0] ?? '').slice(1);
  if (last.params[0] !== `-${ref}`) return false;
  const tag = `batch=${ref}`;
  for (let i = 1; i < messages.length - 1; i++) {
    const tags = messages[i]?.serverTags;
    if (tags !== tag && tags?.startsWith(`${tag};`) !== true) return false;
  }
  return true;
}
