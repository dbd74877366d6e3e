/**
 * The wire format of the cluster bus (issue 9, docs/cluster.md): one envelope `{origin, seq, event}` per published
 * event, as one JSON string, encoded once per publish whatever the number of destinations.
 *
 * JSON alone would not round-trip a NetworkEvent: `tags` is a Map (JSON.stringify writes `{}`), and a field typed
 * `T | undefined` must come back as a present key holding undefined (exactOptionalPropertyTypes tells it apart from
 * an optional `lines?` that is absent). So every event type has a spec below, one reader per field, which the
 * compiler checks against events.ts: a new event type or field does not build until it has its reader.
 *
 * Decoding validates everything, because what comes out is applied to every mirror of the network: a malformed
 * envelope is an Error (CodecError), never an event with a hole that crashes apply(). Fields a newer node added and
 * this one does not know are dropped, so a rolling upgrade may add fields; removing or retyping one needs a new
 * envelope version.
 */
import type { ModeChange, MultilineLine, NetworkEvent, RoleChange, UserIntro } from '../core/events.js';

/** One published event as it travels between nodes. */
export interface Envelope {
  /** The publishing node's id. */
  readonly origin: string;
  /** The publisher's counter: receivers drop an envelope whose seq is not above the last one from that origin. */
  readonly seq: number;
  readonly event: NetworkEvent;
}

/** The envelope format version; a node refuses another one (a mixed-version cluster must not half-apply events). */
export const ENVELOPE_VERSION = 1;

export class CodecError extends Error {
  override readonly name = 'CodecError';
}

/** Encodes an envelope as one JSON string: `{"v":1,"o":origin,"s":seq,"e":event}`, with Map fields as `[k,v][]`. */
export function encodeEnvelope(envelope: Envelope): string {
  const { event } = envelope;
  const write = WRITERS[event.type];
  return JSON.stringify({ v: ENVELOPE_VERSION, o: envelope.origin, s: envelope.seq, e: write === undefined ? event : write(event) });
}

