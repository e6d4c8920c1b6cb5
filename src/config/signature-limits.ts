// The signature-lookup keys of the `limits` section (see SignatureLimits in types.ts). Pure, like parse.ts.
import { DEFAULT_SIGNATURE_LIMITS, type SignatureLimits } from './types.ts';
import { readInt, readSize, type Problems } from '../util/yaml-reader.ts';

export const SIGNATURE_LIMIT_KEYS = [
  'signatureBytes',
  'signatureLayers',
  'signatureReferrers',
  'signaturesPerLookup',
  'signatureBytesPerLookup',
  'signatureFetches',
  'attachmentLayers',
  'attachmentLayerBytes',
  'attachmentBytes',
  'signatureMemory',
] as const;

export function parseSignatureLimits(l: Record<string, unknown> | undefined, problems: Problems): SignatureLimits {
  const d = DEFAULT_SIGNATURE_LIMITS;
  const at = (k: (typeof SIGNATURE_LIMIT_KEYS)[number]): ['limits', string] => ['limits', k];
  const count = (
    k: 'signatureLayers' | 'signatureReferrers' | 'signaturesPerLookup' | 'signatureFetches' | 'attachmentLayers',
    max: number,
  ): number => readInt(l?.[k], at(k), problems, { min: 1, max }) ?? d[k];
  const signatureBytes =
    readSize(l?.signatureBytes, at('signatureBytes'), problems, { min: 1024, max: 128 * 1024 ** 2 }) ??
    d.signatureBytes;
  const perLookup = readSize(l?.signatureBytesPerLookup, at('signatureBytesPerLookup'), problems, {
    min: 1024,
    max: 1024 ** 3,
  });
  const signatureBytesPerLookup = perLookup ?? Math.max(d.signatureBytesPerLookup, signatureBytes);
  if (perLookup !== undefined && perLookup < signatureBytes) {
    problems.add(
      at('signatureBytesPerLookup'),
      `is ${perLookup} bytes, less than limits.signatureBytes (${signatureBytes} bytes): one signature of the largest size allowed must fit in a lookup; raise signatureBytesPerLookup or lower signatureBytes`,
    );
  }
  const attachments = attachmentLimits(l, problems);
  const largest = Math.max(signatureBytesPerLookup, attachments.attachmentBytes);
  const memory = readSize(l?.signatureMemory, at('signatureMemory'), problems, { min: 64 * 1024, max: 64 * 1024 ** 3 });
  if (memory !== undefined && memory < largest) {
    problems.add(
      at('signatureMemory'),
      `is ${memory} bytes, less than one lookup or proof may hold (${largest} bytes: the larger of signatureBytesPerLookup and attachmentBytes); raise it or lower those`,
    );
  }
  return {
    signatureBytes,
    signatureLayers: count('signatureLayers', 100_000),
    signatureReferrers: count('signatureReferrers', 10_000),
    signaturesPerLookup: count('signaturesPerLookup', 10_000),
    signatureBytesPerLookup,
    signatureFetches: count('signatureFetches', 64),
    ...attachments,
    signatureMemory: memory ?? Math.max(d.signatureMemory, largest),
  };
}

function attachmentLimits(
  l: Record<string, unknown> | undefined,
  problems: Problems,
): Pick<SignatureLimits, 'attachmentLayers' | 'attachmentLayerBytes' | 'attachmentBytes'> {
  const d = DEFAULT_SIGNATURE_LIMITS;
  const layerBytes =
    readSize(l?.attachmentLayerBytes, ['limits', 'attachmentLayerBytes'], problems, { min: 1024, max: 1024 ** 3 }) ??
    d.attachmentLayerBytes;
  const total = readSize(l?.attachmentBytes, ['limits', 'attachmentBytes'], problems, {
    min: 1024,
    max: 4 * 1024 ** 3,
  });
  if (total !== undefined && total < layerBytes) {
    problems.add(
      ['limits', 'attachmentBytes'],
      `is ${total} bytes, less than limits.attachmentLayerBytes (${layerBytes} bytes): one layer of the largest size allowed must fit; raise attachmentBytes or lower attachmentLayerBytes`,
    );
  }
  return {
    attachmentLayers:
      readInt(l?.attachmentLayers, ['limits', 'attachmentLayers'], problems, { min: 1, max: 10_000 }) ??
      d.attachmentLayers,
    attachmentLayerBytes: layerBytes,
    attachmentBytes: total ?? Math.max(d.attachmentBytes, layerBytes),
  };
}
