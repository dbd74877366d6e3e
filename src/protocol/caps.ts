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
} as const;

export type CapBit = (typeof Cap)[keyof typeof Cap];

export interface CapabilityDef {
  readonly name: string;
  readonly bit: CapBit;
  /** The value shown in CAP LS 302 (e.g. "sasl=PLAIN"). */
  readonly value?: string;
  /** cap-notify cannot be disabled once a client speaks 302 (spec: "cap-notify"). */
  readonly sticky?: boolean;
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
];

const BY_NAME = new Map(CAPABILITIES.map((cap) => [cap.name, cap]));

export function findCapability(name: string): CapabilityDef | undefined {
  return BY_NAME.get(name);
}

/** "name" or "name=value" per cap, for CAP LS (values only from version 302 on). */
export function capabilityTokens(withValues: boolean): string[] {
  return CAPABILITIES.map((cap) => (withValues && cap.value !== undefined ? `${cap.name}=${cap.value}` : cap.name));
}

export function enabledCapNames(enabled: number): string[] {
  return CAPABILITIES.filter((cap) => (enabled & cap.bit) !== 0).map((cap) => cap.name);
}

/**
 * Which form of an outgoing message a session receives: plain, with server-time only, or with every tag.
 * Serializing once per variant (not per recipient) is what keeps fan-out cheap.
 */
export const TagVariant = { None: 0, TimeOnly: 1, AllTags: 2 } as const;
export type TagVariant = (typeof TagVariant)[keyof typeof TagVariant];
export const TAG_VARIANT_COUNT = 3;

export function tagVariantOf(enabled: number): TagVariant {
  if ((enabled & Cap.messageTags) !== 0) return TagVariant.AllTags;
  if ((enabled & Cap.serverTime) !== 0) return TagVariant.TimeOnly;
  return TagVariant.None;
}
