// sigward doctor's TOML reader: the subset containerd and containers/image files use, read exactly, and everything
// outside it refused with the line, so doctor reports the file instead of guessing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseToml, TomlError, tomlGet } from '../../src/doctor/toml.ts';

test('reads containerd config.toml and hosts.toml shapes', () => {
  const config = parseToml(`version = 2
root = "/var/lib/containerd"
disabled_plugins = ["io.containerd.grpc.v1.cri",
  "io.containerd.snapshotter.v1.btrfs", # trailing comment
]
[grpc]
  address = "/run/containerd/containerd.sock"
[plugins."io.containerd.grpc.v1.cri".registry]
  config_path = '/etc/containerd/certs.d'
[plugins."io.containerd.grpc.v1.cri".registry.mirrors."docker.io"]
  endpoint = ["https://mirror.internal"]
`);
  assert.deepEqual(config, {
    version: 2,
    root: '/var/lib/containerd',
    disabled_plugins: ['io.containerd.grpc.v1.cri', 'io.containerd.snapshotter.v1.btrfs'],
    grpc: { address: '/run/containerd/containerd.sock' },
    plugins: {
      'io.containerd.grpc.v1.cri': {
        registry: {
          config_path: '/etc/containerd/certs.d',
          mirrors: { 'docker.io': { endpoint: ['https://mirror.internal'] } },
        },
      },
    },
  });
  const hosts = parseToml(`server = "http://127.0.0.1:5050"
[host]
[host."http://127.0.0.1:5050"]
  capabilities = ["pull", "resolve"]
  skip_verify = true
  header = { X-Test = "a\\tb\\u00e9" }
`);
  assert.deepEqual(hosts, {
    server: 'http://127.0.0.1:5050',
    host: {
      'http://127.0.0.1:5050': { capabilities: ['pull', 'resolve'], skip_verify: true, header: { 'X-Test': 'a\tbé' } },
    },
  });
});

test('reads registries.conf arrays of tables, mirrors attached to the last [[registry]]', () => {
  const conf = parseToml(`unqualified-search-registries = ["docker.io"]
short-name-mode = "enforcing"
[[registry]]
prefix = "ghcr.io"
location = "127.0.0.1:5050/ghcr.io"
insecure = true
[[registry]]
location = "quay.io"
[[registry.mirror]]
location = "mirror.internal/quay"
[[registry.mirror]]
location = "mirror2.internal"
[aliases]
"alpine" = "docker.io/library/alpine"
`);
  assert.deepEqual(conf, {
    'unqualified-search-registries': ['docker.io'],
    'short-name-mode': 'enforcing',
    registry: [
      { prefix: 'ghcr.io', location: '127.0.0.1:5050/ghcr.io', insecure: true },
      { location: 'quay.io', mirror: [{ location: 'mirror.internal/quay' }, { location: 'mirror2.internal' }] },
    ],
    aliases: { alpine: 'docker.io/library/alpine' },
  });
});

test('numbers, dotted keys and an implicit table getting its header later', () => {
  assert.deepEqual(parseToml('a.b.c = 1_000\n[a.x]\ny = -0.5\nz = 0x1F\n[a]\nw = false\n'), {
    a: { b: { c: 1000 }, x: { y: -0.5, z: 31 }, w: false },
  });
});

test('refuses what it does not read, naming the line', () => {
  const cases: [string, number, RegExp][] = [
    ['a = 1\na = 2\n', 2, /given twice/],
    ['[t]\n[t]\n', 2, /defined twice/],
    ['s = """multi\nline"""\n', 1, /multi-line strings/],
    ['d = 1979-05-27\n', 1, /dates/],
    ['x = bare\n', 1, /not a TOML value/],
    ['\n\nx = "open\n', 3, /not closed/],
    ['x = 1 y = 2\n', 1, /one key = value per line/],
    ['x = [1, 2\n', 2, /expected , or \]/],
    ['t = { a = 1 }\n[t.b]\n', 2, /inline table/],
    ['x = "\\q"\n', 1, /unknown escape/],
    ['[a\n', 1, /expected \]/],
    ['x = 99999999999999999999\n', 1, /too large/],
  ];
  for (const [text, line, message] of cases) {
    assert.throws(
      () => parseToml(text),
      (e: unknown) => e instanceof TomlError && e.line === line && message.test(e.message),
      JSON.stringify(text),
    );
  }
});

test('refuses keys that name JavaScript object properties, in every place a key can be', () => {
  for (const [text, line] of [
    ['__proto__ = "x"\n', 1],
    ['[a]\nb.__proto__.c = 1\n', 2],
    ['["__proto__"]\nx = 1\n', 1],
    ['[[constructor]]\nx = 1\n', 1],
    ["t = { 'prototype' = 1 }\n", 1],
    ['[plugins.constructor]\n', 1],
  ] as const) {
    assert.throws(
      () => parseToml(text),
      (e: unknown) => e instanceof TomlError && e.line === line && /is not accepted/.test(e.message),
      text,
    );
  }
  assert.equal(tomlGet(parseToml('a = 1\n'), 'constructor'), undefined, "a lookup sees only the file's own keys");
  assert.equal(tomlGet(parseToml('[a]\n'), 'a', 'toString'), undefined);
});
