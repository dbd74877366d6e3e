/**
 * What a handler sees: its session, the network, the server's services, and a reply buffer.
 * Handlers never touch sockets; replies are queued here and flushed by the dispatcher after the handler,
 * which is where labels and batches will be added centrally (ARCHITECTURE.md lesson 3).
 */
import type { Network } from '../core/network.js';
import { Outbound } from '../core/outbound.js';
import type { Authenticator, LoginThrottle } from '../core/auth.js';
import type { Store } from '../core/store.js';
import type { CapValues } from '../protocol/caps.js';
import type { Session } from '../core/session.js';
import { isValidMiddleParam } from '../protocol/message.js';

/** Services of the running server that commands need and core does not own. */
export interface ServerServices {
  readonly network: Network;
  readonly auth: Authenticator;
  readonly store: Store;
  /** Failed logins, keyed "account:<name>" and "ip:<address>". */
  readonly loginThrottle: LoginThrottle;
  /** Values of the conditional caps (sasl, sts, ...) as this session should see them. */
  capValues(session: Session): CapValues;
  readonly version: string;
  /** Where the configuration came from, for REHASH's reply. */
  readonly configSource: string;
  /** Reloads the configuration; resolves to a description or rejects with the reason it was refused. */
  rehash(): Promise<void>;
  /** Connections not yet registered, for LUSERS. */
  unregisteredCount(): number;
  /** Writes a line for operators' eyes in the server log. */
  log(level: 'info' | 'warn' | 'error', fields: Record<string, unknown>, message: string): void;
}

export class CommandContext {
  /** PASS given before registration, checked when registration completes. */
  pendingPassword: string | undefined = undefined;
  private readonly replies: Outbound[] = [];

  constructor(
    readonly server: ServerServices,
    readonly session: Session,
  ) {}

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
    this.replies.push(new Outbound(this.network.settings.serverName, code, [this.session.nick, ...params], this.network.clock.now()));
  }

  /** Any message to this client only. */
  send(source: string | undefined, command: string, params: readonly string[]): void {
    this.replies.push(new Outbound(source, command, params, this.network.clock.now()));
  }

  /** From the server, e.g. PONG, CAP, FAIL. */
  fromServer(command: string, params: readonly string[]): void {
    this.send(this.network.settings.serverName, command, params);
  }

  flush(): void {
    const link = this.session.link;
    if (link !== undefined) for (const reply of this.replies) link.send(reply);
    this.replies.length = 0;
  }
}
