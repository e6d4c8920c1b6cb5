// Upstreams (lookup by host and alias, secrets as the loader resolved them) and the dispatcher's per-origin TLS trust.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { MT } from '../../src/oci/mediatypes.ts';
import { isSigwardError } from '../../src/errors.ts';
import { createDispatcher } from '../../src/upstream/dispatcher.ts';
import { Upstreams } from '../../src/upstream/registry.ts';
import { removeTempDir, tempDir } from '../helpers/proc.ts';
import { makeTlsCerts, type TlsFiles } from '../helpers/test-certs.ts';
import { startFake, type Fake } from '../helpers/fake-upstream.ts';
import { LIMITS, rejection, upstreamConfig } from '../helpers/upstream-setup.ts';

const manifest = Buffer.from(`{"schemaVersion":2,"mediaType":"${MT.ociManifest}","config":{},"layers":[]}`);
const tag = { kind: 'tag' as const, tag: 'v1' };

describe('Upstreams', () => {
  const a = upstreamConfig('https://registry.a.example', { host: 'a.example', aliases: ['Mirror.A.example'] });
  const b = upstreamConfig('https://b.example', {
    host: 'b.example',
    auth: { kind: 'basic', username: 'bob', password: { file: 'pw.txt' } },
  });
  const c = upstreamConfig('https://c.example', {
    host: 'c.example',
    auth: { kind: 'basic', username: 'cy', password: { env: 'C_PASS' } },
  });

  test('get() by host or alias, case-insensitively; unknown hosts list the configured ones', async () => {
    const ups = new Upstreams([a], { limits: LIMITS, passwords: new Map(), caPems: new Map() });
    try {
      assert.equal(ups.get('a.example').host, 'a.example');
      assert.equal(ups.get('mirror.a.EXAMPLE').host, 'a.example');
      assert.throws(
        () => ups.get('evil.example'),
        (e: unknown) => isSigwardError(e, 'UPSTREAM_UNKNOWN') && e.message.includes('a.example'),
      );
    } finally {
      await ups.close();
    }
  });

  test('passwords are the ones the loader resolved, by upstream host', async () => {
    const ups = new Upstreams([a, b, c], {
      limits: LIMITS,
      passwords: new Map([
        ['b.example', 'from-file'],
        ['c.example', 'from-env'],
      ]),
    });
    assert.deepEqual(
      ups.all().map((u) => u.host),
      ['a.example', 'b.example', 'c.example'],
    );
    await ups.close();
  });

  test('a basic-auth upstream without a password is CONFIG_INVALID naming the upstream', () => {
    assert.throws(
      () =>
        new Upstreams([b, c], { limits: LIMITS, passwords: new Map([['c.example', 'from-env']]), caPems: new Map() }),
      (e: unknown) =>
        isSigwardError(e, 'CONFIG_INVALID') && /b\.example/.test(e.message) && !/from-env/.test(e.message),
    );
  });

  test('a name configured twice is refused, whatever its case', () => {
    const dup = upstreamConfig('https://d.example', { host: 'd.example', aliases: ['MIRROR.a.example'] });
    assert.throws(
      () => new Upstreams([a, dup], { limits: LIMITS, passwords: new Map(), caPems: new Map() }),
      (e: unknown) => isSigwardError(e, 'CONFIG_INVALID') && /mirror\.a\.example/.test(e.message),
    );
  });

  test('createDispatcher refuses a caFile without a certificate', () => {
    assert.throws(
      () => createDispatcher([a], new Map([['a.example', 'not a pem']])),
      (e: unknown) => isSigwardError(e, 'CONFIG_INVALID'),
    );
  });
});

describe('per-origin TLS trust', () => {
  let dir: string;
  let certs: TlsFiles;
  let one: Fake;
  let two: Fake;
  before(async () => {
    dir = tempDir('upstream-tls');
    certs = await makeTlsCerts(dir);
    const tls = { cert: readFileSync(certs.certFile, 'utf8'), key: readFileSync(certs.keyFile, 'utf8') };
    const handler = (_req: unknown, res: ServerResponse): void => {
      res.writeHead(200, { 'content-type': MT.ociManifest });
      res.end(manifest);
    };
    one = await startFake(handler, tls);
    two = await startFake(handler, tls);
  });
  after(async () => {
    await one?.close();
    await two?.close();
    removeTempDir(dir);
  });

  test('the caFile of one upstream is trusted for its origin only', async () => {
    const withCa = upstreamConfig(one.url, { caFile: certs.caFile });
    const without = upstreamConfig(two.url);
    const ups = new Upstreams([withCa, without], {
      limits: LIMITS,
      caPems: new Map([[withCa.host, readFileSync(certs.caFile, 'utf8')]]),
    });
    try {
      const m = await ups.get(one.host).getManifest('a/b', tag);
      assert.deepEqual(Buffer.from(m.bytes), manifest);
      const e = await rejection(ups.get(two.host).getManifest('a/b', tag));
      assert.equal(e.code, 'UPSTREAM_UNAVAILABLE');
      assert.match(e.message, /caFile/);
      assert.equal(two.requests.length, 0);
    } finally {
      await ups.close();
    }
  });
});
