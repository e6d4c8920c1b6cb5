// The manifest service's memory: digests from cache, tags always asked upstream, with a validator (the digest the
// same tag and Accept last named) only while the bytes for it are still held.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { ManifestService } from '../../src/proxy/manifests.ts';
import type { FetchedManifest, ManifestGetOptions, RegistryClient } from '../../src/proxy/types.ts';
import type { Digest } from '../../src/oci/digest.ts';
import type { ManifestReference } from '../../src/oci/reference.ts';

const OCI = 'application/vnd.oci.image.manifest.v1+json';

function manifest(text: string): FetchedManifest {
  const bytes = new TextEncoder().encode(JSON.stringify({ schemaVersion: 2, mediaType: OCI, annotations: { text } }));
  return {
    bytes,
    digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}` as Digest,
    mediaType: OCI,
    size: bytes.length,
  };
}

/** A registry whose tags point where the test says; it answers a matching validator as distribution does (304). */
function fakeRegistry(tags: Map<string, FetchedManifest>) {
  const calls: { ref: string; sentValidator: Digest | undefined; answered: 200 | 304 }[] = [];
  const client: Pick<RegistryClient, 'getManifest'> = {
    async getManifest(_repo: string, ref: ManifestReference, opts: ManifestGetOptions = {}) {
      const name = ref.kind === 'tag' ? ref.tag : ref.digest;
      const m = ref.kind === 'tag' ? tags.get(ref.tag) : [...tags.values()].find((x) => x.digest === ref.digest);
      if (!m) throw new Error(`no ${name}`);
      if (opts.known !== undefined && opts.known.digest === m.digest) {
        calls.push({ ref: name, sentValidator: opts.known.digest, answered: 304 });
        return opts.known;
      }
      calls.push({ ref: name, sentValidator: opts.known?.digest, answered: 200 });
      return { ...m, bytes: m.bytes.slice() };
    },
  };
  return { client: client as RegistryClient, calls };
}

const STANDARD = new Set([OCI, 'application/vnd.oci.image.index.v1+json']);

test('a repeated tag sends the last digest as validator and gets the very object held for it', async () => {
  const a = manifest('a');
  const tags = new Map([['v1', a]]);
  const { client, calls } = fakeRegistry(tags);
  const svc = new ManifestService({ memoryBytes: 1 << 20 });
  const first = await svc.get(client, 'r.test', 'repo', { kind: 'tag', tag: 'v1' }, STANDARD);
  const again = await svc.get(client, 'r.test', 'repo', { kind: 'tag', tag: 'v1' }, STANDARD);
  assert.equal(again, first);
  assert.deepEqual(
    calls.map((c) => [c.sentValidator, c.answered]),
    [
      [undefined, 200],
      [a.digest, 304],
    ],
  );
  // The tag moves: the validator no longer matches, the new manifest is fetched and becomes the next validator.
  const b = manifest('b');
  tags.set('v1', b);
  assert.equal((await svc.get(client, 'r.test', 'repo', { kind: 'tag', tag: 'v1' }, STANDARD)).digest, b.digest);
  await svc.get(client, 'r.test', 'repo', { kind: 'tag', tag: 'v1' }, STANDARD);
  assert.deepEqual(
    calls.slice(2).map((c) => [c.sentValidator, c.answered]),
    [
      [a.digest, 200],
      [b.digest, 304],
    ],
  );
  assert.equal(svc.upstreamFetches, 4, 'every tag request went upstream');
});

test('validators are per repository, per tag and per set of extra Accept types', async () => {
  const a = manifest('a');
  const { client, calls } = fakeRegistry(
    new Map([
      ['v1', a],
      ['v2', a],
    ]),
  );
  const svc = new ManifestService({ memoryBytes: 1 << 20 });
  await svc.get(client, 'r.test', 'repo', { kind: 'tag', tag: 'v1' }, STANDARD);
  await svc.get(client, 'r.test', 'repo', { kind: 'tag', tag: 'v2' }, STANDARD);
  await svc.get(client, 'r.test', 'other', { kind: 'tag', tag: 'v1' }, STANDARD);
  await svc.get(
    client,
    'r.test',
    'repo',
    { kind: 'tag', tag: 'v1' },
    new Set([...STANDARD, 'application/vnd.example+json']),
  );
  assert.deepEqual(
    calls.map((c) => c.sentValidator),
    [undefined, undefined, undefined, undefined],
  );
  // Standard types in another order or subset are the same request upstream (sigward always sends all of them).
  await svc.get(client, 'r.test', 'repo', { kind: 'tag', tag: 'v1' }, new Set([OCI]));
  assert.equal(calls.at(-1)?.sentValidator, a.digest);
});

test('no validator once the bytes for it are gone (cache disabled or evicted)', async () => {
  const a = manifest('a');
  const { client, calls } = fakeRegistry(new Map([['v1', a]]));
  const none = new ManifestService({ memoryBytes: 0 });
  await none.get(client, 'r.test', 'repo', { kind: 'tag', tag: 'v1' }, STANDARD);
  await none.get(client, 'r.test', 'repo', { kind: 'tag', tag: 'v1' }, STANDARD);
  assert.deepEqual(
    calls.map((c) => c.sentValidator),
    [undefined, undefined],
  );

  // Room for about one manifest: filling it with others evicts a's bytes, so its tag is fetched whole again.
  const tiny = new ManifestService({ memoryBytes: a.size + 250 });
  const others = fakeRegistry(
    new Map([
      ['v1', a],
      ['x', manifest('x')],
      ['y', manifest('y')],
    ]),
  );
  await tiny.get(others.client, 'r.test', 'repo', { kind: 'tag', tag: 'v1' }, STANDARD);
  await tiny.get(others.client, 'r.test', 'repo', { kind: 'tag', tag: 'x' }, STANDARD);
  await tiny.get(others.client, 'r.test', 'repo', { kind: 'tag', tag: 'y' }, STANDARD);
  await tiny.get(others.client, 'r.test', 'repo', { kind: 'tag', tag: 'v1' }, STANDARD);
  assert.deepEqual(
    others.calls.map((c) => [c.ref, c.sentValidator]),
    [
      ['v1', undefined],
      ['x', undefined],
      ['y', undefined],
      ['v1', undefined],
    ],
  );
});

test('clients with huge, ever-changing Accept headers cannot grow the validator memo without bound', async () => {
  const a = manifest('a');
  const { client, calls } = fakeRegistry(new Map([['v1', a]]));
  const svc = new ManifestService({ memoryBytes: 1 << 20 });
  await svc.get(client, 'r.test', 'repo', { kind: 'tag', tag: 'v1' }, STANDARD);
  // 48 distinct 64 KiB extra types: 3 MiB of keys, more than the memo may hold, so the oldest entries go.
  for (let i = 0; i < 48; i++) {
    await svc.get(
      client,
      'r.test',
      'repo',
      { kind: 'tag', tag: 'v1' },
      new Set([...STANDARD, `application/x-${i}-${'p'.repeat(64 * 1024)}`]),
    );
  }
  await svc.get(client, 'r.test', 'repo', { kind: 'tag', tag: 'v1' }, STANDARD);
  assert.equal(calls.at(-1)?.sentValidator, undefined, 'the first entry was evicted by size');
  // Normal traffic is remembered again at once.
  await svc.get(client, 'r.test', 'repo', { kind: 'tag', tag: 'v1' }, STANDARD);
  assert.equal(calls.at(-1)?.sentValidator, a.digest);
});
