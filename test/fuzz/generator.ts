/**
 * What the whole-server fuzz run (test/fuzz/run.ts, issue 10 item 1) sends: lines made from a seed. Most are
 * plausible commands drawn from the server's own command table (src/commands/index.ts), with plausible and
 * implausible parameters and tags; some are those lines mutated (flipped bytes, truncation, invalid UTF-8, NUL, a
 * lone CR, tag blocks at and over 8191 bytes, bodies at and over 510 bytes, many parameters); a few are random bytes.
 *
 * A generator is a function of its seed: the same seed gives the same lines, whatever the server answered. Two inputs
 * come from outside: the clock (timestamps are made near now), and the messages the client has seen (their msgids
 * and where they were said, for REDACT, +draft/reply, VIEWONCE OPEN, CHATHISTORY msgid=...). A seen message is picked
 * by drawing an index, so the sequence of draws, and so every other choice, stays the same; only that text differs.
 */

// ---- a small seeded PRNG -------------------------------------------------------------------------------------------

/** splitmix32: spreads a seed (or several numbers mixed together) over 32 bits. */
export function mixSeed(...parts: readonly number[]): number {
  let state = 0x9e3779b9;
  for (const part of parts) {
    state = (state + (part | 0) + 0x9e3779b9) | 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    state = z ^ (z >>> 16);
  }
  return state >>> 0;
}

/** sfc32 (Chris Doty-Humphrey's Small Fast Counter): 128 bits of state, good enough for fuzzing, seedable. */
export class Random {
  private a: number;
  private b: number;
  private c: number;
  private d = 1;

  constructor(seed: number) {
    this.a = mixSeed(seed, 1);
    this.b = mixSeed(seed, 2);
    this.c = mixSeed(seed, 3);
    for (let i = 0; i < 12; i++) this.uint32();
  }

  uint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** An integer in [0, n). */
  below(n: number): number {
    return n <= 1 ? 0 : Math.floor((this.uint32() / 0x1_0000_0000) * n);
  }

  /** An integer in [min, max]. */
  between(min: number, max: number): number {
    return min + this.below(max - min + 1);
  }

  chance(probability: number): boolean {
    return this.uint32() / 0x1_0000_0000 < probability;
  }

  pick<T>(items: readonly T[]): T {
    const item = items[this.below(items.length)];
    if (item === undefined) throw new Error('pick from an empty list');
    return item;
  }

  /** One of `choices`, each as likely as its weight. */
  weighted<T>(choices: ReadonlyArray<readonly [number, T]>): T {
    const total = choices.reduce((sum, [weight]) => sum + weight, 0);
    let draw = (this.uint32() / 0x1_0000_0000) * total;
    for (const [weight, value] of choices) {
      if (draw < weight) return value;
      draw -= weight;
    }
    const last = choices.at(-1);
    if (last === undefined) throw new Error('weighted pick from an empty list');
    return last[1];
  }

  /** `length` characters drawn from `alphabet` (by code point, so multi-byte characters stay whole). */
  text(alphabet: string, length: number): string {
    const chars = Array.from(alphabet);
    let out = '';
    for (let i = 0; i < length; i++) out += this.pick(chars);
    return out;
  }

  bytes(length: number): Buffer {
    const out = Buffer.alloc(length);
    for (let i = 0; i < length; i++) out[i] = this.below(256);
    return out;
  }
}

// ---- the world the lines are about ---------------------------------------------------------------------------------

/** Names the generator may use, and the ones it must leave alone so the sentinels' room keeps working. */
export interface FuzzWorld {
  /** Nicks fuzz clients take and target. */
  readonly nicks: readonly string[];
  /** Rooms fuzz clients create, join, moderate and register. */
  readonly rooms: readonly string[];
  /** Accounts with the passwords fuzz clients register them with and log in to them with. */
  readonly accounts: ReadonlyArray<{ readonly name: string; readonly password: string }>;
  readonly oper: { readonly name: string; readonly password: string };
  /**
   * The sentinels' nicks and room: fuzz clients may message them, join and leave the room and ask about them, but
   * never name them where an operator could act on them (MODE, KICK, KILL, CHGHOST, ChanServ), since a fuzz client
   * that logs in as operator would then legitimately break what the sentinels check.
   */
  readonly sentinelNicks: readonly string[];
  readonly sentinelRoom: string;
}

/** A message seen on the wire: its msgid and where it was said (the room, or the other party of a private message). */
export interface SeenMessage {
  readonly msgid: string;
  readonly target: string;
}

/** What the generator may know about its connection. */
export interface ClientView {
  /** Messages seen, newest last (picked by a drawn index; see the file comment). */
  readonly seen: readonly SeenMessage[];
  /** View-once messages sent to this connection's user, newest last: what VIEWONCE OPEN can open. */
  readonly sealed: readonly SeenMessage[];
}

/** One write: a line, a short script of lines (a multiline batch, a SASL exchange), or bytes that may not be lines. */
export interface FuzzChunk {
  readonly bytes: Buffer;
  /** How it was made: the verb, "mutated VERB (how)", "random bytes", for the report of a failure. */
  readonly kind: string;
}

/** Every capability the server offers (src/protocol/caps.ts), requested by name; and some it does not. */
const REAL_CAPS = [
  'cap-notify', 'multi-prefix', 'userhost-in-names', 'server-time', 'message-tags', 'echo-message', 'away-notify', 'invite-notify', 'setname',
  'account-tag', 'account-notify', 'extended-join', 'sasl', 'draft/account-registration', 'batch', 'labeled-response', 'chghost',
  'extended-monitor', 'draft/no-implicit-names', 'standard-replies', 'draft/chathistory', 'draft/event-playback', 'draft/read-marker',
  'draft/message-redaction', 'draft/multiline', 'natter.chat/view-once',
];
const FAKE_CAPS = ['sts', 'draft/fake', 'znc.in/self-message', 'x', '', '-', '=', 'sasl=PLAIN', 'message-tags=1', 'a'.repeat(300), 'ünïcode', 'draft/'];
const CAP_SUBCOMMANDS = ['LS', 'LS 302', 'LS 301', 'LS 999999999999', 'LS -1', 'LIST', 'REQ', 'END', 'ACK', 'NAK', 'NEW', 'DEL', 'ls', 'req', 'BOGUS'];

