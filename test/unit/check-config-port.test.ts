// check-config's warning for a registry named with a port: the recipe it prints is YAML that parses, draws no warning
// itself and keeps every name the old entry answered to; the shipped config's commented private-registry example
// follows the recipe.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { portWarnings } from '../../src/cli/check-config.ts';
import { parseConfigText } from '../../src/config/parse.ts';
import type { UpstreamConfig } from '../../src/config/types.ts';
import { upstreamNames } from '../../src/config/upstream-names.ts';
import { removeTempDir, tempDir } from '../helpers/proc.ts';
import { runCli } from '../helpers/run-cli.ts';

function upstreams(yaml: string): readonly UpstreamConfig[] {
  const parsed = parseConfigText(yaml);
  assert.deepEqual(parsed.problems, []);
  assert.ok(parsed.config);
  return parsed.config.upstreams;
}

/** The YAML lines of a warning (`  - host:` up to the aliases line), as an upstreams list. */
function recipeOf(lines: readonly string[]): string {
  const start = lines.findIndex((l) => l.startsWith('  - host: '));
  const end = lines.findIndex((l, i) => i > start && l.startsWith('    aliases: '));
  assert.ok(start >= 0 && end > start, lines.join('\n'));
  return `upstreams:\n${lines.slice(start, end + 1).join('\n')}\n`;
}

test('a host with a port and no port-less name gets the recipe, which is itself clean and keeps the names', () => {
  for (const [entry, portless] of [
    ['  - host: registry.example.internal:5000\n', 'registry.example.internal'],
    ['  - host: 10.0.0.7:5000\n    url: http://10.0.0.7:5000\n', '10-0-0-7.registry'],
  ] as const) {
    const before = upstreams(`upstreams:\n${entry}`);
    const warning = portWarnings(before, '127.0.0.1:5050');
    assert.match(warning[0] ?? '', /has a port and no port-less name: podman, skopeo and docker cannot pull it/);
    const after = upstreams(recipeOf(warning));
    assert.deepEqual(portWarnings(after, '127.0.0.1:5050'), []);
    assert.equal(after[0]?.host, portless);
    assert.equal(after[0]?.url, before[0]?.url);
    for (const name of upstreamNames(before[0] as UpstreamConfig)) assert.ok(upstreamNames(after[0]).includes(name));
  }
  // A port-less alias already gives the path prefix a name: no warning.
  assert.deepEqual(
    portWarnings(upstreams('upstreams:\n  - host: ok.internal:5000\n    aliases: [ok.internal]\n'), '127.0.0.1:5050'),
    [],
  );
});

test('check-config prints the warning and still exits 0', async () => {
  const dir = tempDir('check-config-port');
  try {
    const file = join(dir, 'c.yaml');
    writeFileSync(file, 'upstreams:\n  - host: registry.example.internal:5000\npolicy: { default: deny }\n');
    const r = await runCli(['check-config', file]);
    assert.equal(r.code, 0);
    assert.deepEqual(r.out.slice(2, 6), [
      "warning: upstreams[0].host registry.example.internal:5000 has a port and no port-less name: podman, skopeo and docker cannot pull it through sigward (they refuse 127.0.0.1:5050/registry.example.internal:5000/REPO: a ':' is not allowed in a repository path); containerd can. Name it without the port and keep the port in url and aliases:",
      '  - host: registry.example.internal',
      '    url: https://registry.example.internal:5000',
      '    aliases: [registry.example.internal:5000]',
    ]);
  } finally {
    removeTempDir(dir);
  }
});

test("the shipped config's commented private registry, uncommented, follows the recipe", () => {
  const text = readFileSync(new URL('../../config/sigward.yaml', import.meta.url), 'utf8').split('\n');
  const start = text.findIndex((l) => l.startsWith('  # - host: registry.example.internal'));
  assert.ok(start >= 0);
  let end = start;
  while (text[end + 1]?.startsWith('  #   ')) end++;
  const block = text.slice(start, end + 1).map((l) => l.replace(/^ {2}# /, '  '));
  const u = upstreams(`upstreams:\n${block.join('\n')}\n`);
  assert.deepEqual(portWarnings(u, '127.0.0.1:5050'), []);
  assert.deepEqual(
    [u[0]?.host, u[0]?.url, u[0]?.aliases],
    ['registry.example.internal', 'https://registry.example.internal:5000', ['registry.example.internal:5000']],
  );
});
