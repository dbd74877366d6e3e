/**
 * The server under fuzz, as a child process of the fuzz runner (test/fuzz/run.ts): the real composition root
 * (startNatter, as `natter serve` and the tests use it), started with --expose-gc so that the runner can ask for the
 * heap after a full collection, which is steady where RSS is not. Talks to its parent over the IPC channel:
 *
 *   parent -> child  { type: 'stats', collect }   child -> parent  { type: 'stats', stats }   counts, heap and RSS
 *                                                  (after two full collections when `collect`)
 *   parent -> child  { type: 'stop' }             child stops the server and exits 0
 *
 * Its log (pino JSON, level "error" and worse) goes to stdout, for the parent to read. An exception no handler
 * contained is not caught here: the process dies with it, which is what the parent looks for.
 *
 * Every message the server sends is also checked before it is serialized (Connection.send and sendTagged are wrapped):
 * a middle parameter that is empty, starts with ':' or holds a space cannot be written as one (Modern IRC "Parameters"),
 * so the line a client reads would have its parameters shifted. A client cannot tell that from a line it receives;
 * here it is plain, with the stack of the code that built the message.
 */
import { pino } from 'pino';
import { hashPassword } from '../../src/auth/authenticator.js';
import { startNatter } from '../../src/cli/compose.js';
import { parseConfig } from '../../src/config/load.js';
import type { ConfigFile } from '../../src/config/schema.js';
import type { Outbound } from '../../src/core/outbound.js';
import { Connection } from '../../src/net/connection.js';
import { isValidMiddleParam } from '../../src/protocol/message.js';
import type { FuzzServerInput, FuzzServerMessage, FuzzServerRequest, ServerStats } from './run.js';

const tell = (message: FuzzServerMessage): void => {
  process.send?.(message);
};

/** Messages the server built that cannot be written as they are meant, one per kind of problem, with their stack. */
const malformed = new Map<string, string>();
const MALFORMED_KEPT = 20;

function checkOutbound(message: Outbound): void {
  const why: string[] = [];
  if (!/^([A-Za-z]+|\d{3})$/.test(message.command)) why.push(`command ${JSON.stringify(message.command)}`);
  if (message.source !== undefined && (message.source === '' || message.source.includes(' '))) why.push(`source ${JSON.stringify(message.source)}`);
  message.params.slice(0, -1).forEach((param, index) => {
    if (!isValidMiddleParam(param)) why.push(`middle parameter ${index} ${JSON.stringify(param)}`);
  });
  if (why.length === 0 || malformed.size >= MALFORMED_KEPT) return;
  const kind = `${message.command}: ${why.map((w) => w.replace(/".*"/, '…')).join(', ')}`;
  if (malformed.has(kind)) return;
  const stack = (new Error().stack ?? '').split('\n').slice(2, 9).join('\n');
  malformed.set(kind, `${message.command} ${JSON.stringify(message.params)}: ${why.join(', ')}\n${stack}`);
}

// Wrapped, not replaced: the check runs, then the server's own code. (A method taken off the prototype on purpose.)
/* eslint-disable @typescript-eslint/unbound-method */
const send = Connection.prototype.send;
const sendTagged = Connection.prototype.sendTagged;
/* eslint-enable @typescript-eslint/unbound-method */
Connection.prototype.send = function checkedSend(this: Connection, message: Outbound): void {
  checkOutbound(message);
  send.call(this, message);
};
Connection.prototype.sendTagged = function checkedSendTagged(this: Connection, message: Outbound, tags: string): void {
  checkOutbound(message);
  sendTagged.call(this, message, tags);
};

const input = JSON.parse(process.env['NATTER_FUZZ_SERVER'] ?? '{}') as FuzzServerInput;
const file: ConfigFile = {
  listen: ['127.0.0.1:0'],
  serverName: 'fuzz.natter',
  logLevel: 'error',
  data: input.dataDir,
  limits: input.limits,
  accounts: input.accounts,
  opers: [{ name: input.oper.name, password: await hashPassword(input.oper.password), hosts: [] }],
};
const natter = await startNatter({ config: parseConfig(file, 'fuzz'), logger: pino({ level: 'error' }) });
const port = natter.addresses[0]?.port;
if (port === undefined) throw new Error('the fuzz server did not bind a port');

function stats(collect: boolean): ServerStats {
  if (collect) {
    const gc = globalThis.gc;
    if (gc === undefined) throw new Error('run with --expose-gc');
    // Twice: what the first collection frees may hold on to more (weak maps, finalizers) that only the second sees.
    gc();
    gc();
  }
  const memory = process.memoryUsage();
  const { network } = natter.server;
  const orphanRooms: string[] = [];
  const strayMembers: string[] = [];
  for (const channel of network.channels.values()) {
    if (channel.members.size === 0 && channel.registration === undefined) orphanRooms.push(channel.name);
    // A member who is no longer on the network would keep the room (and its messages' fan-out) for ever.
    for (const member of channel.members.keys()) if (network.sessions.get(member.id) !== member) strayMembers.push(`${member.nick} in ${channel.name}`);
  }
  // A nick held by a session that has left, or under a name that is not the session's nick, is held for nobody.
  const strayNicks: string[] = [];
  for (const [folded, session] of network.nicks) {
    if (network.sessions.get(session.id) !== session || session.nickFolded !== folded) {
      strayNicks.push(`${folded} (held by session ${session.id}, nick ${JSON.stringify(session.nick)}, ${session.registered ? 'registered' : 'unregistered'}, ${network.sessions.get(session.id) === session ? 'connected' : 'gone'})`);
    }
  }
  return {
    heapUsed: memory.heapUsed,
    rss: memory.rss,
    connections: natter.server.connections.size,
    sessions: network.sessions.size,
    nicks: network.nicks.size,
    registered: network.registeredCount,
    rooms: network.channels.size,
    orphanRooms,
    accountSessions: network.accountSessions.size,
    nickDeadlines: network.nickDeadlines.size,
    roomWrites: network.roomWrites.size,
    malformed: [...malformed.values()],
    strayNicks,
    strayMembers,
  };
}

process.on('message', (raw: unknown) => {
  const request = raw as FuzzServerRequest;
  if (request.type === 'stats') {
    tell({ type: 'stats', stats: stats(request.collect) });
  } else {
    void natter.stop('Fuzz run over').then(() => {
      process.exit(0);
    });
  }
});
// The parent gone (killed, crashed): so is the reason to run.
process.on('disconnect', () => {
  process.exit(0);
});
tell({ type: 'ready', port });
