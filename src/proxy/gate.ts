// The signature gate: a manifest (GET or HEAD, by tag or digest) is answered only after the policy's verdict on its
// digest. One verification per (policy, repository, digest, kind) at a time (single-flight); verdicts are cached,
// upstream failures are not ("could not verify" is never "verified").
import { SigwardError, isSigwardError } from '../errors.ts';
import { DEFAULT_SIGNATURE_LIMITS, type SignatureLimits } from '../config/types.ts';
import { LRUCache } from 'lru-cache';
import type { Digest } from '../oci/digest.ts';
import type { ManifestReference } from '../oci/reference.ts';
import type { Descriptor, ParsedManifest } from '../oci/manifest.ts';
import { parsedManifest } from './parsed-manifest.ts';
import type { CompiledPolicy, Decision, ManifestKind, Resolution, SignedRule } from '../policy/types.ts';
import { verifySignature } from '../verify/index.ts';
import type { SignatureCheck, UntrustedSignature } from '../verify/types.ts';
import { attachmentProblem, claimsAttachment } from '../verify/attachment.ts';
import type { Logger } from '../log.ts';
import type { AuditSink } from '../audit/log.ts';
import type { DecisionObserver, LookupObserver } from '../metrics/observers.ts';
import { isReferrersTagIndex } from './passage.ts';
import { isAttachmentTag, signatureTag } from '../oci/cosign-tags.ts';
import { isIndexType } from '../oci/mediatypes.ts';
import { platformRequirement } from '../policy/platforms.ts';
import {
  discoverSignatures,
  isBundleSource,
  fetchBlobCapped,
  DEFAULT_DISCOVERY_LIMITS,
  type Discovery,
  type DiscoveryLimits,
  type SignatureLocation,
} from './signatures.ts';
import { SingleFlight } from '../util/single-flight.ts';
import { PayloadShapes } from './payload-shapes.ts';
import { CountedLru } from '../util/counted-lru.ts';
import { ByteBudget } from './byte-budget.ts';
import { deferred } from './lookup-bounds.ts';
import type { Target } from './target.ts';
import type { ClientProvider, FetchedManifest } from './types.ts';
import { VerdictCache, type StoredVerdict } from './verdicts.ts';

export interface GateDeps {
  /** The policy at start; usePolicy() replaces it (a TUF-kept trust root refreshed). */
  readonly policy: CompiledPolicy;
  readonly clients: ClientProvider;
  readonly verdicts: VerdictCache;
  readonly log: Logger;
  readonly limits?: DiscoveryLimits;
  readonly attachmentLimits?: AttachmentLimits;
  /** limits.signatureMemory. */
  readonly signatureMemory?: number;
  /** The process's signature-memory budget, shared by every app generation (app.ts createShared): a reload must not
   * double what limits.signatureMemory allows while two generations overlap. Absent: one of its own
   * (signatureMemory). */
  readonly memory?: ByteBudget;
  /** The process's memory of `.sig`-signed repositories, shared by every generation. Absent: one of its own. */
  readonly legacyRepos?: CountedLru<string, true>;
  /** The clock private-CA certificates are checked at (milliseconds since the epoch; Date.now unless injected). */
  readonly now?: () => number;
  /** The decision log (config `audit`): each decision once, when it is made (never a cached answer). */
  readonly audit?: AuditSink;
  /** Read every signature before deciding, even when the `.sig` ones alone meet the policy (`sigward verify`). */
  readonly readAllSignatures?: boolean;
  /** Metrics: decisions by policy and outcome, verification time, signature lookups. Absent: none. */
  readonly metrics?: DecisionObserver & LookupObserver;
}

/** What sigward reads to prove a signature artifact inert (its layer blobs, held in memory while checked). An
 * artifact past these limits is not proven: it is decided by the policy like an image. */
export interface AttachmentLimits {
  readonly maxLayers: number;
  readonly layerBytes: number;
  readonly totalBytes: number;
}

export function attachmentLimits(l: SignatureLimits): AttachmentLimits {
  return { maxLayers: l.attachmentLayers, layerBytes: l.attachmentLayerBytes, totalBytes: l.attachmentBytes };
}

export const DEFAULT_ATTACHMENT_LIMITS: AttachmentLimits = attachmentLimits(DEFAULT_SIGNATURE_LIMITS);
/** Attachments proven inert, by `host/repository@digest` (content-addressed: the proof holds for as long as the
 * bytes are these). Only proofs are remembered; a failed proof is recomputed (it may have been a transient fault). */
