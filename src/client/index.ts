/** The client engine's public face, for the web client, the terminal client, the bench and tests. */
export { ChatClient, RequestError, WANTED_CAPS, splitText, utf8Length } from './engine.js';
export type { ChatClientOptions, Credentials } from './engine.js';
export { COMMANDS, CommandError, parseInput, runInput } from './commands.js';
export type { SlashCommand } from './commands.js';
export { applyAction, applyMessage, mentions } from './reducer.js';
export type { LocalAction } from './reducer.js';
export { SERVER_BUFFER, VIEW_ONCE, bufferKey, foldOf, highestPrefix, initialState, isRoomName, myMembership, prefixTable } from './state.js';
export type { ChatBuffer, ChatMessage, ClientState, ConnectionStatus, ListEntry, Member, MessageKind, Outgoing, Typist, ViewOnceState } from './state.js';
export { webSocketTransport } from './transport.js';
export type { Transport, TransportFactory, TransportHandlers, WebSocketConstructor, WebSocketLike } from './transport.js';
