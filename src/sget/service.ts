// The /sget endpoint: a file is handed out only after its digest, and by tag its signature, checked out. Order of
// work for a GET: path grammar and upstream (http/, with sget/path.ts) -> policy (by tag: before any upstream call)
// -> manifest (tags resolved at the upstream, bytes hashed) -> the signature gate's verdict on that digest -> the one
// layer to serve -> the verified store file, downloaded once per digest if absent (spool.ts) -> the answer, which
// http/answer.ts writes. Every refusal comes before the status line, so `curl -f` exits non-zero and writes nothing.
import { SigwardError } from '../errors.ts';
import type { Digest } from '../oci/digest.ts';
import { imageRef } from '../oci/reference.ts';
import type { Logger } from '../log.ts';
import type { Decision } from '../policy/types.ts';
import type { Answer, RequestNotes } from '../proxy/answer.ts';
import type { SignatureGate } from '../proxy/gate.ts';
import type { HashThread } from '../proxy/hash-thread.ts';
import type { ManifestService } from '../proxy/manifests.ts';
import type { Target } from '../proxy/target.ts';
import type { ClientProvider } from '../proxy/types.ts';
import { SingleFlight } from '../util/single-flight.ts';
import { judgeBlob, judgeDigest, judgeTag, preflightTag } from './admit.ts';
import { selectFile, type ArtifactFile } from './artifact.ts';
import type { SgetRoute } from './path.ts';
import { fileAnswer, headAnswer, requestedRange, type ServedFile } from './serve.ts';
import { spool, tooLarge } from './spool.ts';
import type { BlobStore, OpenBlob } from './store.ts';

export interface SgetDeps {
  readonly clients: ClientProvider;
  readonly manifests: ManifestService;
  /** The same gate as /v2/ pulls; sget asks only for verdicts (it serves nothing without one), and reads the
   * gate's current policy for what it refuses before any upstream call. */
  readonly gate: Pick<SignatureGate, 'verdict' | 'policy'>;
  readonly store: BlobStore;
  /** Where big downloads are hashed (a second core). */
  readonly hashing: Pick<HashThread, 'batchHasher'>;
  /** sget.maxArtifactSize. */
  readonly maxArtifactBytes: number;
  readonly log: Logger;
}

/** One /sget/ request: its path parsed (sget/path.ts) and resolved to an upstream by http/. */
export interface SgetRequest {
  readonly route: SgetRoute;
  readonly target: Target;
  readonly method: 'GET' | 'HEAD';
  /** `?file=<title>`: which layer of a multi-file artifact. */
  readonly file: string | undefined;
  readonly range: { readonly range?: string; readonly 'if-range'?: string };
  readonly notes: RequestNotes;
}

interface Chosen {
  readonly target: Target;
  readonly file: ArtifactFile;
  readonly byTag: boolean;
  readonly manifestDigest?: ArtifactFile['digest'];
  readonly decision: Decision;
}

export class SgetService {
  private readonly flights = new SingleFlight<void>();
  /** Per digest being downloaded: how many requests still have to open the new file (see obtain). */
  private readonly handoffs = new Map<Digest, { waiting: number; done: Promise<void>; release: () => void }>();

  constructor(private readonly deps: SgetDeps) {}

  /** Upstream downloads actually started (after coalescing): tests and the benchmark count them. */
  get downloads(): number {
    return this.flights.calls;
  }

  get store(): BlobStore {
    return this.deps.store;
  }

  async answer(q: SgetRequest): Promise<Answer> {
    const c = await this.choose(q);
    const { file, target } = c;
    if (file.size !== undefined && file.size > this.deps.maxArtifactBytes) {
      throw tooLarge(
        `${target.upstream.host}/${target.repository}`,
        file.digest,
        file.size,
        this.deps.maxArtifactBytes,
      );
    }
    const served = (size: number): ServedFile => ({
      digest: file.digest,
      size,
      mediaType: file.mediaType,
      title: file.title,
      byTag: c.byTag,
      ...(c.manifestDigest === undefined ? {} : { manifestDigest: c.manifestDigest }),
    });
    // sget names the policy, outcome and signers it served under.
    const decision = { decision: c.decision, named: true };
    if (q.method === 'HEAD') {
      // HEAD answers from the (checked) descriptor without downloading: it carries no content.
      const size =
        file.size ?? (await this.deps.clients.get(target.upstream.host).headBlob(target.repository, file.digest)).size;
      if (size === undefined)
        throw new SigwardError(
          'UPSTREAM_INVALID',
          `upstream gave no size for ${target.upstream.host}/${target.repository}@${file.digest}`,
        );
      return headAnswer(served(size), decision);
    }
    await this.deps.store.ready();
    const { blob, stored } = await this.obtain(target, file);
    q.notes.outcome = `${q.notes.outcome ?? 'allowed'}, ${stored ? 'from store' : 'downloaded'}`;
    const f = served(blob.size);
    return fileAnswer(blob, f, requestedRange(q.range, f), decision);
  }

