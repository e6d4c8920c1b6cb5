// A Sigstore bundle over an artifact that is not an image (a file), checked offline as `cosign verify-blob --bundle`
// and `verify-blob-attestation` check it: a message signature (cosign sign-blob) is over the artifact's own bytes,
// and the digest it states must be the artifact's; a DSSE statement (an attestation) must name the artifact's digest
// as a subject, and is checked by the daemon's own bundle path (bundle.ts) with any predicate unless one is asked
// for. Keys, certificates, SCTs, transparency-log entries (SET, inclusion proof, body binding) and timestamps are
// checked by the same code as an image's signatures, against the trust given in the context.
import { createHash } from 'node:crypto';
import { digestAlgorithm, digestHex } from '../oci/digest.ts';
import { bundleSigners, parseBundle, unevaluated, verifyBundle } from './bundle.ts';
import { rejected } from './outcome.ts';
import type { SignatureCheck, UntrustedBundle, VerifyContext } from './types.ts';

export interface ArtifactContext extends VerifyContext {
  /** The artifact's bytes; needed for a message signature (it is over them). `digest` is their digest then. */
  readonly artifact?: Uint8Array;
  /** A DSSE statement's required predicate type; absent: any. */
  readonly predicateType?: string;
}

/** The protobuf HashAlgorithm names a message digest may state, as node names the hash. */
const HASHES: Readonly<Record<string, string>> = {
  SHA2_256: 'sha256',
  SHA2_384: 'sha384',
  SHA2_512: 'sha512',
  HASH_ALGORITHM_UNSPECIFIED: 'sha256',
};

export function verifyArtifactBundle(sig: UntrustedBundle, ctx: ArtifactContext): SignatureCheck {
  const parsed = parseBundle(sig.bundle);
  if (!parsed.ok) return rejected(sig, 'unsupported' in parsed ? 'unsupported' : 'malformed', parsed.problem);
  const b = parsed.value;
  if (b.content.kind === 'dsse') return verifyBundle(sig, ctx, ctx.predicateType ?? null);
  const notEvaluated = unevaluated(b);
  const reject = (reason: Parameters<typeof rejected>[1], message: string): SignatureCheck =>
    rejected(sig, reason, message, notEvaluated);
  const artifact = ctx.artifact;
  if (artifact === undefined) {
    return reject(
      'unsupported',
      'the bundle carries a message signature, which is over the artifact’s bytes: it is checked against the artifact, not a digest alone',
    );
  }
  const alg = digestAlgorithm(ctx.digest);
  const own = createHash(alg).update(artifact).digest('hex');
  if (own !== digestHex(ctx.digest))
    return reject('digest-mismatch', `the artifact is ${alg}:${own}, not ${ctx.digest}`);
  const stated = b.content.messageDigest;
  if (stated !== undefined) {
    const hash = HASHES[stated.algorithm];
    if (hash === undefined) return reject('malformed', `messageDigest algorithm ${stated.algorithm} is not supported`);
    const actual = createHash(hash).update(artifact).digest();
    if (!actual.equals(Buffer.from(stated.digest))) {
      return reject(
        'digest-mismatch',
        `signed for an artifact whose ${hash} is ${Buffer.from(stated.digest).toString('hex')}, but this artifact's is ${actual.toString('hex')}`,
      );
    }
  }
  const signed = bundleSigners(sig, b, ctx, notEvaluated, Buffer.from(artifact));
  if (!signed.ok) return reject(signed.reason, signed.message);
  const check: SignatureCheck = {
    format: 'bundle',
    source: sig.source,
    verified: true,
    signers: signed.signers,
    ...(signed.signer !== undefined ? { certificateSigner: signed.signer } : {}),
  };
  return notEvaluated.length > 0 ? { ...check, notEvaluated } : check;
}
