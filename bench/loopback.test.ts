import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nxdomainReply } from './dns.js';
import { NotLoopbackError, parseTarget, requireLoopback, sourceAddresses } from './loopback.js';

describe('loopback only', () => {
  it('accepts loopback addresses and localhost', () => {
    assert.equal(requireLoopback('127.0.0.1'), '127.0.0.1');
    assert.equal(requireLoopback('127.5.6.7'), '127.5.6.7');
    assert.equal(requireLoopback('localhost'), '127.0.0.1');
    assert.equal(requireLoopback('::1'), '::1');
    assert.equal(requireLoopback('[::1]'), '::1');
    assert.equal(requireLoopback('::ffff:127.0.0.1'), '127.0.0.1');
  });

  it('refuses every other address with a clear error', () => {
    for (const h of [
      '10.0.0.1',
      '192.168.1.1',
      '8.8.8.8',
      '0.0.0.0',
      '::',
      '::ffff:10.0.0.1',
      'example.org',
      '128.0.0.1',
    ]) {
      assert.throws(() => requireLoopback(h), NotLoopbackError, h);
    }
    assert.throws(() => parseTarget('10.1.2.3:6667'), /not a loopback address/);
  });

  it('parses HOST:PORT targets', () => {
    assert.deepEqual(parseTarget('127.0.0.1:6667'), { host: '127.0.0.1', port: 6667 });
    assert.deepEqual(parseTarget('[::1]:7000'), { host: '::1', port: 7000 });
    assert.throws(() => parseTarget('127.0.0.1'), /HOST:PORT/);
    assert.throws(() => parseTarget('127.0.0.1:0'), /bad port/);
  });

  it('spreads clients over loopback source addresses only', () => {
    const addrs = sourceAddresses(300);
    assert.equal(addrs.length, 300);
    assert.equal(addrs[0], '127.0.0.1');
    for (const a of addrs) assert.doesNotThrow(() => requireLoopback(a, 'source'));
    assert.equal(new Set(addrs).size, 300);
  });
});

describe('stub DNS', () => {
  it('answers a query with NXDOMAIN, keeping its id and question and dropping the rest', () => {
    // A PTR query for 1.0.0.127.in-addr.arpa with an EDNS OPT record, as resolvers send it.
    const qname = Buffer.from([
      1,
      49,
      1,
      48,
      1,
      48,
      3,
      49,
      50,
      55,
      7,
      ...Buffer.from('in-addr'),
      4,
      ...Buffer.from('arpa'),
      0,
    ]);
    const header = Buffer.from([0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1]);
    const question = Buffer.concat([qname, Buffer.from([0, 12, 0, 1])]);
    const opt = Buffer.from([0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0]);
    const reply = nxdomainReply(Buffer.concat([header, question, opt]));
    assert.ok(reply !== undefined);
    assert.equal(reply.readUInt16BE(0), 0xabcd);
    const flags = reply.readUInt16BE(2);
    assert.equal(flags & 0x8000, 0x8000, 'QR set');
    assert.equal(flags & 0x0100, 0x0100, 'RD copied');
    assert.equal(flags & 0x000f, 3, 'NXDOMAIN');
    assert.equal(reply.readUInt16BE(4), 1);
    assert.equal(reply.readUInt16BE(10), 0, 'no additional records');
    assert.deepEqual(reply.subarray(12), question);
  });

  it('ignores responses and truncated packets', () => {
    assert.equal(nxdomainReply(Buffer.alloc(5)), undefined);
    const response = Buffer.from([0, 1, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1]);
    assert.equal(nxdomainReply(response), undefined);
    assert.equal(nxdomainReply(Buffer.from([0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 5, 97])), undefined);
  });
});
