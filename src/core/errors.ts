/**
 * The one catalogue of domain errors. Core throws ChatError; commands/replies.ts maps each code to its
 * numeric (or FAIL) once, so handlers never choose numerics for domain failures themselves.
 */
export type ChatErrorCode =
  | 'noSuchNick'
  | 'noSuchChannel'
  | 'cannotSendToChan'
  | 'tooManyChannels'
  | 'tooManyTargets'
  | 'wasNoSuchNick'
  | 'notOnChannel'
  | 'userNotInChannel'
  | 'userOnChannel'
  | 'chanOpPrivsNeeded'
  | 'inviteOnlyChan'
  | 'bannedFromChan'
  | 'badChannelKey'
  | 'channelIsFull'
  | 'badChanMask'
  | 'nicknameInUse'
  | 'erroneousNickname'
  | 'noNicknameGiven'
  | 'noPrivileges'
  | 'unknownMode'
  | 'banListFull'
  | 'usersDontMatch'
  | 'umodeUnknownFlag'
  | 'invalidModeParam'
  | 'invalidKey'
  | 'passwordMismatch'
  | 'noOperHost'
  | 'cantKillServer'
  | 'noTextToSend'
  | 'noRecipient'
  | 'inputTooLong';

export class ChatError extends Error {
  /** The reply's parameters between the client's nick and the trailing text, e.g. [channel] or [nick, channel]. */
  readonly args: readonly string[];

  constructor(
    readonly code: ChatErrorCode,
    args: readonly string[] = [],
    /** Replaces the catalogue's default text where the situation says more (e.g. which mode needs a parameter). */
    readonly text?: string,
  ) {
    super(text ?? code);
    this.name = 'ChatError';
    this.args = args;
  }
}

/**
 * An error answered with an IRCv3 standard reply (FAIL <command> <code> [context...] :<description>): the form
 * of every new error (issue 5, standard-replies), where no numeric exists.
 */
export class FailError extends Error {
  constructor(
    readonly command: string,
    readonly code: string,
    readonly context: readonly string[],
    readonly description: string,
  ) {
    super(description);
    this.name = 'FailError';
  }
}
