/** Password hashing for operator credentials (and, later, accounts): argon2id, verified in constant time. */
import { hash, verify } from '@node-rs/argon2';
import type { PasswordVerifier } from '../core/ports.js';

export async function hashPassword(password: string): Promise<string> {
  // @node-rs/argon2 defaults to argon2id, m=19 MiB, t=2, p=1: the OWASP minimum (STACK.md).
  return hash(password);
}

export const argon2Verifier: PasswordVerifier = {
  async verify(stored: string, password: string): Promise<boolean> {
    try {
      return await verify(stored, password);
    } catch {
      return false;
    }
  },
};
