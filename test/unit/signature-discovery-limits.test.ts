// Discovery's per-lookup bounds against an in-memory RegistryClient that counts calls: identical layers read once,
// at most `concurrency` reads in flight, at most `maxSignatures` distinct signatures and `lookupBytes` bytes read
// (also when descriptors understate sizes), the rest reported unread in one entry naming the limit, and bundles
// reserving after legacy layers whatever answers first.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { SigwardError } from '../../src/errors.ts';
import { referrersTag, signatureTag } from '../../src/oci/cosign-tags.ts';
import type { Digest } from '../../src/oci/digest.ts';
import type { ManifestReference } from '../../src/oci/reference.ts';
import { DEFAULT_DISCOVERY_LIMITS, discoverSignatures, type DiscoveryLimits } from '../../src/proxy/signatures.ts';
import type { FetchedManifest, RegistryClient } from '../../src/proxy/types.ts';
import { at, must } from '../helpers/must.ts';

const sha = (b: Uint8Array): Digest => `sha256:${createHash('sha256').update(b).digest('hex')}` as Digest;
const SIMPLE_SIGNING = 'application/vnd.dev.cosign.simplesigning.v1+json';
const BUNDLE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const subject = sha(Buffer.from('the image'));

interface Layer {
  readonly bytes: Uint8Array;
  /** The size the descriptor declares (default: the real one). */
  readonly declared?: number;
  readonly sig?: string;
}

function manifest(
  layers: readonly { mediaType: string; digest: string; size: number; annotations?: Record<string, string> }[],
): FetchedManifest {
  const bytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(Buffer.from('{}')), size: 2 },
      layers,
    }),
  );
  return { bytes, digest: sha(bytes), mediaType: OCI_MANIFEST, size: bytes.length };
}

/** An upstream in memory. Reads settle one microtask after they are made, so reads made in one synchronous burst
 * (no bound) are all in flight together, and `maxInFlight` shows the bound. */
class CountingClient implements RegistryClient {
  readonly manifests = new Map<string, FetchedManifest>();
  readonly blobs = new Map<string, Uint8Array>();
  reads = 0;
  bytesRead = 0;
  inFlight = 0;
  maxInFlight = 0;
  order: string[] = [];
  /** Called before a manifest GET answers (the test may hold it). */
  gate: (ref: string) => Promise<void> = () => Promise.resolve();
  failReads = false;

  sig(layers: readonly Layer[]): void {
    for (const l of layers) this.blobs.set(sha(l.bytes), l.bytes);
    this.manifests.set(
      signatureTag(subject),
      manifest(
        layers.map((l) => ({
          mediaType: SIMPLE_SIGNING,
          digest: sha(l.bytes),
          size: l.declared ?? l.bytes.length,
          annotations: { 'dev.cosignproject.cosign/signature': l.sig ?? 'c2ln' },
        })),
      ),
    );
  }

  bundles(n: number): void {
    const entries = [];
    for (let i = 0; i < n; i++) {
      const blob = Buffer.from(`{"bundle":${i}}`);
      this.blobs.set(sha(blob), blob);
      const m = manifest([{ mediaType: BUNDLE, digest: sha(blob), size: blob.length }]);
      this.manifests.set(m.digest, m);
      entries.push({ mediaType: OCI_MANIFEST, digest: m.digest, size: m.size });
    }
    const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: entries }));
    this.manifests.set(referrersTag(subject), { bytes, digest: sha(bytes), mediaType: OCI_INDEX, size: bytes.length });
  }

  async getManifest(_repo: string, ref: ManifestReference): Promise<FetchedManifest> {
    const key = ref.kind === 'tag' ? ref.tag : ref.digest;
    this.order.push(key);
    await this.gate(key);
    const m = this.manifests.get(key);
    if (!m) throw new SigwardError('MANIFEST_UNKNOWN', `no ${key}`);
    return m;
  }

  readBlob(_repo: string, digest: Digest, cap: number): Promise<{ bytes: Uint8Array; overflow?: number }> {
    this.reads++;
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    const b = this.blobs.get(digest);
    return new Promise((resolve, reject) =>
      queueMicrotask(() => {
        this.inFlight--;
        if (this.failReads) return reject(new SigwardError('UPSTREAM_UNAVAILABLE', 'upstream down'));
        if (!b) return reject(new SigwardError('BLOB_UNKNOWN', 'blob unknown'));
        const kept = b.subarray(0, cap);
        this.bytesRead += kept.length;
        resolve(b.length > cap ? { bytes: kept, overflow: b.length } : { bytes: kept });
      }),
    );
  }

  referrersApiAbsent(): boolean {
    return true;
  }
  countFailure(): never {
    throw new Error('not used');
  }
  getBlob(): never {
    throw new Error('not used');
  }
  headBlob(): never {
    throw new Error('not used');
  }
  getTags(): never {
    throw new Error('not used');
  }
  getReferrers(): never {
    throw new Error('not used');
  }
}

const discover = (client: CountingClient, limits: Partial<DiscoveryLimits> = {}) =>
  discoverSignatures({ client, display: 'r.test/app', repository: 'app' }, subject, {
    ...DEFAULT_DISCOVERY_LIMITS,
    ...limits,
  });
const junk = (i: number, size = 16): Uint8Array => Buffer.from(`{"junk":${i}}`.padEnd(size, ' '));

test('1000 identical layers are one signature: its blob is read once', async () => {
  const c = new CountingClient();
  const one = Buffer.alloc(1024 * 1024, 0x61);
  c.sig(Array.from({ length: 1000 }, () => ({ bytes: one })));
  const found = await discover(c);
  assert.equal(c.reads, 1);
  assert.equal(found.signatures.length, 1);
  assert.match(at(found.signatures, 0).source, /layer 1 of 1000 \(and 999 identical layers, read once\)$/);
  assert.deepEqual(found.unreadable, []);
});

