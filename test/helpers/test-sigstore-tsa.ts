// The test sigstore's RFC 3161 timestamp authority: a root and a signing certificate (EKU timeStamping), and
// TimeStampResp tokens shaped like timestamp.sigstore.dev's: status granted, a CMS SignedData (v3) over a
// TSTInfo (policy 1.3.6.1.4.1.57264.2, SHA-256 imprint, whole-second genTime, accuracy 1s, TSA name), one
// SignerInfo (issuer+serial) with signed attributes contentType, signingTime, messageDigest and
// signingCertificateV2 (ESSCertIDv2), ECDSA-SHA256 over the DER SET of those attributes.
import { createHash, sign } from 'node:crypto';
import {
  algId,
  ctx,
  generalizedTime,
  int,
  octets,
  OID,
  oid,
  randomSerial,
  seq,
  set,
  utcTime,
  type Der,
} from './test-sigstore-der.ts';
import { makeCaCert, makeTsaSigningCert, type CaCert } from './test-sigstore-pki.ts';

const OIDS = {
  signedData: '1.2.840.113549.1.7.2',
  tstInfo: '1.2.840.113549.1.9.16.1.4',
  contentType: '1.2.840.113549.1.9.3',
  messageDigest: '1.2.840.113549.1.9.4',
  signingTime: '1.2.840.113549.1.9.5',
  signingCertificateV2: '1.2.840.113549.1.9.16.2.47',
  policy: '1.3.6.1.4.1.57264.2',
} as const;

export interface TimestampOptions {
  /** Put the signing certificate in SignedData.certificates (default false: the trusted root supplies it). */
  readonly embedCertificate?: boolean;
}

export interface TestTsa {
  readonly root: CaCert;
  /** The signing certificate (first in the trusted root's chain). */
  readonly signer: CaCert;
  readonly baseUrl: string;
  /** A DER TimeStampResp whose imprint is SHA-256(`data`) and whose genTime is `at` (to the second). */
  timestamp(data: Uint8Array, at: Date, opts?: TimestampOptions): Der;
}

export function createTsa(from: Date, to: Date, baseUrl: string): TestTsa {
  const root = makeCaCert({ o: 'sigward.test', cn: 'test-tsa-root' }, from, to);
  const signer = makeTsaSigningCert(root);
  return {
    root,
    signer,
    baseUrl,
    timestamp(data, at, opts = {}) {
      const tstInfo = seq(
        int(1),
        oid(OIDS.policy),
        seq(algId(OID.sha256, true), octets(createHash('sha256').update(data).digest())),
        int(randomSerial()),
        generalizedTime(at),
        seq(int(1)),
        ctx(0, ctx(4, signer.subject)),
      );
      const essCertId = seq(
        octets(createHash('sha256').update(signer.der).digest()),
        seq(seq(ctx(4, root.subject)), int(signer.serial)),
      );
      const attrs = [
        seq(oid(OIDS.contentType), set(oid(OIDS.tstInfo))),
        seq(oid(OIDS.signingTime), set(utcTime(at))),
        seq(oid(OIDS.messageDigest), set(octets(createHash('sha256').update(tstInfo).digest()))),
        seq(oid(OIDS.signingCertificateV2), set(seq(seq(essCertId)))),
      ];
      const signedAttrs: Der = set(...attrs);
      const signerInfo = seq(
        int(1),
        seq(root.subject, int(signer.serial)),
        algId(OID.sha256),
        Buffer.concat([Buffer.from([0xa0]), signedAttrs.subarray(1)]),
        algId(OID.ecdsaWithSha256),
        octets(sign('sha256', signedAttrs, signer.privateKey)),
      );
      const signedData = seq(
        int(3),
        set(algId(OID.sha256)),
        seq(oid(OIDS.tstInfo), ctx(0, octets(tstInfo))),
        ctx(0, ...(opts.embedCertificate ? [signer.der] : [])),
        set(signerInfo),
      );
      return seq(seq(int(0)), seq(oid(OIDS.signedData), ctx(0, signedData)));
    },
  };
}
