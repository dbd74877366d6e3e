/**
 * Accept throttling (issue 10): new connections per address, `limits.connectionsPerIpPerMinute`. A token bucket per
 * address holds a minute's worth, so a burst of that many is taken at once (a LAN party behind one NAT address, all
 * reconnecting after a restart) and after it one every 60/N seconds. Addresses in `limits.connectionRateExempt`
 * (loopback by default: the host's own machine, a reverse proxy on it, benchmarks) are not counted.
 */
import type { BlockList } from 'node:net';
import { addressList, inAddressList } from './address-list.js';

/** Buckets kept at most; past it the oldest go, so an attacker with many addresses cannot grow memory without end. */
const MAX_TRACKED = 100_000;

export type ConnectionVerdict =
  | { readonly admitted: true }
  /** `firstRefusal`: the first since this address was last admitted, so a hammering client is logged once. */
  | { readonly admitted: false; readonly retryAfterSeconds: number; readonly firstRefusal: boolean };

interface Bucket {
  tokens: number;
  at: number;
  refusing: boolean;
}

const ADMITTED: ConnectionVerdict = { admitted: true };

export class ConnectionRate {
  private readonly buckets = new Map<string, Bucket>();
  /** The exemption list, parsed once per configuration (REHASH gives a new array). */
  private exempt: { readonly source: readonly string[]; readonly list: BlockList } | undefined;

  constructor(private readonly now: () => number) {}

  /** Whether a connection from `ip` may be taken now; a taken one is counted. `perMinute` 0 turns the limit off. */
  take(ip: string, perMinute: number, exempt: readonly string[]): ConnectionVerdict {
    if (perMinute <= 0 || this.isExempt(ip, exempt)) return ADMITTED;
    const now = this.now();
    let bucket = this.buckets.get(ip);
    if (bucket === undefined) {
      if (this.buckets.size >= MAX_TRACKED) this.makeRoom(now, perMinute);
      bucket = { tokens: perMinute, at: now, refusing: false };
      this.buckets.set(ip, bucket);
    } else {
      bucket.tokens = Math.min(perMinute, bucket.tokens + ((now - bucket.at) * perMinute) / 60_000);
      bucket.at = now;
    }
    if (bucket.tokens < 1) {
      const firstRefusal = !bucket.refusing;
      bucket.refusing = true;
      return { admitted: false, retryAfterSeconds: Math.max(1, Math.ceil(((1 - bucket.tokens) * 60) / perMinute)), firstRefusal };
    }
    bucket.tokens -= 1;
    bucket.refusing = false;
    return ADMITTED;
  }

  /** Addresses tracked now (for tests of the memory bound). */
  get tracked(): number {
    return this.buckets.size;
  }

  private isExempt(ip: string, exempt: readonly string[]): boolean {
    if (exempt.length === 0) return false;
    if (this.exempt?.source !== exempt) this.exempt = { source: exempt, list: addressList(exempt) };
    return inAddressList(this.exempt.list, ip);
  }

  /** Forgets refilled buckets (they start full anyway), then the oldest down to three quarters, so this runs rarely. */
  private makeRoom(now: number, perMinute: number): void {
    for (const [ip, bucket] of this.buckets) {
      if (bucket.tokens + ((now - bucket.at) * perMinute) / 60_000 >= perMinute) this.buckets.delete(ip);
    }
    for (const ip of this.buckets.keys()) {
      if (this.buckets.size < (MAX_TRACKED * 3) / 4) break;
      this.buckets.delete(ip);
    }
  }
}
