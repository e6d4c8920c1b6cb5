// The Go runtimes' reading of manifest bytes, for differential tests of the gate: test/go/decode-manifest built once
// per test process (offline, GOPATH mode against Debian's image-spec and go-digest sources) and kept running; one
// JSON line per request, answered in order.
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { removeTempDir, tempDir } from './proc.ts';

const SOURCE_DIR = new URL('../go/decode-manifest/', import.meta.url).pathname;
/** Where Debian's golang-github-opencontainers-*-dev packages put their sources. */
const GOPATH = '/usr/share/gocode';
/** The build cache, kept between test runs beside the project's other tool caches: a later build only links (a
 * fresh cache compiles encoding/json and the rest each time). Go locks it, so concurrent builds can share it. */
const GOCACHE = new URL('../../node_modules/.cache/sigward-go-build/', import.meta.url).pathname;

export interface GoLayer {
  readonly mediaType: string;
  readonly digest: string;
  /** containerd: unpacked as a filesystem layer. */
  readonly runnable: boolean;
  /** podman: what containers/storage would make of the blob ("missing": not given). */
  readonly blob?: 'archive' | 'not-archive' | 'missing';
}

export interface GoChild {
  readonly mediaType: string;
  readonly digest: string;
}

export interface GoView {
  /** The type the runtime dispatches on: containerd's descriptor type, podman's decided MIME type. */
  readonly type: string;
  readonly kind: 'manifest' | 'index' | 'schema1' | 'ignored';
  /** false: the runtime refuses the document (error says why); nothing is pulled. */
  readonly accepted: boolean;
  readonly error?: string;
  readonly mediaType: string;
  readonly config?: GoChild;
  readonly subject?: GoChild;
  readonly layers: readonly GoLayer[];
  readonly manifests: readonly GoChild[];
}

export interface GoReading {
  readonly containerd: GoView;
  readonly podman: GoView;
}

export interface GoDecodeRequest {
  /** The Content-Type the client receives; undefined or '' when none is sent. */
  readonly contentType: string | undefined;
  readonly body: Uint8Array;
  /** Blobs the client could fetch, by digest (podman sniffs each layer's blob). */
  readonly blobs: ReadonlyMap<string, Uint8Array>;
}

export interface GoDecoder {
  decode(req: GoDecodeRequest): Promise<GoReading>;
  close(): Promise<void>;
}

const b64 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');

/** Build the decoder and start it. Throws with the setup hint when Go or the Debian sources are missing. */
export function startGoDecoder(): GoDecoder {
  const goVersion = spawnSync('go', ['version'], { encoding: 'utf8' });
  if (
    goVersion.error ||
    goVersion.status !== 0 ||
    !existsSync(join(GOPATH, 'src/github.com/opencontainers/image-spec/specs-go/v1'))
  ) {
    throw new Error(
      `go-decoder: needs Go and the image-spec/go-digest sources under ${GOPATH}: run scripts/setup-test-deps.sh`,
    );
  }
  const dir = tempDir('go-decoder');
  const bin = join(dir, 'decode-manifest');
  // No module proxy is reachable: GOPATH mode, no network, the project's own build cache (a private one in the temp
  // dir where node_modules cannot be written).
  let cache = GOCACHE;
  try {
    mkdirSync(cache, { recursive: true });
  } catch {
    cache = join(dir, 'cache');
  }
  const env = {
    ...process.env,
    GO111MODULE: 'off',
    GOPATH,
    GOCACHE: cache,
    GOFLAGS: '',
    GOPROXY: 'off',
    CGO_ENABLED: '0',
  };
  const build = spawnSync('go', ['build', '-o', bin, '.'], { cwd: SOURCE_DIR, env, encoding: 'utf8' });
  if (build.status !== 0) {
    removeTempDir(dir);
    throw new Error(
      `go-decoder: go build failed (run scripts/setup-test-deps.sh if a package is missing):\n${build.stderr}`,
    );
  }
  const child: ChildProcessWithoutNullStreams = spawn(bin, [], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const waiting: { resolve: (r: GoReading) => void; reject: (e: Error) => void }[] = [];
  let failed: Error | undefined;
  const failAll = (e: Error): void => {
    failed ??= e;
    for (const w of waiting.splice(0)) w.reject(failed);
  };
  child.on('error', failAll);
  child.on('exit', (code, sig) => failAll(new Error(`go-decoder exited (${code ?? sig}): ${stderr}`)));
  createInterface({ input: child.stdout }).on('line', (line) => {
    const w = waiting.shift();
    if (w === undefined) return failAll(new Error(`go-decoder: unexpected output ${line}`));
    const res = JSON.parse(line) as GoReading & { error?: string };
    if (res.error !== undefined) w.reject(new Error(`go-decoder: ${res.error}`));
    else w.resolve(res);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  return {
    decode(req) {
      if (failed) return Promise.reject(failed);
      const line = JSON.stringify({
        contentType: req.contentType ?? '',
        body: b64(req.body),
        blobs: Object.fromEntries([...req.blobs].map(([d, b]) => [d, b64(b)])),
      });
      return new Promise<GoReading>((resolve, reject) => {
        waiting.push({ resolve, reject });
        child.stdin.write(`${line}\n`);
      });
    },
    async close() {
      if (child.exitCode === null && child.signalCode === null) {
        child.stdin.end();
        await exited;
      }
      removeTempDir(dir);
    },
  };
}
