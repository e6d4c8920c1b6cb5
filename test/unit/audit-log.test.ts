// The decision log's writer (src/audit/log.ts) and chain check (src/audit/verify.ts): the chain, rotation across
// files, the keep limit, a torn tail cut on reopen; and the `audit` config section.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { AuditLog, GENESIS, type AuditDecision } from '../../src/audit/log.ts';
import { verifyChain } from '../../src/audit/verify.ts';
import { parseConfigText } from '../../src/config/parse.ts';
import { auditFileProblem } from '../../src/config/audit.ts';
import { removeTempDir, tempDir } from '../helpers/proc.ts';
import { createLogger } from '../../src/log.ts';

const dirs: string[] = [];
after(() => dirs.forEach(removeTempDir));
function dir(): string {
  const d = tempDir('audit');
  dirs.push(d);
  return d;
}

const T0 = Date.UTC(2026, 0, 2, 3, 4, 5);
const clock = () => {
  let t = T0;
  return () => (t += 1000);
};

function decision(i: number, allow = true): AuditDecision {
  return {
    policyHash: 'ab'.repeat(32),
    image: `example.test/apps/a${i}:v1@sha256:${String(i).padStart(64, '0')}`,
    digest: `sha256:${String(i).padStart(64, '0')}`,
    outcome: allow ? 'verified' : 'no-valid-signature',
    allow,
    wouldDeny: false,
    policy: 'apps',
    signers: allow ? ['alice'] : [],
    reasons: allow
      ? [{ source: 'sig', format: 'legacy', counted: true }]
      : [{ source: 'sig', format: 'legacy', counted: false, reason: 'bad-signature', message: 'x'.repeat(5000) }],
  };
}

const sha = (s: string): string => createHash('sha256').update(s).digest('hex');
const linesOf = (file: string): string[] => readFileSync(file, 'utf8').split(/(?<=\n)/);
const files = (d: string) => readdirSync(d).sort();

