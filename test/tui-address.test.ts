/**
 * The address after `natter connect`: host, host:port, [v6]:port, a bare IPv6 address, irc:// and ircs:// URLs;
 * TLS unless asked otherwise or the port is plain IRC's 6667; errors that name what was typed.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConnectError, DEFAULT_PLAIN_PORT, DEFAULT_TLS_PORT, formatTarget, parseAddress } from '../src/tui/address.js';

function rejects(text: string, tlsFlag: boolean | undefined, pattern: RegExp): void {
  assert.throws(
    () => parseAddress(text, tlsFlag),
    (error: unknown) => error instanceof ConnectError && pattern.test(error.message) && !error.message.includes('\n'),
    `${text} should be refused with ${String(pattern)}`,
  );
}

describe('parseAddress: forms of the address', () => {
  it('a host name alone is TLS on 6697', () => {
    assert.deepEqual(parseAddress('chat.example.org', undefined), { host: 'chat.example.org', port: DEFAULT_TLS_PORT, tls: true });
  });
  it('host:port takes the port', () => {
    assert.deepEqual(parseAddress('chat.example.org:7000', undefined), { host: 'chat.example.org', port: 7000, tls: true });
  });
  it('an IPv4 address with a port', () => {
    assert.deepEqual(parseAddress('192.0.2.7:6697', undefined), { host: '192.0.2.7', port: 6697, tls: true });
  });
  it('[v6]:port', () => {
    assert.deepEqual(parseAddress('[2001:db8::1]:7000', undefined), { host: '2001:db8::1', port: 7000, tls: true });
  });
  it('[v6] without a port', () => {
    assert.deepEqual(parseAddress('[::1]', undefined), { host: '::1', port: DEFAULT_TLS_PORT, tls: true });
  });
  it('a bare IPv6 address (several colons) has no port', () => {
    assert.deepEqual(parseAddress('2001:db8::6667', undefined), { host: '2001:db8::6667', port: DEFAULT_TLS_PORT, tls: true });
    assert.deepEqual(parseAddress('::1', false), { host: '::1', port: DEFAULT_PLAIN_PORT, tls: false });
  });
  it('irc:// is plain text, on 6667 by default', () => {
    assert.deepEqual(parseAddress('irc://chat.example.org', undefined), { host: 'chat.example.org', port: 6667, tls: false });
    assert.deepEqual(parseAddress('irc://chat.example.org:6697/', undefined), { host: 'chat.example.org', port: 6697, tls: false });
  });
  it('ircs:// is TLS, on 6697 by default', () => {
    assert.deepEqual(parseAddress('ircs://chat.example.org', undefined), { host: 'chat.example.org', port: 6697, tls: true });
    assert.deepEqual(parseAddress('IRCS://[::1]:6667', undefined), { host: '::1', port: 6667, tls: true });
  });
  it('host names are lowercased and surrounding spaces ignored', () => {
    assert.deepEqual(parseAddress('  Chat.Example.ORG:7000 ', undefined), { host: 'chat.example.org', port: 7000, tls: true });
  });
});

describe('parseAddress: TLS or not', () => {
  it('--tls gives TLS on 6697', () => {
    assert.deepEqual(parseAddress('localhost', true), { host: 'localhost', port: 6697, tls: true });
  });
  it('--no-tls gives plain text on 6667', () => {
    assert.deepEqual(parseAddress('localhost', false), { host: 'localhost', port: 6667, tls: false });
  });
  it('port 6667 without a flag or scheme is plain text (the conventional plain IRC port)', () => {
    assert.deepEqual(parseAddress('localhost:6667', undefined), { host: 'localhost', port: 6667, tls: false });
  });
  it('any other port without a flag or scheme is TLS', () => {
    assert.equal(parseAddress('localhost:6668', undefined).tls, true);
  });
  it('the flag wins over the port', () => {
    assert.equal(parseAddress('localhost:6667', true).tls, true);
    assert.equal(parseAddress('localhost:6697', false).tls, false);
  });
  it('a flag that agrees with the scheme is fine', () => {
    assert.equal(parseAddress('ircs://localhost', true).tls, true);
    assert.equal(parseAddress('irc://localhost', false).tls, false);
  });
  it('ircs:// with --no-tls is refused', () => {
    rejects('ircs://localhost', false, /ircs:\/\/.*--no-tls/);
  });
  it('irc:// with --tls is refused', () => {
    rejects('irc://localhost', true, /irc:\/\/.*--tls/);
  });
});

describe('parseAddress: errors name what was typed', () => {
  it('port 0, 65536 and non-numbers are refused', () => {
    rejects('localhost:0', undefined, /"localhost:0".*1 to 65535/);
    rejects('localhost:65536', undefined, /"localhost:65536".*1 to 65535/);
    rejects('localhost:abc', undefined, /"localhost:abc".*1 to 65535/);
    rejects('localhost:', undefined, /"localhost:".*1 to 65535/);
    rejects('[::1]:99999', undefined, /1 to 65535/);
    rejects('irc://localhost:-1', undefined, /1 to 65535/);
  });
  it('the highest port is accepted', () => {
    assert.equal(parseAddress('localhost:65535', undefined).port, 65535);
  });
  it('an empty address', () => {
    rejects('  ', undefined, /no server address/);
  });
  it('an unknown scheme', () => {
    rejects('https://chat.example.org', undefined, /unknown scheme https:/);
  });
  it('a URL with a room or path', () => {
    rejects('irc://chat.example.org/#natter', undefined, /without a path or room/);
  });
  it('a bracket without its end, or garbage inside one', () => {
    rejects('[::1', undefined, /missing "\]"/);
    rejects('[example.org]:6697', undefined, /not an IPv6 address/);
    rejects('[::1]6697', undefined, /":port"/);
  });
  it('several colons that are not an IPv6 address', () => {
    rejects('host:1:2', undefined, /not an address/);
  });
  it('a port with no host', () => {
    rejects(':6697', undefined, /no host name/);
  });
  it('characters no host name has', () => {
    rejects('user@chat.example.org', undefined, /not a host name/);
    rejects('chat example', undefined, /not a host name/);
  });
});

describe('formatTarget', () => {
  it('host:port', () => {
    assert.equal(formatTarget({ host: 'chat.example.org', port: 6697, tls: true }), 'chat.example.org:6697');
  });
  it('brackets an IPv6 address', () => {
    assert.equal(formatTarget({ host: '2001:db8::1', port: 6697, tls: true }), '[2001:db8::1]:6697');
  });
  it('lowercases, so the known-hosts key does not depend on how the name was typed', () => {
    assert.equal(formatTarget({ host: 'Chat.Example.org', port: 7000, tls: true }), 'chat.example.org:7000');
  });
  it('what it formats parses back to the same target', () => {
    for (const target of [
      { host: 'chat.example.org', port: 7000, tls: true },
      { host: '::1', port: 6697, tls: true },
      { host: '192.0.2.1', port: 6667, tls: false },
    ]) {
      assert.deepEqual(parseAddress(formatTarget(target), target.tls), target);
    }
  });
});
