// cli/generations.ts: a replaced generation stops refreshing its trust roots at once and closes only when the last
// request it took has closed (sent whole or cut); restartNeeded names, by their config-file names, exactly the
// settings a reload cannot apply.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import type { SigwardApp } from '../../src/app.ts';
import { Generation, restartNeeded } from '../../src/cli/generations.ts';
import { parseConfigText } from '../../src/config/parse.ts';
import type { Config } from '../../src/config/types.ts';

/** The parts of an app a Generation touches, recording what happened to them. */
function app(events: string[]): SigwardApp {
  return {
    trust: { close: () => events.push('trust closed') },
    close: () => {
      events.push('app closed');
      return Promise.resolve();
    },
  } as unknown as SigwardApp;
}

const response = (): ServerResponse => new EventEmitter() as unknown as ServerResponse;

test('a retired generation closes after its last in-flight request, and once', async () => {
  const events: string[] = [];
  const g = new Generation(app(events));
  const a = response();
  const b = response();
  g.enter(a);
  g.enter(b);
  let closed = false;
  const retired = g.retire().then(() => (closed = true));
  assert.deepEqual(events, ['trust closed'], 'trust roots stop refreshing at once; the app stays open');
  a.emit('close');
  await Promise.resolve();
  assert.equal(closed, false);
  assert.deepEqual(events, ['trust closed'], 'one request still in flight');
  b.emit('close');
  await retired;
  assert.deepEqual(events, ['trust closed', 'app closed']);
  assert.equal(g.retire(), g.retire(), 'retiring again is the same close');
  await g.retire();
  assert.deepEqual(events, ['trust closed', 'app closed']);
});

test('a generation with nothing in flight closes when retired; requests before retiring do not close it', async () => {
  const events: string[] = [];
  const g = new Generation(app(events));
  const r = response();
  g.enter(r);
  r.emit('close');
  await Promise.resolve();
  assert.deepEqual(events, [], 'a current generation is never closed by its requests');
  await g.retire();
  assert.deepEqual(events, ['trust closed', 'app closed']);
});

function config(yaml: string): Config {
  const parsed = parseConfigText(`upstreams: [{ host: example.test, url: 'http://127.0.0.1:5000' }]\n${yaml}`);
  assert.ok(parsed.config, parsed.collector.list.map((p) => p.message).join('; '));
  return parsed.config;
}

test('restartNeeded: listen, cache, sget.storeSize, limits.signatureMemory, blobs, audit and metrics.listen; nothing else', () => {
  const base = config('listen: 127.0.0.1:5050\n');
  assert.deepEqual(restartNeeded(base, config('listen: 127.0.0.1:5050\nlog: { level: debug }\n'), false), []);
  assert.deepEqual(
    restartNeeded(
      base,
      config('listen: 127.0.0.1:6060\ncache: { dir: /elsewhere, allowTtl: 1h, stateSize: 1GiB }\n'),
      false,
    ),
    ['listen', 'cache.dir', 'cache.allowTtl', 'cache.stateSize'],
  );
  assert.deepEqual(
    restartNeeded(base, config('listen: 127.0.0.1:6060\n'), true),
    [],
    '--listen on the command line: the file has no say',
  );
  assert.deepEqual(
    restartNeeded(
      base,
      config(
        'sget: { storeSize: 2GiB }\nlimits: { signatureMemory: 128MiB }\nblobs: { serve: referenced }\naudit: { file: /var/log/d.jsonl }\nmetrics: { listen: main }\n',
      ),
      false,
    ),
    ['sget.storeSize', 'limits.signatureMemory', 'blobs.serve', 'audit', 'metrics.listen'],
  );
});
