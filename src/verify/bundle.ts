// Sigstore bundles found as OCI referrers: what cosign v3 `sign` writes. Parsed from the
// protobuf-JSON form (sigstore/protobuf-specs sigstore_bundle.proto; camelCase names, unknown members refused as
// protojson does for sigstore-go). Key-signed DSSE bundles are checked here with the trusted keys; certificate
// (keyless) bundles go to keyless.ts with the policy's identities, and so do the tlog entries of key-signed ones when
// the policy requires a log (`keyTlog`); tlog or timestamp material nobody checked is reported in `notEvaluated`.
import { clip } from '../util/clip.ts';
import { digestAlgorithm, digestHex } from '../oci/digest.ts';
import { parseStrictJson } from '../oci/json-strict.ts';
import { dssePae, IN_TOTO_PAYLOAD_TYPE, parseDsseEnvelope, type DsseEnvelope } from './dsse.ts';
import { COSIGN_SIGN_PREDICATE, parseInTotoStatement } from './intoto.ts';
import { mismatch, noKeyMessage } from './legacy.ts';
import { drop, isObject, jsonType, ok, problem, rejected, unknownField, type Parsed } from './outcome.ts';
import { decodeStdBase64, keysThatVerify } from './signature-bytes.ts';
import { certificateSigners, loggedKeySignature, type Failure } from './keyless.ts';
import { bundleFromJSON, type Bundle } from '@sigstore/bundle';
import type { SignatureCheck, UnevaluatedMaterial, UntrustedBundle, VerifyContext } from './types.ts';

export type BundleMaterial =
  | { readonly kind: 'publicKey'; readonly hint: string }
  | { readonly kind: 'certificate' }
  | { readonly kind: 'x509CertificateChain' };

export type BundleContent =
  | { readonly kind: 'dsse'; readonly envelope: DsseEnvelope }
  | {
      readonly kind: 'messageSignature';
      /** The signature over the artifact's bytes (cosign sign-blob). */
      readonly signature: Uint8Array;
      /** The artifact's digest as the signer stated it (optional in the protobuf; a hint, never trusted alone). */
      readonly messageDigest?: { readonly algorithm: string; readonly digest: Uint8Array };
    };

export interface ParsedBundle {
  readonly mediaType: string;
  /** `0.1`, `0.2` or `0.3`. */
  readonly version: string;
  readonly material: BundleMaterial;
  readonly content: BundleContent;
  readonly tlogEntries: number;
  readonly rfc3161Timestamps: number;
  /** The bundle's JSON as read here (strictly: no duplicate member), for the sigstore verifier to read in its own
   * way without parsing the bytes a second time. */
  readonly json: unknown;
}

export type BundleParse =
  Parsed<ParsedBundle> | { readonly ok: false; readonly problem: string; readonly unsupported: true };

/** Media types sigstore-go accepts (pkg/bundle/bundle.go getBundleVersion); >= v0.4 is refused there too. */
const MEDIA_TYPE_RE = /^application\/vnd\.dev\.sigstore\.bundle(?:\+json;version=(\d+)\.(\d+)|\.v(\d+)\.(\d+)\+json)$/;

