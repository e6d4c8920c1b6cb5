// Match patterns: the glob language, canonical forms, specificity order, and the overlap check behind ambiguity errors.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { compareSpecificity, matches, parsePattern, type Pattern } from '../../src/policy/glob.ts';
import { DEFAULT_HOST_NAMES, hostNames, referenceName } from '../../src/policy/hosts.ts';
import { commonSegment, overlapWitness } from '../../src/policy/overlap.ts';

function pat(text: string, hosts = DEFAULT_HOST_NAMES): Pattern {
  const p = parsePattern(text, hosts);
  if (!p.ok) throw new Error(`pattern ${text} refused: ${p.problem}`);
  return p.pattern;
}

describe('glob matching', () => {
  const table: [string, string, boolean][] = [
    ['ghcr.io/acme/*', 'ghcr.io/acme/app', true],
    ['ghcr.io/acme/*', 'ghcr.io/acme/team/app', false], // * stays within one segment
    ['ghcr.io/acme/*', 'ghcr.io/acme', false],
    ['ghcr.io/acme/*', 'ghcr.io/acmex/app', false],
    ['ghcr.io/acme/**', 'ghcr.io/acme/app', true],
    ['ghcr.io/acme/**', 'ghcr.io/acme/team/app', true], // ** spans segments
    ['ghcr.io/acme/**', 'ghcr.io/acme', false], // ** is one or more segments
    ['ghcr.io/acme/**', 'ghcr.io/acme-other/app', false], // segment boundary
    ['ghcr.io/acme/app-*', 'ghcr.io/acme/app-web', true],
    ['ghcr.io/acme/app-*', 'ghcr.io/acme/app', false],
    ['ghcr.io/acme/app-*', 'ghcr.io/acme/app-web/x', false],
    ['ghcr.io/a.b', 'ghcr.io/axb', false], // '.' is literal
    ['ghcr.io/a.b', 'ghcr.io/a.b', true],
    ['localhost:5000/app', 'localhost:5000/app', true],
    ['localhost:5000/app', 'localhost:5001/app', false], // the port is part of the host
    ['localhost:5000/app', 'localhost/app', false],
    ['localhost:*/app', 'localhost:5000/app', true],
    ['localhost:*/app', 'localhost/app', false],
    ['registry.io/*', 'registry.io:5000/x', false],
    ['registry.io/**', 'registry.io:5000/x', false],
    ['*.example.com/**', 'registry.example.com/a/b', true],
    ['*.example.com/**', 'a.b.example.com/x', true], // * matches '.' (not '/')
    ['*.example.com/**', 'example.com/x', false],
    ['[::1]:5000/app', '[::1]:5000/app', true],
    ['127.0.0.1:5000/team/*', '127.0.0.1:5000/team/app', true],
    ['**', 'docker.io/library/busybox', true],
    ['**', 'localhost:5000/a/b/c/d', true],
    ['**/cache', 'ghcr.io/acme/cache', true],
    ['**/cache', 'ghcr.io/cache', true],
    ['**/cache', 'ghcr.io/acme/cache/x', false],
    ['ghcr.io/**/app', 'ghcr.io/a/b/app', true],
    ['ghcr.io/**/app', 'ghcr.io/app', false],
    ['docker.io/busybox', 'docker.io/library/busybox', true],
    ['docker.io/busybox', 'docker.io/busybox', false], // canonical names always carry library/
  ];
  for (const [p, name, want] of table) {
    test(`${p} ${want ? 'matches' : 'does not match'} ${name}`, () => assert.equal(matches(pat(p), name), want));
  }
});

