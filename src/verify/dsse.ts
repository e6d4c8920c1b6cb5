// DSSE envelopes (secure-systems-lab/dsse protocol.md). The signature covers the
// Pre-Authentication Encoding of (payloadType, payload), never the envelope JSON, so the envelope is parsed
// structurally and only the PAE bytes are verified.
import { decodeStdBase64 } from './signature-bytes.ts';
import { isObject, jsonType, ok, problem, unknownField, type Parsed } from './outcome.ts';

export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';

export interface DsseSignature {
  readonly sig: Uint8Array;
  readonly keyid: string;
}

export interface DsseEnvelope {
  readonly payloadType: string;
  /** The decoded payload: the exact statement bytes that were signed. */
  readonly payload: Uint8Array;
  readonly signatures: readonly DsseSignature[];
}

/** PAE(type, body) = "DSSEv1" SP len(type) SP type SP len(body) SP body, lengths as ASCII decimal byte counts. */
export function dssePae(payloadType: string, payload: Uint8Array): Uint8Array {
  const type = Buffer.from(payloadType, 'utf8');
  const head = Buffer.from(`DSSEv1 ${type.length} `, 'utf8');
  const mid = Buffer.from(` ${payload.length} `, 'utf8');
  return Buffer.concat([head, type, mid, payload]);
}

/** Parse the JSON form of a DSSE envelope (bundle `dsseEnvelope`, protobuf-JSON names). Unknown members are refused,
 * as protojson does by default in sigstore-go. Byte fields are standard padded base64. */
export function parseDsseEnvelope(v: unknown): Parsed<DsseEnvelope> {
  if (!isObject(v)) return problem(`dsseEnvelope is a JSON ${jsonType(v)}, expected an object`);
  const extra = unknownField(v, ['payload', 'payloadType', 'signatures']);
  if (extra !== undefined) return problem(`dsseEnvelope has unknown member ${JSON.stringify(extra)}`);
  const { payload, payloadType, signatures } = v;
  if (typeof payloadType !== 'string') return problem('dsseEnvelope.payloadType is missing or not a string');
  if (typeof payload !== 'string') return problem('dsseEnvelope.payload is missing or not a string');
  const body = decodeStdBase64(payload);
  if (!body.ok) return problem(`dsseEnvelope.payload ${body.problem}`);
  if (!Array.isArray(signatures)) return problem('dsseEnvelope.signatures is missing or not an array');
  const sigs: DsseSignature[] = [];
  for (const [i, s] of signatures.entries()) {
    if (!isObject(s)) return problem(`dsseEnvelope.signatures[${i}] is not an object`);
    const extraS = unknownField(s, ['sig', 'keyid']);
    if (extraS !== undefined)
      return problem(`dsseEnvelope.signatures[${i}] has unknown member ${JSON.stringify(extraS)}`);
    if (typeof s['sig'] !== 'string') return problem(`dsseEnvelope.signatures[${i}].sig is missing or not a string`);
    const keyid = s['keyid'] ?? '';
    if (typeof keyid !== 'string') return problem(`dsseEnvelope.signatures[${i}].keyid is not a string`);
    const sig = decodeStdBase64(s['sig']);
    if (!sig.ok) return problem(`dsseEnvelope.signatures[${i}].sig ${sig.problem}`);
    if (sig.value.length === 0) return problem(`dsseEnvelope.signatures[${i}].sig is empty`);
    sigs.push({ sig: sig.value, keyid });
  }
  return ok({ payloadType, payload: body.value, signatures: sigs });
}
