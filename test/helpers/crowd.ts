/**
 * A crowd of raw IRC members in a child process (`startCrowd`), for the huge-room test (issue 10): thousands of
 * sockets on the server's side and thousands on ours would not fit one process's descriptors, and counting the
 * crowd's lines here would take the CPU the server under test needs. Each member registers, joins one room, answers
 * PINGs, and checks that the room's "seq N" messages come in order, one after the other; the parent asks for a report.
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import net from 'node:net';

export interface CrowdOptions {
  readonly port: number;
  readonly members: number;
  readonly channel: string;
  /** Members registering and joining at once. */
  readonly batch: number;
}

export interface CrowdReport {
  /** Members whose socket is still open. */
  readonly open: number;
  /** Members closed by the server, and the first ERROR line one of them got. */
  readonly closed: number;
  readonly firstError: string | undefined;
  /** The fewest and most "seq" messages a member has got. */
  readonly fewest: number;
  readonly most: number;
  /** Members that got a "seq" out of order (a gap, a repeat or a step back). */
  readonly outOfOrder: number;
}

type ToCrowd = { readonly type: 'start'; readonly options: CrowdOptions } | { readonly type: 'report' };
type FromCrowd = { readonly type: 'joined'; readonly ms: number } | { readonly type: 'report'; readonly report: CrowdReport } | { readonly type: 'failed'; readonly error: string };

export interface Crowd {
  /** Resolves once every member has joined, with how long that took. */
  readonly joined: Promise<number>;
  report(): Promise<CrowdReport>;
  stop(): void;
}

const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

/** Forks this file as the crowd and starts it. */
export function startCrowd(options: CrowdOptions): Crowd {
  const child = fork(new URL(import.meta.url).pathname, ['--crowd'], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    // Structured clone, not JSON: a report's undefined fields stay there.
    serialization: 'advanced',
  });
  children.add(child);
  const reports: Array<(report: CrowdReport) => void> = [];
  let failure: ((error: Error) => void) | undefined;
  const joined = new Promise<number>((resolve, reject) => {
    failure = reject;
    child.on('message', (message: FromCrowd) => {
      if (message.type === 'joined') resolve(message.ms);
      else if (message.type === 'report') reports.shift()?.(message.report);
      else reject(new Error(`the crowd failed: ${message.error}`));
    });
  });
  child.once('exit', (code) => {
    children.delete(child);
    failure?.(new Error(`the crowd exited (${String(code)})`));
  });
  send(child, { type: 'start', options });
  return {
    joined,
    report: () =>
      new Promise<CrowdReport>((resolve) => {
        reports.push(resolve);
        send(child, { type: 'report' });
      }),
    stop: () => {
      child.kill('SIGKILL');
    },
  };
}

function send(target: ChildProcess | NodeJS.Process, message: ToCrowd | FromCrowd): void {
  target.send?.(message);
}

// ---- the child -----------------------------------------------------------------------------------------------

class Member {
  received = 0;
  outOfOrder = false;
  closed = false;
  error: string | undefined = undefined;
  private joined = false;
  private tail = '';

  constructor(
    readonly socket: net.Socket,
    private readonly marker: string,
    private readonly onJoined: () => void,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.read(chunk);
    });
    socket.on('error', () => {
      // A reset is a close here; the report counts it.
    });
    socket.on('close', () => {
      this.closed = true;
    });
  }

  private read(chunk: Buffer): void {
    const text = this.tail + chunk.toString('utf8');
    const lines = text.split('\r\n');
    this.tail = lines.pop() ?? '';
    for (const line of lines) {
      const at = line.indexOf(this.marker);
      if (at !== -1) {
        const seq = Number(line.slice(at + this.marker.length));
        if (seq !== this.received) this.outOfOrder = true;
        this.received++;
      } else if (!this.joined && line.includes(' 366 ')) {
        this.joined = true;
        this.onJoined();
      } else if (line.startsWith('PING ')) {
        // Joining thousands takes minutes: a member that did not answer would be dropped by the ping timeout.
        this.socket.write(`PONG ${line.slice('PING '.length)}\r\n`);
      } else if (line.startsWith('ERROR ')) {
        this.error ??= line;
      }
    }
  }
}

async function runCrowd(options: CrowdOptions): Promise<Member[]> {
  const members: Member[] = [];
  const start = Date.now();
  for (let first = 0; first < options.members; first += options.batch) {
    const group: Array<Promise<void>> = [];
    for (let i = first; i < Math.min(options.members, first + options.batch); i++) {
      group.push(
        new Promise<void>((resolve, reject) => {
          const socket = net.connect({ port: options.port, host: '127.0.0.1' });
          socket.once('error', reject);
          const member = new Member(socket, ` PRIVMSG ${options.channel} :seq `, resolve);
          socket.once('close', () => {
            reject(new Error(`member ${String(i)} was closed while joining: ${member.error ?? 'no ERROR'}`));
          });
          members.push(member);
          socket.write(`NICK c${String(i)}\r\nUSER c${String(i)} 0 * :c\r\nJOIN ${options.channel}\r\n`);
        }),
      );
    }
    await Promise.all(group);
  }
  send(process, { type: 'joined', ms: Date.now() - start });
  return members;
}

function reportOf(members: readonly Member[]): CrowdReport {
  let fewest = Infinity;
  let most = 0;
  for (const member of members) {
    fewest = Math.min(fewest, member.received);
    most = Math.max(most, member.received);
  }
  return {
    open: members.filter((member) => !member.closed).length,
    closed: members.filter((member) => member.closed).length,
    firstError: members.find((member) => member.error !== undefined)?.error,
    fewest: members.length === 0 ? 0 : fewest,
    most,
    outOfOrder: members.filter((member) => member.outOfOrder).length,
  };
}

if (process.argv.includes('--crowd')) {
  let members: Member[] = [];
  process.on('message', (message: ToCrowd) => {
    if (message.type === 'start') {
      runCrowd(message.options).then(
        (all) => {
          members = all;
        },
        (error: unknown) => {
          send(process, { type: 'failed', error: error instanceof Error ? error.message : String(error) });
        },
      );
    } else {
      send(process, { type: 'report', report: reportOf(members) });
    }
  });
  // The test process went away: so does the crowd.
  process.on('disconnect', () => {
    process.exit(0);
  });
}
