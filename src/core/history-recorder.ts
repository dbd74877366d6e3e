/**
 * Writes what the network reports as it applies events into history: room events for draft/event-playback, and
 * when logged-in users join and leave rooms (so a room showing history "since they joined" knows from when, across
 * disconnections). These writes are not acknowledged to anyone, so they are not awaited: a failure is logged.
 */
import type { HistoryCommand, HistoryStore, RoomJoinStore } from './history.js';
import { ROOM_EVENT_COMMANDS } from './network.js';
import type { RoomEventRecorder } from './network.js';
import type { Outbound } from './outbound.js';

export class HistoryRecorder implements RoomEventRecorder {
  constructor(
    private readonly store: HistoryStore & RoomJoinStore,
    private readonly onError: (error: unknown, what: string) => void,
  ) {}

  roomEvent(room: string, message: Outbound): void {
    const command = message.command as HistoryCommand;
    if (message.msgid === undefined || !ROOM_EVENT_COMMANDS.has(command)) return;
    this.store
      .appendHistory({
        // A NICK or QUIT is one message in several rooms: each room's copy needs its own id in the store.
        msgid: command === 'NICK' || command === 'QUIT' ? `${message.msgid}-${roomSuffix(room)}` : message.msgid,
        time: message.time,
        target: room,
        command,
        source: message.source ?? '',
        account: message.account,
        params: message.params,
        tags: undefined,
      })
      .catch((error: unknown) => {
        this.onError(error, 'room event not kept in history');
      });
  }

  roomJoined(accountId: number, room: string, time: number): void {
    this.store.recordRoomJoin(accountId, room, time).catch((error: unknown) => {
      this.onError(error, 'room join not recorded');
    });
  }

  roomLeft(accountId: number, room: string): void {
    this.store.forgetRoomJoin(accountId, room).catch((error: unknown) => {
      this.onError(error, 'room departure not recorded');
    });
  }
}

/** A short, tag-safe suffix that tells the rooms of one NICK or QUIT apart (FNV-1a of the room's key). */
function roomSuffix(room: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < room.length; i++) hash = Math.imul(hash ^ room.charCodeAt(i), 0x01000193);
  return (hash >>> 0).toString(36);
}
