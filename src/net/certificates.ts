/**
 * The TLS certificate: the operator's PEM files, or a self-signed one made once into the data folder and
 * reused on every start, so its fingerprint stays what users checked the first time.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generate } from 'selfsigned';

export interface TlsMaterial {
  readonly cert: string;
  readonly key: string;
  /** SHA-256 of the certificate, "AB:CD:..." as browsers and `openssl x509 -fingerprint -sha256` show it. */
  readonly fingerprint: string;
  /** Where it came from, for the start-up message. */
  readonly source: string;
}

export class CertificateError extends Error {
  override name = 'CertificateError';
}

export function fingerprintOf(certPem: string): string {
  return new X509Certificate(certPem).fingerprint256;
}

/** Lowercase hex without colons: the form stored for SASL EXTERNAL (as Ergo and soju keep it). */
export function normalizeFingerprint(fingerprint: string): string {
  return fingerprint.replace(/:/g, '').toLowerCase();
}

export async function loadCertificateFiles(certPath: string, keyPath: string): Promise<TlsMaterial> {
  let cert: string;
  let key: string;
  try {
    [cert, key] = await Promise.all([readFile(certPath, 'utf8'), readFile(keyPath, 'utf8')]);
  } catch (error) {
    throw new CertificateError(`TLS certificate or key cannot be read: ${(error as NodeJS.ErrnoException).message}`);
  }
  try {
    const x509 = new X509Certificate(cert);
    if (!x509.checkPrivateKey(createPrivateKey(key))) throw new Error('the key does not belong to the certificate');
    return { cert, key, fingerprint: x509.fingerprint256, source: certPath };
  } catch (error) {
    throw new CertificateError(`TLS certificate ${certPath} is not usable: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** Reuses data/tls/{cert,key}.pem, or makes an ECDSA P-256 self-signed certificate valid for ten years. */
export async function loadOrCreateSelfSigned(dataDir: string, names: readonly string[]): Promise<TlsMaterial> {
  const dir = join(dataDir, 'tls');
  const certPath = join(dir, 'cert.pem');
  const keyPath = join(dir, 'key.pem');
  if (existsSync(certPath) || existsSync(keyPath)) return loadCertificateFiles(certPath, keyPath);
  const now = new Date();
  const later = new Date(now.getTime() + 10 * 365 * 24 * 3600 * 1000);
  const altNames = names.map((name) => (/^[\d.]+$|:/.test(name) ? { type: 7 as const, ip: name } : { type: 2 as const, value: name }));
  const pems = await generate([{ name: 'commonName', value: names[0] ?? 'natter' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: now,
    notAfterDate: later,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames },
    ],
  });
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFile(keyPath, pems.private, { mode: 0o600 });
  await chmod(keyPath, 0o600);
  await writeFile(certPath, pems.cert, { mode: 0o644 });
  return { cert: pems.cert, key: pems.private, fingerprint: fingerprintOf(pems.cert), source: `${certPath} (self-signed, made now)` };
}