test('one blob named by layers with different signatures is read once and each signature is kept', async () => {
  const c = new CountingClient();
  const one = junk(0);
  c.sig([
    { bytes: one, sig: 'YQ==' },
    { bytes: one, sig: 'Yg==' },
    { bytes: one, sig: 'YQ==' },
  ]);
  const found = await discover(c);
  assert.equal(c.reads, 1);
  assert.equal(found.signatures.length, 2, 'layers 1 and 3 are identical; layer 2 differs by its signature');
});

test('past maxSignatures: the first layers are read, at most `concurrency` at a time, the rest reported once', async () => {
  const c = new CountingClient();
  c.sig(Array.from({ length: 1000 }, (_, i) => ({ bytes: junk(i) })));
  const found = await discover(c, { maxSignatures: 40, concurrency: 3 });
  assert.equal(c.reads, 40);
  assert.equal(c.maxInFlight, 3);
  assert.equal(found.signatures.length, 40);
  assert.ok(
    found.signatures.every(
      (s) =>
        /layer (\d+) of 1000$/.test(s.source) &&
        Number(must(/layer (\d+)/.exec(s.source), '/layer (\\d+)/.exec(s.source)')[1]) <= 40,
    ),
  );
  assert.equal(found.unreadable.length, 1);
  assert.equal(
    at(found.unreadable, 0).message,
    '960 signatures not read (the first: layer 41): over limits.signaturesPerLookup (40 distinct signatures read per lookup)',
  );
});

test('past lookupBytes: reads stop at the budget; a small signature after a big one still fits', async () => {
  const c = new CountingClient();
  const layers: Layer[] = Array.from({ length: 20 }, (_, i) => ({ bytes: junk(i, 1024) }));
  layers.splice(9, 0, { bytes: junk(99, 100) }); // layer 10: small, listed after layer 9 no longer fit
  c.sig(layers);
  const found = await discover(c, { lookupBytes: 8 * 1024 + 100 });
  assert.equal(c.reads, 9, '8 blobs of 1 KiB and the 100-byte one');
  assert.ok(found.signatures.some((s) => s.source.endsWith('layer 10 of 21')));
  assert.equal(found.unreadable.length, 1);
  assert.match(
    at(found.unreadable, 0).message,
    /^12 signatures not read \(the first: layer 9\): over limits\.signatureBytesPerLookup \(8292 bytes/,
  );
});

test('descriptors understating sizes cannot read past lookupBytes by more than one blob per fetch slot', async () => {
  const c = new CountingClient();
  const cap = 64 * 1024;
  c.sig(Array.from({ length: 100 }, (_, i) => ({ bytes: junk(i, cap), declared: 1 })));
  const limits = { signatureBytes: cap, lookupBytes: 4 * cap, concurrency: 2 };
  const found = await discover(c, limits);
  assert.ok(c.bytesRead <= limits.lookupBytes + limits.concurrency * cap, `${c.bytesRead} bytes read`);
  assert.ok(c.reads < 10, `${c.reads} reads`);
  assert.equal(found.signatures.length, 0);
  assert.ok(found.unreadable.some((u) => /more than the 1 its descriptor declares/.test(u.message)));
  assert.ok(found.unreadable.some((u) => /over limits\.signatureBytesPerLookup/.test(u.message)));
});

test('bundles take the slots legacy layers left, in list order, even when the referrers list answers first', async () => {
  const c = new CountingClient();
  c.sig([{ bytes: junk(1) }, { bytes: junk(2) }]);
  c.bundles(3);
  let releaseSig!: () => void;
  const sigHeld = new Promise<void>((r) => (releaseSig = r));
  c.gate = (ref) => {
    if (ref === referrersTag(subject)) releaseSig(); // the `.sig` manifest answers only after the referrers list was asked
    return ref === signatureTag(subject) ? sigHeld : Promise.resolve();
  };
  const found = await discover(c, { maxSignatures: 3 });
  assert.deepEqual(
    found.signatures.map((s) => s.format),
    ['bundle', 'legacy', 'legacy'],
  );
  const firstReferrer = c.order.find((k) => k.startsWith('sha256:'));
  const first = at(found.signatures, 0);
  assert.equal(first.format === 'bundle' && first.manifestDigest, firstReferrer);
  assert.equal(found.unreadable.length, 1);
  assert.match(at(found.unreadable, 0).message, /^2 signatures not read .*limits\.signaturesPerLookup/);
});

test('an upstream failure fails the lookup and no further reads are started', async () => {
  const c = new CountingClient();
  c.sig(Array.from({ length: 50 }, (_, i) => ({ bytes: junk(i) })));
  c.failReads = true;
  await assert.rejects(
    discover(c, { concurrency: 2 }),
    (e: unknown) => e instanceof SigwardError && e.code === 'VERIFY_UNAVAILABLE',
  );
  assert.ok(c.reads < 50, `${c.reads} reads`);
});

test('a .sig image with more layers than limits.signatureLayers is refused whole, naming the limit', async () => {
  const c = new CountingClient();
  c.sig(Array.from({ length: 30 }, (_, i) => ({ bytes: junk(i) })));
  const found = await discover(c, { maxLayers: 20 });
  assert.equal(c.reads, 0);
  assert.equal(found.signatures.length, 0);
  assert.equal(found.unreadable.length, 1);
  assert.match(
    at(found.unreadable, 0).message,
    /30 .*limit 20.*\(limits\.signatureLayers; cosign refuses such images too\)$/,
  );
});
