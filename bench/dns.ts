/**
 * A stub DNS server on a loopback address that answers every query "no such name" at once. ircd-hybrid looks up
 * every client's address before it registers it and has no option to skip that; pointed here (through its private
 * resolv.conf, see servers.ts) its lookups fail in microseconds instead of timing out, and never leave loopback.
 */
import { createSocket } from 'node:dgram';
import type { Socket } from 'node:dgram';

/** The reply to a query: its header and question, flagged as a response with RCODE 3 (NXDOMAIN). */
export function nxdomainReply(query: Buffer): Buffer | undefined {
  if (query.length < 12 || (query[2] ?? 0) & 0x80) return undefined; // too short, or already a response
  let p = 12;
  // Skip the QNAME labels, then QTYPE and QCLASS.
  while (p < query.length && query[p] !== 0) p += (query[p] ?? 0) + 1;
  p += 5;
  if (p > query.length) return undefined;
  const reply = Buffer.from(query.subarray(0, p));
  const flags = query.readUInt16BE(2);
  reply.writeUInt16BE(0x8000 | (flags & 0x7900) | 0x0080 | 3, 2); // QR, opcode and RD copied, RA, NXDOMAIN
  reply.writeUInt16BE(1, 4); // one question
  reply.writeUInt32BE(0, 6); // no answers, no authority
  reply.writeUInt16BE(0, 10); // no additional records
  return reply;
}

function bindStub(address: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock = createSocket('udp4');
    sock.on('message', (msg, rinfo) => {
      const reply = nxdomainReply(msg);
      if (reply !== undefined) sock.send(reply, rinfo.port, rinfo.address);
    });
    sock.once('error', reject);
    sock.bind(53, address, () => {
      sock.off('error', reject);
      resolve(sock);
    });
  });
}

/** Starts the stub on the first free address of 127.0.0.153-172 (another bench run may hold one). */
export async function startStubDns(): Promise<{ socket: Socket; address: string }> {
  let last: unknown;
  for (let i = 153; i < 173; i++) {
    const address = `127.0.0.${i}`;
    try {
      return { socket: await bindStub(address), address };
    } catch (err) {
      last = err;
    }
  }
  throw last instanceof Error ? last : new Error('no loopback address free for the stub DNS');
}