const PROVEN_ENTRIES = 4096;

export interface GateResult {
  readonly decision: Decision;
  readonly cached: boolean;
}

/** The policy's verdict on a manifest together with the document it was decided on (one parse, shared). */
export interface Verdict extends GateResult {
  readonly parsed: ParsedManifest;
}

/** What the gate says about a manifest a client pulls; `outcome` is the access line's word for it. */
export type Admission =
  /** Served without a verdict: only what passage.ts allows (a proven-inert signature artifact, a referrers index). */
  | { readonly kind: 'passage'; readonly outcome: 'attachment' | 'attachment-index' }
  /** The policy allows it (in warn mode possibly while it would deny: `decision.wouldDeny`). */
  | { readonly kind: 'verdict'; readonly outcome: string; readonly decision: Decision }
  /** Not to be served: the caller throws `refusal` once it has noted the outcome. `decision`: the policy's, when the
   * policy refused it (absent for a signature artifact the policy denies outright). */
  | {
      readonly kind: 'refused';
      readonly outcome: string;
      readonly refusal: SigwardError;
      readonly decision?: Decision;
    };

/** A `.sig` manifest asked for before its lookup (gate.askEarly), and the release of the memory share it holds. */
interface EarlyAsk {
  /** The verdict key whose lookup it is for. */
  readonly key: string;
  readonly manifest: Promise<FetchedManifest>;
  readonly release: () => void;
  /** Cancels the upstream GET: used only on an ask that no verification took (dropEarly). */
  readonly cancel: AbortController;
}

/** Decisions without signatures remembered (gate.quick); emptied when full. */
const QUICK_DECISIONS = 1024;

/** Signature repositories remembered as signed with `.sig` images (gate.legacyRepos). */
const LEGACY_REPOS = 4096;

/** The memory of repositories signed with `.sig` images, for GateDeps.legacyRepos (one per process). */
export function legacyRepoMemory(): CountedLru<string, true> {
  return new CountedLru<string, true>(LEGACY_REPOS, {});
}

export class SignatureGate {
  private readonly flights = new SingleFlight<StoredVerdict>();
  private readonly proofs = new SingleFlight<string | undefined>();
  private readonly proven = new LRUCache<string, true>({ max: PROVEN_ENTRIES });
  /** Signature repositories whose last lookup was decided on the `.sig` signatures alone: the next one asks for the
   * bundles only if the `.sig` ones do not suffice (one request fewer in flight at the upstream per cold pull). */
  private readonly legacyRepos: CountedLru<string, true>;
  /** Verdict keys whose verification is under way (askEarly: a pull that will share it asks nothing early). */
  private readonly verifying = new Set<string>();
  /** `.sig` manifests asked for early (askEarly), by verdict key, each holding its lookup's share of the memory
   * budget: taken by the verification of that key, or dropped by the pull that asked. */
  private readonly early = new Map<string, EarlyAsk>();
  /** Decisions that need no signature, by policy, repository and request (withoutSignatures); null: verify. */
  private readonly quick = new Map<string, Decision | null>();
  /** Shapes of legacy payloads seen per repository: a cold pull's layer GET is skipped when one rebuilds it. */
  private readonly shapes = new PayloadShapes();
  private readonly limits: DiscoveryLimits;
  private readonly attachmentLimits: AttachmentLimits;
  /** Signature and artifact bytes held at once across all lookups and proofs (limits.signatureMemory). */
  readonly memory: ByteBudget;
  /** The policy new requests are decided under. Each request reads it once, at its start, and keeps that one to the
   * end; verdicts and flights are keyed by its hash, so none is shared across a change. */
  private current: CompiledPolicy;

  constructor(private readonly deps: GateDeps) {
    this.current = deps.policy;
    this.limits = deps.limits ?? DEFAULT_DISCOVERY_LIMITS;
    this.attachmentLimits = deps.attachmentLimits ?? DEFAULT_ATTACHMENT_LIMITS;
    this.memory = deps.memory ?? new ByteBudget(deps.signatureMemory ?? DEFAULT_SIGNATURE_LIMITS.signatureMemory);
    this.legacyRepos = deps.legacyRepos ?? legacyRepoMemory();
  }

