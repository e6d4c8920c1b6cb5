// `sigward load --dir DIR REGISTRY/REPOSITORY`: push an OCI image layout written by `sigward save` into one
// repository, with the tags it was saved with (the image's tag, `sha256-<hex>.sig` …, the `sha256-<hex>` referrers
// tag index), so a sigward inside verifies the image there exactly as one outside did. The whole layout is read and
// checked against its digests first (layout/read.ts): a layout with a missing or altered file pushes nothing. Then
// blobs (skipped where the repository has them), manifests by digest (children first), tags, and last every
// referrer is made findable (the registry's referrers API, or the referrers tag index, merged with what is there).
import { createReadStream } from 'node:fs';
import { isDigest } from '../oci/digest.ts';
import { loadConfig } from '../config/load.ts';
import { SigwardError } from '../errors.ts';
import { Registries, forCommandLine } from '../registry-write/connect.ts';
import { addReferrer } from '../registry-write/referrers.ts';
import { ANNOTATION_KIND, ANNOTATION_REF_NAME, ANNOTATION_SUBJECT, Progress, showBytes } from '../layout/layout.ts';
import { readLayout } from '../layout/read.ts';
import { parseManifest } from '../oci/manifest.ts';
import { parseTag } from '../oci/reference.ts';
import { EXIT_OK, exitOnBadInput } from './exit-codes.ts';
import { parseFlags } from './flags.ts';
import { parseRepositoryArg } from './image-arg.ts';
import type { Io } from './io.ts';

export const LOAD_USAGE = `usage: sigward load --dir DIR [--config FILE] REGISTRY/REPOSITORY

Pushes the OCI image layout in DIR (written by sigward save) into REGISTRY/REPOSITORY: every blob and manifest with
its bytes and digest unchanged, and every tag index.json names (org.opencontainers.image.ref.name: the image's tag,
sha256-<hex>.sig/.att/.sbom, the sha256-<hex> referrers tag index). Referrers are made findable where the registry
has no referrers API by adding them to the referrers tag index (entries already there kept). A sigward configured
with that registry and the signing key then verifies the image as it did where it was saved.

The layout is checked first, whole: a missing file, or one that does not match its digest, refuses it and nothing
is pushed. Blobs the repository has already are not sent again.

options:
  --dir DIR       the layout
  --config FILE   a sigward config: registries under its upstreams are reached as configured there; others with
                  docker's config.json credentials, over https (plain http on loopback)

Prints each pushed tag (REGISTRY/REPOSITORY:TAG@DIGEST) on stdout. Exits 0 when all of it is in the registry, 2 when
the command cannot work as given or the layout is refused (nothing pushed), 1 when the registry side failed.`;

const HINT = '`sigward load --help` shows the usage';

export async function loadCommand(argv: readonly string[], io: Io): Promise<number> {
  return exitOnBadInput('load', io, async () => {
    const flags = parseFlags(argv, { dir: 'string', config: 'string', help: 'boolean' }, HINT);
    if (flags.help) {
      io.out(LOAD_USAGE);
      return EXIT_OK;
    }
    if (typeof flags.dir !== 'string' || flags.dir === '') throw bad('--dir DIR is required');
    if (flags._.length !== 1) {
      throw bad(flags._.length === 0 ? 'REGISTRY/REPOSITORY is required' : 'give exactly one REGISTRY/REPOSITORY');
    }
    const target = parseRepositoryArg(flags._[0] as string, 'target');
    const loaded = typeof flags.config === 'string' ? loadConfig(flags.config, io.env) : undefined;
    const dir = flags.dir;
    const layout = await readLayout(dir);
    const tags = layout.entries.flatMap((e) => {
      const name = e.annotations[ANNOTATION_REF_NAME];
      if (name === undefined) return [];
      try {
        parseTag(name);
      } catch {
        throw bad(`layout ${dir}: index.json names ${e.digest} '${name}', which is not a tag`);
      }
      return [{ tag: name, entry: e }];
    });
    const bytesOf = new Map(layout.manifests.map((m) => [m.digest, m]));
    const registries = new Registries({ loaded, env: io.env, warn: (l) => io.err(`sigward load: ${l}`) });
    const where = `${target.host}/${target.repository}`;
    try {
      const reg = registries.get(target.host);
      const total = layout.blobs.reduce((n, b) => n + b.size, 0);
      const progress = new Progress(total, (l) => io.err(`sigward load: ${l}`));
      let sent = 0;
      for (const b of layout.blobs) {
        const outcome = await reg.writer.pushBlob(target.repository, {
          digest: b.digest,
          size: b.size,
          body: () => createReadStream(b.file),
        });
        if (outcome === 'uploaded') sent++;
        progress.add(b.size);
      }
      for (const m of layout.manifests) await reg.writer.putManifest(target.repository, m.digest, m.bytes, m.mediaType);
      // Images first, the referrers tag indexes last: each tag appears only once what it points to is there.
      const order = (kind: string | undefined): number => (kind === 'image' ? 0 : kind === 'referrers-index' ? 2 : 1);
      tags.sort((a, b) => order(a.entry.annotations[ANNOTATION_KIND]) - order(b.entry.annotations[ANNOTATION_KIND]));
      for (const { tag, entry } of tags) {
        const m = bytesOf.get(entry.digest);
        if (m === undefined) continue;
        await reg.writer.putManifest(target.repository, tag, m.bytes, m.mediaType);
        io.out(`${where}:${tag}@${m.digest}`);
      }
      let indexed = 0;
      for (const e of layout.entries) {
        const subject = e.annotations[ANNOTATION_SUBJECT];
        if (e.annotations[ANNOTATION_KIND] !== 'referrer' || subject === undefined || !isDigest(subject)) continue;
        const m = bytesOf.get(e.digest);
        if (m === undefined) continue;
        // As ggcr lists a referrer: its artifactType, else its config's media type.
        const parsed = parseManifest(m.bytes, m.mediaType);
        const artifactType = e.artifactType ?? parsed.artifactType ?? parsed.config?.mediaType;
        const how = await addReferrer(reg, target.repository, subject, {
          mediaType: e.mediaType,
          size: e.size,
          digest: e.digest,
          ...(artifactType === undefined ? {} : { artifactType }),
        });
        if (how === 'added') indexed++;
      }
      io.err(
        `sigward load: ${dir} loaded into ${where}: ${layout.manifests.length} manifests, ` +
          `${layout.blobs.length} blobs (${sent} sent, ${showBytes(total)} in all), ${tags.length} tags` +
          (indexed > 0 ? `, ${indexed} referrer(s) added to the referrers tag index` : ''),
      );
    } catch (e) {
      throw forCommandLine(e);
    } finally {
      await registries.close();
    }
    return EXIT_OK;
  });
}

function bad(message: string): SigwardError {
  return new SigwardError('CONFIG_INVALID', `${message}; ${HINT}`);
}
