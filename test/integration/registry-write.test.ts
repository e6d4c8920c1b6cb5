// The CLI's registry writer (src/registry-write/) against a real distribution (anonymous and token auth) and against
// fakes for what distribution 2.8 cannot show: a registry with the referrers API, an upload Location on another
// origin. Blobs: uploaded once, then found by HEAD; mounted across repositories; refused when the bytes do not match
// the digest. Tokens for writes are asked with `pull,push`; a token without push is a refusal naming the repository.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { digestOf, type Digest } from '../../src/oci/digest.ts';
import { MT } from '../../src/oci/mediatypes.ts';
import { Registries } from '../../src/registry-write/connect.ts';
import { addReferrer, listReferrers } from '../../src/registry-write/referrers.ts';
import { getBlob, getManifest } from '../helpers/images.ts';
import { json, ociError, startFake, type Fake } from '../helpers/fake-upstream.ts';
import { must } from '../helpers/must.ts';
import { removeTempDir, tempDir } from '../helpers/proc.ts';
import { startRegistry, type Registry } from '../helpers/registry.ts';
import { rejection } from '../helpers/upstream-setup.ts';

const bytes = (s: string): Uint8Array => new Uint8Array(Buffer.from(s));
const blob = (data: Uint8Array, digest: Digest = digestOf(data)) => ({ digest, size: data.length, body: () => data });