const TEXT_SAMPLES = ['hi', 'hello there', '\u0001ACTION waves\u0001', '\u0001VERSION\u0001', '\u0001PING 1\u0001', ':colon first', ' leading space', 'trailing ', 'ünïcödé ☃ 😀', '\u200b', '\u0002bold\u000f', '\t', '%s%n%x', '${x}', '<script>', '\\', 'http://example.invalid/uploads/abc', ''];
const MODE_LETTERS = Array.from('+-beIklimnstqaohvwixBZzrRcC');
const EMOJI = ['👍', '❤️', '😀', 'x', '', '🇫🇷', 'a'.repeat(100)];
const TYPING = ['active', 'paused', 'done', '', 'bogus'];
const WHOX_FIELDS = 'tcuihsnfdlaorx%,';
const HISTORY_SUBCOMMANDS = ['LATEST', 'BEFORE', 'AFTER', 'AROUND', 'BETWEEN', 'TARGETS', 'latest', 'BOGUS', ''];
const NICKSERV = ['REGISTER', 'IDENTIFY', 'LOGOUT', 'GHOST', 'PASSWORD', 'DROP', 'INFO', 'CERT', 'HELP', 'BOGUS', ''];
const CHANSERV = ['REGISTER', 'INFO', 'DROP', 'TRANSFER', 'AMODE', 'ACCESS', 'SET', 'HELP', 'BOGUS', ''];
const SERVICE_ROLES = ['owner', 'admin', 'op', 'halfop', 'voice', 'bogus', 'OP', ''];
const HELP_TOPICS = ['index', 'privmsg', 'join', 'tagmsg', 'viewonce', 'nope', '', '*'];

/** Each command of src/commands/index.ts with its weight: how often it is drawn relative to the others. */
const VERB_WEIGHTS: Readonly<Record<string, number>> = {
  CAP: 4, PASS: 1, NICK: 4, USER: 2, PING: 3, PONG: 1, QUIT: 0.4,
  JOIN: 7, PART: 3, TOPIC: 3, NAMES: 2, LIST: 2, KICK: 3, INVITE: 2,
  CHATHISTORY: 5, MODE: 7, PRIVMSG: 12, NOTICE: 4, TAGMSG: 6, AWAY: 2, SETNAME: 2, BATCH: 5,
  WHO: 3, WHOIS: 2, WHOWAS: 1, ISON: 1, USERHOST: 1, LUSERS: 0.5, MOTD: 0.5, VERSION: 0.5, TIME: 0.5, ADMIN: 0.5, INFO: 0.5, HELP: 1,
  OPER: 1.5, KILL: 1.5, WALLOPS: 1, REHASH: 0.3, CHGHOST: 1.5, MONITOR: 3, AUTHENTICATE: 4, REGISTER: 2,
  NS: 1.5, NICKSERV: 1, CS: 2, CHANSERV: 1, REDACT: 3, MARKREAD: 3, VIEWONCE: 3,
};

/** The verbs the generator knows how to make parameters for (the CI test checks these are the server's commands). */
export const GENERATED_VERBS: readonly string[] = Object.keys(VERB_WEIGHTS);

/** Modern IRC and message-tags limits the mutations aim at. */
const MAX_BODY = 510;
const MAX_TAGS = 8191;

export class LineGenerator {
  private readonly random: Random;
  private readonly verbs: ReadonlyArray<readonly [number, string]>;
  private batchCounter = 0;

  constructor(
    seed: number,
    private readonly world: FuzzWorld,
    /** Timestamps are made near this clock's time (a fixed one makes the lines the same from run to run). */
    private readonly now: () => number = Date.now,
  ) {
    this.random = new Random(seed);
    this.verbs = Object.entries(VERB_WEIGHTS).map(([verb, weight]) => [weight, verb] as const);
  }

  /** The lines a client opens with to register (randomly: with CAP, SASL, REGISTER, or plain NICK/USER). */
  registration(nick: string): FuzzChunk {
    const r = this.random;
    const lines: string[] = [];
    const negotiates = r.chance(0.7);
    if (negotiates) {
      lines.push(r.chance(0.8) ? 'CAP LS 302' : 'CAP LS');
      // Often every cap, so that the paths that need several at once (multiline needs batch; labels, echo) are reached.
      const caps = r.chance(0.4) ? REAL_CAPS : REAL_CAPS.filter(() => r.chance(0.45));
      if (caps.length > 0) lines.push(`CAP REQ :${caps.join(' ')}`);
      if (r.chance(0.05)) lines.push(`CAP REQ :${r.pick(FAKE_CAPS)}`);
    }
    if (r.chance(0.1)) lines.push(`PASS ${r.pick(['secret', '', ':with space', 'x'.repeat(300)])}`);
    lines.push(`NICK ${nick}`, `USER ${r.pick([nick, '~u', 'üser', 'a'.repeat(40), '*'])} 0 * :${r.pick(['Fuzz Client', '', 'ü'.repeat(100), ':x'])}`);
    if (negotiates) {
      const account = r.pick(this.world.accounts);
      const login = r.weighted<string[]>([
        [5, []],
        [2, ['AUTHENTICATE PLAIN', `AUTHENTICATE ${plainPayload('', account.name, r.chance(0.8) ? account.password : 'wrong-password')}`]],
        [1, [`REGISTER ${account.name} * ${account.password}`]],
        [1, ['AUTHENTICATE SCRAM-SHA-256', `AUTHENTICATE ${b64(`n,,n=${account.name},r=${r.text('abcdefghij0123456789', 24)}`)}`]],
      ]);
      lines.push(...login, 'CAP END');
    }
    return chunk(lines, 'registration');
  }

