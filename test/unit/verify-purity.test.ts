// verify/, policy/ and util/ must stay pure and synchronous: no I/O modules, no clock, no randomness,
// no timers, no async, in any file they reach through imports. And a verification must use the KeyObjects parsed
// once at load: no key parsing per call.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import crypto, { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { syncBuiltinESMExports } from 'node:module';
import { digestOf } from '../../src/oci/digest.ts';
import { parsePublicKey, verifySignature } from '../../src/verify/index.ts';
import { simpleSigningPayload } from '../../src/sign/payload.ts';
import { buildLegacySignatureImage, untrustedLayers } from '../../src/sign/legacy-image.ts';
import { buildDsseBundle, cosignSignStatement } from '../../src/sign/bundle.ts';
import { publicKeyPem, signBytes } from '../../src/sign/signer.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

const FORBIDDEN_MODULES = [
  /^(node:)?(fs|fs\/promises|net|http|https|http2|child_process|dgram|dns|dns\/promises|tls|cluster|worker_threads|timers|timers\/promises|readline)$/,
  /^(undici|hono|pino)(\/|$)/,
  /^@hono\//,
];
const FORBIDDEN_CODE: [RegExp, string][] = [
  [/\bDate\.now\b/, 'Date.now'],
  [/\bnew Date\s*\(/, 'new Date('],
  [/\bperformance\.now\b/, 'performance.now'],
  [/\bMath\.random\b/, 'Math.random'],
  [/\b(setTimeout|setInterval|setImmediate|queueMicrotask)\b/, 'timers'],
  [/\b(randomBytes|randomUUID|randomInt|randomFill\w*|getRandomValues)\b/, 'randomness'],
  [/\bprocess\.(env|hrtime|argv)\b/, 'process state'],
  [/\brequire\s*\(/, 'require('],
  [/\basync\b|\bawait\b/, 'async'],
];

/** Problems in one source text; exported-style so the scanner itself is tested below. */
function scan(source: string): { imports: string[]; problems: string[] } {
  const imports = [...source.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)['"]([^'"]+)['"]/g)].map((m) => m[1] ?? '');
  const problems = imports.filter((s) => FORBIDDEN_MODULES.some((re) => re.test(s))).map((s) => `imports ${s}`);
  // Drop block comments and whole-line comments: they may mention what the code must not do.
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  for (const [re, what] of FORBIDDEN_CODE) if (re.test(code)) problems.push(`uses ${what}`);
  return { imports, problems };
}

function tsFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? tsFiles(p) : n.endsWith('.ts') ? [p] : [];
  });
}

describe('purity of verify/, policy/ and util/', () => {
  test('the scanner catches what it must (so a clean result means something)', () => {
    assert.deepEqual(scan("import { readFileSync } from 'node:fs';").problems, ['imports node:fs']);
    assert.deepEqual(scan("export { x } from 'undici';").problems, ['imports undici']);
    assert.deepEqual(scan("const m = await import('node:net');").problems, ['imports node:net', 'uses async']);
    assert.deepEqual(scan('const t = Date.now();').problems, ['uses Date.now']);
    assert.deepEqual(scan('const t = new Date();').problems, ['uses new Date(']);
    assert.deepEqual(scan('if (Math.random() > 0.5) setTimeout(f, 1);').problems, ['uses Math.random', 'uses timers']);
    assert.deepEqual(scan('// never call Date.now() here\n/* nor Math.random */ const x = 1;').problems, []);
    assert.deepEqual(scan("import { createHash } from 'node:crypto';").problems, []);
  });

  test('every file reachable from src/verify, src/policy and src/util is pure', () => {
    // util/ is imported by the pure layers, so it is held to their rules.
    const roots = [
      ...tsFiles(join(ROOT, 'src/verify')),
      ...tsFiles(join(ROOT, 'src/policy')),
      ...tsFiles(join(ROOT, 'src/util')),
    ];
    assert.ok(roots.length >= 8, 'src/verify has its files');
    const seen = new Set<string>();
    const queue = [...roots];
    const problems: string[] = [];
    while (queue.length > 0) {
      const file = queue.pop() ?? '';
      if (seen.has(file)) continue;
      seen.add(file);
      const { imports, problems: found } = scan(readFileSync(file, 'utf8'));
      problems.push(...found.map((p) => `${relative(ROOT, file)} ${p}`));
      for (const spec of imports.filter((s) => s.startsWith('.'))) {
        const target = resolve(dirname(file), spec);
        assert.ok(existsSync(target), `${relative(ROOT, file)} imports missing ${spec}`);
        queue.push(target);
      }
    }
    assert.ok(seen.has(join(ROOT, 'src/oci/digest.ts')), 'imports are followed out of src/verify');
    assert.ok(
      seen.has(join(ROOT, 'src/util/clip.ts')) && seen.has(join(ROOT, 'src/util/single-flight.ts')),
      'src/util is scanned',
    );
    assert.deepEqual(problems, []);
  });
});

