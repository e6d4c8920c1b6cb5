// `sigward serve`'s stdout is pino's JSON lines only (so `sigward serve | jq` works); the human banner
// (`sigward listening on …`, `policy …`) goes to stderr.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createInterface } from 'node:readline';
import { spawnServe } from '../helpers/serve-child.ts';

test('serve: every stdout line is JSON; the banner is on stderr', async () => {
  const sw = spawnServe({
    log: { level: 'info' },
    upstreams: [{ host: 'example.test', url: 'http://127.0.0.1:9', default: true }],
    policy: { default: 'allow' },
  });
  const { child, exited } = sw;
  try {
    const stdoutLines: string[] = [];
    // Read stdout until the first JSON log line (`listening`, logged after the banner was written).
    for await (const line of createInterface({ input: child.stdout })) {
      stdoutLines.push(line);
      if (line.startsWith('{')) break;
    }
    assert.ok(stdoutLines.length > 0, `no stdout before exit; stderr: ${sw.stderr()}`);
    for (const line of stdoutLines) assert.doesNotThrow(() => JSON.parse(line), `stdout line is not JSON: ${line}`);
    const first = JSON.parse(stdoutLines[0] ?? '') as { msg?: string };
    assert.equal(first.msg, 'listening');
    // The banner was written before that log line, so it is on stderr by now (or arrives before exit).
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
    assert.match(sw.stderr(), /^sigward listening on http:\/\/127\.0\.0\.1:\d+ /m);
    assert.match(sw.stderr(), /^policy [0-9a-f]{12}: /m);
  } finally {
    sw.remove();
  }
});
