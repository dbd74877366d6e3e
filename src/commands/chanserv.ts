/**
 * ChanServ: registered rooms for clients that know services (REGISTER, INFO, DROP, TRANSFER, AMODE, ACCESS),
 * documented in docs/chanserv.md. The rules live in core/registered-rooms.ts; this file reads arguments and answers.
 */
import type { Rank } from '../core/channel.js';
import {
  dropRoom,
  letterOf,
  listRoles,
  maySeeRoles,
  parseRole,
  registerRoom,
  ROLE_NAMES,
  setRoomHistory,
  RoomServiceError,
  setAccountRole,
  transferRoom,
} from '../core/registered-rooms.js';
import { isVisibleTo } from '../core/rooms.js';
import type { CommandContext } from './context.js';
import { registerService, serviceReply } from './services.js';

const reply = (ctx: CommandContext, text: string): void => {
  serviceReply(ctx, 'ChanServ', text);
};

/** Runs a ChanServ action; a refusal becomes its NOTICE, anything else goes to the dispatcher. */
async function answering(ctx: CommandContext, action: () => Promise<void>): Promise<void> {
  try {
    await action();
  } catch (error) {
    if (error instanceof RoomServiceError) {
      reply(ctx, error.message);
      return;
    }
    throw error;
  }
}

function listAccess(ctx: CommandContext, name: string): void {
  const channel = ctx.network.findChannel(name);
  const registration = channel?.registration;
  if (channel === undefined || registration === undefined || !isVisibleTo(channel, ctx.session)) {
    reply(ctx, `${name} is not registered.`);
    return;
  }
  if (!maySeeRoles(ctx.session, channel, registration)) {
    reply(ctx, `Join ${channel.name} to see its roles.`);
    return;
  }
  reply(ctx, `Roles in ${channel.name}:`);
  for (const role of listRoles(ctx.network, registration)) {
    reply(ctx, `  ${role.accountName} ${ROLE_NAMES[role.rank]} (+${letterOf(role.rank)})${role.founder ? ' founder' : ''}`);
  }
  reply(ctx, `End of roles in ${channel.name}.`);
}

async function changeRole(ctx: CommandContext, name: string, accountName: string, rank: Rank | undefined, adding: boolean): Promise<void> {
  await answering(ctx, async () => {
    const { network, server, session } = ctx;
    const result = await setAccountRole(network, server.store, session, name, accountName, rank, adding);
    const room = network.findChannel(name)?.name ?? name;
    reply(
      ctx,
      adding
        ? `${result.accountName} now has the ${ROLE_NAMES[result.rank]} role (+${letterOf(result.rank)}) in ${room}.`
        : `${result.accountName} no longer has the ${ROLE_NAMES[result.previous]} role in ${room}.`,
    );
  });
}

