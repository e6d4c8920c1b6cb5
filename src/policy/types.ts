// Contracts of the policy layer: the compiled (immutable) policy, the resolution of one repository to one rule, and
// the decision the manifest gate acts on. Pure data; nothing here does I/O or reads the clock.
import type { RejectReason, SignatureCheck, TrustAuthority, TrustedIdentity, TrustedKey } from '../verify/types.ts';
import type { TufFindings, TufSource } from './authorities.ts';
import type { HostNames } from './hosts.ts';

/** What happens to an image that no policy matches. `warn` serves it but records the would-be denial. */
export type DefaultAction = 'deny' | 'warn' | 'allow';
/** `warn`: an unsatisfied rule still serves the image; the decision says it would have been denied. */
export type Mode = 'enforce' | 'warn';
/** Which manifests of a multi-arch image need their own signature (see platforms.ts for the table). */
export type Platforms = 'either' | 'index' | 'child' | 'both';
/** Signature artifacts (cosign `.sig`/`.att`/`.sbom` images, referrer artifacts) of the images a policy covers:
 * `pass` serves one without a signature of its own once its bytes are proven inert (every layer really is the
 * signature, attestation or SBOM document its type names, and not an archive), so cosign and podman can verify
 * through sigward; `verify` treats them like images (they need a signature of their own); `deny` refuses them. */
export type Attachments = 'pass' | 'verify' | 'deny';
/** How the gate met the manifest: an image index, an image manifest listed in an index of the same repository that
 * passed with its own signature under this policy (`child`), or any other image manifest (`single`). */
export type ManifestKind = 'index' | 'child' | 'single';

interface RuleBase {
  readonly name: string;
  /** Canonical patterns (host canonicalized, Docker Hub `library/` added), in declaration order. */
  readonly match: readonly string[];
  readonly mode: Mode;
}

/** Signatures by trusted keys are required. */
export interface SignedRule extends RuleBase {
  readonly kind: 'signed';
  /** The keys any of which may sign, in declaration order: hand these to verify/ as `VerifyContext.keys`. */
  readonly keys: readonly TrustedKey[];
  /** Certificate identities any of which may sign (keyless Fulcio certificates or private-CA certificates): hand
   * these to verify/ as `VerifyContext.identities`. Their names count like key names. */
  readonly identities: readonly TrustedIdentity[];
  /** Certificate signatures from a trust root need a verified transparency-log entry (`tlog`, default required). */
  readonly identityTlog: boolean;
  /** With `tlog: required`: key signatures count only when logged in this root's transparency logs. */
  readonly keyTlog?: TrustAuthority;
  /** How many DISTINCT signers (keys of `keys`, identities of `identities`) must have signed (1 unless set). */
  readonly threshold: number;
  /** Key or identity names that must each have signed. */
  readonly required: readonly string[];
  /** Signed annotations that must be present with exactly this string value (cosign `verify -a k=v`). */
  readonly annotations: Readonly<Record<string, string>>;
  /** The signed docker-reference must name the repository being pulled. */
  readonly matchReference: boolean;
  readonly platforms: Platforms;
  readonly attachments: Attachments;
  /** Where the signatures are stored, when not next to the image (cosign's COSIGN_REPOSITORY). */
  readonly signatureRepository?: { readonly host: string; readonly repository: string };
}

/** An explicit exception: served without any signature (every such pull is logged by the caller). */
export interface UnsignedRule extends RuleBase {
  readonly kind: 'unsigned';
}

/** An explicit block: denied before any upstream call (in warn mode: served, and recorded as a would-be denial). */
export interface RejectRule extends RuleBase {
  readonly kind: 'reject';
}

export type CompiledRule = SignedRule | UnsignedRule | RejectRule;

/** The one rule that applies to `<host>/<repository>`, or none (the default action applies). */
export interface Resolution {
  readonly rule: CompiledRule | null;
  /** The pattern that won (canonical form), or null when no policy matches. */
  readonly matchedPattern: string | null;
  /** Canonical host and repository the match was made on (e.g. `docker.io`, `library/busybox`). */
  readonly host: string;
  readonly repository: string;
  readonly defaultAction: DefaultAction;
}

export interface EvalContext {
  /** The manifest digest being decided. */
  readonly digest: string;
  /** The tag the client asked for, when it asked by tag (messages only). */
  readonly tag?: string;
  /** Defaults to `single`. */
  readonly kind?: ManifestKind;
  /** For `child`: the verified index digest that lists this manifest (messages only). */
  readonly coveredBy?: string;
}

