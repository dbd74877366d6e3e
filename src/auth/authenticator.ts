/** core's Authenticator on argon2id (@node-rs/argon2) and hand-written SCRAM-SHA-256. */
import { randomBytes } from 'node:crypto';
import { hash, verify } from '@node-rs/argon2';
import type { Authenticator, SaslExchange } from '../core/auth.js';
import type { ScramCredentials } from '../core/store.js';
import { deriveScramCredentials, normalizePassword, ScramServer } from './scram.js';

let decoy: Promise<string> | undefined;

/** A real argon2id hash of random bytes, made once, to verify against for unknown accounts. */
function decoyHash(): Promise<string> {
  decoy ??= hash(randomBytes(16).toString('hex'));
  return decoy;
}

export const authenticator: Authenticator = {
  async newCredentials(password: string) {
    // @node-rs/argon2 defaults: argon2id, m=19 MiB, t=2, p=1 (the OWASP minimum; about 35 ms here).
    return { passwordHash: await hash(normalizePassword(password)), scram: deriveScramCredentials(password) };
  },

  async verifyPassword(passwordHash: string | undefined, password: string) {
    try {
      if (passwordHash === undefined) {
        await verify(await decoyHash(), normalizePassword(password));
        return false;
      }
      return await verify(passwordHash, normalizePassword(password));
    } catch {
      return false;
    }
  },

  scramExchange(lookup: (username: string) => Promise<ScramCredentials | undefined>): SaslExchange {
    const server = new ScramServer(lookup);
    return {
      async step(data: string) {
        const result = await server.step(data);
        if (result.kind === 'challenge') return result;
        return { kind: 'success', data: result.data, username: server.username };
      },
    };
  },
};

/** An argon2id hash of a password, e.g. for "opers" in the configuration (`natter hash-password`). */
export async function hashPassword(password: string): Promise<string> {
  return (await authenticator.newCredentials(password)).passwordHash;
}
