// The pure half of the upstream trust boundary: which addresses are public (a good/bad table, IPv4-in-IPv6 forms
// included) and which realms and redirects one upstream's configuration lets through, before any connection.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { literalNonPublicReason, nonPublicReason } from '../../src/upstream/addresses.ts';
import { UpstreamBoundary } from '../../src/upstream/boundary.ts';
import { parseConfigText } from '../../src/config/parse.ts';

describe('address classification', () => {
  const notPublic: Array<[string, RegExp]> = [
    ['127.0.0.1', /loopback/],
    ['127.255.255.254', /loopback/],
    ['10.1.2.3', /RFC 1918/],
    ['172.16.0.0', /RFC 1918/],
    ['172.31.255.255', /RFC 1918/],
    ['192.168.1.1', /RFC 1918/],
    ['100.64.0.1', /CGNAT/],
    ['100.127.255.255', /CGNAT/],
    ['169.254.169.254', /link-local/], // cloud metadata services
    ['0.0.0.0', /unspecified/],
    ['0.1.2.3', /unspecified/],
    ['224.0.0.1', /multicast/],
    ['239.255.255.250', /multicast/],
    ['240.0.0.1', /reserved/],
    ['255.255.255.255', /reserved/],
    ['192.0.2.10', /documentation/],
    ['198.18.0.1', /benchmarking/],
    ['::1', /loopback/],
    ['::', /unspecified/],
    ['[::1]', /loopback/],
    ['fe80::1', /link-local/],
    ['fe80::1%eth0', /link-local/],
    ['fc00::1', /unique local/],
    ['fd12:3456::1', /unique local/],
    ['fec0::1', /site-local/],
    ['ff02::1', /multicast/],
    ['::ffff:127.0.0.1', /loopback/],
    ['::ffff:7f00:1', /loopback/], // the same, as a URL parser spells it
    ['::ffff:10.0.0.1', /RFC 1918/],
    ['::ffff:a9fe:a9fe', /link-local/], // 169.254.169.254
    ['::ffff:0:127.0.0.1', /loopback/], // SIIT
    ['::127.0.0.1', /loopback/], // IPv4-compatible (deprecated)
    ['64:ff9b::7f00:1', /loopback/], // NAT64 of 127.0.0.1
    ['64:ff9b::a00:1', /RFC 1918/],
    ['64:ff9b:1::1', /local-use NAT64/],
    ['2002:7f00:1::1', /loopback/], // 6to4 of 127.0.0.1
    ['2002:c0a8:101::1', /RFC 1918/],
    ['2001:db8::1', /documentation/],
    ['2001:0:4136:e378::1', /Teredo/],
    ['100::1', /reserved/],
    ['4000::1', /reserved/],
    ['localhost', /not an IP address/],
    ['127.1', /not an IP address/],
  ];
  const isPublic = [
    '8.8.8.8',
    '1.1.1.1',
    '100.63.255.255',
    '100.128.0.0',
    '172.15.255.255',
    '172.32.0.0',
    '192.169.0.1',
    '169.253.1.1',
    '2606:4700:4700::1111',
    '2a00:1450:4001:80b::200e',
    '::ffff:8.8.8.8',
    '64:ff9b::808:808',
    '2002:808:808::1',
  ];

  for (const [address, why] of notPublic) {
    test(`${address} is not public (${why.source})`, () => {
      assert.match(nonPublicReason(address) ?? 'public', why);
    });
  }
  test('public addresses', () => {
    for (const address of isPublic) assert.equal(nonPublicReason(address), undefined, address);
  });
  test('URL host names: literals judged, localhost is loopback, other names left to the connect-time check', () => {
    assert.equal(literalNonPublicReason(new URL('http://[::ffff:127.0.0.1]:8080/').hostname), 'loopback');
    assert.equal(literalNonPublicReason(new URL('http://0x7f.1/').hostname), 'loopback'); // WHATWG URL: 127.0.0.1
    assert.equal(literalNonPublicReason(new URL('http://2130706433/').hostname), 'loopback');
    assert.equal(literalNonPublicReason('LOCALHOST'), 'loopback');
    assert.equal(literalNonPublicReason('api.localhost.'), 'loopback');
    assert.equal(literalNonPublicReason('cdn.example.com'), undefined);
    assert.equal(literalNonPublicReason('93.184.215.14'), undefined);
  });
});

