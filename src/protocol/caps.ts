/**
 * The one capability table (IRCv3 Capability Negotiation 3.2). CAP LS, CAP LIST, the per-session
 * bitset of enabled caps and the tag variants of outgoing messages all derive from it.
 */
export const Cap = {
  capNotify: 1 << 0,
  multiPrefix: 1 << 1,
  userhostInNames: 1 << 2,
  serverTime: 1 << 3,
  messageTags: 1 << 4,
  echoMessage: 1 << 5,
  awayNotify: 1 << 6,
  inviteNotify: 1 << 7,
  setname: 1 << 8,
  accountTag: 1 << 9,
  accountNotify: 1 << 10,
  extendedJoin: 1 << 11,
  sasl: 1 << 12,
  accountRegistration: 1 << 13,
  sts: 1 << 14,
  batch: 1 << 15,
  labeledResponse: 1 << 16,
  chghost: 1 << 17,
  extendedMonitor: 1 << 18,
  noImplicitNames: 1 << 19,
  standardReplies: 1 << 20,
  chathistory: 1 << 21,
  eventPlayback: 1 << 22,
  readMarker: 1 << 23,
  messageRedaction: 1 << 24,
  multiline: 1 << 25,
  /** natter.chat/view-once (docs/extensions/view-once.md). */
  viewOnce: 1 << 26,
} as const;

export type CapBit = (typeof Cap)[keyof typeof Cap];

export interface CapabilityDef {
  readonly name: string;
  readonly bit: CapBit;
  /** The value shown in CAP LS 302 (e.g. "sasl=PLAIN"). */
  readonly value?: string;
  /** cap-notify cannot be disabled once a client speaks 302 (spec: "cap-notify"). */
  readonly sticky?: boolean;
  /** Offered only when the server gives it a value (sasl needs a store, sts needs a TLS listener). */
  readonly conditional?: boolean;
  /** sts is advertised, never requested (IRCv3 STS: "clients MUST NOT request this capability"). */
  readonly informational?: boolean;
}

export const CAPABILITIES: readonly CapabilityDef[] = [
  { name: 'cap-notify', bit: Cap.capNotify, sticky: true },
  { name: 'multi-prefix', bit: Cap.multiPrefix },
  { name: 'userhost-in-names', bit: Cap.userhostInNames },
  { name: 'server-time', bit: Cap.serverTime },
  { name: 'message-tags', bit: Cap.messageTags },
  { name: 'echo-message', bit: Cap.echoMessage },
  { name: 'away-notify', bit: Cap.awayNotify },
  { name: 'invite-notify', bit: Cap.inviteNotify },
  { name: 'setname', bit: Cap.setname },
  { name: 'account-tag', bit: Cap.accountTag },
  { name: 'account-notify', bit: Cap.accountNotify },
  { name: 'extended-join', bit: Cap.extendedJoin },
  { name: 'sasl', bit: Cap.sasl, conditional: true },
  { name: 'draft/account-registration', bit: Cap.accountRegistration, conditional: true },
  { name: 'sts', bit: Cap.sts, conditional: true, informational: true },
  { name: 'batch', bit: Cap.batch },
  { name: 'labeled-response', bit: Cap.labeledResponse },
  { name: 'chghost', bit: Cap.chghost },
  { name: 'extended-monitor', bit: Cap.extendedMonitor },
  { name: 'draft/no-implicit-names', bit: Cap.noImplicitNames },
  { name: 'standard-replies', bit: Cap.standardReplies },
  { name: 'draft/chathistory', bit: Cap.chathistory },
  { name: 'draft/event-playback', bit: Cap.eventPlayback },
  { name: 'draft/read-marker', bit: Cap.readMarker },
  { name: 'draft/message-redaction', bit: Cap.messageRedaction },
  // Its value (max-bytes, max-lines) comes from the server's limits.
  { name: 'draft/multiline', bit: Cap.multiline, conditional: true },
  { name: 'natter.chat/view-once', bit: Cap.viewOnce },
];

const BY_NAME = new Map(CAPABILITIES.map((cap) => [cap.name, cap]));

export function findCapability(name: string): CapabilityDef | undefined {
  return BY_NAME.get(name);
}

/** Values the running server gives its caps, e.g. sasl -> "PLAIN,EXTERNAL"; a conditional cap without one is not offered. */
export type CapValues = ReadonlyMap<string, string>;

export function isOffered(cap: CapabilityDef, values: CapValues): boolean {
  return cap.conditional !== true || values.has(cap.name);
}

/** "name" or "name=value" per offered cap, for CAP LS (values only from version 302 on). */
export function capabilityTokens(withValues: boolean, values: CapValues): string[] {
  return CAPABILITIES.filter((cap) => isOffered(cap, values)).map((cap) => {
    const value = values.get(cap.name) ?? cap.value;
    return withValues && value !== undefined && value !== '' ? `${cap.name}=${value}` : cap.name;
  });
}

export function enabledCapNames(enabled: number): string[] {
  return CAPABILITIES.filter((cap) => (enabled & cap.bit) !== 0).map((cap) => cap.name);
}

/**
 * Which tags a session receives on an outgoing message, as a bitmask: server-time, account-tag, and
 * everything else (message-tags: client tags, msgid, ...). Serializing once per variant (not per
 * recipient) is what keeps fan-out cheap.
 */
export const TagBit = { time: 1, account: 2, all: 4 } as const;
export type TagVariant = number;
export const TAG_VARIANT_COUNT = 8;

export function tagVariantOf(enabled: number): TagVariant {
  if ((enabled & Cap.messageTags) !== 0) return TagBit.time | TagBit.account | TagBit.all;
  return ((enabled & Cap.serverTime) !== 0 ? TagBit.time : 0) | ((enabled & Cap.accountTag) !== 0 ? TagBit.account : 0);
}
