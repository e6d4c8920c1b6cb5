// Which requests the node listener answers itself (the /v2/ fast path) and which it leaves to @hono/node-server: the
// answers are the same either way (test/integration/http-fast-path.test.ts), so this pins that pulls really take the
// fast path, and that what hono would refuse or normalise does not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { plainV2Request } from '../../src/http/routes.ts';

const D = `sha256:${'a'.repeat(64)}`;
const req = (url: string, host = '127.0.0.1:5000') => ({ url, headers: { host } });

test('pulls, the ping and tag lists take the fast path', () => {
  for (const url of [
    '/v2',
    '/v2/',
    '/v2/registry.example/app/manifests/v1',
    `/v2/app/manifests/${D}?ns=registry.example`,
    `/v2/registry.example/app/blobs/${D}`,
    '/v2/registry.example/app/tags/list?n=10',
  ])
    assert.equal(plainV2Request(req(url)), true, url);
  assert.equal(plainV2Request(req('/v2/a/manifests/v1', 'sigward.internal')), true, 'a host without a port');
});

test('dot segments, escapes, other paths and hosts hono checks more closely are left to hono', () => {
  for (const url of [
    '/v2/../healthz',
    '/v2/a/./manifests/v1',
    `/v2/a/manifests/${D.replace(':', '%3A')}`,
    '/v2x',
    '/healthz',
    '/sget/registry.example/app@' + D,
    'http://127.0.0.1/v2/',
  ])
    assert.equal(plainV2Request(req(url)), false, url);
  for (const host of ['Registry.Example:443', '[::1]:5000', 'h:80', ''])
    assert.equal(plainV2Request(req('/v2/', host)), false, host);
  assert.equal(plainV2Request({ url: '/v2/', headers: {} }), false, 'no Host header');
});
