// One layer of a legacy `sha256-<hex>.sig` image, checked with keys (cosign
// pkg/cosign/verify.go verifyOCISignature + SimpleClaimVerifier). Order, after containers/image: media type,
// signature decoding, crypto over the EXACT layer bytes, only then strict payload parsing, then the digest claim.
// Nothing in the payload is looked at before a trusted key has verified it.
import { X509Certificate } from 'node:crypto';
import { clip } from '../util/clip.ts';
import { isDigest, matchesDigest, type Digest } from '../oci/digest.ts';
import { MT } from '../oci/mediatypes.ts';
import { drop, rejected } from './outcome.ts';
import { decodeStdBase64, keysThatVerify } from './signature-bytes.ts';
import { parseSimpleSigning } from './simple-signing.ts';
import { certificateSigners, loggedKeySignature, type Failure } from './keyless.ts';
import { chainCertificates, leafCertificate, legacyAsBundle } from './legacy-bundle.ts';
import type {
  SignatureCheck,
  TrustedKey,
  UnevaluatedMaterial,
  UntrustedLegacySignature,
  VerifyContext,
} from './types.ts';

/** Layer annotation keys cosign writes (pkg/oci/static/signature.go). */
export const ANNOTATION = {
  signature: 'dev.cosignproject.cosign/signature',
  certificate: 'dev.sigstore.cosign/certificate',
  chain: 'dev.sigstore.cosign/chain',
  bundle: 'dev.sigstore.cosign/bundle',
  rfc3161: 'dev.sigstore.cosign/rfc3161timestamp',
} as const;

export function verifyLegacySignature(sig: UntrustedLegacySignature, ctx: VerifyContext): SignatureCheck {
  // Certificate / Rekor / TSA material not checked by this policy is reported as not evaluated, never as checked.
  const notEvaluated = unevaluated(sig.annotations);
  const reject = (reason: Parameters<typeof rejected>[1], message: string): SignatureCheck =>
    rejected(sig, reason, message, notEvaluated);

  if (sig.layerMediaType !== MT.cosignSimpleSigning) {
    return reject(
      'malformed',
      `layer media type is "${clip(sig.layerMediaType)}", expected "${MT.cosignSimpleSigning}" (not a cosign signature layer)`,
    );
  }
  if (!isDigest(sig.layerDigest) || !matchesDigest(sig.payload, sig.layerDigest)) {
    return reject('malformed', `layer bytes do not match the layer digest "${clip(sig.layerDigest)}"`);
  }
  const b64 = sig.annotations[ANNOTATION.signature];
  if (b64 === undefined) return reject('malformed', `layer has no "${ANNOTATION.signature}" annotation`);
  if (b64 === '') {
    return reject(
      'malformed',
      `the "${ANNOTATION.signature}" annotation is empty (an attestation layer, not a signature)`,
    );
  }
  const signature = decodeStdBase64(b64);
  if (!signature.ok) return reject('malformed', `the "${ANNOTATION.signature}" annotation ${signature.problem}`);

  const signed = legacySigners(sig, signature.value, ctx, notEvaluated);
  if (!signed.ok) return reject(signed.reason, signed.message);
  const signers = signed.signers;

  const payload = parseSimpleSigning(sig.payload);
  if (!payload.ok) return reject('payload-invalid', `signed payload ${payload.problem}`);
  if (payload.value.manifestDigest !== ctx.digest) {
    return reject('digest-mismatch', mismatch(payload.value.manifestDigest, ctx.digest));
  }
  const check: SignatureCheck = {
    format: 'legacy',
    source: sig.source,
    verified: true,
    signers,
    ...(signed.signer !== undefined ? { certificateSigner: signed.signer } : {}),
    annotations: payload.value.optional,
    dockerReference: payload.value.dockerReference,
  };
  return notEvaluated.length > 0 ? { ...check, notEvaluated } : check;
}

export function noKeyMessage(keys: readonly TrustedKey[]): string {
  if (keys.length === 0) return 'no trusted keys apply to this image, so no signature can verify';
  const names = keys.map((k) => `"${k.name}"`).join(', ');
  return `signed by a key that is not trusted here: none of ${names} verifies it`;
}

export function mismatch(signed: string, served: Digest): string {
  return `signed for manifest ${clip(signed)}, but the manifest being served is ${served} (a signature copied from another image)`;
}

