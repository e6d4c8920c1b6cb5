// The upstream client against the REAL distribution 2.8 registry in each auth mode (anonymous, htpasswd, bearer
// token, TLS with its own CA): manifests by tag and digest byte-exact (image and index, through distribution's
// Accept negotiation), blobs whole and by Range, tags, referrers (absent in 2.8: a 404 answer), missing manifests
// and refused credentials.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buffer } from 'node:stream/consumers';
import type { UpstreamConfig } from '../../src/config/types.ts';
import { DEFAULT_LIMITS, DEFAULT_TIMEOUTS } from '../../src/config/types.ts';
import { isDigest, type Digest } from '../../src/oci/digest.ts';
import { Upstreams } from '../../src/upstream/registry.ts';
import { buildImage, buildMultiArch, pushImage, type TestImage } from '../helpers/images.ts';
import { startRegistry, type Registry, type RegistryOptions } from '../helpers/registry.ts';
import { at, must } from '../helpers/must.ts';

const single = buildImage({ files: { 'hello.txt': 'sigward upstream client test\n' } });
const multi = buildMultiArch();
const layerDigest = (img: TestImage): Digest => {
  const d = (JSON.parse(img.bytes.toString()) as { layers: { digest: string }[] }).layers[0]?.digest ?? '';
  assert.ok(isDigest(d));
  return d;
};

function configFor(reg: Registry, withAuth: boolean): UpstreamConfig {
  return {
    host: reg.host,
    aliases: [],
    url: reg.url,
    default: false,
    libraryPrefix: false,
    auth: withAuth
      ? { kind: 'basic', username: reg.user ?? '', password: { env: 'UNUSED_IN_TESTS' } }
      : { kind: 'anonymous' },
    ...(reg.caFile === undefined ? {} : { caFile: reg.caFile }),
    // The token issuer listens on another loopback port: listed, as a registry's own token service would be.
    ...(reg.tokenServer === undefined ? {} : { tokenRealms: [new URL(reg.tokenServer.url).host] }),
    timeouts: DEFAULT_TIMEOUTS,
    retries: 1,
  };
}

function upstreamsFor(reg: Registry, password?: string): Upstreams {
  const cfg = configFor(reg, reg.user !== undefined);
  return new Upstreams([cfg], {
    limits: DEFAULT_LIMITS,
    passwords: new Map(password === undefined ? [] : [[reg.host, password]]),
    caPems: new Map(reg.caPem === undefined ? [] : [[reg.host, reg.caPem]]),
  });
}

