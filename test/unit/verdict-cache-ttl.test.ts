// The verdict cache's lifetimes run on the injected clock: allowed verdicts and index coverage for cache.allowTtl,
// denials (and warn-mode verdicts that would deny) for cache.denyTtl, and a TTL of 0 keeps nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Decision } from '../../src/policy/types.ts';
import { VerdictCache, type StoredVerdict } from '../../src/proxy/verdicts.ts';

function verdict(allow: boolean, wouldDeny = false): StoredVerdict {
  const decision: Decision = {
    allow,
    wouldDeny,
    mode: wouldDeny ? 'warn' : 'enforce',
    outcome: allow ? 'verified' : 'no-valid-signature',
    policyName: 'p',
    matchedPattern: 'r.test/*',
    signers: [],
    coversChildren: false,
    summary: allow ? 'allowed' : 'no valid signature',
    message: '',
    perSignature: [],
  };
  return { decision, formats: [], found: 0 };
}

function clocked(allowTtlMs: number, denyTtlMs: number) {
  const clock = { t: 1_000 };
  const cache = new VerdictCache({ allowTtlMs, denyTtlMs, maxEntries: 100, now: () => clock.t });
  return { clock, cache };
}

test('an allowed verdict lives exactly allowTtl on the injected clock', () => {
  const { clock, cache } = clocked(60_000, 5_000);
  cache.set('k', verdict(true));
  clock.t += 60_000;
  assert.ok(cache.get('k'), 'still held at its age of allowTtl');
  clock.t += 1;
  assert.equal(cache.get('k'), undefined);
});

test('a denied verdict, and a warn-mode one that would deny, live denyTtl', () => {
  const { clock, cache } = clocked(60_000, 5_000);
  cache.set('deny', verdict(false));
  cache.set('warn', verdict(true, true));
  clock.t += 5_000;
  assert.ok(cache.get('deny') && cache.get('warn'));
  clock.t += 1;
  assert.equal(cache.get('deny'), undefined);
  assert.equal(cache.get('warn'), undefined);
});

test('index coverage of children lives allowTtl', () => {
  const { clock, cache } = clocked(60_000, 5_000);
  cache.coverChildren('h', 'repo', 'sha256:index', ['sha256:child']);
  clock.t += 60_000;
  assert.equal(cache.coveringIndex('h', 'repo', 'sha256:child'), 'sha256:index');
  clock.t += 1;
  assert.equal(cache.coveringIndex('h', 'repo', 'sha256:child'), undefined);
});

test('a TTL of 0 keeps nothing', () => {
  const { cache } = clocked(0, 0);
  cache.set('a', verdict(true));
  cache.set('d', verdict(false));
  cache.coverChildren('h', 'repo', 'sha256:index', ['sha256:child']);
  assert.equal(cache.size, 0);
  assert.equal(cache.coveringIndex('h', 'repo', 'sha256:child'), undefined);
});

test('a clock reading 0 still expires entries (lru-cache takes a start of 0 for "no TTL")', () => {
  const clock = { t: 0 };
  const cache = new VerdictCache({ allowTtlMs: 10, denyTtlMs: 10, maxEntries: 10, now: () => clock.t });
  cache.set('k', verdict(true));
  clock.t = 12;
  assert.equal(cache.get('k'), undefined);
});
