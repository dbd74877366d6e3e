/** CAP: IRCv3 Capability Negotiation (ircv3.net/specs/extensions/capability-negotiation). */
import { Cap, capabilityTokens, enabledCapNames, findCapability, isOffered } from '../protocol/caps.js';
import * as N from '../protocol/numerics.js';
import type { CommandContext } from './context.js';
import { tryCompleteRegistration } from './welcome.js';
import type { CommandTable } from './types.js';

/** CAP LS lines stay well under 512 bytes; longer lists continue with "*" (CAP LS 302 multiline). */
const MAX_CAP_LINE = 400;

function sendCapList(ctx: CommandContext, subcommand: 'LS' | 'LIST', tokens: readonly string[]): void {
  const nick = ctx.session.nick;
  const multiline = ctx.device.capVersion >= 302;
  let line = '';
  for (const token of tokens) {
    if (line.length > 0 && line.length + token.length + 1 > MAX_CAP_LINE && multiline) {
      ctx.fromServer('CAP', [nick, subcommand, '*', line]);
      line = '';
    }
    line = line.length === 0 ? token : `${line} ${token}`;
  }
  ctx.fromServer('CAP', [nick, subcommand, line]);
}

function capLs(ctx: CommandContext, version: string | undefined): void {
  const { session, device } = ctx;
  const asked = Number(version ?? '301');
  device.capVersion = Math.max(device.capVersion, Number.isFinite(asked) && asked >= 302 ? asked : 301);
  // Spec: a client that sends CAP LS 302 has cap-notify enabled implicitly.
  if (device.capVersion >= 302) device.caps |= Cap.capNotify;
  if (!session.registered) device.capNegotiating = true;
  sendCapList(ctx, 'LS', capabilityTokens(device.capVersion >= 302, ctx.server.capValues(device)));
}

/** REQ is all or nothing: one unknown, unoffered, informational (sts) or sticky-disable request NAKs the whole list. */
function capReq(ctx: CommandContext, requested: string): void {
  const { session, device } = ctx;
  if (!session.registered) device.capNegotiating = true;
  let caps = device.caps;
  const values = ctx.server.capValues(device);
  const names = requested.trim().split(/ +/).filter((n) => n.length > 0);
  for (const name of names) {
    const disabling = name.startsWith('-');
    const def = findCapability(disabling ? name.slice(1) : name);
    // cap-notify is implied by, and stuck for, CAP LS 302; a 301 client may turn it off.
    const stuck = disabling && def?.sticky === true && device.capVersion >= 302;
    if (def === undefined || !isOffered(def, values) || def.informational === true || stuck) {
      ctx.fromServer('CAP', [session.nick, 'NAK', requested]);
      return;
    }
    caps = disabling ? caps & ~def.bit : caps | def.bit;
  }
  device.caps = caps;
  ctx.fromServer('CAP', [session.nick, 'ACK', requested]);
}

export const capCommands: CommandTable = {
  CAP: {
    minParams: 1,
    preRegistration: true,
    handler(ctx, message) {
      const sub = (message.params[0] ?? '').toUpperCase();
      switch (sub) {
        case 'LS':
          capLs(ctx, message.params[1]);
          return;
        case 'LIST':
          sendCapList(ctx, 'LIST', enabledCapNames(ctx.device.caps));
          return;
        case 'REQ':
          capReq(ctx, message.params[1] ?? '');
          return;
        case 'END':
          if (!ctx.session.registered && ctx.device.capNegotiating) {
            ctx.device.capNegotiating = false;
            return tryCompleteRegistration(ctx);
          }
          return;
        default:
          ctx.numeric(N.ERR_INVALIDCAPCMD, sub, 'Invalid CAP command');
      }
    },
  },
};
