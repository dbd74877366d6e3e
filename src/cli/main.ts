/** The `natter` command line. */
import { Command, Option } from 'commander';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { ConfigError, loadConfig } from '../config/load.js';
import type { ConfigOverrides } from '../config/load.js';
import { hashPassword } from '../auth/authenticator.js';
import { startNatter, VERSION } from './compose.js';

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
  serverName?: string;
  networkName?: string;
  data?: string;
  config?: string;
  logLevel?: string;
}

async function serve(flags: ServeFlags): Promise<void> {
  const overrides: ConfigOverrides = {};
  if (flags.listen !== undefined) overrides.listen = flags.listen;
  if (flags.serverName !== undefined) overrides.serverName = flags.serverName;
  if (flags.networkName !== undefined) overrides.networkName = flags.networkName;
  if (flags.data !== undefined) overrides.data = flags.data;
  if (flags.logLevel !== undefined) overrides.logLevel = flags.logLevel;
  const reload = () => loadConfig(flags.config, overrides);
  const config = await reload();
  const logger = makeLogger(config.logLevel);
  const natter = await startNatter({ config, logger, configSource: flags.config ?? 'command line', reload });
  logger.info({ version: VERSION, serverName: config.serverName, network: config.networkName }, 'Natter is running');

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    void natter.stop('Server shutting down').then(() => {
      logger.flush();
      process.exit(0);
    });
  };
  process.on('SIGINT', () => {
    stop('SIGINT');
  });
  process.on('SIGTERM', () => {
    stop('SIGTERM');
  });
  process.on('SIGHUP', () => {
    natter.server.rehash().catch((error: unknown) => {
      logger.error({ reason: error instanceof Error ? error.message : String(error) }, 'configuration reload refused; keeping the old one');
    });
  });
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
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
    .option('--data <dir>', 'the data folder')
    .option('--config <file>', 'a JSON configuration file (see docs/configuration.md)')
    .addOption(new Option('--log-level <level>', 'how much to log').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']))
    .action(serve);

  program
    .command('hash-password')
    .description('read a password on standard input and print its argon2id hash, for "opers" in the config')
    .action(async () => {
      const password = await readStdin();
      if (password.length === 0) throw new ConfigError('hash-password: no password was given on standard input');
      process.stdout.write(`${await hashPassword(password)}\n`);
    });

  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof ConfigError || (error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      process.stderr.write(`natter: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(2);
    }
    throw error;
  }
}
