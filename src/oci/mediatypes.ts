// Media types sigward handles. Sources: OCI image-spec media-types.md, distribution manifest docs, cosign (see
// cosign's pkg/oci and pkg/cosign/bundle constants).

export const MT = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerV1: 'application/vnd.docker.distribution.manifest.v1+json',
  dockerV1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
  cosignSimpleSigning: 'application/vnd.dev.cosign.simplesigning.v1+json',
  sigstoreBundlePrefix: 'application/vnd.dev.sigstore.bundle',
  sigstoreBundleV03: 'application/vnd.dev.sigstore.bundle.v0.3+json',
  dsseEnvelope: 'application/vnd.dsse.envelope.v1+json',
} as const;

/** Every manifest type sigward will fetch and serve. Sent upstream as the Accept set (distribution 2.8 negotiates
 * on Accept even for digest requests, so a narrower Accept makes it answer 404). */
export const MANIFEST_TYPES: readonly string[] = [
  MT.ociManifest,
  MT.ociIndex,
  MT.dockerManifest,
  MT.dockerList,
  MT.dockerV1Signed,
  MT.dockerV1,
];

export const INDEX_TYPES: readonly string[] = [MT.ociIndex, MT.dockerList];

export function isIndexType(mediaType: string | undefined): boolean {
  return mediaType !== undefined && INDEX_TYPES.includes(mediaType);
}

/** Strip parameters and case from a Content-Type value: `Application/JSON; charset=utf-8` -> `application/json`. */
export function baseMediaType(contentType: string | undefined | null): string | undefined {
  if (!contentType) return undefined;
  const t = contentType.split(';')[0]?.trim().toLowerCase();
  return t === '' ? undefined : t;
}

/** Parse an Accept header as a SET of media types (docker sends them in random order), ignoring q-values of 0. */
export function parseAccept(headers: readonly string[] | string | undefined | null): Set<string> {
  const out = new Set<string>();
  const values = headers == null ? [] : typeof headers === 'string' ? [headers] : headers;
  for (const value of values) {
    for (const part of value.split(',')) {
      const [type, ...params] = part.split(';');
      const t = type?.trim().toLowerCase();
      if (!t) continue;
      const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
      if (q !== undefined && Number(q.slice(2)) === 0) continue;
      out.add(t);
    }
  }
  return out;
}

const ACCEPT_MEMO_ENTRIES = 256;
const acceptMemo = new Map<string, ReadonlySet<string>>();

/** parseAccept for a request's Accept header, remembered: a client sends the same header on every request, and
 * the same set object lets the upstream client reuse what it derived from it. Bounded: emptied when full. */
export function acceptOf(header: readonly string[] | string | undefined): ReadonlySet<string> {
  if (typeof header !== 'string') return parseAccept(header);
  let set = acceptMemo.get(header);
  if (set === undefined) {
    if (acceptMemo.size >= ACCEPT_MEMO_ENTRIES) acceptMemo.clear();
    set = parseAccept(header);
    acceptMemo.set(header, set);
  }
  return set;
}
