// Which kind of network an IP address belongs to, for the upstream trust boundary (boundary.ts, address-guard.ts):
// a redirect or a token realm may lead sigward only to public addresses unless the operator allowed more. The
// ranges are IANA's special-purpose registries (RFC 6890 and its updates); anything sigward cannot place is treated
// as not public, so an odd notation fails closed. IPv6 forms that carry an IPv4 address (mapped ::ffff:a.b.c.d,
// SIIT ::ffff:0:a.b.c.d, the deprecated compatible ::a.b.c.d, NAT64 64:ff9b::/96, 6to4 2002::/16) are judged by
// that IPv4 address, so ::ffff:127.0.0.1 is loopback however it is written.
import { isIP } from 'node:net';

/** Why an address is not public ("loopback", "private (RFC 1918)", …), or undefined for a public address. */
export type AddressClassifier = (address: string) => string | undefined;

type V4Rule = readonly [base: number, bits: number, label: string];

const v4 = (a: number, b: number, c: number, d: number): number => ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;

const V4_RULES: readonly V4Rule[] = [
  [v4(0, 0, 0, 0), 8, 'unspecified ("this network")'],
  [v4(10, 0, 0, 0), 8, 'private (RFC 1918)'],
  [v4(100, 64, 0, 0), 10, 'shared address space (CGNAT, RFC 6598)'],
  [v4(127, 0, 0, 0), 8, 'loopback'],
  [v4(169, 254, 0, 0), 16, 'link-local'],
  [v4(172, 16, 0, 0), 12, 'private (RFC 1918)'],
  [v4(192, 0, 0, 0), 24, 'reserved (IETF protocol assignments)'],
  [v4(192, 0, 2, 0), 24, 'documentation'],
  [v4(192, 88, 99, 0), 24, 'reserved (6to4 relay)'],
  [v4(192, 168, 0, 0), 16, 'private (RFC 1918)'],
  [v4(198, 18, 0, 0), 15, 'benchmarking'],
  [v4(198, 51, 100, 0), 24, 'documentation'],
  [v4(203, 0, 113, 0), 24, 'documentation'],
  [v4(224, 0, 0, 0), 4, 'multicast'],
  [v4(240, 0, 0, 0), 4, 'reserved (240/4, broadcast)'],
];

function classifyV4(n: number): string | undefined {
  for (const [base, bits, label] of V4_RULES) {
    const mask = (0xffffffff << (32 - bits)) >>> 0;
    if ((n & mask) >>> 0 === base) return label;
  }
  return undefined;
}

function parseV4(s: string): number | undefined {
  const parts = s.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return undefined;
  return v4(Number(parts[0]), Number(parts[1]), Number(parts[2]), Number(parts[3]));
}

/** Eight 16-bit groups, or undefined when it is not an IPv6 address. A zone (`%eth0`) is dropped. */
function parseV6(input: string): number[] | undefined {
  let s = input.split('%')[0] ?? '';
  const groups: number[] = [];
  const tail: number[] = [];
  // A dotted IPv4 tail stands for the last two groups.
  const dotted = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (dotted) {
    const n = parseV4(dotted[2] ?? '');
    if (n === undefined) return undefined;
    tail.push(n >>> 16, n & 0xffff);
    s = dotted[1] ?? '';
    if (s.endsWith(':') && !s.endsWith('::')) s = s.slice(0, -1);
  }
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const read = (part: string): number[] | undefined => {
    if (part === '') return [];
    const out: number[] = [];
    for (const g of part.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const head = read(halves[0] ?? '');
  const rest = halves.length === 2 ? read(halves[1] ?? '') : [];
  if (head === undefined || rest === undefined) return undefined;
  const given = head.length + rest.length + tail.length;
  if (halves.length === 2 ? given > 7 : given !== 8) return undefined;
  groups.push(...head, ...Array<number>(8 - given).fill(0), ...rest, ...tail);
  return groups;
}

const low32 = (g: readonly number[]): number => (((g[6] ?? 0) << 16) | (g[7] ?? 0)) >>> 0;

function classifyV6(g: readonly number[]): string | undefined {
  const [g0 = 0, g1 = 0, g2 = 0, g3 = 0, g4 = 0, g5 = 0, , g7 = 0] = g;
  const zeroTo = (n: number): boolean => g.slice(0, n).every((x) => x === 0);
  if (zeroTo(8)) return 'unspecified';
  if (zeroTo(7) && g7 === 1) return 'loopback';
  // Forms that carry an IPv4 address: judged by it.
  if (zeroTo(5) && g5 === 0xffff) return classifyV4(low32(g)); // ::ffff:a.b.c.d (mapped)
  if (zeroTo(4) && g4 === 0xffff && g5 === 0) return classifyV4(low32(g)); // ::ffff:0:a.b.c.d (SIIT)
  if (zeroTo(6)) return classifyV4(low32(g)); // ::a.b.c.d (compatible, deprecated)
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0) return classifyV4(low32(g)); // NAT64
  if (g0 === 0x2002) return classifyV4(((g1 << 16) | g2) >>> 0); // 6to4
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 1) return 'private (local-use NAT64)';
  if ((g0 & 0xfe00) === 0xfc00) return 'unique local (fc00::/7)';
  if ((g0 & 0xffc0) === 0xfe80) return 'link-local';
  if ((g0 & 0xffc0) === 0xfec0) return 'site-local (deprecated)';
  if ((g0 & 0xff00) === 0xff00) return 'multicast';
  if (g0 === 0x2001 && g1 === 0x0db8) return 'documentation';
  if (g0 === 0x2001 && g1 < 0x200) return 'reserved (IETF protocol assignments, Teredo)';
  if ((g0 & 0xfff0) === 0x3ff0) return 'documentation';
  // Global unicast is 2000::/3; everything else (discard-only 100::/64, unassigned space) is not public.
  if ((g0 & 0xe000) !== 0x2000) return 'reserved';
  return undefined;
}

/** The default classifier: why `address` (an IPv4 or IPv6 literal) is not public; undefined when it is. Anything
 * that is not an IP address at all is reported as such (never as public). */
export const nonPublicReason: AddressClassifier = (address) => {
  const bare = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  const kind = isIP(bare.split('%')[0] ?? '');
  if (kind === 4) return classifyV4(parseV4(bare) ?? 0);
  if (kind === 6) {
    const groups = parseV6(bare);
    return groups === undefined ? 'not a valid address' : classifyV6(groups);
  }
  return 'not an IP address';
};

/** Whether a URL host name is an IP literal (IPv6 with or without brackets). */
export function isIpLiteral(hostname: string): boolean {
  const bare = hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
  return isIP(bare.split('%')[0] ?? '') !== 0;
}

/**
 * What can be said about a URL's host before any lookup: the reason its IP literal is not public, or "loopback"
 * for `localhost` and `*.localhost` (RFC 6761: they always resolve to loopback). Undefined for other names, whose
 * addresses are checked when the connection is made (address-guard.ts).
 */
export function literalNonPublicReason(
  hostname: string,
  classify: AddressClassifier = nonPublicReason,
): string | undefined {
  const name = hostname.toLowerCase().replace(/\.$/, '');
  if (name === 'localhost' || name.endsWith('.localhost')) return 'loopback';
  return isIpLiteral(hostname) ? classify(hostname) : undefined;
}