export function parseBundle(bytes: Uint8Array): BundleParse {
  const json = parseStrictJson(bytes);
  if (!json.ok) return problem(`bundle ${json.problem}`);
  const b = json.value;
  if (!isObject(b)) return problem(`bundle is a JSON ${jsonType(b)}, expected an object`);
  const extra = unknownField(b, ['mediaType', 'verificationMaterial', 'dsseEnvelope', 'messageSignature']);
  if (extra !== undefined) return problem(`bundle has unknown member ${JSON.stringify(extra)}`);

  const mediaType = b['mediaType'];
  if (typeof mediaType !== 'string') return problem('bundle has no mediaType');
  const m = MEDIA_TYPE_RE.exec(mediaType);
  const major = Number(m?.[1] ?? m?.[3]);
  const minor = Number(m?.[2] ?? m?.[4]);
  if (m === null) return problem(`bundle media type "${clip(mediaType)}" is not a Sigstore bundle media type`);
  if (major > 0 || minor >= 4) {
    return {
      ok: false,
      unsupported: true,
      problem: `bundle version ${major}.${minor} is newer than this build understands (0.1 to 0.3)`,
    };
  }
  if (minor < 1 || (m[3] !== undefined && minor !== 3))
    return problem(`bundle media type "${clip(mediaType)}" is not one sigstore accepts`);

  const vm = b['verificationMaterial'];
  if (!isObject(vm)) return problem('bundle has no verificationMaterial object');
  const extraVm = unknownField(vm, [
    'publicKey',
    'certificate',
    'x509CertificateChain',
    'tlogEntries',
    'timestampVerificationData',
  ]);
  if (extraVm !== undefined) return problem(`verificationMaterial has unknown member ${JSON.stringify(extraVm)}`);
  const material = parseMaterial(vm);
  if (!material.ok) return material;
  const tlog = vm['tlogEntries'] ?? [];
  if (!Array.isArray(tlog) || !tlog.every(isObject))
    return problem('verificationMaterial.tlogEntries is not an array of objects');
  const tsd = vm['timestampVerificationData'] ?? {};
  const tsList = isObject(tsd) ? (tsd['rfc3161Timestamps'] ?? []) : undefined;
  if (!Array.isArray(tsList)) return problem('verificationMaterial.timestampVerificationData is malformed');

  const hasDsse = b['dsseEnvelope'] !== undefined;
  const hasMessage = b['messageSignature'] !== undefined;
  if (hasDsse === hasMessage) return problem('bundle must carry exactly one of dsseEnvelope or messageSignature');
  let content: BundleContent;
  if (hasDsse) {
    const env = parseDsseEnvelope(b['dsseEnvelope']);
    if (!env.ok) return env;
    content = { kind: 'dsse', envelope: env.value };
  } else {
    const ms = parseMessageSignature(b['messageSignature']);
    if (!ms.ok) return ms;
    content = ms.value;
  }
  return ok({
    mediaType,
    version: `0.${minor}`,
    material: material.value,
    content,
    tlogEntries: tlog.length,
    rfc3161Timestamps: tsList.length,
    json: b,
  });
}

/** `messageSignature` (protobuf-JSON names, unknown members refused, bytes standard base64): `signature` required,
 * `messageDigest` { algorithm, digest } optional as in sigstore_common.proto. */
function parseMessageSignature(v: unknown): Parsed<BundleContent> {
  if (!isObject(v)) return problem('bundle messageSignature is not an object');
  const extra = unknownField(v, ['messageDigest', 'signature']);
  if (extra !== undefined) return problem(`messageSignature has unknown member ${JSON.stringify(extra)}`);
  if (typeof v['signature'] !== 'string') return problem('messageSignature.signature is missing or not a string');
  const sig = decodeStdBase64(v['signature']);
  if (!sig.ok) return problem(`messageSignature.signature ${sig.problem}`);
  if (sig.value.length === 0) return problem('messageSignature.signature is empty');
  const md = v['messageDigest'];
  if (md === undefined) return ok({ kind: 'messageSignature', signature: sig.value });
  if (!isObject(md)) return problem('messageSignature.messageDigest is not an object');
  const extraMd = unknownField(md, ['algorithm', 'digest']);
  if (extraMd !== undefined)
    return problem(`messageSignature.messageDigest has unknown member ${JSON.stringify(extraMd)}`);
  const algorithm = md['algorithm'] ?? 'HASH_ALGORITHM_UNSPECIFIED';
  if (typeof algorithm !== 'string') return problem('messageSignature.messageDigest.algorithm is not a string');
  if (typeof md['digest'] !== 'string')
    return problem('messageSignature.messageDigest.digest is missing or not a string');
  const digest = decodeStdBase64(md['digest']);
  if (!digest.ok) return problem(`messageSignature.messageDigest.digest ${digest.problem}`);
  return ok({ kind: 'messageSignature', signature: sig.value, messageDigest: { algorithm, digest: digest.value } });
}

