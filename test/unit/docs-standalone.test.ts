// The documentation and comments stand alone: no link to a place outside this repository (a sibling `../shared`
// checkout, shared/docs, shared/vectors) and no bare issue numbers a reader cannot follow.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const ROOT = new URL('../../', import.meta.url).pathname;
const TEXT = /\.(md|ts|mjs|ya?ml)$/;
const BAD: [RegExp, string][] = [
  [/\.\.\/shared\b|\bshared\/(docs|vectors)\b/, 'a path outside the repository'],
  [/\bissue #?\d+/i, 'an issue number'],
  [/(?<![A-Za-z0-9&])#\d{2,}\b/, 'an issue number'],
];

function* files(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* files(p);
    else if (TEXT.test(name)) yield p;
  }
}

test('README, docs, bench/README.md, config, src and test name nothing outside the repository', () => {
  const found: string[] = [];
  const roots = ['README.md', 'docs', 'bench/README.md', 'config', 'src', 'test'].map((p) => join(ROOT, p));
  for (const root of roots) {
    for (const file of statSync(root).isDirectory() ? files(root) : [root]) {
      if (file === new URL(import.meta.url).pathname) continue;
      readFileSync(file, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          for (const [re, what] of BAD)
            if (re.test(line)) found.push(`${relative(ROOT, file)}:${i + 1}: ${what}: ${line.trim()}`);
        });
    }
  }
  assert.deepEqual(found, []);
});
