/**
 * The PROXY protocol (src/net/proxy-protocol.ts), versions 1 and 2 as HAProxy sends them: the parser, then a real
 * server behind a pretend balancer on loopback.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import tls from 'node:tls';
import { WebSocket } from 'ws';
import { addressList, inAddressList } from '../src/net/address-list.js';
import { lastForwardedFor, parseProxyHeader } from '../src/net/proxy-protocol.js';
import { TestClient } from './helpers/client.js';
import { startTestServer } from './helpers/server.js';
import type { TestServer } from './helpers/server.js';

function v2(command: number, family: number, addresses: Buffer): Buffer {
  const head = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a, 0x20 | command, family, 0, 0]);
  head.writeUInt16BE(addresses.length, 14);
  return Buffer.concat([head, addresses]);
}

function ipv4Block(source: number[], destination: number[], sourcePort: number, destinationPort: number): Buffer {
  const block = Buffer.alloc(12);
  Buffer.from(source).copy(block, 0);
  Buffer.from(destination).copy(block, 4);
  block.writeUInt16BE(sourcePort, 8);
  block.writeUInt16BE(destinationPort, 10);
  return block;
}

describe('PROXY protocol headers', () => {
  it('v1: TCP4 and TCP6 give the client address and port, and the header length; the bytes after are not part of it', () => {
    const line = 'PROXY TCP4 192.0.2.7 198.51.100.1 56324 6667\r\n';
    assert.deepEqual(parseProxyHeader(Buffer.from(`${line}NICK a\r\n`)), { kind: 'proxy', length: line.length, source: { address: '192.0.2.7', port: 56324 } });
    const six = 'PROXY TCP6 2001:0db8:0:0:0:0:0:7 2001:db8::1 4000 6697\r\n';
    assert.deepEqual(parseProxyHeader(Buffer.from(six)), { kind: 'proxy', length: six.length, source: { address: '2001:db8::7', port: 4000 } });
    assert.deepEqual(parseProxyHeader(Buffer.from('PROXY UNKNOWN\r\n')), { kind: 'proxy', length: 15, source: undefined });
  });

  it('v1: a header cut anywhere is incomplete, never a wrong answer', () => {
    const line = Buffer.from('PROXY TCP4 192.0.2.7 198.51.100.1 56324 6667\r\n');
    for (let cut = 1; cut < line.length; cut++) assert.deepEqual(parseProxyHeader(line.subarray(0, cut)), { kind: 'incomplete' }, `cut at ${String(cut)}`);
  });

  it('v1: bad families, addresses, ports and lengths are invalid', () => {
    for (const bad of [
      'PROXY TCP4 999.0.2.7 198.51.100.1 1 2\r\n',
      'PROXY TCP4 2001:db8::7 198.51.100.1 1 2\r\n',
      'PROXY TCP6 192.0.2.7 2001:db8::1 1 2\r\n',
      'PROXY TCP4 192.0.2.7 198.51.100.1 65536 2\r\n',
      'PROXY TCP4 192.0.2.7 198.51.100.1 01 2\r\n',
      'PROXY UDP4 192.0.2.7 198.51.100.1 1 2\r\n',
      'PROXY TCP4 192.0.2.7 198.51.100.1 1\r\n',
    ]) {
      assert.equal(parseProxyHeader(Buffer.from(bad)).kind, 'invalid', bad);
    }
    assert.equal(parseProxyHeader(Buffer.from(`PROXY TCP4 ${'1'.repeat(120)}`)).kind, 'invalid', 'no CRLF within 107 bytes');
  });

  it('v2: PROXY over IPv4 and IPv6, LOCAL for the balancer’s own checks, and TLVs after the addresses are skipped', () => {
    const four = v2(1, 0x11, Buffer.concat([ipv4Block([203, 0, 113, 9], [10, 0, 0, 1], 51000, 6667), Buffer.from([0x01, 0x00, 0x02, 0x68, 0x32])]));
    assert.deepEqual(parseProxyHeader(Buffer.concat([four, Buffer.from('CAP LS\r\n')])), { kind: 'proxy', length: four.length, source: { address: '203.0.113.9', port: 51000 } });
    const sixBlock = Buffer.alloc(36);
    Buffer.from('20010db8000000000000000000000042', 'hex').copy(sixBlock, 0);
    sixBlock.writeUInt16BE(4242, 32);
    const six = v2(1, 0x21, sixBlock);
    assert.deepEqual(parseProxyHeader(six), { kind: 'proxy', length: six.length, source: { address: '2001:db8::42', port: 4242 } });
    const local = v2(0, 0x00, Buffer.alloc(0));
    assert.deepEqual(parseProxyHeader(local), { kind: 'proxy', length: 16, source: undefined });
    for (let cut = 1; cut < four.length; cut++) assert.deepEqual(parseProxyHeader(four.subarray(0, cut)), { kind: 'incomplete' }, `cut at ${String(cut)}`);
  });

  it('v2: an unknown version or command, a short address block, or a huge length is invalid', () => {
    const good = v2(1, 0x11, ipv4Block([203, 0, 113, 9], [10, 0, 0, 1], 1, 2));
    const version = Buffer.from(good);
    version[12] = 0x31;
    assert.equal(parseProxyHeader(version).kind, 'invalid');
    const command = Buffer.from(good);
    command[12] = 0x22;
    assert.equal(parseProxyHeader(command).kind, 'invalid');
    assert.equal(parseProxyHeader(v2(1, 0x11, Buffer.alloc(4))).kind, 'invalid');
    const huge = Buffer.from(good.subarray(0, 16));
    huge.writeUInt16BE(65535, 14);
    assert.equal(parseProxyHeader(huge).kind, 'invalid');
  });

  it('a line that is not a header is "none": an IRC command, an empty read, TLS ClientHello bytes', () => {
    assert.equal(parseProxyHeader(Buffer.from('NICK alice\r\n')).kind, 'none');
    assert.equal(parseProxyHeader(Buffer.from('PROXX')).kind, 'none');
    assert.equal(parseProxyHeader(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00])).kind, 'none');
  });

  it('X-Forwarded-For: the last entry is the client the balancer saw; earlier ones and garbage are not trusted', () => {
    assert.equal(lastForwardedFor('10.9.9.9, 192.0.2.44'), '192.0.2.44');
    assert.equal(lastForwardedFor(['10.9.9.9', '2001:0db8::0:1']), '2001:db8::1');
    assert.equal(lastForwardedFor('192.0.2.44, not-an-address'), undefined);
    assert.equal(lastForwardedFor(undefined), undefined);
  });

  it('trusted addresses: single addresses and CIDR blocks, IPv4-mapped IPv6 as IPv4', () => {
    const list = addressList(['127.0.0.1', '10.0.0.0/8', '::1', 'fd00::/8']);
    assert.ok(inAddressList(list, '127.0.0.1'));
    assert.ok(inAddressList(list, '::ffff:127.0.0.1'));
    assert.ok(inAddressList(list, '10.200.3.4'));
    assert.ok(inAddressList(list, '::1'));
    assert.ok(inAddressList(list, 'fd12::5'));
    assert.ok(!inAddressList(list, '127.0.0.2'));
    assert.ok(!inAddressList(list, '192.168.1.1'));
    assert.ok(!inAddressList(list, '2001:db8::1'));
    assert.ok(!inAddressList(list, undefined));
  });
});

/** Connects from `localAddress` (any 127/8 address is loopback on Linux), writes `header` first, and registers `nick`. */
async function throughBalancer(port: number, header: string | Buffer, nick: string, localAddress = '127.0.0.1'): Promise<TestClient> {
  const socket = net.connect({ port, host: '127.0.0.1', localAddress });
  await once(socket, 'connect');
  socket.write(header);
  const client = TestClient.wrap(socket);
  await client.registerAs(nick);
  return client;
}