  /** Signature lookups actually made (after coalescing and caching): tests and the benchmark count them. */
  get lookups(): number {
    return this.flights.calls;
  }

  get policyHash(): string {
    return this.current.hash;
  }

  get policy(): CompiledPolicy {
    return this.current;
  }

  /** From now on, new requests are decided under `policy` (one assignment: requests in flight keep theirs). */
  usePolicy(policy: CompiledPolicy): void {
    this.current = policy;
  }

  /** Before any upstream call: a policy that rejects the repository, or a deny default with no policy, refuses at
   * once (design: "reject -> 403 before any upstream call"); nothing is fetched for an image that cannot pass. */
  preflight(target: Target, ref: ManifestReference): void {
    const policy = this.current;
    const res = policy.resolve(target.upstream.host, target.repository);
    const refuses =
      res.rule === null ? res.defaultAction === 'deny' : res.rule.kind === 'reject' && res.rule.mode === 'enforce';
    if (!refuses) return;
    const ctx = ref.kind === 'digest' ? { digest: ref.digest } : { digest: '', tag: ref.tag };
    const d = policy.decideWithoutSignatures(res, ctx);
    if (d && !d.allow)
      throw new SigwardError('DENIED', d.message, {
        reason: d.summary,
        detail: { policy: d.policyName, outcome: d.outcome },
      });
  }

  /** For a pull (ProxyService): serve, serve under a warn-mode verdict, or refuse (DENIED); throws
   * VERIFY_UNAVAILABLE / MANIFEST_INVALID. Served without a verdict only what passage.ts allows: proven-inert
   * signature artifacts and pointer-only indexes. */
  async admit(target: Target, m: FetchedManifest, ref: ManifestReference, reqId?: string): Promise<Admission> {
    const tag = ref.kind === 'tag' ? ref.tag : undefined;
    const policy = this.current;
    const asked = tag === undefined ? undefined : this.askEarly(policy, target, m, tag);
    if (asked === undefined) return this.admitParsed(policy, target, m, ref, tag, reqId);
    try {
      // One turn of the event loop: undici writes the request now, and the work below overlaps its round trip.
      await new Promise<void>((resolve) => setImmediate(resolve));
      return await this.admitParsed(policy, target, m, ref, tag, reqId, asked);
    } finally {
      this.dropEarly(asked);
    }
  }

  private async admitParsed(
    policy: CompiledPolicy,
    target: Target,
    m: FetchedManifest,
    ref: ManifestReference,
    tag: string | undefined,
    reqId: string | undefined,
    asked?: EarlyAsk,
  ): Promise<Admission> {
    // Bytes that Go's decoder could read as something else are refused before anything else (502 MANIFEST_INVALID).
    const parsed = parsedManifest(m);
    let notInert: string | undefined;
    if (claimsAttachment(parsed)) {
      // Proving it inert waits for memory of its own: the early ask's share goes back first (no holder of the
      // budget ever waits for more of it).
      this.dropEarly(asked);
      const res = policy.resolve(target.upstream.host, target.repository);
      const mode = res.rule?.kind === 'signed' ? res.rule.attachments : 'verify';
      if (mode === 'deny' && res.rule !== null) {
        const refusal = new SigwardError(
          'DENIED',
          `${target.upstream.host}/${target.repository}@${m.digest} is a signature artifact, and policy ${res.rule.name} has attachments: deny`,
          {
            reason: 'signature artifacts denied by policy',
            detail: { policy: res.rule.name, outcome: 'attachment-denied' },
          },
        );
        return { kind: 'refused', outcome: 'attachment-denied', refusal };
      }
      if (mode === 'pass') {
        notInert = await this.proveInert(target, m, parsed);
        if (notInert === undefined) return { kind: 'passage', outcome: 'attachment' };
        this.deps.log.warn(
          { reqId, image: `${target.upstream.host}/${target.repository}@${m.digest}`, why: notInert },
          'declared signature artifact not proven inert; the policy decides',
        );
      }
    }
    if (isReferrersTagIndex(parsed, tag)) {
      return { kind: 'passage', outcome: 'attachment-index' };
    }
    const { decision } = await this.decide(policy, target, m, parsed, tag, reqId, asked);
    if (!decision.allow) {
      const message =
        notInert === undefined
          ? withHint(decision, parsed, tag)
          : `${decision.message}\nIts layers all declare signature types, but it was not served as a signature artifact: ${notInert}.`;
      const refusal = new SigwardError('DENIED', message, {
        reason: decision.summary,
        detail: { policy: decision.policyName, outcome: decision.outcome },
      });
      return { kind: 'refused', outcome: decision.outcome, refusal, decision };
    }
    return { kind: 'verdict', outcome: decision.outcome, decision };
  }

