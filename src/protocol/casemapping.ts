/**
 * Casefolding for nicks and channel names (Modern IRC, "Casemapping").
 * rfc1459 folds A-Z and [\]^ to a-z and {|}~, as traditional clients expect; ascii folds only A-Z.
 * Both return the same string object when nothing changes, so the common lowercase case allocates nothing.
 */
export type Casemapping = 'rfc1459' | 'ascii';

export type Casefold = (name: string) => string;

function makeFolder(lastUpper: number): Casefold {
  return (name: string): string => {
    let i = 0;
    for (; i < name.length; i++) {
      const c = name.charCodeAt(i);
      if (c >= 65 && c <= lastUpper) break;
    }
    if (i === name.length) return name;
    let out = name.slice(0, i);
    for (; i < name.length; i++) {
      const c = name.charCodeAt(i);
      out += String.fromCharCode(c >= 65 && c <= lastUpper ? c + 32 : c);
    }
    return out;
  };
}

export const casefoldAscii: Casefold = makeFolder(90);
export const casefoldRfc1459: Casefold = makeFolder(94);

export function casefolder(mapping: Casemapping): Casefold {
  return mapping === 'ascii' ? casefoldAscii : casefoldRfc1459;
}