describe('audit log writer', () => {
  test('each line chains to the one before (exact bytes, newline included); the first carries 64 zeros', () => {
    const d = dir();
    const file = join(d, 'audit.log');
    const log = AuditLog.open({ file, maxBytes: 1024 ** 2, keep: 5, now: clock() });
    for (let i = 0; i < 3; i++) log.record(decision(i, i !== 1));
    log.close();
    const lines = linesOf(file);
    assert.equal(lines.length, 3);
    const entries = lines.map((l) => JSON.parse(l));
    assert.equal(entries[0].prev, GENESIS);
    assert.equal(entries[1].prev, sha(lines[0] ?? ''));
    assert.equal(entries[2].prev, sha(lines[1] ?? ''));
    assert.deepEqual(
      entries.map((e) => e.seq),
      [0, 1, 2],
    );
    assert.equal(entries[0].time, new Date(T0 + 1000).toISOString());
    assert.equal(entries[1].allow, false);
    assert.equal(entries[1].image, 'example.test/apps/a1:v1@sha256:' + '1'.padStart(64, '0'));
    assert.equal(entries[1].reasons[0].reason, 'bad-signature');
    assert.ok(entries[1].reasons[0].message.length <= 200, 'messages are clipped');
    assert.deepEqual(verifyChain([{ name: 'audit.log', bytes: readFileSync(file) }]), {
      ok: true,
      lines: 3,
      firstSeq: 0,
      lastSeq: 2,
    });
  });

  test('reopened, the chain continues from the last line', () => {
    const d = dir();
    const file = join(d, 'audit.log');
    const a = AuditLog.open({ file, maxBytes: 1024 ** 2, keep: 5, now: clock() });
    a.record(decision(0));
    a.close();
    const b = AuditLog.open({ file, maxBytes: 1024 ** 2, keep: 5, now: clock() });
    assert.equal(b.nextSeq, 1);
    b.record(decision(1));
    b.close();
    const lines = linesOf(file);
    assert.equal(JSON.parse(lines[1] ?? '').prev, sha(lines[0] ?? ''));
    assert.equal(verifyChain([{ name: 'audit.log', bytes: readFileSync(file) }]).ok, true);
  });

  test('rotation: the chain crosses files, seq keeps counting, only `keep` rotated files stay', () => {
    const d = dir();
    const file = join(d, 'audit.log');
    // Each line is ~400 bytes: three fit under 1300 bytes, the fourth rotates.
    const log = AuditLog.open({ file, maxBytes: 1300, keep: 2, now: clock() });
    for (let i = 0; i < 14; i++) log.record(decision(i));
    log.close();
    assert.deepEqual(files(d), ['audit.log', 'audit.log.1', 'audit.log.2']);
    const order = ['audit.log.2', 'audit.log.1', 'audit.log'];
    const all = order.flatMap((n) => linesOf(join(d, n)));
    for (const n of order) assert.ok(readFileSync(join(d, n)).length <= 1300, `${n} is within maxSize`);
    const seqs = all.map((l) => JSON.parse(l).seq as number);
    assert.equal(seqs.at(-1), 13);
    assert.deepEqual(
      seqs,
      seqs.map((_, i) => (seqs[0] ?? 0) + i),
    );
    assert.ok((seqs[0] ?? 0) > 0, 'the oldest lines were rotated away');
    // The first line of each newer file carries the hash of the last line of the file before it.
    const first = (n: string) => JSON.parse(linesOf(join(d, n))[0] ?? '').prev;
    assert.equal(first('audit.log.1'), sha(linesOf(join(d, 'audit.log.2')).at(-1) ?? ''));
    assert.equal(first('audit.log'), sha(linesOf(join(d, 'audit.log.1')).at(-1) ?? ''));
    const r = verifyChain(order.map((n) => ({ name: n, bytes: readFileSync(join(d, n)) })));
    assert.deepEqual(r, { ok: true, lines: all.length, firstSeq: seqs[0], lastSeq: 13 });
    // Given out of order, the files do not chain.
    assert.equal(
      verifyChain(
        ['audit.log.1', 'audit.log.2', 'audit.log'].map((n) => ({ name: n, bytes: readFileSync(join(d, n)) })),
      ).ok,
      false,
    );
  });

  test('a torn last line (a crash mid-write) is cut on reopen, with a warning, and the chain continues', () => {
    const d = dir();
    const file = join(d, 'audit.log');
    const a = AuditLog.open({ file, maxBytes: 1024 ** 2, keep: 5, now: clock() });
    a.record(decision(0));
    a.record(decision(1));
    a.close();
    const good = readFileSync(file, 'utf8');
    appendFileSync(file, '{"time":"2026-01-02T03:04:05.000Z","seq":2,"prev":"ab');
    const warnings: string[] = [];
    const logger = createLogger('warn', { write: (s: string) => void warnings.push(s) });
    const b = AuditLog.open({ file, maxBytes: 1024 ** 2, keep: 5, now: clock(), log: logger });
    assert.equal(readFileSync(file, 'utf8'), good, 'cut back to the last complete line');
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] ?? '', /torn line/);
    assert.equal(b.nextSeq, 2);
    b.record(decision(2));
    b.close();
    const r = verifyChain([{ name: 'audit.log', bytes: readFileSync(file) }]);
    assert.deepEqual(r, { ok: true, lines: 3, firstSeq: 0, lastSeq: 2 });
  });

  test('a file holding only a torn line is emptied; an empty file after a rotation continues from file.1', () => {
    const d = dir();
    const file = join(d, 'audit.log');
    writeFileSync(file, '{"seq":0,"pr');
    const a = AuditLog.open({ file, maxBytes: 1024 ** 2, keep: 5, now: clock() });
    assert.equal(readFileSync(file, 'utf8'), '');
    assert.equal(a.nextSeq, 0);
    a.record(decision(0));
    a.close();
    assert.equal(JSON.parse(readFileSync(file, 'utf8')).prev, GENESIS);
    // A crash right after a rotation: file.1 holds the chain's last line, the new file is empty.
    const last = readFileSync(file, 'utf8');
    writeFileSync(`${file}.1`, last);
    writeFileSync(file, '');
    const b = AuditLog.open({ file, maxBytes: 1024 ** 2, keep: 5, now: clock() });
    b.record(decision(1));
    b.close();
    assert.equal(JSON.parse(readFileSync(file, 'utf8')).prev, sha(last));
    assert.equal(verifyChain([`${file}.1`, file].map((n) => ({ name: n, bytes: readFileSync(n) }))).ok, true);
  });

  test('a complete last line that is not an entry stops the open', () => {
    const d = dir();
    const file = join(d, 'audit.log');
    writeFileSync(file, 'not json\n');
    assert.throws(() => AuditLog.open({ file, maxBytes: 1024 ** 2, keep: 5 }), /not an audit entry/);
  });
});

