/** IRCv3 message-tags value escaping (ircv3.net/specs/extensions/message-tags#escaping-values). */

const ESCAPES: Record<string, string> = { ';': '\\:', ' ': '\\s', '\\': '\\\\', '\r': '\\r', '\n': '\\n' };
const UNESCAPES: Record<string, string> = { ':': ';', s: ' ', '\\': '\\', r: '\r', n: '\n' };

export function escapeTagValue(value: string): string {
  return /[; \\\r\n]/.test(value) ? value.replace(/[; \\\r\n]/g, (c) => ESCAPES[c] ?? c) : value;
}

/** An unknown escape drops the backslash; a lone trailing backslash is removed. */
export function unescapeTagValue(value: string): string {
  if (!value.includes('\\')) return value;
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const c = value[i] ?? '';
    if (c !== '\\') {
      out += c;
      continue;
    }
    const next = value[++i];
    if (next === undefined) break;
    out += UNESCAPES[next] ?? next;
  }
  return out;
}

/** Client-only tags start with '+' (optionally after a vendor prefix's '+'). */
export function isClientTag(key: string): boolean {
  return key.charCodeAt(0) === 43;
}
