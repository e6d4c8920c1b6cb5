// End to end with real runtimes: manifests crafted so that sigward's reader (JSON.parse) and the runtimes' (Go's
// encoding/json: case-insensitive keys with Unicode folding, last duplicate wins) see different images, layers whose
// declared signature media type lies about their bytes, and index/manifest kind confusion. Each is pushed byte-exact
// to a real distribution registry and pulled through the sigward DAEMON with containerd's ctr and with podman. Each
// pull must fail, sigward must be the one that refused (403 DENIED or 502 MANIFEST_INVALID on every manifest request,
// no blob of the image served), and nothing of the runnable layer may be in the runtime's storage afterwards.
// Controls prove the checks can see a success: a signed image, a signed multi-arch image under `platforms: child`
// and genuine cosign artifacts still get through.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startContainerd, type Containerd } from '../helpers/containerd.ts';
import { newKey, signBundle, signLegacy } from '../helpers/cosign.ts';
import {
  allBlobs,
  craftedParts,
  desc,
  DOCKER_CONFIG,
  DOCKER_LAYER_GZIP,
  pushCrafted,
  runnableDigests,
  SIMPLE_SIGNING,
  type CraftedParts,
} from '../helpers/crafted-manifests.ts';
import {
  buildImage,
  buildMultiArch,
  getManifest,
  OCI_CONFIG,
  OCI_INDEX,
  OCI_LAYER_GZIP,
  OCI_MANIFEST,
  pushImage,
} from '../helpers/images.ts';
import { createPodman, podmanWorks, type Podman } from '../helpers/podman.ts';
import { findNamed, readAccessLines, settledAccessLines, type AccessLine } from '../helpers/pull-evidence.ts';
import { startRegistry, type Registry } from '../helpers/registry.ts';
import { createSkopeo, type Skopeo } from '../helpers/skopeo.ts';
import { startSigwardProcess, type RunningSigward } from '../helpers/sigward.ts';

const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';

interface Case {
  id: string;
  title: string;
  /** `apps` requires a key signature; `child` is the same with `platforms: child` (an index passes unsigned). */
  policy: 'apps' | 'child';
  /** The Content-Type it is pushed with (distribution serves it back). */
  contentType: string;
  /** Pushed and pulled by this tag; by digest when absent. */
  tag?: (p: CraftedParts) => string;
  /** The manifest text, exactly as pushed. */
  text: (p: CraftedParts) => string;
}

const OCI_HEAD = `"schemaVersion":2,"mediaType":"${OCI_MANIFEST}"`;
const config = (p: CraftedParts): string => desc(OCI_CONFIG, p.config);
const signature = (p: CraftedParts): string => desc(SIMPLE_SIGNING, p.payload);
const gzipLayer = (p: CraftedParts): string => desc(OCI_LAYER_GZIP, p.tarGz);
const v1 = (): string => 'v1';
const sigTag = (p: CraftedParts): string => `sha256-${p.tar.digest.slice(7)}.sig`;
/** A signature layer first, then the runnable one under a key Go folds onto `layers` (and keeps: the last wins). */
const foldedLayers =
  (key: string) =>
  (p: CraftedParts): string =>
    `{${OCI_HEAD},"config":${config(p)},"layers":[${signature(p)}],${key}:[${gzipLayer(p)}]}`;
/** An index mediaType for JSON.parse, a manifest mediaType for Go (folded key, last wins), and a runnable image. */
const indexOverManifest =
  (key: string) =>
  (p: CraftedParts): string =>
    `{"schemaVersion":2,"mediaType":"${OCI_INDEX}","config":${config(p)},"layers":[${gzipLayer(p)}],${key}:"${OCI_MANIFEST}"}`;

const signed = buildImage({ files: { 'sigward-control-signed.txt': 'a signed image\n' } });
const multi = buildMultiArch({ 'sigward-control-child.txt': 'a signed platform image\n' });

