/**
 * The receive path: split a read buffer into IRC lines and read the benchmark fields of a line by hand, without
 * creating a string or a Buffer per line (at a million deliveries per second, per-line garbage would make the load
 * generator the bottleneck).
 */

const LF = 10;
const CR = 13;
const SPACE = 32;
const COLON = 58;

/** Receives each complete line as a byte range [start, end) of `buf`, without the CR LF. */
export interface LineSink {
  onLine(buf: Buffer, start: number, end: number): void;
  /**
   * Length (with CR LF) of the benchmark lines this sink expects, or 0. Under load nearly every line is one, all of
   * the same length, so the splitter checks for a benchmark trailer ending exactly there before searching for the
   * LF. See LineSplitter.feed for why that cannot split a stream wrongly.
   */
  readonly benchLineLength: number;
}

/** Longest line kept across reads; longer ones (no IRC server sends them without tags) are dropped and counted. */
const MAX_CARRY = 65536;

/**
 * Splits a TCP byte stream into lines. A line cut by a read boundary is copied into a small per-connection carry
 * buffer (allocated on first need); everything else is handed out as a range of the read buffer itself.
 */
export class LineSplitter {
  private carry: Buffer | undefined;
  private carryLen = 0;
  /** Lines dropped for exceeding MAX_CARRY. */
  dropped = 0;

  /** Feeds `buf[0, len)`. `buf` may be a shared read buffer with stale bytes past `len`. */
  feed(buf: Buffer, len: number, sink: LineSink): void {
    let pos = 0;
    if (this.carryLen > 0) {
      const nl = indexOfLf(buf, 0, len);
      if (nl < 0) {
        this.append(buf, 0, len);
        return;
      }
      this.append(buf, 0, nl + 1);
      const carry = this.carry;
      const carryLen = this.carryLen;
      this.carryLen = 0;
      if (carry !== undefined && carryLen > 0) emit(carry, 0, carryLen - 1, sink);
      pos = nl + 1;
    }
    while (pos < len) {
      // Fast path: a benchmark line of the expected length starts here. [pos, pos + L) could instead hold a shorter
      // line followed by a benchmark line only if benchmark lines differed in length by the shorter line's length,
      // while every IRC line is longer than the few bytes host names can differ by; and a benchmark line is still
      // read whole, from its end.
      const fixed = sink.benchLineLength;
      if (fixed > 0) {
        const e = pos + fixed;
        if (
          e <= len &&
          buf[e - 1] === LF &&
          buf[e - 2] === CR &&
          buf[e - 2 - TRAILER_LEN] === TILDE &&
          buf[e - 1 - TRAILER_LEN] === TILDE
        ) {
          sink.onLine(buf, pos, e - 2);
          pos = e;
          continue;
        }
      }
      const nl = indexOfLf(buf, pos, len);
      if (nl < 0) {
        this.append(buf, pos, len);
        return;
      }
      emit(buf, pos, nl, sink);
      pos = nl + 1;
    }
  }

  private append(buf: Buffer, start: number, end: number): void {
    const n = end - start;
    const need = this.carryLen + n;
    if (need > MAX_CARRY) {
      // Keep discarding until the end of this overlong line.
      this.dropped++;
      this.carryLen = 0;
      return;
    }
    let carry = this.carry;
    if (carry === undefined || carry.length < need) {
      const grown = Buffer.allocUnsafe(Math.max(need, 1024, (carry?.length ?? 0) * 2));
      if (carry !== undefined) carry.copy(grown, 0, 0, this.carryLen);
      carry = grown;
      this.carry = carry;
    }
    buf.copy(carry, this.carryLen, start, end);
    this.carryLen = need;
  }
}

/** Hands out [start, lf) without a trailing CR; empty lines are skipped. */
function emit(buf: Buffer, start: number, lf: number, sink: LineSink): void {
  const end = lf > start && buf[lf - 1] === CR ? lf - 1 : lf;
  if (end > start) sink.onLine(buf, start, end);
}

/** Index of the next LF in [from, end), or -1. Uses the native memchr; bounded because the buffer may be shared. */
export function indexOfLf(buf: Buffer, from: number, end: number): number {
  const i = buf.indexOf(LF, from);
  return i < 0 || i >= end ? -1 : i;
}

