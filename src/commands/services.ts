/**
 * NickServ and ChanServ, for clients that only know services: `/msg NickServ ...`, `/msg ChanServ ...`,
 * or the NS and CS commands. They answer with NOTICEs from their own nick (docs/services.md).
 */
import { guardNick, isServiceNick } from '../core/accounts.js';
import type { CommandContext } from './context.js';
import type { CommandSpec, CommandTable } from './types.js';

/**
 * `args` are the words after the command; `rest` is the text after the command word as sent (inner spaces kept),
 * for a last argument that may hold spaces, e.g. a password.
 */
export type ServiceHandler = (ctx: CommandContext, args: string[], rest: string) => void | Promise<void>;

export interface ServiceCommand {
  readonly usage: string;
  readonly help: string;
  readonly run: ServiceHandler;
}

export type Service = Readonly<Record<string, ServiceCommand>>;

const services = new Map<string, { readonly name: string; readonly commands: Service }>();

export function registerService(name: string, commands: Service): void {
  services.set(name.toLowerCase(), { name, commands });
}

export function serviceReply(ctx: CommandContext, service: string, text: string): void {
  ctx.send(`${service}!${service}@${ctx.network.settings.serverName}`, 'NOTICE', [ctx.session.nick, text]);
}

/** Runs "COMMAND args..." sent to a service; unknown commands get the service's help. */
export function runService(ctx: CommandContext, target: string, text: string): void | Promise<void> {
  const service = services.get(target.toLowerCase());
  if (service === undefined) return;
  const trimmed = text.trim();
  const [word = '', ...args] = trimmed.split(/\s+/);
  const rest = trimmed.slice(word.length).replace(/^\s+/, '');
  const command = service.commands[word.toUpperCase()];
  if (command === undefined || word.toUpperCase() === 'HELP') {
    serviceReply(ctx, service.name, word === '' || word.toUpperCase() === 'HELP' ? `${service.name} commands:` : `Unknown command ${word}. ${service.name} commands:`);
    for (const [name, entry] of Object.entries(service.commands)) serviceReply(ctx, service.name, `  ${name} ${entry.usage} - ${entry.help}`);
    return;
  }
  return command.run(ctx, args, rest);
}

export function isService(ctx: CommandContext, target: string): boolean {
  return isServiceNick(ctx.network, target) && services.has(target.toLowerCase());
}

/** After a nick change, registration or logout: tell someone using an account's nick to log in, or be renamed. */
export async function protectNick(ctx: CommandContext): Promise<void> {
  const nick = ctx.session.nick;
  const owner = await guardNick(ctx.network, ctx.server.store, ctx.session);
  if (owner === undefined) return;
  const grace = ctx.network.settings.accounts.nickGraceSeconds;
  serviceReply(
    ctx,
    'NickServ',
    grace === 0
      ? `The nick ${nick} belongs to the account ${owner}; you have been renamed. Log in to use it.`
      : `The nick ${nick} belongs to the account ${owner}. Log in (/msg NickServ IDENTIFY ${owner} <password>) within ${grace} second${grace === 1 ? '' : 's'}, or you will be renamed.`,
  );
}

/** `NS text` and `NICKSERV text` (likewise CS, CHANSERV): the parameters, joined, go to the service. */
function serviceAlias(service: string): CommandSpec {
  return {
    minParams: 1,
    handler(ctx, message) {
      return runService(ctx, service, message.params.join(' '));
    },
  };
}

export const serviceCommands: CommandTable = {
  NS: serviceAlias('nickserv'),
  NICKSERV: serviceAlias('nickserv'),
  CS: serviceAlias('chanserv'),
  CHANSERV: serviceAlias('chanserv'),
};