describe('registry writer', () => {
  let reg: Registry;
  let dir: string;
  let registries: Registries;
  const warnings: string[] = [];

  before(async () => {
    reg = await startRegistry();
    dir = tempDir('registry-write');
    mkdirSync(join(dir, 'docker'));
    registries = new Registries({ env: { DOCKER_CONFIG: join(dir, 'docker') }, warn: (l) => warnings.push(l) });
  });
  after(async () => {
    await registries.close();
    await reg.stop();
    removeTempDir(dir);
  });

  test('a blob is uploaded once, then found; a mount from another repository moves no bytes', async () => {
    const w = registries.get(reg.host).writer;
    const data = bytes('a blob for the writer\n');
    assert.equal(await w.pushBlob('w/a', blob(data)), 'uploaded');
    assert.equal(await w.pushBlob('w/a', blob(data)), 'present');
    assert.deepEqual(await getBlob(reg, 'w/a', digestOf(data)), Buffer.from(data));
    assert.equal(await w.pushBlob('w/b', blob(data), { mountFrom: 'w/a' }), 'mounted');
    assert.deepEqual(await getBlob(reg, 'w/b', digestOf(data)), Buffer.from(data));
    // The source lacks it: the registry declines the mount (202) and the upload goes on.
    const other = bytes('not in w/a\n');
    assert.equal(await w.pushBlob('w/c', blob(other), { mountFrom: 'w/a' }), 'uploaded');
    assert.equal(await w.hasBlob('w/c', digestOf(other)), true);
  });

  test('bytes that do not match the digest are refused by the registry, and nothing is stored', async () => {
    const w = registries.get(reg.host).writer;
    const claimed = digestOf(bytes('what the digest says'));
    const err = await rejection(w.pushBlob('w/d', blob(bytes('what is sent'), claimed)));
    assert.match(err.message, /refused to upload blob sha256:[0-9a-f]{64} .* \(400: DIGEST_INVALID/);
    assert.equal(await w.hasBlob('w/d', claimed), false);
  });

  test('manifests by tag and by digest, byte-exact; the digest is returned', async () => {
    const w = registries.get(reg.host).writer;
    const config = bytes('{}');
    await w.pushBlob('w/m', blob(config));
    const manifest = bytes(
      `{"schemaVersion":2,"mediaType":"${MT.ociManifest}","config":{"mediaType":"${MT.ociEmpty}","size":2,"digest":"${digestOf(config)}"},"layers":[]}`,
    );
    assert.equal(await w.putManifest('w/m', 'v1', manifest, MT.ociManifest), digestOf(manifest));
    assert.equal(await w.putManifest('w/m', digestOf(manifest), manifest, MT.ociManifest), digestOf(manifest));
    const got = await getManifest(reg, 'w/m', 'v1');
    assert.deepEqual(got.bytes, Buffer.from(manifest));
  });

  test('token auth: push scope asked up front; a token without push is a refusal naming the repository', async () => {
    const tokenReg = await startRegistry({ auth: 'token', token: { deny: ['w/denied'] } });
    const tokens = must(tokenReg.tokenServer, 'token server');
    const withCreds = new Registries({
      env: { DOCKER_CONFIG: join(dir, 'docker') },
      warn: (l) => warnings.push(l),
      loaded: {
        file: 'test',
        config: {
          upstreams: [
            {
              host: tokenReg.host,
              aliases: [],
              url: tokenReg.url,
              default: false,
              libraryPrefix: false,
              auth: { kind: 'basic', username: 'testuser', password: { env: 'X' } },
              timeouts: { connectMs: 5_000, headersMs: 10_000, bodyMs: 10_000 },
              retries: 0,
              tokenRealms: [new URL(tokens.url).host],
            },
          ],
        },
        passwords: new Map([[tokenReg.host, 'testpass']]),
        caPems: new Map(),
      } as unknown as ConstructorParameters<typeof Registries>[0]['loaded'],
    });
    try {
      const w = withCreds.get(tokenReg.host).writer;
      const data = bytes('behind token auth\n');
      assert.equal(await w.pushBlob('w/tok', blob(data)), 'uploaded');
      const scopes = tokens.requests.flatMap((r) => r.scopes);
      assert.ok(scopes.includes('repository:w/tok:pull,push'), scopes.join(' '));
      assert.ok(!scopes.includes('repository:w/tok:pull'), 'no pull-only token fetched first');
      const err = await rejection(w.pushBlob('w/denied', blob(data)));
      assert.match(err.message, /refused to .* w\/denied \(401 Unauthorized/);
      assert.equal(err.code, 'UPSTREAM_UNAUTHORIZED');
    } finally {
      await withCreds.close();
      await tokenReg.stop();
    }
  });
});

describe('registry writer against fakes', () => {
  let fake: Fake;
  let registries: Registries;
  let dir: string;
  const subject = digestOf(bytes('subject'));
  const referrer = digestOf(bytes('referrer'));
  let location = '/v2/r/blobs/uploads/session';

  before(async () => {
    dir = tempDir('registry-write-fake');
    fake = await startFake((req, res) => {
      const url = req.url ?? '';
      if (req.method === 'GET' && url.startsWith(`/v2/r/referrers/${subject}`)) {
        json(
          res,
          200,
          {
            schemaVersion: 2,
            mediaType: MT.ociIndex,
            manifests: [{ mediaType: MT.ociManifest, digest: referrer, size: 9 }],
          },
          { 'content-type': MT.ociIndex },
        );
        return;
      }
      if (req.method === 'HEAD') {
        res.writeHead(404).end();
        return;
      }
      if (req.method === 'POST') {
        res.writeHead(202, { location, 'content-length': '0' }).end();
        return;
      }
      ociError(res, 404, 'NAME_UNKNOWN', 'unexpected request');
    });
    registries = new Registries({ env: { DOCKER_CONFIG: dir }, warn: () => undefined });
  });
  after(async () => {
    await registries.close();
    await fake.close();
    removeTempDir(dir);
  });

  test('with the referrers API, a referrer is listed by the registry: no tag index is written', async () => {
    const r = registries.get(fake.host);
    const listing = await listReferrers(r.reader, 'r', subject);
    assert.equal(listing.source, 'api');
    assert.deepEqual(
      listing.entries.map((e) => e.digest),
      [referrer],
    );
    const before = fake.requests.length;
    assert.equal(await addReferrer(r, 'r', subject, { mediaType: MT.ociManifest, digest: referrer, size: 9 }), 'api');
    assert.ok(
      fake.requests.slice(before).every((q) => q.method === 'GET'),
      'nothing was written',
    );
  });

  test('an upload Location on another origin is refused: credentials and bytes go to the registry only', async () => {
    location = 'http://127.0.0.1:9/elsewhere';
    const w = registries.get(fake.host).writer;
    const err = await rejection(w.pushBlob('r', blob(bytes('x'))));
    assert.match(err.message, /at another origin \(http:\/\/127\.0\.0\.1:9\)/);
    assert.ok(!fake.requests.some((q) => q.method === 'PUT'), 'no PUT anywhere');
  });
});
