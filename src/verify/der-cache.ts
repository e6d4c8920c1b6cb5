// DER without re-encoding. @sigstore/core keeps each parsed ASN.1 object's content bytes (`value`), but its toDER()
// rebuilds every encoding from the children, allocating a 1 KiB buffer per node; the verifier asks for the DER of a
// certificate or its TBSCertificate several times per signature (comparing certificates, checking a signature,
// cloning for the SCT check), which made re-encoding most of a keyless check's time.
// The parser only accepts minimal DER lengths and one-byte tags, so for an object nobody has changed since it was
// parsed, tag + length + content IS what toDER() would build. Each parsed tree is recorded as it came out of the
// parser (every node's children and content); toDER() answers from the content bytes only when the whole subtree
// still matches that record, and otherwise re-encodes as before (the SCT check removes an extension from a clone:
// that clone and its ancestors are re-encoded).
import { ASN1Obj } from '@sigstore/core';

// Stored on the object itself under symbols (a WeakMap entry per node cost more than the re-encoding saved).
const SUBS = Symbol('subs as parsed');
const VALUE = Symbol('value as parsed');
type Recorded = ASN1Obj & { [SUBS]?: readonly ASN1Obj[]; [VALUE]?: Buffer };

function record(o: Recorded): void {
  o[SUBS] = o.subs.slice();
  o[VALUE] = o.value;
  for (const s of o.subs) record(s);
}

function unchanged(o: Recorded): boolean {
  const subs = o[SUBS];
  if (subs === undefined || o[VALUE] !== o.value || subs.length !== o.subs.length) return false;
  for (let i = 0; i < subs.length; i++) {
    const s = o.subs[i];
    if (s === undefined || s !== subs[i] || !unchanged(s)) return false;
  }
  return true;
}

function lengthBytes(n: number): number[] {
  if (n < 0x80) return [n];
  const out: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) out.unshift(v % 256);
  return [0x80 | out.length, ...out];
}

// The library's own methods, always called with an ASN.1 object as `this`.
// eslint-disable-next-line @typescript-eslint/unbound-method
const parseBuffer = ASN1Obj.parseBuffer;
// eslint-disable-next-line @typescript-eslint/unbound-method
const reencode = ASN1Obj.prototype.toDER;

ASN1Obj.parseBuffer = function parse(buf: Parameters<typeof parseBuffer>[0]): ASN1Obj {
  const o = parseBuffer.call(ASN1Obj, buf);
  record(o);
  return o;
};

ASN1Obj.prototype.toDER = function toDER(this: ASN1Obj): Buffer {
  if (!unchanged(this)) return reencode.call(this);
  return Buffer.concat([
    Buffer.from([this.tag.toDER(), ...lengthBytes(this.value.length)]),
    this.value,
  ] as Uint8Array[]);
};

/** toDER() as the library computes it (for tests proving both agree). */
export function reencodedDer(o: ASN1Obj): Buffer {
  return reencode.call(o);
}
