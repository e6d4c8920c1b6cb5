// in-toto Statements carried by DSSE (in-toto/attestation spec v1 statement.md).
// cosign `attest` writes Statement v0.1, cosign v3 `sign` writes v1: both are accepted. Duplicate keys are refused
// (strict JSON); members this check does not use (e.g. `predicate`, absent before cosign v3.0.5) are ignored, as
// the in-toto spec asks of consumers; members it does use must have the right types.
import { parseStrictJson } from '../oci/json-strict.ts';
import { isObject, jsonType, ok, problem, type Parsed } from './outcome.ts';

export const STATEMENT_TYPES: readonly string[] = [
  'https://in-toto.io/Statement/v1',
  'https://in-toto.io/Statement/v0.1',
];

/** The predicate type of `cosign sign` (v3) statements: "this image is signed" (cosign pkg/types/predicate.go). */
export const COSIGN_SIGN_PREDICATE = 'https://sigstore.dev/cosign/sign/v1';

export interface InTotoSubject {
  readonly name?: string;
  /** Algorithm name -> lowercase hex, as in the statement. */
  readonly digest: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, unknown>>;
}

export interface InTotoStatement {
  readonly type: string;
  readonly subjects: readonly InTotoSubject[];
  readonly predicateType: string;
}

export function parseInTotoStatement(bytes: Uint8Array): Parsed<InTotoStatement> {
  const json = parseStrictJson(bytes);
  if (!json.ok) return problem(json.problem);
  const st = json.value;
  if (!isObject(st)) return problem(`is a JSON ${jsonType(st)}, expected an object`);
  const type = st['_type'];
  if (typeof type !== 'string' || !STATEMENT_TYPES.includes(type)) {
    return problem(
      `_type is ${typeof type === 'string' ? JSON.stringify(type.slice(0, 80)) : 'missing'}, expected one of ${STATEMENT_TYPES.join(', ')}`,
    );
  }
  const predicateType = st['predicateType'];
  if (typeof predicateType !== 'string' || predicateType === '')
    return problem('predicateType is missing or not a string');
  const raw = st['subject'];
  if (!Array.isArray(raw) || raw.length === 0) return problem('subject is missing or not a non-empty array');
  const subjects: InTotoSubject[] = [];
  for (const [i, s] of raw.entries()) {
    const subject = parseSubject(s, `subject[${i}]`);
    if (!subject.ok) return subject;
    subjects.push(subject.value);
  }
  return ok({ type, subjects, predicateType });
}

function parseSubject(s: unknown, at: string): Parsed<InTotoSubject> {
  if (!isObject(s)) return problem(`${at} is a JSON ${jsonType(s)}, expected an object`);
  const { name, digest, annotations } = s;
  if (name !== undefined && typeof name !== 'string') return problem(`${at}.name is not a string`);
  if (!isObject(digest)) return problem(`${at}.digest is missing or not an object`);
  for (const [alg, hex] of Object.entries(digest)) {
    if (typeof hex !== 'string') return problem(`${at}.digest.${alg} is not a string`);
  }
  if (annotations !== undefined && !isObject(annotations)) return problem(`${at}.annotations is not an object`);
  const out = { digest: digest as Record<string, string>, annotations: annotations ?? {} };
  return ok(name === undefined ? out : { ...out, name });
}
