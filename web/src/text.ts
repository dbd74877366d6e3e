/**
 * Text helpers of the message view: links found in user text (rendered as text, never as HTML), times and days,
 * avatars (initials and a color picked from the nick) and the typing sentence.
 */

export type Segment = { readonly kind: 'text'; readonly text: string } | { readonly kind: 'link'; readonly text: string; readonly href: string };

/** http(s) URLs only: anything else (javascript:, data:, www. without a scheme) stays text. */
const URL_PATTERN = /\bhttps?:\/\/[^\s<>"'`]+/giu;
/** Trailing punctuation that ends a sentence more often than a URL. */
const TRAILING = /[.,;:!?'"*_~]+$/u;

/** Drops a closing bracket the URL did not open ("(see https://x.y/a)" keeps the ")" outside). */
function trimUnbalanced(url: string): string {
  let result = url.replace(TRAILING, '');
  for (const [open, close] of [['(', ')'], ['[', ']'], ['{', '}']] as const) {
    while (result.endsWith(close) && result.split(open).length < result.split(close).length) {
      result = result.slice(0, -1).replace(TRAILING, '');
    }
  }
  return result;
}

/** A URL the browser parses as http(s), normalised; undefined for anything else. */
export function safeHref(candidate: string): string | undefined {
  try {
    const url = new URL(candidate);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : undefined;
  } catch {
    return undefined;
  }
}

/** Splits text into plain runs and http(s) links, in order; joining every segment's text gives the input back. */
export function linkify(text: string): Segment[] {
  const segments: Segment[] = [];
  let last = 0;
  for (const match of text.matchAll(URL_PATTERN)) {
    const start = match.index;
    const raw = trimUnbalanced(match[0]);
    const href = safeHref(raw);
    if (href === undefined || raw.length <= 'https://'.length) continue;
    if (start > last) segments.push({ kind: 'text', text: text.slice(last, start) });
    segments.push({ kind: 'link', text: raw, href });
    last = start + raw.length;
  }
  if (last < text.length) segments.push({ kind: 'text', text: text.slice(last) });
  return segments;
}

const pad = (value: number): string => String(value).padStart(2, '0');

/** "14:05", in the viewer's time zone. */
export function formatTime(ms: number): string {
  const date = new Date(ms);
  return `${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

/** The full date and time, for a tooltip. */
export function formatFull(ms: number): string {
  return new Date(ms).toLocaleString(undefined, { dateStyle: 'full', timeStyle: 'medium' });
}

export function sameDay(a: number, b: number): boolean {
  const x = new Date(a);
  const y = new Date(b);
  return x.getFullYear() === y.getFullYear() && x.getMonth() === y.getMonth() && x.getDate() === y.getDate();
}

/** "Today", "Yesterday", or "Monday, 3 March" (with the year when it is not this one). */
export function formatDay(ms: number, now: number = Date.now()): string {
  if (sameDay(ms, now)) return 'Today';
  if (sameDay(ms, now - 86_400_000)) return 'Yesterday';
  const date = new Date(ms);
  const thisYear = date.getFullYear() === new Date(now).getFullYear();
  return date.toLocaleDateString(undefined, { weekday: 'long', day: 'numeric', month: 'long', ...(thisYear ? {} : { year: 'numeric' }) });
}

const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/** User-perceived characters, so an emoji or an accented letter is never cut in half. */
export function graphemes(text: string): string[] {
  return Array.from(segmenter.segment(text), (part) => part.segment);
}

/** Up to two letters for an avatar: "alice" -> "A", "bob_smith" -> "BS", "[m]ax" -> "M". */
export function initials(nick: string): string {
  const words = nick
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim()
    .split(' ')
    .filter((word) => word !== '');
  const first = graphemes(words[0] ?? nick)[0] ?? '';
  const second = words[1] === undefined ? '' : (graphemes(words[1])[0] ?? '');
  return (first + second || '?').toUpperCase();
}

/** How many nick colors messages.css defines (.nick-color-0 … .nick-color-11). */
export const NICK_COLORS = 12;

/** A stable color index for a nick (casefolded by the caller), so one person has one color everywhere. */
export function nickColor(folded: string): number {
  let hash = 0;
  for (const char of folded) hash = (Math.imul(hash, 31) + (char.codePointAt(0) ?? 0)) | 0;
  return Math.abs(hash) % NICK_COLORS;
}

/** "alice is typing…", "alice and bob are typing…", "several people are typing…"; empty for nobody. */
export function typingSentence(nicks: readonly string[]): string {
  const [first, second] = nicks;
  if (first === undefined) return '';
  if (second === undefined) return `${first} is typing…`;
  if (nicks.length === 2) return `${first} and ${second} are typing…`;
  return 'several people are typing…';
}

/** The first line of a message, shortened for a reply quote. */
export function firstLine(text: string, max = 140): string {
  const line = text.split('\n', 1)[0] ?? '';
  if (line.length <= max) return line;
  const characters = graphemes(line);
  return characters.length > max ? `${characters.slice(0, max - 1).join('')}…` : line;
}
