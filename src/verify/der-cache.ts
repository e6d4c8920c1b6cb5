// Parsed ASN.1 without repeated work. @sigstore/core keeps each parsed ASN.1 object's content bytes (`value`), but its
// toDER() rebuilds every encoding from the children, allocating a 1 KiB buffer per node; the verifier asks for the DER
// of a certificate or its TBSCertificate several times per signature (comparing certificates, checking a signature,
// the SCT check), which made re-encoding most of a keyless check's time.
// The parser only accepts minimal DER lengths and one-byte tags, so for an object nobody has changed since it was
// parsed, tag + length + content IS what toDER() would build. Each parsed tree is recorded as it came out of the
// parser (every node's children and content); toDER() answers from the content bytes only when the whole subtree
// still matches that record, and otherwise re-encodes as the library does (the SCT check removes an extension from a
// clone: that clone and its ancestors are re-encoded, their unchanged children are not).
// Also here, each keeping what the library computes: parsing without stack traces for the errors the parser throws
// and catches itself, a copy of a parsed tree (what the SCT check's clone needs) without parsing it again, and an
// OID read once per object.
import { ASN1Obj, ByteStream } from '@sigstore/core';

// Stored on the object itself under symbols (a WeakMap entry per node cost more than the re-encoding saved).
const SUBS = Symbol('subs as parsed');
const VALUE = Symbol('value as parsed');
const OID = Symbol('oid as read');
type Recorded = ASN1Obj & {
  [SUBS]?: readonly ASN1Obj[];
  [VALUE]?: Buffer;
  [OID]?: readonly [ASN1Obj['tag'], Buffer, string];
};

// Most nodes have no children: they share one (never modified) record of that.
const NO_SUBS: readonly ASN1Obj[] = Object.freeze([]);

function record(o: Recorded): void {
  o[SUBS] = o.subs.length === 0 ? NO_SUBS : o.subs.slice();
  o[VALUE] = o.value;
  for (const s of o.subs) record(s);
}

/** This node (not its descendants) is as parsed: same content bytes, same children in the same order. */
function unchangedNode(o: Recorded): boolean {
  const subs = o[SUBS];
  if (subs === undefined || o[VALUE] !== o.value || subs.length !== o.subs.length) return false;
  for (let i = 0; i < subs.length; i++) if (o.subs[i] !== subs[i]) return false;
  return true;
}

function unchanged(o: Recorded): boolean {
  if (!unchangedNode(o)) return false;
  for (const s of o.subs) if (!unchanged(s)) return false;
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
const readOid = ASN1Obj.prototype.toOID;
// eslint-disable-next-line @typescript-eslint/unbound-method
const reencode = ASN1Obj.prototype.toDER;

ASN1Obj.parseBuffer = function parse(buf: Parameters<typeof parseBuffer>[0]): ASN1Obj {
  // The parser tries every OCTET STRING as nested DER and catches the error when it is not (a Fulcio claim, a key
  // identifier): a certificate costs several thrown errors, and capturing their stacks was half of parsing one. No
  // stack is ever read from them (they are caught inside the parser, or surface as "cannot be read" messages).
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    const o = parseBuffer.call(ASN1Obj, buf);
    record(o);
    return o;
  } finally {
    Error.stackTraceLimit = limit;
  }
};

// The library's encoding (the content is the children's encodings, or the value of a node without children), with
// the content bytes of an unchanged subtree taken as parsed and without its 1 KiB stream buffer per node.
ASN1Obj.prototype.toDER = function toDER(this: ASN1Obj): Buffer {
  const content =
    this.subs.length === 0 || unchanged(this) ? this.value : Buffer.concat(this.subs.map((s) => s.toDER()));
  return Buffer.concat([Buffer.from([this.tag.toDER(), ...lengthBytes(content.length)]), content] as Uint8Array[]);
};

// Every lookup of an extension reads the OID of each extension before it (BigInt arithmetic per byte), and a keyless
// check looks extensions up a few dozen times. An object's OID is read once and answered again while the object still
// holds the same tag and content bytes (content bytes are never written: a changed value is a new Buffer).
ASN1Obj.prototype.toOID = function toOID(this: Recorded): string {
  const known = this[OID];
  if (known !== undefined && known[0] === this.tag && known[1] === this.value) return known[2];
  const oid = readOid.call(this);
  this[OID] = [this.tag, this.value, oid];
  return oid;
};

// The parser reads every tag and length byte with getUint8(), which the library answers through getBlock(1): a new
// Buffer view per byte, a few hundred per certificate. The same byte, the same bounds check and the same error,
// without the view.
type StreamState = { view: Buffer; start: number };
ByteStream.prototype.getUint8 = function getUint8(this: ByteStream): number {
  const s = this as unknown as StreamState;
  if (s.start + 1 > s.view.length) throw new Error('request past end of buffer');
  const b = s.view[s.start] ?? 0;
  s.start += 1;
  return b;
};

/** A copy of a parsed tree that can be changed without changing the original: new nodes and child arrays, the same
 * (never written) content bytes. Nodes unchanged since parsing are recorded as such in the copy too, so it still
 * answers toDER() from its bytes where it was not changed. */
export function copyTree(o: ASN1Obj): ASN1Obj {
  const from = o as Recorded;
  const subs = o.subs.map(copyTree);
  const copy = new ASN1Obj(o.tag, o.value, subs) as Recorded;
  if (unchangedNode(from)) {
    copy[SUBS] = subs.length === 0 ? NO_SUBS : subs.slice();
    copy[VALUE] = o.value;
  }
  return copy;
}

/** toDER() as the library computes it (for tests proving both agree). */
export function reencodedDer(o: ASN1Obj): Buffer {
  return reencode.call(o);
}
