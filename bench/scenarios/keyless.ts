// Keyless (certificate) signatures, four figures:
//   - cold pulls by tag of images signed by the bench's own test sigstore (legacy `.sig` with certificate, chain,
//     Rekor bundle; and cosign v3 bundles), against a direct GET of the same manifest, alternating per image;
//   - warm pulls by tag of a keyless-signed image against a key-signed one (both: tag resolved upstream, verdict
//     cached), alternating in blocks;
//   - keyless signature checks per CPU-second on one core, in-process (verifySignature), over the real public-good
//     vector (test/fixtures/cimage-cosign-fulcio-rekor: P-384 Fulcio intermediate) and over the test sigstore
//     (P-256 everywhere), in rounds alternating with rounds of the ceiling: the ECDSA verifications a check cannot
//     skip (the leaf's signature by its issuer, the SCT, the SET and the signature itself);
//   - daemon start to listening, with and without the public-good trust root in the config.
import { spawn } from 'node:child_process';
import { generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { digestOf } from '../../src/oci/digest.ts';
import { simpleSigningPayload } from '../../src/sign/payload.ts';
import { parseTrustedRoot } from '../../src/verify/authority.ts';
import { verifySignature } from '../../src/verify/index.ts';
import type { UntrustedLegacySignature, VerifyContext } from '../../src/verify/types.ts';
import { MT } from '../../src/oci/mediatypes.ts';
import type { KeylessFixtures } from '../keyless-fixtures.ts';
import { KEYLESS_IDENTITY, KEYLESS_ISSUER } from '../keyless-fixtures.ts';
import { newProbe, prewarmSignatures, timeSignaturePath } from '../probe.ts';
import { row, type Row } from '../rows.ts';
import { progress, type Settings } from '../settings.ts';
import type { SignedFixtures } from '../signed-fixtures.ts';
import type { Stack } from '../stack.ts';
import { median } from '../stats.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const fixture = (p: string): Buffer => readFileSync(join(ROOT, 'test/fixtures', p));
const PUBLIC_GOOD = join(ROOT, 'config/sigstore-public-good.trusted_root.json');

/** Operations per CPU-second of this (single-threaded) loop over one round of at least `ms` of CPU time: the machine
 * may be shared, and time the process spends waiting for a core is no part of what a check costs. Throws if an
 * operation does not verify. */
function opsRound(op: () => boolean, ms: number): number {
  const c0 = process.cpuUsage();
  let n = 0;
  let used = 0;
  while (used < ms * 1000) {
    for (let i = 0; i < 16; i++) if (!op()) throw new Error('a keyless check did not verify: it would time a failure');
    n += 16;
    const d = process.cpuUsage(c0);
    used = d.user + d.system;
  }
  return n / (used / 1e6);
}

/** Rounds of checks alternating with rounds of the ceiling (the same verifications by themselves), so both see the
 * same machine; each pair is also reported as a ratio. */
function rounds(
  label: string,
  check: () => boolean,
  ceiling: () => boolean,
  settings: Settings,
): { checks: number[]; ceiling: number[] } {
  // Unrecorded: until the check's code is optimised (a few hundred checks are not enough), and the ceiling's once.
  opsRound(check, 2 * settings.microMs);
  opsRound(ceiling, 200);
  const out = { checks: [] as number[], ceiling: [] as number[] };
  for (let r = 0; r < Math.max(3, settings.rounds); r++) {
    const c = opsRound(check, settings.microMs);
    const e = opsRound(ceiling, settings.microMs);
    out.checks.push(c);
    out.ceiling.push(e);
    progress(`${label} round ${r + 1}: ${c.toFixed(0)}/s, ceiling ${e.toFixed(0)}/s (${(c / e).toFixed(2)}x)`);
  }
  return out;
}

/** The real public-good vector: a 2023 cosign keyless legacy layer, checked with the shipped trusted root. */
function publicGoodCheck(): () => boolean {
  const dir = 'cimage-cosign-fulcio-rekor/';
  const payload = fixture(`${dir}payload.json`);
  const sig: UntrustedLegacySignature = {
    format: 'legacy',
    source: 'cimage-cosign-fulcio-rekor',
    layerDigest: digestOf(payload),
    layerMediaType: fixture(`${dir}layer-mediatype.txt`).toString('utf8').trim(),
    annotations: JSON.parse(fixture(`${dir}layer-annotations.json`).toString('utf8')) as Record<string, string>,
    payload,
  };
  const root = parseTrustedRoot('public-good', readFileSync(PUBLIC_GOOD, 'utf8'));
  const ctx: VerifyContext = {
    digest: digestOf(fixture(`${dir}image-manifest.json`)),
    keys: [],
    identities: [
      {
        name: 'mitr',
        authority: root,
        subject: { exact: 'mitr@redhat.com' },
        issuer: { exact: 'https://github.com/login/oauth' },
        github: {},
      },
    ],
  };
  return () => verifySignature(sig, ctx).verified;
}

/** A fresh legacy keyless signature by the bench's test sigstore (P-256 CA chain). */
function testSigstoreCheck(stack: Stack): () => boolean {
  const digest = digestOf(Buffer.from('keyless micro-benchmark image'));
  const payload = simpleSigningPayload({ dockerReference: 'bench.test/keyless', digest });
  const signed = stack.sigstore.signLegacy({ payload, identity: KEYLESS_IDENTITY });
  const sig: UntrustedLegacySignature = {
    format: 'legacy',
    source: 'bench sigstore',
    layerDigest: digestOf(payload),
    layerMediaType: MT.cosignSimpleSigning,
    annotations: signed.annotations,
    payload,
  };
  const root = parseTrustedRoot('bench-sigstore', stack.sigstore.trustedRootJson);
  const ctx: VerifyContext = {
    digest,
    keys: [],
    identities: [
      {
        name: 'bench',
        authority: root,
        subject: { exact: KEYLESS_IDENTITY },
        issuer: { exact: KEYLESS_ISSUER },
        github: {},
      },
    ],
  };
  return () => verifySignature(sig, ctx).verified;
}

/** One ECDSA verification for one curve (sha256 for P-256, sha384 for P-384, as the certificates use), with a key
 * made beforehand. */
function ecdsaVerify(curve: 'P-256' | 'P-384'): () => boolean {
  const { privateKey, publicKey }: { privateKey: KeyObject; publicKey: KeyObject } = generateKeyPairSync('ec', {
    namedCurve: curve,
  });
  const hash = curve === 'P-384' ? 'sha384' : 'sha256';
  const msg = Buffer.alloc(700, 7); // about a Fulcio leaf's TBSCertificate
  const s = sign(hash, msg, privateKey);
  return () => verify(hash, msg, publicKey, s);
}

/** The ECDSA verifications a check cannot skip, by themselves: the leaf's signature by its issuer, the SCT, the SET
 * and the signature itself. */
function ceilingOf(curves: readonly ('P-256' | 'P-384')[]): () => boolean {
  const ops = curves.map(ecdsaVerify);
  return () => ops.every((op) => op());
}

function ratios(r: { checks: readonly number[]; ceiling: readonly number[] }): string {
  return r.checks.map((c, i) => `${(c / (r.ceiling[i] ?? NaN)).toFixed(2)}x`).join(', ');
}

/** ms from spawn to `sigward listening on` for `sigward serve --config file`. */
function timeStart(configFile: string): Promise<number> {
  const t0 = process.hrtime.bigint();
  const child = spawn(
    process.execPath,
    [join(ROOT, 'bin/sigward.mjs'), 'serve', '--config', configFile, '--listen', '127.0.0.1:0'],
    {
      cwd: ROOT,
      env: { ...process.env, NODE_ENV: 'production' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`sigward did not start within 30 s: ${err.slice(0, 400)}`));
    }, 30_000);
    // The banner is on stderr (stdout is pino's JSON lines only).
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      if (!err.includes('sigward listening on')) return;
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      clearTimeout(timer);
      child.once('exit', () => resolve(ms));
      child.kill('SIGTERM');
    });
    child.once('exit', (code) => {
      if (!err.includes('sigward listening on')) {
        clearTimeout(timer);
        reject(
          new Error(`sigward exited (${String(code)}) before listening: ${err.slice(0, 400)}${out.slice(0, 400)}`),
        );
      }
    });
  });
}

