/** PRIVMSG, NOTICE and TAGMSG: deciding who may speak where, then handing the message to the Bus. */
import { rankByPrefix } from './channel.js';
import { ChatError } from './errors.js';
import type { Network } from './network.js';
import { maySpeak } from './permissions.js';
import type { Session } from './session.js';

export type MessageCommand = 'PRIVMSG' | 'NOTICE' | 'TAGMSG';

/**
 * Sends to one target: "#room", "@#room" (STATUSMSG: only members of that rank and above) or a nick.
 * Returns the recipient session for a private message, so the caller can answer with RPL_AWAY.
 */
export function sendMessage(
  network: Network,
  session: Session,
  command: MessageCommand,
  target: string,
  text: string,
  tags: ReadonlyMap<string, string> | undefined,
): Session | undefined {
  const time = network.clock.now();
  const first = target.charCodeAt(0);
  if (first !== 35 /* # */) {
    const status = rankByPrefix(target[0] ?? '');
    if (status !== undefined && target.charCodeAt(1) === 35) {
      sendToChannel(network, session, command, target, target.slice(1), status.rank, text, tags, time);
      return undefined;
    }
    const recipient = network.findNick(target);
    if (recipient === undefined) throw new ChatError('noSuchNick', [target]);
    network.publish({ type: 'privateMessage', from: session.id, command, to: recipient.id, text, tags, time });
    if (command !== 'TAGMSG') session.lastSpokeAt = Math.floor(time / 1000);
    return recipient;
  }
  sendToChannel(network, session, command, target, target, 0, text, tags, time);
  return undefined;
}

function sendToChannel(
  network: Network,
  session: Session,
  command: MessageCommand,
  target: string,
  name: string,
  minRank: number,
  text: string,
  tags: ReadonlyMap<string, string> | undefined,
  time: number,
): void {
  const channel = network.channels.get(network.fold(name));
  if (channel === undefined) throw new ChatError('noSuchChannel', [name]);
  if (!maySpeak(network, session, channel)) throw new ChatError('cannotSendToChan', [channel.name]);
  if (command !== 'TAGMSG') session.lastSpokeAt = Math.floor(time / 1000);
  network.publish({
    type: 'channelMessage',
    from: session.id,
    command,
    channel: channel.nameFolded,
    target: minRank === 0 ? channel.name : `${target[0] ?? ''}${channel.name}`,
    minRank,
    text,
    tags,
    time,
  });
}

export function sendWallops(network: Network, session: Session, text: string): void {
  network.publish({ type: 'wallops', source: session.prefix, text, time: network.clock.now() });
}