async function hostOf(client: TestClient): Promise<string> {
  client.send(`WHOIS ${client.nick}`);
  return (await client.expect('311')).params[3] ?? '';
}

describe('behind a load balancer (proxy.trusted): the client’s address comes from the PROXY header or X-Forwarded-For', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({
      proxy: { trusted: ['127.0.0.1'] },
      tls: { listen: ['127.0.0.1:0'] },
      http: { listen: ['127.0.0.1:0'] },
      limits: { connectionsPerIp: 2 },
    });
  });
  after(async () => {
    await server.stop();
  });

  it('v1 over TCP: the prefix shows the client’s address; a direct connection from the balancer (a health check) still works', async () => {
    const proxied = await throughBalancer(server.port, 'PROXY TCP4 203.0.113.9 10.0.0.1 51000 6667\r\n', 'viaproxy');
    assert.equal(await hostOf(proxied), '203.0.113.9');
    const direct = await TestClient.register(server.port, 'direct');
    assert.equal(await hostOf(direct), '127.0.0.1');
    proxied.close();
    direct.close();
  });

  it('v2 before the TLS handshake: the TLS connection is served, with the client’s IPv6 address', async () => {
    const port = server.tlsAddresses[0]?.port ?? assert.fail('no TLS listener');
    const raw = net.connect({ port, host: '127.0.0.1' });
    await once(raw, 'connect');
    const block = Buffer.alloc(36);
    Buffer.from('20010db8000000000000000000000042', 'hex').copy(block, 0);
    raw.write(v2(1, 0x21, block));
    const secure = tls.connect({ socket: raw, rejectUnauthorized: false });
    await once(secure, 'secureConnect');
    const client = TestClient.wrap(secure);
    await client.registerAs('tlsproxied');
    assert.equal(await hostOf(client), '2001:db8::42');
    client.close();
  });

  it('per-address limits count the client behind the balancer, not the balancer', async () => {
    const header = (last: number): string => `PROXY TCP4 198.51.100.${String(last)} 10.0.0.1 4000 6667\r\n`;
    const first = await throughBalancer(server.port, header(1), 'same1');
    const second = await throughBalancer(server.port, header(1), 'same2');
    const third = net.connect({ port: server.port, host: '127.0.0.1' });
    await once(third, 'connect');
    third.write(header(1));
    const refusal = TestClient.wrap(third);
    assert.match((await refusal.expect('ERROR')).params[0] ?? '', /198\.51\.100\.1 \(Too many connections from your IP address\)/);
    const other = await throughBalancer(server.port, header(2), 'other');
    assert.equal(await hostOf(other), '198.51.100.2');
    for (const client of [first, second, refusal, other]) client.close();
  });

  it('a malformed header from the balancer closes that connection; a header from an address not trusted is an unknown command, not an address', async () => {
    const bad = net.connect({ port: server.port, host: '127.0.0.1' });
    await once(bad, 'connect');
    bad.write('PROXY TCP4 999.1.1.1 10.0.0.1 1 2\r\nNICK bad\r\n');
    bad.resume();
    await once(bad, 'close');
    const spoofer = await throughBalancer(server.port, 'PROXY TCP4 203.0.113.66 10.0.0.1 51000 6667\r\n', 'spoofer', '127.0.0.2');
    assert.equal(await hostOf(spoofer), '127.0.0.2');
    spoofer.close();
  });

  it('WebSocket through an HTTP balancer: the last X-Forwarded-For entry, which the balancer added, is the client', async () => {
    const port = server.httpAddresses[0]?.port ?? assert.fail('no HTTP listener');
    const socket = new WebSocket(`ws://127.0.0.1:${String(port)}/`, 'text.ircv3.net', { headers: { 'X-Forwarded-For': '10.9.9.9, 192.0.2.44' } });
    await once(socket, 'open');
    const lines: string[] = [];
    socket.on('message', (data: Buffer) => lines.push(data.toString()));
    socket.send('NICK wsproxied');
    socket.send('USER ws 0 * :ws');
    socket.send('WHOIS wsproxied');
    const deadline = Date.now() + 10_000;
    while (!lines.some((line) => / 311 /.test(line)) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    const whois = lines.find((line) => / 311 /.test(line)) ?? assert.fail(`no 311: ${lines.join('\n')}`);
    assert.match(whois, / 311 wsproxied wsproxied ~?ws 192\.0\.2\.44 /);
    socket.close();
  });
});
