// `sigward verify` (src/main.ts in process; as a child process, bin/sigward.mjs, for the exit codes and the
// separation of stdout and stderr as a person sees them), against images in a real distribution registry on
// 127.0.0.1 signed with keys (legacy .sig layers and v3 bundle referrers) and keylessly by the test sigstore, and
// compared with the running daemon (bin/sigward.mjs serve) on the same config: the same outcome, policy, signers,
// per-signature reasons, and for a denial the very text of the daemon's 403 body, for verified, unsigned, wrong-key,
// wrong-identity and digest-mismatch images and an image no policy matches; through the daemon (--registry-url);
// with signer flags instead of a config (equal to the one-rule YAML they stand for), annotations and
// COSIGN_REPOSITORY; the JSON shape; exit codes and one-line usage errors.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { Digest } from '../../src/oci/digest.ts';
import { simpleSigningPayload } from '../../src/sign/payload.ts';
import { newKey, pushBundleReferrer, pushLegacySignature, signBundle, signLegacy } from '../helpers/cosign.ts';
import { sigwardCli, sigwardInProcess, type CliProcessResult } from '../helpers/cli-process.ts';
import { buildImage, pushImage, type TestImage } from '../helpers/images.ts';
import { ociErrorOf, rawGet } from '../helpers/raw-http.ts';
import { ALL_MANIFEST_TYPES } from '../helpers/registry-client.ts';
import { startRegistry, type Registry } from '../helpers/registry.ts';
import { freePort, removeTempDir, tempDir } from '../helpers/proc.ts';
import { startSigwardProcess, type RunningSigward } from '../helpers/sigward.ts';
import { createTestSigstore } from '../helpers/test-sigstore.ts';

const GOOGLE = 'https://accounts.google.com';
const DEV = 'dev@example.com';
const alice = newKey('alice');
const mallory = newKey('mallory');
const sigstore = createTestSigstore();

/** The parts of `sigward verify --output json` the tests read. */
interface Report {
  image: string;
  digest: string | null;
  allow: boolean;
  outcome: string;
  policy: string | null;
  signers: string[];
  summary: string;
  message: string;
  decision: {
    outcome: string;
    policyName: string;
    signers: string[];
    message: string;
    summary: string;
    perSignature: { source: string; format: string; counted: boolean; reason?: string; message?: string }[];
  } | null;
  answeredBy?: string;
}

function json(r: CliProcessResult): Report {
  assert.equal(r.stderr, '', r.stderr);
  return JSON.parse(r.stdout) as Report;
}

