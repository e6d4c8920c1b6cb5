// `sigward serve` on SIGTERM: stops accepting at once, lets an in-flight request finish, exits 0. The daemon runs as
// a child process; the upstream (a fake on 127.0.0.1) holds a blob answer half-sent until the test releases it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request, type IncomingMessage } from 'node:http';
import { createInterface } from 'node:readline';
import { sha256, startFakeUpstream } from '../helpers/fake-upstream.ts';
import { spawnServe, type ServeChild } from '../helpers/serve-child.ts';

interface Held {
  port: number;
  child: ServeChild['child'];
  exited: Promise<number | string | null>;
  stderr: () => string;
  /** The in-flight blob request, whose first bytes have arrived: resolves with the whole body. */
  body: Promise<Buffer>;
  blob: Buffer;
  /** Let the upstream send the rest of the blob. */
  release: () => void;
  /** SIGTERM/SIGINT the daemon; resolves once it logged that it is shutting down (it no longer accepts then). */
  signal: (sig: NodeJS.Signals) => Promise<void>;
  cleanup: () => Promise<void>;
}

/** The daemon as a child process, with one blob request in flight that the upstream holds half-sent. */
async function startHeld(): Promise<Held> {
  const blob = randomBytes(1024 * 1024);
  const digest = sha256(blob);
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  // sigward holds back the last chunk it has read until the next one (or the end) arrives, so the upstream sends
  // small chunks until the client has received bytes, then holds the rest until released.
  let clientHasBytes = false;
  const fake = await startFakeUpstream();
  fake.route(`/v2/app/blobs/${digest}`, (_req, res) => {
    res.writeHead(200, {
      'Content-Type': 'application/octet-stream',
      'Content-Length': String(blob.length),
      'Docker-Content-Digest': digest,
    });
    void (async () => {
      let sent = 0;
      while (!clientHasBytes && sent < blob.length - 64 * 1024) {
        const chunk = blob.subarray(sent, sent + 1024);
        await new Promise<void>((resolve) => res.write(chunk, () => resolve()));
        sent += chunk.length;
      }
      await released;
      res.end(blob.subarray(sent));
    })();
  });
  const sw = spawnServe({
    log: { level: 'info' },
    upstreams: [
      { host: 'example.test', url: fake.url, default: true, timeouts: { headers: '60s', body: '60s' }, retries: 0 },
    ],
    policy: { default: 'allow' },
  });
  const { child, exited } = sw;
  // Safety bound only (the daemon's own grace is 10 s): a hung shutdown fails the test instead of hanging it.
  const safety = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const cleanup = async (): Promise<void> => {
    clearTimeout(safety);
    release();
    sw.remove();
    await fake.stop();
  };
  try {
    const lines = createInterface({ input: child.stdout });
    let port = 0;
    for await (const line of lines) {
      const m = /"listen":"127\.0\.0\.1:(\d+)"/.exec(line);
      if (m) {
        port = Number(m[1]);
        break;
      }
    }
    assert.ok(port > 0, `sigward did not start: ${sw.stderr()}`);
    const res = await new Promise<IncomingMessage>((resolve, reject) =>
      request({ host: '127.0.0.1', port, path: `/v2/example.test/app/blobs/${digest}` }, resolve)
        .on('error', reject)
        .end(),
    );
    assert.equal(res.statusCode, 200);
    const chunks: Buffer[] = [];
    const first = new Promise<void>((resolve) => res.once('data', () => resolve()));
    res.on('data', (c: Buffer) => {
      clientHasBytes = true;
      chunks.push(c);
    });
    const body = new Promise<Buffer>((resolve, reject) => {
      res.on('end', () => resolve(Buffer.concat(chunks)));
      res.on('error', reject);
    });
    body.catch(() => {});
    await first;
    const signal = (sig: NodeJS.Signals): Promise<void> => {
      const shuttingDown = new Promise<void>((resolve) => {
        const onLine = (line: string): void => {
          if (line.includes('"shutting down"')) {
            lines.off('line', onLine);
            resolve();
          }
        };
        lines.on('line', onLine);
      });
      child.kill(sig);
      return shuttingDown;
    };
    return { port, child, exited, stderr: () => sw.stderr(), body, blob, release, signal, cleanup };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

test('serve: SIGTERM lets an in-flight blob finish, refuses new connections, exits 0', async () => {
  const h = await startHeld();
  try {
    await h.signal('SIGTERM');
    // No longer accepting: a new connection is refused while the old request is still open.
    const refused = await new Promise<string>((resolve) =>
      request({ host: '127.0.0.1', port: h.port, path: '/v2/' }, () => resolve('answered'))
        .on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message))
        .end(),
    );
    assert.equal(refused, 'ECONNREFUSED');
    assert.equal(h.child.exitCode, null, 'still running while a request is in flight');

    h.release();
    const got = await h.body;
    assert.equal(got.length, h.blob.length);
    assert.ok(got.equals(h.blob), 'the in-flight blob arrived whole');
    assert.equal(await h.exited, 0, h.stderr());
  } finally {
    await h.cleanup();
  }
});

test('serve: a second signal exits at once, without waiting for the in-flight request', async () => {
  const h = await startHeld();
  try {
    await h.signal('SIGINT');
    assert.equal(h.child.exitCode, null, 'waiting for the in-flight request');
    h.child.kill('SIGTERM');
    assert.equal(await h.exited, 1, h.stderr());
    await assert.rejects(h.body, 'the held request was cut');
  } finally {
    await h.cleanup();
  }
});