/** Why the decision came out as it did. The first five are satisfied outcomes; the rest are denials (which warn
 * mode turns into `allow: true, wouldDeny: true`). */
export type DecisionOutcome =
  | 'verified'
  | 'unsigned-allowed'
  | 'covered-by-index'
  | 'index-pass-through'
  | 'default-allow'
  | 'no-policy'
  | 'rejected'
  | 'index-only'
  | 'no-signatures'
  | 'no-valid-signature'
  | 'required-signer-missing'
  | 'threshold-not-met';

/** What became of one signature under the rule. */
export interface SignatureVerdict {
  readonly source: string;
  readonly format: SignatureCheck['format'];
  /** It verified, names an accepted key, and met the rule's annotation and reference conditions. */
  readonly counted: boolean;
  /** Accepted keys that verified it (also when it did not count for another reason). */
  readonly signers: readonly string[];
  readonly reason?: RejectReason;
  readonly message?: string;
}

export interface Decision {
  /** Serve the manifest. */
  readonly allow: boolean;
  /** Served only because of warn mode (rule or default): the caller logs `message` and adds a warning header. */
  readonly wouldDeny: boolean;
  readonly mode: Mode;
  readonly outcome: DecisionOutcome;
  /** The matching policy's name, or `(default)`. */
  readonly policyName: string;
  readonly matchedPattern: string | null;
  /** Distinct accepted keys whose signatures counted, sorted by name. */
  readonly signers: readonly string[];
  /** True for an index that passed on its own signature under `either`/`index`: the image manifests it lists (same
   * repository) may then be decided as kind `child`. */
  readonly coversChildren: boolean;
  /** One line for the HTTP reason phrase: printable ASCII, at most 100 characters. */
  readonly summary: string;
  /** The full explanation for the 403 body and the logs. */
  readonly message: string;
  readonly perSignature: readonly SignatureVerdict[];
}

export interface CompiledPolicy {
  /** sha256 hex of the canonical serialization of the semantics (see hash.ts). */
  readonly hash: string;
  readonly defaultAction: DefaultAction;
  /** Rules in declaration order (order never decides a match: see resolve.ts). */
  readonly rules: readonly CompiledRule[];
  /** Every Sigstore trust root under `trust.roots` and private CA under `trust.cas`, by name. */
  readonly roots: Readonly<Record<string, TrustAuthority>>;
  readonly cas: Readonly<Record<string, TrustAuthority>>;
  /** Every key declared under `trust.keys`, by name. */
  readonly keys: Readonly<Record<string, TrustedKey>>;
  /** The one rule for this repository: most specific pattern wins. */
  resolve(host: string, repository: string): Resolution;
  /** Decide from the signature checks of `ctx.digest` (made with `rule.keys`). */
  evaluate(res: Resolution, checks: readonly SignatureCheck[], ctx: EvalContext): Decision;
  /** The decision when no signature needs to be looked at (default action, reject, allow: unsigned, multi-arch
   * pass-through or index-only denial); undefined when the gate must fetch and verify signatures. */
  decideWithoutSignatures(res: Resolution, ctx: EvalContext): Decision | undefined;
}

/** What compilePolicy reads: the `trust` and `policy` sections of the config document, as YAML gave them (checked
 * by the compiler, problems at `trust…` and `policy…`). config/ picks them out of the document. */
export interface PolicySource {
  readonly trust?: unknown;
  readonly policy?: unknown;
}

/** Ports the core needs from the caller (the config loader wires node:fs and verify/keys.ts). */
export interface CompileDeps {
  /** A trust file's text (key, trusted_root.json, CA PEM), or an Error whose message says what went wrong. */
  readonly readKeyFile: (path: string) => string | Error;
  /** PEM -> TrustedKey; throws SigwardError KEY_INVALID. Defaults to verify/keys.ts parsePublicKey. */
  readonly parseKey?: (name: string, pem: string) => TrustedKey;
  /** trusted_root.json -> TrustAuthority; throws SigwardError TRUST_INVALID. Defaults to verify/authority.ts. */
  readonly parseRoot?: (name: string, json: string) => TrustAuthority;
  /** PEM roots (+ intermediates) -> TrustAuthority; throws TRUST_INVALID. Defaults to verify/authority.ts. */
  readonly parseCa?: (name: string, rootsPem: string, intermediatesPem?: string) => TrustAuthority;
  /** Registry host names and aliases, from the upstream config. Defaults to Docker Hub's names only. */
  readonly hosts?: HostNames;
  /** A TUF-kept root's file checks and its trusted_root.json text (see authorities.ts); absent: not fetched. */
  readonly tufRoot?: (name: string, source: TufSource) => TufFindings;
}
