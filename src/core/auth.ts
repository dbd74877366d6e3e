/**
 * Logging in, as core sees it: ports for the cryptography (implemented on node:crypto and argon2 in auth/),
 * and the domain rules for account names, passwords and failed-login throttling.
 */
import type { ScramCredentials } from './store.js';

export interface NewCredentials {
  readonly passwordHash: string;
  readonly scram: ScramCredentials;
}

export type SaslStep =
  | { readonly kind: 'challenge'; readonly data: string }
  /** `data` is a last message for the client (SCRAM's server signature), sent before success. */
  | { readonly kind: 'success'; readonly data: string | undefined; readonly username: string };

/** One SASL exchange in progress; a rejected promise means the credentials were wrong or malformed. */
export interface SaslExchange {
  step(data: string): Promise<SaslStep>;
}

export interface Authenticator {
  /** argon2id hash plus SCRAM-SHA-256 credentials, as stored whenever a password is set. */
  newCredentials(password: string): Promise<NewCredentials>;
  /**
   * Constant-time check of a password against an argon2id PHC string; false for a malformed hash. Without a
   * hash (an unknown account) it checks against a hash of its own and returns false, taking the same time,
   * so the answer's timing does not tell which accounts exist.
   */
  verifyPassword(passwordHash: string | undefined, password: string): Promise<boolean>;
  scramExchange(lookup: (username: string) => Promise<ScramCredentials | undefined>): SaslExchange;
}

/**
 * Failed logins per key (an account name, an IP address): after `maxFailures` within `windowMs` the key is
 * refused until the window has passed. Memory is bounded: old keys are swept as new ones come.
 */
/** Counting password failures by key ("ip:…", "account:…"): a local LoginThrottle, or the network's (core/network.ts). */
export interface LoginAttempts {
  /** Seconds to wait before trying again, or 0 when a try is allowed. */
  retryAfter(key: string): number;
  fail(key: string): void;
  succeed(key: string): void;
}

export class LoginThrottle implements LoginAttempts {
  private readonly failures = new Map<string, { count: number; since: number }>();

  constructor(
    private readonly maxFailures: number,
    private readonly windowMs: number,
    private readonly now: () => number,
  ) {}

  /** Seconds to wait before trying again, or 0 when a try is allowed. */
  retryAfter(key: string): number {
    const entry = this.failures.get(key);
    if (entry === undefined) return 0;
    const elapsed = this.now() - entry.since;
    if (elapsed >= this.windowMs) {
      this.failures.delete(key);
      return 0;
    }
    return entry.count >= this.maxFailures ? Math.ceil((this.windowMs - elapsed) / 1000) : 0;
  }

  fail(key: string): void {
    const now = this.now();
    const entry = this.failures.get(key);
    if (entry === undefined || now - entry.since >= this.windowMs) {
      if (this.failures.size > 100_000) this.sweep(now);
      this.failures.set(key, { count: 1, since: now });
    } else {
      entry.count++;
    }
  }

  succeed(key: string): void {
    this.failures.delete(key);
  }

  private sweep(now: number): void {
    for (const [key, entry] of this.failures) if (now - entry.since >= this.windowMs) this.failures.delete(key);
  }
}