type Signed = { readonly ok: true; readonly signers: string[]; readonly signer?: string } | Failure;

/** Who signed: trusted keys first (then, with `keyTlog`, the key signature's log entry), else the policy's
 * certificate identities. `notEvaluated` loses what was checked here. */
function legacySigners(
  sig: UntrustedLegacySignature,
  signature: Buffer,
  ctx: VerifyContext,
  notEvaluated: UnevaluatedMaterial[],
): Signed {
  const material = {
    ...(sig.annotations[ANNOTATION.bundle] ? { rekorBundle: sig.annotations[ANNOTATION.bundle] } : {}),
    ...(sig.annotations[ANNOTATION.rfc3161] ? { rfc3161: sig.annotations[ANNOTATION.rfc3161] } : {}),
  };
  const byKey = keysThatVerify(ctx.keys, sig.payload, signature);
  if (byKey.length > 0) {
    const root = ctx.keyTlog;
    if (root === undefined) return { ok: true, signers: byKey };
    drop(notEvaluated, 'rekor-bundle');
    const logged: string[] = [];
    let failure: Failure | undefined;
    for (const key of ctx.keys.filter((k) => byKey.includes(k.name))) {
      const b = legacyAsBundle(sig.payload, signature, material, { hint: key.name });
      const why = b.ok
        ? loggedKeySignature(b.value, Buffer.from(sig.payload), key, root)
        : ({ ok: false, reason: 'malformed', message: b.problem } as const);
      if (why === undefined) logged.push(key.name);
      else failure ??= why;
    }
    return logged.length > 0 || failure === undefined ? { ok: true, signers: logged } : failure;
  }
  const pem = sig.annotations[ANNOTATION.certificate];
  if (pem && (ctx.identities ?? []).length > 0) {
    const leaf = leafCertificate(pem);
    if (!leaf.ok) return { ok: false, reason: 'malformed', message: leaf.problem };
    const chainPem = sig.annotations[ANNOTATION.chain];
    const chain = chainPem ? chainCertificates(chainPem) : { ok: true as const, value: [] };
    if (!chain.ok) return { ok: false, reason: 'malformed', message: chain.problem };
    const b = legacyAsBundle(sig.payload, signature, material, { certificate: leaf.value });
    if (!b.ok) return { ok: false, reason: 'malformed', message: b.problem };
    for (const m of ['certificate', 'rekor-bundle', 'rfc3161-timestamp'] as const) drop(notEvaluated, m);
    const r = certificateSigners(b.value, Buffer.from(sig.payload), 'legacy', ctx, chain.value);
    if (!r.ok) return r;
    return r.signer === undefined
      ? { ok: true, signers: [...r.signers] }
      : { ok: true, signers: [...r.signers], signer: r.signer };
  }
  const named = certificateKey(sig.annotations, ctx.keys);
  if (named !== undefined) {
    return {
      ok: false,
      reason: 'bad-signature',
      message: `the signature does not verify with key "${named}", which its certificate names: the payload or signature was altered`,
    };
  }
  const keyless = notEvaluated.includes('certificate')
    ? '; it carries a certificate (a keyless or certificate-based signature), and the policy names no certificate identities to check it against'
    : '';
  return { ok: false, reason: 'unknown-key', message: noKeyMessage(ctx.keys) + keyless };
}

function unevaluated(annotations: Readonly<Record<string, string>>): UnevaluatedMaterial[] {
  const out: UnevaluatedMaterial[] = [];
  // cosign treats an empty value as absent (pkg/oci/internal/signature/layer.go).
  if (annotations[ANNOTATION.certificate]) out.push('certificate');
  if (annotations[ANNOTATION.bundle]) out.push('rekor-bundle');
  if (annotations[ANNOTATION.rfc3161]) out.push('rfc3161-timestamp');
  return out;
}

/** The trusted key whose public key the layer's certificate carries, if any: then a failed check means a broken
 * signature by a known signer (`bad-signature`), not an unknown signer. Only used to pick the reason. */
function certificateKey(
  annotations: Readonly<Record<string, string>>,
  keys: readonly TrustedKey[],
): string | undefined {
  const pem = annotations[ANNOTATION.certificate];
  if (!pem || keys.length === 0) return undefined;
  let spki: Buffer;
  try {
    spki = new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' });
  } catch {
    return undefined;
  }
  return keys.find((k) => spki.equals(k.spkiDer))?.name;
}
