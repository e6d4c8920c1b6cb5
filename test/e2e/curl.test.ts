// curl against the sigward DAEMON (bin/sigward.mjs serve) in front of a real distribution registry that needs Basic
// credentials (password from passwordEnv): byte-exact blobs and manifests, `curl -f` failing on refusals, and the
// access log: one JSON line per request, its id equal to the X-Request-Id header, and never an upstream password.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildImage, buildMultiArch, OCI_INDEX, OCI_MANIFEST, pushImage } from '../helpers/images.ts';
import { removeTempDir, runCommand, tempDir, waitFor, type CommandResult } from '../helpers/proc.ts';
import { startRegistry, type Registry } from '../helpers/registry.ts';
import { startSigwardProcess, type RunningSigward } from '../helpers/sigward.ts';
import { at, must } from '../helpers/must.ts';

const PASSWORD = 'pw-E2E-Upstream-3b8e61d4';
const WRONG = 'pw-E2E-Wrong-c09f2a57';
const single = buildImage({ files: { 'hello.txt': 'curl through the sigward daemon\n' } });
const multi = buildMultiArch({ 'arch.txt': 'curl through the sigward daemon\n' });
const layer = must([...single.blobs].at(-1), '[...single.blobs].at(-1)'); // layers come after the config
const config = at([...single.blobs], 0);

let reg: Registry | undefined;
let sw: RunningSigward | undefined;
let dir: string;

interface Curl extends CommandResult {
  headers: Record<string, string>;
  body: Buffer;
}

/** curl -sS with the response headers and body captured in files; extra args before the URL. */
async function curl(path: string, args: readonly string[] = []): Promise<Curl> {
  const id = Math.random().toString(36).slice(2);
  const hdr = join(dir, `${id}.headers`);
  const out = join(dir, `${id}.body`);
  const res = await runCommand('curl', ['-sS', '-D', hdr, '-o', out, ...args, `${must(sw, 'sw').url}${path}`], {
    timeoutMs: 30_000,
  });
  const headers: Record<string, string> = {};
  let body = Buffer.alloc(0);
  try {
    for (const line of readFileSync(hdr, 'utf8').split('\r\n')) {
      const m = /^([^:\s]+):\s*(.*)$/.exec(line);
      if (m) headers[at(m, 1).toLowerCase()] = at(m, 2);
    }
    body = readFileSync(out);
  } catch {
    // curl may write neither file when it fails before an answer; the exit code then says why.
  }
  return { ...res, headers, body };
}

interface LogLine {
  msg?: string;
  reqId?: string;
  method?: string;
  path?: string;
  status?: number;
  code?: string;
}

function logText(): string {
  return readFileSync(must(must(sw, 'sw').logFile, 'sw.logFile'), 'utf8');
}

function requestLines(): LogLine[] {
  return logText()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogLine)
    .filter((l) => l.msg === 'request');
}

before(async () => {
  dir = tempDir('curl-e2e');
  reg = await startRegistry({ auth: 'htpasswd', pass: PASSWORD });
  await pushImage(reg, 'test/single', 'v1', single);
  await pushImage(reg, 'test/multi', 'v1', multi);
  sw = await startSigwardProcess(
    {
      upstreams: [
        {
          host: 'example.test',
          url: reg.url,
          default: true,
          auth: { username: 'testuser', passwordEnv: 'SIGWARD_E2E_PW' },
        },
        { host: 'wrong.test', url: reg.url, auth: { username: 'testuser', passwordEnv: 'SIGWARD_E2E_WRONG_PW' } },
      ],
      policy: { default: 'allow' },
    },
    { SIGWARD_E2E_PW: PASSWORD, SIGWARD_E2E_WRONG_PW: WRONG },
  );
});

after(async () => {
  await sw?.stop();
  await reg?.stop();
  if (dir) removeTempDir(dir);
});

