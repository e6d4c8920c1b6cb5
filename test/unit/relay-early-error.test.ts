// relayBlob on an upstream body that already failed before the relay attached its listeners (the blob cache awaits
// its store between the upstream answer and the relay): the relay fails with the upstream's error instead of
// waiting for an 'error' or 'end' that already passed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { relayBlob } from '../../src/proxy/blobs.ts';
import type { BodySink } from '../../src/proxy/answer.ts';
import { isSigwardError } from '../../src/errors.ts';
import type { Digest } from '../../src/oci/digest.ts';

test(
  'a body that errored before the relay started fails the relay; nothing is written',
  { timeout: 10_000 },
  async () => {
    const body = new PassThrough();
    body.on('error', () => undefined); // what was listening before the relay (the upstream client)
    body.destroy(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }));
    await new Promise((resolve) => body.on('close', resolve));
    const written: Buffer[] = [];
    const sink: BodySink = {
      write: (c) => (written.push(c), true),
      end: (_last, done) => done(),
      cut: () => undefined,
      full: false,
      onDrain: () => undefined,
      onClose: () => undefined,
    };
    const digest = `sha256:${'0'.repeat(64)}` as Digest;
    await assert.rejects(
      relayBlob(sink, { status: 200, headers: {}, size: 10, body }, digest, () => undefined),
      (e: unknown) => isSigwardError(e) && e.code === 'UPSTREAM_UNAVAILABLE' && /ECONNRESET/.test(e.message),
    );
    assert.equal(written.length, 0);
  },
);
