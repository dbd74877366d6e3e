/**
 * `natter connect [HOST[:PORT]]` (issue 8, docs/terminal-client.md): finds the host (the address given, or one picked
 * from the hosts advertised on the LAN), checks its TLS certificate by trust on first use, signs in, and then hands
 * the terminal to the full-screen client (src/tui). Everything before the full screen prints plain lines, so a
 * refused password or a changed certificate is read on a normal terminal and stays there after exit.
 */
import { createInterface } from 'node:readline/promises';
import { isIP } from 'node:net';
import { userInfo } from 'node:os';
import { ChatClient } from '../client/index.js';
import { ConnectError, formatTarget, parseAddress } from '../tui/address.js';
import type { ConnectTarget } from '../tui/address.js';
import { KnownHosts, knownHostsPath } from '../tui/known-hosts.js';
import { describeAuthorizationError, fetchPeerCertificate, tcpTransport } from '../tui/tcp-transport.js';
import { safeText } from '../tui/view.js';
import { readPassword } from './account.js';
import { discoverHosts } from './host-discovery.js';
import type { DiscoveredHost } from './host-discovery.js';

export interface ConnectFlags {
  nick?: string;
  account?: string;
  /** Create the account (with --account) while connecting. */
  register?: boolean;
  /** true with --tls, false with --no-tls, undefined: from the address. */
  tls?: boolean;
  /** Only list the hosts found on the LAN. */
  list?: boolean;
  /** Forget the remembered certificate of the address, then stop. */
  forget?: boolean;
  /** How long to look for hosts on the LAN, in seconds. */
  wait?: number;
}

/** How the user picked the host: typed its address, or picked it from the LAN (with the fingerprint it advertised). */
interface Destination {
  readonly target: ConnectTarget;
  readonly name: string;
  readonly advertisedFingerprint?: string;
}

const DEFAULT_DISCOVERY_SECONDS = 3;
/** How long to wait for the server to welcome us before giving up with its last words. */
const SIGN_IN_TIMEOUT_MS = 20_000;
/** Exit codes (main.ts): 1 no host found, or the server could not be reached or refused the sign-in. */
export class SignInError extends Error {}
/** Exit code 3: the certificate is not the one remembered (or advertised). */
export class CertificateChangedError extends Error {}

function say(text: string): void {
  process.stderr.write(`${text}\n`);
}