describe('curl against the daemon', () => {
  test('a blob by digest, byte-exact, with its digest header', async () => {
    for (const [digest, data] of [layer, config]) {
      const r = await curl(`/v2/example.test/test/single/blobs/${digest}`, ['-f', '-L']);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(r.body, Buffer.from(data as Uint8Array));
      assert.equal(r.headers['docker-content-digest'], digest);
      assert.equal(r.headers['content-length'], String((data as Uint8Array).length));
    }
  });

  test('a manifest and an index by tag with an OCI Accept header, byte-exact', async () => {
    const m = await curl('/v2/example.test/test/single/manifests/v1', ['-f', '-H', `Accept: ${OCI_MANIFEST}`]);
    assert.equal(m.code, 0, m.stderr);
    assert.deepEqual(m.body, single.bytes);
    assert.equal(m.headers['content-type'], OCI_MANIFEST);
    assert.equal(m.headers['docker-content-digest'], single.digest);
    const i = await curl('/v2/example.test/test/multi/manifests/v1', ['-f', '-H', `Accept: ${OCI_INDEX}`]);
    assert.equal(i.code, 0, i.stderr);
    assert.deepEqual(i.body, multi.bytes);
    assert.equal(i.headers['docker-content-digest'], multi.digest);
  });

  test("curl's own Accept (*/*) gets the manifest too: sigward asks the upstream with the full list", async () => {
    // distribution alone answers 404 here for an OCI manifest; sigward does not pass that on.
    const r = await curl(`/v2/example.test/test/single/manifests/${single.digest}`, ['-f']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.body, single.bytes);
  });

  test('a manifest whose type the Accept header excludes is 404 MANIFEST_UNKNOWN saying why', async () => {
    const r = await curl('/v2/example.test/test/multi/manifests/v1', ['-H', `Accept: ${OCI_MANIFEST}`]);
    assert.equal(r.code, 0);
    const err = JSON.parse(r.body.toString()) as { errors: { code: string; message: string }[] };
    assert.equal(err.errors[0]?.code, 'MANIFEST_UNKNOWN');
    assert.match(err.errors[0]?.message ?? '', /multi-platform index/);
  });

  test('curl -f exits 22 on a 404 and on a 405', async () => {
    const missing = await curl('/v2/example.test/test/single/manifests/nope', ['-f', '-H', `Accept: ${OCI_MANIFEST}`]);
    assert.equal(missing.code, 22, missing.stderr);
    assert.match(missing.stderr, /404/);
    const put = await curl('/v2/example.test/test/single/manifests/v2', [
      '-f',
      '-X',
      'PUT',
      '-H',
      `Content-Type: ${OCI_MANIFEST}`,
      '--data-binary',
      '{}',
    ]);
    assert.equal(put.code, 22, put.stderr);
    assert.match(put.stderr, /405/);
    const upload = await curl('/v2/example.test/test/single/blobs/uploads/', ['-f', '-X', 'POST']);
    assert.equal(upload.code, 22, upload.stderr);
  });
});

describe('the access log of the daemon', () => {
  test('one JSON line per request, whose reqId is the X-Request-Id the client got', async () => {
    const calls: { path: string; args: string[]; method: string; status: number }[] = [
      { path: '/v2/', args: [], method: 'GET', status: 200 },
      {
        path: '/v2/example.test/test/single/manifests/v1',
        args: ['-I', '-H', `Accept: ${OCI_MANIFEST}`],
        method: 'HEAD',
        status: 200,
      },
      { path: `/v2/example.test/test/single/blobs/${layer[0]}`, args: [], method: 'GET', status: 200 },
      { path: `/v2/example.test/test/single/blobs/${layer[0]}`, args: ['-I'], method: 'HEAD', status: 200 },
      {
        path: '/v2/example.test/test/single/manifests/nope',
        args: ['-H', `Accept: ${OCI_MANIFEST}`],
        method: 'GET',
        status: 404,
      },
      { path: '/v2/example.test/test/single/manifests/v1', args: ['-X', 'DELETE'], method: 'DELETE', status: 405 },
      {
        path: '/v2/wrong.test/test/single/manifests/v1',
        args: ['-H', `Accept: ${OCI_MANIFEST}`],
        method: 'GET',
        status: 502,
      },
    ];
    const ids = new Set<string>();
    for (const c of calls) {
      const r = await curl(c.path, c.args);
      assert.equal(r.code, 0, r.stderr);
      const id = r.headers['x-request-id'];
      assert.ok(id, `${c.method} ${c.path}: X-Request-Id header`);
      assert.ok(!ids.has(id), `request ids are unique: ${id}`);
      ids.add(id);
      await waitFor(async () => requestLines().some((l) => l.reqId === id), `the access line of ${id}`, 5_000);
      const lines = requestLines().filter((l) => l.reqId === id);
      assert.equal(lines.length, 1, `exactly one line for ${id}`);
      const line = at(lines, 0);
      assert.equal(line.method, c.method);
      assert.equal(line.path, c.path);
      assert.equal(line.status, c.status, JSON.stringify(line));
      if (c.status >= 400) assert.ok(line.code, `an error line names its code: ${JSON.stringify(line)}`);
    }
  });

  test('once serving, every line the daemon writes is JSON: no stray stack traces (HEAD requests included)', () => {
    // Start-up notices are plain text for a person at a terminal; everything after the first request is pino JSON.
    const lines = logText()
      .split('\n')
      .filter((l) => l.trim() !== '');
    const first = lines.findIndex((l) => l.startsWith('{') && (JSON.parse(l) as LogLine).msg === 'request');
    assert.ok(first >= 0, 'the log holds request lines');
    const stray = lines.slice(first).filter((l) => {
      try {
        JSON.parse(l);
        return false;
      } catch {
        return true;
      }
    });
    assert.deepEqual(stray, []);
  });

  test('never contains an upstream password, plain or Basic-encoded, even after auth failures', () => {
    const text = logText();
    assert.ok(
      requestLines().some((l) => l.status === 502),
      'the log covers a rejected-credentials request',
    );
    for (const secret of [PASSWORD, WRONG]) {
      assert.ok(!text.includes(secret), 'password in the log');
      assert.ok(!text.includes(Buffer.from(`testuser:${secret}`).toString('base64')), 'Basic credentials in the log');
    }
  });
});
