// The simple-signing payload of a legacy cosign signature (sigstore/sigstore pkg/signature/payload/payload.go).
// Parsed strictly, like containers/image signature/internal/sigstore_payload.go: exact
// lowercase member names, no duplicates, no unknown members in `critical`, `identity` or `image`, and
// `critical.type` must be the cosign constant. cosign itself is laxer (Go's case-insensitive matching, last
// duplicate wins), but it only ever emits this exact shape, so no genuine cosign signature is refused.
import { isDigest, type Digest } from '../oci/digest.ts';
import { parseStrictJson } from '../oci/json-strict.ts';
import { isObject, jsonType, ok, problem, unknownField, type Parsed } from './outcome.ts';
import { clip } from '../util/clip.ts';

export const COSIGN_SIGNATURE_TYPE = 'cosign container image signature';

export interface SimpleSigningPayload {
  readonly dockerReference: string;
  readonly manifestDigest: Digest;
  /** `optional`, or an empty object when it was null/absent. Values are whatever JSON the signer put there. */
  readonly optional: Readonly<Record<string, unknown>>;
}

/** Strictly parse payload bytes. Problems read as "payload <problem>". */
export function parseSimpleSigning(bytes: Uint8Array): Parsed<SimpleSigningPayload> {
  const json = parseStrictJson(bytes);
  if (!json.ok) return problem(json.problem);
  const top = json.value;
  if (!isObject(top)) return problem(`is a JSON ${jsonType(top)}, expected an object`);
  const extra = unknownField(top, ['critical', 'optional']);
  if (extra !== undefined) return problem(`has unknown member ${JSON.stringify(extra)} (allowed: critical, optional)`);

  const critical = member(top, 'critical', '');
  if (!critical.ok) return critical;
  const c = critical.value;
  const extraC = unknownField(c, ['identity', 'image', 'type']);
  if (extraC !== undefined) return problem(`has unknown member critical.${JSON.stringify(extraC)}`);
  if (c['type'] !== COSIGN_SIGNATURE_TYPE) {
    return problem(`critical.type is ${describeValue(c['type'])}, expected ${JSON.stringify(COSIGN_SIGNATURE_TYPE)}`);
  }

  const identity = member(c, 'identity', 'critical.');
  if (!identity.ok) return identity;
  const extraI = unknownField(identity.value, ['docker-reference']);
  if (extraI !== undefined) return problem(`has unknown member critical.identity.${JSON.stringify(extraI)}`);
  const ref = identity.value['docker-reference'];
  if (typeof ref !== 'string')
    return problem(`critical.identity.docker-reference is ${describeValue(ref)}, expected a string`);

  const image = member(c, 'image', 'critical.');
  if (!image.ok) return image;
  const extraM = unknownField(image.value, ['docker-manifest-digest']);
  if (extraM !== undefined) return problem(`has unknown member critical.image.${JSON.stringify(extraM)}`);
  const digest = image.value['docker-manifest-digest'];
  if (typeof digest !== 'string' || !isDigest(digest)) {
    return problem(
      `critical.image.docker-manifest-digest is ${describeValue(digest)}, expected sha256:<64 hex> or sha512:<128 hex>`,
    );
  }

  const optional = top['optional'];
  if (optional !== undefined && optional !== null && !isObject(optional)) {
    return problem(`optional is a JSON ${jsonType(optional)}, expected an object or null`);
  }
  return ok({ dockerReference: ref, manifestDigest: digest, optional: optional ?? {} });
}

function member(obj: Record<string, unknown>, key: string, path: string): Parsed<Record<string, unknown>> {
  const v = obj[key];
  if (v === undefined) return problem(`lacks ${path}${key}`);
  if (!isObject(v)) return problem(`${path}${key} is a JSON ${jsonType(v)}, expected an object`);
  return ok(v);
}

/** A short, safe rendering of an untrusted value for messages. */
export function describeValue(v: unknown): string {
  if (v === undefined) return 'missing';
  if (typeof v === 'string') {
    const shown = clip(v, 81, { ascii: false });
    return JSON.stringify(shown);
  }
  return `a JSON ${jsonType(v)}`;
}
