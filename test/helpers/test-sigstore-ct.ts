// The test sigstore's certificate-transparency log (RFC 6962): it signs precertificate SCTs, which the CA embeds
// in the leaf as the SignedCertificateTimestampList extension (1.3.6.1.4.1.11129.2.4.2).
import { createHash, sign, type KeyObject } from 'node:crypto';
import { extension, newP256, octets, OID, spkiDer, type Der } from './test-sigstore-der.ts';

export interface TestCtLog {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** SHA-256 of the log key's SPKI DER (the SCT `log_id` and the trusted root's `logId.keyId`). */
  readonly logId: Buffer;
  /** One serialized SCT (v1, sha256/ecdsa) over a precert entry. */
  sign(precertTbs: Uint8Array, issuerSpki: Uint8Array, at: Date): Buffer;
}

const u16 = (n: number): Buffer => Buffer.from([(n >> 8) & 0xff, n & 0xff]);
const u24 = (n: number): Buffer => Buffer.from([(n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]);
const u64 = (n: number): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
};

export function createCtLog(): TestCtLog {
  const { privateKey, publicKey } = newP256();
  const logId = createHash('sha256').update(spkiDer(publicKey)).digest();
  return {
    privateKey,
    publicKey,
    logId,
    sign(precertTbs, issuerSpki, at) {
      const timestamp = u64(at.getTime());
      const issuerKeyHash = createHash('sha256').update(issuerSpki).digest();
      // digitally-signed struct: version, signature_type certificate_timestamp(0), timestamp,
      // entry_type precert_entry(1), PreCert { issuer_key_hash, tbs_certificate<1..2^24-1> }, extensions<0..2^16-1>
      const signed = Buffer.concat([
        Buffer.from([0, 0]),
        timestamp,
        u16(1),
        issuerKeyHash,
        u24(precertTbs.length),
        precertTbs,
        u16(0),
      ]);
      const sig = sign('sha256', signed, privateKey);
      // SCT: version v1(0), log_id, timestamp, extensions (empty), hash sha256(4), signature ecdsa(3), signature
      return Buffer.concat([Buffer.from([0]), logId, timestamp, u16(0), Buffer.from([4, 3]), u16(sig.length), sig]);
    },
  };
}

/** The X.509 extension: OCTET STRING holding the TLS SignedCertificateTimestampList (u16 total, u16-prefixed SCTs). */
export function sctListExtension(scts: readonly Buffer[]): Der {
  const body = Buffer.concat(scts.map((s) => Buffer.concat([u16(s.length), s])));
  return extension(OID.sctList, false, octets(Buffer.concat([u16(body.length), body])));
}