describe('canonical pattern text', () => {
  const table: [string, string][] = [
    ['GHCR.IO/acme/app', 'ghcr.io/acme/app'],
    ['index.docker.io/busybox', 'docker.io/library/busybox'],
    ['registry-1.docker.io/library/busybox', 'docker.io/library/busybox'],
    ['docker.io/*', 'docker.io/library/*'], // Docker's single-name rule applies to a single-segment glob
    ['docker.io/**', 'docker.io/**'],
    ['docker.io/acme/app', 'docker.io/acme/app'],
    ['ghcr.io/busybox', 'ghcr.io/busybox'], // library/ is Docker Hub's rule only
  ];
  for (const [p, want] of table) test(`${p} -> ${want}`, () => assert.equal(pat(p).text, want));

  test('aliases from the upstream config canonicalize hosts', () => {
    const hosts = hostNames([{ host: 'registry.local:5000', aliases: ['mirror.local'], libraryPrefix: false }]);
    assert.equal(pat('mirror.local/app', hosts).text, 'registry.local:5000/app');
    assert.equal(pat('mirror.local/app', DEFAULT_HOST_NAMES).text, 'mirror.local/app');
  });
});

describe('bad patterns say what to write instead', () => {
  const table: [string, RegExp][] = [
    ['', /empty path segment/],
    ['busybox', /must start with the registry host \(e\.g\. docker\.io\/library\/busybox\)/],
    ['library/busybox', /must start with the registry host/],
    ['ghcr.io', /names no repository: write ghcr\.io\/\*\*/],
    ['*', /ambiguous/],
    ['ghcr.io/acme**', /'\*\*' must be a whole path segment/],
    ['ghcr.io/**acme/x', /'\*\*' must be a whole path segment/],
    ['ghcr.io/acme/app:latest', /drop the tag or digest/],
    ['ghcr.io/acme/app@sha256:0000', /drop the tag or digest/],
    ['busybox:latest', /drop the tag or digest/],
    ['ghcr.io//app', /empty path segment/],
    ['ghcr.io/acme/', /empty path segment/],
    ['/ghcr.io/acme', /empty path segment/],
    ['ghcr.io/Acme/app', /lowercase/],
    ['ghcr.io/acme/app!', /characters a repository name cannot contain/],
    ['gh_cr.io/app', /not a registry host/],
  ];
  for (const [p, re] of table) {
    test(JSON.stringify(p), () => {
      const r = parsePattern(p, DEFAULT_HOST_NAMES);
      assert.equal(r.ok, false);
      if (!r.ok) assert.match(r.problem, re);
    });
  }
});

describe('specificity order', () => {
  // Every one of these matches registry.io/team/app-web; most specific first.
  const ordered = [
    'registry.io/team/app-web',
    'registry.io/team/app-*',
    'registry.io/team/a*',
    'registry.io/team/*',
    'registry.io/team/**',
    'registry.io/*/app-web',
    'registry.io/**',
    '*.io/team/app-web',
    '**/app-web',
    '**',
  ];
  test('each pattern matches the name', () => {
    for (const p of ordered) assert.ok(matches(pat(p), 'registry.io/team/app-web'), p);
  });
  for (let i = 0; i < ordered.length; i++) {
    for (let j = i + 1; j < ordered.length; j++) {
      const a = ordered[i] as string;
      const b = ordered[j] as string;
      test(`${a} > ${b}`, () => {
        assert.ok(compareSpecificity(pat(a), pat(b)) > 0);
        assert.ok(compareSpecificity(pat(b), pat(a)) < 0);
      });
    }
  }
  test('more segments win when the shorter pattern is a prefix in rank', () => {
    assert.ok(compareSpecificity(pat('a.io/x/**/**'), pat('a.io/x/**')) > 0);
  });
  const ties: [string, string][] = [
    ['ghcr.io/acme/app-*', 'ghcr.io/acme/*-web'],
    ['ghcr.io/*/x', 'quay.io/*/x'],
    ['a*.io/x', '*b.io/x'],
    ['ghcr.io/acme/app', 'ghcr.io/acme/web'],
  ];
  for (const [a, b] of ties) test(`${a} ~ ${b}`, () => assert.equal(compareSpecificity(pat(a), pat(b)), 0));
});

