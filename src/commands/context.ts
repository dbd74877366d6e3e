/**
 * What a handler sees: its session, the network, the server's services, and a reply buffer.
 * Handlers never touch sockets; replies are queued here and flushed by the dispatcher after the handler,
 * which is where labels and batches will be added centrally (ARCHITECTURE.md lesson 3).
 */
import type { Network } from '../core/network.js';
import { Outbound } from '../core/outbound.js';
import type { Authenticator, LoginAttempts } from '../core/auth.js';
import type { Store } from '../core/store.js';
import type { UploadJanitor } from '../core/uploads.js';
import type { CapValues } from '../protocol/caps.js';
import type { Device, Session } from '../core/session.js';
import { Cap } from '../protocol/caps.js';
import { escapeTagValue } from '../protocol/tags.js';
import { isValidMiddleParam } from '../protocol/message.js';
import { carriesOwnBatch, isOneMultilineBatch } from '../core/multiline.js';
import type { MultilineInput } from './batch.js';

/** Services of the running server that commands need and core does not own. */
export interface ServerServices {
  readonly network: Network;
  readonly auth: Authenticator;
  readonly store: Store;
  /** Failed logins, keyed "account:<name>" and "ip:<address>". */
  readonly loginThrottle: LoginAttempts;
  /** Deletes the uploads of deleted messages and accounts (issue 7); undefined where nothing keeps uploads. */
  readonly uploads: UploadJanitor | undefined;
  /** Values of the conditional caps (sasl, sts, ...) as this session should see them. */
  capValues(device: Device): CapValues;
  readonly version: string;
  /** Where the configuration came from, for REHASH's reply. */
  readonly configSource: string;
  /** Reloads the configuration; resolves to a description or rejects with the reason it was refused. */
  rehash(): Promise<void>;
  /** Connections not yet registered, for LUSERS. */
  unregisteredCount(): number;
  /**
   * Writes a line for operators' eyes in the server log: through `logger` when it is about one connection (its lines
   * carry the session id). An error is also counted for the metrics by its `kind` field ("store", "command", ...).
   */
  log(level: LogLevel, fields: Record<string, unknown>, message: string, logger?: SessionLogger): void;
}

export type LogLevel = 'info' | 'warn' | 'error';

/** A logger bound to one connection (a pino child made once per connection, with its session id). */
export interface SessionLogger {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

/** One queued reply, and the batch (by reference tag) it belongs to, if any. */
interface Reply {
  readonly message: Outbound;
  readonly batch: string | undefined;
}

export class CommandContext {
  /** PASS given before registration, checked when registration completes. */
  pendingPassword: string | undefined = undefined;
  /** The last nick asked for before registration, even if it was refused (multi-device joins need none). */
  wantedNick: string | undefined = undefined;
  /** The label of the command being run (IRCv3 labeled-response), when its connection negotiated it. */
  label: string | undefined = undefined;
  /** True while a labeled command runs: the connection hands what it causes here (see captures()). */
  capturing = false;
  /** The session's prefix when the labeled command began (a NICK changes it mid-command). */
  private captureSource = '';
  /** draft/multiline: the batch this connection is sending, if any (commands/batch.ts). */
  multiline: MultilineInput | undefined = undefined;
  private readonly replies: Reply[] = [];
  /** Open batches, innermost last: what is queued now goes into the last one. */
  private readonly openBatches: string[] = [];
  private nextBatchRef = 0;

  constructor(
    readonly server: ServerServices,
    /** The user; replaced when this connection joins an account's session already online (multi-device). */
    public session: Session,
    /** This connection: replies go to it alone, and its caps decide their form. */
    readonly device: Device,
    /** This connection's log lines, with its session id; without it lines go to the server's log as they are. */
    readonly logger?: SessionLogger,
  ) {}

  /** Writes a line about this connection to the server log (ServerServices.log), with its session id. */
  log(level: LogLevel, fields: Record<string, unknown>, message: string): void {
    this.server.log(level, fields, message, this.logger);
  }

  get network(): Network {
    return this.server.network;
  }

  /**
   * A numeric from the server, addressed to this client ("*" before it has a nick). A middle parameter
   * echoing client input that cannot be one (empty, holding a space, starting with ':', e.g. the nick
   * in "NICK :a b") becomes "*", so the reply stays one well-formed line.
   */
  numeric(code: string, ...params: string[]): void {
    const last = params.length - 1;
    for (let i = 0; i < last; i++) if (!isValidMiddleParam(params[i] ?? '')) params[i] = '*';
    this.push(new Outbound(this.network.settings.serverName, code, [this.session.nick, ...params], this.network.clock.now()));
  }

  /** Any message to this client only. */
  send(source: string | undefined, command: string, params: readonly string[]): void {
    this.push(new Outbound(source, command, params, this.network.clock.now()));
  }

  /** From the server, e.g. PONG, CAP, FAIL. */
  fromServer(command: string, params: readonly string[]): void {
    this.send(this.network.settings.serverName, command, params);
  }