const CLASSES: { name: string; cases: Case[] }[] = [
  {
    name: 'folded and duplicate keys',
    cases: [
      {
        id: 'layers-title',
        title: '"layers":[signature] then "Layers":[tar+gzip]',
        policy: 'apps',
        contentType: OCI_MANIFEST,
        tag: v1,
        text: foldedLayers('"Layers"'),
      },
      {
        id: 'layers-upper',
        title: '"layers":[signature] then "LAYERS":[tar+gzip]',
        policy: 'apps',
        contentType: OCI_MANIFEST,
        tag: v1,
        text: foldedLayers('"LAYERS"'),
      },
      {
        id: 'layers-long-s',
        title: '"layers":[signature] then "layerſ" (U+017F folds to s):[tar+gzip]',
        policy: 'apps',
        contentType: OCI_MANIFEST,
        tag: v1,
        text: foldedLayers('"layerſ"'),
      },
      {
        id: 'layers-escaped',
        title: '"layers":[signature] then the escaped key "\\u004cayers":[tar+gzip]',
        policy: 'apps',
        contentType: OCI_MANIFEST,
        tag: v1,
        text: foldedLayers('"\\u004cayers"'),
      },
      {
        id: 'layers-twice',
        title: 'exact duplicate "layers": [tar+gzip] then [signature] (a first-wins reader runs the tar)',
        policy: 'apps',
        contentType: OCI_MANIFEST,
        tag: v1,
        text: (p) => `{${OCI_HEAD},"config":${config(p)},"layers":[${gzipLayer(p)}],"layers":[${signature(p)}]}`,
      },
      {
        id: 'config-title',
        title: 'a signature artifact\'s "config" then a folded "Config" naming a runnable config',
        policy: 'apps',
        contentType: OCI_MANIFEST,
        tag: v1,
        text: (p) =>
          `{${OCI_HEAD},"config":${desc(OCI_CONFIG, p.payloadConfig)},"layers":[${signature(p)}],"Config":${config(p)}}`,
      },
      {
        id: 'descriptor-mediatype',
        title: 'a layer descriptor with "mediaType": signature then "MediaType": tar+gzip',
        policy: 'apps',
        contentType: OCI_MANIFEST,
        tag: v1,
        text: (p) =>
          `{${OCI_HEAD},"config":${config(p)},"layers":[${desc(SIMPLE_SIGNING, p.tarGz, `,"MediaType":"${OCI_LAYER_GZIP}"`)}]}`,
      },
    ],
  },
  {
    name: 'a layer declared simple-signing whose blob is an archive',
    cases: [
      {
        id: 'ss-gzip-digest',
        title: 'tar+gzip blob, by digest',
        policy: 'apps',
        contentType: OCI_MANIFEST,
        text: (p) => `{${OCI_HEAD},"config":${config(p)},"layers":[${desc(SIMPLE_SIGNING, p.tarGz)}]}`,
      },
      {
        id: 'ss-gzip-sigtag',
        title: 'tar+gzip blob, by a sha256-<hex>.sig tag',
        policy: 'apps',
        contentType: OCI_MANIFEST,
        tag: sigTag,
        text: (p) => `{${OCI_HEAD},"config":${config(p)},"layers":[${desc(SIMPLE_SIGNING, p.tarGz)}]}`,
      },
      {
        id: 'ss-tar-digest',
        title: 'plain tar blob, by digest',
        policy: 'apps',
        contentType: OCI_MANIFEST,
        text: (p) => `{${OCI_HEAD},"config":${config(p)},"layers":[${desc(SIMPLE_SIGNING, p.tar)}]}`,
      },
      {
        id: 'ss-tar-sigtag',
        title: 'plain tar blob, by a sha256-<hex>.sig tag',
        policy: 'apps',
        contentType: OCI_MANIFEST,
        tag: sigTag,
        text: (p) => `{${OCI_HEAD},"config":${config(p)},"layers":[${desc(SIMPLE_SIGNING, p.tar)}]}`,
      },
    ],
  },
  {
    name: 'index and manifest at once',
    cases: [
      {
        id: 'index-mediatype-title',
        title: 'index mediaType with config and layers, folded "MediaType": manifest, under platforms: child',
        policy: 'child',
        contentType: OCI_MANIFEST,
        tag: v1,
        text: indexOverManifest('"MediaType"'),
      },
      {
        id: 'index-mediatype-lower',
        title: 'the same with "mediatype"',
        policy: 'child',
        contentType: OCI_MANIFEST,
        tag: v1,
        text: indexOverManifest('"mediatype"'),
      },
      {
        id: 'docker-list-as-manifest',
        title:
          'a Docker manifest list body (manifests, config, layers) served as a Docker image manifest, under platforms: child',
        policy: 'child',
        contentType: DOCKER_MANIFEST,
        tag: v1,
        text: (p) =>
          `{"schemaVersion":2,"mediaType":"${DOCKER_LIST}","manifests":[${desc(OCI_MANIFEST, signed, ',"platform":{"architecture":"amd64","os":"linux"}')}],` +
          `"config":${desc(DOCKER_CONFIG, p.config)},"layers":[${desc(DOCKER_LAYER_GZIP, p.tarGz)}],"MediaType":"${DOCKER_MANIFEST}"}`,
      },
      {
        id: 'referrers-tag-index',
        title: 'a sha256-<hex> referrers tag naming an index with config and layers',
        policy: 'apps',
        contentType: OCI_MANIFEST,
        tag: (p) => `sha256-${p.tar.digest.slice(7)}`,
        text: indexOverManifest('"MediaType"'),
      },
    ],
  },
];

