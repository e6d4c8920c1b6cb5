// Signature blobs through the real upstream client against a scripted fake: a layer larger than the cap (announced
// by Content-Length, or only found while reading a chunked body) and a layer whose bytes do not match its digest are
// each reported as unreadable, never handed to the verifier; the good layer is; and the oversize body is not read to
// its end.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Agent } from 'undici';
import type { Digest } from '../../src/oci/digest.ts';
import { referrersTag, signatureTag } from '../../src/oci/cosign-tags.ts';
import { discoverSignatures, DEFAULT_DISCOVERY_LIMITS } from '../../src/proxy/signatures.ts';
import { UpstreamClient } from '../../src/upstream/client.ts';
import { ociError, startFake, type Fake } from '../helpers/fake-upstream.ts';
import { LIMITS, upstreamConfig } from '../helpers/upstream-setup.ts';
import { at } from '../helpers/must.ts';

const sha = (b: Buffer): Digest => `sha256:${createHash('sha256').update(b).digest('hex')}` as Digest;
const SIMPLE_SIGNING = 'application/vnd.dev.cosign.simplesigning.v1+json';
const CAP = 64 * 1024;

const subject = sha(Buffer.from('the image'));
const good = Buffer.from('{"critical":{}}');
const big = Buffer.alloc(4 * CAP, 0x61);
const tampered = Buffer.from('{"critical":{"evil":true}}');
const layers = [
  { name: 'declared', bytes: big, digest: sha(big) },
  { name: 'chunked', bytes: big, digest: sha(Buffer.concat([big, Buffer.from('x')])) },
  { name: 'tampered', bytes: tampered, digest: sha(Buffer.from('{"critical":{}} ')) },
  { name: 'good', bytes: good, digest: sha(good) },
];
// Each layer's descriptor claims a small size: only reading can find the oversize ones.
const sigManifest = Buffer.from(
  JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(Buffer.from('{}')), size: 2 },
    layers: layers.map((l) => ({
      mediaType: SIMPLE_SIGNING,
      digest: l.digest,
      size: 100,
      annotations: { 'dev.cosignproject.cosign/signature': 'c2ln' },
    })),
  }),
);

let fake: Fake;
let agent: Agent;
let bigBytesSent = 0;
before(async () => {
  fake = await startFake((req, res) => {
    const path = req.url ?? '';
    if (path.includes('/referrers/'))
      return void res.writeHead(404, { 'content-type': 'text/plain' }).end('404 page not found\n');
    if (path.endsWith(`/manifests/${referrersTag(subject)}`))
      return ociError(res, 404, 'MANIFEST_UNKNOWN', 'manifest unknown');
    if (path.endsWith(`/manifests/${signatureTag(subject)}`)) {
      return void res
        .writeHead(200, {
          'content-type': 'application/vnd.oci.image.manifest.v1+json',
          'content-length': String(sigManifest.length),
        })
        .end(sigManifest);
    }
    const layer = layers.find((l) => path.endsWith(`/blobs/${l.digest}`));
    if (!layer) return ociError(res, 404, 'BLOB_UNKNOWN', 'blob unknown');
    if (layer.name === 'chunked') {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const pump = (): void => {
        while (bigBytesSent < 64 * big.length && !res.destroyed) {
          bigBytesSent += 16 * 1024;
          if (!res.write(big.subarray(0, 16 * 1024))) return void res.once('drain', pump);
        }
        res.end();
      };
      res.on('close', () => res.destroy());
      pump();
      return;
    }
    res
      .writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(layer.bytes.length) })
      .end(layer.bytes);
  });
  agent = new Agent();
});
after(async () => {
  await agent?.close();
  await fake?.close();
});

test('oversize and tampered signature blobs are unreadable, the good one is read, nothing oversize is read to its end', async () => {
  const client = new UpstreamClient(upstreamConfig(fake.url), { dispatcher: agent, limits: LIMITS });
  const found = await discoverSignatures({ client, display: 'r.test/app', repository: 'app' }, subject, {
    ...DEFAULT_DISCOVERY_LIMITS,
    signatureBytes: CAP,
  });
  assert.deepEqual(found.formats, ['legacy']);
  assert.equal(found.signatures.length, 1);
  const only = at(found.signatures, 0);
  assert.equal(only.format, 'legacy');
  assert.deepEqual(Buffer.from(only.format === 'legacy' ? only.payload : []), good);
  const messages = found.unreadable.map((u) => u.message).sort();
  assert.equal(messages.length, 3, JSON.stringify(found.unreadable));
  assert.equal(
    messages.filter((m) => m.includes(`exceeds the ${CAP}-byte limit for signature blobs`)).length,
    2,
    messages.join('\n'),
  );
  assert.equal(messages.filter((m) => m.includes('do not match its digest')).length, 1, messages.join('\n'));
  assert.ok(bigBytesSent < 64 * big.length, `the chunked oversize blob was cut (upstream wrote ${bigBytesSent} bytes)`);
});
