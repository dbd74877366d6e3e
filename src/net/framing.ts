/**
 * Splits a byte stream into lines ended by CR, LF or CRLF (Modern IRC "Message format": servers accept
 * all three). A line longer than `maxLineBytes` is dropped whole and reported once, so a client cannot
 * make the server buffer unbounded input.
 */
export interface LineSink {
  /** bytes[start, end) is one line without its terminator; never empty. */
  line(bytes: Buffer, start: number, end: number): void;
  /** A line exceeded the limit and was discarded. */
  tooLong(): void;
}

export class LineFramer {
  private pending: Buffer | undefined = undefined;
  private discarding = false;

  constructor(private readonly maxLineBytes: number) {}

  push(chunk: Buffer, sink: LineSink): void {
    let bytes = chunk;
    if (this.pending !== undefined) {
      bytes = Buffer.concat([this.pending, chunk]);
      this.pending = undefined;
    }
    let start = 0;
    const length = bytes.length;
    // Native searches (indexOf) for the two terminators, rather than a JavaScript loop over every byte.
    let cr = bytes.indexOf(13);
    let lf = bytes.indexOf(10);
    while (cr !== -1 || lf !== -1) {
      const i = cr === -1 ? lf : lf === -1 ? cr : Math.min(cr, lf);
      if (this.discarding) {
        this.discarding = false;
        sink.tooLong();
      } else if (i > start) {
        if (i - start > this.maxLineBytes) sink.tooLong();
        else sink.line(bytes, start, i);
      }
      start = i + 1;
      if (cr !== -1 && cr < start) cr = bytes.indexOf(13, start);
      if (lf !== -1 && lf < start) lf = bytes.indexOf(10, start);
    }
    if (start >= length) return;
    if (this.discarding) return;
    if (length - start > this.maxLineBytes) {
      this.discarding = true;
      return;
    }
    // Copy the partial line so the (possibly large) chunk it came from can be freed.
    this.pending = Buffer.from(bytes.subarray(start));
  }

  /** Bytes held for an unfinished line, for memory accounting and slow-sender checks. */
  get pendingBytes(): number {
    return this.pending?.length ?? 0;
  }
}
