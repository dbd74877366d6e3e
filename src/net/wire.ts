/**
 * Serializing an Outbound once per tag variant (ARCHITECTURE.md lesson 4): the bytes are cached on the
 * message, so every recipient with the same variant gets the same Buffer.
 */
import type { Outbound } from '../core/outbound.js';
import { TagBit } from '../protocol/caps.js';
import type { TagVariant } from '../protocol/caps.js';
import { serializeParams, serializeTags } from '../protocol/message.js';
import { escapeTagValue } from '../protocol/tags.js';

export function wireBytes(message: Outbound, variant: TagVariant): Buffer {
  const cached = message.wire[variant];
  if (cached !== undefined) return cached as Buffer;
  const bytes = Buffer.from(serializeLine(message, variant), 'utf8');
  message.wire[variant] = bytes;
  return bytes;
}

/** The bytes of a message with tags of one delivery (label, batch) added: not cached, they belong to one recipient. */
export function taggedWireBytes(message: Outbound, variant: TagVariant, extraTags: string): Buffer {
  if (extraTags === '') return wireBytes(message, variant);
  return Buffer.from(serializeLine(message, variant, extraTags), 'utf8');
}

function serializeLine(message: Outbound, variant: TagVariant, extraTags = '', clean = false): string {
  let tags = extraTags;
  if ((variant & TagBit.time) !== 0) tags += `${tags === '' ? '' : ';'}time=${new Date(message.time).toISOString()}`;
  if ((variant & TagBit.account) !== 0 && message.account !== undefined) {
    tags += `${tags === '' ? '' : ';'}account=${escapeTagValue(message.account)}`;
  }
  if ((variant & TagBit.all) !== 0) {
    if (message.msgid !== undefined) tags += `${tags === '' ? '' : ';'}msgid=${message.msgid}`;
    if (message.serverTags !== undefined) tags += `${tags === '' ? '' : ';'}${message.serverTags}`;
    if (message.clientTags !== undefined && message.clientTags.size > 0) {
      // CR and LF have escapes in tag values (\r, \n); NUL has none.
      const clientTags = clean ? new Map([...message.clientTags].map(([key, value]) => [key, value.replace(/\0/g, ' ')])) : message.clientTags;
      tags += `${tags === '' ? '' : ';'}${serializeTags(clientTags)}`;
    }
  }
  let line = tags === '' ? '' : `@${tags} `;
  if (message.source !== undefined) line += `:${message.source} `;
  line += `${message.command}${serializeParams(clean ? message.params.map(withoutBreaks) : message.params)}`;
  // A line break inside a parameter or a tag would end the line early and let the rest pass for another message (a
  // stored multiline text replayed whole, say): whatever builds the message, it never leaves as two lines. The rare
  // line that holds one is built again from cleaned parts, so a parameter with a space still gets its ":" and a tag
  // value its escapes; what is left (a server tag) loses the byte.
  if (/[\r\n\0]/.test(line)) {
    if (!clean) return serializeLine(message, variant, extraTags, true);
    line = line.replace(/[\r\n\0]/g, '');
  }
  return `${line}\r\n`;
}

/** CR, LF and NUL, which no IRC line may hold, as spaces. */
function withoutBreaks(text: string): string {
  return text.replace(/[\r\n\0]/g, ' ');
}
