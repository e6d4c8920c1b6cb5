// Referrers of a manifest, read and written as go-containerregistry (so cosign) does (pkg/v1/remote/referrers.go and
// write.go, commitSubjectReferrers; OCI distribution-spec 1.1 "Listing Referrers" and its tag schema): the referrers
// API when the registry answers it with an OCI index, else the index tagged `sha256-<hex>`. A registry with the API
// lists a referrer as soon as it is stored; without it the referrer is added to the tag index (read, merged,
// written back: entries sorted by digest, a digest listed once, entries already there kept as they were).
import { SigwardError, isSigwardError } from '../errors.ts';
import { referrersTag } from '../oci/cosign-tags.ts';
import type { Digest } from '../oci/digest.ts';
import { parseManifest, type Descriptor } from '../oci/manifest.ts';
import { MT, baseMediaType } from '../oci/mediatypes.ts';
import { buildReferrersTagIndex, type IndexEntry } from '../sign/bundle.ts';
import type { FetchedManifest, UpstreamClient } from '../upstream/client.ts';
import type { Registry } from './connect.ts';

export interface ReferrerListing {
  /** Where the list came from: the referrers API, the `sha256-<hex>` tag, or nowhere (no API and no tag). */
  readonly source: 'api' | 'tag' | 'none';
  readonly entries: readonly Descriptor[];
  /** The tag index as stored (source `tag`). */
  readonly index?: FetchedManifest;
}

/** Whether an error says "there is no such manifest or repository" (an absent tag). */
export function isAbsent(e: unknown): boolean {
  return isSigwardError(e, 'MANIFEST_UNKNOWN') || isSigwardError(e, 'NAME_UNKNOWN');
}

/** The referrers of `subject` in `repository`. */
export async function listReferrers(
  reader: UpstreamClient,
  repository: string,
  subject: Digest,
): Promise<ReferrerListing> {
  let api: Awaited<ReturnType<UpstreamClient['getReferrers']>> | undefined;
  try {
    api = await reader.getReferrers(repository, subject);
  } catch (e) {
    // ggcr falls back to the tag on any answer that is not an index (400, 405, 406 …); a refusal of access is real.
    if (!isSigwardError(e, 'UPSTREAM_INVALID')) throw e;
  }
  if (api?.status === 200 && baseMediaType(api.contentType) === MT.ociIndex) {
    return { source: 'api', entries: indexEntries(api.bytes, MT.ociIndex, `${reader.host}/${repository} referrers`) };
  }
  let index: FetchedManifest;
  try {
    index = await reader.getManifest(repository, { kind: 'tag', tag: referrersTag(subject) });
  } catch (e) {
    if (isAbsent(e)) return { source: 'none', entries: [] };
    throw e;
  }
  const where = `${reader.host}/${repository}:${referrersTag(subject)}`;
  return { source: 'tag', entries: indexEntries(index.bytes, index.mediaType, where), index };
}

/** Make `entry` (a referrer of `subject` already stored in `repository`) findable: nothing to do with the referrers
 * API or when the tag index lists it already; else it is added to the tag index. */
export async function addReferrer(
  reg: Registry,
  repository: string,
  subject: Digest,
  entry: IndexEntry,
): Promise<'api' | 'listed' | 'added'> {
  const listing = await listReferrers(reg.reader, repository, subject);
  if (listing.source === 'api') return 'api';
  if (listing.entries.some((e) => e.digest === entry.digest)) return 'listed';
  const { index } = buildReferrersTagIndex([...listing.entries.map(indexEntry), entry]);
  await reg.writer.putManifest(repository, referrersTag(subject), index, MT.ociIndex);
  return 'added';
}

function indexEntry(d: Descriptor): IndexEntry {
  return {
    mediaType: d.mediaType,
    size: d.size,
    digest: d.digest,
    ...(Object.keys(d.annotations).length > 0 ? { annotations: d.annotations } : {}),
    ...(d.artifactType === undefined ? {} : { artifactType: d.artifactType }),
  };
}

function indexEntries(bytes: Uint8Array, mediaType: string, where: string): readonly Descriptor[] {
  const parsed = parseManifest(bytes, mediaType);
  if (parsed.mediaType !== MT.ociIndex || !parsed.isIndex) {
    throw new SigwardError(
      'UPSTREAM_INVALID',
      `${where} is a ${parsed.mediaType}, not an OCI index of referrers; it was left as it is`,
    );
  }
  return parsed.manifests;
}
