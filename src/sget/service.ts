// The /sget endpoint (issue 4): a file is handed out only after its digest, and by tag its signature, checked out.
// Order of work for a GET: path grammar -> policy (by tag: before any upstream call) -> manifest (tags resolved at
// the upstream, bytes hashed) -> the signature gate's decision on that digest -> the one layer to serve -> the
// verified store file, downloaded once per digest if absent (spool.ts) -> bytes to the client. Every refusal comes
// before the status line, so `curl -f` exits non-zero and writes nothing.
import { SigwardError } from '../errors.ts';
import { parsedManifest } from '../proxy/parsed-manifest.ts';
import { imageRef, referenceString } from '../oci/reference.ts';
import type { RouteRequest, SgetHandler } from '../http/routes.ts';
import type { Router, Target } from '../http/routing.ts';
import type { Logger } from '../log.ts';
import type { CompiledPolicy, Decision } from '../policy/types.ts';
import type { SignatureGate } from '../proxy/gate.ts';
import type { HashThread } from '../proxy/hash-thread.ts';
import type { ManifestService } from '../proxy/manifests.ts';
import type { ClientProvider } from '../proxy/service.ts';
import { SingleFlight } from '../util/single-flight.ts';
import { judgeBlob, judgeDigest, judgeTag, preflightTag } from './admit.ts';
import { selectFile, type ArtifactFile } from './artifact.ts';
import { parseSgetPath } from './path.ts';
import { requestedRange, sendFile, sendHead, type ServedFile } from './serve.ts';
import { spool, tooLarge } from './spool.ts';
import type { BlobStore, OpenBlob } from './store.ts';

export interface SgetDeps {
  readonly router: Router;
  readonly clients: ClientProvider;
  readonly manifests: ManifestService;
  readonly gate: Pick<SignatureGate, 'decide'>;
  readonly policy: CompiledPolicy;
  readonly store: BlobStore;
  /** Where big downloads are hashed (a second core). */
  readonly hashing: Pick<HashThread, 'hasher'>;
  /** sget.maxArtifactSize. */
  readonly maxArtifactBytes: number;
  readonly log: Logger;
}

interface Chosen {
  readonly target: Target;
  readonly file: ArtifactFile;
  readonly byTag: boolean;
  readonly manifestDigest?: ArtifactFile['digest'];
  readonly headers: Record<string, string>;
}

export class SgetService implements SgetHandler {
  private readonly flights = new SingleFlight<void>();

  constructor(private readonly deps: SgetDeps) {}

  /** Upstream downloads actually started (after coalescing): tests and the benchmark count them. */
  get downloads(): number {
    return this.flights.calls;
  }

  get store(): BlobStore {
    return this.deps.store;
  }

  /** `rest` is the request path after `/sget/`. */
  async handle(req: RouteRequest, rest: string): Promise<void> {
    const c = await this.choose(req, rest);
    const { file, target } = c;
    if (file.size !== undefined && file.size > this.deps.maxArtifactBytes) {
      throw tooLarge(`${target.upstream.host}/${target.repository}`, file.digest, file.size, this.deps.maxArtifactBytes);
    }
    const served = (size: number): ServedFile => ({
      digest: file.digest,
      size,
      mediaType: file.mediaType,
      title: file.title,
      byTag: c.byTag,
      ...(c.manifestDigest === undefined ? {} : { manifestDigest: c.manifestDigest }),
    });
    if (req.method === 'HEAD') {
      // HEAD answers from the (checked) descriptor without downloading: it carries no content.
      const size = file.size ?? (await this.deps.clients.get(target.upstream.host).headBlob(target.repository, file.digest)).size;
      if (size === undefined) throw new SigwardError('UPSTREAM_INVALID', `upstream gave no size for ${target.upstream.host}/${target.repository}@${file.digest}`);
      sendHead(req.res, served(size), c.headers);
      return;
    }
    await this.deps.store.ready();
    const { blob, stored } = await this.obtain(target, file);
    req.state.outcome = `${req.state.outcome ?? 'allowed'}, ${stored ? 'from store' : 'downloaded'}`;
    const f = served(blob.size);
    await sendFile(req.res, blob, f, requestedRange(req.headers as { range?: string; 'if-range'?: string }, f), c.headers);
  }

