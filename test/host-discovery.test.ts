/**
 * LAN discovery (issue 8): a host advertised with advertiseHost is found by discoverHosts with its ports, fingerprint
 * and name, its _irc._tcp service is there too, and it is gone after stop().
 *
 * Never on a real interface: the fixture runs inside a network namespace this test makes, where only `lo` is up, with
 * multicast on and 224.0.0.0/4 routed to it. First choice `unshare --net --map-root-user` (the namespace dies with the
 * process, nothing to clean up); else, as root, `ip netns add` with a name of our own, deleted afterwards. When
 * neither works the test is skipped with the reason, except under CI=true, where it fails.
 *
 * End to end (test/fixtures/discovery/connect-finds-host.ts, in a namespace of its own too): `natter host` is found by
 * `natter connect --list` and by `natter connect` without an address, in a real terminal (tmux), which trusts the
 * certificate the host advertised and chats with a raw IRC client in the host's room.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { discoveredHostOf, instanceNameOf } from '../src/cli/host-discovery.js';
import { tmuxAvailable } from './helpers/tmux.js';

const ROOT = new URL('..', import.meta.url).pathname;
const FIXTURE = 'test/fixtures/discovery/advertise-and-discover.ts';
const TIMEOUT_MS = 30_000;
const CONNECT_FIXTURE = 'test/fixtures/discovery/connect-finds-host.ts';
/** The fixture ends itself after 60 s; this is the backstop. */
const CONNECT_TIMEOUT_MS = 90_000;
const SETUP = 'ip link set lo up multicast on && ip route add 224.0.0.0/4 dev lo';
const inCi = ['1', 'true'].includes((process.env['CI'] ?? '').toLowerCase());

type Namespace = { kind: 'unshare' } | { kind: 'netns' } | { kind: 'none'; reason: string };

function works(command: string, args: string[]): { ok: boolean; why: string } {
  const result = spawnSync(command, args, {
    encoding: 'utf8',
    timeout: 10_000,
  });
  if (result.error !== undefined) return { ok: false, why: `${command}: ${result.error.message}` };
  return {
    ok: result.status === 0,
    why: `${command} ${args.join(' ')}: ${result.stderr.trim() || `exit ${String(result.status)}`}`,
  };
}

let netnsCount = 0;
/** A name of our own for an `ip netns` namespace: one per run of a fixture, so none outlives the test that made it. */
function netnsName(): string {
  return `natter-test-${String(process.pid)}-${String(++netnsCount)}`;
}

/** Which kind of namespace can be made here; an `ip netns` one is tried (made and deleted at once), not kept. */
function chooseNamespace(): Namespace {
  if (process.platform !== 'linux') return { kind: 'none', reason: 'network namespaces exist on Linux only' };
  const unshare = works('unshare', ['--net', '--map-root-user', 'sh', '-c', SETUP]);
  if (unshare.ok) return { kind: 'unshare' };
  if (process.getuid?.() === 0) {
    const name = netnsName();
    const add = works('ip', ['netns', 'add', name]);
    if (add.ok) {
      spawnSync('ip', ['netns', 'delete', name], { timeout: 10_000 });
      return { kind: 'netns' };
    }
    return { kind: 'none', reason: `${unshare.why}; ${add.why}` };
  }
  return {
    kind: 'none',
    reason: `${unshare.why}; not root, so no ip netns either`,
  };
}

/**
 * Runs a fixture inside a namespace of its own (for `ip netns`, one made for this run and deleted afterwards) and
 * returns its stdout.
 */
function runInNamespace(namespace: Exclude<Namespace, { kind: 'none' }>, fixture = FIXTURE, timeoutMs = TIMEOUT_MS): string {
  const script = `${SETUP} && exec "${process.execPath}" --import tsx ${fixture} 127.0.0.1`;
  const name = namespace.kind === 'netns' ? netnsName() : undefined;
  try {
    if (name !== undefined) {
      const add = works('ip', ['netns', 'add', name]);
      assert.ok(add.ok, add.why);
    }
    const [command, args] = name === undefined ? ['unshare', ['--net', '--map-root-user', 'sh', '-c', script]] : ['ip', ['netns', 'exec', name, 'sh', '-c', script]];
    const result = spawnSync(command, args, {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: timeoutMs,
      killSignal: 'SIGKILL',
    });
    assert.equal(result.error, undefined, `the fixture ran: ${String(result.error)}; stderr:\n${result.stderr}`);
    assert.equal(result.status, 0, `the fixture succeeded; stderr:\n${result.stderr}`);
    return result.stdout;
  } finally {
    if (name !== undefined) spawnSync('ip', ['netns', 'delete', name], { timeout: 10_000 });
  }
}

