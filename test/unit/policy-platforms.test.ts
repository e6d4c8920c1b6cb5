// Multi-arch: which manifest needs its own signature under each `platforms` setting, and the decisions the gate gets.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { parseYaml, policySource } from '../../src/config/parse.ts';
import { compilePolicy } from '../../src/policy/compile.ts';
import { platformRequirement, type PlatformRequirement } from '../../src/policy/platforms.ts';
import type { CompiledPolicy, ManifestKind, Platforms } from '../../src/policy/types.ts';
import type { SignatureCheck } from '../../src/verify/types.ts';

const PEM = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({
  type: 'spki',
  format: 'pem',
}) as string;
const INDEX = `sha256:${'1'.repeat(64)}`;
const CHILD = `sha256:${'2'.repeat(64)}`;

function policyWith(platforms: Platforms, mode = 'enforce'): CompiledPolicy {
  const { raw, problems } = parseYaml(
    `trust: { keys: { release: { pem: ${JSON.stringify(PEM)} } } }\n` +
      `policy: { policies: [ { name: multi, match: ["ghcr.io/acme/**"], keys: [release], platforms: ${platforms}, mode: ${mode} } ] }`,
  );
  const p = compilePolicy(policySource(raw), problems, { readKeyFile: () => new Error('no files here') });
  assert.deepEqual(problems.list, []);
  assert.ok(p);
  return p;
}

const signed: SignatureCheck = { format: 'legacy', source: 'sig 1', verified: true, signers: ['release'] };

describe('the platform table', () => {
  const own = (coversChildren: boolean): PlatformRequirement => ({ verify: 'own-signature', coversChildren });
  const table: [Platforms, ManifestKind, PlatformRequirement][] = [
    ['either', 'index', own(true)],
    ['either', 'child', { verify: 'none', because: 'covered-by-index' }],
    ['either', 'single', own(false)],
    ['index', 'index', own(true)],
    ['index', 'child', { verify: 'none', because: 'covered-by-index' }],
    ['index', 'single', { verify: 'deny', because: 'index-only' }],
    ['child', 'index', { verify: 'none', because: 'index-pass-through' }],
    ['child', 'child', own(false)],
    ['child', 'single', own(false)],
    ['both', 'index', own(false)],
    ['both', 'child', own(false)],
    ['both', 'single', own(false)],
  ];
  for (const [platforms, kind, want] of table) {
    test(`${platforms} / ${kind}`, () => assert.deepEqual(platformRequirement({ platforms }, kind), want));
  }
  test('either is the default', () => {
    const { raw, problems } = parseYaml(
      `trust: { keys: { r: { pem: ${JSON.stringify(PEM)} } } }\npolicy: { policies: [ { name: a, match: ["x.io/a"], keys: [r] } ] }`,
    );
    const rule = compilePolicy(policySource(raw), problems, { readKeyFile: () => '' })?.rules[0];
    assert.ok(rule?.kind === 'signed');
    assert.equal(rule.platforms, 'either');
  });
});

describe('decisions per platforms setting', () => {
  const res = (p: CompiledPolicy) => p.resolve('ghcr.io', 'acme/app');

  test('either: a signed index covers its children; a child then needs nothing more', () => {
    const p = policyWith('either');
    const idx = p.evaluate(res(p), [signed], { digest: INDEX, kind: 'index' });
    assert.equal(idx.allow, true);
    assert.equal(idx.coversChildren, true);
    assert.equal(
      p.decideWithoutSignatures(res(p), { digest: INDEX, kind: 'index' }),
      undefined,
      'the index needs its own signature',
    );
    const child = p.decideWithoutSignatures(res(p), { digest: CHILD, kind: 'child', coveredBy: INDEX });
    assert.equal(child?.allow, true);
    assert.equal(child?.outcome, 'covered-by-index');
    assert.ok(child?.message.includes(INDEX));
    assert.equal(p.evaluate(res(p), [], { digest: CHILD, kind: 'child' }).allow, true, 'evaluate agrees');
    assert.equal(
      p.evaluate(res(p), [signed], { digest: CHILD, kind: 'single' }).allow,
      true,
      'a child signed on its own',
    );
    assert.equal(p.evaluate(res(p), [], { digest: CHILD, kind: 'single' }).allow, false, 'neither');
  });

  test('a child signature never makes an index pass', () => {
    for (const platforms of ['either', 'index', 'both'] as const) {
      const p = policyWith(platforms);
      const d = p.evaluate(res(p), [], { digest: INDEX, kind: 'index' });
      assert.equal(d.allow, false, platforms);
      assert.equal(d.coversChildren, false);
    }
  });

  test('an unsigned index in warn mode is served but covers nothing', () => {
    const p = policyWith('either', 'warn');
    const d = p.evaluate(res(p), [], { digest: INDEX, kind: 'index' });
    assert.equal(d.allow, true);
    assert.equal(d.wouldDeny, true);
    assert.equal(d.coversChildren, false);
  });

  test('index: a manifest not reached through a verified index is denied, even signed on its own', () => {
    const p = policyWith('index');
    const d = p.decideWithoutSignatures(res(p), { digest: CHILD, kind: 'single' });
    assert.equal(d?.allow, false);
    assert.equal(d?.outcome, 'index-only');
    assert.match(d?.message ?? '', /platforms: index/);
    assert.equal(p.evaluate(res(p), [signed], { digest: CHILD, kind: 'single' }).allow, false);
    assert.equal(p.decideWithoutSignatures(res(p), { digest: CHILD, kind: 'child' })?.allow, true);
    const pw = policyWith('index', 'warn');
    const warn = pw.decideWithoutSignatures(res(pw), { digest: CHILD, kind: 'single' });
    assert.equal(warn?.allow, true);
    assert.equal(warn?.wouldDeny, true);
  });

  test('child: the index is served as is; every child needs its own signature', () => {
    const p = policyWith('child');
    const idx = p.decideWithoutSignatures(res(p), { digest: INDEX, kind: 'index' });
    assert.equal(idx?.allow, true);
    assert.equal(idx?.outcome, 'index-pass-through');
    assert.equal(idx?.coversChildren, false);
    assert.equal(p.evaluate(res(p), [signed], { digest: INDEX, kind: 'index' }).coversChildren, false);
    assert.equal(p.decideWithoutSignatures(res(p), { digest: CHILD, kind: 'child' }), undefined);
    assert.equal(
      p.evaluate(res(p), [], { digest: CHILD, kind: 'child' }).allow,
      false,
      'an index-only signature is not enough',
    );
    assert.equal(p.evaluate(res(p), [signed], { digest: CHILD, kind: 'child' }).allow, true);
  });

  test('both: the index and each child carry their own signature', () => {
    const p = policyWith('both');
    const idx = p.evaluate(res(p), [signed], { digest: INDEX, kind: 'index' });
    assert.equal(idx.allow, true);
    assert.equal(idx.coversChildren, false);
    assert.equal(p.evaluate(res(p), [], { digest: CHILD, kind: 'child' }).allow, false);
    assert.equal(p.evaluate(res(p), [signed], { digest: CHILD, kind: 'child' }).allow, true);
  });
});
