/**
 * Counterexamples found by the property tests (test/protocol-properties.test.ts, issue 10 item 1), each kept as a
 * named test. A test marked `todo` states the bug that is still open (its file and line are in the todo text): it
 * runs and reports, without failing the run, until the fix lands; then drop the `todo` so it guards the fix.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { applyMessage, initialState, splitText, utf8Length } from '../src/client/index.js';
import type { ClientState } from '../src/client/index.js';
import { Outbound } from '../src/core/outbound.js';
import { TagBit } from '../src/protocol/caps.js';
import type { TagVariant } from '../src/protocol/caps.js';
import { wireBytes } from '../src/net/wire.js';
import { parseMessage } from '../src/protocol/message.js';
import { TestClient } from './helpers/client.js';
import { startTestServer } from './helpers/server.js';
import type { TestServer } from './helpers/server.js';

describe('client engine: splitText (src/client/engine.ts)', () => {
  it('a piece never passes maxBytes, also when a space follows a full piece', () => {
    // Ten "a" fill 10 bytes; the space after them was taken into the piece, which became 11 bytes.
    const pieces = splitText(`${'a'.repeat(10)} b`, 10);
    for (const piece of pieces) assert.ok(utf8Length(piece) <= 10, `${JSON.stringify(piece)} is ${utf8Length(piece)} bytes`);
    assert.equal(pieces.join(''), `${'a'.repeat(10)} b`);
  });
});

describe('wire bytes: the CR/LF/NUL safety net (src/net/wire.ts)', () => {
  const ALL: TagVariant = TagBit.time | TagBit.account | TagBit.all;
  const parsedLine = (out: Outbound, variant: TagVariant): ReturnType<typeof parseMessage> => parseMessage(wireBytes(out, variant).toString('utf8').replace(/\r\n$/, ''));

  it('a last parameter holding a line break but no space stays one parameter', () => {
    const parsed = parsedLine(new Outbound('alice!a@host', 'PRIVMSG', ['#room', 'first\nsecond'], 0), 0);
    assert.deepEqual(parsed?.params, ['#room', 'first second']);
  });

  it('a NUL in a tag value does not end the tag section', () => {
    const out = new Outbound('alice!a@host', 'PRIVMSG', ['#room', 'hi'], 0, new Map([['+k', 'x\0QUIT']]));
    const parsed = parsedLine(out, ALL);
    assert.equal(parsed?.command, 'PRIVMSG');
    assert.equal(parsed.tags?.get('+k'), 'x QUIT');
  });
});

describe('client reducer: nested batches (src/client/reducer.ts)', () => {
  it('a server nesting batches thousands deep cannot overflow the stack: batches past a few levels are not opened, and their lines still apply', () => {
    const depth = 10_000;
    let state: ClientState = { ...initialState('me'), status: 'connected' };
    const apply = (line: string): void => {
      const message = parseMessage(line);
      assert.ok(message, line);
      state = applyMessage(state, message, 0);
    };
    apply(':irc.test BATCH +b0 netsplit');
    for (let level = 1; level < depth; level++) apply(`@batch=b${String(level - 1)} :irc.test BATCH +b${String(level)} netsplit`);
    assert.ok(state.batches.size < 20, `${String(state.batches.size)} batches open`);
    apply(`@batch=b${String(depth - 1)} :a!a@h QUIT :bye`);
    assert.doesNotThrow(() => {
      for (let level = depth - 1; level >= 0; level--) apply(`:irc.test BATCH -b${String(level)}`);
    });
    assert.equal(state.batches.size, 0, 'every batch is closed');
  });
});

describe('relayed client-only tags and the 8191-byte tag limit (message-tags "Size limit")', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    await server.stop();
  });

  it('client-only tags of 4094 bytes (the message-tags limit for clients) are relayed within 8191 bytes; one byte more gets 417 and nothing is sent', async () => {
    const alice = await TestClient.register(server.port, 'tagalice', { caps: ['message-tags'] });
    const bob = await TestClient.register(server.port, 'tagbob', { caps: ['message-tags', 'server-time', 'account-tag'] });
    try {
      // '+k=' + filler is the tag data, without '@' and the space.
      const filler = (tagData: number): string => 'a'.repeat(tagData - '+k='.length);
      alice.send(`@+k=${filler(4094)} PRIVMSG tagbob :fits`);
      const relayed = await bob.expect('PRIVMSG');
      assert.equal(relayed.params[1], 'fits');
      const tagSection = relayed.raw.slice(0, relayed.raw.indexOf(' ') + 1);
      assert.ok(Buffer.byteLength(tagSection) <= 8191, `the relayed tag section is ${String(Buffer.byteLength(tagSection))} bytes`);
      alice.send(`@+k=${filler(4095)} PRIVMSG tagbob :too much`);
      assert.deepEqual((await alice.expect('417')).params.slice(1), ['Input line was too long']);
      alice.send(`@+k=${filler(8186)} TAGMSG tagbob`);
      await alice.expect('417');
      alice.send('PRIVMSG tagbob :after');
      assert.equal((await bob.expect('PRIVMSG')).params[1], 'after', 'nothing came before it');
    } finally {
      alice.close();
      bob.close();
    }
  });
});