  /** IRCv3 standard-replies: FAIL/WARN/NOTE <command> <code> [context...] :<description>. */
  standardReply(kind: 'FAIL' | 'WARN' | 'NOTE', command: string, code: string, ...rest: string[]): void {
    // Context a client wrote (a tag value, a trailing parameter) may not be writable as a middle parameter: '*' in
    // its place, as numeric() does, or the client would read the parameters shifted (test/fuzz-regressions.test.ts).
    const last = rest.length - 1;
    for (let i = 0; i < last; i++) if (!isValidMiddleParam(rest[i] ?? '')) rest[i] = '*';
    this.fromServer(kind, [command, code, ...rest]);
  }

  /** Starts a labeled command (IRCv3 labeled-response): its replies, and what it causes here, form one response. */
  beginLabeled(label: string): void {
    this.label = label;
    this.capturing = true;
    this.captureSource = this.session.prefix;
  }

  /**
   * Whether a message reaching this connection during a labeled command is part of its response: what the user
   * or the server sent (the JOIN echoed, the MODE of a role given on joining), not another user's message
   * arriving meanwhile.
   */
  captures(message: Outbound): boolean {
    const { source } = message;
    return source === undefined || source === this.captureSource || source === this.session.prefix || source === this.network.settings.serverName;
  }

  /** Queues an already-built message (a history item, a message of the network) as a reply. */
  push(message: Outbound): void {
    this.replies.push({ message, batch: this.openBatches.at(-1) });
  }

  /**
   * Runs `fill` with its replies inside an IRCv3 batch of `type` (chathistory, draft/multiline, ...). Without the
   * batch cap the replies are sent as they are, with no BATCH lines around them.
   */
  batch(type: string, params: readonly string[], fill: () => void): void {
    if (!this.device.hasCap(Cap.batch)) {
      fill();
      return;
    }
    const ref = this.newBatchRef();
    this.fromServer('BATCH', [`+${ref}`, type, ...params]);
    this.openBatches.push(ref);
    try {
      fill();
    } finally {
      this.openBatches.pop();
      this.fromServer('BATCH', [`-${ref}`]);
    }
  }

  /**
   * A reference tag unique on this connection, which is all IRCv3 batch asks; letters and digits only, as it
   * requires (a device id holds the node id and a dot). Multiline batches use "ml<msgid>" (core/multiline.ts).
   */
  newBatchRef(): string {
    return `b${(this.nextBatchRef++).toString(36)}`;
  }

  /** Writes what is queued so far, unless the command is labeled (its response is sent whole, at the end). */
  flushPartial(): void {
    if (this.label === undefined) this.flush();
  }

  /**
   * Writes the queued replies to this connection. A labeled command gets exactly one response (IRCv3
   * labeled-response): ACK for none, the label on the one reply, or a labeled-response batch around several.
   */
  flush(): void {
    const { link } = this.device;
    const { label } = this;
    const replies = this.replies;
    if (label === undefined) {
      for (const reply of replies) {
        if (reply.batch === undefined) link.send(reply.message);
        // A multiline line has its own batch tag (it nests in this batch through its BATCH lines).
        else link.sendTagged(reply.message, carriesOwnBatch(reply.message) ? '' : `batch=${reply.batch}`);
      }
      replies.length = 0;
      return;
    }
    this.label = undefined;
    this.capturing = false;
    const labelTag = `label=${escapeTagValue(label)}`;
    const serverName = this.network.settings.serverName;
    const now = this.network.clock.now();
    if (replies.length === 0) {
      link.sendTagged(new Outbound(serverName, 'ACK', [], now), labelTag);
    } else if (replies.length === 1 && replies[0] !== undefined && replies[0].batch === undefined) {
      link.sendTagged(replies[0].message, labelTag);
    } else if (!this.device.hasCap(Cap.batch)) {
      // Without batch the label may go on one message only (labeled-response, "batch" not enabled).
      replies.forEach((reply, index) => {
        link.sendTagged(reply.message, index === 0 ? labelTag : '');
      });
    } else if (replies.every((reply) => reply.batch === undefined) && isOneMultilineBatch(replies.map((reply) => reply.message))) {
      // The echo of a labeled draft/multiline batch: the label goes on its opening BATCH alone (multiline, "Labeled response").
      replies.forEach((reply, index) => {
        link.sendTagged(reply.message, index === 0 ? labelTag : '');
      });
    } else {
      const ref = this.newBatchRef();
      link.sendTagged(new Outbound(serverName, 'BATCH', [`+${ref}`, 'labeled-response'], now), labelTag);
      for (const reply of replies) link.sendTagged(reply.message, carriesOwnBatch(reply.message) ? '' : `batch=${reply.batch ?? ref}`);
      link.sendTagged(new Outbound(serverName, 'BATCH', [`-${ref}`], now), '');
    }
    replies.length = 0;
  }
}
