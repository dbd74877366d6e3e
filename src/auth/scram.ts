/**
 * SCRAM-SHA-256 (RFC 5802 with RFC 7677's hash) on node:crypto: credential derivation, the server side
 * of the exchange, and a client for tests and tools. No maintained npm library does the server side (STACK.md).
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { saslprep } from '@mongodb-js/saslprep';
import type { ScramCredentials } from '../core/store.js';

/** RFC 7677 asks for at least 4096; each login costs one PBKDF2 of this many rounds (about 5 ms here). */
export const SCRAM_ITERATIONS = 4096;

function hmac(key: Buffer, text: string): Buffer {
  return createHmac('sha256', key).update(text, 'utf8').digest();
}

function sha256(data: Buffer): Buffer {
  return createHash('sha256').update(data).digest();
}

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.alloc(a.length);
  for (let i = 0; i < a.length; i++) out[i] = (a[i] ?? 0) ^ (b[i] ?? 0);
  return out;
}

export function normalizePassword(password: string): string {
  try {
    return saslprep(password);
  } catch {
    // A password with characters SASLprep prohibits is used as given rather than refused.
    return password;
  }
}

export function saltedPassword(password: string, salt: Buffer, iterations: number): Buffer {
  return pbkdf2Sync(normalizePassword(password), salt, iterations, 32, 'sha256');
}

export function deriveScramCredentials(password: string, salt: Buffer = randomBytes(16), iterations = SCRAM_ITERATIONS): ScramCredentials {
  const salted = saltedPassword(password, salt, iterations);
  const clientKey = hmac(salted, 'Client Key');
  return {
    salt: salt.toString('base64'),
    iterations,
    storedKey: sha256(clientKey).toString('base64'),
    serverKey: hmac(salted, 'Server Key').toString('base64'),
  };
}

/** "a=b,c=d" attribute lists of SCRAM messages. */
function attributes(message: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of message.split(',')) {
    const eq = part.indexOf('=');
    if (eq === 1) out.set(part[0] ?? '', part.slice(2));
  }
  return out;
}

function decodeSaslName(name: string): string | undefined {
  if (/=(?!2C|3D)/.test(name)) return undefined;
  return name.replace(/=2C/g, ',').replace(/=3D/g, '=');
}

export class ScramError extends Error {
  override name = 'ScramError';
}

export type ScramStep =
  | { readonly kind: 'challenge'; readonly data: string }
  | { readonly kind: 'success'; readonly data: string };

/**
 * The server's side of one exchange. `lookup` finds the credentials of the user named in the client-first
 * message (undefined for an unknown user, which fails at the proof so timing does not reveal it).
 */
export class ScramServer {
  private state: 'first' | 'final' | 'done' = 'first';
  private authMessagePrefix = '';
  private nonce = '';
  private gs2Header = '';
  private credentials: ScramCredentials | undefined;
  username = '';

  constructor(
    private readonly lookup: (username: string) => Promise<ScramCredentials | undefined>,
    private readonly serverNonce: string = randomBytes(18).toString('base64'),
  ) {}

  async step(message: string): Promise<ScramStep> {
    if (this.state === 'first') return this.clientFirst(message);
    if (this.state === 'final') return { kind: 'success', data: this.clientFinal(message) };
    throw new ScramError('the exchange is already over');
  }

