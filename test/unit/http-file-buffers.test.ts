// A file answer (warm blob from the store, sget download) reads through two 512 KiB buffers. A send that finished with
// every write flushed hands its pair to the next send, so warm downloads allocate nothing; a send whose writes were
// not all flushed never hands its pair on (a write may still hold it). Real loopback server, real file; the file handle
// is wrapped only to see which buffers each send reads into, and the unflushed case uses a response that never flushes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeAnswer } from '../../src/http/answer.ts';
import type { FileAnswer } from '../../src/proxy/answer.ts';

const SIZE = 3 * 512 * 1024 + 12_345;

/** `real`, noting in `used` each buffer a read goes into (a file answer uses only read() and close()). */
function spyHandle(real: FileHandle, used: Set<ArrayBufferLike>): FileHandle {
  return {
    read: (buf: Buffer, off: number, len: number, pos: number) => {
      used.add(buf.buffer);
      return real.read(buf, off, len, pos);
    },
    close: () => real.close(),
  } as unknown as FileHandle;
}

interface Send {
  /** The ArrayBuffers the send read the file into. */
  readonly used: Set<ArrayBufferLike>;
  readonly done: Promise<void>;
}

async function withServer(fn: (serve: () => Promise<{ url: string; send: Promise<Send> }>) => Promise<void>) {
  const dir = mkdtempSync(join(tmpdir(), 'sigward-file-buffers-'));
  const file = join(dir, 'blob');
  writeFileSync(file, randomBytes(SIZE));
  let next: ((s: Send) => void) | undefined;
  const server = http.createServer((req, res) => {
    void (async () => {
      const used = new Set<ArrayBufferLike>();
      const fh = spyHandle(await open(file, 'r'), used);
      const a: FileAnswer = {
        kind: 'file',
        status: 200,
        headers: { 'Content-Length': String(SIZE) },
        fh,
        start: 0,
        end: SIZE - 1,
      };
      const done = Promise.resolve(writeAnswer(res, a, req.method ?? 'GET')).catch(() => undefined);
      next?.({ used, done });
    })();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  try {
    await fn(() => Promise.resolve({ url, send: new Promise<Send>((r) => (next = r)) }));
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  }
}

/** GET the whole body; its sha256 and length. */
function fetchAll(url: string): Promise<{ bytes: number; sha: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false }, (res) => {
        const h = createHash('sha256');
        let bytes = 0;
        res.on('data', (c: Buffer) => {
          bytes += c.length;
          h.update(c);
        });
        res.on('end', () => resolve({ bytes, sha: h.digest('hex') }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

test('a second file send reads into the first one’s buffers, and both bodies are whole and equal', async () => {
  await withServer(async (serve) => {
    const one = await serve();
    const body1 = await fetchAll(one.url);
    const s1 = await one.send;
    await s1.done;
    const two = await serve();
    const body2 = await fetchAll(two.url);
    const s2 = await two.send;
    await s2.done;
    assert.equal(body1.bytes, SIZE);
    assert.deepEqual(body2, body1);
    assert.equal(s1.used.size, 2, 'one send reads into two buffers');
    assert.equal([...s2.used].filter((b) => s1.used.has(b)).length, 2, 'the second send reused the first pair');
  });
});

test('a send whose last writes were never flushed (the client left) does not hand its buffers on', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sigward-file-buffers-'));
  const file = join(dir, 'small');
  // One full chunk and a half: two reads, two writes, and the loop is over; both writes are still pending then.
  writeFileSync(file, randomBytes(512 * 1024 + 1000));
  const used = new Set<ArrayBufferLike>();
  const fh = spyHandle(await open(file, 'r'), used);
  // A response whose socket never flushes: write callbacks are kept, not called.
  class StuckResponse extends EventEmitter {
    destroyed = false;
    headersSent = false;
    readonly pending: (() => void)[] = [];
    writeHead(): this {
      this.headersSent = true;
      return this;
    }
    write(_chunk: Buffer, cb: () => void): boolean {
      this.pending.push(cb);
      return false;
    }
    end(cb?: () => void): void {
      cb?.();
    }
  }
  const stuck = new StuckResponse();
  const a: FileAnswer = { kind: 'file', status: 200, headers: {}, fh, start: 0, end: 512 * 1024 + 999 };
  const sent = Promise.resolve(writeAnswer(stuck as unknown as http.ServerResponse, a, 'GET'));
  while (stuck.pending.length < 2) await new Promise((r) => setImmediate(r));
  // The client goes away with both writes unflushed.
  stuck.destroyed = true;
  stuck.emit('close');
  await sent;
  rmSync(dir, { recursive: true, force: true });
  assert.equal(used.size, 2);
  await withServer(async (serve) => {
    const two = await serve();
    const body = await fetchAll(two.url);
    const s2 = await two.send;
    await s2.done;
    assert.equal(body.bytes, SIZE);
    assert.deepEqual(
      [...s2.used].filter((b) => used.has(b)),
      [],
      'a buffer a pending write still held was read into by the next send',
    );
  });
});
