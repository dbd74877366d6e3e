/**
 * What the room, mode and message tests share: numbered clients and rooms on one server, closed after each test,
 * and the few steps every such test takes (join and wait for NAMES, settle inboxes with a PING barrier).
 */
import assert from 'node:assert/strict';
import { TestClient } from './client.js';
import type { Received } from './client.js';

/** nick!user@host as the server shows it for a TestClient. */
export function mask(client: TestClient): string {
  return `${client.nick}!~${client.nick}@127.0.0.1`;
}

/** The one message of a roundtrip, failing (with what came) if there were none or several. */
export function only(received: readonly Received[]): Received {
  assert.equal(received.length, 1, `expected one message, got:\n${received.map((m) => m.raw).join('\n')}`);
  const [message] = received;
  if (message === undefined) throw new Error('unreachable');
  return message;
}

/** The raw lines a client received up to now (a PING barrier), clearing them. */
export async function lines(client: TestClient): Promise<string[]> {
  return (await client.roundtrip()).map((m) => m.raw);
}

export async function settle(...clients: TestClient[]): Promise<void> {
  await Promise.all(clients.map((c) => c.roundtrip()));
}

/** Joins and waits for the end of NAMES, consuming the join burst. */
export async function join(client: TestClient, channel: string, key?: string): Promise<void> {
  client.send(key === undefined ? `JOIN ${channel}` : `JOIN ${channel} ${key}`);
  await client.expect((m) => m.command === '366' && m.params[1] === channel);
  client.drain();
}

/** Clients and room names numbered so tests sharing one server never collide. Methods are bound: destructure freely. */
export class ClientPool {
  private serial = 0;
  private open: TestClient[] = [];

  constructor(private readonly port: () => number) {}

  readonly connect = async (name: string, caps: string[] = []): Promise<TestClient> => {
    const client = await TestClient.register(this.port(), `${name}${++this.serial}`, { caps });
    this.open.push(client);
    return client;
  };

  readonly room = (): string => `#room${++this.serial}`;

  /** Joins everyone (the first creates the room and is its operator), then clears every inbox. */
  readonly roomWith = async (...clients: TestClient[]): Promise<string> => {
    const channel = this.room();
    for (const client of clients) await join(client, channel);
    await settle(...clients);
    return channel;
  };

  readonly closeAll = (): void => {
    for (const client of this.open) client.close();
    this.open = [];
  };
}
