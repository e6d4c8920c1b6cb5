// YAML syntax errors and duplicate keys are reported with the line (and column) they are at, by check-config as
// every other problem is.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseYaml } from '../../src/config/parse.ts';
import { main } from '../../src/main.ts';

const cases: { name: string; text: string; line: number; message: RegExp }[] = [
  {
    name: 'an unclosed flow sequence',
    text: 'listen: 127.0.0.1:5000\npolicies: [a, b\nlog:\n  level: info\n',
    line: 3,
    message: /sequence.*\] \(column \d+\)$/,
  },
  { name: 'a tab as indentation', text: 'listen: 127.0.0.1:5000\nlog:\n\tlevel: info\n', line: 3, message: /Tabs/ },
  {
    name: 'a nested mapping on one line',
    text: 'listen: 127.0.0.1:5000\nlog: value: other\n',
    line: 2,
    message: /Nested mappings.*\(column 6\)$/,
  },
  {
    name: 'a duplicate key',
    text: 'listen: 127.0.0.1:5000\nlog:\n  level: info\nlisten: 127.0.0.1:6000\n',
    line: 4,
    message: /^duplicate key "listen" \(first at line 1\)$/,
  },
  {
    name: 'a nested duplicate key',
    text: 'log:\n  level: info\n\n  level: debug\n',
    line: 4,
    message: /^duplicate key "level" \(first at line 2\)$/,
  },
];

for (const c of cases) {
  test(`${c.name} is reported at its line`, () => {
    const { problems } = parseYaml(c.text);
    const p = problems.list[0];
    assert.ok(p, 'a problem is reported');
    assert.equal(p.path, '(yaml)');
    assert.ok(p.line !== undefined && p.line >= 1, `line known: ${JSON.stringify(p)}`);
    if (c.message.source.startsWith('^duplicate')) assert.equal(p.line, c.line);
    else assert.ok(p.line <= c.line + 1, `line ${p.line} near ${c.line}`);
    assert.match(p.message, c.message);
  });
}

test('check-config lists a YAML syntax error as FILE:LINE: (yaml): message', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sigward-yaml-'));
  try {
    const err: string[] = [];
    const io = { out: () => {}, err: (l: string) => err.push(l), env: {} };
    const tab = join(dir, 'tab.yaml');
    writeFileSync(tab, 'listen: 127.0.0.1:5000\nlog:\n\tlevel: info\n');
    assert.equal(await main(['check-config', tab], io), 1);
    assert.match(err.join('\n'), /tab\.yaml:3: \(yaml\): Tabs are not allowed as indentation \(column 1\)/);
    const dup = join(dir, 'dup.yaml');
    writeFileSync(dup, 'listen: 127.0.0.1:5000\nlisten: 127.0.0.1:6000\n');
    assert.equal(await main(['check-config', dup], io), 1);
    assert.match(err.join('\n'), /dup\.yaml:2: \(yaml\): duplicate key "listen" \(first at line 1\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
