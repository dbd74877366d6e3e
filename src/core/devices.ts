/**
 * Multi-device accounts (issue 5, as Ergo's multiclient): a connection that logs in with SASL to an account whose
 * user is already online joins that user as one more device, sharing its nick, rooms and presence, instead of
 * becoming a second user. The devices of a session live on this node; other nodes see one session.
 */
import type { Network } from './network.js';
import type { Device, Session } from './session.js';

/** The user on this node logged in to `accountId` that a new device can join, if any. */
export function sessionOfAccount(network: Network, accountId: number): Session | undefined {
  for (const session of network.accountSessions.get(accountId) ?? []) {
    if (session.registered && session.isLocal) return session;
  }
  return undefined;
}

/** Moves `device` from its own, unregistered session into `user`; the unregistered session is forgotten. */
export function attachDevice(network: Network, unregistered: Session, device: Device, user: Session): void {
  const index = unregistered.devices.indexOf(device);
  if (index !== -1) unregistered.devices.splice(index, 1);
  network.removeUnregistered(unregistered);
  user.devices.push(device);
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
