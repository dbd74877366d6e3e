/**
 * What the web client remembers between visits, in localStorage: who signed in last (the name and how, never the
 * password), the rooms each name had joined and the one last looked at, the theme and whether desktop notifications
 * are on. Every read tolerates a missing, foreign or corrupt value (storage may be full, disabled or edited by hand).
 */

export type SignInMode = 'login' | 'register' | 'guest';

export interface Identity {
  readonly mode: SignInMode;
  /** The account name (login, register) or the nick (guest). */
  readonly name: string;
}

export type Theme = 'light' | 'dark';

const PREFIX = 'natter.';

function read(key: string): string | undefined {
  try {
    return localStorage.getItem(PREFIX + key) ?? undefined;
  } catch {
    return undefined;
  }
}

function write(key: string, value: string | undefined): void {
  try {
    if (value === undefined) localStorage.removeItem(PREFIX + key);
    else localStorage.setItem(PREFIX + key, value);
  } catch {
    // Storage disabled or full: the client works, it only forgets.
  }
}

function readJson(key: string): unknown {
  const text = read(key);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** Rooms are remembered per name, case-insensitively (as the server compares names). */
function roomsKey(name: string): string {
  return `rooms.${name.toLowerCase()}`;
}

export function lastIdentity(): Identity | undefined {
  const value = readJson('identity');
  if (typeof value !== 'object' || value === null) return undefined;
  const mode: unknown = Reflect.get(value, 'mode');
  const name: unknown = Reflect.get(value, 'name');
  if ((mode !== 'login' && mode !== 'register' && mode !== 'guest') || typeof name !== 'string' || name === '') return undefined;
  // An account just created is logged in to the next time.
  return { mode: mode === 'register' ? 'login' : mode, name };
}

export function rememberIdentity(identity: Identity): void {
  write('identity', JSON.stringify({ mode: identity.mode, name: identity.name }));
}

export function rememberedRooms(name: string): string[] {
  const value = readJson(roomsKey(name));
  return Array.isArray(value) ? value.filter((room): room is string => typeof room === 'string' && room !== '') : [];
}

export function rememberRooms(name: string, rooms: readonly string[]): void {
  write(roomsKey(name), JSON.stringify([...rooms]));
}

export function lastActive(name: string): string | undefined {
  return read(`active.${name.toLowerCase()}`);
}

export function rememberActive(name: string, buffer: string): void {
  write(`active.${name.toLowerCase()}`, buffer);
}

export function storedTheme(): Theme | undefined {
  const value = read('theme');
  return value === 'light' || value === 'dark' ? value : undefined;
}

export function storeTheme(theme: Theme | undefined): void {
  write('theme', theme);
}

export function notificationsWanted(): boolean {
  return read('notifications') === 'on';
}

export function storeNotificationsWanted(on: boolean): void {
  write('notifications', on ? 'on' : undefined);
}
