/**
 * The composition root: the one place that picks the Bus (and, later, the stores) and wires them into a
 * running server. `natter serve`, host mode and the tests all start Natter through here.
 */
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { MemoryBus } from '../bus/memory.js';
import type { Config } from '../config/schema.js';
import { argon2Verifier } from '../config/passwords.js';
import { parseHostPort, toServerSettings } from '../config/load.js';
import type { Clock } from '../core/ports.js';
import type { ServerSettings } from '../core/settings.js';
import { NatterServer } from '../net/server.js';
import type { ListenAddress } from '../net/server.js';

export const VERSION: string = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

const systemClock: Clock = { now: () => Date.now() };

export interface StartOptions {
  readonly config: Config;
  readonly logger: Logger;
  readonly configSource?: string;
  /** Re-reads the configuration for REHASH and SIGHUP. Without it, REHASH keeps the current settings. */
  readonly reload?: () => Promise<Config>;
}

export interface RunningNatter {
  readonly server: NatterServer;
  /** The addresses really bound (port 0 resolved). */
  readonly addresses: readonly ListenAddress[];
  stop(reason?: string): Promise<void>;
}

export async function startNatter(options: StartOptions): Promise<RunningNatter> {
  const { config, logger } = options;
  const settings: ServerSettings = toServerSettings(config);
  const reload = options.reload;
  const server = new NatterServer({
    settings,
    bus: new MemoryBus(),
    clock: systemClock,
    passwords: argon2Verifier,
    logger,
    version: `natter-${VERSION}`,
    configSource: options.configSource ?? 'built-in defaults',
    reloadSettings: async () => (reload === undefined ? settings : toServerSettings(await reload())),
  });
  const addresses: ListenAddress[] = [];
  try {
    for (const listen of config.listen) addresses.push(await server.listen(parseHostPort(listen)));
  } catch (error) {
    await server.shutdown('Startup failed', 0);
    throw error;
  }
  return {
    server,
    addresses,
    stop: (reason = 'Server shutting down') => server.shutdown(reason),
  };
}
