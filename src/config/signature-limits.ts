// The signature-lookup keys of the `limits` section (see SignatureLimits in types.ts). Pure, like parse.ts.
import { DEFAULT_SIGNATURE_LIMITS, type SignatureLimits } from './types.ts';
import { readInt, readSize, type Problems } from './reader.ts';

export const SIGNATURE_LIMIT_KEYS = [
  'signatureBytes',
  'signatureLayers',
  'signatureReferrers',
  'signaturesPerLookup',
  'signatureBytesPerLookup',
  'signatureFetches',
] as const;

export function parseSignatureLimits(l: Record<string, unknown> | undefined, problems: Problems): SignatureLimits {
  const d = DEFAULT_SIGNATURE_LIMITS;
  const at = (k: (typeof SIGNATURE_LIMIT_KEYS)[number]): ['limits', string] => ['limits', k];
  const count = (k: 'signatureLayers' | 'signatureReferrers' | 'signaturesPerLookup' | 'signatureFetches', max: number): number =>
    readInt(l?.[k], at(k), problems, { min: 1, max }) ?? d[k];
  const signatureBytes = readSize(l?.signatureBytes, at('signatureBytes'), problems, { min: 1024, max: 128 * 1024 ** 2 }) ?? d.signatureBytes;
  const perLookup = readSize(l?.signatureBytesPerLookup, at('signatureBytesPerLookup'), problems, { min: 1024, max: 1024 ** 3 });
  const signatureBytesPerLookup = perLookup ?? Math.max(d.signatureBytesPerLookup, signatureBytes);
  if (perLookup !== undefined && perLookup < signatureBytes) {
    problems.add(at('signatureBytesPerLookup'), `is ${perLookup} bytes, less than limits.signatureBytes (${signatureBytes} bytes): one signature of the largest size allowed must fit in a lookup; raise signatureBytesPerLookup or lower signatureBytes`);
  }
  return {
    signatureBytes,
    signatureLayers: count('signatureLayers', 100_000),
    signatureReferrers: count('signatureReferrers', 10_000),
    signaturesPerLookup: count('signaturesPerLookup', 10_000),
    signatureBytesPerLookup,
    signatureFetches: count('signatureFetches', 64),
  };
}
