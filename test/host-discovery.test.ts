/**
 * LAN discovery (issue 8): a host advertised with advertiseHost is found by discoverHosts with its ports, fingerprint
 * and name, its _irc._tcp service is there too, and it is gone after stop().
 *
 * Never on a real interface: the fixture runs inside a network namespace this test makes, where only `lo` is up, with
 * multicast on and 224.0.0.0/4 routed to it. First choice `unshare --net --map-root-user` (the namespace dies with the
 * process, nothing to clean up); else, as root, `ip netns add` with a name of our own, deleted afterwards. When
 * neither works the test is skipped with the reason, except under CI=true, where it fails.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { discoveredHostOf, instanceNameOf } from '../src/cli/host-discovery.js';

const ROOT = new URL('..', import.meta.url).pathname;
const FIXTURE = 'test/fixtures/discovery/advertise-and-discover.ts';
const TIMEOUT_MS = 30_000;
const SETUP = 'ip link set lo up multicast on && ip route add 224.0.0.0/4 dev lo';
const inCi = ['1', 'true'].includes((process.env['CI'] ?? '').toLowerCase());

type Namespace = { kind: 'unshare' } | { kind: 'netns'; name: string } | { kind: 'none'; reason: string };

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

function chooseNamespace(): Namespace {
  if (process.platform !== 'linux') return { kind: 'none', reason: 'network namespaces exist on Linux only' };
  const unshare = works('unshare', ['--net', '--map-root-user', 'sh', '-c', SETUP]);
  if (unshare.ok) return { kind: 'unshare' };
  if (process.getuid?.() === 0) {
    const name = `natter-test-${String(process.pid)}`;
    const add = works('ip', ['netns', 'add', name]);
    if (add.ok) return { kind: 'netns', name };
    return { kind: 'none', reason: `${unshare.why}; ${add.why}` };
  }
  return {
    kind: 'none',
    reason: `${unshare.why}; not root, so no ip netns either`,
  };
}

/** Runs the fixture inside the namespace and returns its stdout; deletes an `ip netns` namespace it made. */
function runInNamespace(namespace: Exclude<Namespace, { kind: 'none' }>): string {
  const script = `${SETUP} && exec "${process.execPath}" --import tsx ${FIXTURE} 127.0.0.1`;
  const [command, args] = namespace.kind === 'unshare' ? ['unshare', ['--net', '--map-root-user', 'sh', '-c', script]] : ['ip', ['netns', 'exec', namespace.name, 'sh', '-c', script]];
  try {
    const result = spawnSync(command, args, {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: TIMEOUT_MS,
      killSignal: 'SIGKILL',
    });
    assert.equal(result.error, undefined, `the fixture ran: ${String(result.error)}`);
    assert.equal(result.status, 0, `the fixture succeeded; stderr:\n${result.stderr}`);
    return result.stdout;
  } finally {
    if (namespace.kind === 'netns') spawnSync('ip', ['netns', 'delete', namespace.name], { timeout: 10_000 });
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
