import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  LineSplitter,
  TRAILER_LEN,
  buildTemplate,
  commandStart,
  equalsAscii,
  numericAt,
  readDigits,
  readTrailer,
  stampLine,
  tokenEnd,
} from './scan.js';
import type { LineSink, Trailer } from './scan.js';

class Collect implements LineSink {
  lines: string[] = [];
  benchLineLength = 0;
  onLine(buf: Buffer, start: number, end: number): void {
    this.lines.push(buf.toString('latin1', start, end));
  }
}

/** Feeds `chunks` through one splitter the way the worker does: each copied into a shared, reused read buffer. */
function split(chunks: string[]): string[] {
  const shared = Buffer.alloc(4096, 'x'.charCodeAt(0));
  const s = new LineSplitter();
  const sink = new Collect();
  for (const c of chunks) {
    // Stale bytes after the chunk, including a LF, must be ignored.
    shared.fill('\n');
    const n = shared.write(c, 0, 'latin1');
    s.feed(shared, n, sink);
  }
  return sink.lines;
}

describe('LineSplitter', () => {
  it('splits CRLF and bare LF lines and drops empty ones', () => {
    assert.deepEqual(split(['PING :a\r\n:s 001 n :hi\n\r\nX\r\n']), ['PING :a', ':s 001 n :hi', 'X']);
  });

  it('joins a line cut across reads, at any cut point', () => {
    const text = ':a!b@c PRIVMSG #r :hello world\r\n:s 366 n #r :End\r\n';
    for (let cut = 1; cut < text.length; cut++) {
      assert.deepEqual(split([text.slice(0, cut), text.slice(cut)]), [
        ':a!b@c PRIVMSG #r :hello world',
        ':s 366 n #r :End',
      ]);
    }
  });

  it('joins a line spread over many reads, and a CR and LF in different reads', () => {
    assert.deepEqual(split(['PI', 'NG', ' :', 'x\r', '\nY\r', '\n']), ['PING :x', 'Y']);
  });

  it('ignores bytes past the read length in a shared buffer', () => {
    assert.deepEqual(split(['abc']), []);
    assert.deepEqual(split(['abc', 'def\r\n']), ['abcdef']);
  });
});

describe('field readers', () => {
  const b = Buffer.from(':srv 001 nick :Welcome', 'latin1');
  it('finds the command after a prefix, and without one', () => {
    const c = commandStart(b, 0, b.length);
    assert.equal(c, 5);
    assert.equal(numericAt(b, c, tokenEnd(b, c, b.length)), 1);
    const p = Buffer.from('PING :tok', 'latin1');
    const pc = commandStart(p, 0, p.length);
    assert.equal(pc, 0);
    assert.ok(equalsAscii(p, pc, tokenEnd(p, pc, p.length), 'PING'));
    assert.ok(!equalsAscii(p, pc, tokenEnd(p, pc, p.length), 'PONG'));
  });

  it('reads digits and rejects non-digits', () => {
    const d = Buffer.from('x0012345y', 'latin1');
    assert.equal(readDigits(d, 1, 7), 12345);
    assert.equal(readDigits(d, 0, 3), -1);
    assert.equal(numericAt(Buffer.from('PRIVMSG'), 0, 7), -1);
  });
});

describe('benchmark trailer', () => {
  it('round-trips the fields through a template as a server would relay it', () => {
    const { line, fields } = buildTemplate('#bench', 150, 32);
    const out = Buffer.alloc(line.length);
    line.copy(out);
    stampLine(out, 0, fields, 7, 42, 123_456_789, 9_876_543_210);
    assert.ok(out.toString('latin1').startsWith('PRIVMSG #bench :'));
    assert.ok(out.toString('latin1').endsWith('\r\n'));
    // What a receiver sees: the server's prefix plus the line without CR LF.
    const relayed = Buffer.from(
      `:b01000042!b01000042@127.0.0.1 ${out.toString('latin1', 0, out.length - 2)}`,
      'latin1',
    );
    assert.ok(Math.abs(relayed.length + 2 - 150) <= 2, `delivered ${relayed.length + 2} bytes`);
    const t: Trailer = { epoch: 0, sender: 0, seq: 0, timeUs: 0 };
    assert.ok(readTrailer(relayed, 0, relayed.length, t));
    assert.deepEqual(t, { epoch: 7, sender: 42, seq: 123_456_789, timeUs: 9_876_543_210 });
  });

  it('does not take other lines for benchmark messages', () => {
    const t: Trailer = { epoch: 0, sender: 0, seq: 0, timeUs: 0 };
    for (const s of [':a JOIN #bench', ':s 353 n = #bench :a b c', 'PING :12345678901234567890123456789', '']) {
      const buf = Buffer.from(s, 'latin1');
      assert.equal(readTrailer(buf, 0, buf.length, t), false, s);
    }
    const bad = Buffer.from(`x ~~${'1'.repeat(TRAILER_LEN - 3)}z`, 'latin1');
    assert.equal(readTrailer(bad, 0, bad.length, t), false);
  });
});
