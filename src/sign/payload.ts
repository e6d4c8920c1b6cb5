// The simple-signing payload bytes cosign signs for a legacy `.sig` layer (sigstore/sigstore
// pkg/signature/payload/payload.go, marshalled by Go's json.Marshal):
// {"critical":{"identity":{"docker-reference":R},"image":{"docker-manifest-digest":D},"type":T},"optional":O}
// compact, no trailing newline, `optional` null without `-a` annotations or a map with sorted keys.
import { COSIGN_SIGNATURE_TYPE } from '../verify/simple-signing.ts';
import { goMap, goNull, goScalar, goString, goStruct, utf8 } from './go-json.ts';

export type OptionalValue = string | number | boolean | null;

export interface SimpleSigningInput {
  /** `critical.identity.docker-reference`: cosign writes the repository without tag (e.g. `index.docker.io/library/x`). */
  readonly dockerReference: string;
  /** `critical.image.docker-manifest-digest`, e.g. `sha256:<hex>`. Written as given (tests may need wrong ones). */
  readonly digest: string;
  /** `optional`: null/absent -> `null` (cosign without `-a`); an object -> a Go map with sorted keys. cosign only
   * writes string values; numbers (integers) and booleans are accepted for other producers (skopeo). */
  readonly optional?: Readonly<Record<string, OptionalValue>> | null;
  /** Override `critical.type` (only to build invalid payloads in tests). */
  readonly type?: string;
}

export function simpleSigningPayload(input: SimpleSigningInput): Uint8Array {
  const optional =
    input.optional === undefined || input.optional === null
      ? goNull
      : goMap(Object.entries(input.optional).map(([k, v]) => [k, goScalar(v)] as const));
  return utf8(
    goStruct([
      [
        'critical',
        goStruct([
          ['identity', goStruct([['docker-reference', goString(input.dockerReference)]])],
          ['image', goStruct([['docker-manifest-digest', goString(input.digest)]])],
          ['type', goString(input.type ?? COSIGN_SIGNATURE_TYPE)],
        ]),
      ],
      ['optional', optional],
    ]),
  );
}