  /** The next thing to send. */
  next(view: ClientView): FuzzChunk {
    const r = this.random;
    const kind = r.weighted<'valid' | 'script' | 'odd' | 'mutated' | 'random'>([
      [62, 'valid'],
      [8, 'script'],
      [6, 'odd'],
      [20, 'mutated'],
      [4, 'random'],
    ]);
    switch (kind) {
      case 'valid': {
        const verb = r.weighted(this.verbs);
        return chunk([this.withTags(this.command(verb, view), view)], verb);
      }
      case 'script':
        return this.script(view);
      case 'odd':
        return this.oddLine(view);
      case 'mutated': {
        const verb = r.weighted(this.verbs);
        const line = Buffer.from(this.withTags(this.command(verb, view), view), 'utf8');
        const [bytes, how] = this.mutate(line);
        return { bytes, kind: `mutated ${verb} (${how})` };
      }
      case 'random':
        return { bytes: this.randomBytes(), kind: 'random bytes' };
    }
  }

  // ---- vocabulary ----------------------------------------------------------------------------------------------

  private nick(): string {
    const r = this.random;
    return r.weighted<() => string>([
      [10, () => r.pick(this.world.nicks)],
      [1, () => r.pick(['NickServ', 'ChanServ', 'nickserv', '*', '0digit', '-dash', 'a'.repeat(r.between(20, 80)), '[]\\`_^{|}', 'ü', '', 'nick!user@host', 'a,b', ':colon'])],
      [1, () => r.text('abcXYZ_-[]{}|^`\\0123', r.between(1, 12))],
    ])();
  }

  /** A nick anyone may be given as a target of messages and queries, sentinels included. */
  private anyNick(): string {
    return this.random.chance(0.2) ? this.random.pick(this.world.sentinelNicks) : this.nick();
  }

  private room(): string {
    const r = this.random;
    return r.weighted<() => string>([
      [10, () => r.pick(this.world.rooms)],
      [1, () => r.pick(['#', '##', '&local', '+modeless', '!safe', '#a,#b', '0', '#ü☃', '#\u0007bell', `#${'r'.repeat(r.between(60, 200))}`, '#with:colon', 'nohash', ''])],
      [1, () => `#${r.text('abc0-_[]', r.between(1, 10))}`],
    ])();
  }

  /** A room that may be the sentinels' one: for JOIN, PART, messages and read-only queries. */
  private anyRoom(): string {
    return this.random.chance(0.15) ? this.world.sentinelRoom : this.room();
  }

  /** Where a message may go: rooms, nicks, several at once, services, prefixes and masks. */
  private messageTarget(): string {
    const r = this.random;
    return r.weighted<() => string>([
      [6, () => this.anyRoom()],
      [5, () => this.anyNick()],
      [1, () => Array.from({ length: r.between(2, 8) }, () => (r.chance(0.5) ? this.anyRoom() : this.anyNick())).join(',')],
      [1, () => r.pick(['NickServ', 'ChanServ', '@' + this.anyRoom(), '+' + this.anyRoom(), '$*', '$$*', '#*', '*', 'nick@server', ''])],
    ])();
  }

  private account(): { name: string; password: string } {
    const r = this.random;
    const known = r.pick(this.world.accounts);
    return r.weighted<{ name: string; password: string }>([
      [6, known],
      [2, { name: known.name, password: r.pick(['wrong', '', 'short', 'x'.repeat(500)]) }],
      [1, { name: r.pick(['*', '', 'ü'.repeat(10), 'a'.repeat(100), 'NickServ', '#room', 'has space']), password: 'whatever-password' }],
    ]);
  }

  private text(): string {
    const r = this.random;
    return r.weighted<() => string>([
      [6, () => r.pick(TEXT_SAMPLES)],
      [2, () => r.text('abcdefgh ijklm nopqrs:;,.!?@#', r.between(1, 80))],
      [1, () => r.text('é€😀☃ aZ\u0001\u0002\u0003\u000f\u001d', r.between(1, 120))],
      [1, () => 'y'.repeat(r.between(300, 520))],
    ])();
  }

  /** A message seen (from `pool`, by a drawn index), or undefined when none was seen yet. */
  private seenMessage(pool: readonly SeenMessage[]): SeenMessage | undefined {
    const index = this.random.below(1 << 16);
    return pool.length > 0 ? pool[index % pool.length] : undefined;
  }

  private msgid(view: ClientView, pool: readonly SeenMessage[] = view.seen): string {
    const r = this.random;
    const seen = this.seenMessage(pool);
    return r.weighted<string>([
      [6, seen?.msgid ?? 'no-msgid-seen'],
      [1, r.text('abcdefghijklmnopqrstuvwxyz234567', r.between(1, 20))],
      [1, r.pick(['*', '', '0', 'a'.repeat(200), 'msgid=x', 'ü', '-'])],
    ]);
  }

  private timestamp(): string {
    const r = this.random;
    const now = this.now();
    return r.weighted<() => string>([
      [5, () => new Date(now - r.below(3_600_000)).toISOString()],
      [1, () => new Date(now + r.below(3_600_000)).toISOString()],
      [2, () => r.pick(['0000-01-01T00:00:00.000Z', '9999-12-31T23:59:59.999Z', '1970-01-01T00:00:00Z', '2024-02-30T00:00:00.000Z', '2024-13-01T00:00:00.000Z', '2024-01-01T25:61:61.000Z', '2024-01-01T00:00:00.123456789012Z', '2024-01-01', 'now', '', '-1', '275760-09-13T00:00:00.000Z', '+002024-01-01T00:00:00.000Z'])],
      [1, () => String(r.below(2 ** 31))],
    ])();
  }

