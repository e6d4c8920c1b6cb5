// The bytes of a legacy cosign signature layer, rebuilt without asking the upstream for them.
//
// A `.sig` layer's bytes are cosign's simple-signing payload: a few hundred bytes of JSON whose only part that changes
// from one signature of a repository to the next is, nearly always, the signed manifest digest. The layer's
// descriptor (read from the `.sig` manifest) names the sha256 digest and size of those bytes. If a known shape, with
// this digest filled in, has that size and hashes to that digest, it *is* the layer (a sha256 preimage): the
// signature is verified over exactly the bytes the upstream would have sent, and the third round trip of a cold pull
// (the layer GET) is not made. When no shape fits, the layer is fetched as before; nothing is ever trusted because of
// its shape, only because of its digest.
//
// Shapes come from two places: cosign's own payload for the repository's name (what `cosign sign` writes with no
// annotations), and the payloads this process has already fetched from the repository (learned: e.g. annotations
// added at signing time, or a registry renamed since). Bounded: at most SHAPES_PER_REPOSITORY per repository and
// `repositories` repositories (least recently used go first); payloads over MAX_SHAPE_BYTES are not learned: at
// most ~2 MiB whatever upstreams serve.
import { LRUCache } from 'lru-cache';
import { matchesDigest, type Digest } from '../oci/digest.ts';
import type { Descriptor } from '../oci/manifest.ts';
import { MT } from '../oci/mediatypes.ts';

/** A payload with the signed digest cut out: prefix + digest + suffix. */
interface Shape {
  readonly prefix: Buffer;
  readonly suffix: Buffer;
}

const SHAPES_PER_REPOSITORY = 2;
const MAX_SHAPE_BYTES = 1024;
const DEFAULT_REPOSITORIES = 1024;

/** What `cosign sign` writes for `reference` (Go's json.Marshal of its payload, `optional` unset). */
export function cosignPayloadShape(reference: string): { prefix: string; suffix: string } {
  return {
    prefix: `{"critical":{"identity":{"docker-reference":${JSON.stringify(reference)}},"image":{"docker-manifest-digest":"`,
    suffix: `"},"type":"cosign container image signature"},"optional":null}`,
  };
}

export class PayloadShapes {
  private readonly learned: LRUCache<string, Shape[]>;

  constructor(repositories = DEFAULT_REPOSITORIES) {
    this.learned = new LRUCache({ max: repositories });
  }

  /**
   * The bytes of `layer`, the legacy signature layer of `digest` at `repository` (`host/path`), when a known shape
   * hashes to its digest; undefined when none does (then fetch it).
   */
  rebuild(repository: string, layer: Descriptor, digest: Digest): Uint8Array | undefined {
    if (layer.mediaType !== MT.cosignSimpleSigning || layer.size > MAX_SHAPE_BYTES) return undefined;
    const d = Buffer.from(digest, 'latin1');
    const tryShape = (s: Shape): Uint8Array | undefined => {
      if (s.prefix.length + d.length + s.suffix.length !== layer.size) return undefined;
      const bytes = Buffer.concat([s.prefix, d, s.suffix]);
      return matchesDigest(bytes, layer.digest) ? bytes : undefined;
    };
    for (const s of this.learned.get(repository) ?? []) {
      const hit = tryShape(s);
      if (hit) return hit;
    }
    for (const reference of referenceNames(repository)) {
      const s = cosignPayloadShape(reference);
      const hit = tryShape({ prefix: Buffer.from(s.prefix), suffix: Buffer.from(s.suffix) });
      if (hit) return hit;
    }
    return undefined;
  }

  /** Remember the shape of a payload fetched (and digest-checked) for a signature of `digest` at `repository`. */
  learn(repository: string, payload: Uint8Array, digest: Digest): void {
    if (payload.length > MAX_SHAPE_BYTES) return;
    const buf = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
    const at = buf.indexOf(digest, 0, 'latin1');
    // The digest must occur exactly once: otherwise the shape is ambiguous and not worth keeping.
    if (at < 0 || buf.indexOf(digest, at + 1, 'latin1') >= 0) return;
    const shape: Shape = {
      prefix: Buffer.from(buf.subarray(0, at)),
      suffix: Buffer.from(buf.subarray(at + digest.length)),
    };
    const known = this.learned.get(repository) ?? [];
    if (known.some((s) => s.prefix.equals(shape.prefix) && s.suffix.equals(shape.suffix))) return;
    this.learned.set(repository, [shape, ...known].slice(0, SHAPES_PER_REPOSITORY));
  }
}

/** The names cosign may have signed a repository under: as configured, and Docker Hub's `index.docker.io` spelling. */
function referenceNames(repository: string): string[] {
  if (repository.startsWith('docker.io/')) return [repository, `index.${repository}`];
  return [repository];
}
