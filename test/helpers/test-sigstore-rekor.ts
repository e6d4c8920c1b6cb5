// The test sigstore's Rekor v1 log: entry bodies (hashedrekord 0.0.1, dsse 0.0.1) in canonical JSON, the Signed
// Entry Timestamp (ECDSA over the canonical JSON of {body, integratedTime, logID, logIndex}, as Rekor
// pkg/api/entries.go signs it and cosign/sigstore-js verify it), and a real RFC 6962 Merkle tree with
// inclusion proofs and signed-note checkpoints (transparency-dev/formats log/README.md).
// Every entry is followed by two filler leaves, so its inclusion proof has inner as well as border hashes.
// Global log indexes are the shard-local tree index plus `shardOffset`, as on rekor.sigstore.dev.
import { createHash, randomBytes, randomInt, sign, type KeyObject } from 'node:crypto';
import { newP256, spkiDer } from './test-sigstore-der.ts';

/** JSON with object keys sorted (RFC 8785 for the strings, integers and objects these bodies hold). */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonicalJson(x)}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

const sha256 = (...parts: Uint8Array[]): Buffer => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};
const leafHash = (body: Uint8Array): Buffer => sha256(Buffer.from([0]), body);
const nodeHash = (l: Buffer, r: Buffer): Buffer => sha256(Buffer.from([1]), l, r);
const split = (n: number): number => 2 ** Math.floor(Math.log2(n - 1));

/** RFC 6962 MTH over leaf hashes. */
function rootOf(leaves: readonly Buffer[]): Buffer {
  if (leaves.length === 1) return leaves[0]!;
  const k = split(leaves.length);
  return nodeHash(rootOf(leaves.slice(0, k)), rootOf(leaves.slice(k)));
}
/** RFC 6962 PATH(m, D[n]): siblings from the leaf upward. */
function pathOf(m: number, leaves: readonly Buffer[]): Buffer[] {
  if (leaves.length <= 1) return [];
  const k = split(leaves.length);
  return m < k
    ? [...pathOf(m, leaves.slice(0, k)), rootOf(leaves.slice(k))]
    : [...pathOf(m - k, leaves.slice(k)), rootOf(leaves.slice(0, k))];
}

export interface RekorInclusionProof {
  /** Shard-local index of the leaf. */
  readonly logIndex: number;
  readonly treeSize: number;
  readonly rootHash: Buffer;
  readonly hashes: readonly Buffer[];
  /** Signed note: origin, size, base64 root, blank line, `— <host> <b64(keyhint || sig)>`. */
  readonly checkpoint: string;
}

export interface RekorEntry {
  /** The canonicalized body (bytes of canonical JSON). */
  readonly body: Buffer;
  /** Unix seconds. */
  readonly integratedTime: number;
  /** Global log index (what the SET covers). */
  readonly logIndex: number;
  readonly logIdHex: string;
  /** Signed entry timestamp: ECDSA-SHA256 DER. */
  readonly set: Buffer;
  readonly proof: RekorInclusionProof;
}

export interface SetPayload {
  readonly body: Uint8Array;
  readonly integratedTime: number;
  readonly logIndex: number;
  /** Default: this log's ID. */
  readonly logIdHex?: string;
}

export interface TestRekorLog {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** SHA-256 of the SPKI DER. */
  readonly logId: Buffer;
  readonly logIdHex: string;
  readonly baseUrl: string;
  /** Checkpoint origin line (`<host> - <tree id>`). */
  readonly origin: string;
  readonly shardOffset: number;
  /** The exact bytes a SET signs. */
  setPayload(p: SetPayload): Buffer;
  /** A SET by this log's key (or `key`) for any entry, e.g. one a test altered. */
  signSet(p: SetPayload, key?: KeyObject): Buffer;
  /** A checkpoint for a tree head, signed by this log's key (or `key`). */
  checkpoint(treeSize: number, rootHash: Uint8Array, key?: KeyObject): string;
  /** Append a body: SET, inclusion proof against the tree right after two filler leaves are appended. */
  append(body: Uint8Array, integratedTime: number): RekorEntry;
}

