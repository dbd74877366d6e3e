/** REDACT (IRCv3 draft/message-redaction); the rules are in core/redaction.ts. */
import { FailError } from '../core/errors.js';
import { redactMessage } from '../core/redaction.js';
import { isValidMiddleParam } from '../protocol/message.js';
import * as N from '../protocol/numerics.js';
import type { CommandTable } from './types.js';

export const redactCommands: CommandTable = {
  REDACT: {
    minParams: 2,
    handler(ctx, message) {
      const [target = '', msgid = '', reason] = message.params;
      if (target === '' || msgid === '') {
        ctx.numeric(N.ERR_NEEDMOREPARAMS, 'REDACT', 'Not enough parameters');
        return;
      }
      // What cannot be a middle parameter of the FAIL reply cannot be a room, a nick or one of our msgids either.
      if (!isValidMiddleParam(target)) throw new FailError('REDACT', 'INVALID_TARGET', ['*'], 'You cannot delete messages from there');
      if (!isValidMiddleParam(msgid)) throw new FailError('REDACT', 'UNKNOWN_MSGID', [target, '*'], 'This message does not exist or is too old');
      // The spec asks clients to negotiate draft/message-redaction before sending REDACT; one that did not is still
      // served (the REDACT comes back to its own connection only), since nothing is gained by refusing it.
      return redactMessage(ctx.network, ctx.server.store, ctx.session, ctx.device.id, target, msgid, reason, ctx.server.uploads);
    },
  },
};
