import type { IrcMessage } from '../protocol/message.js';
import type { CommandContext } from './context.js';

export type Handler = (ctx: CommandContext, message: IrcMessage) => void | Promise<void>;

/** One row of the command table (ARCHITECTURE.md lesson 1): checked once by the dispatcher. */
export interface CommandSpec {
  readonly handler: Handler;
  readonly minParams: number;
  /** May run before registration completes. */
  readonly preRegistration?: boolean;
  readonly operOnly?: boolean;
}

export type CommandTable = Readonly<Record<string, CommandSpec>>;
