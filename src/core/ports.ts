/** What core needs from the outside world, as interfaces. cli/main.ts chooses the implementations. */
import type { NetworkEvent } from './events.js';

/**
 * Fans domain events out to every node, this one included. The local node's listeners run synchronously
 * inside publish(), so after publish() returns this node's state already reflects the event.
 */
export interface Bus {
  publish(event: NetworkEvent): void;
  subscribe(listener: (event: NetworkEvent) => void): void;
  close(): Promise<void>;
}

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}
