import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfigText } from '../../src/config/parse.ts';
import { loadConfig } from '../../src/config/load.ts';
import { isSigwardError } from '../../src/errors.ts';
import { main } from '../../src/main.ts';
import { at } from '../helpers/must.ts';

test('the shipped default config is valid and secure by default', () => {
  const { config } = loadConfig(new URL('../../config/sigward.yaml', import.meta.url).pathname, {});
  assert.equal(config.listen.host, '127.0.0.1');
  assert.equal(config.listen.port, 5050);
  const hub = config.upstreams.find((u) => u.host === 'docker.io');
  assert.ok(hub?.default);
  assert.equal(hub?.url, 'https://registry-1.docker.io');
  assert.ok(hub?.libraryPrefix);
  for (const u of config.upstreams) assert.ok(u.url.startsWith('https://'), `${u.host} must use TLS`);
});

test('every problem is reported at once with its YAML path and line', () => {
  const yaml = [
    'listen: "nope"', // 1
    'upstreams:', // 2
    '  - host: ghcr.io', // 3
    '    url: ftp://ghcr.io', // 4
    '    retries: -1', // 5
    '  - host: ghcr.io', // 6
    '    auth: {username: u}', // 7
    '    timeouts: {connect: soon}', // 8
    'limits: {manifestBytes: 12}', // 9
    'colour: blue', // 10
  ].join('\n');
  const r = parseConfigText(yaml);
  assert.equal(r.config, undefined);
  const got = r.problems.map((p) => `${p.line}:${p.path}`).sort();
  assert.deepEqual(
    got,
    [
      '10:colour',
      '1:listen',
      '4:upstreams[0].url',
      '5:upstreams[0].retries',
      '6:upstreams[1].host',
      '7:upstreams[1].auth',
      '8:upstreams[1].timeouts.connect',
      '9:limits.manifestBytes',
    ].sort(),
  );
});

test('YAML syntax errors and duplicate keys are problems, not crashes', () => {
  assert.ok(parseConfigText('upstreams: [').problems.length > 0);
  const dup = parseConfigText('listen: 127.0.0.1:1\nlisten: 127.0.0.1:2\nupstreams: [{host: ghcr.io}]');
  assert.ok(
    dup.problems.some((p) => /duplicate key "listen" \(first at line 1\)/.test(p.message)),
    JSON.stringify(dup.problems),
  );
  assert.match(at(parseConfigText('').problems, 0).message, /empty/);
  assert.match(at(parseConfigText('upstreams: []').problems, 0).message, /at least one upstream/);
});

test('the trust and policy sections are handed to the policy compiler; a document that is no mapping is one problem', () => {
  const r = parseConfigText('upstreams: [{host: a.example}]\ntrust: {keys: {}}\npolicy: {default: deny}\n');
  assert.deepEqual(r.policySource, { trust: { keys: {} }, policy: { default: 'deny' } });
  const list = parseConfigText('- trust\n- policy\n');
  assert.deepEqual(list.policySource, {});
  assert.deepEqual(
    list.problems.map((p) => [p.path, p.message]),
    [['(top level)', 'must be a mapping, got a list']],
  );
});

test('secrets come from files or environment variables, never from the config itself', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sigward-cfg-'));
  try {
    writeFileSync(join(dir, 'pw'), 'hunter2\n');
    writeFileSync(join(dir, 'ca.pem'), '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    const file = join(dir, 'c.yaml');
    writeFileSync(
      file,
      `upstreams:
  - host: a.example
    caFile: ca.pem
    auth: {username: u, passwordFile: pw}
  - host: b.example
    auth: {username: u, passwordEnv: B_PASS}
`,
    );
    const loaded = loadConfig(file, { B_PASS: 'from-env' });
    assert.equal(loaded.passwords.get('a.example'), 'hunter2');
    assert.equal(loaded.passwords.get('b.example'), 'from-env');
    assert.match(loaded.caPems.get('a.example') ?? '', /BEGIN CERTIFICATE/);
    assert.throws(
      () => loadConfig(file, {}),
      (e) => isSigwardError(e, 'CONFIG_INVALID') && /B_PASS is not set/.test(e.message) && !/hunter2/.test(e.message),
    );
    writeFileSync(
      file,
      'upstreams:\n  - host: a.example\n    caFile: missing.pem\n    auth: {username: u, passwordFile: nofile}\n',
    );
    assert.throws(
      () => loadConfig(file, {}),
      (e) => isSigwardError(e, 'CONFIG_INVALID') && /missing\.pem/.test(e.message) && /nofile/.test(e.message),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('check-config exits 0 on a good config and 1 listing problems on a bad one', async () => {
  const out: string[] = [];
  const err: string[] = [];
  const io = { out: (l: string) => out.push(l), err: (l: string) => err.push(l), env: {} };
  assert.equal(await main(['check-config', new URL('../../config/sigward.yaml', import.meta.url).pathname], io), 0);
  assert.match(out.join('\n'), /OK/);
  const dir = mkdtempSync(join(tmpdir(), 'sigward-cfg-'));
  try {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'listen: x\nupstreams: [{host: "bad host"}]\n');
    assert.equal(await main(['check-config', file], io), 1);
    assert.match(err.join('\n'), /2 problems/);
    assert.match(err.join('\n'), /bad\.yaml:1: listen/);
    assert.equal(await main(['serve', '--config', file], io), 1, 'serve refuses a bad config');
    assert.equal(await main(['nosuch'], io), 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