function parseMaterial(vm: Record<string, unknown>): Parsed<BundleMaterial> {
  const kinds = (['publicKey', 'certificate', 'x509CertificateChain'] as const).filter((k) => vm[k] !== undefined);
  const [kind] = kinds;
  if (kind === undefined || kinds.length > 1) {
    return problem('verificationMaterial must carry exactly one of publicKey, certificate or x509CertificateChain');
  }
  const v = vm[kind];
  if (!isObject(v)) return problem(`verificationMaterial.${kind} is not an object`);
  if (kind !== 'publicKey') return ok({ kind });
  const extra = unknownField(v, ['hint']);
  if (extra !== undefined) return problem(`verificationMaterial.publicKey has unknown member ${JSON.stringify(extra)}`);
  const hint = v['hint'] ?? '';
  if (typeof hint !== 'string') return problem('verificationMaterial.publicKey.hint is not a string');
  return ok({ kind, hint });
}

/** Verify a key-signed DSSE bundle for `ctx.digest`: signature over the PAE, then statement, subject, predicate.
 * Every trusted key is tried whatever `publicKey.hint` says (cosign ignores the hint when given `--key`); the hint
 * only decides whether a failure reads `bad-signature` (it names a trusted key) or `unknown-key`. The statement's
 * predicate must be `predicateType`: an image signature's unless told otherwise (null: any predicate, for
 * `sigward verify-bundle` on an attestation). */
export function verifyBundle(
  sig: UntrustedBundle,
  ctx: VerifyContext,
  predicateType: string | null = COSIGN_SIGN_PREDICATE,
): SignatureCheck {
  const parsed = parseBundle(sig.bundle);
  if (!parsed.ok) return rejected(sig, 'unsupported' in parsed ? 'unsupported' : 'malformed', parsed.problem);
  const b = parsed.value;
  const notEvaluated = unevaluated(b);
  const reject = (reason: Parameters<typeof rejected>[1], message: string): SignatureCheck =>
    rejected(sig, reason, message, notEvaluated);

  if (b.content.kind !== 'dsse') {
    return reject(
      'malformed',
      'bundle carries a messageSignature (a signed blob, e.g. cosign sign-blob), not a DSSE statement about an image: it is not an image signature',
    );
  }
  const env = b.content.envelope;
  if (env.payloadType !== IN_TOTO_PAYLOAD_TYPE) {
    return reject('malformed', `DSSE payloadType is "${clip(env.payloadType)}", expected "${IN_TOTO_PAYLOAD_TYPE}"`);
  }
  if (env.signatures.length !== 1) {
    return reject(
      'malformed',
      `DSSE envelope has ${env.signatures.length} signatures; a Sigstore bundle carries exactly one`,
    );
  }
  const signed = bundleSigners(sig, b, ctx, notEvaluated);
  if (!signed.ok) return reject(signed.reason, signed.message);
  const signers = signed.signers;

  const statement = parseInTotoStatement(env.payload);
  if (!statement.ok) return reject('payload-invalid', `signed in-toto statement ${statement.problem}`);
  const alg = digestAlgorithm(ctx.digest);
  const hex = digestHex(ctx.digest);
  const subject = statement.value.subjects.find((s) => s.digest[alg] === hex);
  if (subject === undefined) {
    const first = statement.value.subjects[0]?.digest[alg];
    return reject(
      'digest-mismatch',
      mismatch(first === undefined ? `no ${alg} subject` : `${alg}:${first}`, ctx.digest),
    );
  }
  if (predicateType !== null && statement.value.predicateType !== predicateType) {
    return reject(
      'wrong-predicate',
      `statement predicateType is "${clip(statement.value.predicateType)}", not "${clip(predicateType)}"` +
        (predicateType === COSIGN_SIGN_PREDICATE
          ? ': an attestation (SBOM, provenance, …) is not an image signature'
          : ''),
    );
  }
  const check: SignatureCheck = {
    format: 'bundle',
    source: sig.source,
    verified: true,
    signers,
    ...(signed.signer !== undefined ? { certificateSigner: signed.signer } : {}),
    annotations: subject.annotations,
  };
  return notEvaluated.length > 0 ? { ...check, notEvaluated } : check;
}

