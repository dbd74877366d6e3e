/**
 * --https (https.listen): the HTTP face over TLS with the server's certificate (tls.cert and tls.key, else the
 * self-signed one in the data folder): /healthz and the web client over HTTPS, IRC over secure WebSocket (wss),
 * a certificate read again on REHASH, and Strict-Transport-Security only when the operator turned STS on.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import https from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls, { TLSSocket } from 'node:tls';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import WebSocket from 'ws';
import { startNatter } from '../src/cli/compose.js';
import { parseConfig } from '../src/config/load.js';
import type { ConfigFile } from '../src/config/schema.js';
import { loadOrCreateSelfSigned } from '../src/net/certificates.js';
import { runNatter } from './helpers/process.js';
import { startTestServer } from './helpers/server.js';

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'natter-https-'));
  dirs.push(dir);
  return dir;
}

/** A fresh certificate as PEM files, made the way Natter makes its self-signed one. */
async function makeCertificate(name: string): Promise<{ cert: string; key: string; fingerprint: string }> {
  const dir = tempDir();
  const made = await loadOrCreateSelfSigned(dir, [name]);
  return { cert: join(dir, 'tls', 'cert.pem'), key: join(dir, 'tls', 'key.pem'), fingerprint: made.fingerprint };
}

interface HttpsAnswer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  /** SHA-256 fingerprint of the certificate the server presented. */
  readonly fingerprint: string;
}

/** GET over HTTPS accepting any certificate (a fresh agent each time, so no TLS session is reused). */
function httpsGet(port: number, path: string): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    const request = https.get({ host: '127.0.0.1', port, path, rejectUnauthorized: false, agent: false }, (response) => {
      const socket = response.socket;
      assert.ok(socket instanceof TLSSocket, 'an HTTPS response comes over a TLS socket');
      const fingerprint = socket.getPeerCertificate().fingerprint256;
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        body += chunk;
      });
      response.on('end', () => {
        resolve({ status: response.statusCode ?? 0, headers: response.headers, body, fingerprint });
      });
    });
    request.on('error', reject);
  });
}

/** Registers over wss and resolves with the 001 line. */
async function registerOverWss(port: number, nick: string): Promise<{ ws: WebSocket; welcome: string }> {
  const ws = new WebSocket(`wss://127.0.0.1:${port}/irc`, ['text.ircv3.net'], { rejectUnauthorized: false });
  const welcome = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error('no 001 over wss'));
    }, 5000);
    ws.on('message', (data: Buffer) => {
      const line = data.toString('utf8');
      if (/ 001 /.test(line)) {
        clearTimeout(timer);
        resolve(line);
      }
    });
    ws.once('error', reject);
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  ws.send(`NICK ${nick}`);
  ws.send(`USER ${nick} 0 * :Secure Web`);
  return { ws, welcome: await welcome };
}

function httpsPortOf(natter: { httpsAddresses: readonly { port: number }[] }): number {
  return natter.httpsAddresses[0]?.port ?? assert.fail('no HTTPS listener');
}

