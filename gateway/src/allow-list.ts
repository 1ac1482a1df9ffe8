/**
 * GATEWAY_LISTEN_ALLOWED_CLIENTS, as PHP-FPM's listen.allowed_clients: the client addresses a TCP
 * gateway port accepts. The port trusts what its clients send (REMOTE_ADDR, HTTPS, every CGI
 * meta-variable), so only the web server should reach it.
 */
import { BlockList, isIP } from 'node:net';

export interface AllowedClients {
  /** Whether a connection from this remote address (as net.Socket reports it) is accepted. */
  allows(address: string | undefined): boolean;
}

/** `127.0.0.1, 10.0.0.0/8, ::1`: addresses and CIDR ranges, IPv4 and IPv6. Throws on a bad item. */
export function parseAllowList(value: string): AllowedClients {
  const list = new BlockList();
  const items = value
    .split(/[\s,]+/)
    .map((item) => item.trim())
    .filter((item) => item !== '');
  if (items.length === 0) throw new Error('at least one address or CIDR range');
  for (const item of items) {
    const [address = '', prefix, extra] = item.split('/');
    const family = isIP(address);
    if (family === 0 || extra !== undefined) throw new Error(`addresses or CIDR ranges, not "${item}"`);
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (prefix === undefined) {
      list.addAddress(address, type);
      continue;
    }
    const bits = Number(prefix);
    if (!/^\d{1,3}$/.test(prefix) || bits > (family === 4 ? 32 : 128))
      throw new Error(`a prefix length 0-${family === 4 ? 32 : 128} in "${item}"`);
    list.addSubnet(address, bits, type);
  }
  return {
    allows(address: string | undefined): boolean {
      if (address === undefined) return false;
      // A dual-stack socket reports IPv4 clients as ::ffff:a.b.c.d.
      const v4 = address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : null;
      if (v4 !== null) return list.check(v4, 'ipv4');
      const family = isIP(address);
      return family !== 0 && list.check(address, family === 4 ? 'ipv4' : 'ipv6');
    },
  };
}
