// `trust.keys`: named public keys, each from a PEM file or inline PEM, parsed ONCE here. Every problem is reported
// with the YAML path of the key that caused it (check-config lists them all at once).
import { isSigwardError } from '../errors.ts';
import { isObj, readObj, readString, type Path, type Problems } from '../util/yaml-reader.ts';
import type { TrustedKey } from '../verify/types.ts';

/** Key and policy names appear in logs, headers and 403 bodies: keep them short plain ASCII. */
export const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export interface TrustDeps {
  readonly readKeyFile: (path: string) => string | Error;
  readonly parseKey: (name: string, pem: string) => TrustedKey;
}

function loadKey(name: string, v: unknown, path: Path, problems: Problems, deps: TrustDeps): TrustedKey | undefined {
  const o = readObj(v, path, problems, ['file', 'pem']);
  if (!o) {
    if (v === undefined || v === null)
      problems.add(path, 'needs `file` (a PEM public key file, e.g. cosign.pub) or `pem` (the PEM text)');
    return undefined;
  }
  const file = readString(o.file, [...path, 'file'], problems);
  const pem = readString(o.pem, [...path, 'pem'], problems);
  if (o.file !== undefined && o.pem !== undefined) {
    problems.add(path, 'set `file` or `pem`, not both');
    return undefined;
  }
  if (o.file === undefined && o.pem === undefined) {
    problems.add(path, 'needs `file` (a PEM public key file, e.g. cosign.pub) or `pem` (the PEM text)');
    return undefined;
  }
  let text = pem;
  const at: Path = file !== undefined ? [...path, 'file'] : [...path, 'pem'];
  if (file !== undefined) {
    const read = deps.readKeyFile(file);
    if (read instanceof Error) {
      problems.add(at, `cannot read the key file: ${read.message}`);
      return undefined;
    }
    text = read;
  }
  if (text === undefined) return undefined;
  try {
    return deps.parseKey(name, text);
  } catch (e) {
    problems.add(at, isSigwardError(e) ? e.message : `trusted key "${name}": ${String(e)}`);
    return undefined;
  }
}

/** Parsed keys by name; names whose key failed are absent (their problems are recorded). `declared` lists every
 * name written under trust.keys, so policies naming a broken key are not reported a second time as unknown. */
export function compileTrust(
  raw: unknown,
  problems: Problems,
  deps: TrustDeps,
): { keys: Map<string, TrustedKey>; declared: Set<string> } {
  const keys = new Map<string, TrustedKey>();
  const declared = new Set<string>();
  const trust = readObj(raw, ['trust'], problems, ['keys', 'roots', 'cas']);
  const list = trust?.keys;
  if (list === undefined || list === null) return { keys, declared };
  if (!isObj(list)) {
    problems.add(['trust', 'keys'], 'must be a mapping of key name to { file } or { pem }');
    return { keys, declared };
  }
  const byKeyId = new Map<string, string>();
  for (const [name, v] of Object.entries(list)) {
    const path: Path = ['trust', 'keys', name];
    declared.add(name);
    if (!NAME_RE.test(name)) {
      problems.add(
        path,
        `key name "${name}" must be 1-64 characters of A-Z a-z 0-9 . _ - (starting with a letter or digit)`,
      );
    }
    const key = loadKey(name, v, path, problems, deps);
    if (!key) continue;
    const twin = byKeyId.get(key.keyId);
    if (twin !== undefined) {
      // A threshold counts distinct keys; one key under two names would let one signer count twice in messages.
      problems.add(
        path,
        `is the same public key as trust.keys.${twin} (sha256 ${key.keyId.slice(0, 16)}…); give each key one name`,
      );
      continue;
    }
    byKeyId.set(key.keyId, name);
    keys.set(name, key);
  }
  return { keys, declared };
}
