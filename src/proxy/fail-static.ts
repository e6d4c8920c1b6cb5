// Fail-static (per upstream `failStatic: <window>`, off by default): when the upstream cannot answer a manifest
// request (unreachable, timed out, 5xx), a manifest sigward served VERIFIED within the window, under the policy hash
// in force now, is served again from the bytes it kept (state/kept.ts), with a Warning. Nothing else: a 404 (the tag
// is gone), 401/403, 429, a TLS failure, a denial, a manifest only let through without a signature (allow unsigned,
// warn mode, signature artifacts) or one verified under another policy fails exactly as without fail-static.
import { isSigwardError, type SigwardError } from '../errors.ts';
import type { Digest } from '../oci/digest.ts';
import type { ManifestReference } from '../oci/reference.ts';
import type { Decision } from '../policy/types.ts';
import type { FetchedManifest } from './types.ts';

/** What is remembered of a manifest served verified. */
export interface ServedVerified {
  readonly policyHash: string;
  /** When it was last served verified (the keeper's clock, milliseconds). */
  readonly at: number;
  readonly policyName: string;
  readonly outcome: string;
  readonly signers: readonly string[];
}

/** Where a manifest was served: the upstream host, the repository, the tag when asked by tag. */
export interface ServedPlace {
  readonly host: string;
  readonly repository: string;
  readonly tag: string | undefined;
}

/** The keeper of verified manifests (state/kept.ts), as the proxy sees it. */
export interface KeptVerified {
  /** Settles once the kept state is loaded (answers wait for it, so a restart never forgets what it kept). */
  readonly ready: Promise<void>;
  readonly loaded: boolean;
  /** The keeper's clock (milliseconds). */
  now(): number;
  /** A manifest was served under a verified decision (queued: never waits for the disk). */
  servedVerified(place: ServedPlace, m: FetchedManifest, d: Decision, policyHash: string): void;
  /** A manifest was decided otherwise (refused, allowed unsigned, warn mode, a signature artifact) under
   * `policyHash`: the tag no longer names a verified manifest, and this digest is no longer one. */
  servedNotVerified(place: ServedPlace, digest: Digest, policyHash: string): void;
  /** The manifest `ref` named when it was last served verified under `policyHash`, no earlier than `since`; its
   * bytes checked against its digest. */
  lastVerified(
    host: string,
    repository: string,
    ref: ManifestReference,
    policyHash: string,
    since: number,
  ): Promise<{ readonly manifest: FetchedManifest; readonly served: ServedVerified } | undefined>;
}

/** Only decisions that rest on a verified signature are kept for fail-static. */
export function isVerifiedDecision(d: Decision): boolean {
  return d.allow && !d.wouldDeny && (d.outcome === 'verified' || d.outcome === 'covered-by-index');
}

/** The upstream failure behind `e` when it is an outage fail-static covers: no answer at all, a timeout, or a 5xx
 * (also when it surfaced as a failed signature lookup). A TLS failure is not one: it may be an impostor. */
export function outageOf(e: unknown): SigwardError | undefined {
  for (let c: unknown = e, depth = 0; c !== undefined && depth < 4; c = (c as { cause?: unknown }).cause, depth++) {
    if (!isSigwardError(c)) return undefined;
    if (c.code === 'UPSTREAM_TIMEOUT') return c;
    if (c.code === 'UPSTREAM_UNAVAILABLE') return c.reason === 'upstream tls failure' ? undefined : c;
    if (c.code !== 'VERIFY_UNAVAILABLE') return undefined;
  }
  return undefined;
}

/** The Warning of a fail-static answer: 111 "Revalidation Failed" (RFC 7234 section 5.5.2; RFC 5861 names it for
 * stale-if-error): a stored response served because the origin could not be asked. */
export function failStaticWarning(host: string, at: number): string {
  const when = new Date(at).toISOString();
  return `111 sigward "Revalidation Failed: upstream ${host.replace(/["\\]/g, "'")} unavailable; served the manifest sigward verified at ${when} (failStatic)"`;
}
