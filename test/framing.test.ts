/** LineFramer (src/net/framing.ts): Modern IRC "Message format" line endings and the input line limit. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LineFramer } from '../src/net/framing.js';
import type { LineSink } from '../src/net/framing.js';

/** Records what the framer emits: each line as text, and "<too long>" where it reported one. */
class Recorder implements LineSink {
  readonly events: string[] = [];
  line(bytes: Buffer, start: number, end: number): void {
    assert.ok(end > start, 'the framer never emits an empty line');
    this.events.push(bytes.toString('utf8', start, end));
  }
  tooLong(): void {
    this.events.push('<too long>');
  }
}

function frame(chunks: ReadonlyArray<string | Buffer>, maxLineBytes = 64): string[] {
  const framer = new LineFramer(maxLineBytes);
  const sink = new Recorder();
  for (const chunk of chunks) framer.push(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk, sink);
  return sink.events;
}

describe('LineFramer', () => {
  it('servers accept CRLF as the end of a message', () => {
    assert.deepEqual(frame(['PING a\r\nPING b\r\n']), ['PING a', 'PING b']);
  });

  it('servers accept a lone LF as the end of a message', () => {
    assert.deepEqual(frame(['PING a\nPING b\n']), ['PING a', 'PING b']);
  });

  it('servers accept a lone CR as the end of a message', () => {
    assert.deepEqual(frame(['PING a\rPING b\r']), ['PING a', 'PING b']);
  });

  it('mixed endings in one chunk each end one line, and empty lines are ignored', () => {
    assert.deepEqual(frame(['a\r\nb\nc\r\r\n\n\r\nd\n']), ['a', 'b', 'c', 'd']);
  });

  it('a line split across chunks is emitted once, whole, when its ending arrives', () => {
    assert.deepEqual(frame(['PRIV', 'MSG #room ', ':hello there', '\r\n']), ['PRIVMSG #room :hello there']);
  });

  it('a line without its ending yet is held, not emitted', () => {
    const framer = new LineFramer(64);
    const sink = new Recorder();
    framer.push(Buffer.from('PING a\r\nPING b'), sink);
    assert.deepEqual(sink.events, ['PING a']);
    assert.equal(framer.pendingBytes, 'PING b'.length);
    framer.push(Buffer.from('\n'), sink);
    assert.deepEqual(sink.events, ['PING a', 'PING b']);
    assert.equal(framer.pendingBytes, 0);
  });

  it('a CR at the end of one chunk and the LF at the start of the next end one line, not two', () => {
    assert.deepEqual(frame(['PING a\r', '\nPING b\r', '\n']), ['PING a', 'PING b']);
  });

  it('a multi-byte UTF-8 character split across chunks is reassembled', () => {
    const bytes = Buffer.from('PRIVMSG #r :é\r\n', 'utf8');
    const cut = bytes.indexOf(0xc3) + 1;
    assert.deepEqual(frame([bytes.subarray(0, cut), bytes.subarray(cut)]), ['PRIVMSG #r :é']);
  });

  it('a line of exactly the limit is accepted; one byte more is dropped and reported', () => {
    assert.deepEqual(frame([`${'x'.repeat(16)}\r\n${'y'.repeat(17)}\r\nok\r\n`], 16), ['x'.repeat(16), '<too long>', 'ok']);
  });

  it('an overlong line arriving in many chunks is dropped and reported once; the next line works', () => {
    const chunks = [...Array.from({ length: 20 }, () => 'z'.repeat(50)), '\r\n', 'PING after\r\n'];
    assert.deepEqual(frame(chunks, 64), ['<too long>', 'PING after']);
  });

  it('an overlong line whose ending is split CR | LF across chunks is reported once', () => {
    assert.deepEqual(frame(['z'.repeat(200), '\r', '\nPING after\r\n'], 64), ['<too long>', 'PING after']);
  });

  it('the framer holds no more than the limit for an overlong line', () => {
    const framer = new LineFramer(64);
    const sink = new Recorder();
    for (let i = 0; i < 100; i++) framer.push(Buffer.alloc(1000, 0x7a), sink);
    assert.ok(framer.pendingBytes <= 64, `held ${framer.pendingBytes} bytes`);
    assert.deepEqual(sink.events, []);
    framer.push(Buffer.from('\nPING ok\n'), sink);
    assert.deepEqual(sink.events, ['<too long>', 'PING ok']);
  });
});
