/**
 * A message leaving the server, built once by core and shared by every recipient. net/ fills `wire`
 * with the serialized bytes of each tag variant on first use, so a fan-out to N members serializes
 * at most TAG_VARIANT_COUNT times.
 */
export class Outbound {
  /** Indexed by protocol/caps.ts TagVariant (0..7). */
  readonly wire: Array<Uint8Array | undefined> = [];

  constructor(
    readonly source: string | undefined,
    readonly command: string,
    readonly params: readonly string[],
    /** Milliseconds since the epoch, for server-time. */
    readonly time: number,
    /** Client-only tags (+typing, +reply, ...) relayed to message-tags clients. */
    readonly clientTags?: ReadonlyMap<string, string>,
    /** The sender's account, for account-tag. */
    readonly account?: string,
    /** IRCv3 message-ids: shown to message-tags clients. */
    readonly msgid?: string,
    /**
     * Server tags that belong to the message itself whatever the recipient ("batch=ref" of a multiline batch
     * fanned out, "draft/multiline-concat"), already escaped, sent to message-tags clients.
     */
    readonly serverTags?: string,
  ) {}
}