  /** For a download (sget): always the policy's verdict, never a passage without one, and the parse it judged. */
  async verdict(target: Target, m: FetchedManifest, ref: ManifestReference, reqId?: string): Promise<Verdict> {
    const parsed = parsedManifest(m);
    const tag = ref.kind === 'tag' ? ref.tag : undefined;
    const { decision, cached } = await this.decide(this.current, target, m, parsed, tag, reqId);
    return { decision, cached, parsed };
  }

  /** Fetch the layers of a declared signature artifact (each capped and digest-checked, duplicates once) and prove
   * them inert; the problem when they are not. Upstream failures throw VERIFY_UNAVAILABLE (503, nothing cached). */
  private async proveInert(target: Target, m: FetchedManifest, parsed: ParsedManifest): Promise<string | undefined> {
    const key = `${target.upstream.host}/${target.repository}@${m.digest}`;
    if (this.proven.get(key)) return undefined;
    return this.proofs.run(key, async () => {
      const lim = this.attachmentLimits;
      if (parsed.layers.length > lim.maxLayers)
        return `it has ${parsed.layers.length} layers, more than the ${lim.maxLayers} sigward reads to prove an artifact (limits.attachmentLayers)`;
      // The plan first (distinct blobs, each within its limit), so the memory share is known before any fetch.
      const plan = new Map<string, Descriptor>();
      let total = 0;
      for (const layer of parsed.layers) {
        if (plan.has(layer.digest)) continue;
        if (layer.size > lim.layerBytes)
          return `layer ${layer.digest} is ${layer.size} bytes, more than the ${lim.layerBytes} sigward reads to prove an artifact (limits.attachmentLayerBytes)`;
        total += layer.size;
        if (total > lim.totalBytes)
          return `its layers add up to more than the ${lim.totalBytes} bytes sigward reads to prove an artifact (limits.attachmentBytes)`;
        plan.set(layer.digest, layer);
      }
      return this.memory.run(total, () => this.readAndProve(target, key, parsed, plan));
    });
  }

  /** Read the planned blobs (each capped at its declared size: a blob of another size proves nothing) and judge them. */
  private async readAndProve(
    target: Target,
    key: string,
    parsed: ParsedManifest,
    plan: ReadonlyMap<string, Descriptor>,
  ): Promise<string | undefined> {
    const client = this.deps.clients.get(target.upstream.host);
    const blobs = new Map<string, Uint8Array>();
    for (const layer of plan.values()) {
      try {
        blobs.set(layer.digest, await fetchBlobCapped(client, target.repository, layer, layer.size));
      } catch (e) {
        if (
          isSigwardError(e) &&
          (e.code === 'UPSTREAM_TOO_LARGE' ||
            e.code === 'UPSTREAM_DIGEST_MISMATCH' ||
            e.code === 'BLOB_UNKNOWN' ||
            e.code === 'NAME_UNKNOWN')
        ) {
          return `layer ${layer.digest} could not be read: ${e.message}`;
        }
        throw new SigwardError(
          'VERIFY_UNAVAILABLE',
          `could not read layer ${layer.digest} of ${key} to check it is a signature artifact: ${e instanceof Error ? e.message : String(e)}`,
          {
            cause: e,
            reason: 'artifact check failed upstream',
            ...(isSigwardError(e) && e.retryAfter !== undefined ? { retryAfter: e.retryAfter } : {}),
          },
        );
      }
    }
    const problem = attachmentProblem(parsed, blobs);
    if (problem === undefined) this.proven.set(key, true);
    return problem;
  }

