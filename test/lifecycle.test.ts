/**
 * Graceful shutdown of the real process (issue 10, "graceful lifecycle"): SIGTERM stops accepting at once, tells
 * every client why, keeps every message it acknowledged, and exits within a bound even when a client never reads.
 * (SIGHUP and REHASH reloads are in cli.test.ts, oper.test.ts and tls.test.ts.)
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import { TestClient } from './helpers/client.js';
import { allMsgids, sqliteStorage } from './helpers/durability.js';
import { serveNatter } from './helpers/process.js';

/** Resolves with how a new TCP connection to `port` ends: 'refused', or 'closed' with what it was sent first. */
function tryConnect(port: number): Promise<{ outcome: 'refused' | 'closed'; received: string }> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      received += chunk;
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ECONNREFUSED') resolve({ outcome: 'refused', received });
    });
    socket.on('close', () => {
      resolve({ outcome: 'closed', received });
    });
    socket.on('connect', () => {
      socket.write('NICK late\r\nUSER late 0 * :late\r\n');
    });
  });
}

describe('SIGTERM: a graceful shutdown', () => {
  it('stops accepting, tells clients why, loses no acknowledged message, and exits 0 within its bound even with a client that never reads', { timeout: 90_000 }, async (t) => {
    const storage = sqliteStorage();
    const caps = ['message-tags', 'echo-message', 'batch', 'draft/chathistory', 'server-time'];
    try {
      const first = await serveNatter([...storage.serveArgs, '--log-level', 'info']);
      const talker = await TestClient.register(first.port, 'talker', { caps });
      const sloth = await TestClient.register(first.port, 'sloth');
      for (const client of [talker, sloth]) {
        client.send('JOIN #drain');
        await client.expect('366');
      }
      // The sloth reads nothing from now on: the server's queue for it only grows, and its socket never drains.
      sloth.socket.pause();
      const acknowledged: string[] = [];
      const text = 'y'.repeat(300);
      for (let n = 0; n < 200; n++) {
        talker.send(`PRIVMSG #drain :${String(n)} ${text}`);
        const echo = await talker.expect((m) => m.command === 'PRIVMSG' && m.source?.startsWith('talker!') === true, 10_000);
        acknowledged.push(echo.tags?.get('msgid') ?? assert.fail('an echo without msgid'));
      }

      const signalled = Date.now();
      first.run.child.kill('SIGTERM');
      const error = await talker.expect('ERROR', 10_000);
      assert.match(error.params[0] ?? '', /^Closing Link: .*\(Server shutting down\)$/);
      // Once clients are told, the listener is closed: a newcomer is refused, never welcomed.
      const late = await tryConnect(first.port);
      assert.ok(!late.received.includes(' 001 '), `a connection made during the shutdown was welcomed: ${late.received}`);
      await talker.closed;
      const exitCode = await first.run.exited;
      const tookMs = Date.now() - signalled;
      t.diagnostic(`exited ${String(exitCode)} after ${String(tookMs)} ms; the new connection was ${late.outcome}`);
      assert.equal(exitCode, 0, first.run.stderr);
      // The server gives connections 3 s to finish, then cuts them; the store closes after.
      assert.ok(tookMs < 10_000, `the shutdown took ${String(tookMs)} ms`);
      sloth.close();

      const second = await serveNatter(storage.serveArgs);
      try {
        const reader = await TestClient.register(second.port, 'reader', { caps });
        reader.send('JOIN #drain');
        await reader.expect('366');
        const kept = await allMsgids(reader, '#drain');
        const lost = acknowledged.filter((id) => !kept.has(id));
        assert.deepEqual(lost, [], `${String(lost.length)} of ${String(acknowledged.length)} acknowledged messages were lost`);
        await reader.quit();
      } finally {
        await second.stop();
      }
    } finally {
      await storage.dispose();
    }
  });
});
