/**
 * Claims (ports.ts) for one process: two maps, answered at once, so that NICK and JOIN stay synchronous and a
 * single node behaves and times exactly as before cluster mode. Several Networks in one process (tests of cluster
 * behaviour over MemoryHub) must share one instance, as the nodes of a cluster share one Redis.
 */
import type { Claims } from './ports.js';

/** The node of a session: its id is "<node>.<n>" (net/server.ts), and a node id may itself hold dots. */
export function nodeOfSession(sessionId: string): string {
  const dot = sessionId.lastIndexOf('.');
  return dot === -1 ? '' : sessionId.slice(0, dot);
}

export class LocalClaims implements Claims {
  /** Casefolded nick -> the session id holding it. */
  private readonly nicks = new Map<string, string>();
  /** Casefolded room -> the session id that founded it. */
  private readonly rooms = new Map<string, string>();

  claimNick(folded: string, sessionId: string, previous?: string): boolean {
    const holder = this.nicks.get(folded);
    if (holder !== undefined && holder !== sessionId) return false;
    this.nicks.set(folded, sessionId);
    if (previous !== undefined && previous !== folded && this.nicks.get(previous) === sessionId) this.nicks.delete(previous);
    return true;
  }

  releaseNick(folded: string, sessionId: string): void {
    if (this.nicks.get(folded) === sessionId) this.nicks.delete(folded);
  }

  claimRoom(folded: string, sessionId: string): boolean {
    const holder = this.rooms.get(folded);
    if (holder !== undefined) return holder === sessionId;
    this.rooms.set(folded, sessionId);
    return true;
  }

  releaseRoom(folded: string): void {
    this.rooms.delete(folded);
  }

  releaseNode(nodeId: string): void {
    for (const map of [this.nicks, this.rooms]) {
      for (const [name, holder] of map) if (nodeOfSession(holder) === nodeId) map.delete(name);
    }
  }
}
