/**
 * Compares two secrets in time that depends only on their lengths, not on where they differ.
 * Written without node:crypto so core stays free of Node imports.
 */
export function timingSafeEqualStrings(a: string, b: string): boolean {
  const length = Math.max(a.length, b.length);
  let diff = a.length ^ b.length;
  for (let i = 0; i < length; i++) diff |= (a.charCodeAt(i) | 0) ^ (b.charCodeAt(i) | 0);
  return diff === 0;
}
