// The signature-lookup limits and the verdict memory budget: defaults, values in the config's units, and every
// problem with its YAML path and line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigText } from '../../src/config/parse.ts';
import { DEFAULT_CACHE, DEFAULT_SIGNATURE_LIMITS } from '../../src/config/types.ts';
import { DEFAULT_DISCOVERY_LIMITS, discoveryLimits } from '../../src/proxy/signatures.ts';
import { attachmentLimits, DEFAULT_ATTACHMENT_LIMITS } from '../../src/proxy/gate.ts';
import { must } from '../helpers/must.ts';

const UPSTREAM = 'upstreams: [{host: ghcr.io}]';

test('defaults: cosign-sized caps, and the gate gets them', () => {
  const { config } = parseConfigText(UPSTREAM);
  assert.ok(config);
  assert.deepEqual(
    Object.fromEntries(
      Object.keys(DEFAULT_SIGNATURE_LIMITS).map((k) => [k, config.limits[k as keyof typeof DEFAULT_SIGNATURE_LIMITS]]),
    ),
    {
      signatureBytes: 1024 * 1024,
      signatureLayers: 1000,
      signatureReferrers: 128,
      signaturesPerLookup: 100,
      signatureBytesPerLookup: 4 * 1024 * 1024,
      signatureFetches: 4,
      attachmentLayers: 64,
      attachmentLayerBytes: 4 * 1024 * 1024,
      attachmentBytes: 16 * 1024 * 1024,
      signatureMemory: 64 * 1024 * 1024,
    },
  );
  assert.equal(config.cache.verdictMemoryBytes, DEFAULT_CACHE.verdictMemoryBytes);
  assert.deepEqual(discoveryLimits(config.limits), DEFAULT_DISCOVERY_LIMITS);
  assert.deepEqual(attachmentLimits(config.limits), DEFAULT_ATTACHMENT_LIMITS);
});

test('values are read with units and handed to discovery', () => {
  const { config, problems } = parseConfigText(`${UPSTREAM}
limits:
  signatureBytes: 64KiB
  signatureLayers: 50
  signatureReferrers: 16
  signaturesPerLookup: 8
  signatureBytesPerLookup: 256KiB
  signatureFetches: 2
  attachmentLayers: 3
  attachmentLayerBytes: 8KiB
  attachmentBytes: 16KiB
cache: {verdictMemory: 8MiB}
`);
  assert.deepEqual(problems, []);
  assert.deepEqual(discoveryLimits(must(config, 'config').limits), {
    signatureBytes: 65536,
    maxLayers: 50,
    maxReferrers: 16,
    maxSignatures: 8,
    lookupBytes: 262144,
    concurrency: 2,
  });
  assert.equal(must(config, 'config').cache.verdictMemoryBytes, 8 * 1024 * 1024);
  assert.deepEqual(attachmentLimits(must(config, 'config').limits), {
    maxLayers: 3,
    layerBytes: 8192,
    totalBytes: 16384,
  });
});

test('every bad value is a problem with its path and line', () => {
  const yaml = [
    UPSTREAM, // 1
    'limits:', // 2
    '  signatureLayers: 0', // 3
    '  signaturesPerLookup: many', // 4
    '  signatureFetches: 1000', // 5
    '  signatureBytes: 2MiB', // 6
    '  signatureBytesPerLookup: 1MiB', // 7
    '  signatureReferers: 3', // 8
    'cache: {verdictMemory: 1KiB}', // 9
  ].join('\n');
  const r = parseConfigText(yaml);
  assert.equal(r.config, undefined);
  assert.deepEqual(
    r.problems.map((p) => `${p.line}:${p.path}`).sort(),
    [
      '3:limits.signatureLayers',
      '4:limits.signaturesPerLookup',
      '5:limits.signatureFetches',
      '7:limits.signatureBytesPerLookup',
      '8:limits.signatureReferers',
      '9:cache.verdictMemory',
    ].sort(),
  );
  assert.match(
    must(
      r.problems.find((p) => p.path === 'limits.signatureBytesPerLookup'),
      "r.problems.find((p) => p.path === 'limits.signatureBytesPerLookup')",
    ).message,
    /less than limits\.signatureBytes \(2097152 bytes\)/,
  );
});

test('attachment limits: bad values and a total below one layer are problems with their lines', () => {
  const yaml = [
    UPSTREAM,
    'limits:',
    '  attachmentLayers: 0',
    '  attachmentLayerBytes: 8MiB',
    '  attachmentBytes: 4MiB',
  ].join('\n');
  const r = parseConfigText(yaml);
  assert.equal(r.config, undefined);
  assert.deepEqual(r.problems.map((p) => `${p.line}:${p.path}`).sort(), [
    '3:limits.attachmentLayers',
    '5:limits.attachmentBytes',
  ]);
  assert.match(
    must(
      r.problems.find((p) => p.path === 'limits.attachmentBytes'),
      "r.problems.find((p) => p.path === 'limits.attachmentBytes')",
    ).message,
    /less than limits\.attachmentLayerBytes \(8388608 bytes\)/,
  );
});