  /** A CHATHISTORY or MARKREAD reference: "timestamp=...", "msgid=...", "*", or not quite. */
  private historyRef(view: ClientView): string {
    const r = this.random;
    return r.weighted<() => string>([
      [4, () => `timestamp=${this.timestamp()}`],
      [3, () => `msgid=${this.msgid(view)}`],
      [1, () => '*'],
      [1, () => r.pick(['timestamp=', 'msgid=', 'timestamp', '=', 'bogus=1', 'TIMESTAMP=2024-01-01T00:00:00.000Z'])],
    ])();
  }

  private limit(): string {
    return this.random.pick(['1', '10', '50', '100', '1000', '0', '-1', 'abc', '1e3', '99999999999999999999', '']);
  }

  private modeString(): string {
    const r = this.random;
    let out = r.chance(0.8) ? r.pick(['+', '-']) : '';
    for (let i = r.between(0, 6); i > 0; i--) out += r.pick(MODE_LETTERS);
    return out;
  }

  private modeArg(): string {
    const r = this.random;
    return r.weighted<() => string>([
      [4, () => this.nick()],
      [2, () => r.pick(['*!*@*', 'nick!*@*', '*!*@127.0.0.1', '$a:acct', '$r:*', 'x!y@z!w', '!', '@', '*'.repeat(100)])],
      [2, () => String(r.pick([0, 1, 5, -1, 2 ** 31, 2 ** 53]))],
      [1, () => r.pick(['key', 'k e y', ':key', 'k,ey', 'a'.repeat(40), ''])],
    ])();
  }

  private base64Payload(): string {
    const r = this.random;
    return r.weighted<() => string>([
      [3, () => b64raw(r.bytes(r.between(1, 120)))],
      [2, () => plainPayload(r.chance(0.2) ? 'other' : '', this.account().name, this.account().password)],
      [1, () => r.pick(['+', '*', '=', '====', 'not base64!', 'QQ', 'QQ=', 'QQ==='])],
      [1, () => 'A'.repeat(400)],
      [1, () => r.text('ABCDEFGHabcdefgh0123456789+/=', r.between(1, 420))],
    ])();
  }

  // ---- commands ------------------------------------------------------------------------------------------------

