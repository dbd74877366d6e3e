/** Domain errors to numerics, in one place (ARCHITECTURE.md lesson 2). */
import type { ChatError, ChatErrorCode } from '../core/errors.js';
import * as N from '../protocol/numerics.js';

interface ReplyDef {
  readonly numeric: string;
  readonly text: string;
}

const REPLIES: Record<ChatErrorCode, ReplyDef> = {
  noSuchNick: { numeric: N.ERR_NOSUCHNICK, text: 'No such nick/channel' },
  noSuchChannel: { numeric: N.ERR_NOSUCHCHANNEL, text: 'No such channel' },
  cannotSendToChan: { numeric: N.ERR_CANNOTSENDTOCHAN, text: 'Cannot send to channel' },
  tooManyChannels: { numeric: N.ERR_TOOMANYCHANNELS, text: 'You have joined too many channels' },
  tooManyTargets: { numeric: N.ERR_TOOMANYTARGETS, text: 'Too many targets' },
  wasNoSuchNick: { numeric: N.ERR_WASNOSUCHNICK, text: 'There was no such nickname' },
  notOnChannel: { numeric: N.ERR_NOTONCHANNEL, text: "You're not on that channel" },
  userNotInChannel: { numeric: N.ERR_USERNOTINCHANNEL, text: "They aren't on that channel" },
  userOnChannel: { numeric: N.ERR_USERONCHANNEL, text: 'is already on channel' },
  chanOpPrivsNeeded: { numeric: N.ERR_CHANOPRIVSNEEDED, text: "You're not channel operator" },
  inviteOnlyChan: { numeric: N.ERR_INVITEONLYCHAN, text: 'Cannot join channel (+i)' },
  bannedFromChan: { numeric: N.ERR_BANNEDFROMCHAN, text: 'Cannot join channel (+b)' },
  badChannelKey: { numeric: N.ERR_BADCHANNELKEY, text: 'Cannot join channel (+k)' },
  channelIsFull: { numeric: N.ERR_CHANNELISFULL, text: 'Cannot join channel (+l)' },
  badChanMask: { numeric: N.ERR_BADCHANMASK, text: 'Bad Channel Mask' },
  nicknameInUse: { numeric: N.ERR_NICKNAMEINUSE, text: 'Nickname is already in use' },
  erroneousNickname: { numeric: N.ERR_ERRONEUSNICKNAME, text: 'Erroneous nickname' },
  noNicknameGiven: { numeric: N.ERR_NONICKNAMEGIVEN, text: 'No nickname given' },
  noPrivileges: { numeric: N.ERR_NOPRIVILEGES, text: "Permission Denied- You're not an IRC operator" },
  unknownMode: { numeric: N.ERR_UNKNOWNMODE, text: 'is unknown mode char to me' },
  banListFull: { numeric: N.ERR_BANLISTFULL, text: 'Channel list is full' },
  usersDontMatch: { numeric: N.ERR_USERSDONTMATCH, text: "Can't change mode for other users" },
  umodeUnknownFlag: { numeric: N.ERR_UMODEUNKNOWNFLAG, text: 'Unknown MODE flag' },
  invalidModeParam: { numeric: N.ERR_INVALIDMODEPARAM, text: 'Invalid mode parameter' },
  invalidKey: { numeric: N.ERR_INVALIDKEY, text: 'Key is not well-formed' },
  passwordMismatch: { numeric: N.ERR_PASSWDMISMATCH, text: 'Password incorrect' },
  noOperHost: { numeric: N.ERR_NOOPERHOST, text: 'No O-lines for your host' },
  cantKillServer: { numeric: N.ERR_CANTKILLSERVER, text: 'You cant kill a server!' },
  noTextToSend: { numeric: N.ERR_NOTEXTTOSEND, text: 'No text to send' },
  noRecipient: { numeric: N.ERR_NORECIPIENT, text: 'No recipient given' },
  inputTooLong: { numeric: N.ERR_INPUTTOOLONG, text: 'Input line was too long' },
};

/** The numeric and its parameters after the client's nick, trailing text last. */
export function replyFor(error: ChatError): { numeric: string; params: string[] } {
  const def = REPLIES[error.code];
  return { numeric: def.numeric, params: [...error.args, error.text ?? def.text] };
}
