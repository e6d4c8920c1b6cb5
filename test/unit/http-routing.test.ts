import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseV2Path } from '../../src/http/path.ts';
import { Router } from '../../src/http/routing.ts';
import { parseConfigText } from '../../src/config/parse.ts';
import { isSigwardError, HTTP_MAPPING, SigwardError, type ErrorCode } from '../../src/errors.ts';
import { errorResponse } from '../../src/http/respond.ts';
import { must } from '../helpers/must.ts';

const D = 'sha256:' + 'c'.repeat(64);

test('paths are parsed from the end, so repositories may contain API words', () => {
  assert.deepEqual(parseV2Path('/v2/'), { kind: 'ping' });
  assert.deepEqual(parseV2Path('/v2'), { kind: 'ping' });
  assert.deepEqual(parseV2Path('/v2/library/alpine/manifests/latest'), {
    kind: 'manifest',
    name: 'library/alpine',
    ref: { kind: 'tag', tag: 'latest' },
  });
  assert.deepEqual(parseV2Path(`/v2/a/manifests/manifests/${D}`), {
    kind: 'manifest',
    name: 'a/manifests',
    ref: { kind: 'digest', digest: D },
  });
  assert.deepEqual(parseV2Path(`/v2/ghcr.io/o/r/blobs/${D}`), { kind: 'blob', name: 'ghcr.io/o/r', digest: D });
  assert.deepEqual(parseV2Path('/v2/a/b/tags/list'), { kind: 'tags', name: 'a/b' });
  assert.deepEqual(parseV2Path(`/v2/a/referrers/${D}`), { kind: 'referrers', name: 'a', digest: D });
  assert.deepEqual(parseV2Path('/v2/a/blobs/uploads/'), { kind: 'upload', name: 'a' });
  assert.deepEqual(parseV2Path('/v2/a/blobs/uploads/1234-abcd'), { kind: 'upload', name: 'a' });
  assert.deepEqual(parseV2Path(`/v2/a/manifests/sha256%3A${'c'.repeat(64)}`), {
    kind: 'manifest',
    name: 'a',
    ref: { kind: 'digest', digest: D },
  });
  assert.equal(parseV2Path('/v1/x'), undefined);
  assert.equal(parseV2Path('/v2/a/other/x'), undefined);
  assert.throws(
    () => parseV2Path('/v2/a/blobs/sha256:zz'),
    (e) => isSigwardError(e, 'DIGEST_INVALID'),
  );
  assert.throws(
    () => parseV2Path('/v2/a/manifests/-bad'),
    (e) => isSigwardError(e, 'TAG_INVALID'),
  );
});

function router(yaml: string): Router {
  const r = parseConfigText(yaml);
  assert.deepEqual(r.problems, []);
  return new Router(must(r.config, 'r.config').upstreams);
}

const YAML = `upstreams:
  - {host: docker.io, default: true}
  - {host: ghcr.io}
  - {host: "127.0.0.1:5001", url: "http://127.0.0.1:5001"}
`;

test('three request shapes resolve to configured upstreams', () => {
  const r = router(YAML);
  const t1 = r.resolve('ghcr.io/acme/app', null);
  assert.equal(t1.upstream.host, 'ghcr.io');
  assert.equal(t1.repository, 'acme/app');
  const t2 = r.resolve('acme/app', 'ghcr.io');
  assert.equal(t2.upstream.host, 'ghcr.io');
  assert.equal(t2.repository, 'acme/app');
  const t3 = r.resolve('alpine', null);
  assert.equal(t3.upstream.host, 'docker.io');
  assert.equal(t3.repository, 'library/alpine');
  const t4 = r.resolve('library/alpine', 'docker.io');
  assert.equal(t4.repository, 'library/alpine');
  // aliases of Docker Hub
  assert.equal(r.resolve('x/y', 'index.docker.io').upstream.host, 'docker.io');
  assert.equal(r.resolve('registry-1.docker.io/x/y', null).repository, 'x/y');
  // override_path mirrors: host prefix AND ns
  const t5 = r.resolve('127.0.0.1:5001/test/single', '127.0.0.1:5001');
  assert.equal(t5.upstream.url, 'http://127.0.0.1:5001');
  assert.equal(t5.repository, 'test/single');
  // no library/ prefix for other registries
  assert.equal(r.resolve('127.0.0.1:5001/single', null).repository, 'single');
});

