/**
 * IRC over TLS: the operator's certificate or a self-signed one made once and reused, TLS 1.2 and newer only,
 * client certificates (their fingerprint on the session, for SASL EXTERNAL), STS (IRCv3 sts), and a new
 * certificate read on REHASH or SIGHUP without dropping anyone.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import { hashPassword } from '../src/auth/authenticator.js';
import { startNatter } from '../src/cli/compose.js';
import type { RunningNatter } from '../src/cli/compose.js';
import { parseConfig } from '../src/config/load.js';
import type { ConfigFile } from '../src/config/schema.js';
import type { Session } from '../src/core/session.js';
import { loadOrCreateSelfSigned, normalizeFingerprint } from '../src/net/certificates.js';
import { TestClient } from './helpers/client.js';
import { serveNatter } from './helpers/process.js';
import { startTestServer, tempDataDir } from './helpers/server.js';

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'natter-tls-'));
  dirs.push(dir);
  return dir;
}

interface CertFiles {
  readonly cert: string;
  readonly key: string;
  readonly fingerprint: string;
}

/** A fresh certificate as PEM files (made the way Natter makes its self-signed one). */
async function makeCertificate(name: string): Promise<CertFiles> {
  const dir = tempDir();
  const made = await loadOrCreateSelfSigned(dir, [name]);
  return { cert: join(dir, 'tls', 'cert.pem'), key: join(dir, 'tls', 'key.pem'), fingerprint: made.fingerprint };
}

