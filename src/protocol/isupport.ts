/** RPL_ISUPPORT (005) tokens (Modern IRC, "Feature Advertisement"). */

export type IsupportTokens = ReadonlyArray<readonly [string, string | number | true]>;

export function isupportToken([key, value]: readonly [string, string | number | true]): string {
  return value === true ? key : `${key}=${escapeIsupportValue(String(value))}`;
}

/** Splits the tokens into groups short enough for one 005 line each (13 tokens is the customary count). */
export function isupportLines(tokens: IsupportTokens, perLine = 13): string[][] {
  const lines: string[][] = [];
  for (let i = 0; i < tokens.length; i += perLine) lines.push(tokens.slice(i, i + perLine).map(isupportToken));
  return lines;
}

/** Values escape space, backslash and '=' as \xHH (Modern IRC, "RPL_ISUPPORT Parameters"). */
export function escapeIsupportValue(value: string): string {
  return value.replace(/[\\ =]/g, (c) => `\\x${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
}