  /** A command line (without tags) for `verb`, with parameters that make sense for it, or nearly. */
  private command(verb: string, view: ClientView): string {
    const r = this.random;
    const v = r.chance(0.08) ? verb.toLowerCase() : verb;
    const nick = (): string => this.nick();
    const room = (): string => this.room();
    switch (verb) {
      case 'CAP': {
        const sub = r.pick(CAP_SUBCOMMANDS);
        if (sub === 'REQ' || sub === 'req') {
          const caps = Array.from({ length: r.between(0, 6) }, () => (r.chance(0.85) ? `${r.chance(0.15) ? '-' : ''}${r.pick(REAL_CAPS)}` : r.pick(FAKE_CAPS)));
          return `${v} ${sub} :${caps.join(r.chance(0.9) ? ' ' : '  ')}`;
        }
        return `${v} ${sub}`;
      }
      case 'PASS':
        return `${v} ${r.pick(['secret', ':', ':two words', 'x'.repeat(200)])}`;
      case 'NICK':
        return r.chance(0.05) ? v : `${v} ${r.chance(0.5) ? ':' : ''}${nick()}`;
      case 'USER':
        return `${v} ${r.pick(['u', '~u', '', 'ü', 'a'.repeat(30)])} ${r.pick(['0', '8', '*'])} * :${this.text()}`;
      case 'PING':
      case 'PONG':
        return r.chance(0.1) ? v : `${v} ${r.chance(0.5) ? ':' : ''}${r.pick(['token', 'two words', '', 'x'.repeat(400), this.text()])}`;
      case 'QUIT':
        return r.chance(0.3) ? v : `${v} :${this.text()}`;
      case 'JOIN': {
        const rooms = r.chance(0.8) ? this.anyRoom() : Array.from({ length: r.between(2, 12) }, () => this.anyRoom()).join(',');
        return r.weighted<string>([
          [8, `${v} ${rooms}`],
          [2, `${v} ${rooms} ${r.pick(['key', 'key1,key2', '', 'x'.repeat(40)])}`],
          [1, `${v} 0`],
          [1, `${v} :${rooms}`],
        ]);
      }
      case 'PART':
        return `${v} ${r.chance(0.85) ? this.anyRoom() : `${this.anyRoom()},${this.anyRoom()}`}${r.chance(0.5) ? ` :${this.text()}` : ''}`;
      case 'TOPIC':
        return r.chance(0.4) ? `${v} ${this.anyRoom()}` : `${v} ${room()} :${r.chance(0.1) ? '' : this.text()}`;
      case 'NAMES':
        return r.chance(0.1) ? v : `${v} ${r.chance(0.8) ? this.anyRoom() : `${this.anyRoom()},${this.anyRoom()}`}`;
      case 'LIST':
        return r.pick([v, `${v} ${this.anyRoom()}`, `${v} >0`, `${v} <1000`, `${v} #*`, `${v} ${this.anyRoom()},${this.anyRoom()}`, `${v} C>0`]);
      case 'KICK': {
        const who = r.chance(0.8) ? nick() : `${nick()},${nick()},${nick()}`;
        return `${v} ${room()} ${who}${r.chance(0.5) ? ` :${this.text()}` : ''}`;
      }
      case 'INVITE':
        return r.chance(0.1) ? v : `${v} ${this.anyNick()} ${this.anyRoom()}`;
      case 'CHATHISTORY': {
        const sub = r.pick(HISTORY_SUBCOMMANDS);
        const target = r.chance(0.7) ? this.anyRoom() : this.anyNick();
        switch (sub) {
          case 'LATEST':
          case 'latest':
            return `${v} ${sub} ${target} ${r.chance(0.3) ? '*' : this.historyRef(view)} ${this.limit()}`;
          case 'BETWEEN':
            return `${v} ${sub} ${target} ${this.historyRef(view)} ${this.historyRef(view)} ${this.limit()}`;
          case 'TARGETS':
            return `${v} ${sub} ${this.historyRef(view)} ${this.historyRef(view)} ${this.limit()}`;
          default:
            return r.chance(0.1) ? `${v} ${sub}` : `${v} ${sub} ${target} ${this.historyRef(view)} ${this.limit()}`;
        }
      }
      case 'MODE': {
        if (r.chance(0.25)) return r.chance(0.5) ? `${v} ${nick()} ${this.modeString()}` : `${v} ${nick()}`;
        const args = Array.from({ length: r.between(0, 6) }, () => this.modeArg());
        return r.chance(0.1) ? `${v} ${room()}` : `${v} ${room()} ${this.modeString()}${args.map((arg) => ` ${arg === '' ? ':' : arg}`).join('')}`;
      }
      case 'PRIVMSG':
      case 'NOTICE':
        return r.chance(0.03) ? `${v} ${this.messageTarget()}` : `${v} ${this.messageTarget()} :${this.text()}`;
      case 'TAGMSG':
        return `${v} ${this.messageTarget()}`;
      case 'AWAY':
        return r.chance(0.4) ? v : `${v} :${this.text()}`;
      case 'SETNAME':
        return `${v} :${r.chance(0.1) ? '' : this.text()}`;
      case 'BATCH': {
        const ref = this.batchRef();
        return r.weighted<string>([
          [4, `${v} +${ref} draft/multiline ${this.messageTarget()}`],
          [3, `${v} -${ref}`],
          [1, `${v} +${ref} ${r.pick(['chathistory', 'netsplit', 'draft/multiline', '', 'x'.repeat(50)])}`],
          [1, `${v} ${r.pick(['+', '-', '', 'ref', '+-', '-+'])}`],
        ]);
      }
      case 'WHO': {
        const mask = r.pick([this.anyRoom(), this.anyNick(), '*', '0', '*!*@*', '', 'a*b?c']);
        if (r.chance(0.5)) return `${v} ${mask}`;
        const fields = `%${r.text(WHOX_FIELDS, r.between(0, 14))}${r.chance(0.5) ? `,${r.pick(['1', '123', '999', 'abc', '', '9999'])}` : ''}`;
        return `${v} ${mask} ${r.chance(0.1) ? 'o' : fields}`;
      }
      case 'WHOIS':
        return r.pick([v, `${v} ${this.anyNick()}`, `${v} server ${this.anyNick()}`, `${v} ${this.anyNick()},${this.anyNick()}`, `${v} *`]);
      case 'WHOWAS':
        return r.pick([v, `${v} ${nick()}`, `${v} ${nick()} ${this.limit()}`]);
      case 'ISON':
      case 'USERHOST':
        return `${v} ${Array.from({ length: r.between(1, 20) }, () => this.anyNick()).join(' ')}`;
      case 'LUSERS':
      case 'MOTD':
      case 'VERSION':
      case 'TIME':
      case 'ADMIN':
      case 'INFO':
      case 'REHASH':
        return r.chance(0.8) ? v : `${v} ${r.pick(['server', '*', nick()])}`;
      case 'HELP':
        return r.chance(0.2) ? v : `${v} ${r.pick(HELP_TOPICS)}`;
      case 'OPER': {
        const { name, password } = this.world.oper;
        return r.weighted<string>([
          [3, `${v} ${name} ${password}`],
          [2, `${v} ${name} ${r.pick(['wrong', '', 'x'.repeat(300)])}`],
          [1, `${v} ${r.pick(['nobody', '', '*'])} ${password}`],
          [1, `${v} ${name}`],
        ]);
      }
      case 'KILL':
        return `${v} ${nick()}${r.chance(0.8) ? ` :${this.text()}` : ''}`;
      case 'WALLOPS':
        return `${v} :${this.text()}`;
      case 'CHGHOST':
        return `${v} ${nick()} ${r.pick(['user', '~u', '', 'ü'])} ${r.pick(['host.example', 'a'.repeat(100), ':colon', 'h@st', '0::1', ''])}`;
      case 'MONITOR': {
        const targets = Array.from({ length: r.between(1, 30) }, () => this.anyNick()).join(',');
        return r.pick([`${v} + ${targets}`, `${v} - ${targets}`, `${v} C`, `${v} L`, `${v} S`, `${v} +`, `${v} X ${targets}`, v, `${v} + ,,,`]);
      }
      case 'AUTHENTICATE':
        return `${v} ${r.weighted<string>([
          [3, r.pick(['PLAIN', 'SCRAM-SHA-256', 'EXTERNAL', 'plain', 'BOGUS', '*'])],
          [4, this.base64Payload()],
        ])}`;
      case 'REGISTER': {
        const account = this.account();
        return r.pick([`${v} ${account.name} ${r.pick(['*', 'fuzz@example.invalid', ''])} ${account.password}`, `${v} * * ${account.password}`, `${v} ${account.name}`, `${v} ${account.name} * :`]);
      }
      case 'NS':
      case 'NICKSERV':
      case 'CS':
      case 'CHANSERV':
        return `${v} ${verb.startsWith('N') ? this.nickServText() : this.chanServText()}`;
      case 'REDACT': {
        // Mostly a message seen, where it was said: the server then looks at whether this user may delete it.
        // Every draw is made whatever was seen, so the lines after this one do not depend on it.
        const seen = this.seenMessage(view.seen);
        const useSeen = r.chance(0.7);
        const elsewhere = `${r.chance(0.7) ? this.anyRoom() : this.anyNick()} ${this.msgid(view)}`;
        const where = useSeen && seen !== undefined ? `${seen.target} ${seen.msgid}` : elsewhere;
        return `${v} ${where}${r.chance(0.4) ? ` :${this.text()}` : ''}`;
      }
      case 'MARKREAD':
        return r.pick([v, `${v} ${this.anyRoom()}`, `${v} ${this.anyNick()}`, `${v} ${this.anyRoom()} ${this.historyRef(view)}`, `${v} ${this.anyRoom()} timestamp=${this.timestamp()}`]);
      case 'VIEWONCE':
        return r.pick([v, `${v} OPEN ${this.msgid(view, view.sealed)}`, `${v} OPEN ${this.msgid(view, view.sealed)}`, `${v} OPEN ${this.msgid(view)}`, `${v} OPEN`, `${v} LIST`, `${v} open ${this.msgid(view, view.sealed)}`, `${v} ${r.pick(['BOGUS', '*', ':x y'])}`]);
      default:
        return `${v} ${this.text()}`;
    }
  }