/** A nick from the login name: letters, digits and IRC's specials, as a first guess a user can change with --nick. */
export function defaultNick(account: string | undefined, login: () => string = () => userInfo().username): string {
  if (account !== undefined) return account;
  let name = '';
  try {
    name = login();
  } catch {
    // No user name (a container without /etc/passwd entry): a guest name below.
  }
  const cleaned = name.replace(/[^A-Za-z0-9_\-[\]\\`^{}|]/g, '').replace(/^[-0-9]+/, '').slice(0, 20);
  return cleaned === '' ? `guest${String(Math.floor(Math.random() * 9000) + 1000)}` : cleaned;
}

/** The address to dial for a host found on the LAN: IPv4 first (link-local IPv6 needs a zone), TLS on its TLS port. */
export function destinationOf(host: DiscoveredHost, tls: boolean | undefined): Destination {
  const address = host.addresses.find((candidate) => isIP(candidate) === 4) ?? host.addresses[0] ?? host.host;
  const useTls = tls ?? true;
  return {
    target: { host: address, port: useTls ? host.tlsPort : host.ircPort, tls: useTls },
    // Any device on the LAN can advertise any name: it reaches the terminal as text only.
    name: safeText(host.name),
    ...(useTls ? { advertisedFingerprint: host.fingerprint } : {}),
  };
}

function describeHost(host: DiscoveredHost, index: number): string {
  const address = host.addresses.find((candidate) => isIP(candidate) === 4) ?? host.addresses[0] ?? host.host;
  return `  ${String(index + 1)}. ${safeText(host.name)} — ${safeText(address)} (IRC ${String(host.ircPort)}, TLS ${String(host.tlsPort)}, web http://${address.includes(':') ? `[${address}]` : address}:${String(host.webPort)})`;
}

async function findOnLan(seconds: number): Promise<DiscoveredHost[]> {
  say(`Looking for Natter hosts on this network (${String(seconds)} s)…`);
  const told = new Set<string>();
  const hosts = await discoverHosts(seconds * 1000, {
    onError(error) {
      // Once each: a socket that cannot join the multicast group says so on every try.
      if (told.has(error.message)) return;
      told.add(error.message);
      say(`natter: looking on the LAN: ${error.message}`);
    },
  });
  return hosts.sort((a, b) => a.name.localeCompare(b.name));
}

async function pickHost(hosts: readonly DiscoveredHost[]): Promise<DiscoveredHost> {
  say(`Found ${String(hosts.length)} host${hosts.length === 1 ? '' : 's'}:`);
  hosts.forEach((host, index) => {
    say(describeHost(host, index));
  });
  if (hosts.length === 1 && !process.stdin.isTTY) return hosts[0]!;
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  try {
    for (;;) {
      const answer = (await prompt.question(`Which one? [1-${String(hosts.length)}, Enter for 1] `)).trim();
      const index = answer === '' ? 0 : Number(answer) - 1;
      const host = Number.isInteger(index) ? hosts[index] : undefined;
      if (host !== undefined) return host;
      say(`Type a number from 1 to ${String(hosts.length)}.`);
    }
  } finally {
    prompt.close();
  }
}

/**
 * Trust on first use (as SSH): a certificate the system's authorities vouch for is trusted as is; a self-signed one
 * is remembered the first time and must be the same ever after. Returns the fingerprint to pin, if any.
 */
async function checkCertificate(destination: Destination, knownHosts: KnownHosts, file: string): Promise<string | undefined> {
  const { target } = destination;
  const where = formatTarget(target);
  const certificate = await fetchPeerCertificate(target.host, target.port).catch((error: unknown) => {
    throw new SignInError(`cannot reach ${where} over TLS: ${error instanceof Error ? error.message : String(error)}${target.port === 6667 ? ' (6667 is usually plain IRC: try --no-tls)' : ''}`);
  });
  if (certificate.authorized) return undefined;
  const { fingerprint } = certificate;
  const advertised = destination.advertisedFingerprint;
  if (advertised !== undefined && normalized(advertised) !== normalized(fingerprint)) {
    throw new CertificateChangedError(
      [
        `WARNING: ${where} presents a certificate that is NOT the one “${destination.name}” advertises on the LAN.`,
        `  advertised: ${advertised}`,
        `  presented:  ${fingerprint}`,
        'Someone else may be answering for the host. Not connecting.',
      ].join('\n'),
    );
  }
  const check = knownHosts.check(where, fingerprint);
  if (check.kind === 'changed') {
    throw new CertificateChangedError(
      [
        '@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@',
        `WARNING: THE CERTIFICATE OF ${where} HAS CHANGED.`,
        '@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@',
        `  remembered on ${check.since}: ${check.remembered}`,
        `  presented now:              ${fingerprint}`,
        'Someone may be intercepting the connection, or the host made a new certificate. Not connecting.',
        `If the host tells you its fingerprint is the new one, forget the old one with: natter connect --forget ${where}`,
        `(remembered in ${file})`,
      ].join('\n'),
    );
  }
  if (check.kind === 'new') {
    knownHosts.remember(where, fingerprint);
    say(`No authority vouches for the host's certificate (${describeAuthorizationError(certificate.authorizationError)}): trusting it on first use.`);
    say(`  SHA-256 fingerprint: ${fingerprint}`);
    say(advertised !== undefined ? '  It matches the fingerprint the host advertises on the LAN.' : '  Compare it with the one `natter host` printed on the host’s screen.');
    say(`Remembered in ${file}: natter connect will refuse to connect if it ever changes.`);
  }
  return fingerprint;
}

function normalized(fingerprint: string): string {
  return fingerprint.replace(/:/g, '').toUpperCase();
}

/** The newest error the engine noted in the server buffer ("Disconnected: connection refused by …"). */
function lastError(client: ChatClient): string | undefined {
  return client.state.buffers.get('*')?.messages.findLast((message) => message.kind === 'error')?.text;
}

/**
 * Connects and waits for the welcome. Before it, a dropped connection is not retried: the user is told why (the
 * server's words for a refused password, or the network's) on the plain terminal.
 */
function signIn(client: ChatClient): Promise<void> {
  return new Promise((resolve, reject) => {
    const fail = (why: string): void => {
      clearTimeout(timer);
      unsubscribe();
      client.close();
      reject(new SignInError(why));
    };
    const timer = setTimeout(() => {
      fail(`no welcome from the server after ${String(SIGN_IN_TIMEOUT_MS / 1000)} s`);
    }, SIGN_IN_TIMEOUT_MS);
    const unsubscribe = client.subscribe((state) => {
      if (state.status === 'connected') {
        clearTimeout(timer);
        unsubscribe();
        resolve();
      } else if (state.status === 'disconnected' || state.status === 'reconnecting') {
        fail(safeText(state.lastError !== undefined ? `the server refused: ${state.lastError}` : `could not connect: ${(lastError(client) ?? 'the connection closed').replace(/^Disconnected: /, '')}`));
      }
    });
    client.start();
  });
}

export async function connect(address: string | undefined, flags: ConnectFlags): Promise<void> {
  const file = knownHostsPath();
  if (flags.forget === true) {
    if (address === undefined) throw new ConnectError('--forget: give the address whose certificate to forget, e.g. natter connect --forget 192.168.1.20:6697');
    const where = formatTarget(parseAddress(address, flags.tls));
    say(KnownHosts.load(file).forget(where) ? `Forgot the certificate of ${where}.` : `No certificate remembered for ${where} (in ${file}).`);
    return;
  }
  if (flags.register === true && flags.account === undefined) throw new ConnectError('--register: give the account to create with --account NAME');

  let destination: Destination;
  if (address === undefined || flags.list === true) {
    const hosts = await findOnLan(flags.wait ?? DEFAULT_DISCOVERY_SECONDS);
    if (flags.list === true) {
      if (hosts.length === 0) say('No Natter host found.');
      hosts.forEach((host, index) => {
        process.stdout.write(`${describeHost(host, index)}\n`);
      });
      return;
    }
    if (hosts.length === 0) {
      throw new SignInError('no Natter host found on this network. Ask the host for its address and run: natter connect HOST[:PORT] (it is printed by natter host)');
    }
    destination = destinationOf(await pickHost(hosts), flags.tls);
  } else {
    const target = parseAddress(address, flags.tls);
    destination = { target, name: formatTarget(target) };
  }
  if (!process.stdout.isTTY || !process.stdin.isTTY) throw new ConnectError('natter connect is a full-screen program: run it in a terminal');

  const { target } = destination;
  const where = formatTarget(target);
  const pinned = target.tls ? await checkCertificate(destination, KnownHosts.load(file), file) : undefined;
  if (!target.tls) say(`Connecting to ${where} without TLS: others on the network can read this chat. (Use --tls where the host offers it.)`);

  const nick = flags.nick ?? defaultNick(flags.account);
  let password: string | undefined;
  if (flags.account !== undefined) {
    password = process.env['NATTER_PASSWORD'] ?? (await readPassword(`Password for ${flags.account}: `));
    if (password === '') throw new ConnectError('--account: no password was given');
  }
  // The transport calls back only once connections are made, after `client` is set.
  const client: ChatClient = new ChatClient({
    transport: tcpTransport({
      host: target.host,
      port: target.port,
      tls: target.tls,
      ...(pinned === undefined ? {} : { pinnedFingerprint: pinned }),
      onCertificateMismatch(actual) {
        // Between two connections of this session: said loudly where the user looks, and no more retries.
        client.act({ type: 'note', name: '*', kind: 'error', time: Date.now(), text: `WARNING: the certificate of ${where} CHANGED (now ${actual}, remembered ${pinned ?? '?'}). Not reconnecting: someone may be intercepting the connection.` });
        client.act({ type: 'focus', name: '*' });
        client.close();
      },
    }),
    nick,
    realname: nick,
    ...(flags.account !== undefined && password !== undefined
      ? flags.register === true
        ? { register: { account: flags.account, password } }
        : { login: { account: flags.account, password } }
      : {}),
  });
  say(`Connecting to ${destination.name === where ? where : `“${destination.name}” at ${where}`} as ${nick}…`);
  await signIn(client);

  // A full-screen app on a real terminal is interactive whatever the environment says: ink renders only a final frame
  // when it sees CI set, so it is cleared before ink is loaded (it reads it once, at import).
  delete process.env['CI'];
  delete process.env['CONTINUOUS_INTEGRATION'];
  const { runApp } = await import('../tui/run-app.js');
  await runApp({ client, place: destination.name });
  say(`Disconnected from ${where}.`);
}
