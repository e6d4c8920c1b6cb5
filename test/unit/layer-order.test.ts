// Imports in src/ only go downward (docs/architecture.md, "Layers"). Each directory (or top-level file) has a rank;
// a file may import its own layer or a lower rank, never a higher one nor another layer of the same rank. Among what
// this keeps: nothing below http/ imports http/ (services return answers, only http/ writes HTTP), and the pure core
// (policy/, verify/, oci/) never imports config/, upstream/, proxy/, sget/, http/, cli/ or app.ts.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SRC = join(ROOT, 'src');

/** From the bottom up. A new directory under src/ must be placed here (the test says so). */
const RANKS: Readonly<Record<string, number>> = {
  'errors.ts': 0,
  util: 1,
  oci: 2,
  verify: 3,
  // Both pure and both built on verify/: neither may import the other.
  policy: 4,
  sign: 4,
  config: 5,
  // OCI image layouts (sigward save/load): files, built on oci/ and sign/.
  layout: 5,
  'log.ts': 6,
  // Prometheus metrics (prom-client): the observers upstream/, proxy/, sget/ and http/ take as injected dependencies.
  metrics: 6,
  upstream: 7,
  // TUF-kept trust roots: their own network I/O (never to registries), below the proxy that uses their policy.
  tuf: 7,
  // The decision log's writer and chain check: files only, below the gate that records into it and the CLI that checks.
  audit: 7,
  // sigward doctor's checks of the runtimes' files (containerd, registries.conf, daemon.json) and its canary pulls
  // (runs ctr, skopeo, podman); on config/ and util/, used by the CLI only.
  doctor: 7,
  // The CLI's registry writes, on upstream/'s auth and connections; the daemon (proxy/ and up) never writes.
  'registry-write': 8,
  proxy: 8,
  sget: 9,
  http: 10,
  // State kept across restarts: files under cache.dir on proxy/'s hooks, sealed with sget/'s key; beside http/,
  // wired by app.ts.
  state: 10,
  'app.ts': 11,
  cli: 12,
  'main.ts': 13,
};

/** The layer of a path relative to src/ (`proxy/gate.ts` -> `proxy`, `app.ts` -> `app.ts`). */
function layerOf(pathInSrc: string): string {
  return pathInSrc.split('/')[0] ?? '';
}

/** Why `from` (relative to src/) may not import `to` (relative to src/, or undefined outside src/); undefined: it may. */
function violation(from: string, to: string | undefined): string | undefined {
  if (to === undefined) return `${from} imports a file outside src/`;
  const a = layerOf(from);
  const b = layerOf(to);
  const ra = RANKS[a];
  const rb = RANKS[b];
  if (ra === undefined) return `${from}: layer ${a} has no rank in layer-order.test.ts`;
  if (rb === undefined) return `${to}: layer ${b} has no rank in layer-order.test.ts`;
  if (a === b || rb < ra) return undefined;
  return `${from} (${a}) imports ${to} (${b}): ${rb > ra ? 'upward' : 'sideways, between layers of one rank'}`;
}

/** Relative module specifiers of a source text: static imports and re-exports, `import type`, `import('…')`. */
function relativeImports(source: string): string[] {
  // Comments may name modules they talk about; only code counts.
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  return [...code.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)['"]([^'"]+)['"]/g)]
    .map((m) => m[1] ?? '')
    .filter((s) => s.startsWith('.'));
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? tsFiles(p) : n.endsWith('.ts') ? [p] : [];
  });
}

const inSrc = (abs: string): string | undefined => {
  const r = relative(SRC, abs);
  return r.startsWith('..') ? undefined : r.split(sep).join('/');
};

describe('layer order of src/', () => {
  test('the checker catches what it must (so a clean result means something)', () => {
    assert.match(violation('proxy/gate.ts', 'http/routes.ts') ?? '', /upward/);
    assert.match(violation('sget/service.ts', 'http/routing.ts') ?? '', /upward/);
    assert.match(violation('upstream/client.ts', 'proxy/types.ts') ?? '', /upward/);
    assert.match(violation('policy/parse.ts', 'config/types.ts') ?? '', /upward/);
    assert.match(violation('verify/legacy.ts', 'policy/types.ts') ?? '', /upward/);
    assert.match(violation('oci/manifest.ts', 'app.ts') ?? '', /upward/);
    assert.match(violation('policy/evaluate.ts', 'sign/bundle.ts') ?? '', /sideways/);
    assert.match(violation('proxy/x.ts', undefined) ?? '', /outside src/);
    assert.match(violation('newdir/x.ts', 'oci/digest.ts') ?? '', /no rank/);
    assert.equal(violation('http/routes.ts', 'proxy/service.ts'), undefined);
    assert.equal(violation('sget/service.ts', 'proxy/gate.ts'), undefined);
    assert.equal(violation('proxy/gate.ts', 'proxy/passage.ts'), undefined);
    assert.equal(violation('policy/parse.ts', 'util/yaml-reader.ts'), undefined);
    assert.deepEqual(
      relativeImports(
        [
          "import { a } from '../http/a.ts';",
          "import type { B } from './b.ts';",
          "export { c } from '../c.ts';",
          "type D = import('../d.ts').D;",
          "import { readFileSync } from 'node:fs';",
          "// import { e } from '../e.ts';",
          "/* from '../f.ts' */",
        ].join('\n'),
      ),
      ['../http/a.ts', './b.ts', '../c.ts', '../d.ts'],
    );
  });

  test('every import in src/ goes to the same layer or a lower one', () => {
    const files = tsFiles(SRC);
    assert.ok(files.length >= 50, `src/ has its files (${files.length})`);
    const problems: string[] = [];
    let edges = 0;
    for (const file of files) {
      const from = inSrc(file) ?? '';
      if (RANKS[layerOf(from)] === undefined)
        problems.push(`${from}: layer ${layerOf(from)} has no rank in layer-order.test.ts`);
      for (const spec of relativeImports(readFileSync(file, 'utf8'))) {
        const target = resolve(dirname(file), spec);
        assert.ok(existsSync(target), `${from} imports missing ${spec}`);
        edges++;
        const why = violation(from, inSrc(target));
        if (why !== undefined) problems.push(why);
      }
    }
    assert.ok(edges >= 200, `imports were found (${edges})`);
    assert.deepEqual(problems, []);
  });
});