  /** Text for NickServ (as NS/NICKSERV parameters or a PRIVMSG to NickServ). */
  private nickServText(): string {
    const r = this.random;
    const sub = r.pick(NICKSERV);
    const account = this.account();
    switch (sub) {
      case 'REGISTER':
        return `${sub} ${account.password}${r.chance(0.3) ? ' fuzz@example.invalid' : ''}`;
      case 'IDENTIFY':
        return r.chance(0.6) ? `${sub} ${account.name} ${account.password}` : `${sub} ${account.password}`;
      case 'GHOST':
      case 'INFO':
        return `${sub} ${r.chance(0.5) ? account.name : this.nick()}`;
      case 'PASSWORD':
      case 'DROP':
        return `${sub} ${account.password}`;
      case 'CERT':
        return `${sub} ${r.pick(['ADD', 'DEL', 'LIST', 'ADD ' + 'ab'.repeat(32), 'DEL xyz', 'BOGUS'])}`;
      default:
        return sub;
    }
  }

  /** Text for ChanServ: always about fuzz rooms, never the sentinels' (see FuzzWorld). */
  private chanServText(): string {
    const r = this.random;
    const sub = r.pick(CHANSERV);
    const room = this.room();
    switch (sub) {
      case 'TRANSFER':
        return `${sub} ${room} ${this.account().name}`;
      case 'AMODE':
        return r.chance(0.3) ? `${sub} ${room}` : `${sub} ${room} ${r.pick(['+', '-'])}${r.pick(['q', 'a', 'o', 'h', 'v', 'x'])} ${this.account().name}`;
      case 'ACCESS':
        return r.pick([`${sub} ${room} LIST`, `${sub} ${room} ADD ${this.account().name} ${r.pick(SERVICE_ROLES)}`, `${sub} ${room} DEL ${this.account().name}`, `${sub} ${room}`]);
      case 'SET':
        return `${sub} ${room} ${r.pick(['HISTORY everything', 'HISTORY joined', 'HISTORY default', 'HISTORY bogus', 'BOGUS x', ''])}`;
      default:
        return `${sub} ${room}`;
    }
  }

  private batchRef(): string {
    const r = this.random;
    return r.chance(0.8) ? `b${this.batchCounter % 4}` : r.pick(['', 'x'.repeat(100), 'ü', '+', '-', '=', ';']);
  }

  /** Tags in front of a line, sometimes: labels, batch refs, the client tags the server reads, and junk. */
  private withTags(line: string, view: ClientView): string {
    const r = this.random;
    if (!r.chance(0.3)) return line;
    const tags: string[] = [];
    for (let i = r.between(1, 4); i > 0; i--) tags.push(this.tag(view));
    return `@${tags.join(';')} ${line}`;
  }

  private tag(view: ClientView): string {
    const r = this.random;
    return r.weighted<() => string>([
      [4, () => `label=${r.pick(['l1', 'abc', '', 'x'.repeat(r.between(60, 70)), 'a\\sb', 'ü'])}`],
      [2, () => `batch=${this.batchRef()}`],
      [3, () => `${r.pick(['+draft/reply', '+reply'])}=${this.msgid(view)}`],
      [2, () => `${r.pick(['+draft/react', '+draft/unreact', '+react'])}=${r.pick(EMOJI)}`],
      [2, () => `${r.pick(['+typing', '+draft/typing'])}=${r.pick(TYPING)}`],
      [2, () => `${r.pick(['+channel-context', '+draft/channel-context'])}=${this.anyRoom()}`],
      [2, () => r.pick(['natter.chat/view-once', '+natter.chat/view-once'])],
      [1, () => r.pick(['draft/multiline-concat', 'bot'])],
      [1, () => `${r.pick(['msgid', 'time', 'account', 'batch'])}=${r.pick(['forged', this.timestamp(), 'someone'])}`],
      [2, () => `${r.pick(['+', ''])}${r.text('abcxyz/.-', r.between(1, 12))}=${escapeValue(r.text('a b;c\\d=e:f\r\n\u00e9', r.between(0, 20)))}`],
      [1, () => r.pick(['', '=', '+', '+=', '+/', 'a/b/c=d', '==', ';;', 'k=\\', 'k=\\\\\\', `+big=${'v'.repeat(r.between(500, 4200))}`])],
    ])();
  }

  // ---- scripts, odd lines, mutations, random bytes -------------------------------------------------------------