/** Decodes what encodeEnvelope made; throws CodecError for anything else. */
export function decodeEnvelope(text: string): Envelope {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new CodecError(`envelope is not JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  if (!isRecord(raw)) throw new CodecError('envelope is not an object');
  if (raw['v'] !== ENVELOPE_VERSION) throw new CodecError(`envelope version ${JSON.stringify(raw['v'])} is not ${ENVELOPE_VERSION}`);
  const origin = raw['o'];
  if (typeof origin !== 'string' || origin === '') throw new CodecError('envelope origin is not a non-empty string');
  const seq = raw['s'];
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1) throw new CodecError('envelope seq is not a positive integer');
  return { origin, seq, event: decodeEvent(raw['e']) };
}

/** Decodes one event (the `e` of an envelope); throws CodecError. */
export function decodeEvent(raw: unknown): NetworkEvent {
  if (!isRecord(raw)) throw new CodecError('event is not an object');
  const type = raw['type'];
  if (typeof type !== 'string' || !Object.hasOwn(SPECS, type)) throw new CodecError(`unknown event type ${JSON.stringify(type)}`);
  const spec = SPECS[type as NetworkEvent['type']] as unknown as Record<string, AnyField>;
  const event = readFields(spec, raw, type);
  event['type'] = type;
  return event as unknown as NetworkEvent;
}

// ---------------------------------------------------------------------------------------------------------------
// Field readers. `read` gets the raw JSON value (undefined when the key is absent) and the path for the message.

interface Field<T> {
  readonly read: (value: unknown, at: string) => T;
  /** Turns the value into its JSON form, for the few fields JSON cannot carry as they are (Maps). */
  readonly write?: (value: T) => unknown;
  /** The key may be absent (an optional property): absent stays absent. */
  readonly omittable?: false;
}
interface Omittable<T> {
  readonly read: (value: unknown, at: string) => T;
  readonly write?: (value: T) => unknown;
  readonly omittable: true;
}
type AnyField = Field<unknown> | Omittable<unknown>;

/** A property the type allows to be absent (`lines?:`), as opposed to one that is present but may hold undefined. */
type IsOptional<E, K extends keyof E> = object extends Pick<E, K> ? true : false;

/** One reader per field of E, except `type`; optional properties need an omittable reader. */
type Spec<E> = {
  readonly [K in Exclude<keyof E, 'type'>]-?: IsOptional<E, K> extends true ? Omittable<Exclude<E[K], undefined>> : Field<E[K]>;
};

type EventOf<T extends NetworkEvent['type']> = Extract<NetworkEvent, { type: T }>;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function fail(at: string, expected: string, value: unknown): never {
  const shown = value === undefined ? 'nothing' : JSON.stringify(value).slice(0, 60);
  throw new CodecError(`${at}: expected ${expected}, got ${shown}`);
}

const str: Field<string> = {
  read: (value, at) => (typeof value === 'string' ? value : fail(at, 'a string', value)),
};
const num: Field<number> = {
  read: (value, at) => (typeof value === 'number' && Number.isFinite(value) ? value : fail(at, 'a finite number', value)),
};
const bool: Field<boolean> = {
  read: (value, at) => (typeof value === 'boolean' ? value : fail(at, 'a boolean', value)),
};

/** A value that may be undefined: JSON drops the key, and reading puts the key back holding undefined. */
function maybe<T>(field: Field<T>): Field<T | undefined> {
  const write = field.write;
  return {
    read: (value, at) => (value === undefined ? undefined : field.read(value, at)),
    ...(write === undefined ? {} : { write: (value: T | undefined) => (value === undefined ? undefined : write(value)) }),
  };
}

/** An optional property (`lines?:`): absent on the wire means absent in the event. */
function omittable<T>(field: Field<T>): Omittable<T> {
  return { ...field, omittable: true };
}

function oneOf<const V extends string | null>(...values: readonly V[]): Field<V> {
  const shown = values.map((value) => JSON.stringify(value)).join(' or ');
  return {
    read: (value, at) => (values.includes(value as V) ? (value as V) : fail(at, shown, value)),
  };
}

function arrayOf<T>(field: Field<T>): Field<readonly T[]> {
  const write = field.write;
  return {
    read: (value, at) => {
      if (!Array.isArray(value)) return fail(at, 'an array', value);
      return value.map((item: unknown, index) => field.read(item, `${at}[${index}]`));
    },
    ...(write === undefined ? {} : { write: (value: readonly T[]) => value.map(write) }),
  };
}

/** Map<string, string> as `[[key, value], ...]`. */
const tags: Field<ReadonlyMap<string, string>> = {
  read: (value, at) => {
    if (!Array.isArray(value)) return fail(at, 'an array of [key, value] pairs', value);
    const map = new Map<string, string>();
    for (const pair of value as unknown[]) {
      if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string' || typeof pair[1] !== 'string') {
        return fail(at, 'an array of [key, value] string pairs', value);
      }
      map.set(pair[0], pair[1]);
    }
    return map;
  },
  write: (value) => Array.from(value),
};

/** Reads the fields a spec names, and only those (unknown keys from a newer node are dropped). */
function readFields(spec: Record<string, AnyField>, raw: Record<string, unknown>, at: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key in spec) {
    const field = spec[key]!;
    const value = Object.hasOwn(raw, key) ? raw[key] : undefined;
    if (value === undefined && field.omittable === true) continue;
    out[key] = field.read(value, `${at}.${key}`);
  }
  return out;
}

/** A writer for an object whose spec has fields to convert, or undefined when JSON carries it as it is. */
function writerOf(spec: Record<string, AnyField>): ((value: object) => unknown) | undefined {
  const converted = Object.entries(spec).filter(([, field]) => field.write !== undefined) as Array<[string, { write: (value: unknown) => unknown }]>;
  if (converted.length === 0) return undefined;
  return (value) => {
    const copy: Record<string, unknown> = { ...value };
    for (const [key, field] of converted) if (copy[key] !== undefined) copy[key] = field.write(copy[key]);
    return copy;
  };
}

function object<E>(spec: Spec<E>, name: string): Field<E> {
  const fields = spec as unknown as Record<string, AnyField>;
  const write = writerOf(fields);
  return {
    read: (value, at) => (isRecord(value) ? (readFields(fields, value, at) as E) : fail(at, `a ${name} object`, value)),
    ...(write === undefined ? {} : { write: write as (value: E) => unknown }),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The specs, one per event type of events.ts.

const userIntro = object<UserIntro>(
  {
    id: str,
    node: str,
    nick: str,
    user: str,
    host: str,
    ip: str,
    realname: str,
    modes: num,
    signonAt: num,
    account: maybe(str),
    accountId: maybe(num),
  },
  'UserIntro',
);
const multilineLine = object<MultilineLine>({ text: str, concat: bool }, 'MultilineLine');
const modeChange = object<ModeChange>({ adding: bool, letter: str, param: omittable(str) }, 'ModeChange');
const roleChange = object<RoleChange>({ accountId: num, accountName: str, rank: num }, 'RoleChange');
const messageCommand = oneOf('PRIVMSG', 'NOTICE', 'TAGMSG');

const SPECS: { readonly [T in NetworkEvent['type']]: Spec<EventOf<T>> } = {
  userRegistered: { user: userIntro },
  nickChanged: { id: str, nick: str, time: num, msgid: str },
  accountChanged: { id: str, account: maybe(str), accountId: maybe(num), time: num },
  userQuit: { id: str, reason: str, time: num, msgid: str },
  loginFailed: { key: str },
  loginSucceeded: { key: str },
  deviceNodeAdded: { id: str, node: str },
  deviceNodeRemoved: { id: str, node: str },
  awayChanged: { id: str, message: maybe(str), time: num },
  userModeChanged: { id: str, modes: num, changes: str, time: num },
  realnameChanged: { id: str, realname: str, time: num },
  hostChanged: { id: str, user: str, host: str, time: num },
  channelJoined: { id: str, channel: str, name: str, created: bool, time: num, msgid: str },
  channelParted: { id: str, channel: str, reason: maybe(str), time: num, msgid: str },
  memberKicked: { by: str, channel: str, target: str, reason: str, time: num, msgid: str },
  topicChanged: { by: str, channel: str, topic: str, time: num, msgid: str },
  channelModeChanged: { by: str, channel: str, changes: arrayOf(modeChange), roles: omittable(arrayOf(roleChange)), time: num, msgid: str },
  userInvited: { by: str, from: str, channel: str, name: str, target: str, admits: bool, time: num },
  channelMessage: {
    from: str,
    command: messageCommand,
    channel: str,
    target: str,
    minRank: num,
    text: str,
    tags: maybe(tags),
    time: num,
    msgid: str,
    device: maybe(str),
    lines: omittable(arrayOf(multilineLine)),
  },
  privateMessage: {
    from: str,
    command: messageCommand,
    to: str,
    text: str,
    tags: maybe(tags),
    time: num,
    msgid: str,
    device: maybe(str),
    lines: omittable(arrayOf(multilineLine)),
  },
  wallops: { source: str, text: str, time: num },
  messageRedacted: {
    from: str,
    device: maybe(str),
    channel: maybe(str),
    to: maybe(str),
    target: str,
    redacted: str,
    reason: maybe(str),
    time: num,
    msgid: str,
  },
  readMarkerMoved: { accountId: num, target: str, marker: num, device: maybe(str), time: num },
  roomRegistered: { channel: str, founderId: num, founderName: str, registeredAt: num, time: num },
  roomDropped: { channel: str, time: num },
  roomHistoryChanged: { channel: str, history: oneOf('everything', 'joined', null), time: num },
  roomFounderChanged: {
    channel: str,
    founderId: num,
    founderName: str,
    previousFounderId: num,
    previousFounderName: str,
    time: num,
  },
  roomRoleChanged: { channel: str, role: roleChange, time: num },
  accountRoomsForgotten: { accountId: num, time: num },
  viewOnceMessage: {
    from: str,
    device: maybe(str),
    command: oneOf('PRIVMSG', 'NOTICE'),
    channel: maybe(str),
    target: maybe(str),
    to: maybe(str),
    tags: maybe(tags),
    time: num,
    expiresAt: num,
    msgid: str,
    sealedFor: arrayOf(str),
    plainFor: arrayOf(str),
    text: maybe(str),
  },
  viewOnceOpened: { recipient: str, msgid: str, expiresAt: num, device: maybe(str), time: num },
};

/** Per event type, the converter for the types that have a Map (or another non-JSON value) somewhere. */
const WRITERS: { readonly [T in NetworkEvent['type']]?: (event: NetworkEvent) => unknown } = Object.fromEntries(
  Object.entries(SPECS).flatMap(([type, spec]) => {
    const write = writerOf(spec as unknown as Record<string, AnyField>);
    return write === undefined ? [] : [[type, write]];
  }),
);
