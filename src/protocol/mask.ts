/** Hostmasks: nick!user@host splitting, wildcard matching and hostname validation (Modern IRC, "Wildcard expressions"). */
import type { Casefold } from './casemapping.js';

export interface Userhost {
  nick: string;
  user?: string;
  host?: string;
}

export function splitUserhost(source: string): Userhost {
  const at = source.indexOf('@');
  const beforeHost = at === -1 ? source : source.slice(0, at);
  const bang = beforeHost.indexOf('!');
  const result: Userhost = { nick: bang === -1 ? beforeHost : beforeHost.slice(0, bang) };
  if (bang !== -1) result.user = beforeHost.slice(bang + 1);
  if (at !== -1) result.host = source.slice(at + 1);
  return result;
}

/**
 * '*' matches any run (also empty), '?' exactly one character. Iterative with one backtrack point,
 * so a hostile mask like "*a*a*a*b" costs O(n*m) at worst, never exponential time.
 */
export function matchWildcard(mask: string, subject: string): boolean {
  let m = 0;
  let s = 0;
  let starM = -1;
  let starS = 0;
  while (s < subject.length) {
    const mc = mask[m];
    if (mc === '*') {
      starM = m++;
      starS = s;
    } else if (mc !== undefined && (mc === '?' || mc === subject[s])) {
      m++;
      s++;
    } else if (starM !== -1) {
      m = starM + 1;
      s = ++starS;
    } else {
      return false;
    }
  }
  while (mask[m] === '*') m++;
  return m === mask.length;
}

/** Matches with both sides casefolded, as ban lists need. */
export function matchMask(mask: string, subject: string, fold: Casefold): boolean {
  return matchWildcard(fold(mask), fold(subject));
}

/**
 * Completes a partial ban mask to nick!user@host form ("nick" -> "nick!*@*", "*@host" -> "*!*@host").
 */
/** The extban that mutes instead of banning: "m:nick!user@host" (as InspIRCd and Ergo write it; ISUPPORT EXTBAN=,m). */
export const MUTE_EXTBAN = 'm:';

export function normalizeMask(mask: string): string {
  if (mask.startsWith(MUTE_EXTBAN)) return `${MUTE_EXTBAN}${normalizeMask(mask.slice(MUTE_EXTBAN.length))}`;
  const at = mask.indexOf('@');
  const bang = mask.indexOf('!');
  if (bang !== -1 && at !== -1 && bang < at) return mask;
  if (bang === -1 && at === -1) return mask.includes('.') || mask.includes(':') ? `*!*@${mask}` : `${mask}!*@*`;
  if (bang === -1) return `*!${mask}`;
  return `${mask}@*`;
}

const LABEL = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/i;

/** RFC 952/1123 host names: dot-separated labels of letters, digits and inner hyphens; a trailing dot is allowed. */
export function isValidHostname(host: string): boolean {
  // A single label ("irc", "com") is not a usable IRC host name: the vectors require a dot.
  if (host.length === 0 || host.length > 253 || !host.includes('.')) return false;
  const labels = (host.endsWith('.') ? host.slice(0, -1) : host).split('.');
  return labels.every((label) => label.length <= 63 && LABEL.test(label));
}
