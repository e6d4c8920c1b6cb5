// The verdict cache is bounded by the bytes its decisions hold (messages included), not only by entries: large
// denials evict the least recently used, and a verdict larger than the whole budget is not kept.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Decision } from '../../src/policy/types.ts';
import { VerdictCache, verdictBytes, type StoredVerdict } from '../../src/proxy/verdicts.ts';

function denial(messageChars: number, signatures = 0): StoredVerdict {
  const decision: Decision = {
    allow: false,
    wouldDeny: false,
    mode: 'enforce',
    outcome: 'no-valid-signature',
    policyName: 'p',
    matchedPattern: 'r.test/*',
    signers: [],
    coversChildren: false,
    summary: 'no valid signature',
    message: 'm'.repeat(messageChars),
    perSignature: Array.from({ length: signatures }, (_, i) => ({
      source: `layer ${i}`,
      format: 'legacy' as const,
      counted: false,
      signers: [],
      reason: 'malformed' as const,
      message: 'bad',
    })),
  };
  return { decision, formats: ['legacy'], found: signatures };
}

test('a verdict is accounted by its messages and signatures', () => {
  const small = verdictBytes('k', denial(10));
  assert.ok(verdictBytes('k', denial(10_010)) - small >= 20_000, 'two bytes per character of the message');
  assert.ok(verdictBytes('k', denial(10, 100)) - small >= 100 * 96, 'and a fixed cost per signature listed');
});

test('entries are evicted by bytes, least recently used first', () => {
  const cache = new VerdictCache({ allowTtlMs: 60_000, denyTtlMs: 60_000, maxEntries: 1000, maxBytes: 100 * 1024 });
  for (let i = 0; i < 10; i++) cache.set(`k${i}`, denial(20 * 1024)); // ~41 KiB each
  assert.ok(cache.bytes <= 100 * 1024, `${cache.bytes} bytes held`);
  assert.equal(cache.size, 2);
  assert.ok(cache.get('k9') && cache.get('k8') && !cache.get('k0'));
  assert.equal(cache.entryBytes('k9'), verdictBytes('k9', denial(20 * 1024)));
});

test('a verdict larger than the whole budget is not kept', () => {
  const cache = new VerdictCache({ allowTtlMs: 60_000, denyTtlMs: 60_000, maxEntries: 1000, maxBytes: 64 * 1024 });
  cache.set('huge', denial(1024 * 1024));
  assert.equal(cache.get('huge'), undefined);
  assert.equal(cache.bytes, 0);
});