describe('sigward verify', () => {
  let reg: Registry;
  let sw: RunningSigward;
  let dir: string;
  let root: string;
  const images = new Map<string, TestImage>();
  const other = buildImage({ files: { 'hello.txt': 'another image\n' } });

  /** Push a fresh image to `repo:v1`. */
  async function image(repo: string): Promise<TestImage> {
    const img = buildImage({ files: { 'hello.txt': `${repo}\n` } });
    images.set(repo, img);
    await pushImage(reg, repo, 'v1', img);
    return img;
  }

  before(async () => {
    dir = tempDir('cli-verify');
    reg = await startRegistry();
    writeFileSync(join(dir, 'alice.pub'), alice.publicPem);
    writeFileSync(join(dir, 'mallory.pub'), mallory.publicPem);
    root = join(dir, 'root.json');
    writeFileSync(root, sigstore.trustedRootJson);

    // Each repository is pushed and signed on its own, all at once (the registry takes them concurrently).
    const keyless = async (repo: string, identity: string): Promise<void> => {
      const img = await image(repo);
      const payload = simpleSigningPayload({ dockerReference: `example.test/${repo}`, digest: img.digest });
      const sig = sigstore.signLegacy({ payload, identity });
      await pushLegacySignature(reg, repo, img.digest, [
        { payload, signature: sig.signature, annotations: sig.annotations },
      ]);
      const bundle = sigstore.signBundle({ digest: img.digest as Digest, identity });
      await pushBundleReferrer(reg, repo, Buffer.from(bundle.json), img);
    };
    await Promise.all([
      image('keyed/good').then((img) => signLegacy(reg, 'keyed/good', img.digest, { keys: [alice] })),
      image('keyed/bundled').then((img) => signBundle(reg, 'keyed/bundled', { key: alice, subject: img }, [])),
      image('keyed/unsigned'),
      image('keyed/wrong-key').then((img) => signLegacy(reg, 'keyed/wrong-key', img.digest, { keys: [mallory] })),
      image('keyed/replayed').then((img) =>
        signLegacy(reg, 'keyed/replayed', img.digest, { keys: [alice], claimedDigest: other.digest }),
      ),
      image('keyed/annotated').then((img) =>
        signLegacy(reg, 'keyed/annotated', img.digest, { keys: [alice], annotations: { env: 'prod' } }),
      ),
      image('keyed/elsewhere').then((img) =>
        signLegacy(reg, 'keyed/elsewhere', img.digest, { keys: [alice], signatureRepository: 'sigs/store' }),
      ),
      keyless('keyless/good', DEV),
      keyless('keyless/wrong-identity', 'eve@example.com'),
      image('unpoliced/app'),
    ]);

    sw = await startSigwardProcess({
      upstreams: [{ host: 'example.test', url: reg.url }],
      // Denials are not cached: a cached one keeps the words of the request it was made for (by tag or by digest),
      // and every request of these tests is to be decided afresh, as the one-shot command decides.
      cache: { dir: join(dir, 'cache'), denyTtl: '0s' },
      trust: { keys: { alice: { file: join(dir, 'alice.pub') } }, roots: { main: { trustedRoot: root } } },
      policy: {
        default: 'deny',
        policies: [
          { name: 'keyed', match: ['example.test/keyed/*'], keys: ['alice'] },
          {
            name: 'elsewhere',
            match: ['example.test/keyed/elsewhere'],
            keys: ['alice'],
            signatureRepository: 'example.test/sigs/store',
          },
          { name: 'annotated', match: ['example.test/keyed/annotated'], keys: ['alice'], annotations: { env: 'prod' } },
          {
            name: 'keyless',
            match: ['example.test/keyless/*'],
            identities: [{ name: 'dev', issuer: GOOGLE, subject: DEV }],
          },
        ],
      },
    });
  });

  after(async () => {
    await sw?.stop();
    await reg?.stop();
    if (dir) removeTempDir(dir);
  });

  const viaConfig = (ref: string, ...more: string[]): Promise<CliProcessResult> =>
    sigwardInProcess(['verify', '--config', sw.configFile, ...more, `example.test/${ref}`]);
  const daemon = (repo: string, ref: string) =>
    rawGet(`${sw.url}/v2/example.test/${repo}/manifests/${ref}`, { headers: { accept: ALL_MANIFEST_TYPES } });

  const CASES: { repo: string; what: string; outcome: string; signers?: string[]; reasons?: string[] }[] = [
    { repo: 'keyed/good', what: 'a legacy key signature', outcome: 'verified', signers: ['alice'] },
    { repo: 'keyed/bundled', what: 'a v3 bundle key signature', outcome: 'verified', signers: ['alice'] },
    { repo: 'keyless/good', what: 'keyless, both formats', outcome: 'verified', signers: ['dev'] },
    { repo: 'keyed/elsewhere', what: 'signatures in the signatureRepository', outcome: 'verified', signers: ['alice'] },
    { repo: 'keyed/unsigned', what: 'no signature', outcome: 'no-signatures', reasons: [] },
    { repo: 'keyed/wrong-key', what: 'an untrusted key', outcome: 'no-valid-signature', reasons: ['unknown-key'] },
    {
      repo: 'keyless/wrong-identity',
      what: 'another identity',
      outcome: 'no-valid-signature',
      reasons: ['wrong-identity', 'wrong-identity'],
    },
    {
      repo: 'keyed/replayed',
      what: 'a signature for another digest',
      outcome: 'no-valid-signature',
      reasons: ['digest-mismatch'],
    },
  ];

  for (const c of CASES) {
    test(`--config: ${c.what} -> ${c.outcome}, as the daemon decides (by tag and by digest)`, async () => {
      const img = images.get(c.repo) as TestImage;
      for (const ref of ['v1', img.digest]) {
        const at = `${c.repo}${ref === 'v1' ? ':v1' : `@${ref}`}`;
        const [served, text, report] = await Promise.all([
          daemon(c.repo, ref),
          viaConfig(at),
          viaConfig(at, '--output', 'json').then(json),
        ]);
        const d = report.decision;
        assert.ok(d !== null, at);
        assert.equal(report.outcome, c.outcome, at);
        assert.equal(d.outcome, c.outcome, at);
        assert.equal(report.digest, img.digest, at);
        assert.equal(report.image, `example.test/${at}`);
        if (c.signers !== undefined) {
          assert.equal(served.status, 200, `${at}: ${served.body.toString()}`);
          assert.equal(text.code, 0, text.stdout + text.stderr);
          assert.equal(served.headers['x-sigward-outcome'], 'verified', at);
          assert.equal(served.headers['x-sigward-signers'], c.signers.join(', '), at);
          assert.equal(served.headers['x-sigward-policy'], d.policyName, at);
          assert.deepEqual(report.signers, c.signers, at);
          assert.equal(report.allow, true);
          const [first, ...rest] = text.stdout.trimEnd().split('\n');
          assert.equal(first, `verified: signed by ${c.signers.join(', ')}`, at);
          assert.equal(rest.join('\n'), d.message, at);
          assert.ok(
            d.perSignature.some((v) => v.counted),
            at,
          );
        } else {
          assert.equal(served.status, 403, at);
          assert.equal(text.code, 1, text.stdout + text.stderr);
          const err = ociErrorOf(served.body);
          // The denial the daemon writes into its 403 body, word for word, and the one in its status line.
          assert.equal(text.stdout, `${err?.message ?? ''}\n`, at);
          assert.equal(report.message, err?.message, at);
          assert.equal(err?.detail?.outcome, report.outcome, at);
          assert.equal(err?.detail?.policy, report.policy, at);
          assert.equal(served.reason, `Forbidden (${report.summary})`, at);
          assert.equal(report.allow, false);
          assert.deepEqual(report.signers, []);
          assert.deepEqual(
            d.perSignature.map((v) => v.reason),
            c.reasons,
            at,
          );
          for (const v of d.perSignature) assert.ok(err?.message.includes(`not counted: ${v.reason}`), at);
        }
      }
    });
  }

  test('--config: an image no policy matches is refused before anything is fetched, as the daemon refuses it', async () => {
    const [served, text, report] = await Promise.all([
      daemon('unpoliced/app', 'v1'),
      viaConfig('unpoliced/app:v1'),
      viaConfig('unpoliced/app:v1', '--output', 'json').then(json),
    ]);
    assert.equal(served.status, 403);
    assert.equal(text.code, 1);
    assert.equal(text.stdout, `${ociErrorOf(served.body)?.message ?? ''}\n`);
    assert.equal(report.outcome, 'no-policy');
    assert.equal(report.digest, null);
    assert.equal(report.decision?.policyName, '(default)');
  });

  test('--config: annotations the policy requires are checked as the daemon checks them', async () => {
    const r = await viaConfig('keyed/annotated:v1', '--output', 'json').then(json);
    assert.equal(r.outcome, 'verified');
    assert.equal(r.policy, 'annotated');
  });

  test('--registry-url: the running daemon answers; allowed with its decision headers, denied with its reason', async () => {
    for (const c of CASES) {
      const at = `example.test/${c.repo}:v1`;
      const [text, report, here] = await Promise.all([
        sigwardInProcess(['verify', '--registry-url', sw.url, at]),
        sigwardInProcess(['verify', '--registry-url', sw.url, '--output', 'json', at]).then(json),
        viaConfig(`${c.repo}:v1`, '--output', 'json').then(json),
      ]);
      assert.equal(report.answeredBy, sw.url, at);
      assert.equal(report.decision, null, at);
      assert.equal(report.outcome, here.outcome, at);
      assert.equal(report.policy, here.policy, at);
      assert.deepEqual(report.signers, here.signers, at);
      assert.equal(report.allow, here.allow, at);
      if (here.allow) {
        assert.equal(text.code, 0, text.stderr);
        assert.equal(text.stdout.split('\n')[0], `verified: signed by ${here.signers.join(', ')}`, at);
        assert.equal(report.digest, here.digest, at);
      } else {
        assert.equal(text.code, 1, text.stderr);
        assert.equal(text.stdout, `${here.message}\n`, at);
        assert.equal(report.summary, here.summary, at);
      }
    }
  });

  test('--registry-url: an error answer or no sigward at all is exit 1 with one line', async () => {
    const missing = await sigwardCli(['verify', '--registry-url', sw.url, 'example.test/keyed/none:v1']);
    assert.equal(missing.code, 1);
    assert.equal(missing.stdout, '');
    assert.match(missing.stderr, /^sigward verify: sigward at http:\/\/127\.0\.0\.1:\d+ answered 404 /);
    assert.equal(missing.stderr.trimEnd().split('\n').length, 1, missing.stderr);
    const port = await freePort();
    const nobody = await sigwardCli([
      'verify',
      '--registry-url',
      `http://127.0.0.1:${port}`,
      'example.test/keyed/good:v1',
    ]);
    assert.equal(nobody.code, 1);
    assert.ok(
      nobody.stderr.startsWith(`sigward verify: cannot reach sigward at http://127.0.0.1:${port}: `),
      nobody.stderr,
    );
  });

  describe('signer flags instead of a config', () => {
    const local = (repo: string): string => `${reg.host}/${repo}:v1`;
    const key = (name: string): string => join(dir, `${name}.pub`);
    const keyless = (subject: string): string[] => [
      '--certificate-identity',
      subject,
      '--certificate-oidc-issuer',
      GOOGLE,
      '--trusted-root',
      root,
    ];

    test('--key: verified by the key named after its file; an untrusted key is denied by the command-line policy', async () => {
      const ok = await sigwardCli(['verify', '--key', key('alice'), local('keyed/good')]);
      assert.equal(ok.code, 0, ok.stdout + ok.stderr);
      assert.equal(ok.stdout.split('\n')[0], 'verified: signed by alice.pub');
      const both = await sigwardCli(['verify', '--key', key('mallory'), '--key', key('alice'), local('keyed/bundled')]);
      assert.equal(both.code, 0, both.stdout + both.stderr);
      const no = await sigwardCli(['verify', '--key', key('alice'), local('keyed/wrong-key')]);
      assert.equal(no.code, 1);
      assert.ok(no.stdout.startsWith(`${local('keyed/wrong-key')}@`), no.stdout);
      assert.ok(no.stdout.includes('is denied by policy "command-line"'), no.stdout);
      assert.ok(no.stdout.includes('not counted: unknown-key'), no.stdout);
    });

    test('the flags decide exactly as the one-rule YAML they stand for', async () => {
      const yaml = join(dir, 'one-rule.yaml');
      writeFileSync(
        yaml,
        stringify({
          upstreams: [{ host: reg.host, url: reg.url }],
          trust: { keys: { 'alice.pub': { file: key('alice') } }, roots: { 'trusted-root': { trustedRoot: root } } },
          policy: {
            default: 'deny',
            policies: [
              {
                name: 'command-line',
                match: [`${reg.host}/keyless/wrong-identity`],
                keys: ['alice.pub'],
                identities: [{ name: 'certificate-identity', subject: DEV, issuer: GOOGLE }],
                tlog: 'required',
              },
            ],
          },
        }),
      );
      const image = local('keyless/wrong-identity');
      const [flags, file] = await Promise.all([
        sigwardInProcess([
          'verify',
          '--key',
          key('alice'),
          ...keyless(DEV),
          '--tlog',
          'required',
          '--output',
          'json',
          image,
        ]),
        sigwardInProcess(['verify', '--config', yaml, '--output', 'json', image]),
      ]);
      assert.equal(flags.code, 1);
      assert.deepEqual(json(flags), json(file));
      assert.deepEqual(
        json(flags).decision?.perSignature.map((v) => v.reason),
        ['wrong-identity', 'wrong-identity'],
      );
    });

    test('keyless: the right identity verifies both formats; another one is wrong-identity', async () => {
      const ok = await sigwardInProcess(['verify', ...keyless(DEV), '--output', 'json', local('keyless/good')]);
      assert.equal(ok.code, 0, ok.stdout + ok.stderr);
      const r = json(ok);
      assert.deepEqual(r.signers, ['certificate-identity']);
      assert.deepEqual(
        r.decision?.perSignature.map((v) => [v.format, v.counted]),
        [
          ['bundle', true],
          ['legacy', true],
        ],
      );
      const no = await sigwardInProcess(['verify', ...keyless('eve@example.com'), local('keyless/good')]);
      assert.equal(no.code, 1);
      assert.ok(no.stdout.includes('not counted: wrong-identity'), no.stdout);
    });

    test('-a: a required annotation must be signed with that value', async () => {
      const ok = await sigwardInProcess(['verify', '--key', key('alice'), '-a', 'env=prod', local('keyed/annotated')]);
      assert.equal(ok.code, 0, ok.stdout + ok.stderr);
      const no = await sigwardInProcess([
        'verify',
        '--key',
        key('alice'),
        '--annotations',
        'env=dev',
        local('keyed/annotated'),
      ]);
      assert.equal(no.code, 1);
      assert.ok(
        no.stdout.includes('not counted: missing-annotation: required annotation not met: env: want "dev"'),
        no.stdout,
      );
    });

    test('COSIGN_REPOSITORY says where the signatures are; without it there are none next to the image', async () => {
      const image = local('keyed/elsewhere');
      const env = { COSIGN_REPOSITORY: `${reg.host}/sigs/store` };
      const ok = await sigwardInProcess(['verify', '--key', key('alice'), image], { env });
      assert.equal(ok.code, 0, ok.stdout + ok.stderr);
      const no = await sigwardInProcess(['verify', '--key', key('alice'), '--output', 'json', image]);
      assert.equal(no.code, 1);
      assert.equal(json(no).outcome, 'no-signatures');
      // With a config the policy's signatureRepository decides, as in the daemon; the variable is noted, not used.
      const cfg = await sigwardInProcess(['verify', '--config', sw.configFile, 'example.test/keyed/good:v1'], { env });
      assert.equal(cfg.code, 0);
      assert.match(cfg.stderr, /^note: COSIGN_REPOSITORY is not used with --config/);
    });
  });

  test('--output json: the report and the whole decision', async () => {
    const r = await viaConfig('keyed/wrong-key:v1', '--output', 'json').then(json);
    assert.deepEqual(Object.keys(r).sort(), [
      'allow',
      'decision',
      'digest',
      'image',
      'message',
      'outcome',
      'policy',
      'signers',
      'summary',
    ]);
    const d = r.decision as NonNullable<Report['decision']>;
    assert.deepEqual(Object.keys(d).sort(), [
      'allow',
      'coversChildren',
      'matchedPattern',
      'message',
      'mode',
      'outcome',
      'perSignature',
      'policyName',
      'signers',
      'summary',
      'wouldDeny',
    ]);
    assert.equal(d.perSignature.length, 1);
    const [v] = d.perSignature;
    assert.equal(v?.counted, false);
    assert.equal(v?.reason, 'unknown-key');
    assert.match(v?.source ?? '', /^example\.test\/keyed\/wrong-key:sha256-[0-9a-f]{64}\.sig, layer 1 of 1$/);
    assert.equal(r.summary, 'no valid signature (1 found: unknown-key)');
  });

  describe('usage and input errors: exit 2, one line on stderr, nothing on stdout', () => {
    const cases: [string, string[], RegExp][] = [
      ['no image', ['verify', '--config', 'x.yaml'], /IMAGE is missing/],
      ['two images', ['verify', '--key', 'a.pub', 'a/b:1', 'c/d:2'], /give one IMAGE/],
      ['an unknown option', ['verify', '--nope', 'a/b:1'], /unknown option --nope/],
      ['nothing to verify against', ['verify', 'example.test/a:1'], /say what to verify against/],
      [
        'a config and keys',
        ['verify', '--config', 'x.yaml', '--key', 'a.pub', 'a.io/b:1'],
        /not --config and signer flags/,
      ],
      ['a bad image reference', ['verify', '--key', 'a.pub', 'Example.test/UPPER:1'], /invalid repository name/],
      ['a missing config file', ['verify', '--config', '/nonexistent/sigward.yaml', 'a.io/b:1'], /file not found/],
      [
        'a missing key file',
        ['verify', '--key', '/nonexistent/k.pub', 'a.io/b:1'],
        /^sigward verify: --key: cannot read/,
      ],
      [
        'an identity without its issuer',
        ['verify', '--certificate-identity', DEV, '--trusted-root', 'r.json', 'a.io/b:1'],
        /--certificate-oidc-issuer \(or --certificate-oidc-issuer-regexp\) is missing/,
      ],
      [
        'an identity without a trust root',
        ['verify', '--certificate-identity', DEV, '--certificate-oidc-issuer', GOOGLE, 'a.io/b:1'],
        /--trusted-root FILE is missing/,
      ],
      [
        'a regexp Go would refuse',
        [
          'verify',
          '--certificate-identity-regexp',
          '(?=x)',
          '--certificate-oidc-issuer',
          GOOGLE,
          '--trusted-root',
          'x',
          'a.io/b:1',
        ],
        /--certificate-identity-regexp: .*lookahead/,
      ],
      [
        '-a without KEY=VALUE',
        ['verify', '--key', 'a.pub', '-a', 'novalue', 'a.io/b:1'],
        /-a "novalue": expected KEY=VALUE/,
      ],
      ['a bad --output', ['verify', '--key', 'a.pub', '--output', 'yaml', 'a.io/b:1'], /--output must be text or json/],
    ];
    for (const [what, args, message] of cases) {
      test(what, async () => {
        const r = await sigwardInProcess(args);
        assert.equal(r.code, 2, r.stdout + r.stderr);
        assert.equal(r.stdout, '');
        assert.match(r.stderr, /^sigward verify: /);
        assert.match(r.stderr, message);
        assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
      });
    }

    test('an invalid config: its problems on one line', async () => {
      const bad = join(dir, 'bad.yaml');
      writeFileSync(
        bad,
        stringify({ upstreams: [{ host: 'example.test', url: reg.url }], policy: { default: 'maybe' } }),
      );
      const r = await sigwardInProcess(['verify', '--config', bad, 'example.test/a:1']);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /^sigward verify: 1 problem in .*bad\.yaml: .*policy\.default/);
      assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
    });

    test('--help prints the usage and exits 0', async () => {
      const r = await sigwardInProcess(['verify', '--help']);
      assert.equal(r.code, 0);
      assert.match(r.stdout, /^usage: sigward verify --config FILE IMAGE\n/);
      assert.ok(r.stdout.includes('--registry-url URL'));
      assert.ok(r.stdout.includes('--certificate-identity-regexp'));
    });
  });
});