  private async clientFirst(message: string): Promise<ScramStep> {
    const match = /^([ny]|p=[^,]+),(a=[^,]*)?,(.*)$/.exec(message);
    if (match === null) throw new ScramError('malformed client-first message');
    if (match[1]?.startsWith('p=') === true) throw new ScramError('channel binding is not supported');
    const bare = match[3] ?? '';
    const attrs = attributes(bare);
    const user = decodeSaslName(attrs.get('n') ?? '');
    const clientNonce = attrs.get('r');
    if (user === undefined || user === '' || clientNonce === undefined || clientNonce === '') throw new ScramError('malformed client-first message');
    this.username = user;
    this.gs2Header = `${match[1] ?? 'n'},${match[2] ?? ''},`;
    this.credentials = await this.lookup(user);
    // An unknown user gets plausible fake parameters so the failure comes at the proof, like a wrong password.
    const salt = this.credentials?.salt ?? createHash('sha256').update(`natter-fake-salt:${user}`).digest().subarray(0, 16).toString('base64');
    const iterations = this.credentials?.iterations ?? SCRAM_ITERATIONS;
    this.nonce = clientNonce + this.serverNonce;
    const serverFirst = `r=${this.nonce},s=${salt},i=${iterations}`;
    this.authMessagePrefix = `${bare},${serverFirst}`;
    this.state = 'final';
    return { kind: 'challenge', data: serverFirst };
  }

  private clientFinal(message: string): string {
    this.state = 'done';
    const proofAt = message.lastIndexOf(',p=');
    if (proofAt === -1) throw new ScramError('malformed client-final message');
    const withoutProof = message.slice(0, proofAt);
    const attrs = attributes(withoutProof);
    if (attrs.get('r') !== this.nonce) throw new ScramError('nonce mismatch');
    if (attrs.get('c') !== Buffer.from(this.gs2Header, 'utf8').toString('base64')) throw new ScramError('channel binding mismatch');
    const proof = Buffer.from(message.slice(proofAt + 3), 'base64');
    const authMessage = `${this.authMessagePrefix},${withoutProof}`;
    const credentials = this.credentials;
    const storedKey = Buffer.from(credentials?.storedKey ?? '', 'base64');
    const clientSignature = hmac(storedKey.length === 32 ? storedKey : Buffer.alloc(32), authMessage);
    const candidate = sha256(xor(proof.length === 32 ? proof : Buffer.alloc(32), clientSignature));
    const valid = credentials !== undefined && storedKey.length === 32 && proof.length === 32 && timingSafeEqual(candidate, storedKey);
    if (!valid) throw new ScramError('invalid credentials');
    const serverKey = Buffer.from(credentials.serverKey, 'base64');
    return `v=${hmac(serverKey, authMessage).toString('base64')}`;
  }
}

/** The client's side, for tests and `natter connect`. */
export class ScramClient {
  private clientFirstBare = '';
  private authMessage = '';
  private saltedPassword: Buffer = Buffer.alloc(0);

  constructor(
    private readonly username: string,
    private readonly password: string,
    private readonly clientNonce: string = randomBytes(18).toString('base64'),
  ) {}

  first(): string {
    const name = saslprepSafe(this.username).replace(/=/g, '=3D').replace(/,/g, '=2C');
    this.clientFirstBare = `n=${name},r=${this.clientNonce}`;
    return `n,,${this.clientFirstBare}`;
  }

  final(serverFirst: string): string {
    const attrs = attributes(serverFirst);
    const nonce = attrs.get('r') ?? '';
    if (!nonce.startsWith(this.clientNonce)) throw new ScramError('server nonce does not extend ours');
    const salt = Buffer.from(attrs.get('s') ?? '', 'base64');
    const iterations = Number(attrs.get('i'));
    this.saltedPassword = saltedPassword(this.password, salt, iterations);
    const withoutProof = `c=biws,r=${nonce}`;
    this.authMessage = `${this.clientFirstBare},${serverFirst},${withoutProof}`;
    const clientKey = hmac(this.saltedPassword, 'Client Key');
    const proof = xor(clientKey, hmac(sha256(clientKey), this.authMessage));
    return `${withoutProof},p=${proof.toString('base64')}`;
  }

  verifyServer(serverFinal: string): boolean {
    const expected = hmac(hmac(this.saltedPassword, 'Server Key'), this.authMessage).toString('base64');
    return serverFinal === `v=${expected}`;
  }
}

function saslprepSafe(value: string): string {
  try {
    return saslprep(value);
  } catch {
    return value;
  }
}