  /** The verdict for one fetched manifest (of a pull after its passage, of a download always). */
  private async decide(
    policy: CompiledPolicy,
    target: Target,
    m: FetchedManifest,
    parsed: ParsedManifest,
    tag: string | undefined,
    reqId?: string,
    asked?: EarlyAsk,
  ): Promise<GateResult> {
    const res = policy.resolve(target.upstream.host, target.repository);
    const repoKey = `${res.host}/${res.repository}`;
    const isIndex = parsed.isIndex;
    const coveredBy = isIndex ? undefined : this.deps.verdicts.coveringIndex(policy.hash, repoKey, m.digest);
    const kind: ManifestKind = isIndex ? 'index' : coveredBy !== undefined ? 'child' : 'single';
    const ctx = {
      digest: m.digest,
      kind,
      ...(tag !== undefined ? { tag } : {}),
      ...(coveredBy !== undefined ? { coveredBy } : {}),
    };

    const quick = this.withoutSignatures(policy, res, ctx);
    if (quick) {
      this.logDecision(target, m.digest, quick, { formats: [], found: 0 }, 0, true, reqId);
      this.audit(policy, target, m.digest, tag, quick, reqId);
      return { decision: quick, cached: true };
    }
    const rule = res.rule as SignedRule;
    const key = VerdictCache.key(policy.hash, repoKey, m.digest, kind);
    const hit = this.deps.verdicts.get(key);
    if (hit) {
      this.logDecision(target, m.digest, hit.decision, hit, 0, true, reqId);
      return { decision: hit.decision, cached: true };
    }
    // An early ask made for another key (the manifest proved covered by a verified index meanwhile) is given back
    // before this verification waits for its own share of the budget.
    if (asked?.key !== key) this.dropEarly(asked);
    const started = process.hrtime.bigint();
    const verdict = await this.flights.run(key, async () => {
      this.verifying.add(key);
      // Taken: out of `early`, the asking pull's dropEarly neither aborts nor releases it (the finally below does).
      const early = this.early.get(key);
      this.early.delete(key);
      const v = await this.verify(policy, target, res, rule, m.digest, ctx, early).finally(() => {
        this.verifying.delete(key);
        early?.release();
      });
      this.deps.verdicts.set(key, v);
      // Inside the flight: once per verification, not once per request that waited on it.
      this.audit(policy, target, m.digest, tag, v.decision, reqId);
      return v;
    });
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    if (verdict.decision.allow && verdict.decision.coversChildren) {
      this.deps.verdicts.coverChildren(
        policy.hash,
        repoKey,
        m.digest,
        parsed.manifests.map((d) => d.digest),
      );
    }
    this.logDecision(target, m.digest, verdict.decision, verdict, ms, false, reqId);
    return { decision: verdict.decision, cached: false };
  }

  /** Where the signatures of `target`'s images are looked up. */
  private locationOf(rule: SignedRule, target: Target): SignatureLocation {
    const sigRepo = rule.signatureRepository;
    return sigRepo
      ? {
          client: this.deps.clients.get(sigRepo.host),
          display: `${sigRepo.host}/${sigRepo.repository}`,
          repository: sigRepo.repository,
          shapes: this.shapes,
        }
      : {
          client: this.deps.clients.get(target.upstream.host),
          display: `${target.upstream.host}/${target.repository}`,
          repository: target.repository,
          shapes: this.shapes,
        };
  }

  /**
   * A pull by tag that will need a signature lookup asks for the digest's `.sig` manifest at once, before the
   * manifest is parsed and judged: that upstream round trip then runs while sigward does that work, instead of after
   * it. Only when the lookup is all but certain and would start at once: a signed policy that verifies single images,
   * an image manifest (not an index) under a tag that is not itself a signature artifact's, no verdict held, not
   * covered by a verified index, no verification of it under way (a pull that waits on another's shares its lookup),
   * its share of limits.signatureMemory free (decide() takes it before anything yields). The lookup started by this request's decide() takes the
   * answer (or its failure) exactly as if it had asked then; a pull decided otherwise after all (the manifest is
   * refused as malformed, or proves to be a signature artifact) aborts it unread (dropEarly).
   */
  private askEarly(policy: CompiledPolicy, target: Target, m: FetchedManifest, tag: string): EarlyAsk | undefined {
    if (isAttachmentTag(tag) || isIndexType(m.mediaType)) return undefined;
    const res = policy.resolve(target.upstream.host, target.repository);
    const rule = res.rule;
    if (rule === null || rule.kind !== 'signed' || platformRequirement(rule, 'single').verify !== 'own-signature')
      return undefined;
    const repoKey = `${res.host}/${res.repository}`;
    const key = VerdictCache.key(policy.hash, repoKey, m.digest, 'single');
    if (this.verifying.has(key) || this.early.has(key) || this.deps.verdicts.has(key)) return undefined;
    if (this.deps.verdicts.coveringIndex(policy.hash, repoKey, m.digest) !== undefined) return undefined;
    // The lookup's share of limits.signatureMemory is taken now, or nothing is asked: a lookup that would wait for
    // its share asks the upstream nothing before it has it.
    const mem = this.memory;
    if (mem.waiting > 0 || mem.inUse + Math.min(this.limits.lookupBytes, mem.capacity) > mem.capacity) return undefined;
    const held = deferred();
    void this.memory.run(this.limits.lookupBytes, () => held.promise);
    const loc = this.locationOf(rule, target);
    const cancel = new AbortController();
    const manifest = loc.client.getManifest(
      loc.repository,
      { kind: 'tag', tag: signatureTag(m.digest) },
      { signal: cancel.signal },
    );
    // Read by the lookup, or by nobody when the pull is decided otherwise (then aborted): never an unhandled rejection.
    manifest.catch(() => undefined);
    const ask: EarlyAsk = { key, manifest, release: held.resolve, cancel };
    this.early.set(key, ask);
    return ask;
  }