describe('keys are parsed once, not per verification', () => {
  const counts = { createPublicKey: 0, createPrivateKey: 0, X509Certificate: 0 };
  const verifyKeys: unknown[] = [];
  const orig = {
    createPublicKey: crypto.createPublicKey,
    createPrivateKey: crypto.createPrivateKey,
    verify: crypto.verify,
    X509Certificate: crypto.X509Certificate,
  };
  const patch = (): void => {
    const c = crypto as unknown as Record<string, unknown>;
    c['createPublicKey'] = (...a: Parameters<typeof crypto.createPublicKey>) => {
      counts.createPublicKey++;
      return orig.createPublicKey(...a);
    };
    c['createPrivateKey'] = (...a: Parameters<typeof crypto.createPrivateKey>) => {
      counts.createPrivateKey++;
      return orig.createPrivateKey(...a);
    };
    c['X509Certificate'] = class extends orig.X509Certificate {
      constructor(...a: ConstructorParameters<typeof crypto.X509Certificate>) {
        super(...a);
        counts.X509Certificate++;
      }
    };
    c['verify'] = (
      alg: string | null | undefined,
      data: NodeJS.ArrayBufferView,
      key: unknown,
      sig: NodeJS.ArrayBufferView,
    ) => {
      verifyKeys.push(typeof key === 'object' && key !== null && 'key' in key ? key.key : key);
      return orig.verify(alg, data, key as KeyObject, sig);
    };
    syncBuiltinESMExports();
  };
  const restore = (): void => {
    Object.assign(crypto as unknown as Record<string, unknown>, orig);
    syncBuiltinESMExports();
  };
  after(restore);

  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const image = digestOf(Buffer.from('manifest'));

  test('instrumentation works: parsing a key is counted', () => {
    const pem = publicKeyPem(privateKey);
    counts.createPublicKey = 0;
    patch();
    try {
      parsePublicKey('probe', pem);
      assert.equal(counts.createPublicKey, 1);
    } finally {
      restore();
    }
  });

  test('100 legacy and 100 bundle verifications: zero key parsing, every crypto call gets the parsed KeyObject', () => {
    const trusted = [
      parsePublicKey('a', publicKeyPem(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey)),
      parsePublicKey('release', publicKeyPem(privateKey)),
    ];
    const payload = simpleSigningPayload({ dockerReference: 'r.test/app', digest: image });
    const [legacy] = untrustedLayers(
      buildLegacySignatureImage({ layers: [{ payload, signature: signBytes(privateKey, payload) }] }),
      'micro',
    );
    assert.ok(legacy);
    const bundle = buildDsseBundle({ statement: cosignSignStatement({ digest: image }), privateKey });
    counts.createPublicKey = 0;
    verifyKeys.length = 0;
    patch();
    try {
      for (let i = 0; i < 100; i++) {
        assert.equal(verifySignature(legacy, { digest: image, keys: trusted }).verified, true);
        assert.equal(
          verifySignature(
            { format: 'bundle', source: 'b', manifestDigest: image, bundle },
            { digest: image, keys: trusted },
          ).verified,
          true,
        );
      }
    } finally {
      restore();
    }
    assert.deepEqual(counts, { createPublicKey: 0, createPrivateKey: 0, X509Certificate: 0 });
    assert.ok(verifyKeys.length >= 400, `crypto.verify was observed (${verifyKeys.length} calls)`);
    const parsed = new Set<unknown>(trusted.map((k) => k.key));
    assert.ok(
      verifyKeys.every((k) => parsed.has(k)),
      'only the KeyObjects from parsePublicKey are passed to crypto.verify',
    );
  });
});
