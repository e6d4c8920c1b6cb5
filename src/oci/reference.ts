// Repository names, tags and registry hosts, after the OCI distribution spec (spec.md "Pulling manifests" and the
// grammar of distribution/reference). Pure: no I/O. Bad input throws SigwardError with the OCI code to answer.
import { SigwardError } from '../errors.ts';
import { clip } from '../util/clip.ts';
import { parseDigest, type Digest } from './digest.ts';

/** One path component of a repository name. */
const COMPONENT_RE = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
const TAG_RE = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
const HOST_LABEL_RE = /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$/;

/** distribution/reference limits the full name (host + "/" + repository) to 255 characters. */
export const MAX_NAME_LENGTH = 255;

export function isRepositoryName(name: string): boolean {
  if (name.length === 0 || name.length > MAX_NAME_LENGTH) return false;
  return name.split('/').every((c) => COMPONENT_RE.test(c));
}

export function parseRepositoryName(name: string): string {
  if (name.length > MAX_NAME_LENGTH) {
    throw new SigwardError(
      'NAME_INVALID',
      `repository name is ${name.length} characters long; the limit is ${MAX_NAME_LENGTH}`,
    );
  }
  if (!isRepositoryName(name)) {
    throw new SigwardError(
      'NAME_INVALID',
      `invalid repository name '${clip(name)}': use lowercase path components of [a-z0-9] joined by '.', '_', '__' or '-', separated by '/'`,
    );
  }
  return name;
}

export function isTag(s: string): boolean {
  return TAG_RE.test(s);
}

export function parseTag(s: string): string {
  if (!isTag(s)) {
    throw new SigwardError(
      'TAG_INVALID',
      `invalid tag '${clip(s)}': tags are 1-128 characters of [a-zA-Z0-9_.-] and do not start with '.' or '-'`,
    );
  }
  return s;
}

/** A host as used in image references: DNS name or IPv4 or [IPv6], optional :port. Lowercased. */
export function isHost(s: string): boolean {
  if (s.length === 0 || s.length > 253) return false;
  const v6 = /^\[([0-9a-fA-F:.]+)\](?::(\d{1,5}))?$/.exec(s);
  if (v6) return v6[2] === undefined || Number(v6[2]) <= 65535;
  const m = /^(.*?)(?::(\d{1,5}))?$/.exec(s);
  if (!m) return false;
  const host = m[1] ?? '';
  if (m[2] !== undefined && Number(m[2]) > 65535) return false;
  return host.split('.').every((l) => HOST_LABEL_RE.test(l));
}

/** Docker's rule for "is the first path component a registry host": it has a '.' or a ':' or is localhost. */
export function looksLikeHost(component: string): boolean {
  return component === 'localhost' || component.includes('.') || component.includes(':') || component.startsWith('[');
}

export type ManifestReference = { kind: 'tag'; tag: string } | { kind: 'digest'; digest: Digest };

/** A manifest reference from a URL: a tag or a digest (a digest has a ':'). */
export function parseManifestReference(s: string): ManifestReference {
  if (s.includes(':')) return { kind: 'digest', digest: parseDigest(s) };
  return { kind: 'tag', tag: parseTag(s) };
}

export function referenceString(ref: ManifestReference): string {
  return ref.kind === 'tag' ? ref.tag : ref.digest;
}

/** Human-readable image reference for messages and logs: `host/repo:tag` or `host/repo@sha256:…`. */
export function imageRef(host: string, repository: string, ref: ManifestReference | Digest): string {
  if (typeof ref === 'string') return `${host}/${repository}@${ref}`;
  return ref.kind === 'tag' ? `${host}/${repository}:${ref.tag}` : `${host}/${repository}@${ref.digest}`;
}
