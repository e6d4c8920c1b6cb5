// A minimal OCI Distribution client for tests: pushes raw bytes byte-exact (distribution-spec "Pushing blobs",
// monolithic POST then PUT ?digest=; "Pushing manifests") and reads manifests and blobs back. It answers 401
// challenges itself: Basic with the registry's user/pass, Bearer by fetching a token from the challenge's realm
// (Docker token protocol). A custom CA is honoured through a per-session undici Agent; no global dispatcher.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { Agent, request, type Dispatcher } from 'undici';
import { at, must } from './must.ts';

/** Where to push or read: the object startRegistry() returns fits, or any URL with optional credentials and CA. */
export interface RegistryTarget {
  url: string;
  user?: string;
  pass?: string;
  caPem?: string;
}

/** Blob content: bytes in memory, or a file (big layers). */
export type BlobData = Uint8Array | { file: string; size: number };

export interface FetchedManifest {
  status: number;
  bytes: Buffer;
  /** The Content-Type the registry sent. */
  mediaType: string | undefined;
  /** The Docker-Content-Digest header. */
  digest: string | undefined;
}

type Body = () => Buffer | Readable | undefined;

/** Every manifest type, because distribution 2.8 negotiates on Accept even for a digest. */
export const ALL_MANIFEST_TYPES = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
].join(', ');

export const sha256 = (data: Uint8Array): string => `sha256:${createHash('sha256').update(data).digest('hex')}`;

/** `key="value"` pairs of a WWW-Authenticate challenge (RFC 7235 auth-params). */
function challengeParams(header: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of header.matchAll(/([a-zA-Z_]+)="([^"]*)"/g)) out.set(at(m, 1).toLowerCase(), at(m, 2));
  return out;
}

/** One authenticated conversation with one repository; close() releases the connections. */
export class RegistrySession {
  private readonly agent: Agent;
  private authorization: string | undefined;

  constructor(
    readonly reg: RegistryTarget,
    readonly repo: string,
    private readonly actions = 'pull,push',
  ) {
    this.agent = new Agent(reg.caPem ? { connect: { ca: reg.caPem } } : {});
  }

  private basic(): string {
    if (this.reg.user === undefined) {
      throw new Error(`${this.reg.url} asks for credentials; give the target a user and pass`);
    }
    return `Basic ${Buffer.from(`${this.reg.user}:${this.reg.pass ?? ''}`).toString('base64')}`;
  }

  /** Turn a 401 challenge into an Authorization value (one token request for Bearer). */
  private async answer(challenge: string): Promise<string> {
    if (/^basic\b/i.test(challenge)) return this.basic();
    if (!/^bearer\b/i.test(challenge)) throw new Error(`unsupported auth challenge from ${this.reg.url}: ${challenge}`);
    const params = challengeParams(challenge);
    const realm = params.get('realm');
    if (!realm) throw new Error(`Bearer challenge without a realm from ${this.reg.url}: ${challenge}`);
    const url = new URL(realm);
    if (params.has('service')) url.searchParams.set('service', must(params.get('service'), "params.get('service')"));
    url.searchParams.set('scope', `repository:${this.repo}:${this.actions}`);
    const res = await request(url, {
      dispatcher: this.agent,
      headers: this.reg.user !== undefined ? { authorization: this.basic() } : {},
    });
    const text = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`token request to ${realm} failed: HTTP ${res.statusCode} ${text}`);
    const json = JSON.parse(text) as { token?: string; access_token?: string };
    const token = json.token ?? json.access_token;
    if (!token) throw new Error(`token response from ${realm} has no token: ${text}`);
    return `Bearer ${token}`;
  }

  /** Send one request; on 401, answer the challenge and retry once. The body factory is called per attempt. */
  async send(
    method: Dispatcher.HttpMethod,
    pathOrUrl: string,
    headers: Record<string, string> = {},
    body: Body = () => undefined,
  ): Promise<Dispatcher.ResponseData> {
    const url = new URL(pathOrUrl, `${this.reg.url}/`);
    for (let attempt = 0; ; attempt++) {
      const h = { ...headers, ...(this.authorization ? { authorization: this.authorization } : {}) };
      const payload = body();
      const res = await request(url, { method, headers: h, body: payload ?? null, dispatcher: this.agent });
      const challenge = res.headers['www-authenticate'];
      if (res.statusCode !== 401 || attempt > 0 || challenge === undefined) return res;
      await res.body.dump();
      if (payload instanceof Readable) payload.destroy(); // a file stream cannot be replayed: the next attempt opens it anew
      this.authorization = await this.answer(Array.isArray(challenge) ? at(challenge, 0) : challenge);
    }
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}

