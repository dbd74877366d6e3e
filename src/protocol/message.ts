/**
 * The IRC wire format: one line <-> one message. Modern IRC "Messages" and IRCv3 message-tags.
 * Runs in Node and in the browser (no node:* imports).
 */
import { escapeTagValue, unescapeTagValue } from './tags.js';

export interface IrcMessage {
  /** Tag values are unescaped; a tag without a value has the empty string. */
  tags?: Map<string, string>;
  /** Without the leading ':'. */
  source?: string;
  /** As sent; dispatchers uppercase it. */
  command: string;
  params: string[];
}

/**
 * Parses one line (without CR/LF). Runs of spaces separate atoms, as RFC 1459 allows.
 * Returns undefined for a line with no command (empty, or only tags/source).
 */
export function parseMessage(line: string): IrcMessage | undefined {
  let pos = 0;
  const length = line.length;
  let tags: Map<string, string> | undefined;
  let source: string | undefined;

  if (line.charCodeAt(0) === 64 /* @ */) {
    const end = line.indexOf(' ');
    if (end === -1) return undefined;
    tags = parseTags(line.slice(1, end));
    pos = skipSpaces(line, end);
  }
  if (line.charCodeAt(pos) === 58 /* : */) {
    const end = line.indexOf(' ', pos);
    if (end === -1) return undefined;
    source = line.slice(pos + 1, end);
    pos = skipSpaces(line, end);
  }
  let end = line.indexOf(' ', pos);
  if (end === -1) end = length;
  const command = line.slice(pos, end);
  if (command.length === 0) return undefined;
  pos = skipSpaces(line, end);

  const params: string[] = [];
  while (pos < length) {
    if (line.charCodeAt(pos) === 58 /* : */) {
      params.push(line.slice(pos + 1));
      break;
    }
    end = line.indexOf(' ', pos);
    if (end === -1) end = length;
    params.push(line.slice(pos, end));
    pos = skipSpaces(line, end);
  }
  const message: IrcMessage = { command, params };
  if (tags !== undefined) message.tags = tags;
  if (source !== undefined) message.source = source;
  return message;
}

function skipSpaces(line: string, pos: number): number {
  while (line.charCodeAt(pos) === 32) pos++;
  return pos;
}

/** Parses the tag block between '@' and the first space. Later duplicates win, as message-tags says. */
export function parseTags(block: string): Map<string, string> {
  const tags = new Map<string, string>();
  for (const item of block.split(';')) {
    if (item.length === 0) continue;
    const eq = item.indexOf('=');
    if (eq === -1) tags.set(item, '');
    else tags.set(item.slice(0, eq), unescapeTagValue(item.slice(eq + 1)));
  }
  return tags;
}

export function serializeTags(tags: ReadonlyMap<string, string>): string {
  let out = '';
  for (const [key, value] of tags) {
    if (out.length > 0) out += ';';
    out += value.length === 0 ? key : `${key}=${escapeTagValue(value)}`;
  }
  return out;
}

/**
 * Serializes without the line ending. The last parameter gets a ':' only when it needs one
 * (empty, contains a space, or starts with ':'), so "AWAY :" keeps its empty trailing parameter.
 */
export function serializeMessage(message: IrcMessage): string {
  let out = '';
  if (message.tags !== undefined && message.tags.size > 0) out = `@${serializeTags(message.tags)} `;
  if (message.source !== undefined) out += `:${message.source} `;
  out += message.command;
  out += serializeParams(message.params);
  return out;
}

/** The parameters with their leading spaces: " a b :last param". */
export function serializeParams(params: readonly string[]): string {
  let out = '';
  const last = params.length - 1;
  for (let i = 0; i < last; i++) out += ` ${params[i] ?? ''}`;
  if (last >= 0) {
    const trailing = params[last] ?? '';
    out += needsTrailingColon(trailing) ? ` :${trailing}` : ` ${trailing}`;
  }
  return out;
}

function needsTrailingColon(param: string): boolean {
  return param.length === 0 || param.charCodeAt(0) === 58 || param.includes(' ');
}

/** A middle parameter may not be empty, start with ':' or hold a space; such a value can only be last. */
export function isValidMiddleParam(param: string): boolean {
  return !needsTrailingColon(param);
}