interface Pushed extends Case {
  parts: CraftedParts;
  repo: string;
  digest: string;
  /** The reference the clients pull, without the registry host. */
  ref: string;
}

let reg: Registry;
let sw: RunningSigward;
let ctd: Containerd;
let podman: Podman;
let skopeo: Skopeo;
const alice = newKey('alice');
const pushed = new Map<string, Pushed>();
let sigManifest: { tag: string; bytes: Buffer };
let bundle: { referrer: string; referrerBytes: Buffer; tag: string; indexBytes: Buffer };

before(async () => {
  reg = await startRegistry();
  await pushImage(reg, 'apps/signed', 'v1', signed);
  await signLegacy(reg, 'apps/signed', signed.digest, { keys: [alice] });
  const signedBy = await signBundle(reg, 'apps/signed', {
    key: alice,
    subject: { mediaType: signed.mediaType, size: signed.size, digest: signed.digest },
  });
  const sigTagOfSigned = `sha256-${signed.digest.slice(7)}`;
  sigManifest = {
    tag: `${sigTagOfSigned}.sig`,
    bytes: (await getManifest(reg, 'apps/signed', `${sigTagOfSigned}.sig`)).bytes,
  };
  bundle = {
    referrer: signedBy.referrer,
    referrerBytes: (await getManifest(reg, 'apps/signed', signedBy.referrer)).bytes,
    tag: sigTagOfSigned,
    indexBytes: (await getManifest(reg, 'apps/signed', sigTagOfSigned)).bytes,
  };
  await pushImage(reg, 'child/multi', 'v1', multi);
  for (const child of multi.manifests) await signLegacy(reg, 'child/multi', child.digest, { keys: [alice] });

  for (const c of CLASSES.flatMap((k) => k.cases)) {
    const parts = craftedParts(c.id);
    const repo = `${c.policy}/${c.id}`;
    const tag = c.tag?.(parts);
    const { digest } = await pushCrafted(reg, repo, tag, c.text(parts), c.contentType, allBlobs(parts));
    pushed.set(c.id, { ...c, parts, repo, digest, ref: tag !== undefined ? `${repo}:${tag}` : `${repo}@${digest}` });
  }

  sw = await startSigwardProcess({
    upstreams: [{ host: 'example.test', url: reg.url }],
    trust: { keys: { alice: { pem: alice.publicPem } } },
    policy: {
      default: 'deny',
      policies: [
        { name: 'apps', match: ['example.test/apps/*'], keys: ['alice'] },
        { name: 'child', match: ['example.test/child/*'], keys: ['alice'], platforms: 'child' },
      ],
    },
  });
  ctd = await startContainerd();
  ctd.writeHosts(sw.url, { registryHost: 'example.test' });
  assert.ok(await podmanWorks(), 'rootful podman must run here (scripts/setup-test-deps.sh installs it)');
  podman = createPodman({ sigward: sw.host, prefix: 'example.test' });
  skopeo = createSkopeo({ sigward: sw.host, prefix: 'example.test' });
});

after(async () => {
  skopeo?.remove();
  podman?.remove();
  await ctd?.stop();
  await sw?.stop();
  await reg?.stop();
});

/** The access lines of every request sigward answered while `pull` ran (and perhaps a few before it). */
async function linesDuring<T>(pull: () => Promise<T>): Promise<{ result: T; lines: AccessLine[] }> {
  const start = readAccessLines(sw.logFile!).length;
  const result = await pull();
  return { result, lines: await settledAccessLines(sw.url, sw.logFile!, start) };
}

/** sigward refused every request for the image's manifest, and served none of its blobs. */
function assertSigwardRefused(lines: readonly AccessLine[], prefix: string): void {
  const mine = lines.filter((l) => l.path.startsWith(prefix));
  const manifests = mine.filter((l) => l.path.includes('/manifests/'));
  assert.ok(
    manifests.length > 0,
    `the client asked sigward for the manifest under ${prefix}; lines: ${JSON.stringify(lines)}`,
  );
  for (const l of manifests) {
    const refused = (l.status === 403 && l.code === 'DENIED') || (l.status === 502 && l.code === 'MANIFEST_INVALID');
    assert.ok(
      refused,
      `sigward answered ${l.method} ${l.path} with ${l.status} ${l.code ?? ''} (outcome ${l.outcome ?? '-'}); expected 403 DENIED or 502 MANIFEST_INVALID`,
    );
  }
  // containerd asks for a digest reference under /blobs/ too (a 404 there serves nothing); only a 2xx hands bytes out.
  const served = mine.filter((l) => l.path.includes('/blobs/') && l.status >= 200 && l.status < 300);
  assert.deepEqual(
    served.map((l) => `${l.method} ${l.path} ${l.status}`),
    [],
    'no blob of a refused image goes out',
  );
}

