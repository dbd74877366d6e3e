/**
 * Lists of addresses and CIDR subnets from the configuration ("10.0.0.0/8", "::1", as `config/schema.ts` validates
 * them), and the check of a peer's address against one: `limits.connectionRateExempt` and `proxy.trusted`.
 */
import { BlockList, isIP } from 'node:net';

export function addressList(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const [address = '', prefix] = entry.split('/');
    const type = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (prefix === undefined) list.addAddress(address, type);
    else list.addSubnet(address, Number(prefix), type);
  }
  return list;
}

/** Whether `address` (as a socket reports it: "::ffff:1.2.3.4" for IPv4 on a dual-stack socket) is in `list`. */
export function inAddressList(list: BlockList, address: string | undefined): boolean {
  if (address === undefined) return false;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped?.[1] !== undefined) return list.check(mapped[1], 'ipv4');
  const family = isIP(address);
  return family !== 0 && list.check(address, family === 6 ? 'ipv6' : 'ipv4');
}