describe("one upstream's boundary", () => {
  const hub = new UpstreamBoundary({ host: 'docker.io', url: 'https://registry-1.docker.io' });
  const ghcr = new UpstreamBoundary({ host: 'ghcr.io', url: 'https://ghcr.io' });
  const withRealms = new UpstreamBoundary({
    host: 'r.example',
    url: 'https://r.example',
    tokenRealms: ['auth.example.com', 'login.example.com:8443', 'alt.example.com:443'],
  });
  const realmOk = (b: UpstreamBoundary, realm: string): boolean => {
    try {
      b.checkRealm(new URL(realm), true);
      return true;
    } catch (e) {
      assert.equal((e as { code?: string }).code, 'UPSTREAM_INVALID');
      return false;
    }
  };

  test('credentials: own host and listed hosts only; Docker Hub knows auth.docker.io, ghcr.io does not', () => {
    assert.ok(realmOk(hub, 'https://auth.docker.io/token'));
    assert.ok(realmOk(hub, 'https://registry-1.docker.io/token'));
    assert.ok(!realmOk(hub, 'https://auth.docker.io.evil.example/token'));
    assert.ok(!realmOk(ghcr, 'https://auth.docker.io/token'));
    assert.ok(realmOk(ghcr, 'https://ghcr.io/token'));
    assert.ok(!realmOk(ghcr, 'https://ghcr.io:8443/token'), 'another port of the own host is another service');
    assert.ok(realmOk(withRealms, 'https://auth.example.com/token'));
    assert.ok(
      realmOk(withRealms, 'http://auth.example.com/token'),
      'a listed host without a port: either default port',
    );
    assert.ok(!realmOk(withRealms, 'https://auth.example.com:9000/token'));
    assert.ok(realmOk(withRealms, 'https://login.example.com:8443/token'));
    assert.ok(!realmOk(withRealms, 'https://login.example.com/token'));
    assert.ok(realmOk(withRealms, 'https://alt.example.com/token'), ':443 in config is the https default port');
  });

  test('the refusal names the upstream and the tokenRealms entry to add', () => {
    assert.throws(
      () => ghcr.checkRealm(new URL('https://auth.example.net/token'), true),
      (e: Error) =>
        e.message.includes('add tokenRealms: [auth.example.net] to upstream ghcr.io') &&
        /not its own host \(ghcr\.io\)/.test(e.message),
    );
  });

  test('anonymous realms: any public host; a non-public literal only when listed, own, or allowPrivateNetworks', () => {
    ghcr.checkRealm(new URL('https://tokens.example.net/token'), false);
    assert.throws(
      () => ghcr.checkRealm(new URL('http://127.0.0.1:9999/token'), false),
      /loopback address.*allowPrivateNetworks: true/,
    );
    assert.throws(() => ghcr.checkRealm(new URL('http://[fd00::1]/token'), false), /unique local/);
    new UpstreamBoundary({ host: 'ghcr.io', url: 'https://ghcr.io', allowPrivateNetworks: true }).checkRealm(
      new URL('http://127.0.0.1:9999/token'),
      false,
    );
    new UpstreamBoundary({ host: 'l', url: 'http://127.0.0.1:5000' }).checkRealm(
      new URL('http://127.0.0.1:5000/token'),
      true,
    );
  });

  test('redirects: same origin always; elsewhere only whole blobs and manifests, to public literals', () => {
    const from = new URL('https://ghcr.io/v2/a/b/blobs/sha256:x');
    const ok = (
      kind: 'blob' | 'manifest' | 'tags' | 'referrers',
      to: string,
      headers?: Record<string, string>,
      b = ghcr,
    ): boolean => {
      try {
        b.checkRedirect({ method: 'GET', kind, ...(headers ? { headers } : {}) }, from, new URL(to));
        return true;
      } catch {
        return false;
      }
    };
    assert.ok(ok('tags', 'https://ghcr.io/v2/a/b/tags/list?n=1'));
    assert.ok(ok('blob', 'https://pkg-containers.githubusercontent.com/x'));
    assert.ok(ok('manifest', 'https://us-west1-docker.pkg.dev/x'));
    assert.ok(!ok('tags', 'https://pkg-containers.githubusercontent.com/x'));
    assert.ok(!ok('referrers', 'https://pkg-containers.githubusercontent.com/x'));
    assert.ok(!ok('blob', 'https://pkg-containers.githubusercontent.com/x', { Range: 'bytes=0-9' }));
    assert.ok(!ok('blob', 'http://127.0.0.1:8080/x'));
    assert.ok(!ok('blob', 'http://[::ffff:a9fe:a9fe]/latest/meta-data'));
    assert.ok(!ok('blob', 'http://localhost:8080/x'));
    const open = new UpstreamBoundary({ host: 'ghcr.io', url: 'https://ghcr.io', allowPrivateNetworks: true });
    assert.ok(ok('blob', 'http://10.0.0.5/x', undefined, open));
    assert.ok(
      !ok('tags', 'http://10.0.0.5/x', undefined, open),
      'allowPrivateNetworks does not make a tag list checkable',
    );
  });

  test('config: tokenRealms are host[:port] names, allowPrivateNetworks a boolean; both default to none/false', () => {
    const good = parseConfigText(
      'upstreams:\n  - host: r.example\n    tokenRealms: [Auth.Example.com, "auth2.example.com:8443"]\n    allowPrivateNetworks: true\n  - host: s.example\n',
    );
    assert.deepEqual(good.problems, []);
    assert.deepEqual(good.config?.upstreams[0]?.tokenRealms, ['auth.example.com', 'auth2.example.com:8443']);
    assert.equal(good.config?.upstreams[0]?.allowPrivateNetworks, true);
    assert.deepEqual(good.config?.upstreams[1]?.tokenRealms, []);
    assert.equal(good.config?.upstreams[1]?.allowPrivateNetworks, false);
    const bad = parseConfigText(
      'upstreams:\n  - host: r.example\n    tokenRealms: ["https://auth.example.com/token", 7]\n    allowPrivateNetworks: "yes"\n',
    );
    assert.deepEqual(bad.problems.map((p) => `${p.line}:${p.path}`).sort(), [
      '3:upstreams[0].tokenRealms[0]',
      '3:upstreams[0].tokenRealms[1]',
      '4:upstreams[0].allowPrivateNetworks',
    ]);
    assert.match(bad.problems[0]?.message ?? '', /not the URL/);
    assert.match(
      parseConfigText('upstreams:\n  - host: r.example\n    tokenRealms: auth.example.com\n').problems[0]?.message ??
        '',
      /must be a list/,
    );
  });
});