  private script(view: ClientView): FuzzChunk {
    const r = this.random;
    const which = r.weighted<'multiline' | 'sasl' | 'labeled' | 'oper' | 'register'>([
      [5, 'multiline'],
      [3, 'sasl'],
      [1, 'labeled'],
      [1, 'oper'],
      [1, 'register'],
    ]);
    switch (which) {
      case 'multiline':
        return chunk(this.multilineBatch(view), 'script multiline BATCH');
      case 'sasl': {
        const account = this.account();
        const mechanism = r.pick(['PLAIN', 'PLAIN', 'SCRAM-SHA-256', 'EXTERNAL', 'FOO']);
        const payload = mechanism === 'PLAIN' ? plainPayload('', account.name, account.password) : this.base64Payload();
        const lines = [`AUTHENTICATE ${mechanism}`];
        if (r.chance(0.2) && payload.length > 0) {
          // Chunked the way SASL 3.2 splits long payloads: 400-byte pieces, "+" after an exact multiple.
          const long = payload.repeat(r.between(2, 30));
          for (let i = 0; i < long.length; i += 400) lines.push(`AUTHENTICATE ${long.slice(i, i + 400)}`);
          if (long.length % 400 === 0) lines.push('AUTHENTICATE +');
        } else {
          lines.push(`AUTHENTICATE ${payload}`);
        }
        if (r.chance(0.2)) lines.push(`AUTHENTICATE ${r.pick(['*', '+', 'PLAIN'])}`);
        return chunk(lines, `script SASL ${mechanism}`);
      }
      case 'labeled': {
        const verb = r.weighted(this.verbs);
        return chunk([`@label=L${r.below(1000)} ${this.command(verb, view)}`, `@label=P${r.below(1000)} PING :after`], `script labeled ${verb}`);
      }
      case 'oper': {
        const target = this.nick();
        return chunk([`OPER ${this.world.oper.name} ${this.world.oper.password}`, r.pick([`KILL ${target} :fuzzed`, `CHGHOST ${target} u h.example`, `WALLOPS :${this.text()}`, 'REHASH', `MODE ${this.room()} ${this.modeString()} ${this.modeArg()}`])], 'script OPER');
      }
      case 'register': {
        const account = r.pick(this.world.accounts);
        return chunk([`REGISTER ${account.name} * ${account.password}`, `NS IDENTIFY ${account.name} ${account.password}`, `CS REGISTER ${this.room()}`], 'script REGISTER');
      }
    }
  }

  /** BATCH +ref draft/multiline, its lines (some wrong on purpose), and usually BATCH -ref. */
  private multilineBatch(view: ClientView): string[] {
    const r = this.random;
    const ref = `m${++this.batchCounter}`;
    const target = this.messageTarget();
    const command = r.chance(0.85) ? 'PRIVMSG' : 'NOTICE';
    const lines = [`${r.chance(0.3) ? `@label=ml${ref} ` : ''}BATCH +${ref} draft/multiline ${target}`];
    for (let i = r.between(0, 12); i > 0; i--) {
      const concat = r.chance(0.2) ? ';draft/multiline-concat' : '';
      lines.push(
        r.weighted<string>([
          [12, `@batch=${ref}${concat} ${command} ${target} :${r.chance(0.1) ? '' : this.text()}`],
          [1, `@batch=${ref} ${command === 'PRIVMSG' ? 'NOTICE' : 'PRIVMSG'} ${target} :mixed`],
          [1, `@batch=${ref} PRIVMSG ${this.messageTarget()} :other target`],
          [1, `@batch=other PRIVMSG ${target} :other batch`],
          [1, `@batch=${ref} ${this.command(r.weighted(this.verbs), view)}`],
          [1, this.command(r.weighted(this.verbs), view)],
          [1, `BATCH +inner${ref} draft/multiline ${target}`],
        ]),
      );
    }
    if (r.chance(0.02)) {
      // Past max-lines (100 by default): the server must drop the batch as it grows, not hold it whole.
      for (let i = 0; i < 120; i++) lines.push(`@batch=${ref} ${command} ${target} :line ${i}`);
    }
    if (r.chance(0.85)) lines.push(`BATCH -${r.chance(0.9) ? ref : 'nope'}`);
    return lines;
  }

  /** Lines shaped unlike what a client sends: sources, numerics, unknown verbs, many parameters, limits exactly. */
  private oddLine(view: ClientView): FuzzChunk {
    const r = this.random;
    const which = r.weighted<() => [string | Buffer, string]>([
      [2, () => [`:${this.anyNick()}!u@h ${this.command(r.weighted(this.verbs), view)}`, 'with a source']],
      [2, () => [`${r.pick(['001', '433', '999', '000', 'FOO', 'PRIVMSGX', 'ÜBER', 'A'.repeat(100), '*', '-', 'Z'])} ${this.text()}`, 'unknown verb']],
      [2, () => [`${r.pick(['PRIVMSG', 'MODE', 'JOIN', 'KICK', 'WHO', 'USER', 'MONITOR', 'CAP'])} ${Array.from({ length: r.between(15, 200) }, () => r.pick(['a', this.room(), this.nick(), '+o', '*'])).join(' ')}`, 'many params']],
      [2, () => [bodyOfBytes(r.pick(['PRIVMSG', 'NOTICE', 'PING', 'TOPIC', 'AWAY']), this.anyRoom(), r.pick([MAX_BODY - 1, MAX_BODY, MAX_BODY + 1, MAX_BODY + 200]), r.chance(0.5)), 'body at the limit']],
      [2, () => [`${tagsOfBytes(r.pick([4094, 4095, MAX_TAGS - 1, MAX_TAGS, MAX_TAGS + 1, 20_000]))}${this.command(r.pick(['PRIVMSG', 'TAGMSG', 'PING', 'JOIN']), view)}`, 'tags at the limit']],
      [1, () => {
        // Not anyRoom() for MODE: a fuzz client logged in as operator could make the sentinels' room +m.
        const verb = r.pick(['PRIVMSG', 'JOIN', 'MODE']);
        const target = verb === 'MODE' ? this.room() : this.anyRoom();
        return [`${verb}${' '.repeat(r.between(2, 300))}${target}${' '.repeat(r.between(0, 50))}:${this.text()}`, 'runs of spaces'];
      }],
      [1, () => [r.pick(['', ' ', ':', '@', '@ ', ': ', ':x', '@a', '@a=b :src', '\t', ' PING x', ':src', '@;', '@=;= PING x']), 'bare']],
    ]);
    const [line, how] = which();
    return { bytes: typeof line === 'string' ? Buffer.from(`${line}\r\n`, 'utf8') : line, kind: `odd (${how})` };
  }