/** Reads `n` ASCII digits at `pos` as a non-negative integer, or -1 if any byte is not a digit. */
export function readDigits(buf: Buffer, pos: number, n: number): number {
  let v = 0;
  const end = pos + n;
  for (let i = pos; i < end; i++) {
    // Unsigned compare: one branch for "below '0' or above '9'" (also catches a read past the end, undefined).
    const d = ((buf[i] ?? 0) - 48) >>> 0;
    if (d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}

/** Writes `value` as exactly `n` zero-padded ASCII digits at `pos` (the send path reuses one template per line). */
export function writeDigits(buf: Buffer, pos: number, n: number, value: number): void {
  let v = Math.floor(value);
  for (let i = pos + n - 1; i >= pos; i--) {
    buf[i] = 48 + (v % 10);
    v = Math.floor(v / 10);
  }
}

/** Where a line's command starts: after the `:prefix ` if there is one. -1 if the line is only a prefix. */
export function commandStart(buf: Buffer, start: number, end: number): number {
  if (buf[start] !== COLON) return start;
  for (let i = start + 1; i < end; i++) if (buf[i] === SPACE) return i + 1;
  return -1;
}

/** End of the space-delimited token starting at `pos`. */
export function tokenEnd(buf: Buffer, pos: number, end: number): number {
  for (let i = pos; i < end; i++) if (buf[i] === SPACE) return i;
  return end;
}

/** Whether buf[start, end) equals the ASCII string `word`. */
export function equalsAscii(buf: Buffer, start: number, end: number, word: string): boolean {
  if (end - start !== word.length) return false;
  for (let i = 0; i < word.length; i++) if (buf[start + i] !== word.charCodeAt(i)) return false;
  return true;
}

/** A three-digit numeric reply code at [start, end), or -1. */
export function numericAt(buf: Buffer, start: number, end: number): number {
  return end - start === 3 ? readDigits(buf, start, 3) : -1;
}

// ---- the benchmark payload -------------------------------------------------------------------------------------

/**
 * Every benchmark message ends with a fixed-width trailer, so the receiver finds its fields by counting back from
 * the end of the line instead of parsing the prefix, command and target:
 *
 *   `~~` epoch(3) sender(6) sequence(9) intended-send-time(10, µs since the step's start)
 *
 * `~` never occurs in the padding, so a line that ends otherwise is not ours (a JOIN, a PING, a numeric).
 */
export const TRAILER_LEN = 2 + 3 + 6 + 9 + 10;
const TILDE = 126;
export const EPOCH_DIGITS = 3;
export const SENDER_DIGITS = 6;
export const SEQ_DIGITS = 9;
export const TIME_DIGITS = 10;

/** The fields of a benchmark line; one instance is reused for every line. */
export interface Trailer {
  epoch: number;
  sender: number;
  seq: number;
  timeUs: number;
}

/** Reads the trailer of line [start, end) into `out`; false if the line is not a benchmark message. */
export function readTrailer(buf: Buffer, start: number, end: number, out: Trailer): boolean {
  const t = end - TRAILER_LEN;
  if (t < start || buf[t] !== TILDE || buf[t + 1] !== TILDE) return false;
  let p = t + 2;
  const epoch = readDigits(buf, p, EPOCH_DIGITS);
  p += EPOCH_DIGITS;
  const sender = readDigits(buf, p, SENDER_DIGITS);
  p += SENDER_DIGITS;
  const seq = readDigits(buf, p, SEQ_DIGITS);
  p += SEQ_DIGITS;
  const timeUs = readDigits(buf, p, TIME_DIGITS);
  if (epoch < 0 || sender < 0 || seq < 0 || timeUs < 0) return false;
  out.epoch = epoch;
  out.sender = sender;
  out.seq = seq;
  out.timeUs = timeUs;
  return true;
}

/**
 * Builds the line a sender writes: `PRIVMSG <target> :<padding>~~<fields>\r\n`, padded so the line delivered to a
 * receiver (with the server's `:nick!user@host ` prefix, estimated as `prefixLen`) is about `wireSize` bytes.
 * Returns the template and the offset of the trailer's fields (after `~~`).
 */
export function buildTemplate(target: string, wireSize: number, prefixLen: number): { line: Buffer; fields: number } {
  const head = `PRIVMSG ${target} :`;
  const fixed = head.length + TRAILER_LEN + 2;
  const pad = Math.max(1, wireSize - prefixLen - fixed);
  // Words of text rather than one long run: some servers treat long unbroken tokens specially.
  let padding = '';
  const word = 'lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor ';
  while (padding.length < pad) padding += word;
  padding = padding.slice(0, pad - 1) + ' ';
  const line = Buffer.from(`${head}${padding}~~${'0'.repeat(TRAILER_LEN - 2)}\r\n`, 'latin1');
  return { line, fields: line.length - 2 - (TRAILER_LEN - 2) };
}

/** Writes the trailer fields into a copy of the template at `lineStart` of `buf`. */
export function stampLine(
  buf: Buffer,
  lineStart: number,
  fields: number,
  epoch: number,
  sender: number,
  seq: number,
  timeUs: number,
): void {
  let p = lineStart + fields;
  writeDigits(buf, p, EPOCH_DIGITS, epoch);
  p += EPOCH_DIGITS;
  writeDigits(buf, p, SENDER_DIGITS, sender);
  p += SENDER_DIGITS;
  writeDigits(buf, p, SEQ_DIGITS, seq);
  p += SEQ_DIGITS;
  writeDigits(buf, p, TIME_DIGITS, timeUs);
}
