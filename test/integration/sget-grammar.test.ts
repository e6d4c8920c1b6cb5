// The pure parts of /sget, table-driven: the path grammar, byte ranges, download file names, seals, file-system
// error mapping and the `sget:` config section (good and bad values).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { SigwardError, HTTP_MAPPING } from '../../src/errors.ts';
import { parseConfigText } from '../../src/config/parse.ts';
import { parseSgetPath } from '../../src/sget/path.ts';
import { contentDisposition, fileHeaders, parseRange } from '../../src/sget/serve.ts';
import type { Digest } from '../../src/oci/digest.ts';
import { readSeal, writeSeal } from '../../src/sget/seal.ts';
import { storeError } from '../../src/sget/fs-errors.ts';
import { must } from '../helpers/must.ts';

const HEX = 'a'.repeat(64);

test('sget paths: tags, digests, blobs, registry ports, encoded separators', () => {
  const good: [string, unknown][] = [
    ['ghcr.io/acme/tool:v1.2', { kind: 'artifact', name: 'ghcr.io/acme/tool', ref: { kind: 'tag', tag: 'v1.2' } }],
    [
      '127.0.0.1:5000/a/b:latest',
      { kind: 'artifact', name: '127.0.0.1:5000/a/b', ref: { kind: 'tag', tag: 'latest' } },
    ],
    [
      `ghcr.io/acme/tool@sha256:${HEX}`,
      { kind: 'artifact', name: 'ghcr.io/acme/tool', ref: { kind: 'digest', digest: `sha256:${HEX}` } },
    ],
    [
      `ghcr.io/acme/tool%40sha256%3A${HEX}`,
      { kind: 'artifact', name: 'ghcr.io/acme/tool', ref: { kind: 'digest', digest: `sha256:${HEX}` } },
    ],
    [`localhost/x/blobs/sha256:${HEX}`, { kind: 'blob', name: 'localhost/x', digest: `sha256:${HEX}` }],
  ];
  for (const [p, want] of good) assert.deepEqual(parseSgetPath(p), want, p);
  const bad: [string, string][] = [
    ['ghcr.io/acme/tool', 'NOT_FOUND'],
    ['acme/tool:v1', 'NOT_FOUND'],
    ['ghcr.io:v1', 'NOT_FOUND'],
    ['ghcr.io//tool:v1', 'NOT_FOUND'],
    ['ghcr.io/acme/tool@sha256:xyz', 'DIGEST_INVALID'],
    ['ghcr.io/acme/tool:-bad', 'TAG_INVALID'],
    ['ghcr.io/acme/blobs/md5:abc', 'DIGEST_INVALID'],
  ];
  for (const [p, code] of bad)
    assert.throws(
      () => parseSgetPath(p),
      (e: unknown) => e instanceof SigwardError && e.code === code,
      p,
    );
});

test('byte ranges: single ranges served, unsatisfiable ones 416, anything else ignored', () => {
  const size = 1000;
  const table: [string | undefined, ReturnType<typeof parseRange>][] = [
    [undefined, undefined],
    ['bytes=0-0', { start: 0, end: 0 }],
    ['bytes=10-19', { start: 10, end: 19 }],
    ['bytes=990-5000', { start: 990, end: 999 }],
    ['bytes=500-', { start: 500, end: 999 }],
    ['bytes=-100', { start: 900, end: 999 }],
    ['bytes=-5000', { start: 0, end: 999 }],
    ['bytes=1000-', 'unsatisfiable'],
    ['bytes=1000-1001', 'unsatisfiable'],
    ['bytes=-0', 'unsatisfiable'],
    ['bytes=20-10', undefined],
    ['bytes=0-1,5-6', undefined],
    ['items=0-1', undefined],
    ['bytes=-', undefined],
  ];
  for (const [h, want] of table) assert.deepEqual(parseRange(h, size), want, String(h));
  assert.equal(parseRange('bytes=0-', 0), 'unsatisfiable');
});

test('download names: last path component only, quoted safely, UTF-8 kept', () => {
  assert.equal(contentDisposition('install.sh'), `attachment; filename="install.sh"; filename*=UTF-8''install.sh`);
  assert.equal(contentDisposition('../../etc/passwd'), `attachment; filename="passwd"; filename*=UTF-8''passwd`);
  assert.equal(contentDisposition('a"b\\c'), `attachment; filename="c"; filename*=UTF-8''c`);
  assert.equal(contentDisposition('x"y.txt'), `attachment; filename="x_y.txt"; filename*=UTF-8''x%22y.txt`);
  assert.equal(
    contentDisposition('Größe.bin'),
    `attachment; filename="Gr__e.bin"; filename*=UTF-8''Gr%C3%B6%C3%9Fe.bin`,
  );
  for (const none of [undefined, '', 'dir/', '..', 'a\r\n/'])
    assert.equal(contentDisposition(none), 'attachment', String(none));
});

