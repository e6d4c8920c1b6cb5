// `sigward save IMAGE --dir DIR`: an image with everything that vouches for it, as an OCI image layout for carrying
// into a network without a route to the registry: the image (every platform of an index), the cosign attachments of
// each of its digests (`.sig`, `.att`, `.sbom` images) and its referrers (bundle signatures, attestations), through
// the referrers API or the `sha256-<hex>` tag index. Bytes are kept exactly (digests unchanged) and checked against
// their digests as they are written; the layout appears whole at the end or not at all (layout/write.ts).
import { loadConfig } from '../config/load.ts';
import { SigwardError } from '../errors.ts';
import { digestTagBase } from '../oci/cosign-tags.ts';
import type { Digest } from '../oci/digest.ts';
import { parseManifest } from '../oci/manifest.ts';
import { Registries, forCommandLine, type Registry } from '../registry-write/connect.ts';
import { isAbsent, listReferrers } from '../registry-write/referrers.ts';
import type { DescriptorFields } from '../sign/legacy-image.ts';
import type { FetchedManifest } from '../upstream/client.ts';
import {
  ANNOTATION_KIND,
  ANNOTATION_REF_NAME,
  ANNOTATION_SOURCE,
  ANNOTATION_SUBJECT,
  ATTACHMENT_KINDS,
  Progress,
  showBytes,
  type EntryKind,
} from '../layout/layout.ts';
import { LayoutWriter } from '../layout/write.ts';
import { EXIT_OK, exitOnBadInput } from './exit-codes.ts';
import { parseFlags } from './flags.ts';
import { parseImageArg, showImage, signatureRepository } from './image-arg.ts';
import type { Io } from './io.ts';

export const SAVE_USAGE = `usage: sigward save --dir DIR [--config FILE] IMAGE

Writes IMAGE (registry/repository:tag or @sha256:<hex>) and what vouches for it into DIR as an OCI image layout, to
carry into a network that cannot reach the registry (then: sigward load --dir DIR REGISTRY/REPOSITORY):
  - the image; for a multi-platform index, every platform's manifest and blobs;
  - for the image and each platform manifest: its cosign .sig, .att and .sbom images, and its referrers (v3 bundle
    signatures, attestations) from the referrers API or the sha256-<hex> referrers tag index.
Nothing is changed: manifests and blobs keep their bytes and digests, and every blob is checked against its digest
as it is written. index.json lists each saved manifest with annotations saying what it is
(org.opencontainers.image.ref.name = its tag; dev.sigward.kind, dev.sigward.subject). DIR must not exist (or be an
empty directory): the layout is written into a temporary directory beside it and renamed into place when complete.
Large transfers report progress on stderr.

options:
  --dir DIR       where to write the layout
  --config FILE   a sigward config: registries under its upstreams are reached as configured there; others with
                  docker's config.json credentials, over https (plain http on loopback)

environment:
  COSIGN_REPOSITORY   read the signatures from this repository (registry/repository) instead of the image's

Exits 0 when the layout is written, 2 when the command cannot work as given (nothing written), 1 when the registry
side failed or sent bytes that do not match their digests (nothing written).`;

interface PlannedBlob {
  readonly digest: Digest;
  readonly size: number;
  readonly from: Registry;
  readonly repository: string;
}

/** What will go into the layout: manifests (bytes already fetched and digest-checked), blobs, index.json entries. */
class Plan {
  readonly manifests = new Map<Digest, FetchedManifest>();
  readonly blobs = new Map<Digest, PlannedBlob>();
  readonly entries: DescriptorFields[] = [];
  /** Digests of the image's own manifests (the index and its platform manifests). */
  readonly imageDigests: Digest[] = [];
  counts = { attachments: 0, referrers: 0 };

  entry(m: FetchedManifest, kind: EntryKind, source: string, extra: Record<string, string> = {}): void {
    this.entries.push({
      mediaType: m.mediaType,
      size: m.size,
      digest: m.digest,
      annotations: { ...extra, [ANNOTATION_KIND]: kind, [ANNOTATION_SOURCE]: source },
    });
  }
}

const HINT = '`sigward save --help` shows the usage';

