import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  isRepositoryName,
  isTag,
  isHost,
  parseManifestReference,
  parseRepositoryName,
  parseTag,
  looksLikeHost,
} from '../../src/oci/reference.ts';
import { digestOf, isDigest, matchesDigest, parseDigest } from '../../src/oci/digest.ts';
import { parseAccept, baseMediaType } from '../../src/oci/mediatypes.ts';
import { isSigwardError } from '../../src/errors.ts';

const hex64 = 'a'.repeat(64);

test('repository names: distribution grammar', () => {
  const good = [
    'a',
    'library/alpine',
    'a/b/c/d',
    'foo.bar',
    'foo_bar',
    'foo__bar',
    'foo-bar',
    'foo---bar',
    'a0/b1-c',
    'x'.repeat(255),
  ];
  const bad = [
    '',
    'A',
    'Library/alpine',
    'foo_',
    '_foo',
    'foo.',
    '.foo',
    'foo___bar',
    'foo._bar',
    'a//b',
    '/a',
    'a/',
    'a b',
    'a:b',
    'a@b',
    'x'.repeat(256),
    'é',
    '..',
    'a/../b',
    '%2e',
  ];
  for (const n of good) assert.equal(isRepositoryName(n), true, `should accept ${JSON.stringify(n)}`);
  for (const n of bad) assert.equal(isRepositoryName(n), false, `should refuse ${JSON.stringify(n)}`);
  assert.throws(
    () => parseRepositoryName('Bad'),
    (e) => isSigwardError(e, 'NAME_INVALID'),
  );
  assert.throws(() => parseRepositoryName('x'.repeat(300)), /300 characters/);
});

test('tags: [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}', () => {
  const good = ['latest', 'v1.2.3', '_x', 'A', '1', 'a'.repeat(128), 'sha256-' + hex64 + '.sig', 'sha256-' + hex64];
  const bad = ['', '.x', '-x', 'a'.repeat(129), 'a/b', 'a:b', 'a b', 'tag\n', 'ünicode'];
  for (const t of good) assert.equal(isTag(t), true, t);
  for (const t of bad) assert.equal(isTag(t), false, JSON.stringify(t));
  assert.throws(
    () => parseTag('-x'),
    (e) => isSigwardError(e, 'TAG_INVALID'),
  );
});

test('digests: sha256 and sha512 only, lowercase hex of the right length', () => {
  const good = ['sha256:' + hex64, 'sha512:' + 'b'.repeat(128)];
  const bad = [
    'sha256:' + 'A'.repeat(64),
    'sha256:' + 'a'.repeat(63),
    'sha256:' + 'a'.repeat(65),
    'sha512:' + hex64,
    'md5:abc',
    'sha256',
    ':' + hex64,
    'sha256:' + 'g'.repeat(64),
    'sha256:' + hex64 + '\n',
  ];
  for (const d of good) assert.equal(isDigest(d), true, d);
  for (const d of bad) assert.equal(isDigest(d), false, JSON.stringify(d));
  assert.throws(() => parseDigest('md5:abc'), /unsupported digest/);
  assert.throws(
    () => parseDigest('nonsense'),
    (e) => isSigwardError(e, 'DIGEST_INVALID') && /invalid digest/.test(e.message),
  );
});

test('digestOf and matchesDigest compute over exact bytes', () => {
  const bytes = Buffer.from('hello\n');
  const d = digestOf(bytes);
  assert.equal(d, 'sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03');
  assert.equal(matchesDigest(bytes, d), true);
  assert.equal(matchesDigest(Buffer.from('hello'), d), false);
  const d512 = digestOf(bytes, 'sha512');
  assert.equal(matchesDigest(bytes, d512), true);
});

test('manifest references: a colon means digest', () => {
  assert.deepEqual(parseManifestReference('v1'), { kind: 'tag', tag: 'v1' });
  assert.deepEqual(parseManifestReference('sha256:' + hex64), { kind: 'digest', digest: 'sha256:' + hex64 });
  assert.throws(
    () => parseManifestReference('sha256:xyz'),
    (e) => isSigwardError(e, 'DIGEST_INVALID'),
  );
  assert.throws(
    () => parseManifestReference('.bad'),
    (e) => isSigwardError(e, 'TAG_INVALID'),
  );
});

test('hosts', () => {
  for (const h of [
    'docker.io',
    '127.0.0.1:5000',
    'localhost',
    'localhost:5000',
    'a-b.example.com',
    '[::1]:5000',
    'REGISTRY.io',
  ])
    assert.equal(isHost(h), true, h);
  for (const h of ['', 'a_b.io', '-a.io', 'a.io:99999', 'a..io', 'a.io/x', 'a.io:', 'http://a.io'])
    assert.equal(isHost(h), false, h);
  assert.equal(looksLikeHost('ghcr.io'), true);
  assert.equal(looksLikeHost('localhost'), true);
  assert.equal(looksLikeHost('127.0.0.1:5000'), true);
  assert.equal(looksLikeHost('library'), false);
});

test('Accept is parsed as a set; q=0 excluded; order irrelevant', () => {
  const a = parseAccept(['application/vnd.oci.image.index.v1+json, */*', 'Application/JSON;q=0.5, text/plain;q=0']);
  assert.deepEqual([...a].sort(), ['*/*', 'application/json', 'application/vnd.oci.image.index.v1+json']);
  assert.equal(parseAccept(undefined).size, 0);
  assert.equal(baseMediaType('application/json; charset=utf-8'), 'application/json');
  assert.equal(baseMediaType(''), undefined);
});
