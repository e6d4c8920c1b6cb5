// The parsed form of a fetched manifest, computed once per fetched object: a revalidated tag and a cached digest hand
// back the same object, and the gate, the blob filter and sget all read the same parse. A refusal (MANIFEST_INVALID:
// bytes Go's decoder could read differently) is remembered too, and thrown again.
import { isSigwardError, SigwardError } from '../errors.ts';
import { parseManifest, type ParsedManifest } from '../oci/manifest.ts';
import type { FetchedManifest } from './types.ts';

const parsedOf = new WeakMap<FetchedManifest, ParsedManifest | SigwardError>();

export function parsedManifest(m: FetchedManifest): ParsedManifest {
  let p = parsedOf.get(m);
  if (p === undefined) {
    try {
      p = parseManifest(m.bytes, m.mediaType);
    } catch (e) {
      if (!isSigwardError(e)) throw e;
      p = e;
    }
    parsedOf.set(m, p);
  }
  if (p instanceof SigwardError) throw p;
  return p;
}