  /** Changes a valid line; returns the bytes to send (with whatever line end the mutation left) and how. */
  private mutate(line: Buffer): [Buffer, string] {
    const r = this.random;
    const at = (): number => r.below(line.length + 1);
    const special = (): number => r.pick([0, 0x0d, 0x0a, 0x20, 0x3a, 0x40, 0x3b, 0x3d, 0x5c, 0x2c, 0x23, 0x80, 0xbf, 0xc0, 0xc3, 0xe2, 0xed, 0xf4, 0xf8, 0xff, 0x01, 0x7f]);
    const splice = (index: number, remove: number, insert: Buffer): Buffer => Buffer.concat([line.subarray(0, index), insert, line.subarray(index + remove)]);
    const crlf = Buffer.from('\r\n');
    const how = r.weighted<string>([
      [3, 'flip bit'],
      [3, 'special byte'],
      [2, 'insert byte'],
      [2, 'delete range'],
      [2, 'truncate'],
      [1, 'duplicate range'],
      [2, 'invalid UTF-8'],
      [1, 'NUL'],
      [2, 'lone CR'],
      [1, 'lone LF'],
      [1, 'no line end'],
      [1, 'repeat'],
      [1, 'swap case'],
      [3, 'odd last parameter'],
    ]);
    let out: Buffer;
    switch (how) {
      case 'flip bit': {
        out = Buffer.from(line);
        const index = r.below(out.length);
        out[index] = (out[index] ?? 0) ^ (1 << r.below(8));
        break;
      }
      case 'special byte': {
        out = Buffer.from(line);
        out[r.below(out.length)] = special();
        break;
      }
      case 'insert byte':
        out = splice(at(), 0, Buffer.from(Array.from({ length: r.between(1, 4) }, special)));
        break;
      case 'delete range': {
        const start = at();
        out = splice(start, r.between(1, 20), Buffer.alloc(0));
        break;
      }
      case 'truncate':
        return [line.subarray(0, r.below(line.length)), how];
      case 'duplicate range': {
        const start = at();
        out = splice(start, 0, line.subarray(start, start + r.between(1, 200)));
        break;
      }
      case 'invalid UTF-8':
        out = splice(at(), 0, Buffer.from(r.pick([[0xff], [0xc3, 0x28], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xc0, 0xaf], [0xe2, 0x82], [0x80], [0xf0, 0x9f, 0x98]])));
        break;
      case 'NUL':
        out = splice(at(), 0, Buffer.from([0]));
        break;
      case 'lone CR':
        out = splice(at(), 0, Buffer.from([0x0d]));
        break;
      case 'lone LF':
        return [Buffer.concat([line, Buffer.from('\n')]), how];
      case 'no line end':
        // The next write continues this line (or the client goes away first).
        return [line, how];
      case 'repeat':
        return [Buffer.concat(Array.from({ length: r.between(2, 12) }, () => Buffer.concat([line, crlf]))), how];
      case 'odd last parameter': {
        // The last parameter as a trailing one that could not be a middle one (empty, a space, a leading ':'): every
        // reply that quotes it must still be a well-formed line.
        const text = line.toString('utf8');
        const odd = r.pick(['', ' ', 'a b', ':x', ' lead', 'x ', '*']);
        const colon = text.indexOf(' :');
        const lastSpace = text.lastIndexOf(' ');
        out = Buffer.from(colon !== -1 ? `${text.slice(0, colon)} :${odd}` : lastSpace !== -1 ? `${text.slice(0, lastSpace)} :${odd}` : `${text} :${odd}`, 'utf8');
        break;
      }
      case 'swap case':
        out = Buffer.from(line.toString('latin1').replace(/[a-z]/gi, (c) => (r.chance(0.5) ? c.toUpperCase() : c.toLowerCase())), 'latin1');
        break;
      default:
        out = line;
    }
    return [Buffer.concat([out, crlf]), how];
  }

  private randomBytes(): Buffer {
    const r = this.random;
    const length = r.between(1, 700);
    const out = Buffer.alloc(length);
    for (let i = 0; i < length; i++) {
      out[i] = r.weighted<() => number>([
        [6, () => r.between(0x20, 0x7e)],
        [1, () => r.pick([0x0d, 0x0a, 0x20, 0x3a, 0x40, 0])],
        [1, () => r.below(256)],
      ])();
    }
    return Buffer.concat([out, Buffer.from(r.chance(0.8) ? '\r\n' : '')]);
  }
}

// ---- helpers -------------------------------------------------------------------------------------------------------

function chunk(lines: readonly string[], kind: string): FuzzChunk {
  return { bytes: Buffer.from(lines.map((line) => `${line}\r\n`).join(''), 'utf8'), kind };
}

function b64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

function b64raw(bytes: Buffer): string {
  return bytes.toString('base64');
}

/** SASL PLAIN: authzid NUL authcid NUL password, base64. */
function plainPayload(authzid: string, account: string, password: string): string {
  return b64(`${authzid}\0${account}\0${password}`);
}

/** Tag value escaping (message-tags), done here by hand so the generator does not lean on the code it tests. */
function escapeValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/;/g, '\\:').replace(/ /g, '\\s').replace(/\r/g, '\\r').replace(/\n/g, '\\n');
}

/** `COMMAND target :yyy…` whose body is exactly `bytes` long (a multi-byte character may straddle the end). */
function bodyOfBytes(command: string, target: string, bytes: number, multibyte: boolean): Buffer {
  const head = Buffer.from(`${command} ${target} :`, 'utf8');
  const fill = Math.max(0, bytes - head.length);
  const text = multibyte ? Buffer.from('€'.repeat(Math.ceil(fill / 3)), 'utf8').subarray(0, fill) : Buffer.alloc(fill, 0x79);
  return Buffer.concat([head, text, Buffer.from('\r\n')]);
}

/** A tag block (with '@' and the space after it) of exactly `bytes` bytes. */
function tagsOfBytes(bytes: number): string {
  return `@+k=${'t'.repeat(Math.max(0, bytes - '@+k= '.length))} `;
}