  /** Join the requests that will open `digest`'s new file; `done` settles once the last of them left. */
  private handoff(digest: Digest): { done: Promise<void>; leave: () => void } {
    let h = this.handoffs.get(digest);
    if (h === undefined) {
      let release = (): void => undefined;
      const done = new Promise<void>((resolve) => (release = resolve));
      h = { waiting: 0, done, release };
      this.handoffs.set(digest, h);
    }
    const joined = h;
    joined.waiting++;
    let left = false;
    return {
      done: joined.done,
      leave: () => {
        if (left) return;
        left = true;
        if (--joined.waiting > 0) return;
        if (this.handoffs.get(digest) === joined) this.handoffs.delete(digest);
        joined.release();
      },
    };
  }

  /** Policy, manifest, signature and layer selection: everything that may refuse, before any byte goes out. */
  private async choose(q: SgetRequest): Promise<Chosen> {
    const { route, target, notes } = q;
    const host = target.upstream.host;
    if (route.kind === 'blob') {
      notes.digest = route.digest;
      const d = judgeBlob(this.deps.gate.policy, target, route.digest);
      notes.outcome = d.outcome;
      const file = { digest: route.digest, size: undefined, mediaType: 'application/octet-stream', title: undefined };
      return { target, file, byTag: false, decision: d };
    }
    const ref = route.ref;
    if (ref.kind === 'tag') preflightTag(this.deps.gate.policy, target, ref.tag);
    const m = await this.deps.manifests.get(this.deps.clients.get(host), host, target.repository, ref);
    notes.digest = m.digest;
    const { decision, parsed } = await this.deps.gate.verdict(target, m, ref, notes.id);
    notes.outcome = decision.outcome;
    if (ref.kind === 'tag') judgeTag(decision, target, ref.tag, m.digest);
    else judgeDigest(decision, m.digest);
    const file = selectFile(parsed, imageRef(host, target.repository, m.digest), q.file);
    return { target, file, byTag: ref.kind === 'tag', manifestDigest: m.digest, decision };
  }

  /** The verified store file, downloading it once for all concurrent askers when absent. */
  private async obtain(target: Target, file: ArtifactFile): Promise<{ blob: OpenBlob; stored: boolean }> {
    const where = `${target.upstream.host}/${target.repository}`;
    const checked = async (blob: OpenBlob): Promise<OpenBlob> => {
      if (file.size !== undefined && blob.size !== file.size) {
        await blob.fh.close();
        throw new SigwardError(
          'UPSTREAM_INVALID',
          `the manifest of ${where} says ${file.digest} is ${file.size} bytes, but that blob is ${blob.size} bytes; nothing was served`,
        );
      }
      return blob;
    };
    const stored = await this.deps.store.checkout(file.digest);
    if (stored) return { blob: await checked(stored), stored: true };
    for (let attempt = 0; attempt < 2; attempt++) {
      // Everyone waiting on this download opens the fresh file before the store may drop it (its background
      // durability step failed): they get the bytes that were checked, later requests download it again.
      const hand = this.handoff(file.digest);
      let blob: OpenBlob | undefined;
      try {
        // Not tied to this request: a client that disconnects leaves the download running for the others.
        await this.flights.run(file.digest, async () => {
          if (this.deps.store.has(file.digest)) return; // stored by a download that finished a moment ago
          await spool(
            this.deps.store,
            {
              digest: file.digest,
              size: file.size,
              maxBytes: this.deps.maxArtifactBytes,
              where,
              fetch: () => this.deps.clients.get(target.upstream.host).getBlob(target.repository, file.digest),
              hashing: this.deps.hashing,
              handedOver: hand.done,
            },
            this.deps.log,
          );
        });
        blob = await this.deps.store.checkout(file.digest);
      } finally {
        hand.leave();
      }
      if (blob) return { blob: await checked(blob), stored: false };
    }
    throw new SigwardError(
      'STORE_UNAVAILABLE',
      `${where}@${file.digest} was downloaded and checked but evicted before it could be served: sget.storeSize is too small for the downloads in progress; try again or raise it`,
      {
        reason: 'sget store too small',
        retryAfter: 5,
      },
    );
  }
}