/** A TLS connection (any certificate accepted), resolved once the handshake is done, or rejected with its error. */
function connectTls(port: number, options: tls.ConnectionOptions = {}): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false, ...options });
    socket.once('secureConnect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

async function servedFingerprint(port: number): Promise<string> {
  const socket = await connectTls(port);
  try {
    return socket.getPeerCertificate().fingerprint256;
  } finally {
    socket.destroy();
  }
}

function sessionOf(natter: RunningNatter, nick: string): Session {
  return [...natter.server.network.sessions.values()].find((s) => s.nick === nick) ?? assert.fail(`no session ${nick}`);
}

function tlsPortOf(natter: RunningNatter): number {
  return natter.tlsAddresses[0]?.port ?? assert.fail('no TLS listener');
}

/** CAP LS 302's sts value, or undefined when it is not offered. */
async function stsValue(client: TestClient): Promise<string | undefined> {
  const { tokens } = await client.capLs();
  const cap = tokens.find((c) => c === 'sts' || c.startsWith('sts='));
  return cap === undefined ? undefined : cap.slice('sts='.length);
}

describe('TLS listener', () => {
  it('without tls.cert and tls.key, a self-signed certificate is made once in the data folder and reused at the next start', async () => {
    const data = tempDataDir();
    try {
      const first = await startTestServer({ data: data.path, tls: { listen: ['127.0.0.1:0'] } });
      const fingerprint = first.tls?.fingerprint ?? assert.fail('no certificate');
      assert.equal(await servedFingerprint(tlsPortOf(first)), fingerprint);
      const certPath = join(data.path, 'tls', 'cert.pem');
      const made = readFileSync(certPath, 'utf8');
      assert.equal(statSync(join(data.path, 'tls', 'key.pem')).mode & 0o777, 0o600, 'the private key is readable by its owner only');
      await first.stop();

      const second = await startTestServer({ data: data.path, tls: { listen: ['127.0.0.1:0'] } });
      try {
        assert.equal(second.tls?.fingerprint, fingerprint, 'the same certificate, so users check its fingerprint once');
        assert.equal(await servedFingerprint(tlsPortOf(second)), fingerprint);
        assert.equal(readFileSync(certPath, 'utf8'), made);
      } finally {
        await second.stop();
      }
    } finally {
      data.remove();
    }
  });

  it('with tls.cert and tls.key that certificate is served, and an IRC client registers over TLS (a secure session)', async () => {
    const files = await makeCertificate('irc.example.org');
    const natter = await startTestServer({ tls: { listen: ['127.0.0.1:0'], cert: files.cert, key: files.key } });
    try {
      assert.equal(natter.tls?.fingerprint, files.fingerprint);
      assert.equal(await servedFingerprint(tlsPortOf(natter)), files.fingerprint);
      const secure = await TestClient.connectTls(tlsPortOf(natter));
      await secure.registerAs('secure');
      const plain = await TestClient.register(natter.port, 'plain');
      assert.equal(sessionOf(natter, 'secure').secure, true);
      assert.equal(sessionOf(natter, 'plain').secure, false);
      await secure.quit();
      await plain.quit();
    } finally {
      await natter.stop();
    }
  });

  it('accepts TLS 1.2 and 1.3; a TLS 1.1 client is refused by the server (protocol_version alert)', async () => {
    const natter = await startTestServer({ tls: { listen: ['127.0.0.1:0'] } });
    try {
      const port = tlsPortOf(natter);
      for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
        const socket = await connectTls(port, { minVersion: version, maxVersion: version });
        assert.equal(socket.getProtocol(), version);
        socket.destroy();
      }
      // SECLEVEL=0 lets this client offer TLS 1.1 at all, so the refusal seen is the server's.
      await assert.rejects(connectTls(port, { minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' }), (error: NodeJS.ErrnoException) => {
        assert.equal(error.code, 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION', error.message);
        return true;
      });
    } finally {
      await natter.stop();
    }
  });

  it('a client certificate is accepted without being signed by anyone; its SHA-256 fingerprint is on the session', async () => {
    const natter = await startTestServer({ tls: { listen: ['127.0.0.1:0'] } });
    try {
      const clientCert = await makeCertificate('my-client');
      const withCert = await TestClient.connectTls(tlsPortOf(natter), { cert: readFileSync(clientCert.cert, 'utf8'), key: readFileSync(clientCert.key, 'utf8') });
      await withCert.registerAs('withcert');
      const without = await TestClient.connectTls(tlsPortOf(natter));
      await without.registerAs('without');
      assert.equal(sessionOf(natter, "withcert").devices[0]?.certfp, normalizeFingerprint(clientCert.fingerprint));
      assert.match(sessionOf(natter, "withcert").devices[0]?.certfp ?? '', /^[0-9a-f]{64}$/);
      assert.equal(sessionOf(natter, "without").devices[0]?.certfp, undefined);
      await withCert.quit();
      await without.quit();
    } finally {
      await natter.stop();
    }
  });

  it('STS: with tls.sts.durationSeconds > 0, CAP LS offers sts=port=<TLS port> over plain TCP and sts=duration=<D> over TLS', async () => {
    const natter = await startTestServer({ tls: { listen: ['127.0.0.1:0'], sts: { durationSeconds: 2592000 } } });
    try {
      const plain = await TestClient.connect(natter.port);
      assert.equal(await stsValue(plain), `port=${tlsPortOf(natter)}`);
      const secure = await TestClient.connectTls(tlsPortOf(natter));
      assert.equal(await stsValue(secure), 'duration=2592000');
      // sts is advertised, never requested (IRCv3 STS).
      plain.send('CAP REQ :sts');
      assert.equal((await plain.expect('CAP')).params[1], 'NAK');
      plain.close();
      secure.close();
    } finally {
      await natter.stop();
    }
  });

  it('STS: without a duration (the default), or without a TLS listener, sts is not offered', async () => {
    const natter = await startTestServer({ tls: { listen: ['127.0.0.1:0'] } });
    const noTls = await startTestServer({ tls: { sts: { durationSeconds: 60 } } });
    try {
      const plain = await TestClient.connect(natter.port);
      assert.equal(await stsValue(plain), undefined);
      const secure = await TestClient.connectTls(tlsPortOf(natter));
      assert.equal(await stsValue(secure), undefined);
      const other = await TestClient.connect(noTls.port);
      assert.equal(await stsValue(other), undefined);
      for (const client of [plain, secure, other]) client.close();
    } finally {
      await natter.stop();
      await noTls.stop();
    }
  });

  it('REHASH reads the certificate files again: new TLS connections get the new certificate, open ones stay', async () => {
    const dir = tempDir();
    const certPath = join(dir, 'cert.pem');
    const keyPath = join(dir, 'key.pem');
    const [oldCert, newCert] = [await makeCertificate('old.example.org'), await makeCertificate('new.example.org')];
    copyFileSync(oldCert.cert, certPath);
    copyFileSync(oldCert.key, keyPath);
    const password = 'rehash-password';
    const file: ConfigFile = {
      listen: ['127.0.0.1:0'],
      serverName: 'test.natter',
      logLevel: 'silent',
      data: dir,
      opers: [{ name: 'root', password: await hashPassword(password) }],
      limits: { connectionsPerIp: 0, flood: { enabled: false } },
      tls: { listen: ['127.0.0.1:0'], cert: certPath, key: keyPath },
    };
    const natter = await startNatter({ config: parseConfig(file, 'test'), logger: pino({ level: 'silent' }), reload: () => Promise.resolve(parseConfig(file, 'test')) });
    try {
      const port = tlsPortOf(natter);
      assert.equal(await servedFingerprint(port), oldCert.fingerprint);
      const early = await TestClient.connectTls(port);
      await early.registerAs('early');
      const oper = await TestClient.register(natter.addresses[0]?.port ?? assert.fail('no port'), 'oper');
      oper.send(`OPER root ${password}`);
      await oper.expect('381');

      copyFileSync(newCert.cert, certPath);
      copyFileSync(newCert.key, keyPath);
      oper.send('REHASH');
      await oper.expect((m) => m.command === 'NOTICE' && /reloaded/i.test(m.params.at(-1) ?? ''));
      assert.equal(await servedFingerprint(port), newCert.fingerprint, 'a new connection sees the new certificate');
      assert.equal(natter.tls?.fingerprint, newCert.fingerprint);
      const late = await TestClient.connectTls(port);
      await late.registerAs('late');
      // The connection made before keeps its session and its certificate.
      early.send('PRIVMSG late :still here');
      assert.equal((await late.expect('PRIVMSG')).params[1], 'still here');
      const earlySocket = early.socket;
      assert.ok(earlySocket instanceof tls.TLSSocket);
      const earlyPeer = new X509Certificate(earlySocket.getPeerCertificate().raw);
      assert.equal(earlyPeer.fingerprint256, oldCert.fingerprint);

      // A half-written replacement (a key that does not match) is refused and the current certificate stays.
      copyFileSync(oldCert.key, keyPath);
      oper.send('REHASH');
      const fail = await oper.expect('FAIL');
      assert.match(fail.params.at(-1) ?? '', /not usable/);
      assert.equal(await servedFingerprint(port), newCert.fingerprint);
      for (const client of [early, late, oper]) await client.quit();
    } finally {
      await natter.stop();
    }
  });
});

describe('natter serve --listen-tls --tls-cert --tls-key', () => {
  it('prints the certificate fingerprint at start, and SIGHUP serves replaced certificate files to new connections while open ones stay', async () => {
    const dir = tempDir();
    const certPath = join(dir, 'cert.pem');
    const keyPath = join(dir, 'key.pem');
    const [oldCert, newCert] = [await makeCertificate('old.example.org'), await makeCertificate('new.example.org')];
    copyFileSync(oldCert.cert, certPath);
    copyFileSync(oldCert.key, keyPath);
    const served = await serveNatter(['--data', dir, '--listen-tls', '127.0.0.1:0', '--tls-cert', certPath, '--tls-key', keyPath]);
    try {
      assert.ok(served.run.stderr.includes(`SHA-256 fingerprint ${oldCert.fingerprint}`), `the fingerprint is printed: ${served.run.stderr}`);
      const logged = await served.run.logLine('TLS certificate (SHA-256 fingerprint)');
      assert.equal(logged['fingerprint'], oldCert.fingerprint);
      const tlsPort = served.tlsPort ?? assert.fail('no TLS port logged');
      assert.equal(await servedFingerprint(tlsPort), oldCert.fingerprint);
      const early = await TestClient.connectTls(tlsPort);
      await early.registerAs('early');

      copyFileSync(newCert.cert, certPath);
      copyFileSync(newCert.key, keyPath);
      served.run.child.kill('SIGHUP');
      const reloaded = await served.run.logLine('TLS certificate reloaded (SHA-256 fingerprint)');
      assert.equal(reloaded['fingerprint'], newCert.fingerprint);
      await served.run.logLine('configuration reloaded');
      assert.equal(await servedFingerprint(tlsPort), newCert.fingerprint);
      early.send('PING still-here');
      await early.expect((m) => m.command === 'PONG' && m.params.at(-1) === 'still-here');
      early.close();
    } finally {
      assert.equal(await served.stop(), 0);
    }
  });
});