describe('audit chain check', () => {
  const chain = (): string[] => {
    const d = dir();
    const file = join(d, 'audit.log');
    const log = AuditLog.open({ file, maxBytes: 1024 ** 2, keep: 5, now: clock() });
    for (let i = 0; i < 5; i++) log.record(decision(i));
    log.close();
    return linesOf(file);
  };
  const check = (lines: string[]) => verifyChain([{ name: 'f', bytes: Buffer.from(lines.join('')) }]);

  test('a changed line that is still JSON is reported at the next line (prev mismatch)', () => {
    const lines = chain();
    lines[2] = (lines[2] ?? '').replace('apps/a2', 'apps/b2');
    const r = check(lines);
    assert.equal(r.ok, false);
    assert.ok(!r.ok && r.line === 4 && r.problem.startsWith('prev mismatch'), JSON.stringify(r));
  });

  test('a line that no longer parses is reported itself (bad JSON)', () => {
    const lines = chain();
    lines[2] = (lines[2] ?? '').replace('{', '[');
    const r = check(lines);
    assert.ok(!r.ok && r.line === 3 && r.problem.startsWith('bad JSON'), JSON.stringify(r));
  });

  test('a removed line and a swapped pair are seq gaps at the line that moved up', () => {
    const removed = chain();
    removed.splice(2, 1);
    const r1 = check(removed);
    assert.ok(!r1.ok && r1.line === 3 && r1.problem.startsWith('seq gap'), JSON.stringify(r1));
    const swapped = chain();
    [swapped[1], swapped[2]] = [swapped[2] ?? '', swapped[1] ?? ''];
    const r2 = check(swapped);
    assert.ok(!r2.ok && r2.line === 2 && r2.problem.startsWith('seq gap'), JSON.stringify(r2));
  });

  test('a file without a final newline is a torn line', () => {
    const lines = chain();
    const r = check([...lines.slice(0, 4), (lines[4] ?? '').trimEnd()]);
    assert.ok(!r.ok && r.line === 5 && r.problem.startsWith('torn line'), JSON.stringify(r));
  });
});

describe('audit config', () => {
  const base = 'upstreams: [{host: ghcr.io}]\n';
  test('absent: no audit log; present: defaults for maxSize and keep', () => {
    assert.equal(parseConfigText(base).config?.audit, undefined);
    assert.deepEqual(parseConfigText(`${base}audit: {file: /var/log/sigward/audit.log}\n`).config?.audit, {
      file: '/var/log/sigward/audit.log',
      maxBytes: 64 * 1024 ** 2,
      keep: 5,
    });
    assert.deepEqual(parseConfigText(`${base}audit: {file: a.log, maxSize: 1MiB, keep: 2}\n`).config?.audit, {
      file: 'a.log',
      maxBytes: 1024 ** 2,
      keep: 2,
    });
  });

  test('problems carry their path and line', () => {
    const r = parseConfigText(`${base}audit:\n  maxSize: lots\n  keep: 0\n  rotate: yes\n`);
    const shown = r.problems.map((p) => `${p.path}@${p.line}`);
    // A missing key is shown at its mapping's first line.
    assert.deepEqual(shown.sort(), ['audit.file@3', 'audit.keep@4', 'audit.maxSize@3', 'audit.rotate@5']);
  });

  test('the directory must exist and be writable', () => {
    const d = dir();
    assert.equal(auditFileProblem(join(d, 'audit.log')), undefined);
    assert.match(auditFileProblem(join(d, 'nope', 'audit.log')) ?? '', /does not exist/);
    assert.ok(!existsSync(join(d, 'nope')));
  });
});