async function startupRows(stack: Stack, settings: Settings): Promise<Row[]> {
  const base = {
    listen: '127.0.0.1:0',
    log: { level: 'warn' },
    upstreams: [{ host: stack.upstream.host, url: stack.upstream.url, default: true }],
  };
  const plain = join(stack.tmp, 'start-plain.yaml');
  const withRoot = join(stack.tmp, 'start-root.yaml');
  writeFileSync(plain, stringify({ ...base, policy: { default: 'deny' } }));
  writeFileSync(
    withRoot,
    stringify({
      ...base,
      trust: { roots: { 'public-good': { trustedRoot: PUBLIC_GOOD } } },
      policy: {
        default: 'deny',
        policies: [
          {
            name: 'k',
            match: [`${stack.upstream.host}/k/**`],
            identities: [{ issuer: 'https://accounts.google.com', subject: 'a@b.c' }],
          },
        ],
      },
    }),
  );
  const without: number[] = [];
  const withR: number[] = [];
  await timeStart(plain); // the first start pays for cold files
  for (let i = 0; i < Math.max(5, settings.rounds); i++) {
    without.push(await timeStart(plain));
    withR.push(await timeStart(withRoot));
  }
  progress(
    `daemon start: ${median(without).toFixed(0)} ms without a trust root, ${median(withR).toFixed(0)} ms with the public-good root`,
  );
  return [
    row('start.ms', 'daemon start to listening', 'ms', 'lower', { sigward: without }, { note: 'no trust root' }),
    row('start.root.ms', 'daemon start to listening, public-good trust root', 'ms', 'lower', { sigward: withR }),
    row(
      'start.root.added',
      'daemon start, added by the public-good trust root',
      'ms',
      'lower',
      { sigward: withR.map((v, i) => v - (without[i] ?? v)) },
      { note: 'per pair of starts, alternating: with root - without' },
    ),
  ];
}

