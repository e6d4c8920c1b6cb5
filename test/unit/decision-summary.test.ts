// Denial messages stay small whatever the number of signatures: the first ones are listed, the rest grouped by
// identical outcome ("and 990 more (same reason: …)"), groups past a few merged by reason code, every line clipped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MAX_LISTED_SIGNATURES,
  MAX_OUTCOME_GROUPS,
  MAX_SIGNATURE_LINE,
  signatureLines,
} from '../../src/policy/decision.ts';
import type { SignatureVerdict } from '../../src/policy/types.ts';
import { at, must } from '../helpers/must.ts';

const rejected = (
  i: number,
  message: string,
  reason: SignatureVerdict['reason'] = 'unknown-key',
): SignatureVerdict => ({
  source: `r.test/app:sha256-${'a'.repeat(64)}.sig, layer ${i} of 1000`,
  format: 'legacy',
  counted: false,
  signers: [],
  reason,
  message,
});

test('1000 identical rejections: 10 listed, the rest in one line with their reason', () => {
  const lines = signatureLines(
    Array.from({ length: 1000 }, (_, i) => rejected(i + 1, 'signed by a key that is not trusted here')),
  );
  assert.equal(lines[0], '1000 signatures found:');
  assert.equal(lines.length, 1 + MAX_LISTED_SIGNATURES + 1);
  assert.match(
    at(lines, 1),
    /^ {2}1\. r\.test\/app:.*layer 1 of 1000 \[legacy\]: not counted: unknown-key: signed by a key/,
  );
  assert.equal(
    lines.at(-1),
    '  and 990 more (same reason: not counted: unknown-key: signed by a key that is not trusted here)',
  );
});

test('many different messages: a few groups, then one line per reason code', () => {
  const verdicts = Array.from({ length: 1000 }, (_, i) =>
    rejected(i + 1, `problem number ${i % 50}`, i % 2 === 0 ? 'malformed' : 'bad-signature'),
  );
  const lines = signatureLines(verdicts);
  const grouped = lines.filter((l) => l.includes('(same reason:'));
  const merged = lines.filter((l) => / different messages?\)$/.test(l));
  assert.equal(grouped.length, MAX_OUTCOME_GROUPS);
  assert.deepEqual(
    merged.map((l) => l.replace(/\d+ more/, 'N more')),
    [
      // 50 messages (25 per reason); after the 5 groups shown (messages 10-14), message 15 (bad-signature) comes first.
      '  and N more not counted: bad-signature (23 different messages)',
      '  and N more not counted: malformed (22 different messages)',
    ],
  );
  const total = grouped
    .concat(merged)
    .reduce((n, l) => n + Number(must(/and (\d+) more/.exec(l), '/and (\\d+) more/.exec(l)')[1]), 0);
  assert.equal(total, 1000 - MAX_LISTED_SIGNATURES, 'every signature is accounted for');
});

test('a long upstream-chosen message is clipped on every line, and counted signatures are grouped as such', () => {
  const long = 'x'.repeat(100_000);
  const counted: SignatureVerdict = {
    source: 'r.test/app@sha256:1 (referrer)',
    format: 'bundle',
    counted: true,
    signers: ['alice'],
  };
  const lines = signatureLines([...Array.from({ length: 20 }, (_, i) => rejected(i + 1, long)), counted, counted]);
  assert.ok(
    lines.every((l) => l.length <= MAX_SIGNATURE_LINE),
    'no line over the limit',
  );
  assert.ok(lines.includes('  and 2 more (same outcome: counted (signed by alice))'));
  assert.ok(lines.join('\n').length < 8 * 1024);
});
