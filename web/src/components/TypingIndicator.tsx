/**
 * "alice is typing…" under the messages, from the buffer's +typing entries (IRCv3 typing): 'active' ones younger
 * than 6 s count. The engine keeps stale entries (it has no clock), so this re-renders on a timer while one shows.
 */
import { useEffect, useState } from 'preact/hooks';
import type { ChatBuffer, ClientState } from '../../../src/client/index.js';
import { typingSentence } from '../text.js';

/** The typing spec: clients treat "active" as expired after 6 seconds without a renewal. */
export const TYPING_TTL_MS = 6000;

/** Display names of who is typing now, in a stable order. */
export function activeTypists(buffer: ChatBuffer, now: number): string[] {
  const names: string[] = [];
  for (const [folded, typist] of buffer.typing) {
    if (typist.state !== 'active' || now - typist.at > TYPING_TTL_MS) continue;
    names.push(buffer.members.get(folded)?.nick ?? folded);
  }
  return names.sort((a, b) => a.localeCompare(b));
}

interface TypingIndicatorProps {
  readonly state: ClientState;
  readonly bufferKey: string;
}

export function TypingIndicator({ state, bufferKey }: TypingIndicatorProps) {
  const [now, setNow] = useState(() => Date.now());
  const buffer = state.buffers.get(bufferKey);
  // A fresh clock for every new state: a +typing that just came must count even if the timer is idle.
  const current = Math.max(now, Date.now());
  const typists = buffer === undefined ? [] : activeTypists(buffer, current);
  const showing = typists.length > 0;
  useEffect(() => {
    if (!showing) return;
    const timer = setInterval(() => { setNow(Date.now()); }, 1000);
    return () => {
      clearInterval(timer);
    };
  }, [showing]);
  const sentence = typingSentence(typists);
  return (
    <div class="typing" aria-live="polite" aria-atomic="true">
      {sentence !== '' && (
        <>
          <span class="typing-dots" aria-hidden="true">
            <span />
            <span />
            <span />
          </span>
          <span class="typing-text">{sentence}</span>
        </>
      )}
    </div>
  );
}