describe('HTTPS (--https)', () => {
  it('serves /healthz and the page over TLS with the self-signed certificate of the data folder, and wss registers a secure session', async () => {
    const natter = await startTestServer({ https: { listen: ['127.0.0.1:0'] } });
    try {
      const port = httpsPortOf(natter);
      const fingerprint = natter.tls?.fingerprint ?? assert.fail('HTTPS alone makes (or loads) the certificate');
      assert.equal(natter.tlsAddresses.length, 0, 'no IRC-over-TLS listener was asked for');
      const health = await httpsGet(port, '/healthz');
      assert.equal(health.status, 200);
      assert.equal((JSON.parse(health.body) as { status: string }).status, 'ok');
      assert.equal(health.fingerprint, fingerprint, "the server's certificate");
      const page = await httpsGet(port, '/');
      assert.equal(page.status, 200);
      assert.match(String(page.headers['content-type']), /^text\/html/);
      assert.doesNotMatch(String(page.headers['content-security-policy']), /unsafe-inline/);
      assert.equal(page.headers['x-frame-options'], 'DENY');
      assert.equal(page.headers['strict-transport-security'], undefined, 'no HSTS unless tls.sts.durationSeconds is set');

      const { ws, welcome } = await registerOverWss(port, 'wssy');
      assert.match(welcome, / 001 wssy /);
      const session = [...natter.server.network.sessions.values()].find((s) => s.nick === 'wssy') ?? assert.fail('no session');
      assert.equal(session.secure, true, 'a wss session is secure');
      ws.close();
    } finally {
      await natter.stop();
    }
  });

  it('IRC over TLS and HTTPS present the same certificate (tls.cert and tls.key); HTTP stays plain beside them', async () => {
    const files = await makeCertificate('chat.example.org');
    const natter = await startTestServer({
      tls: { listen: ['127.0.0.1:0'], cert: files.cert, key: files.key, sts: { durationSeconds: 600 } },
      https: { listen: ['127.0.0.1:0'] },
      http: { listen: ['127.0.0.1:0'] },
    });
    try {
      const secure = await httpsGet(httpsPortOf(natter), '/healthz');
      assert.equal(secure.fingerprint, files.fingerprint);
      const irc = await new Promise<TLSSocket>((resolve, reject) => {
        const socket = tls.connect({ host: '127.0.0.1', port: natter.tlsAddresses[0]?.port ?? assert.fail('no TLS port'), rejectUnauthorized: false }, () => {
          resolve(socket);
        });
        socket.once('error', reject);
      });
      assert.equal(irc.getPeerCertificate().fingerprint256, files.fingerprint);
      irc.destroy();
      assert.equal(secure.headers['strict-transport-security'], 'max-age=600', 'HSTS follows tls.sts.durationSeconds, over HTTPS');
      const plain = await fetch(`http://127.0.0.1:${natter.httpAddresses[0]?.port ?? assert.fail('no HTTP port')}/healthz`);
      assert.equal(plain.status, 200);
      assert.equal(plain.headers.get('strict-transport-security'), null, 'never over plain HTTP');
      await plain.arrayBuffer();
    } finally {
      await natter.stop();
    }
  });

  it('REHASH reads the certificate files again: new HTTPS connections get the new certificate', async () => {
    const dir = tempDir();
    const certPath = join(dir, 'cert.pem');
    const keyPath = join(dir, 'key.pem');
    const [oldCert, newCert] = [await makeCertificate('old.example.org'), await makeCertificate('new.example.org')];
    copyFileSync(oldCert.cert, certPath);
    copyFileSync(oldCert.key, keyPath);
    const file: ConfigFile = {
      listen: ['127.0.0.1:0'],
      serverName: 'test.natter',
      logLevel: 'silent',
      data: dir,
      tls: { cert: certPath, key: keyPath },
      https: { listen: ['127.0.0.1:0'] },
    };
    const natter = await startNatter({ config: parseConfig(file, 'test'), logger: pino({ level: 'silent' }), reload: () => Promise.resolve(parseConfig(file, 'test')) });
    try {
      const port = httpsPortOf(natter);
      assert.equal((await httpsGet(port, '/healthz')).fingerprint, oldCert.fingerprint);
      copyFileSync(newCert.cert, certPath);
      copyFileSync(newCert.key, keyPath);
      await natter.server.rehash();
      assert.equal((await httpsGet(port, '/healthz')).fingerprint, newCert.fingerprint);
      assert.equal(natter.tls?.fingerprint, newCert.fingerprint);
    } finally {
      await natter.stop();
    }
  });
});

describe('natter serve --https', () => {
  it('listens for HTTPS at the address given and prints the certificate fingerprint', async () => {
    const run = runNatter(['serve', '--listen', '127.0.0.1:0', '--https', '127.0.0.1:0', '--data', tempDir()]);
    try {
      const logged = await run.logLine('listening for HTTPS and IRC over secure WebSocket');
      const port = Number(/:(\d+)$/.exec(String(logged['address']))?.[1]);
      assert.ok(port > 0, `the bound port is logged: ${JSON.stringify(logged)}`);
      await run.logLine('Natter is running');
      const health = await httpsGet(port, '/healthz');
      assert.equal(health.status, 200);
      assert.ok(run.stderr.includes(`SHA-256 fingerprint ${health.fingerprint}`), `the fingerprint is printed: ${run.stderr}`);
    } finally {
      run.child.kill('SIGTERM');
      assert.equal(await run.exited, 0);
    }
  });
});
