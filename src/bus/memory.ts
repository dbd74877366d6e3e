/** The in-process Bus: one node, so publishing is calling the listeners (ARCHITECTURE.md lesson 11). */
import type { NetworkEvent } from '../core/events.js';
import type { Bus, Delivery } from '../core/ports.js';

export class MemoryBus implements Bus {
  private readonly listeners: Array<(event: NetworkEvent, delivery: Delivery) => void> = [];
  private readonly delivery: Delivery;

  constructor(readonly nodeId = 'local') {
    this.delivery = { local: true, origin: nodeId };
  }

  publish(event: NetworkEvent): void {
    for (const listener of this.listeners) listener(event, this.delivery);
  }

  subscribe(listener: (event: NetworkEvent, delivery: Delivery) => void): void {
    this.listeners.push(listener);
  }

  onNodeLost(): void {
    // One node: none is ever lost.
  }

  onSnapshotRequest(): void {
    // One node: nobody ever joins.
  }

  /** One node: there is nobody to take the state from. */
  bootstrap(): Promise<boolean> {
    return Promise.resolve(false);
  }

  close(): Promise<void> {
    this.listeners.length = 0;
    return Promise.resolve();
  }
}