/** Who signed: for a key bundle the trusted keys that verify its signature (then, with `keyTlog`, its log entry);
 * for a certificate bundle the policy identities that accept it. A DSSE signature is over the PAE of its statement;
 * a message signature over `artifact` (the daemon never passes one: it takes DSSE statements only). `notEvaluated`
 * loses what was checked. */
export function bundleSigners(
  sig: UntrustedBundle,
  b: ParsedBundle,
  ctx: VerifyContext,
  notEvaluated: UnevaluatedMaterial[],
  artifact?: Buffer,
): { readonly ok: true; readonly signers: readonly string[]; readonly signer?: string } | Failure {
  if (b.material.kind !== 'publicKey') {
    if ((ctx.identities ?? []).length === 0) return certificateSigners(undefined, undefined, 'bundle', ctx);
    for (const m of ['certificate', 'tlog-entries', 'rfc3161-timestamp'] as const) drop(notEvaluated, m);
    const proto = protoBundle(b.json);
    if (!proto.ok) return { ok: false, reason: 'malformed', message: proto.problem };
    return certificateSigners(proto.value, artifact, 'bundle', ctx);
  }
  const signed = signedBytes(b.content, artifact);
  const byKey = signed === undefined ? [] : keysThatVerify(ctx.keys, signed.message, signed.signature);
  if (byKey.length === 0) {
    // cosign's hint is base64(SHA-256(SPKI DER)) (internal/key/svkeypair.go); it only chooses the reason here.
    const hint = b.material.hint;
    const hinted =
      hint === '' ? undefined : ctx.keys.find((k) => Buffer.from(k.keyId, 'hex').toString('base64') === hint);
    if (hinted !== undefined) {
      return {
        ok: false,
        reason: 'bad-signature',
        message:
          b.content.kind === 'dsse'
            ? `the DSSE signature does not verify with key "${hinted.name}", which the bundle names: the statement or signature was altered`
            : `the signature does not verify over the artifact with key "${hinted.name}", which the bundle names: the artifact or signature was altered`,
      };
    }
    return { ok: false, reason: 'unknown-key', message: noKeyMessage(ctx.keys) };
  }
  const root = ctx.keyTlog;
  if (root === undefined) return { ok: true, signers: byKey };
  drop(notEvaluated, 'tlog-entries');
  const proto = protoBundle(b.json);
  if (!proto.ok) return { ok: false, reason: 'malformed', message: proto.problem };
  const logged: string[] = [];
  let failure: Failure | undefined;
  for (const key of ctx.keys.filter((k) => byKey.includes(k.name))) {
    const why = loggedKeySignature(proto.value, artifact, key, root);
    if (why === undefined) logged.push(key.name);
    else failure ??= why;
  }
  return logged.length > 0 || failure === undefined ? { ok: true, signers: logged } : failure;
}

/** The bytes a bundle's signature is over, and the signature: the DSSE PAE of its statement, or the artifact. */
function signedBytes(
  content: BundleContent,
  artifact: Buffer | undefined,
): { readonly message: Uint8Array; readonly signature: Uint8Array } | undefined {
  if (content.kind === 'messageSignature')
    return artifact === undefined ? undefined : { message: artifact, signature: content.signature };
  const env: DsseEnvelope = content.envelope;
  const [only] = env.signatures;
  return only === undefined ? undefined : { message: dssePae(env.payloadType, env.payload), signature: only.sig };
}

/** The bundle in @sigstore/bundle's form (its own validation), for @sigstore/verify. */
function protoBundle(json: unknown): Parsed<Bundle> {
  try {
    return ok(bundleFromJSON(json));
  } catch (e) {
    return problem(`bundle cannot be read by the sigstore verifier: ${(e as Error).message}`);
  }
}

/** What a bundle carries beyond the signature itself, before any of it is checked. */
export function unevaluated(b: ParsedBundle): UnevaluatedMaterial[] {
  const out: UnevaluatedMaterial[] = [];
  if (b.material.kind !== 'publicKey') out.push('certificate');
  if (b.tlogEntries > 0) out.push('tlog-entries');
  if (b.rfc3161Timestamps > 0) out.push('rfc3161-timestamp');
  return out;
}
