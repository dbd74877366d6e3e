/** Reading the configuration: file, then command-line flags on top; errors name the bad key. */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import type { ServerSettings } from '../core/settings.js';
import { configSchema } from './schema.js';
import type { Config } from './schema.js';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Flags given on the command line; each overrides the file's key of the same name. */
export interface ConfigOverrides {
  listen?: string[];
  serverName?: string;
  networkName?: string;
  data?: string;
  logLevel?: string;
  database?: string;
  /** --listen-tls, --tls-cert and --tls-key, merged into the file's "tls" object. */
  tls?: { listen?: string[]; cert?: string; key?: string };
  /** --no-history, merged into the file's "history" object. */
  history?: { enabled?: boolean };
  /** --http, merged into the file's "http" object. */
  http?: { listen?: string[] };
  /** --https, merged into the file's "https" object. */
  https?: { listen?: string[] };
  /** --cluster, merged into the file's "cluster" object. */
  cluster?: { redis?: string };
}

function describeIssue(issue: z.core.$ZodIssue, source: string): string {
  const path = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => `${source}: unknown setting "${path === '' ? key : `${path}.${key}`}"`).join('\n');
  }
  return `${source}: "${path === '' ? '(root)' : path}": ${issue.message}`;
}

export function parseConfig(raw: unknown, source: string): Config {
  const result = configSchema.safeParse(raw);
  if (!result.success) throw new ConfigError(result.error.issues.map((issue) => describeIssue(issue, source)).join('\n'));
  return result.data;
}

export async function readConfigFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`config file ${path}: cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new ConfigError(`config file ${path}: not valid JSON (${error instanceof Error ? error.message : String(error)})`);
  }
}

/** The file (if any) with the flags on top, validated as one. */
export async function loadConfig(path: string | undefined, overrides: ConfigOverrides): Promise<Config> {
  const fromFile = path === undefined ? {} : await readConfigFile(path);
  if (typeof fromFile !== 'object' || fromFile === null || Array.isArray(fromFile)) {
    throw new ConfigError(`config file ${path ?? ''}: expected a JSON object at the top level`);
  }
  const merged: Record<string, unknown> = { ...(fromFile as Record<string, unknown>) };
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) continue;
    if (key === 'tls' || key === 'history' || key === 'http' || key === 'https' || key === 'cluster') {
      const fromFileSection = typeof merged[key] === 'object' && merged[key] !== null ? (merged[key] as Record<string, unknown>) : {};
      const flags = Object.fromEntries(Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined));
      merged[key] = { ...fromFileSection, ...flags };
    } else {
      merged[key] = value;
    }
  }
  const source = path === undefined ? 'command line' : `config file ${path}`;
  return parseConfig(merged, source);
}

export function toServerSettings(config: Config): ServerSettings {
  return {
    serverName: config.serverName,
    networkName: config.networkName,
    casemapping: config.casemapping,
    motd: motdLines(config.motd),
    password: config.password,
    opers: config.opers.map((oper) => ({ name: oper.name, passwordHash: oper.password, hosts: oper.hosts })),
    admin: config.admin,
    limits: config.limits,
    accounts: config.accounts,
    history: config.history,
    viewOnce: config.viewOnce,
    sts: undefined,
    uploads: config.uploads,
    autojoin: config.autojoin,
  };
}

/** A MOTD given as one text is split into lines; an empty text (or only blank lines) means no MOTD (422). */
function motdLines(motd: string | readonly string[]): readonly string[] {
  const lines = typeof motd === 'string' ? motd.replace(/(\r?\n)+$/, '').split(/\r?\n/) : motd;
  return lines.every((line) => line.trim() === '') ? [] : lines;
}

/** "127.0.0.1:6667" or "[::1]:6667" to host and port. */
export function parseHostPort(value: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(value);
  const port = Number(match?.[3]);
  if (match === null || !(port >= 0 && port <= 65535)) throw new ConfigError(`"${value}" is not HOST:PORT`);
  return { host: match[1] ?? match[2] ?? '', port };
}
