// Verdict lifetimes on the app's injected clock, against a real distribution registry: an allowed verdict is reused
// until cache.allowTtl has passed and a denied one until cache.denyTtl has passed; after that the signatures are
// looked up again (counted as upstream requests for the image's signature tags), before it they are not.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startRegistry, type Registry } from '../helpers/registry.ts';
import { buildImage, pushImage, type TestImage } from '../helpers/images.ts';
import { startSigward, type RunningSigward } from '../helpers/sigward.ts';
import { newKey, signLegacy } from '../helpers/cosign.ts';

const ACCEPT = 'application/vnd.oci.image.manifest.v1+json';
const ALLOW_TTL_MS = 60_000;
const DENY_TTL_MS = 5_000;

describe('verdict lifetimes on the injected clock', () => {
  let reg: Registry;
  let sw: RunningSigward;
  // Epoch milliseconds, as Date.now gives: the clock only moves when a test moves it.
  let clock = Date.parse('2026-01-01T00:00:00Z');
  const alice = newKey('alice');
  const signed: TestImage = buildImage({ files: { 'a.txt': 'signed from the start\n' } });
  const later: TestImage = buildImage({ files: { 'a.txt': 'signed after the first pull\n' } });

  before(async () => {
    reg = await startRegistry();
    await pushImage(reg, 'apps/signed', 'v1', signed);
    await signLegacy(reg, 'apps/signed', signed.digest, { keys: [alice] });
    await pushImage(reg, 'apps/later', 'v1', later);
    sw = await startSigward(
      {
        upstreams: [{ host: 'example.test', url: reg.url }],
        trust: { keys: { alice: { pem: alice.publicPem } } },
        policy: { policies: [{ name: 'apps', match: ['example.test/apps/*'], keys: ['alice'] }] },
        cache: { allowTtl: `${ALLOW_TTL_MS}ms`, denyTtl: `${DENY_TTL_MS}ms` },
      },
      { now: () => clock },
    );
  });

  after(async () => {
    await sw?.stop();
    await reg?.stop();
  });

  /** Pull by digest; returns the status and how many signature lookups (requests naming the digest's cosign tags or
   * its referrers) the pull sent upstream. */
  async function pull(repo: string, digest: string): Promise<{ status: number; lookups: number }> {
    const tagPart = digest.replace(':', '-');
    const count = (): number =>
      sw.upstreamRequests.filter((r) => r.url.includes(tagPart) || r.url.includes(`/referrers/${digest}`)).length;
    const before = count();
    const r = await request(`${sw.url}/v2/example.test/${repo}/manifests/${digest}`, { headers: { accept: ACCEPT } });
    await r.body.dump();
    return { status: r.statusCode, lookups: count() - before };
  }

  test('an allowed verdict is reused until cache.allowTtl has passed, then verified again', async () => {
    const first = await pull('apps/signed', signed.digest);
    assert.equal(first.status, 200);
    assert.ok(first.lookups > 0, 'the first pull looks the signatures up');

    clock += ALLOW_TTL_MS; // lru-cache: an entry is stale only once its age exceeds the TTL
    const cached = await pull('apps/signed', signed.digest);
    assert.deepEqual(cached, { status: 200, lookups: 0 });

    clock += 1;
    const expired = await pull('apps/signed', signed.digest);
    assert.equal(expired.status, 200);
    // (fewer than the first time: the first pull learned that distribution has no referrers API)
    assert.ok(expired.lookups > 0, 'expired: the signatures are looked up again');

    const again = await pull('apps/signed', signed.digest);
    assert.deepEqual(again, { status: 200, lookups: 0 }, 'and the new verdict is cached');
  });

  test('a denied verdict is reused until cache.denyTtl has passed; a signature added meanwhile then counts', async () => {
    const first = await pull('apps/later', later.digest);
    assert.equal(first.status, 403);
    assert.ok(first.lookups > 0);
    await signLegacy(reg, 'apps/later', later.digest, { keys: [alice] });

    clock += DENY_TTL_MS;
    const cached = await pull('apps/later', later.digest);
    assert.deepEqual(cached, { status: 403, lookups: 0 }, 'the denial is still held: the new signature is not seen');

    clock += 1;
    const expired = await pull('apps/later', later.digest);
    assert.equal(expired.status, 200, 'expired: looked up again, the signature now counts');
    assert.ok(expired.lookups > 0);

    // The new verdict is an allowed one: it lives for allowTtl, not denyTtl.
    clock += DENY_TTL_MS + 1;
    assert.deepEqual(await pull('apps/later', later.digest), { status: 200, lookups: 0 });
  });
});