  /** Policy, manifest, signature and layer selection: everything that may refuse, before any byte goes out. */
  private async choose(req: RouteRequest, rest: string): Promise<Chosen> {
    const route = parseSgetPath(rest);
    const target = this.deps.router.resolve(route.name, null);
    const host = target.upstream.host;
    if (route.kind === 'blob') {
      req.state.image = `${host}/${target.repository}`;
      req.state.digest = route.digest;
      const d = judgeBlob(this.deps.policy, target, route.digest);
      req.state.outcome = d.outcome;
      const file = { digest: route.digest, size: undefined, mediaType: 'application/octet-stream', title: undefined };
      return { target, file, byTag: false, headers: decisionHeaders(d) };
    }
    const ref = route.ref;
    req.state.image = imageRef(host, target.repository, ref);
    req.state.reference = referenceString(ref);
    if (ref.kind === 'tag') preflightTag(this.deps.policy, target, ref.tag);
    const m = await this.deps.manifests.get(this.deps.clients.get(host), host, target.repository, ref);
    req.state.digest = m.digest;
    const parsed = parsedManifest(m);
    const tag = ref.kind === 'tag' ? ref.tag : undefined;
    const { decision } = await this.deps.gate.decide(target, m, parsed, tag, req.state.id);
    req.state.outcome = decision.outcome;
    if (tag !== undefined) judgeTag(decision, target, tag, m.digest);
    else judgeDigest(decision, m.digest);
    const file = selectFile(parsed, imageRef(host, target.repository, m.digest), req.url.searchParams.get('file') ?? undefined);
    return { target, file, byTag: tag !== undefined, manifestDigest: m.digest, headers: decisionHeaders(decision) };
  }

  /** The verified store file, downloading it once for all concurrent askers when absent. */
  private async obtain(target: Target, file: ArtifactFile): Promise<{ blob: OpenBlob; stored: boolean }> {
    const where = `${target.upstream.host}/${target.repository}`;
    for (let attempt = 0; attempt < 2; attempt++) {
      const blob = await this.deps.store.checkout(file.digest);
      if (blob) {
        if (file.size !== undefined && blob.size !== file.size) {
          await blob.fh.close();
          throw new SigwardError('UPSTREAM_INVALID', `the manifest of ${where} says ${file.digest} is ${file.size} bytes, but that blob is ${blob.size} bytes; nothing was served`);
        }
        return { blob, stored: attempt === 0 };
      }
      // Not tied to this request: a client that disconnects leaves the download running for the others.
      await this.flights.run(file.digest, async () => {
        if (this.deps.store.has(file.digest)) return; // stored by a download that finished a moment ago
        await spool(this.deps.store, {
          digest: file.digest,
          size: file.size,
          maxBytes: this.deps.maxArtifactBytes,
          where,
          fetch: () => this.deps.clients.get(target.upstream.host).getBlob(target.repository, file.digest),
          hashing: this.deps.hashing,
        }, this.deps.log);
      });
    }
    throw new SigwardError('STORE_UNAVAILABLE', `${where}@${file.digest} was downloaded and checked but evicted before it could be served: sget.storeSize is too small for the downloads in progress; try again or raise it`, {
      reason: 'sget store too small',
      retryAfter: 5,
    });
  }
}

/** Which policy let it through, and the warn-mode note when it would have been refused. */
function decisionHeaders(d: Decision): Record<string, string> {
  const h: Record<string, string> = { 'X-Sigward-Policy': d.policyName.replace(/[^\x20-\x7e]/g, '?'), 'X-Sigward-Outcome': d.outcome };
  if (d.signers.length > 0) h['X-Sigward-Signers'] = d.signers.join(', ').replace(/[^\x20-\x7e]/g, '?');
  if (d.wouldDeny) {
    h.Warning = `299 sigward "${d.summary.replace(/["\\]/g, "'")}"`;
    h['X-Sigward-Would-Deny'] = d.outcome;
  }
  return h;
}
