// Message-signature bundles from the test sigstore: what `cosign sign-blob --bundle` writes for a file (bundle v0.3,
// `messageSignature` with the file's SHA-256 and the signature over its bytes), keyless (a Fulcio-style leaf, a Rekor
// v1 `hashedrekord` entry with SET and inclusion proof, optionally an RFC 3161 timestamp over the signature) or with
// a key (`publicKey.hint`, logged in the Rekor too unless `tlog: false`).
//
//   signBlobBundle(ss, { artifact, identity })            // keyless
//   signBlobBundle(ss, { artifact, privateKey })          // key-signed
import { createHash, type KeyObject } from 'node:crypto';
import { MT } from '../../src/oci/mediatypes.ts';
import { goArray, goString, goStruct } from '../../src/sign/go-json.ts';
import { keyHint, publicKeyPem, signBytes } from '../../src/sign/signer.ts';
import {
  tlogEntryJson,
  type IssuedCert,
  type IssueOptions,
  type RekorEntry,
  type TestSigstore,
} from './test-sigstore.ts';
import { hashedRekordBody } from './test-sigstore-rekor.ts';

export interface BlobSignOptions {
  readonly artifact: Uint8Array;
  /** Keyless: the certificate identity (a fresh leaf from `ss.issue`), or `cert` to sign with. */
  readonly identity?: string;
  readonly issue?: IssueOptions;
  readonly cert?: IssuedCert;
  /** Key-signed instead. */
  readonly privateKey?: KeyObject;
  /** A Rekor v1 hashedrekord entry (default true). */
  readonly tlog?: boolean;
  /** An RFC 3161 timestamp over the signature (default false). */
  readonly tsa?: boolean;
  /** The digest the bundle states (default: the artifact's SHA-256). */
  readonly messageDigest?: Buffer;
}

export interface SignedBlob {
  readonly json: string;
  readonly signature: Buffer;
  readonly cert?: IssuedCert;
  readonly rekor?: RekorEntry;
}

const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');

export function signBlobBundle(ss: TestSigstore, o: BlobSignOptions): SignedBlob {
  const cert = o.privateKey === undefined ? (o.cert ?? ss.issue(o.identity ?? '', o.issue)) : undefined;
  const privateKey = o.privateKey ?? (cert as IssuedCert).privateKey;
  const signature = Buffer.from(signBytes(privateKey, o.artifact));
  // As the test sigstore stamps its entries: a minute after the leaf's notBefore (its `now` for a key signature).
  const at = cert === undefined ? ss.now : new Date(cert.notBefore.getTime() + 60_000);
  const entry =
    o.tlog === false
      ? undefined
      : ss.rekor.append(
          hashedRekordBody(o.artifact, signature, cert?.certPem ?? publicKeyPem(privateKey)),
          at.getTime() / 1000,
        );
  const timestamp = o.tsa ? ss.tsa.timestamp(signature, at) : undefined;
  const digest = o.messageDigest ?? createHash('sha256').update(o.artifact).digest();
  const json = goStruct([
    ['mediaType', goString(MT.sigstoreBundleV03)],
    [
      'verificationMaterial',
      goStruct([
        cert === undefined
          ? ['publicKey', goStruct([['hint', goString(keyHint(privateKey))]])]
          : ['certificate', goStruct([['rawBytes', goString(b64(cert.certDer))]])],
        ['tlogEntries', entry && goArray([tlogEntryJson(entry, ss.rekor.logId, 'hashedrekord')])],
        [
          'timestampVerificationData',
          timestamp &&
            goStruct([['rfc3161Timestamps', goArray([goStruct([['signedTimestamp', goString(b64(timestamp))]])])]]),
        ],
      ]),
    ],
    [
      'messageSignature',
      goStruct([
        [
          'messageDigest',
          goStruct([
            ['algorithm', goString('SHA2_256')],
            ['digest', goString(b64(digest))],
          ]),
        ],
        ['signature', goString(b64(signature))],
      ]),
    ],
  ]);
  return { json, signature, ...(cert ? { cert } : {}), ...(entry ? { rekor: entry } : {}) };
}