registerService('ChanServ', {
  REGISTER: {
    usage: '<#room>',
    help: 'registers a room you are an operator of to your account; you become its founder and owner',
    async run(ctx, [name]) {
      if (name === undefined) {
        reply(ctx, 'Usage: REGISTER <#room>');
        return;
      }
      await answering(ctx, async () => {
        const { network, server, session } = ctx;
        const channel = await registerRoom(network, server.store, session, name);
        reply(ctx, `${channel.name} is now registered to ${session.account ?? ''}.`);
        server.log('info', { room: channel.name, account: session.account }, 'room registered');
      });
    },
  },
  INFO: {
    usage: '<#room>',
    help: 'shows who founded a room, when, its topic and (to its members) its roles',
    run(ctx, [name]) {
      if (name === undefined) {
        reply(ctx, 'Usage: INFO <#room>');
        return;
      }
      const { network, session } = ctx;
      const channel = network.findChannel(name);
      const registration = channel?.registration;
      if (channel === undefined || registration === undefined || !isVisibleTo(channel, session)) {
        reply(ctx, `${name} is not registered.`);
        return;
      }
      reply(ctx, `${channel.name} is registered to ${registration.founderName} since ${new Date(registration.registeredAt).toUTCString()}.`);
      reply(ctx, channel.topic === '' ? 'No topic is set.' : `Topic: ${channel.topic}`);
      if (maySeeRoles(session, channel, registration)) {
        const roles = listRoles(network, registration).map((role) => `${role.accountName} (${ROLE_NAMES[role.rank]}${role.founder ? ', founder' : ''})`);
        reply(ctx, `Roles: ${roles.join(', ')}`);
      }
    },
  },
  DROP: {
    usage: '<#room>',
    help: 'unregisters a room (its founder, or a server operator); it stays until it empties',
    async run(ctx, [name]) {
      if (name === undefined) {
        reply(ctx, 'Usage: DROP <#room>');
        return;
      }
      await answering(ctx, async () => {
        const channel = await dropRoom(ctx.network, ctx.server.store, ctx.session, name);
        reply(ctx, `${channel.name} is no longer registered.`);
        ctx.server.log('info', { room: channel.name, account: ctx.session.account }, 'room dropped');
      });
    },
  },
  TRANSFER: {
    usage: '<#room> <account>',
    help: 'makes another account the founder (and owner) of your room; you keep the admin role',
    async run(ctx, [name, accountName]) {
      if (name === undefined || accountName === undefined) {
        reply(ctx, 'Usage: TRANSFER <#room> <account>');
        return;
      }
      await answering(ctx, async () => {
        const account = await transferRoom(ctx.network, ctx.server.store, ctx.session, name, accountName);
        const room = ctx.network.findChannel(name)?.name ?? name;
        reply(ctx, `${account.name} is now the founder of ${room}.`);
        ctx.server.log('info', { room, from: ctx.session.account, to: account.name }, 'room transferred');
      });
    },
  },
  AMODE: {
    usage: '<#room> [+|-<q|a|o|h|v> <account>]',
    help: "gives (+) or takes (-) an account's role in a room, applied whenever it joins; without a change, lists the roles",
    async run(ctx, [name, change, accountName]) {
      if (name === undefined) {
        reply(ctx, 'Usage: AMODE <#room> [+|-<q|a|o|h|v> <account>]');
        return;
      }
      if (change === undefined) {
        listAccess(ctx, name);
        return;
      }
      const match = /^([+-])([qaohv])$/.exec(change);
      if (match === null || accountName === undefined) {
        reply(ctx, 'Usage: AMODE <#room> +|-<q|a|o|h|v> <account>, one change at a time');
        return;
      }
      await changeRole(ctx, name, accountName, parseRole(match[2] ?? ''), match[1] === '+');
    },
  },
  ACCESS: {
    usage: '<#room> LIST | ADD <account> <owner|admin|op|halfop|voice> | DEL <account>',
    help: 'lists, gives or takes the roles of accounts in a room (the same as AMODE)',
    async run(ctx, [name, action = 'LIST', accountName, roleName]) {
      if (name === undefined) {
        reply(ctx, 'Usage: ACCESS <#room> LIST | ADD <account> <role> | DEL <account>');
        return;
      }
      switch (action.toUpperCase()) {
        case 'LIST':
          listAccess(ctx, name);
          return;
        case 'ADD': {
          const rank = roleName === undefined ? undefined : parseRole(roleName);
          if (accountName === undefined || rank === undefined) {
            reply(ctx, 'Usage: ACCESS <#room> ADD <account> <owner|admin|op|halfop|voice>');
            return;
          }
          await changeRole(ctx, name, accountName, rank, true);
          return;
        }
        case 'DEL':
          if (accountName === undefined) {
            reply(ctx, 'Usage: ACCESS <#room> DEL <account>');
            return;
          }
          await changeRole(ctx, name, accountName, undefined, false);
          return;
        default:
          reply(ctx, 'Usage: ACCESS <#room> LIST | ADD <account> <role> | DEL <account>');
      }
    },
  },
  SET: {
    usage: '<#room> HISTORY <everything|joined|default>',
    help: "chooses who sees a room's past messages: every member everything, or each member only what came after they joined",
    async run(ctx, [name, setting, value]) {
      const choice = value?.toLowerCase();
      if (name === undefined || setting?.toUpperCase() !== 'HISTORY' || (choice !== 'everything' && choice !== 'joined' && choice !== 'default')) {
        reply(ctx, 'Usage: SET <#room> HISTORY <everything|joined|default>');
        return;
      }
      await answering(ctx, async () => {
        const channel = await setRoomHistory(ctx.network, ctx.server.store, ctx.session, name, choice === 'default' ? null : choice);
        const shown = choice === 'default' ? `the server's default (${ctx.network.settings.history.visibility})` : choice;
        reply(ctx, `History of ${channel.name}: ${shown}.`);
      });
    },
  },
});