export async function saveCommand(argv: readonly string[], io: Io): Promise<number> {
  return exitOnBadInput('save', io, async () => {
    const flags = parseFlags(argv, { dir: 'string', config: 'string', help: 'boolean' }, HINT);
    if (flags.help) {
      io.out(SAVE_USAGE);
      return EXIT_OK;
    }
    if (typeof flags.dir !== 'string' || flags.dir === '') throw bad('--dir DIR is required');
    if (flags._.length !== 1) throw bad(flags._.length === 0 ? 'IMAGE is required' : 'give exactly one IMAGE');
    const image = parseImageArg(flags._[0] as string);
    const sigs = signatureRepository(image, io.env);
    const loaded = typeof flags.config === 'string' ? loadConfig(flags.config, io.env) : undefined;
    const writer = await LayoutWriter.create(flags.dir);
    const registries = new Registries({ loaded, env: io.env, warn: (l) => io.err(`sigward save: ${l}`) });
    try {
      const plan = new Plan();
      const source = registries.get(image.host);
      const top = await addTree(plan, source, image.repository, image.ref);
      const where = `${image.host}/${image.repository}`;
      plan.entry(top, 'image', where, image.ref.kind === 'tag' ? { [ANNOTATION_REF_NAME]: image.ref.tag } : {});
      const sigReg = registries.get(sigs.host);
      for (const d of plan.imageDigests) await addAttachments(plan, sigReg, sigs.repository, d);
      const total = [...plan.blobs.values()].reduce((n, b) => n + b.size, 0);
      const progress = new Progress(total, (l) => io.err(`sigward save: ${l}`));
      for (const m of plan.manifests.values()) await writer.writeBytes(m.digest, m.bytes);
      for (const b of plan.blobs.values()) {
        const blob = await b.from.reader.getBlob(b.repository, b.digest);
        await writer.writeStream(b.digest, b.size, blob.body, (n) => progress.add(n), `registry ${b.from.host}`);
      }
      await writer.commit(plan.entries);
      io.out(
        `${showImage(image.host, image.repository, image.ref)} (${top.digest}) saved to ${flags.dir}: ` +
          `${plan.manifests.size} manifests, ${plan.blobs.size} blobs (${showBytes(total)}); ` +
          `${plan.counts.attachments} signature/attestation/SBOM image(s), ${plan.counts.referrers} referrer(s)`,
      );
    } catch (e) {
      await writer.abort();
      throw forCommandLine(e);
    } finally {
      await registries.close();
    }
    return EXIT_OK;
  });
}

/** A manifest and everything under it (platform manifests, config and layers), fetched by tag or digest. */
async function addTree(
  plan: Plan,
  reg: Registry,
  repository: string,
  ref: { kind: 'tag'; tag: string } | { kind: 'digest'; digest: Digest },
  image = true,
  depth = 0,
): Promise<FetchedManifest> {
  const m = await reg.reader.getManifest(repository, ref);
  if (plan.manifests.has(m.digest)) return m;
  if (depth > 8) throw new SigwardError('MANIFEST_INVALID', `${reg.host}/${repository}: indexes nested too deep`);
  plan.manifests.set(m.digest, m);
  if (image) plan.imageDigests.push(m.digest);
  const parsed = parseManifest(m.bytes, m.mediaType);
  if (parsed.kind === 'schema1') {
    throw new SigwardError(
      'UNSUPPORTED',
      `${reg.host}/${repository}@${m.digest} is a Docker schema 1 manifest; not saved`,
    );
  }
  for (const child of parsed.manifests) {
    await addTree(plan, reg, repository, { kind: 'digest', digest: child.digest }, image, depth + 1);
  }
  for (const b of [...(parsed.config === undefined ? [] : [parsed.config]), ...parsed.layers]) {
    if (!plan.blobs.has(b.digest)) plan.blobs.set(b.digest, { digest: b.digest, size: b.size, from: reg, repository });
  }
  return m;
}

/** The .sig/.att/.sbom images and the referrers of `subject`, from the signature repository. */
async function addAttachments(plan: Plan, reg: Registry, repository: string, subject: Digest): Promise<void> {
  const where = `${reg.host}/${repository}`;
  for (const [suffix, kind] of ATTACHMENT_KINDS) {
    const tag = `${digestTagBase(subject)}.${suffix}`;
    let m: FetchedManifest;
    try {
      m = await addTree(plan, reg, repository, { kind: 'tag', tag }, false);
    } catch (e) {
      if (isAbsent(e)) continue;
      throw e;
    }
    plan.entry(m, kind, where, { [ANNOTATION_REF_NAME]: tag, [ANNOTATION_SUBJECT]: subject });
    plan.counts.attachments++;
  }
  const listing = await listReferrers(reg.reader, repository, subject);
  for (const r of listing.entries) {
    const m = await addTree(plan, reg, repository, { kind: 'digest', digest: r.digest }, false);
    plan.entry(m, 'referrer', where, { [ANNOTATION_SUBJECT]: subject });
    plan.counts.referrers++;
  }
  if (listing.index !== undefined) {
    const index = listing.index;
    plan.manifests.set(index.digest, index);
    plan.entry(index, 'referrers-index', where, {
      [ANNOTATION_REF_NAME]: digestTagBase(subject),
      [ANNOTATION_SUBJECT]: subject,
    });
  }
}

function bad(message: string): SigwardError {
  return new SigwardError('CONFIG_INVALID', `${message}; ${HINT}`);
}