describe('LAN discovery, the parts without a network', () => {
  it('a TXT record of this version is read; another version or a bad port is ignored; without A records the sender is the address', () => {
    const service = {
      name: 'Book club',
      host: 'box.local',
      port: 8080,
      addresses: [],
      referer: {
        address: '127.0.0.1',
        family: 'IPv4' as const,
        port: 5353,
        size: 0,
      },
    };
    const txt = {
      irc: '6667',
      tls: '6697',
      web: '8080',
      fp: 'AA:BB',
      name: 'Book club!',
      v: '1',
    };
    assert.deepEqual(discoveredHostOf({ ...service, txt }), {
      name: 'Book club!',
      host: 'box.local',
      addresses: ['127.0.0.1'],
      ircPort: 6667,
      tlsPort: 6697,
      webPort: 8080,
      fingerprint: 'AA:BB',
    });
    assert.deepEqual(discoveredHostOf({ ...service, addresses: ['192.168.1.20'], txt })?.addresses, ['192.168.1.20']);
    assert.equal(discoveredHostOf({ ...service, txt: { ...txt, v: '2' } }), undefined);
    assert.equal(discoveredHostOf({ ...service, txt: { ...txt, irc: '70000' } }), undefined);
    assert.equal(Buffer.byteLength(instanceNameOf('é'.repeat(40))), 62);
  });
});

describe('LAN discovery inside a network namespace of its own', () => {
  const namespace = chooseNamespace();
  const skip = namespace.kind === 'none' && !inCi ? `no network namespace can be made here (${namespace.reason})` : false;
  it('advertiseHost is found by discoverHosts with its ports, fingerprint and name, and is gone after stop()', { skip, timeout: TIMEOUT_MS + 5_000 }, () => {
    if (namespace.kind === 'none') assert.fail(`CI=true, but no network namespace can be made here: ${namespace.reason}`);
    const line = runInNamespace(namespace).trim().split('\n').pop() ?? '';
    const { hosts, irc, after, errors } = JSON.parse(line) as {
      hosts: unknown[];
      irc: Array<{ name: string; port: number }>;
      after: unknown[];
      errors: string[];
    };
    assert.deepEqual(errors, []);
    assert.equal(hosts.length, 1, line);
    assert.deepEqual(hosts[0], {
      name: 'Book club “LAN”',
      host: (hosts[0] as { host: string }).host,
      addresses: ['127.0.0.1'],
      ircPort: 6667,
      tlsPort: 6697,
      webPort: 8080,
      fingerprint: '9A:FC:EB:31:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:7F:63',
    });
    assert.deepEqual(
      irc
        .filter((service) => service.name === 'Book club “LAN”')
        .map((service) => service.port)
        .slice(0, 1),
      [6667],
      'the _irc._tcp service',
    );
    assert.deepEqual(after, [], 'after stop() the host is no longer found');
  });
});

describe('natter connect finds natter host on the LAN (a network namespace of its own) and chats', () => {
  const namespace = chooseNamespace();
  // Under CI=true nothing skips: tmuxAvailable() throws there when tmux is missing, and so fails the test.
  const noTmux = inCi ? undefined : tmuxAvailable();
  const skip = inCi ? false : namespace.kind === 'none' ? `no network namespace can be made here (${namespace.reason})` : (noTmux ?? false);
  it('lists the host with its ports, picks it, trusts the certificate it advertised, and chats with a friend in its room', { skip, timeout: CONNECT_TIMEOUT_MS + 5_000 }, () => {
    const missing = tmuxAvailable();
    if (missing !== undefined) assert.fail(`CI is set, but tmux cannot be used: ${missing}`);
    if (namespace.kind === 'none') assert.fail(`CI is set, but no network namespace can be made here: ${namespace.reason}`);
    const line = runInNamespace(namespace, CONNECT_FIXTURE, CONNECT_TIMEOUT_MS).trim().split('\n').pop() ?? '';
    const summary = JSON.parse(line) as {
      banner: { ircPort: number; tlsPort: number; webPort: number; fingerprint: string };
      listed: string[];
      list: { address: string; ircPort: number; tlsPort: number; webPort: number };
      knownHosts: { hosts: Record<string, { fingerprint: string }> };
      toFriend: string;
      toTerminal: string;
      terminalEnded: boolean;
      hostExit: number | string;
    };
    const { banner } = summary;
    assert.match(banner.fingerprint, /^(?:[0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    assert.deepEqual(summary.listed, [`  1. Book club — 127.0.0.1 (IRC ${String(banner.ircPort)}, TLS ${String(banner.tlsPort)}, web http://127.0.0.1:${String(banner.webPort)})`], 'natter connect --list');
    assert.deepEqual(summary.list, { address: '127.0.0.1', ircPort: banner.ircPort, tlsPort: banner.tlsPort, webPort: banner.webPort });
    assert.deepEqual(Object.keys(summary.knownHosts.hosts), [`127.0.0.1:${String(banner.tlsPort)}`], 'TLS, on the advertised TLS port');
    assert.equal(summary.knownHosts.hosts[`127.0.0.1:${String(banner.tlsPort)}`]?.fingerprint, banner.fingerprint, 'the certificate trusted is the one the banner shows');
    assert.equal(summary.toFriend, 'hello from the terminal');
    assert.equal(summary.toTerminal, 'hello from a friend');
    assert.equal(summary.terminalEnded, true, '/quit ended natter connect');
    assert.equal(summary.hostExit, 0, 'the host stopped cleanly on SIGTERM');
  });
});
