#!/usr/bin/env node
// `npm test`: node's test runner via tsx over every *.test.ts file under test/.
// The files are collected here and handed to the runner as a list: a directory argument (`npm test -- test/unit`)
// means every *.test.ts file under it. Other arguments are passed through (e.g. `--test-name-pattern=...`).
// On a Node older than sigward supports it exits at once, saying how to get Node 24.
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';
import { exitUnlessSupportedNode } from '../bin/node-version.mjs';

exitUnlessSupportedNode();

const root = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);
const roots = args.filter((a) => !a.startsWith('-'));
const flags = args.filter((a) => a.startsWith('-'));

function collect(dir, out) {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) collect(p, out);
    else if (name.endsWith('.test.ts')) out.push(relative(root, p));
  }
  return out;
}
const files = [];
for (const r of roots.length ? roots : ['test']) {
  const p = join(root, r);
  if (statSync(p).isDirectory()) collect(p, files);
  else files.push(relative(root, p));
}
if (files.length === 0) {
  console.error('run-tests: no *.test.ts files found');
  process.exit(1);
}
console.log(`run-tests: node ${process.version}, ${files.length} test files`);
// Three files at a time on two cores: most files wait on registries, clients and timeouts part of the time.
const res = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=3', ...flags, ...files], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, SIGWARD_TEST: '1' },
});
process.exit(res.status ?? 1);
