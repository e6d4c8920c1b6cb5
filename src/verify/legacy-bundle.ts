// A legacy `.sig` layer in bundle form, so ONE audited path (@sigstore/verify) checks its certificate, Rekor entry
// and timestamp, as it checks a v3 bundle's. The annotations map onto a message-signature bundle:
//   dev.cosignproject.cosign/signature   -> messageSignature.signature (over the exact layer bytes)
//   dev.sigstore.cosign/certificate      -> verificationMaterial.x509CertificateChain.certificates[0]
//   dev.sigstore.cosign/bundle           -> one tlog entry with its SET as the inclusion promise (cosign
//                                           pkg/cosign/bundle/rekor.go: {"SignedEntryTimestamp","Payload":{body,
//                                           integratedTime,logIndex,logID}})
//   dev.sigstore.cosign/rfc3161timestamp -> timestampVerificationData ({"SignedRFC3161Timestamp": b64})
// The `chain` annotation is NOT trust material: with a trust root the root's own CA chains are used, as cosign does;
// private CAs may take intermediates from it (see keyless.ts).
import { createHash } from 'node:crypto';
import type { Bundle, TransparencyLogEntry } from '@sigstore/bundle';
import { HashAlgorithm } from '@sigstore/protobuf-specs';
import { parseStrictJson } from '../oci/json-strict.ts';
import { isObject, ok, problem, unknownField, type Parsed } from './outcome.ts';
import { decodeStdBase64 } from './signature-bytes.ts';

const BUNDLE_V01 = 'application/vnd.dev.sigstore.bundle+json;version=0.1';
const PEM_CERT_RE = /^\s*-----BEGIN CERTIFICATE-----\r?\n([A-Za-z0-9+/=\r\n]+?)\r?\n?-----END CERTIFICATE-----\s*$/;
const PEM_BLOCK_RE = /-----BEGIN CERTIFICATE-----\r?\n([A-Za-z0-9+/=\r\n]+?)\r?\n?-----END CERTIFICATE-----/g;

export interface LegacyMaterial {
  /** Exactly one PEM certificate (the leaf), when the layer has one. */
  readonly certificate?: string;
  /** The rekor bundle annotation text. */
  readonly rekorBundle?: string;
  /** The RFC 3161 annotation text. */
  readonly rfc3161?: string;
}

/** The layer as a message-signature bundle. `key` says how the signer is named: by a certificate (its DER) or by a
 * public-key hint (a trusted key's name, for key signatures that must be logged). */
export function legacyAsBundle(
  payload: Uint8Array,
  signature: Uint8Array,
  material: LegacyMaterial,
  key: { readonly certificate: Uint8Array } | { readonly hint: string },
): Parsed<Bundle> {
  const tlogEntries: TransparencyLogEntry[] = [];
  if (material.rekorBundle !== undefined) {
    const entry = rekorEntry(material.rekorBundle);
    if (!entry.ok) return entry;
    tlogEntries.push(entry.value);
  }
  let rfc3161Timestamps: { signedTimestamp: Buffer }[] = [];
  if (material.rfc3161 !== undefined) {
    const ts = timestamp(material.rfc3161);
    if (!ts.ok) return ts;
    rfc3161Timestamps = [{ signedTimestamp: ts.value }];
  }
  const content: Bundle['verificationMaterial']['content'] =
    'certificate' in key
      ? {
          $case: 'x509CertificateChain',
          x509CertificateChain: { certificates: [{ rawBytes: Buffer.from(key.certificate) }] },
        }
      : { $case: 'publicKey', publicKey: { hint: key.hint } };
  return ok({
    mediaType: BUNDLE_V01,
    verificationMaterial: {
      content,
      tlogEntries,
      timestampVerificationData: rfc3161Timestamps.length > 0 ? { rfc3161Timestamps } : undefined,
    },
    content: {
      $case: 'messageSignature',
      messageSignature: {
        messageDigest: { algorithm: HashAlgorithm.SHA2_256, digest: createHash('sha256').update(payload).digest() },
        signature: Buffer.from(signature),
      },
    },
  });
}

