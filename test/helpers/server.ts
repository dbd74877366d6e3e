/** Starts a real Natter on an ephemeral loopback port, through the same composition root as `natter serve`. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { startNatter } from '../../src/cli/compose.js';
import type { RunningNatter } from '../../src/cli/compose.js';
import { parseConfig } from '../../src/config/load.js';
import type { ConfigFile } from '../../src/config/schema.js';

export interface TestServer extends RunningNatter {
  readonly port: number;
}

/**
 * Defaults suited to tests: flood control and per-IP limits off (many clients share 127.0.0.1),
 * silent logs. Tests of those limits turn them back on through `overrides`.
 */
/** A fresh data folder under the system's temp folder; tests never touch the user's real one. */
export function tempDataDir(): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), 'natter-test-'));
  return {
    path,
    remove: () => {
      rmSync(path, { recursive: true, force: true });
    },
  };
}

export async function startTestServer(overrides: ConfigFile = {}): Promise<TestServer> {
  const { limits, ...rest } = overrides;
  const data = overrides.data === undefined ? tempDataDir() : undefined;
  const config = parseConfig(
    {
      listen: ['127.0.0.1:0'],
      logLevel: 'silent',
      serverName: 'test.natter',
      ...(data === undefined ? {} : { data: data.path }),
      ...rest,
      limits: { connectionsPerIp: 0, ...limits, flood: { enabled: false, ...limits?.flood } },
    },
    'test',
  );
  const natter = await startNatter({ config, logger: pino({ level: process.env['NATTER_TEST_LOG'] ?? 'silent' }) });
  const port = natter.addresses[0]?.port;
  if (port === undefined) throw new Error('the test server did not bind a port');
  return {
    ...natter,
    port,
    async stop(reason?: string) {
      await natter.stop(reason);
      data?.remove();
    },
  };
}
