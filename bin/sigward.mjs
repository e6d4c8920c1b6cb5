#!/usr/bin/env node
// The `sigward` command. Runs the compiled JavaScript in dist/ (`npm run build`) when it is at least as new as every
// source file; otherwise runs the TypeScript sources through tsx's loader. The compiled form is what a daemon should
// run: tsx's loader lives in a second thread with its own V8 heap (about 35 MiB of extra memory).
// On a Node older than sigward supports it exits at once, saying how to get Node 24, before loading either.
import { existsSync, readdirSync, statSync } from 'node:fs';
import module from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exitUnlessSupportedNode } from './node-version.mjs';

exitUnlessSupportedNode();

const root = fileURLToPath(new URL('..', import.meta.url));
const stamp = join(root, 'dist', '.stamp');

function newestSource(dir) {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestSource(p) : statSync(p).mtimeMs);
  }
  return newest;
}

const compiled =
  existsSync(stamp) && (!existsSync(join(root, 'src')) || statSync(stamp).mtimeMs >= newestSource(join(root, 'src')));
if (compiled) {
  // V8's compiled code for dist/ is kept in dist/.compile-cache (beside the code it is for, owned by whoever built
  // it; never a shared temp directory): later starts skip most of the compiling. Where dist/ is read-only (the
  // container image runs as another user) this quietly does nothing.
  module.enableCompileCache?.(join(root, 'dist', '.compile-cache'));
  await import('../dist/main.js');
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/main.ts');
}
