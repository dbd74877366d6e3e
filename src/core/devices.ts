/**
 * Multi-device accounts (issue 5, as Ergo's multiclient): a connection that logs in with SASL to an account whose
 * user is already online joins that user as one more device, sharing its nick, rooms and presence, instead of
 * becoming a second user. The devices of a session live on this node; other nodes see one session.
 */
import type { Network } from './network.js';
import type { Device, Session } from './session.js';

/**
 * The user logged in to `accountId` that a new device can join, if any: on this node or, in cluster mode, on another
 * (the device then joins the user from here, and the user's messages come to this node too).
 */
export function sessionOfAccount(network: Network, accountId: number): Session | undefined {
  for (const session of network.accountSessions.get(accountId) ?? []) {
    if (session.registered) return session;
  }
  return undefined;
}

/** Moves `device` from its own, unregistered session into `user`; the unregistered session is forgotten. */
export function attachDevice(network: Network, unregistered: Session, device: Device, user: Session): void {
  const index = unregistered.devices.indexOf(device);
  if (index !== -1) unregistered.devices.splice(index, 1);
  // A nick the connection reserved before it logged in is free again (network-wide: issue 9).
  if (unregistered.nickFolded !== '') void network.claims.releaseNick(unregistered.nickFolded, unregistered.id);
  network.removeUnregistered(unregistered);
  user.devices.push(device);
  // The first device of a user of another node here: every node routes the user's messages here too from now on.
  const here = network.bus.nodeId;
  if (user.node !== here && !user.otherNodes.has(here)) network.publish({ type: 'deviceNodeAdded', id: user.id, node: here });
}

/**
 * The last device of a session on this node goes while the session has devices on other nodes (cluster mode): it
 * leaves this node only, and stays on the network. Returns false when this was the session's last device anywhere.
 */
export function leaveNode(network: Network, session: Session, device: Device): boolean {
  const here = network.bus.nodeId;
  const elsewhere = session.node !== here || [...session.otherNodes].some((node) => node !== here);
  if (!elsewhere) return false;
  const index = session.devices.indexOf(device);
  if (index !== -1) session.devices.splice(index, 1);
  if (session.devices.length === 0) network.publish({ type: 'deviceNodeRemoved', id: session.id, node: here });
  return true;
}

/** A device goes while others stay: nobody else sees a thing. Returns false when it was the last one. */
export function detachDevice(session: Session, device: Device): boolean {
  const index = session.devices.indexOf(device);
  // Already detached (its QUIT came before its socket closed): nothing more to do.
  if (index === -1) return true;
  if (session.devices.length <= 1) return false;
  session.devices.splice(index, 1);
  return true;
}
