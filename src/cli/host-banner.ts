/**
 * What `natter host` prints (issue 8): everything a person needs to tell friends how to join, readable at a glance —
 * the room, the web address on every LAN address (IPv4 first: what people type), a QR code of the first one for
 * phones, the IRC addresses, and the TLS fingerprint to compare with what an IRC client shows.
 */
import { networkInterfaces } from 'node:os';
import qrcode from 'qrcode-terminal';

export interface LanAddress {
  readonly address: string;
  readonly family: 4 | 6;
}

/**
 * This machine's addresses other devices may reach: not loopback, IPv4 first, then IPv6 but not link-local
 * (fe80::/10 needs a zone id, which browsers do not take in a URL).
 */
export function lanAddresses(interfaces: ReturnType<typeof networkInterfaces> = networkInterfaces()): LanAddress[] {
  const v4: LanAddress[] = [];
  const v6: LanAddress[] = [];
  const seen = new Set<string>();
  for (const list of Object.values(interfaces)) {
    for (const entry of list ?? []) {
      if (entry.internal || seen.has(entry.address)) continue;
      seen.add(entry.address);
      if (entry.family === 'IPv4') v4.push({ address: entry.address, family: 4 });
      else if (!/^fe[89ab]/i.test(entry.address)) v6.push({ address: entry.address, family: 6 });
    }
  }
  return [...v4, ...v6];
}

/** An address as the host part of a URL: IPv6 in brackets. */
export function urlHost(address: string): string {
  return address.includes(':') ? `[${address}]` : address;
}

export function webUrl(address: string, port: number): string {
  return `http://${urlHost(address)}:${String(port)}/`;
}

/** The QR code of `text` in half-block characters (two rows of modules per line, so it fits a terminal). */
export function qrCodeOf(text: string): string {
  let out = '';
  qrcode.generate(text, { small: true }, (code) => {
    out = code;
  });
  return out;
}

export interface BannerInfo {
  readonly title: string;
  readonly room: string;
  readonly account: string;
  readonly passwordFile: string;
  readonly addresses: readonly LanAddress[];
  readonly ircPort: number;
  readonly tlsPort: number;
  readonly webPort: number;
  readonly fingerprint: string;
  readonly dataDir: string;
  /** The host's own one-time sign-in link, shown when no browser was opened with it. */
  readonly signInUrl: string | undefined;
  /** Whether the host is advertised on the LAN over mDNS/DNS-SD (not with --no-advertise). */
  readonly advertised?: boolean;
}

/** The whole banner. `qr` is the QR code of the first LAN URL (none when this machine has no LAN address). */
export function bannerText(info: BannerInfo, qr: string | undefined): string {
  const lines: string[] = [];
  const web = info.addresses.map((lan) => webUrl(lan.address, info.webPort));
  lines.push(`Natter is hosting “${info.title}” (room ${info.room})`, '');
  if (web.length > 0) {
    lines.push('Friends on this network join in a browser at:');
    for (const url of web) lines.push(`  ${url}`);
  } else {
    lines.push('This machine has no network address other devices can reach (only this machine can join):');
  }
  lines.push(`On this machine: ${webUrl('localhost', info.webPort)}`, '');
  if (qr !== undefined && web[0] !== undefined) lines.push(`Scan to open ${web[0]}`, qr.replace(/\n+$/, ''), '');
  lines.push('IRC clients (irssi, WeeChat, HexChat, natter connect):');
  const hosts = info.addresses.length > 0 ? info.addresses.map((lan) => lan.address) : ['localhost'];
  for (const host of hosts) lines.push(`  ${host} port ${String(info.ircPort)}, or port ${String(info.tlsPort)} with TLS`);
  lines.push('TLS certificate (self-signed) SHA-256 fingerprint, to compare with what an IRC client shows:', `  ${info.fingerprint}`, '');
  if (info.advertised === true) lines.push(`Advertised on this network as “${info.title}” (mDNS/DNS-SD _natter._tcp and _irc._tcp): natter connect finds it by itself.`, '');
  lines.push(`You are ${info.account}: server operator and founder of ${info.room}. Your password is in ${info.passwordFile}.`);
  if (info.signInUrl !== undefined) lines.push(`Sign in as ${info.account} in your browser (this link works once, within 10 minutes):`, `  ${info.signInUrl}`);
  lines.push(`Data: ${info.dataDir}`, 'Press Ctrl+C to stop.', '');
  return lines.join('\n');
}
