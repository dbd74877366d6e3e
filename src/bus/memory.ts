/** The in-process Bus: one node, so publishing is calling the listeners (ARCHITECTURE.md lesson 11). */
import type { NetworkEvent } from '../core/events.js';
import type { Bus } from '../core/ports.js';

export class MemoryBus implements Bus {
  private readonly listeners: Array<(event: NetworkEvent) => void> = [];

  publish(event: NetworkEvent): void {
    for (const listener of this.listeners) listener(event);
  }

  subscribe(listener: (event: NetworkEvent) => void): void {
    this.listeners.push(listener);
  }

  close(): Promise<void> {
    this.listeners.length = 0;
    return Promise.resolve();
  }
}