/** Names that must not appear in a runtime's storage: the marker file and the runnable blobs' hex digests. */
function forbiddenNames(p: CraftedParts): Set<string> {
  return new Set([p.marker, ...runnableDigests(p).map((d) => d.slice(7))]);
}

describe('controls: what must still pass through sigward', () => {
  test("ctr pulls the signed image, and its file is found in containerd's storage (so a file found there is seen)", async () => {
    const r = await ctd.ctrPull('example.test/apps/signed:v1');
    assert.equal(r.code, 0, r.stderr);
    assert.notDeepEqual(findNamed(ctd.dir, new Set(['sigward-control-signed.txt'])), []);
  });

  test("podman pulls the signed image, and its file is found in podman's storage", async () => {
    const r = await podman.pull('example.test/apps/signed:v1');
    assert.equal(r.code, 0, r.stderr);
    assert.notDeepEqual(findNamed(podman.dir, new Set(['sigward-control-signed.txt'])), []);
  });

  test('ctr and podman pull a multi-arch image under platforms: child (index unsigned, its platform image signed)', async () => {
    const r = await ctd.ctrPull('example.test/child/multi:v1');
    assert.equal(r.code, 0, r.stderr);
    assert.notDeepEqual(findNamed(ctd.dir, new Set(['sigward-control-child.txt'])), []);
    const p = await podman.pull('example.test/child/multi:v1');
    assert.equal(p.code, 0, p.stderr);
    assert.notDeepEqual(findNamed(podman.dir, new Set(['sigward-control-child.txt'])), []);
  });

  test('skopeo inspect --raw reads genuine cosign artifacts byte-exact: the .sig image, the bundle referrer, the referrers tag index', async () => {
    for (const [ref, bytes] of [
      [`example.test/apps/signed:${sigManifest.tag}`, sigManifest.bytes],
      [`example.test/apps/signed@${bundle.referrer}`, bundle.referrerBytes],
      [`example.test/apps/signed:${bundle.tag}`, bundle.indexBytes],
    ] as const) {
      const r = await skopeo.inspectRaw(ref);
      assert.equal(r.code, 0, `${ref}: ${r.stderr}`);
      assert.equal(r.stdout, bytes.toString(), ref);
    }
  });
});

for (const k of CLASSES) {
  describe(`crafted: ${k.name}`, () => {
    for (const c of k.cases) {
      test(`${c.title}: ctr pull fails at sigward, nothing stored`, async () => {
        const p = pushed.get(c.id)!;
        const { result: r, lines } = await linesDuring(() =>
          ctd.ctrPull(`example.test/${p.ref}`, { timeoutMs: 60_000 }),
        );
        assert.notEqual(r.code, 0, `ctr pulled ${p.ref}:\n${r.stdout}`);
        assertSigwardRefused(lines, `/v2/${p.repo}/`);
        assert.match(r.stderr, /: (403 Forbidden|502 Bad Gateway)/, r.stderr);
        const content = await ctd.ctr(['content', 'ls', '-q']);
        assert.equal(content.code, 0, content.stderr);
        for (const d of runnableDigests(p.parts))
          assert.ok(!content.stdout.includes(d), `containerd's content store holds ${d}`);
        assert.deepEqual(findNamed(ctd.dir, forbiddenNames(p.parts)), []);
      });

      test(`${c.title}: podman pull fails at sigward, nothing stored`, async () => {
        const p = pushed.get(c.id)!;
        const { result: r, lines } = await linesDuring(() => podman.pull(`example.test/${p.ref}`));
        assert.notEqual(r.code, 0, `podman pulled ${p.ref}:\n${r.stdout}`);
        assertSigwardRefused(lines, `/v2/example.test/${p.repo}/`);
        // c/image prints the OCI error body of a 403, and only the status line of a 5xx.
        assert.match(r.stderr, /denied: |: 502 Bad Gateway/, r.stderr);
        const images = await podman.run(['images', '--all', '--digests', '--format', '{{.Digest}}']);
        assert.equal(images.code, 0, images.stderr);
        assert.ok(!images.stdout.includes(p.digest), `podman lists ${p.digest}`);
        assert.deepEqual(findNamed(podman.dir, forbiddenNames(p.parts)), []);
      });
    }
  });
}
