// `trust.roots.<name>.tuf`: the grammar and the file checks config load makes (with YAML paths and lines, like every
// other field), and that loading a config contacts no network (the fetching is the daemon's, at start).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, type LoadedConfig } from '../../src/config/load.ts';
import { writableDirProblem } from '../../src/config/tuf.ts';
import { isSigwardError } from '../../src/errors.ts';
import { DEFAULT_TUF_REFRESH_MS, PUBLIC_GOOD_TUF_URL } from '../../src/policy/authorities.ts';
import type { Problem } from '../../src/util/yaml-reader.ts';
import { removeTempDir, tempDir } from '../helpers/proc.ts';
import { createTestSigstore } from '../helpers/test-sigstore.ts';
import { startTufRepo } from '../helpers/tuf-repo.ts';

const POLICY = [
  'policy:', //
  '  default: deny',
  '  policies:',
  '    - name: keyless',
  '      match: ["example.test/**"]',
  '      root: sigstore',
  '      identities: [{ subject: dev@example.com, issuer: "https://accounts.google.com" }]',
];

describe('trust.roots.<name>.tuf in the config', () => {
  let dir: string;
  let tufRoot: string;
  let trustedRoot: string;
  const realFetch = globalThis.fetch;
  const fetched: string[] = [];

  before(async () => {
    dir = tempDir('config-tuf');
    const repo = await startTufRepo({ 'trusted_root.json': createTestSigstore().trustedRootJson });
    await repo.close();
    tufRoot = join(dir, 'tuf-root.json');
    writeFileSync(tufRoot, repo.rootJson);
    trustedRoot = join(dir, 'trusted_root.json');
    writeFileSync(trustedRoot, createTestSigstore().trustedRootJson);
    // Loading a config must not fetch anything: any fetch is recorded and fails.
    globalThis.fetch = (input) => {
      fetched.push(String(input instanceof Request ? input.url : input));
      return Promise.reject(new Error('no network in config load'));
    };
  });

  after(() => {
    globalThis.fetch = realFetch;
    assert.deepEqual(fetched, [], 'config load fetched nothing');
    if (dir) removeTempDir(dir);
  });

  /** Load a config of these `trust:` lines (starting at line 3) and the keyless policy. */
  function load(trustLines: readonly string[]): LoadedConfig {
    const file = join(dir, 'sigward.yaml');
    const yaml = ['upstreams: [{ host: example.test, url: "https://example.test" }]', `cache: { dir: ${dir}/cache }`];
    writeFileSync(file, [...yaml, 'trust:', '  roots:', ...trustLines, ...POLICY].join('\n') + '\n');
    return loadConfig(file, {});
  }

  function problems(trustLines: readonly string[]): string[] {
    try {
      load(trustLines);
    } catch (e) {
      assert.ok(isSigwardError(e, 'CONFIG_INVALID'), String(e));
      return (e.detail?.problems as Problem[]).map((p) => `${p.line}:${p.path}: ${p.message}`);
    }
    return [];
  }

  test('a TUF root: url, pinned rootFile (relative to the config), cacheDir and refresh, resolved', () => {
    const loaded = load([
      '    sigstore:', // 5
      '      tuf:',
      '        url: https://tuf.example.test/repo/',
      '        rootFile: tuf-root.json',
      '        cacheDir: tuf-cache',
      '        refresh: 2h',
    ]);
    assert.deepEqual(loaded.tufRoots, [
      {
        name: 'sigstore',
        url: 'https://tuf.example.test/repo',
        rootFile: tufRoot,
        cacheDir: join(dir, 'tuf-cache'),
        refreshMs: 2 * 3_600_000,
      },
    ]);
    // Never fetched into that cache: the root compiles as not fetched yet, and the policy around it.
    assert.equal(loaded.policy.roots['sigstore']?.fingerprint, 'not-fetched');
    assert.equal(loaded.policy.rules.length, 1);
  });

  test('the public-good URL may leave rootFile out (the root.json @sigstore/tuf embeds); defaults apply', () => {
    const loaded = load(['    sigstore:', `      tuf: { url: "${PUBLIC_GOOD_TUF_URL}" }`]);
    assert.equal(PUBLIC_GOOD_TUF_URL, 'https://tuf-repo-cdn.sigstore.dev');
    assert.deepEqual(loaded.tufRoots, [
      {
        name: 'sigstore',
        url: PUBLIC_GOOD_TUF_URL,
        rootFile: undefined,
        cacheDir: join(dir, 'cache', 'tuf', 'sigstore'),
        refreshMs: DEFAULT_TUF_REFRESH_MS,
      },
    ]);
    assert.equal(DEFAULT_TUF_REFRESH_MS, 24 * 3_600_000);
  });

  test('a recompile takes the fetched trusted_root.json and changes the policy hash; a bad one is refused', () => {
    const loaded = load(['    sigstore:', `      tuf: { url: "http://127.0.0.1:9", rootFile: ${tufRoot} }`]);
    const a = loaded.recompile(new Map([['sigstore', createTestSigstore().trustedRootJson]]));
    const b = loaded.recompile(new Map([['sigstore', createTestSigstore().trustedRootJson]]));
    assert.equal(a.roots['sigstore']?.counts.cas, 1);
    assert.notEqual(a.hash, loaded.policy.hash);
    assert.notEqual(a.hash, b.hash);
    assert.throws(
      () => loaded.recompile(new Map([['sigstore', '{"mediaType": "nope"}']])),
      (e) =>
        isSigwardError(e, 'CONFIG_INVALID') && /trust\.roots\.sigstore\.tuf: .*has media type "nope"/.test(e.message),
    );
  });

  test('every problem with its path and line', () => {
    const aFile = join(dir, 'a-file');
    writeFileSync(aFile, 'not a directory\n');
    const tampered = JSON.parse(readFileSync(tufRoot, 'utf8')) as { signed: { expires: string } };
    tampered.signed.expires = '2099-01-01T00:00:00Z';
    const tamperedFile = join(dir, 'tampered-root.json');
    writeFileSync(tamperedFile, JSON.stringify(tampered));
    const got = problems([
      '    both:', // 5
      `      trustedRoot: ${trustedRoot}`,
      '      tuf: { url: "https://tuf.example.test" }',
      '    nourl:', // 8
      `      tuf: { rootFile: ${tufRoot} }`,
      '    ftp:', // 10
      `      tuf: { url: "ftp://tuf.example.test", rootFile: ${tufRoot} }`,
      '    tofu:', // 12
      '      tuf: { url: "https://tuf.example.test" }',
      '    swapped:', // 14
      `      tuf: { url: "https://tuf.example.test", rootFile: ${trustedRoot}, cacheDir: ${dir}/c1 }`,
      '    forged:', // 16
      `      tuf: { url: "https://tuf.example.test", rootFile: ${tamperedFile}, cacheDir: ${dir}/c2 }`,
      '    filedir:', // 18
      `      tuf: { url: "https://tuf.example.test", rootFile: ${tufRoot}, cacheDir: ${aFile}/sub }`,
      '    fast:', // 20
      `      tuf: { url: "https://tuf.example.test", rootFile: ${tufRoot}, refresh: 30s, cacheDir: ${dir}/c3 }`,
      '    typo:', // 22
      `      tuf: { url: "https://tuf.example.test", rootFile: ${tufRoot}, cachedir: x }`,
      '    sigstore:', // 24
      `      tuf: { url: "https://tuf.example.test", rootFile: ${tufRoot}, cacheDir: ${dir}/shared }`,
      '    twin:', // 26
      `      tuf: { url: "https://other.example.test", rootFile: ${tufRoot}, cacheDir: ${dir}/shared }`,
      '    missing:', // 28
      `      tuf: { url: "https://tuf.example.test", rootFile: ${dir}/nope.json, cacheDir: ${dir}/c4 }`,
    ]);
    const expected = [
      '6:trust.roots.both: set `trustedRoot` (a pinned file, used offline) or `tuf` (kept current from a TUF repository), not both',
      '9:trust.roots.nourl.tuf: needs `url`: the TUF repository, e.g. https://tuf-repo-cdn.sigstore.dev',
      '11:trust.roots.ftp.tuf.url: must be an http or https URL, got ftp:',
      "13:trust.roots.tofu.tuf: needs `rootFile`: the repository's initial TUF root.json, pinned (sigward does not " +
        'trust a TUF repository on first use; only https://tuf-repo-cdn.sigstore.dev has one built in, from @sigstore/tuf)',
      '15:trust.roots.swapped.tuf.rootFile: is a Sigstore trusted_root.json, not a TUF root.json: pin it with ' +
        '`trustedRoot:` instead, or give the TUF repository’s root.json here',
      '17:trust.roots.forged.tuf.rootFile: is not signed by a threshold of its own root keys: root was signed by 0/1 keys',
      `19:trust.roots.filedir.tuf.cacheDir: ${aFile} is not a directory, so ${aFile}/sub cannot be created`,
      '21:trust.roots.fast.tuf.refresh: must be between 60000ms and 604800000ms, got 30000ms',
      "23:trust.roots.typo.tuf.cachedir: unknown key 'cachedir' (allowed here: url, rootFile, cacheDir, refresh)",
      `27:trust.roots.twin.tuf.cacheDir: ${dir}/shared is already the cache directory of trust root sigstore; give each its own`,
      `29:trust.roots.missing.tuf.rootFile: cannot read the file: file not found: ${dir}/nope.json`,
    ];
    assert.deepEqual(got.sort(), expected.sort());
  });

  test('a cache directory this user cannot write is a problem', () => {
    // Root may write anywhere, so the denial is injected where the check asks the system (access(2)); the directory
    // and its missing child are real.
    const ro = join(dir, 'read-only');
    mkdirSync(ro, { recursive: true });
    const denied = (path: string): void => {
      if (path === ro)
        throw Object.assign(new Error(`EACCES: permission denied, access '${path}'`), { code: 'EACCES' });
    };
    assert.equal(writableDirProblem(ro, denied), `${ro} is not writable by this user`);
    assert.equal(
      writableDirProblem(join(ro, 'sub', 'deeper'), denied),
      `${join(ro, 'sub', 'deeper')} does not exist and ${ro} is not writable by this user, so it cannot be created`,
    );
    assert.equal(
      writableDirProblem(ro, () => undefined),
      undefined,
    );
    assert.equal(writableDirProblem(join(ro, 'sub')), undefined, 'the real check: this user may write there');
  });
});
