// The state kept across restarts: the journal's rewrite (compaction) is durable, as seen by the kernel (strace of a
// real process: the new file is fsynced before it is renamed over the journal, and its directory after the rename);
// and fail-static with cache.stateSize 0, which keeps nothing, is warned about by check-config and by serve at start.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { readJournal, sealLine } from '../../src/state/journal.ts';
import { sigwardInProcess } from '../helpers/cli-process.ts';
import { startSigwardProcess } from '../helpers/sigward.ts';
import { removeTempDir, tempDir } from '../helpers/proc.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const run = promisify(execFile);

describe('the journal rewrite survives a crash', () => {
  const dir = tempDir('state-durable');
  after(() => removeTempDir(dir));

  test('the temp file is fsynced before the rename, the directory after it', async () => {
    const journal = join(dir, 'journal');
    const key = Buffer.alloc(32, 1);
    writeFileSync(journal, sealLine(key, { t: 'old' }));
    const trace = join(dir, 'strace.txt');
    const script =
      `import { rewriteJournal, sealLine } from ${JSON.stringify(join(ROOT, 'src/state/journal.ts'))};\n` +
      `const key = Buffer.alloc(32, 1);\n` +
      `await rewriteJournal(${JSON.stringify(journal)}, [sealLine(key, { t: 'new', n: 1 }), sealLine(key, { t: 'new', n: 2 })]);\n`;
    await run(
      'strace',
      ['-f', '-e', 'trace=openat,fsync,fdatasync,rename,renameat,renameat2', '-o', trace, process.execPath].concat([
        '--import',
        'tsx',
        '--input-type=module',
        '-e',
        script,
      ]),
      { cwd: ROOT },
    );
    const calls = readFileSync(trace, 'utf8')
      .split('\n')
      .map((l) => l.replace(/^\d+\s+/, ''));
    const tmp = `${journal}.tmp`;
    const fdOf = (i: number): string | undefined => / = (\d+)$/.exec(calls[i] ?? '')?.[1];
    const tmpOpen = calls.findIndex((l) => l.startsWith('openat(') && l.includes(`"${tmp}"`));
    const renamed = calls.findIndex((l) => /^rename(at2?)?\(/.test(l) && l.includes(`"${tmp}"`) && l.endsWith('= 0'));
    const dirOpen = calls.findIndex((l, i) => i > renamed && l.startsWith('openat(') && l.includes(`"${dir}"`));
    assert.ok(tmpOpen >= 0 && renamed > tmpOpen, 'the temp file is written, then renamed');
    const syncedAt = (fd: string | undefined, from: number, to: number): boolean =>
      fd !== undefined && calls.slice(from, to).some((l) => new RegExp(`^f(data)?sync\\(${fd}\\)\\s+= 0$`).test(l));
    assert.ok(syncedAt(fdOf(tmpOpen), tmpOpen, renamed), 'the temp file is fsynced before the rename');
    assert.ok(dirOpen > renamed, 'the directory is opened after the rename');
    assert.ok(syncedAt(fdOf(dirOpen), dirOpen, calls.length), 'and fsynced');
    const read = await readJournal(journal, key);
    assert.deepEqual(read.records, [
      { t: 'new', n: 1 },
      { t: 'new', n: 2 },
    ]);
  });
});

describe('failStatic with cache.stateSize 0', () => {
  const dir = tempDir('state-warning');
  after(() => removeTempDir(dir));
  const config = (stateSize: string) => ({
    upstreams: [
      { host: 'plain.test', url: 'http://127.0.0.1:9' },
      { host: 'kept.test', url: 'http://127.0.0.1:9', failStatic: '1h' },
    ],
    policy: { default: 'deny' },
    cache: { dir: join(dir, 'cache'), stateSize },
  });

  test('check-config warns, naming the upstream and what to set; not with a state size', async () => {
    const file = join(dir, 'zero.yaml');
    writeFileSync(file, stringify(config('0')));
    const r = await sigwardInProcess(['check-config', file]);
    assert.equal(r.code, 0, r.stderr);
    const warnings = r.stdout.split('\n').filter((l) => l.startsWith('warning: upstreams['));
    assert.deepEqual(
      warnings.map((l) => l.slice(0, l.indexOf(' has'))),
      ['warning: upstreams[1] (kept.test)'],
    );
    assert.ok(warnings[0]?.includes('cache.stateSize is 0'), warnings[0]);
    assert.ok(warnings[0]?.includes('Set cache.stateSize to a size'), warnings[0]);
    writeFileSync(file, stringify(config('64MiB')));
    const fine = await sigwardInProcess(['check-config', file]);
    assert.equal(fine.code, 0, fine.stderr);
    assert.ok(!fine.stdout.includes('failStatic'), fine.stdout);
  });

  test('a reload that turns failStatic on under a started stateSize of 0 is warned about', async () => {
    const sw = await startSigwardProcess({
      ...config('0'),
      upstreams: [{ host: 'kept.test', url: 'http://127.0.0.1:9' }],
    });
    try {
      const warned = (): boolean =>
        readFileSync(sw.logFile as string, 'utf8')
          .split('\n')
          .some((l) => l.includes('"level":40') && l.includes('has failStatic, but cache.stateSize is 0'));
      assert.equal(warned(), false, 'no failStatic yet');
      // The file now sets a size, but cache.stateSize needs a restart: the daemon still keeps nothing.
      writeFileSync(sw.configFile, stringify(config('64MiB')));
      const r = await sigwardInProcess(['reload', '--url', sw.url, '--config', sw.configFile]);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(r.stderr.includes('cache.stateSize'), r.stderr);
      assert.equal(warned(), true, readFileSync(sw.logFile as string, 'utf8'));
    } finally {
      await sw.stop();
    }
  });

  test('serve logs the warning at start', async () => {
    const sw = await startSigwardProcess(config('0'));
    try {
      const log = readFileSync(sw.logFile as string, 'utf8');
      const line = log.split('\n').find((l) => l.includes('"level":40') && l.includes('kept.test'));
      assert.ok(line?.includes('has failStatic, but cache.stateSize is 0'), log);
    } finally {
      await sw.stop();
    }
  });
});