export function createRekorLog(opts: { baseUrl: string; shardOffset?: number }): TestRekorLog {
  const { privateKey, publicKey } = newP256();
  const logId = sha256(spkiDer(publicKey));
  const logIdHex = logId.toString('hex');
  const host = new URL(opts.baseUrl).host;
  const origin = `${host} - ${randomInt(2 ** 47)}`;
  const shardOffset = opts.shardOffset ?? 100_000;
  const leaves: Buffer[] = [leafHash(randomBytes(32)), leafHash(randomBytes(32)), leafHash(randomBytes(32))];
  const log: TestRekorLog = {
    privateKey,
    publicKey,
    logId,
    logIdHex,
    baseUrl: opts.baseUrl,
    origin,
    shardOffset,
    setPayload: (p) =>
      Buffer.from(
        canonicalJson({
          body: Buffer.from(p.body).toString('base64'),
          integratedTime: p.integratedTime,
          logID: p.logIdHex ?? logIdHex,
          logIndex: p.logIndex,
        }),
      ),
    signSet: (p, key = privateKey) => sign('sha256', log.setPayload(p), key),
    checkpoint(treeSize, rootHash, key = privateKey) {
      const note = `${origin}\n${treeSize}\n${Buffer.from(rootHash).toString('base64')}\n`;
      const sig = Buffer.concat([logId.subarray(0, 4), sign('sha256', Buffer.from(note), key)]);
      return `${note}\n\u2014 ${host} ${sig.toString('base64')}\n`;
    },
    append(bodyBytes, integratedTime) {
      const body = Buffer.from(bodyBytes);
      const local = leaves.length;
      leaves.push(leafHash(body), leafHash(randomBytes(32)), leafHash(randomBytes(32)));
      const logIndex = local + shardOffset;
      const rootHash = rootOf(leaves);
      return {
        body,
        integratedTime,
        logIndex,
        logIdHex,
        set: log.signSet({ body, integratedTime, logIndex }),
        proof: {
          logIndex: local,
          treeSize: leaves.length,
          rootHash,
          hashes: pathOf(local, leaves),
          checkpoint: log.checkpoint(leaves.length, rootHash),
        },
      };
    },
  };
  return log;
}

/** hashedrekord 0.0.1 (what cosign logs for a legacy `.sig` layer): `publicKeyPem` is the leaf certificate PEM
 * for keyless signing, the public key PEM for a key signature. */
export function hashedRekordBody(payload: Uint8Array, signature: Uint8Array, publicKeyPem: string): Buffer {
  return Buffer.from(
    canonicalJson({
      apiVersion: '0.0.1',
      kind: 'hashedrekord',
      spec: {
        data: { hash: { algorithm: 'sha256', value: sha256(payload).toString('hex') } },
        signature: {
          content: Buffer.from(signature).toString('base64'),
          publicKey: { content: Buffer.from(publicKeyPem).toString('base64') },
        },
      },
    }),
  );
}

/** dsse 0.0.1 (what cosign v3 logs for a bundle): hashes of the envelope as submitted and of the payload; the
 * signature with its verifier (certificate PEM). */
export function dsseBody(
  envelopeJson: string,
  payload: Uint8Array,
  signature: Uint8Array,
  verifierPem: string,
): Buffer {
  return Buffer.from(
    canonicalJson({
      apiVersion: '0.0.1',
      kind: 'dsse',
      spec: {
        envelopeHash: { algorithm: 'sha256', value: sha256(Buffer.from(envelopeJson)).toString('hex') },
        payloadHash: { algorithm: 'sha256', value: sha256(payload).toString('hex') },
        signatures: [
          {
            signature: Buffer.from(signature).toString('base64'),
            verifier: Buffer.from(verifierPem).toString('base64'),
          },
        ],
      },
    }),
  );
}