test('representation headers: digests in both encodings; a media type that is not one is not passed on', () => {
  const data = Buffer.from('hello\n');
  const digest = `sha256:${createHash('sha256').update(data).digest('hex')}` as Digest;
  const b64 = createHash('sha256').update(data).digest('base64');
  const f = { digest, size: data.length, mediaType: 'application/x-sh', title: undefined, byTag: true };
  const h = fileHeaders(f);
  assert.equal(h['Repr-Digest'], `sha-256=:${b64}:`);
  assert.equal(h.Digest, `sha-256=${b64}`);
  assert.equal(h['Content-Type'], 'application/x-sh');
  assert.equal(h['Content-Disposition'], 'attachment');
  assert.equal(h['Cache-Control'], 'no-cache');
  for (const bad of ['text/html\r\nSet-Cookie: x=y', 'nonsense', '', 'a/b c']) {
    assert.equal(fileHeaders({ ...f, mediaType: bad })['Content-Type'], 'application/octet-stream', bad);
  }
});

test('seals: a record round-trips; any changed field, another key or a forged MAC fails', () => {
  const key = randomBytes(32);
  const rec = {
    digest: `sha256:${HEX}`,
    ino: 42n,
    size: 1234n,
    mtimeNs: 1_700_000_000_123_456_789n,
    ctimeNs: 1_700_000_000_987_654_321n,
  };
  const text = writeSeal(key, rec);
  assert.deepEqual(readSeal(key, text, rec.digest), rec);
  assert.equal(readSeal(randomBytes(32), text, rec.digest), undefined);
  assert.equal(readSeal(key, text, `sha256:${'b'.repeat(64)}`), undefined);
  const o = JSON.parse(text) as Record<string, string>;
  for (const field of ['ino', 'size', 'mtimeNs', 'ctimeNs']) {
    assert.equal(
      readSeal(key, JSON.stringify({ ...o, [field]: String(BigInt(must(o[field], 'seal field')) + 1n) }), rec.digest),
      undefined,
      field,
    );
  }
  assert.equal(readSeal(key, JSON.stringify({ ...o, mac: '00'.repeat(32) }), rec.digest), undefined);
  assert.equal(readSeal(key, JSON.stringify({ ...o, size: '-1' }), rec.digest), undefined);
  assert.equal(readSeal(key, 'not json', rec.digest), undefined);
});

test('file-system errors: a full disk or an unusable directory is 503, anything else 500', () => {
  const errno = (code: string) => Object.assign(new Error(`${code}: oops`), { code });
  const table: [string, string, number][] = [
    ['ENOSPC', 'STORE_UNAVAILABLE', 503],
    ['EDQUOT', 'STORE_UNAVAILABLE', 503],
    ['EACCES', 'STORE_UNAVAILABLE', 503],
    ['EROFS', 'STORE_UNAVAILABLE', 503],
    ['ENOTDIR', 'STORE_UNAVAILABLE', 503],
    ['EIO', 'STORE_FAILED', 500],
  ];
  for (const [code, want, status] of table) {
    const e = storeError(errno(code), 'writing x', '/var/cache/sigward/sget');
    assert.equal(e.code, want, code);
    assert.equal(HTTP_MAPPING[e.code].status, status, code);
    assert.match(e.message, /\/var\/cache\/sigward\/sget/);
  }
  assert.match(storeError(errno('ENOSPC'), 'writing x', '/d').message, /disk .* is full/);
  const passthrough = new SigwardError('UPSTREAM_DIGEST_MISMATCH', 'x');
  assert.equal(storeError(passthrough, 'y', '/d'), passthrough);
});

test('config: the sget section, its defaults and its problems', () => {
  const base = 'upstreams: [{ host: ghcr.io }]\n';
  const dflt = parseConfigText(base).config?.sget;
  assert.deepEqual(dflt, { storeBytes: 10 * 1024 ** 3, maxArtifactBytes: 2 * 1024 ** 3 });
  assert.deepEqual(parseConfigText(`${base}sget: { storeSize: 1GiB, maxArtifactSize: 100MiB }\n`).config?.sget, {
    storeBytes: 1024 ** 3,
    maxArtifactBytes: 100 * 1024 ** 2,
  });
  // A small store without an explicit maximum: the maximum follows the store.
  assert.deepEqual(parseConfigText(`${base}sget: { storeSize: 1GiB }\n`).config?.sget, {
    storeBytes: 1024 ** 3,
    maxArtifactBytes: 1024 ** 3,
  });
  const problems = (yaml: string) => parseConfigText(base + yaml).problems.map((p) => `${p.path}: ${p.message}`);
  assert.match(
    problems('sget: { storeSize: 1GiB, maxArtifactSize: 2GiB }\n').join('\n'),
    /sget\.maxArtifactSize: .*more than sget\.storeSize/,
  );
  assert.match(problems('sget: { storeSize: lots }\n').join('\n'), /sget\.storeSize: must be a size/);
  assert.match(problems('sget: { storeSize: 1KiB }\n').join('\n'), /sget\.storeSize: must be between/);
  assert.match(problems('sget: { dir: /tmp }\n').join('\n'), /sget\.dir: unknown key/);
});
