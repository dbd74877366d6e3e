/**
 * The HTTP face (issue 6, part 1): IRC over WebSocket (IRCv3 WebSocket: text.ircv3.net and binary.ircv3.net, one
 * line per message) entering the same pipeline as TCP, /healthz, and the security headers on every response.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { TestClient } from './helpers/client.js';
import { join } from './helpers/clients.js';
import { startTestServer } from './helpers/server.js';
import type { TestServer } from './helpers/server.js';

/** A WebSocket IRC client: sends lines, collects the lines (messages) it receives. */
async function wsClient(port: number, protocols: string[] | undefined, path = '/'): Promise<{ ws: WebSocket; lines: string[]; frames: boolean[]; next: (match: RegExp) => Promise<string> }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, protocols);
  const lines: string[] = [];
  const frames: boolean[] = [];
  const waiters: Array<{ match: RegExp; resolve: (line: string) => void }> = [];
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    const line = data.toString('utf8');
    lines.push(line);
    frames.push(isBinary);
    const index = waiters.findIndex((w) => w.match.test(line));
    if (index !== -1) waiters.splice(index, 1)[0]?.resolve(line);
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const next = (match: RegExp): Promise<string> => {
    const seen = lines.find((line) => match.test(line));
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`timed out waiting for ${String(match)}; got:\n${lines.join('\n')}`));
      }, 3000);
      waiters.push({ match, resolve: (line) => { clearTimeout(timer); resolve(line); } });
    });
  };
  return { ws, lines, frames, next };
}

describe('HTTP and IRC over WebSocket', () => {
  let server: TestServer;
  let http: number;
  before(async () => {
    server = await startTestServer({ http: { listen: ['127.0.0.1:0'] } });
    http = server.httpAddresses[0]?.port ?? assert.fail('no HTTP port');
  });
  after(async () => {
    await server.stop();
  });

  it('a browser-style client over WebSocket (text.ircv3.net) and a TCP client talk in one room', async () => {
    const web = await wsClient(http, ['text.ircv3.net']);
    assert.equal(web.ws.protocol, 'text.ircv3.net');
    web.ws.send('NICK webby');
    web.ws.send('USER webby 0 * :Web User');
    await web.next(/ 001 webby /);
    assert.ok(web.lines.every((line) => !line.includes('\r') && !line.includes('\n')), 'one line per message, no CR LF');
    assert.ok(web.frames.every((binary) => !binary), 'text frames');
    const tcp = await TestClient.register(server.port, 'tcpy');
    await join(tcp, '#mixed');
    web.ws.send('JOIN #mixed');
    await web.next(/ 366 webby #mixed /);
    web.ws.send('PRIVMSG #mixed :hello from the browser');
    const got = await tcp.expect('PRIVMSG');
    assert.equal(got.raw, ':webby!~webby@127.0.0.1 PRIVMSG #mixed :hello from the browser');
    tcp.send('PRIVMSG #mixed :hello from the terminal');
    assert.match(await web.next(/hello from the terminal/), /^:tcpy!~tcpy@127\.0\.0\.1 PRIVMSG #mixed :hello from the terminal$/);
    web.ws.send('QUIT :bye');
    await new Promise((resolve) => web.ws.once('close', resolve));
    assert.equal((await tcp.expect('QUIT')).source, 'webby!~webby@127.0.0.1', 'closing the socket is leaving');
    tcp.close();
  });

  it('binary.ircv3.net gets binary frames; no subprotocol at all is text; other paths are refused', async () => {
    const binary = await wsClient(http, ['binary.ircv3.net', 'text.ircv3.net'], '/irc');
    assert.equal(binary.ws.protocol, 'binary.ircv3.net');
    binary.ws.send(Buffer.from('PING :bin'));
    await binary.next(/PONG .* bin$/);
    assert.ok(binary.frames.every((isBinary) => isBinary));
    binary.ws.close();
    const bare = await wsClient(http, undefined);
    bare.ws.send('PING :plain');
    await bare.next(/PONG .* plain$/);
    assert.ok(bare.frames.every((isBinary) => !isBinary));
    bare.ws.close();
    await assert.rejects(wsClient(http, ['text.ircv3.net'], '/elsewhere'));
  });

  it('/healthz answers 200 with JSON; every response has a CSP without unsafe-inline, no framing and nosniff', async () => {
    const health = await fetch(`http://127.0.0.1:${http}/healthz`);
    assert.equal(health.status, 200);
    assert.equal(((await health.json()) as { status: string }).status, 'ok');
    for (const path of ['/healthz', '/', '/no-such-page']) {
      const response = await fetch(`http://127.0.0.1:${http}${path}`);
      const csp = response.headers.get('content-security-policy') ?? '';
      assert.match(csp, /default-src 'self'/, path);
      assert.match(csp, /frame-ancestors 'none'/, path);
      assert.doesNotMatch(csp, /unsafe-inline/, path);
      assert.equal(response.headers.get('x-frame-options'), 'DENY', path);
      assert.equal(response.headers.get('x-content-type-options'), 'nosniff', path);
      await response.arrayBuffer();
    }
    assert.equal((await fetch(`http://127.0.0.1:${http}/no-such-page`)).status, 404);
  });

  it('a WebSocket message longer than an IRC line with tags is refused by closing that socket only', async () => {
    const big = await wsClient(http, ['text.ircv3.net']);
    const closed = new Promise<number>((resolve) => big.ws.once('close', (code: number) => { resolve(code); }));
    big.ws.send(`PRIVMSG #x :${'a'.repeat(10_000)}`);
    assert.equal(await closed, 1009, 'message too big');
    const health = await fetch(`http://127.0.0.1:${http}/healthz`);
    assert.equal(health.status, 200);
  });
});