  /**
   * The pull that asked early is done: an ask that no verification took is dropped, its upstream GET aborted (nobody
   * will read what it downloads; an abort of sigward's own is not an upstream failure in the metrics) and its memory
   * share given back. Called whether or not one took it (always once the pull is done, and when the pull is decided
   * otherwise): a verification takes an ask by removing it from `early`, so only an ask still there, and still this
   * very one (not another pull's asked later under the same key), is aborted; a taken one is released by its
   * verification.
   */
  private dropEarly(asked: EarlyAsk | undefined): void {
    if (asked === undefined || this.early.get(asked.key) !== asked) return;
    this.early.delete(asked.key);
    asked.cancel.abort();
    asked.release();
  }

  /** policy.decideWithoutSignatures, remembered for rules that are not `signed`: it is pure (policy/ reads no
   * clock), its decisions are frozen, and building one (messages included) was a visible share of a pull's CPU when
   * the image needs no signature. */
  private withoutSignatures(
    policy: CompiledPolicy,
    res: Resolution,
    ctx: Parameters<CompiledPolicy['decideWithoutSignatures']>[1],
  ): Decision | undefined {
    // A signed rule mostly answers "verify" (undefined) after a field check or two: cheaper than the key below, and
    // remembering it would only push the decisions worth keeping out of the map.
    if (res.rule?.kind === 'signed') return policy.decideWithoutSignatures(res, ctx);
    const key = `${policy.hash}|${res.host}/${res.repository}|${ctx.digest}|${ctx.kind ?? ''}|${ctx.tag ?? ''}|${ctx.coveredBy ?? ''}`;
    const known = this.quick.get(key);
    if (known !== undefined) return known ?? undefined;
    const d = policy.decideWithoutSignatures(res, ctx);
    if (this.quick.size >= QUICK_DECISIONS) this.quick.clear();
    this.quick.set(key, d ?? null);
    return d;
  }

