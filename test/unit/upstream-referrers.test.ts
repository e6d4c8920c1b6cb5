// What a referrers answer teaches about the upstream: a plain 404 (no such route) means the API is missing and is
// remembered for a while; a 404 carrying an OCI error code, or a 200, does not mark it missing.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent } from 'undici';
import type { Digest } from '../../src/oci/digest.ts';
import { MT } from '../../src/oci/mediatypes.ts';
import { REFERRERS_ABSENT_MS, UpstreamClient } from '../../src/upstream/client.ts';
import { json, ociError, startFake, type Fake } from '../helpers/fake-upstream.ts';
import { LIMITS, upstreamConfig } from '../helpers/upstream-setup.ts';

const D = `sha256:${'c'.repeat(64)}` as Digest;
let fake: Fake;
let agent: Agent;
let answer: 'plain404' | 'oci404' | 'index' = 'plain404';

before(async () => {
  fake = await startFake((_req, res) => {
    if (answer === 'plain404') {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('404 page not found\n');
    } else if (answer === 'oci404') ociError(res, 404, 'NAME_UNKNOWN', 'repository name not known to registry');
    else json(res, 200, { schemaVersion: 2, mediaType: MT.ociIndex, manifests: [] }, { 'content-type': MT.ociIndex });
  });
  agent = new Agent();
});
after(async () => {
  await agent?.close();
  await fake?.close();
});

test('a plain 404 marks the referrers API absent until REFERRERS_ABSENT_MS have passed; a 200 clears it', async () => {
  let now = 1_000_000;
  const client = new UpstreamClient(upstreamConfig(fake.url), { dispatcher: agent, limits: LIMITS, now: () => now });
  assert.equal(client.referrersApiAbsent(), false);
  answer = 'plain404';
  assert.equal((await client.getReferrers('repo', D)).status, 404);
  assert.equal(client.referrersApiAbsent(), true);
  now += REFERRERS_ABSENT_MS - 1;
  assert.equal(client.referrersApiAbsent(), true);
  now += 2;
  assert.equal(client.referrersApiAbsent(), false, 'forgotten: a registry may have been upgraded');

  await client.getReferrers('repo', D);
  assert.equal(client.referrersApiAbsent(), true);
  answer = 'index';
  assert.equal((await client.getReferrers('repo', D)).status, 200);
  assert.equal(client.referrersApiAbsent(), false);
});

test('a 404 with an OCI error code (a registry that has the API, an unknown repository) teaches nothing', async () => {
  const client = new UpstreamClient(upstreamConfig(fake.url), { dispatcher: agent, limits: LIMITS });
  answer = 'oci404';
  const a = await client.getReferrers('repo', D);
  assert.equal(a.status, 404);
  assert.equal(a.upstreamCode, 'NAME_UNKNOWN');
  assert.equal(client.referrersApiAbsent(), false);
});