function modeSuite(name: string, opts: RegistryOptions): void {
  describe(`upstream client against distribution: ${name}`, () => {
    let reg: Registry | undefined;
    let ups: Upstreams | undefined;
    const client = () => must(ups, 'ups').get(must(reg, 'reg').host);
    before(async () => {
      reg = await startRegistry({ ...opts, accessLog: false, logLevel: 'error' });
      await pushImage(reg, 'test/single', 'v1', single);
      await pushImage(reg, 'test/multi', 'v1', multi);
      ups = upstreamsFor(reg, reg.pass);
    });
    after(async () => {
      await ups?.close();
      await reg?.stop();
    });

    test('manifests by tag and by digest are byte-exact (image, index, index child)', async () => {
      for (const [repo, img] of [
        ['test/single', single],
        ['test/multi', multi],
      ] as const) {
        for (const ref of [
          { kind: 'tag' as const, tag: 'v1' },
          { kind: 'digest' as const, digest: img.digest as Digest },
        ]) {
          const m = await client().getManifest(repo, ref);
          assert.deepEqual(Buffer.from(m.bytes), img.bytes, `${repo} ${JSON.stringify(ref)}`);
          assert.equal(m.digest, img.digest);
          assert.equal(m.mediaType, img.mediaType);
          assert.equal(m.size, img.size);
        }
      }
      const child = at(multi.manifests, 1);
      const m = await client().getManifest('test/multi', { kind: 'digest', digest: child.digest as Digest });
      assert.deepEqual(Buffer.from(m.bytes), child.bytes);
      const head = await client().headManifest('test/multi', { kind: 'tag', tag: 'v1' });
      assert.deepEqual(head, { digest: multi.digest, mediaType: multi.mediaType, size: multi.size });
    });

    test('a blob whole and by Range', async () => {
      const d = layerDigest(single);
      const want = single.blobs.get(d) as Uint8Array;
      const whole = await client().getBlob('test/single', d);
      assert.equal(whole.status, 200);
      assert.equal(whole.size, want.length);
      assert.deepEqual(await buffer(whole.body), Buffer.from(want));
      const part = await client().getBlob('test/single', d, { range: 'bytes=5-14' });
      assert.equal(part.status, 206);
      assert.deepEqual(await buffer(part.body), Buffer.from(want.subarray(5, 15)));
      assert.equal((await client().headBlob('test/single', d)).size, want.length);
    });

    test('tags list, and referrers answered 404 by distribution 2.8', async () => {
      const tags = await client().getTags('test/multi');
      assert.deepEqual(JSON.parse(Buffer.from(tags.bytes).toString()), { name: 'test/multi', tags: ['v1'] });
      const refs = await client().getReferrers('test/single', single.digest as Digest);
      assert.equal(refs.status, 404);
    });

    test('missing manifest -> MANIFEST_UNKNOWN, missing blob -> BLOB_UNKNOWN', async () => {
      await assert.rejects(client().getManifest('test/single', { kind: 'tag', tag: 'nope' }), {
        code: 'MANIFEST_UNKNOWN',
      });
      await assert.rejects(
        client().getManifest('test/single', { kind: 'digest', digest: `sha256:${'0'.repeat(64)}` as Digest }),
        { code: 'MANIFEST_UNKNOWN' },
      );
      await assert.rejects(client().getBlob('test/single', `sha256:${'0'.repeat(64)}` as Digest), {
        code: 'BLOB_UNKNOWN',
      });
    });

    if (opts.auth === 'token') {
      test('bearer: one token per repository scope for many requests, with the configured user', async () => {
        const fresh = upstreamsFor(must(reg, 'reg'), must(reg, 'reg').pass);
        try {
          must(must(reg, 'reg').tokenServer, 'reg.tokenServer').reset();
          for (let i = 0; i < 6; i++)
            await fresh.get(must(reg, 'reg').host).getManifest('test/single', { kind: 'tag', tag: 'v1' });
          const seen = must(must(reg, 'reg').tokenServer, 'reg.tokenServer').requests;
          assert.equal(seen.length, 1);
          assert.equal(seen[0]?.user, must(reg, 'reg').user);
          assert.deepEqual(seen[0]?.scopes, ['repository:test/single:pull']);
        } finally {
          await fresh.close();
        }
      });

      test('a token without pull rights -> UPSTREAM_UNAUTHORIZED (insufficient_scope)', async () => {
        await assert.rejects(
          client().getManifest('test/denied', { kind: 'tag', tag: 'v1' }),
          (e: Error & { code?: string }) => {
            assert.equal(e.code, 'UPSTREAM_UNAUTHORIZED');
            assert.match(e.message, /insufficient_scope/);
            return true;
          },
        );
      });
    }

    if (opts.auth === 'htpasswd' || opts.auth === 'token') {
      test('wrong credentials -> UPSTREAM_UNAUTHORIZED, and the password is not in the message', async () => {
        const bad = upstreamsFor(must(reg, 'reg'), 'wrong-password-123');
        try {
          const e = await bad
            .get(must(reg, 'reg').host)
            .getManifest('test/single', { kind: 'tag', tag: 'v1' })
            .then(
              () => assert.fail('expected a rejection'),
              (err: unknown) => err as Error & { code?: string },
            );
          assert.equal(e.code, 'UPSTREAM_UNAUTHORIZED');
          assert.ok(e.message.includes(must(reg, 'reg').host));
          assert.ok(!e.message.includes('wrong-password-123'));
        } finally {
          await bad.close();
        }
      });
    }
  });
}

modeSuite('anonymous', {});
modeSuite('htpasswd', { auth: 'htpasswd' });
modeSuite('token', { auth: 'token', token: { deny: ['test/denied'] } });
modeSuite('tls with its own CA', { tls: true });