/** The DER of the single certificate in a `dev.sigstore.cosign/certificate` annotation. */
export function leafCertificate(pem: string): Parsed<Uint8Array> {
  const m = PEM_CERT_RE.exec(pem);
  if (m === null) return problem('the certificate annotation is not exactly one PEM CERTIFICATE block');
  const der = decodeStdBase64(m[1] ?? '');
  if (!der.ok || der.value.length === 0) return problem('the certificate annotation has a malformed PEM body');
  return ok(der.value);
}

/** The DER of every certificate in a `dev.sigstore.cosign/chain` annotation (intermediates, then root). */
export function chainCertificates(pem: string): Parsed<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for (const m of pem.matchAll(PEM_BLOCK_RE)) {
    const der = decodeStdBase64(m[1] ?? '');
    if (!der.ok || der.value.length === 0) return problem('the chain annotation has a malformed PEM body');
    out.push(der.value);
  }
  const blocks = pem.match(/-----BEGIN /g)?.length ?? 0;
  if (blocks !== out.length) return problem('the chain annotation holds something other than PEM certificates');
  return ok(out);
}

function rekorEntry(text: string): Parsed<TransparencyLogEntry> {
  const json = parseStrictJson(text);
  if (!json.ok) return problem(`the Rekor bundle annotation ${json.problem}`);
  const b = json.value;
  if (!isObject(b) || unknownField(b, ['SignedEntryTimestamp', 'Payload']) !== undefined || !isObject(b['Payload'])) {
    return problem('the Rekor bundle annotation is not {"SignedEntryTimestamp": …, "Payload": {…}}');
  }
  const p = b['Payload'];
  if (unknownField(p, ['body', 'integratedTime', 'logIndex', 'logID']) !== undefined) {
    return problem('the Rekor bundle Payload has members other than body, integratedTime, logIndex, logID');
  }
  const set = typeof b['SignedEntryTimestamp'] === 'string' ? decodeStdBase64(b['SignedEntryTimestamp']) : undefined;
  const body = typeof p['body'] === 'string' ? decodeStdBase64(p['body']) : undefined;
  const time = p['integratedTime'];
  const index = p['logIndex'];
  const logId = p['logID'];
  if (set === undefined || !set.ok || set.value.length === 0)
    return problem('the Rekor bundle has no valid SignedEntryTimestamp');
  if (body === undefined || !body.ok) return problem('the Rekor bundle Payload.body is not base64');
  if (!Number.isSafeInteger(time) || (time as number) <= 0)
    return problem('the Rekor bundle integratedTime is not a positive integer');
  if (!Number.isSafeInteger(index) || (index as number) < 0)
    return problem('the Rekor bundle logIndex is not a non-negative integer');
  if (typeof logId !== 'string' || !/^[0-9a-f]{64}$/.test(logId))
    return problem('the Rekor bundle logID is not 64 lowercase hex digits');
  const kind = bodyKind(body.value);
  if (!kind.ok) return kind;
  return ok({
    logIndex: String(index),
    logId: { keyId: Buffer.from(logId, 'hex') },
    kindVersion: kind.value,
    integratedTime: String(time),
    inclusionPromise: { signedEntryTimestamp: set.value },
    inclusionProof: undefined,
    canonicalizedBody: body.value,
  });
}

function bodyKind(body: Uint8Array): Parsed<{ kind: string; version: string }> {
  const json = parseStrictJson(body);
  if (!json.ok) return problem(`the Rekor entry body ${json.problem}`);
  const b = json.value;
  if (!isObject(b) || typeof b['kind'] !== 'string' || typeof b['apiVersion'] !== 'string') {
    return problem('the Rekor entry body has no kind and apiVersion');
  }
  return ok({ kind: b['kind'], version: b['apiVersion'] });
}

function timestamp(text: string): Parsed<Buffer> {
  const json = parseStrictJson(text);
  if (!json.ok) return problem(`the RFC 3161 timestamp annotation ${json.problem}`);
  const t = json.value;
  if (!isObject(t) || unknownField(t, ['SignedRFC3161Timestamp']) !== undefined) {
    return problem('the RFC 3161 timestamp annotation is not {"SignedRFC3161Timestamp": …}');
  }
  const der =
    typeof t['SignedRFC3161Timestamp'] === 'string' ? decodeStdBase64(t['SignedRFC3161Timestamp']) : undefined;
  if (der === undefined || !der.ok || der.value.length === 0) return problem('the RFC 3161 timestamp is not base64');
  return ok(der.value);
}
