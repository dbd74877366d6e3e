/** The `natter` command line. */
import { Command, InvalidArgumentError, Option } from 'commander';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { ConfigError, loadConfig } from '../config/load.js';
import type { ConfigOverrides } from '../config/load.js';
import { hashPassword } from '../auth/authenticator.js';
import { CertificateError } from '../net/certificates.js';
import { StoreOpenError } from '../store/kysely-store.js';
import { AccountCommandError, addAccount, deleteAccount, listAccounts, readPassword, setAccountOper, setAccountPassword } from './account.js';
import type { StoreFlags } from './account.js';
import { ClusterStatusError, clusterStatus } from './cluster-status.js';
import type { ClusterStatusFlags } from './cluster-status.js';
import { startNatter, stopOnSignals, VERSION } from './compose.js';
import { doctor } from './doctor.js';
import type { DoctorFlags } from './doctor.js';
import { DEFAULT_IRC_PORT, DEFAULT_WEB_PORT, host, portOption, TLS_PORT_OFFSET } from './host.js';
import type { HostFlags } from './host.js';
import { HostError } from './host-identity.js';
import { CertificateChangedError, SignInError, connect } from './connect.js';
import type { ConnectFlags } from './connect.js';
import { ConnectError } from '../tui/address.js';

function makeLogger(level: string): Logger {
  // Pretty, human lines on a terminal; one JSON object per line otherwise (for log collectors).
  if (process.stdout.isTTY) return pino({ level, transport: { target: 'pino-pretty', options: { colorize: true } } });
  return pino({ level });
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

interface ServeFlags {
  listen?: string[];
  listenTls?: string[];
  http?: string[];
  https?: string[];
  tlsCert?: string;
  tlsKey?: string;
  database?: string;
  serverName?: string;
  networkName?: string;
  data?: string;
  config?: string;
  logLevel?: string;
  /** false with --no-history. */
  history?: boolean;
  cluster?: string;
}

async function serve(flags: ServeFlags): Promise<void> {
  const overrides: ConfigOverrides = {};
  if (flags.listen !== undefined) overrides.listen = flags.listen;
  if (flags.serverName !== undefined) overrides.serverName = flags.serverName;
  if (flags.networkName !== undefined) overrides.networkName = flags.networkName;
  if (flags.data !== undefined) overrides.data = flags.data;
  if (flags.logLevel !== undefined) overrides.logLevel = flags.logLevel;
  if (flags.database !== undefined) overrides.database = flags.database;
  if (flags.history === false) overrides.history = { enabled: false };
  if (flags.http !== undefined) overrides.http = { listen: flags.http };
  if (flags.https !== undefined) overrides.https = { listen: flags.https };
  if (flags.cluster !== undefined) overrides.cluster = { redis: flags.cluster };
  if (flags.listenTls !== undefined || flags.tlsCert !== undefined || flags.tlsKey !== undefined) {
    overrides.tls = {
      ...(flags.listenTls === undefined ? {} : { listen: flags.listenTls }),
      ...(flags.tlsCert === undefined ? {} : { cert: flags.tlsCert }),
      ...(flags.tlsKey === undefined ? {} : { key: flags.tlsKey }),
    };
  }
  const reload = () => loadConfig(flags.config, overrides);
  const config = await reload();
  const logger = makeLogger(config.logLevel);
  const natter = await startNatter({
    config,
    logger,
    configSource: flags.config ?? 'command line',
    reload,
    onClusterLost(why) {
      // The others have dropped this node's users: its view of the network is stale for good. A supervisor (systemd,
      // a container runtime) starts it again, as a new node.
      logger.fatal({ why }, 'this node left the cluster; exiting');
      void natter.stop('This server left the cluster').finally(() => process.exit(1));
    },
  });
  // Before the lines that say it runs: a signal sent on reading them must find the handler.
  stopOnSignals(natter, logger, 'Server shutting down');
  const { tls } = natter;
  if (tls !== undefined) {
    // Also outside the log (which may be JSON, or silenced): users compare it with what their client shows.
    process.stderr.write(`natter: TLS certificate ${tls.source}: SHA-256 fingerprint ${tls.fingerprint}\n`);
  }
  logger.info({ version: VERSION, serverName: config.serverName, network: config.networkName }, 'Natter is running');
  process.on('SIGHUP', () => {
    natter.server.rehash().catch((error: unknown) => {
      logger.error({ reason: error instanceof Error ? error.message : String(error) }, 'configuration reload refused; keeping the old one');
    });
  });
}

/** --data, --database and --config on every `natter account` command, so they may come after the name. */
function withStoreOptions(command: Command): Command {
  return command
    .option('--data <dir>', 'the data folder (default: the same as natter serve)')
    .option('--database <url>', 'a PostgreSQL URL instead of the data folder, postgres://user@host:port/database')
    .option('--config <file>', 'the JSON configuration file natter serve uses (for data, database, casemapping and password rules)');
}

/** Errors that are a plain one-line message: the exit code for each; anything else is a bug and shows its stack. */
function exitCodeOf(error: unknown): number | undefined {
  if (error instanceof AccountCommandError || error instanceof SignInError || error instanceof ClusterStatusError) return 1;
  if (error instanceof CertificateChangedError) return 3;
  if (error instanceof ConfigError || error instanceof ConnectError || error instanceof StoreOpenError || error instanceof CertificateError || error instanceof HostError) return 2;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  // Binding a listener: the address is taken, not ours, or needs privileges.
  if (code === 'EADDRINUSE' || code === 'EADDRNOTAVAIL' || code === 'EACCES') return 2;
  return undefined;
}

function secondsOption(option: string): (value: string) => number {
  return (value) => {
    const seconds = Number(value);
    if (!/^\d+(\.\d+)?$/.test(value) || seconds <= 0 || seconds > 60) throw new InvalidArgumentError(`${option}: expected seconds between 0 and 60, got "${value}"`);
    return seconds;
  };
}

export async function main(argv: string[]): Promise<void> {
  const program = new Command();
  program.name('natter').description('A self-hosted chat server that speaks IRC.').version(VERSION);

  program
    .command('serve')
    .description('run a Natter server')
    .option('--listen <host:port>', 'IRC over plain TCP; repeat for several (default 127.0.0.1:6667)', collect)
    .option('--server-name <name>', 'the server name shown to clients (default natter.local)')
    .option('--network-name <name>', 'the network name shown to clients (default Natter)')
    .option('--listen-tls <host:port>', 'IRC over TLS; repeat for several (none by default)', collect)
    .option('--http <host:port>', 'the web client, IRC over WebSocket and /healthz over HTTP; repeat for several (none by default)', collect)
    .option('--https <host:port>', 'the same over HTTPS and wss, with the TLS certificate (--tls-cert, else self-signed); repeat for several (none by default)', collect)
    .option('--tls-cert <file>', 'the TLS certificate (PEM); without it a self-signed one is made in the data folder')
    .option('--tls-key <file>', 'the private key of --tls-cert (PEM)')
    .option('--data <dir>', 'the data folder')
    .option('--database <url>', 'keep accounts and rooms in PostgreSQL, postgres://user@host:port/database, instead of the data folder')
    .option('--config <file>', 'a JSON configuration file (see docs/configuration.md)')
    .option('--no-history', 'keep no message history (CHATHISTORY answers that none is kept)')
    .option('--cluster <redis-url>', 'cluster mode: serve one network with the other nodes on this Redis, redis://host:port (needs --database; see docs/cluster.md)')
    .addOption(new Option('--log-level <level>', 'how much to log').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']))
    .action(serve);

  program
    .command('host')
    .description('host a chat on this machine for everyone on the network: IRC, IRC over TLS and the web client on every interface')
    .option('--port <n>', `IRC over plain TCP (default ${String(DEFAULT_IRC_PORT)}; 0 picks free ports for every port not given)`, portOption('--port'))
    .option('--tls-port <n>', `IRC over TLS, with a self-signed certificate made once (default --port + ${String(TLS_PORT_OFFSET)}, so ${String(DEFAULT_IRC_PORT + TLS_PORT_OFFSET)})`, portOption('--tls-port'))
    .option('--web-port <n>', `the web client and IRC over WebSocket (default ${String(DEFAULT_WEB_PORT)})`, portOption('--web-port'))
    .option('--name <name>', 'the room\'s name, e.g. "Book club" for #book-club (default: the last one, else Lobby)')
    .option('--data <dir>', 'the data folder (default: the user\'s data folder, as for natter serve)')
    .option('--no-open', 'do not open a browser (the one-time sign-in link is printed instead)')
    .option('--no-advertise', 'do not advertise the host on the LAN over mDNS/DNS-SD (natter connect will not find it by itself)')
    .addOption(new Option('--log-level <level>', 'how much to log, on standard error (default warn)').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']))
    .addHelpText('after', '\nSee docs/host.md.')
    .action((flags: HostFlags) => host(flags));

  program
    .command('connect')
    .description('chat in the terminal: a full-screen client for a Natter host (or any IRC server); without an address, pick one found on the LAN')
    .argument('[address]', 'HOST[:PORT], [IPv6]:PORT, irc://HOST[:PORT] or ircs://HOST[:PORT] (default port 6697 with TLS)')
    .option('--nick <nick>', 'your nick (default: the account, else your login name)')
    .option('--account <name>', 'log in to this account; the password is asked for (or read from NATTER_PASSWORD)')
    .option('--register', 'create the --account while connecting')
    .option('--tls', 'use TLS (the default, except on port 6667)')
    .option('--no-tls', 'plain TCP: others on the network can read the chat')
    .option('--list', 'only list the hosts found on the LAN')
    .option('--wait <seconds>', 'how long to look for hosts on the LAN (default 3)', secondsOption('--wait'))
    .option('--forget', 'forget the remembered TLS certificate of the address (after the host made a new one)')
    .addHelpText('after', '\nKeys and commands: /help inside the client. See docs/terminal-client.md.')
    .action((address: string | undefined, flags: ConnectFlags) => connect(address, flags));

  program
    .command('hash-password')
    .description('read a password on standard input and print its argon2id hash, for "opers" in the config')
    .action(async () => {
      const password = await readPassword('Password: ');
      if (password.length === 0) throw new ConfigError('hash-password: no password was given on standard input');
      process.stdout.write(`${await hashPassword(password)}\n`);
    });

  const account = program
    .command('account')
    .description('manage accounts in the data folder (or --database); works while the server runs')
    .addHelpText('after', '\nPasswords are read from standard input: typed without echo on a terminal, or the first line of a pipe.');
  withStoreOptions(account.command('add').argument('<name>', 'the account name').description('create an account; the password is read from standard input')).action(
    (name: string, flags: StoreFlags) => addAccount(name, flags),
  );
  withStoreOptions(account.command('list').description('list the accounts')).action((flags: StoreFlags) => listAccounts(flags));
  withStoreOptions(account.command('passwd').argument('<name>', 'the account name').description('set a new password, read from standard input')).action(
    (name: string, flags: StoreFlags) => setAccountPassword(name, flags),
  );
  withStoreOptions(account.command('del').argument('<name>', 'the account name').description('delete an account and the rooms it founded')).action(
    (name: string, flags: StoreFlags) => deleteAccount(name, flags),
  );
  withStoreOptions(
    account
      .command('oper')
      .argument('<name>', 'the account name')
      .option('--off', 'take the server operator status away')
      .description('make the account a server operator when it logs in (+o)'),
  ).action((name: string, flags: StoreFlags & { off?: boolean }) => setAccountOper(name, flags.off === true, flags));

  const cluster = program.command('cluster').description('cluster mode (see docs/cluster.md)');
  cluster
    .command('status')
    .description('list the live nodes of a cluster with their sessions, read from Redis (no database needed)')
    .option('--cluster <redis-url>', 'the Redis of the cluster, redis://host:port (default: "cluster.redis" of --config)')
    .option('--namespace <ns>', 'the key namespace of the network (default: "cluster.namespace" of --config, else natter)')
    .option('--config <file>', 'the JSON configuration file natter serve uses (only its "cluster" object is read)')
    .option('--json', 'print JSON instead of a table')
    .addHelpText('after', '\nExit codes: 0 (also with no live nodes), 1 when Redis cannot be reached, 2 for bad or missing settings.')
    .action((flags: ClusterStatusFlags) => clusterStatus(flags));

  program
    .command('doctor')
    .description('check this installation (config, data folder, store, TLS, ports, cluster, uploads) and say what is wrong; changes nothing')
    .option('--config <file>', 'the JSON configuration file natter serve uses')
    .option('--data <dir>', 'the data folder (default: the same as natter serve)')
    .option('--database <url>', 'a PostgreSQL URL instead of the data folder, postgres://user@host:port/database')
    .option('--json', 'print JSON instead of lines')
    .addHelpText('after', '\nExit codes: 0 when nothing is wrong (warnings alone included), 1 when a check failed (✗), 2 for bad flags. See docs/operations.md.')
    .action((flags: DoctorFlags) => doctor(flags));

  try {
    await program.parseAsync(argv);
  } catch (error) {
    const exitCode = exitCodeOf(error);
    if (exitCode !== undefined) {
      process.stderr.write(`natter: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(exitCode);
    }
    throw error;
  }
}
