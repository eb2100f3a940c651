import ipaddr from 'ipaddr.js';

/**
 * What kind of network address something is, and whether the system may connect to it on a
 * user's behalf (media URLs, webhook URLs). One policy for every place that fetches or calls a
 * URL someone else chose, so a server-side request forgery guard cannot differ between them.
 *
 * Parsing is ipaddr.js's; it is strict on purpose: only the canonical dotted-quad IPv4 form is an
 * address here (`01.2.3.4`, `0x7f.1`, `2130706433` are not), because what this classifies comes
 * from DNS answers and from `new URL().hostname`, which already turns those spellings into the
 * dotted quad they mean.
 */
export type AddressClass =
  | 'public'
  | 'private'
  | 'loopback'
  | 'link-local'
  | 'unique-local'
  | 'cgnat'
  | 'multicast'
  | 'unspecified'
  | 'reserved'
  | 'invalid';

/** Classes `allowPrivate` lets through; the others (but `public`) are always refused. */
const PRIVATE_CLASSES: ReadonlySet<AddressClass> = new Set([
  'private',
  'loopback',
  'link-local',
  'unique-local',
  'cgnat',
]);

/** [network, prefix length, class] of IPv4; first match wins. */
const IPV4_RANGES: [string, number, AddressClass][] = [
  ['0.0.0.0', 8, 'unspecified'], // "this network"; 0.0.0.0 reaches the local host on Linux
  ['10.0.0.0', 8, 'private'],
  ['100.64.0.0', 10, 'cgnat'],
  ['127.0.0.0', 8, 'loopback'],
  ['169.254.0.0', 16, 'link-local'], // includes cloud metadata (169.254.169.254)
  ['172.16.0.0', 12, 'private'],
  ['192.0.0.0', 24, 'reserved'], // IETF protocol assignments
  ['192.0.2.0', 24, 'reserved'], // TEST-NET-1
  ['192.88.99.0', 24, 'reserved'], // 6to4 relay anycast (deprecated)
  ['192.168.0.0', 16, 'private'],
  ['198.18.0.0', 15, 'private'], // benchmarking, never public
  ['198.51.100.0', 24, 'reserved'], // TEST-NET-2
  ['203.0.113.0', 24, 'reserved'], // TEST-NET-3
  ['224.0.0.0', 4, 'multicast'],
  ['240.0.0.0', 4, 'reserved'], // includes 255.255.255.255 (broadcast)
];

function ipv4ToInt(ip: string): number | null {
  if (!ipaddr.IPv4.isValidFourPartDecimal(ip)) return null;
  return ipaddr.IPv4.parse(ip)
    .toByteArray()
    .reduce((n, byte) => n * 256 + byte, 0);
}

const IPV4_TABLE = IPV4_RANGES.map(([net, bits, cls]) => {
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return { net: (ipv4ToInt(net)! & mask) >>> 0, mask, cls };
});

function classifyIPv4Int(n: number): AddressClass {
  for (const range of IPV4_TABLE) {
    if ((n & range.mask) >>> 0 === range.net) return range.cls;
  }
  return 'public';
}

/** The eight 16-bit groups of an IPv6 address (brackets and zone id allowed), or null. */
export function parseIPv6(input: string): number[] | null {
  let text = input.startsWith('[') && input.endsWith(']') ? input.slice(1, -1) : input;
  if (!ipaddr.IPv6.isValid(text)) return null;
  // ipaddr.js reads any dotted tail as IPv4-mapped (`::127.0.0.1` becomes `::ffff:7f00:1`), so
  // the tail is turned into its two groups here and the policy sees the address as written.
  const zone = text.indexOf('%');
  const bare = zone >= 0 ? text.slice(0, zone) : text;
  const lastColon = bare.lastIndexOf(':');
  const tail = bare.slice(lastColon + 1);
  if (tail.includes('.')) {
    const v4 = ipv4ToInt(tail);
    if (v4 === null) return null;
    text = `${bare.slice(0, lastColon + 1)}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
    if (!ipaddr.IPv6.isValid(text)) return null;
  }
  return ipaddr.IPv6.parse(text).parts.slice();
}

function classifyIPv6Groups(g: number[]): AddressClass {
  const zeros = (from: number, to: number) => g.slice(from, to).every((x) => x === 0);
  const embeddedV4 = (hi: number, lo: number) => classifyIPv4Int(((hi << 16) | lo) >>> 0);
  if (zeros(0, 8)) return 'unspecified';
  if (zeros(0, 7) && g[7] === 1) return 'loopback';
  // ::ffff:a.b.c.d (IPv4-mapped) and ::ffff:0:a.b.c.d (IPv4-translated): the IPv4 address.
  if (zeros(0, 5) && g[5] === 0xffff) return embeddedV4(g[6], g[7]);
  if (zeros(0, 4) && g[4] === 0xffff && g[5] === 0) return embeddedV4(g[6], g[7]);
  // ::a.b.c.d (IPv4-compatible, deprecated): nothing legitimate uses it.
  if (zeros(0, 6)) return 'reserved';
  // 64:ff9b::/96 (NAT64 well-known prefix) reaches the embedded IPv4 address.
  if (g[0] === 0x64 && g[1] === 0xff9b && zeros(2, 6)) return embeddedV4(g[6], g[7]);
  if (g[0] === 0x64 && g[1] === 0xff9b && g[2] === 1) return 'private'; // local-use NAT64
  if ((g[0] & 0xfe00) === 0xfc00) return 'unique-local'; // fc00::/7
  if ((g[0] & 0xffc0) === 0xfe80) return 'link-local'; // fe80::/10
  if ((g[0] & 0xffc0) === 0xfec0) return 'unique-local'; // fec0::/10, site-local (deprecated)
  if ((g[0] & 0xff00) === 0xff00) return 'multicast'; // ff00::/8
  // 2002::/16 (6to4) reaches the IPv4 address in its next 32 bits.
  if (g[0] === 0x2002) return embeddedV4(g[1], g[2]);
  if (g[0] === 0x2001 && g[1] === 0) return 'reserved'; // Teredo
  if (g[0] === 0x2001 && g[1] === 0x0db8) return 'reserved'; // documentation
  if (g[0] === 0x3fff && (g[1] & 0xf000) === 0) return 'reserved'; // documentation (3fff::/20)
  if (g[0] === 0x0100 && zeros(1, 4)) return 'reserved'; // discard-only 100::/64
  // Global unicast is 2000::/3; nothing else is allocated to anyone.
  if ((g[0] & 0xe000) === 0x2000) return 'public';
  return 'reserved';
}

/** What kind of address `ip` (IPv4 or IPv6, brackets and zone id allowed) is. */
export function classifyAddress(ip: string): AddressClass {
  const v4 = ipv4ToInt(ip);
  if (v4 !== null) return classifyIPv4Int(v4);
  const v6 = parseIPv6(ip);
  if (v6 !== null) return classifyIPv6Groups(v6);
  return 'invalid';
}

/** Whether the system may connect to `ip` on a user's behalf. */
export function isAddressAllowed(ip: string, allowPrivate: boolean): boolean {
  const cls = classifyAddress(ip);
  if (cls === 'public') return true;
  return allowPrivate && PRIVATE_CLASSES.has(cls);
}