describe('overlap of equally specific patterns', () => {
  test('single-segment globs', () => {
    assert.equal(commonSegment('app-*', '*-web'), 'app-web');
    assert.equal(commonSegment('a*', 'b*'), undefined);
    assert.equal(commonSegment('*', '*'), 'x');
    assert.equal(commonSegment('abc', 'abc'), 'abc');
    assert.equal(commonSegment('abc', 'abd'), undefined);
    assert.equal(commonSegment('a*c', '*b*'), 'abc');
  });
  const overlapping: [string, string][] = [
    ['ghcr.io/acme/app-*', 'ghcr.io/acme/*-web'],
    ['a*.io/x', '*b.io/x'],
    ['ghcr.io/**/x', 'ghcr.io/a/**'],
    ['**', '**'],
    ['ghcr.io/acme/*', 'ghcr.io/acme/*'],
  ];
  for (const [a, b] of overlapping) {
    test(`${a} and ${b} overlap, with a witness both match`, () => {
      const w = overlapWitness(pat(a), pat(b));
      assert.ok(w !== undefined);
      assert.ok(matches(pat(a), w), `${a} must match ${w}`);
      assert.ok(matches(pat(b), w), `${b} must match ${w}`);
    });
  }
  const disjoint: [string, string][] = [
    ['ghcr.io/*/x', 'quay.io/*/x'],
    ['ghcr.io/acme/app-*', 'ghcr.io/acme/web-*'],
    ['ghcr.io/a/*', 'ghcr.io/a/*/*'],
    ['ghcr.io/a/**', 'ghcr.io/b/**'],
  ];
  for (const [a, b] of disjoint)
    test(`${a} and ${b} are disjoint`, () => assert.equal(overlapWitness(pat(a), pat(b)), undefined));

  test('agrees with brute force over a small universe of names', () => {
    const tokens = ['a', 'b', '*', 'a*', '*b', '**'];
    const segs = ['a', 'b', 'ab', 'ba', 'aab'];
    const names: string[] = [];
    const grow = (prefix: string, depth: number): void => {
      if (depth === 0) return;
      for (const s of segs) {
        names.push(`${prefix}/${s}`);
        grow(`${prefix}/${s}`, depth - 1);
      }
    };
    grow('h.io', 4);
    const patterns: string[] = [];
    for (const x of tokens) {
      patterns.push(`h.io/${x}`);
      for (const y of tokens) patterns.push(`h.io/${x}/${y}`);
    }
    let overlaps = 0;
    for (const a of patterns) {
      for (const b of patterns) {
        const pa = pat(a);
        const pb = pat(b);
        const w = overlapWitness(pa, pb);
        const brute = names.find((n) => matches(pa, n) && matches(pb, n));
        if (w === undefined) assert.equal(brute, undefined, `${a} / ${b}: brute force found ${brute}`);
        else {
          overlaps++;
          assert.ok(matches(pa, w) && matches(pb, w), `${a} / ${b}: witness ${w}`);
        }
      }
    }
    assert.ok(
      overlaps > 100 && overlaps < patterns.length ** 2,
      `a mix of overlapping and disjoint pairs (${overlaps})`,
    );
  });
});

describe('signed docker-reference names', () => {
  const table: [string, string | undefined][] = [
    ['index.docker.io/library/busybox', 'docker.io/library/busybox'],
    ['busybox', 'docker.io/library/busybox'],
    ['acme/app:v1', 'docker.io/acme/app'],
    ['ghcr.io/a/b:v1', 'ghcr.io/a/b'],
    ['localhost:5000/app', 'localhost:5000/app'],
    ['localhost:5000/app:tag', 'localhost:5000/app'],
    ['localhost:5000/app@sha256:abcd', 'localhost:5000/app'],
    ['', undefined],
    ['ghcr.io/', undefined],
    ['ghcr.io//x', undefined],
  ];
  for (const [ref, want] of table)
    test(JSON.stringify(ref), () => assert.equal(referenceName(DEFAULT_HOST_NAMES, ref), want));
});
