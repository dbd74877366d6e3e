/**
 * Cluster mode (issue 9): what the network does when one of its nodes is gone. The bus tells exactly one surviving
 * node (Bus.onNodeLost); that node publishes a QUIT for every session whose home was the lost node, so every mirror
 * drops them, their nicks are free again and their rooms see them leave, as when a server splits from an IRC network.
 */
import type { Network } from './network.js';
import { quit } from './users.js';

/** The QUIT reason of a lost node's users, in the form IRC clients show for a netsplit. */
export function lostNodeReason(serverName: string): string {
  return `${serverName} *.split`;
}

/**
 * Publishes the QUIT of every registered session of `nodeId`; returns how many. A session with devices on other nodes
 * too (multi-device across nodes) stays: only that node leaves it. Safe to call twice.
 */
export function dropNodeSessions(network: Network, nodeId: string, reason: string): number {
  let quits = 0;
  for (const session of [...network.sessions.values()]) {
    if (!session.registered) continue;
    if (session.node !== nodeId && !session.otherNodes.has(nodeId)) continue;
    if (session.otherNodes.size > 0 && [session.node, ...session.otherNodes].some((node) => node !== nodeId)) {
      network.publish({ type: 'deviceNodeRemoved', id: session.id, node: nodeId });
      continue;
    }
    quit(network, session, reason);
    quits++;
  }
  return quits;
}