  private async verify(
    policy: CompiledPolicy,
    target: Target,
    res: Resolution,
    rule: SignedRule,
    digest: Digest,
    ctx: Parameters<CompiledPolicy['evaluate']>[2],
    early?: EarlyAsk,
  ): Promise<StoredVerdict> {
    const loc: SignatureLocation = {
      ...this.locationOf(rule, target),
      ...(early && { legacyManifest: early.manifest }),
    };
    const verifyCtx = {
      digest,
      keys: rule.keys,
      identities: rule.identities,
      identityTlog: rule.identityTlog,
      ...(rule.keyTlog !== undefined ? { keyTlog: rule.keyTlog } : {}),
      // Only private-CA certificates are checked at this time; Fulcio ones only at a logged or timestamped time.
      now: new Date((this.deps.now ?? Date.now)()),
    };
    // Each signature is verified once, whether the legacy ones are judged on their own first or not.
    const checked = new Map<UntrustedSignature, SignatureCheck>();
    const check = (sig: UntrustedSignature): SignatureCheck => {
      let c = checked.get(sig);
      if (c === undefined) checked.set(sig, (c = verifySignature(sig, verifyCtx)));
      return c;
    };
    // A policy met by the `.sig` signatures alone is decided without waiting for the bundle path (signatures.ts).
    const legacySuffices = (legacy: readonly UntrustedSignature[]): boolean =>
      policy.evaluate(res, legacy.map(check), ctx).outcome === 'verified';
    // A lookup holds at most limits.signatureBytesPerLookup; all lookups and proofs together at most the shared budget.
    const discover = (): Promise<Discovery> =>
      this.deps.readAllSignatures === true
        ? discoverSignatures(loc, digest, this.limits)
        : discoverSignatures(loc, digest, this.limits, legacySuffices, this.legacyRepos.has(loc.display));
    // An early ask already holds this lookup's share (askEarly).
    const lookup = early === undefined ? this.memory.run(this.limits.lookupBytes, discover) : discover();
    const found = await (this.deps.metrics?.signatureLookup(lookup) ?? lookup);
    if (found.legacyAlone) this.legacyRepos.set(loc.display, true);
    else this.legacyRepos.delete(loc.display);
    const checks = found.signatures.map(check);
    for (const u of found.unreadable) {
      checks.push({
        format: isBundleSource(u.source) ? 'bundle' : 'legacy',
        source: u.source,
        verified: false,
        signers: [],
        reason: u.overLimit ? 'over-limit' : 'malformed',
        message: u.message,
      });
    }
    const decision = policy.evaluate(res, checks, ctx);
    return { decision, formats: found.formats, found: checks.length };
  }

  /** One line in the decision log. A failed write is logged and does not fail the pull: the log records decisions,
   * it does not make them. */
  private audit(
    policy: CompiledPolicy,
    target: Target,
    digest: string,
    tag: string | undefined,
    d: Decision,
    reqId?: string,
  ): void {
    const sink = this.deps.audit;
    if (sink === undefined) return;
    const repo = `${target.upstream.host}/${target.repository}`;
    try {
      sink.record({
        policyHash: policy.hash,
        image: `${repo}${tag !== undefined ? `:${tag}` : ''}@${digest}`,
        digest,
        outcome: d.outcome,
        allow: d.allow,
        wouldDeny: d.wouldDeny,
        policy: d.policyName,
        signers: d.signers,
        reasons: d.perSignature.map((p) => ({
          source: p.source,
          format: p.format,
          counted: p.counted,
          reason: p.reason,
          message: p.message,
        })),
      });
    } catch (e) {
      this.deps.log.error(
        { reqId, image: `${repo}@${digest}`, err: e instanceof Error ? e.message : String(e) },
        'audit log write failed: this decision is not in the audit log',
      );
    }
  }

  private logDecision(
    target: Target,
    digest: string,
    d: Decision,
    v: { formats: readonly string[]; found: number },
    ms: number,
    cached: boolean,
    reqId?: string,
  ): void {
    this.deps.metrics?.decision(d.policyName, d.outcome, cached, ms);
    // Pulls let through WITHOUT a signature (allow: unsigned, default allow) are always logged, as the README says.
    const level =
      !d.allow || d.wouldDeny
        ? 'warn'
        : cached && d.outcome !== 'unsigned-allowed' && d.outcome !== 'default-allow'
          ? 'debug'
          : 'info';
    const log = this.deps.log;
    if (!log.isLevelEnabled(level)) return;
    const line = {
      reqId,
      image: `${target.upstream.host}/${target.repository}@${digest}`,
      policy: d.policyName,
      outcome: d.outcome,
      allow: d.allow,
      wouldDeny: d.wouldDeny,
      signers: d.signers,
      formats: v.formats,
      signatures: v.found,
      cached,
      ms: Math.round(ms * 100) / 100,
    };
    if (level === 'warn') log.warn({ ...line, why: d.message }, 'verification decision');
    else log[level](line, 'verification decision');
  }
}

const UNSIGNED_OUTCOMES = new Set(['no-signatures', 'no-valid-signature', 'index-only']);

/** A platform manifest fetched by digest with no covering index (e.g. after a restart) gets a hint on what to do. */
function withHint(d: Decision, parsed: ParsedManifest, tag: string | undefined): string {
  if (tag !== undefined || parsed.isIndex || !UNSIGNED_OUTCOMES.has(d.outcome)) return d.message;
  return `${d.message}\nIf this is a platform manifest of a multi-arch image signed at its index (cosign's default), pull the image by its tag or index digest: sigward lets a platform manifest through once a verified index of the same repository lists it.`;
}