export async function keylessScenario(
  stack: Stack,
  kfx: KeylessFixtures,
  sfx: SignedFixtures,
  settings: Settings,
): Promise<Row[]> {
  const probe = newProbe();
  const up = stack.upstream.host;
  const via = (repo: string, tag: string): string => stack.sigwardUrl(up, repo, `manifests/${tag}`);
  const direct = (repo: string, tag: string): string => stack.url('direct', repo, `manifests/${tag}`);
  const rows: Row[] = [];
  try {
    await probe.get(via(kfx.wrongIdentity.repo, kfx.wrongIdentity.tag), kfx.wrongIdentity.digest, 403);
    for (let i = 0; i < 3; i++) {
      await probe.get(direct(kfx.warm.repo, kfx.warm.tag), kfx.warm.digest);
      await probe.get(via(kfx.warm.repo, kfx.warm.tag), kfx.warm.digest);
      await probe.get(via(sfx.warm.repo, sfx.warm.tag), sfx.warm.digest);
    }
    // The first keyless verification this daemon does (code not yet compiled), then the rest of the warm-up pulls.
    const first: number[] = [];
    const firstDirect: number[] = [];
    for (const [i, img] of kfx.warmup.entries()) {
      await prewarmSignatures(probe, stack.upstream.url, img.repo, img.tag, img.digest);
      const d = await probe.get(direct(img.repo, img.tag), img.digest);
      const c = await probe.get(via(img.repo, img.tag), img.digest);
      if (i === 0) {
        first.push(c);
        firstDirect.push(d);
      }
    }
    progress(
      `first keyless pull ${first[0]?.toFixed(1)} ms (direct ${firstDirect[0]?.toFixed(2)} ms); ${kfx.warmup.length - 1} more to warm up`,
    );
    rows.push(
      row('keyless.first.ms', "the daemon's first keyless pull (cold code)", 'ms', 'lower', {
        direct: firstDirect,
        sigward: first,
      }),
    );
    const s = { direct: [] as number[], cold: [] as number[], budget: [] as number[], overPath: [] as number[] };
    // The least node proxy asking the same tag and .sig manifest one after the other (no check): the ceiling.
    const f = { cold: [] as number[], budget: [] as number[] };
    const b = { direct: [] as number[], cold: [] as number[], budget: [] as number[] };
    for (let i = 0; i < kfx.legacy.length; i++) {
      const img = kfx.legacy[i]!;
      const bimg = kfx.bundle[i]!;
      await prewarmSignatures(probe, stack.upstream.url, img.repo, img.tag, img.digest);
      await prewarmSignatures(probe, stack.upstream.url, bimg.repo, bimg.tag, bimg.digest);
      const { sigMs } = await timeSignaturePath(probe, stack.upstream.url, img.repo, img.digest);
      const d = await probe.get(direct(img.repo, img.tag), img.digest);
      const c = await probe.get(via(img.repo, img.tag), img.digest);
      s.direct.push(d);
      s.cold.push(c);
      s.budget.push(c - 3 * d);
      // The `.sig` layer is rebuilt from the repository's payload shape, not fetched: the path is the tag + `.sig`.
      s.overPath.push(c - (d + sigMs));
      const fc = await probe.get(`${stack.floor.url}/signed/v2/${img.repo}/manifests/${img.tag}`, img.digest);
      f.cold.push(fc);
      f.budget.push(fc - 3 * d);
      const bd = await probe.get(direct(bimg.repo, bimg.tag), bimg.digest);
      const bc = await probe.get(via(bimg.repo, bimg.tag), bimg.digest);
      b.direct.push(bd);
      b.cold.push(bc);
      b.budget.push(bc - 3 * bd);
      progress(
        `keyless cold pull ${i + 1}/${kfx.legacy.length}: legacy direct ${d.toFixed(2)} ms, sigward ${c.toFixed(2)} ms; bundle direct ${bd.toFixed(2)} ms, sigward ${bc.toFixed(2)} ms`,
      );
    }
    rows.push(
      row(
        'keyless.cold.ms',
        'cold keyless pull by tag (legacy .sig)',
        'ms',
        'lower',
        { direct: s.direct, sigward: s.cold, ceiling: f.cold },
        {
          note: `certificate, chain, Rekor bundle; each round an image sigward has never seen, after ${kfx.warmup.length} keyless pulls; ceiling = the least node proxy asking the tag and the .sig manifest (no check)`,
        },
      ),
      row('keyless.cold.budget', 'cold keyless pull minus 3 direct round trips', 'ms', 'lower', {
        sigward: s.budget,
        ceiling: f.budget,
      }),
      row('keyless.cold.overpath', 'cold keyless pull minus its round trips asked directly', 'ms', 'lower', {
        sigward: s.overPath,
      }),
      row('keyless.bundle.cold.ms', 'cold keyless pull by tag (v3 bundle)', 'ms', 'lower', {
        direct: b.direct,
        sigward: b.cold,
      }),
      row('keyless.bundle.cold.budget', 'cold keyless pull (v3 bundle) minus 3 direct round trips', 'ms', 'lower', {
        sigward: b.budget,
      }),
    );

    // Warm: keyless vs key-signed, both verdicts cached, alternating blocks of GETs on the same connections.
    const keyless: number[] = [];
    const keyed: number[] = [];
    for (let r = 0; r < Math.max(5, settings.rounds); r++) {
      for (let i = 0; i < 50; i++) keyless.push(await probe.get(via(kfx.warm.repo, kfx.warm.tag), kfx.warm.digest));
      for (let i = 0; i < 50; i++) keyed.push(await probe.get(via(sfx.warm.repo, sfx.warm.tag), sfx.warm.digest));
    }
    rows.push(
      row(
        'keyless.warm.ms',
        'warm pull by tag, keyless-signed vs key-signed',
        'ms',
        'lower',
        { sigward: keyless, direct: keyed },
        {
          note: '"direct" column = the key-signed image through sigward (same path, verdict cached); sigward = the keyless one',
        },
      ),
    );
  } finally {
    await probe.close();
  }

  // A check cannot do less than verify the leaf by its issuer, the SCT, the SET and the signature: one P-384 and
  // three P-256 verifications for the public-good chain (its intermediate signs with P-384), four P-256 ones for the
  // test sigstore. It also cannot skip reading the leaf certificate and importing its key, which the ceiling leaves
  // out (a few percent of a check).
  const pg = rounds(
    'keyless checks (public-good vector)',
    publicGoodCheck(),
    ceilingOf(['P-384', 'P-256', 'P-256', 'P-256']),
    settings,
  );
  const ts = rounds(
    'keyless checks (test sigstore)',
    testSigstoreCheck(stack),
    ceilingOf(['P-256', 'P-256', 'P-256', 'P-256']),
    settings,
  );
  rows.push(
    row(
      'verify.keyless.ops',
      'keyless signature checks, one core (public-good vector)',
      'ops/s',
      'higher',
      { sigward: pg.checks, ceiling: pg.ceiling },
      {
        note: `real cosign keyless legacy layer, public-good root; per CPU-second; ceiling = 1 P-384 + 3 P-256 ECDSA verifications, in rounds alternating with the checks (per-round ratios ${ratios(pg)})`,
      },
    ),
    row(
      'verify.keyless.test.ops',
      'keyless signature checks, one core (P-256 test sigstore)',
      'ops/s',
      'higher',
      { sigward: ts.checks, ceiling: ts.ceiling },
      {
        note: `fresh legacy keyless signature of the bench sigstore; per CPU-second; ceiling = 4 P-256 ECDSA verifications, in rounds alternating with the checks (per-round ratios ${ratios(ts)})`,
      },
    ),
  );
  rows.push(...(await startupRows(stack, settings)));
  return rows;
}