async function fail(res: Dispatcher.ResponseData, what: string): Promise<never> {
  throw new Error(`${what}: HTTP ${res.statusCode} ${(await res.body.text()).slice(0, 500)}`);
}

/** Upload one blob unless the repository already has it; returns its digest. `ask: false` skips the HEAD that asks
 * (for blobs known to be new: an upload of a blob the registry has succeeds too, it only costs more). */
export async function pushBlobIn(
  s: RegistrySession,
  blob: BlobData,
  knownDigest?: string,
  opts: { ask?: boolean } = {},
): Promise<string> {
  const digest = knownDigest ?? (blob instanceof Uint8Array ? sha256(blob) : undefined);
  if (digest === undefined) throw new Error('pushBlob: a file blob needs its digest');
  if (opts.ask !== false) {
    const head = await s.send('HEAD', `/v2/${s.repo}/blobs/${digest}`);
    await head.body.dump();
    if (head.statusCode === 200) return digest;
  }
  const start = await s.send('POST', `/v2/${s.repo}/blobs/uploads/`, { 'content-length': '0' });
  if (start.statusCode !== 202) return fail(start, `starting upload of ${digest} to ${s.repo}`);
  await start.body.dump();
  const location = start.headers.location;
  if (typeof location !== 'string') throw new Error(`upload start for ${s.repo} returned no Location`);
  const put = new URL(location, `${s.reg.url}/`); // Location may be relative
  put.searchParams.set('digest', digest);
  const size = blob instanceof Uint8Array ? blob.byteLength : blob.size;
  const res = await s.send(
    'PUT',
    put.href,
    { 'content-type': 'application/octet-stream', 'content-length': String(size) },
    () =>
      blob instanceof Uint8Array
        ? Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength)
        : createReadStream(blob.file),
  );
  if (res.statusCode !== 201) return fail(res, `uploading blob ${digest} to ${s.repo}`);
  await res.body.dump();
  return digest;
}

/** PUT manifest bytes exactly as given; returns the digest and checks the registry computed the same one. */
export async function pushManifestIn(
  s: RegistrySession,
  ref: string,
  bytes: Uint8Array,
  mediaType: string,
): Promise<string> {
  const body = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const res = await s.send('PUT', `/v2/${s.repo}/manifests/${ref}`, { 'content-type': mediaType }, () => body);
  if (res.statusCode !== 201) return fail(res, `pushing manifest ${s.repo}:${ref}`);
  await res.body.dump();
  const digest = sha256(body);
  const echoed = res.headers['docker-content-digest'];
  if (echoed !== undefined && echoed !== digest) {
    throw new Error(`registry stored ${s.repo}:${ref} as ${String(echoed)} but the bytes hash to ${digest}`);
  }
  return digest;
}

/** Push one blob to `repo`; returns its digest. */
export async function pushBlob(reg: RegistryTarget, repo: string, blob: BlobData, digest?: string): Promise<string> {
  const s = new RegistrySession(reg, repo);
  try {
    return await pushBlobIn(s, blob, digest);
  } finally {
    await s.close();
  }
}

/** Push raw manifest bytes to `repo` under `ref` (a tag or the digest); returns the digest. */
export async function pushManifest(
  reg: RegistryTarget,
  repo: string,
  ref: string,
  bytes: Uint8Array,
  mediaType: string,
): Promise<string> {
  const s = new RegistrySession(reg, repo);
  try {
    return await pushManifestIn(s, ref, bytes, mediaType);
  } finally {
    await s.close();
  }
}

/** GET a manifest by tag or digest with every manifest type in Accept (or `accept`); never throws on a status. */
export async function getManifest(
  reg: RegistryTarget,
  repo: string,
  ref: string,
  accept = ALL_MANIFEST_TYPES,
): Promise<FetchedManifest> {
  const s = new RegistrySession(reg, repo, 'pull');
  try {
    const res = await s.send('GET', `/v2/${repo}/manifests/${ref}`, { accept });
    const bytes = Buffer.from(await res.body.arrayBuffer());
    const header = (name: string): string | undefined => {
      const v = res.headers[name];
      return Array.isArray(v) ? v[0] : v;
    };
    return {
      status: res.statusCode,
      bytes,
      mediaType: header('content-type'),
      digest: header('docker-content-digest'),
    };
  } finally {
    await s.close();
  }
}

/** GET a blob's bytes by digest; throws unless 200. */
export async function getBlob(reg: RegistryTarget, repo: string, digest: string): Promise<Buffer> {
  const s = new RegistrySession(reg, repo, 'pull');
  try {
    const res = await s.send('GET', `/v2/${repo}/blobs/${digest}`);
    if (res.statusCode !== 200) return await fail(res, `fetching blob ${digest} from ${repo}`);
    return Buffer.from(await res.body.arrayBuffer());
  } finally {
    await s.close();
  }
}