test('unknown registries are refused before any connection, with the configured list', () => {
  const r = router(YAML);
  assert.throws(
    () => r.resolve('evil.example.com/x', null),
    (e) =>
      isSigwardError(e, 'UPSTREAM_UNKNOWN') &&
      /evil\.example\.com is not configured/.test(e.message) &&
      /docker\.io, ghcr\.io/.test(e.message),
  );
  assert.throws(
    () => r.resolve('x', 'evil.example.com'),
    (e) => isSigwardError(e, 'UPSTREAM_UNKNOWN'),
  );
  assert.throws(
    () => r.resolve('localhost:5000/x', null),
    (e) => isSigwardError(e, 'UPSTREAM_UNKNOWN'),
  );
  assert.throws(
    () => r.resolve('x', 'http://evil'),
    (e) => isSigwardError(e, 'NAME_INVALID'),
  );
  assert.throws(
    () => r.resolve('ghcr.io/Bad', null),
    (e) => isSigwardError(e, 'NAME_INVALID'),
  );
  const noDefault = router('upstreams: [{host: ghcr.io}]');
  assert.throws(() => noDefault.resolve('alpine', null), /no default upstream/);
});

test('error mapping table: every code has a status and an OCI code', () => {
  const expected: Partial<Record<ErrorCode, [number, string]>> = {
    NAME_INVALID: [400, 'NAME_INVALID'],
    TAG_INVALID: [400, 'TAG_INVALID'],
    DIGEST_INVALID: [400, 'DIGEST_INVALID'],
    UNSUPPORTED: [405, 'UNSUPPORTED'],
    UPSTREAM_UNKNOWN: [404, 'NAME_UNKNOWN'],
    MANIFEST_UNKNOWN: [404, 'MANIFEST_UNKNOWN'],
    BLOB_UNKNOWN: [404, 'BLOB_UNKNOWN'],
    UPSTREAM_RATE_LIMITED: [429, 'TOOMANYREQUESTS'],
    UPSTREAM_UNAVAILABLE: [503, 'UNAVAILABLE'],
    UPSTREAM_TIMEOUT: [503, 'UNAVAILABLE'],
    UPSTREAM_DIGEST_MISMATCH: [502, 'DIGEST_INVALID'],
    UPSTREAM_TOO_LARGE: [502, 'SIZE_INVALID'],
    DENIED: [403, 'DENIED'],
    VERIFY_UNAVAILABLE: [503, 'UNAVAILABLE'],
  };
  for (const [code, [status, oci]] of Object.entries(expected)) {
    assert.deepEqual(
      [HTTP_MAPPING[code as ErrorCode].status, HTTP_MAPPING[code as ErrorCode].oci],
      [status, oci],
      code,
    );
  }
  for (const m of Object.values(HTTP_MAPPING)) assert.ok(m.status >= 400 && m.status < 600);
  const r = errorResponse(new SigwardError('UPSTREAM_RATE_LIMITED', 'slow down', { retryAfter: 2.2 }));
  assert.equal(r.status, 429);
  assert.equal(r.headers['Retry-After'], '3');
  assert.deepEqual(r.body, { errors: [{ code: 'TOOMANYREQUESTS', message: 'slow down' }] });
  const d = errorResponse(
    new SigwardError('DENIED', 'no valid signature for x', { reason: 'no valid cosign signature' }),
  );
  assert.equal(d.reason, 'Forbidden (no valid cosign signature)');
  const unsafe = errorResponse(new SigwardError('DENIED', 'x', { reason: `a\r\nb\u00e9${'z'.repeat(200)}` }));
  assert.equal(
    unsafe.reason,
    `Forbidden (a??b?${'z'.repeat(120 - 'Forbidden (a??b?'.length)}`,
    'printable ASCII, cut at 120 without a marker',
  );
});
