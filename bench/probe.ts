// Single manifest GETs timed in-process (undici, keep-alive): the client of the latency figures. A node client costs
// more per request than wrk or curl, but it is the same client for every contender, connections are reused (no
// TCP setup in the figure), and it can fire a herd of simultaneous requests. Each answer's status and digest are
// checked, so a fast error never passes for a fast pull.
import { Agent, request } from 'undici';
import { ALL_MANIFEST_TYPES } from '../test/helpers/registry-client.ts';

export interface Probe {
  /** GET `url` once; ms from sending to the last body byte. Throws unless `expect` status (and digest, if 200). */
  get(url: string, expectDigest: string, expect?: number): Promise<number>;
  /** GET `url` once, any status; the body is read whole (small answers only). */
  raw(url: string): Promise<{ status: number; body: Buffer }>;
  close(): Promise<void>;
}

export function newProbe(connections = 8): Probe {
  const agent = new Agent({ connections, keepAliveTimeout: 60_000 });
  return {
    async get(url, expectDigest, expect = 200) {
      const t0 = process.hrtime.bigint();
      const res = await request(url, { dispatcher: agent, headers: { accept: ALL_MANIFEST_TYPES } });
      const body = await res.body.text();
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      const got = res.headers['docker-content-digest'];
      if (res.statusCode !== expect || (expect === 200 && got !== expectDigest)) {
        throw new Error(
          `GET ${url} answered ${res.statusCode} (digest ${String(got)}), expected ${expect}` +
            `${expect === 200 ? ` with ${expectDigest}` : ''}: ${body.slice(0, 400)}`,
        );
      }
      return ms;
    },
    async raw(url) {
      const res = await request(url, { dispatcher: agent, headers: { accept: ALL_MANIFEST_TYPES } });
      return { status: res.statusCode, body: Buffer.from(await res.body.arrayBuffer()) };
    },
    close: () => agent.close(),
  };
}

const digestsOf = (json: Buffer, field: 'layers' | 'manifests'): string[] =>
  ((JSON.parse(json.toString('utf8')) as Record<string, { digest: string }[] | undefined>)[field] ?? []).map(
    (d) => d.digest,
  );

/**
 * Read, directly from the upstream at `base`, every file a signature lookup of `repo@digest` (tag `tag`) reads: the
 * tag, the legacy `.sig` manifest and its layers, the referrers tag index, the referrer manifests and their blobs.
 * After the blob scenarios have filled the page cache with big blobs, the registry's small files may be on disk
 * only; without this the direct GET of a round would pay a disk read that sigward's lookups right after it skip
 * (or the reverse), and the difference of the two would measure the disk.
 */
export async function prewarmSignatures(
  probe: Probe,
  base: string,
  repo: string,
  tag: string,
  digest: string,
): Promise<void> {
  const get = async (rest: string): Promise<Buffer | undefined> => {
    const r = await probe.raw(`${base}/v2/${repo}/${rest}`);
    return r.status === 200 ? r.body : undefined;
  };
  const hex = digest.replace(/^sha256:/, '');
  await get(`manifests/${tag}`);
  const sig = await get(`manifests/sha256-${hex}.sig`);
  if (sig) for (const d of digestsOf(sig, 'layers')) await get(`blobs/${d}`);
  const index = await get(`manifests/sha256-${hex}`);
  for (const m of index ? digestsOf(index, 'manifests') : []) {
    const referrer = await get(`manifests/${m}`);
    if (referrer) for (const d of digestsOf(referrer, 'layers')) await get(`blobs/${d}`);
  }
}

/**
 * The request after the tag on a legacy cold pull's critical path, timed as a direct GET from the upstream at `base`:
 * the `sha256-<hex>.sig` manifest, ms. (Its layer is not on sigward's path when the payload shape rebuilds it; the
 * requests-upstream rows show whether it was fetched.)
 */
export async function timeSignaturePath(
  probe: Probe,
  base: string,
  repo: string,
  digest: string,
): Promise<{ sigMs: number }> {
  const hex = digest.replace(/^sha256:/, '');
  const t0 = process.hrtime.bigint();
  const r = await probe.raw(`${base}/v2/${repo}/manifests/sha256-${hex}.sig`);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 200) throw new Error(`direct GET of the .sig manifest of ${repo}@${digest} answered ${r.status}`);
  return { sigMs: ms };
}

/** `n` simultaneous GETs of one URL, each on its own connection; every answer must be 200 with `expectDigest`. */
export async function herdGet(
  url: string,
  expectDigest: string,
  n: number,
): Promise<{ wallMs: number; slowestMs: number }> {
  const agent = new Agent({ connections: n, keepAliveTimeout: 1000 });
  try {
    const t0 = process.hrtime.bigint();
    const each = await Promise.all(
      Array.from({ length: n }, async () => {
        const res = await request(url, { dispatcher: agent, headers: { accept: ALL_MANIFEST_TYPES } });
        const body = await res.body.text();
        if (res.statusCode !== 200 || res.headers['docker-content-digest'] !== expectDigest) {
          throw new Error(`herd GET ${url} answered ${res.statusCode}: ${body.slice(0, 400)}`);
        }
        return Number(process.hrtime.bigint() - t0) / 1e6;
      }),
    );
    return { wallMs: Number(process.hrtime.bigint() - t0) / 1e6, slowestMs: Math.max(...each) };
  } finally {
    await agent.close();
  }
}
