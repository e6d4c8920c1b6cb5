// `sigward verify-bundle` (src/main.ts in process; once as a child process, bin/sigward.mjs): the real cosign v3
// bundle (kubewarden-controller's release, public-good Fulcio, Rekor and TSA) verifies with its workflow identity and the pinned public-good root,
// and each mutation is refused with the reason and message the daemon's verifier gives the same bytes; test-sigstore
// image bundles pushed to a real registry are refused by verify-bundle as the running daemon refuses them; fresh
// message-signature bundles (cosign sign-blob) over files: the right file verifies, a changed byte does not, a
// forged digest does not, a wrong key or identity does not; attestations over a file's digest; malformed input is
// exit 2 with one line.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.ts';
import { digestOf, type Digest } from '../../src/oci/digest.ts';
import type { SignedRule } from '../../src/policy/types.ts';
import { cosignSignStatement } from '../../src/sign/bundle.ts';
import { verifySignature } from '../../src/verify/index.ts';
import { sigwardCli, sigwardInProcess, type CliProcessResult } from '../helpers/cli-process.ts';
import { newKey, pushBundleReferrer } from '../helpers/cosign.ts';
import { buildImage, pushImage } from '../helpers/images.ts';
import { ociErrorOf, rawGet } from '../helpers/raw-http.ts';
import { ALL_MANIFEST_TYPES } from '../helpers/registry-client.ts';
import { startRegistry, type Registry } from '../helpers/registry.ts';
import { removeTempDir, tempDir } from '../helpers/proc.ts';
import { startSigward, type RunningSigward } from '../helpers/sigward.ts';
import { createTestSigstore } from '../helpers/test-sigstore.ts';
import { signBlobBundle } from '../helpers/test-sigstore-blob.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const VECTOR = join(ROOT, 'test/fixtures/cosign-v3-sign-bundle/bundle.sigstore.json');
const PUBLIC_GOOD = join(ROOT, 'config/sigstore-public-good.trusted_root.json');
const DIGEST = 'sha256:c811d58de79c92f03214e63aa339484e488d694ae8a6283b5f3f17a9faf50172';
const SUBJECT = 'https://github.com/kubewarden/kubewarden-controller/.github/workflows/release.yml@refs/tags/v1.34.0';
const GH_ISSUER = 'https://token.actions.githubusercontent.com';
const GOOGLE = 'https://accounts.google.com';
const DEV = 'dev@example.com';

interface Report {
  bundle: string;
  content: string;
  digest: string;
  verified: boolean;
  signers: string[];
  certificate?: { issuer: string; names: string[] };
  reason?: string;
  message?: string;
  notEvaluated?: string[];
}

function report(r: CliProcessResult): Report {
  assert.equal(r.stderr, '', r.stderr);
  return JSON.parse(r.stdout) as Report;
}

/** `bytes` with one bit of byte `i` flipped (in place). */
function flip(bytes: Buffer, i: number): Buffer {
  bytes.writeUInt8(bytes.readUInt8(i) ^ 1, i);
  return bytes;
}

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- a bundle's JSON tree

describe('sigward verify-bundle', () => {
  let dir: string;
  const file = (name: string, content: string | Uint8Array): string => {
    const p = join(dir, name);
    writeFileSync(p, content);
    return p;
  };
  const run = (...args: string[]): Promise<CliProcessResult> => sigwardInProcess(['verify-bundle', ...args]);

  before(() => {
    dir = tempDir('cli-verify-bundle');
  });
  after(() => {
    if (dir) removeTempDir(dir);
  });

  describe('the real cosign v3 bundle (kubewarden-controller v1.34.0)', () => {
    const real = (): Json => JSON.parse(readFileSync(VECTOR, 'utf8')) as Json;
    const identity = ['--certificate-identity', SUBJECT, '--certificate-oidc-issuer', GH_ISSUER];
    const trust = ['--trusted-root', PUBLIC_GOOD, ...identity];

    test('verifies for its digest with the workflow identity, its GitHub claims and the public-good root', async () => {
      const claims = [
        '--certificate-github-workflow-repository',
        'kubewarden/kubewarden-controller',
        '--certificate-github-workflow-ref',
        'refs/tags/v1.34.0',
        '--certificate-github-workflow-trigger',
        'push',
      ];
      // As a person runs it: the process's exit code and its stdout.
      const text = await sigwardCli(['verify-bundle', '--bundle', VECTOR, ...trust, ...claims, '--digest', DIGEST]);
      assert.equal(text.code, 0, text.stdout + text.stderr);
      assert.equal(text.stdout, `verified: signed by ${SUBJECT} (issuer ${GH_ISSUER})\nstatement about ${DIGEST}\n`);
      const r = report(await run('--bundle', VECTOR, ...trust, '--digest', DIGEST, '--output', 'json'));
      assert.deepEqual(r, {
        bundle: VECTOR,
        content: 'dsse',
        digest: DIGEST,
        verified: true,
        signers: ['certificate-identity'],
        certificate: { issuer: GH_ISSUER, names: [SUBJECT] },
      });
      const re = await run(
        '--bundle',
        VECTOR,
        '--trusted-root',
        PUBLIC_GOOD,
        '--certificate-identity-regexp',
        '^https://github\\.com/kubewarden/',
        '--certificate-oidc-issuer-regexp',
        '^https://token\\.actions\\.githubusercontent\\.com$',
        '--digest',
        DIGEST,
      );
      assert.equal(re.code, 0, re.stdout + re.stderr);
    });

    // Each mutation with the flags it is checked under, and the reason expected.
    const MUTATIONS: { what: string; edit?: (b: Json) => void; flags?: string[]; digest?: string; reason: string }[] = [
      {
        what: 'another organisation',
        flags: [
          '--trusted-root',
          PUBLIC_GOOD,
          '--certificate-identity-regexp',
          '^https://github\\.com/sigstore/',
          '--certificate-oidc-issuer',
          GH_ISSUER,
        ],
        reason: 'wrong-identity',
      },
      {
        what: 'another issuer',
        flags: ['--trusted-root', PUBLIC_GOOD, '--certificate-identity', SUBJECT, '--certificate-oidc-issuer', GOOGLE],
        reason: 'wrong-identity',
      },
      {
        what: 'another GitHub repository claim',
        flags: [...trust, '--certificate-github-workflow-repository', 'kubewarden/policy-server'],
        reason: 'wrong-identity',
      },
      { what: 'another digest', digest: digestOf(Buffer.from('another image')), reason: 'digest-mismatch' },
      {
        what: 'no tlog entry (tlog required)',
        edit: (b) => delete b.verificationMaterial.tlogEntries,
        reason: 'tlog-invalid',
      },
      {
        what: 'neither tlog entry nor timestamp',
        edit: (b) => {
          delete b.verificationMaterial.tlogEntries;
          delete b.verificationMaterial.timestampVerificationData;
        },
        flags: [...trust, '--tlog', 'optional'],
        reason: 'timestamp-invalid',
      },
      {
        what: 'a flipped SET',
        edit: (b) => {
          const p = b.verificationMaterial.tlogEntries[0].inclusionPromise;
          const set = Buffer.from(p.signedEntryTimestamp as string, 'base64');
          flip(set, set.length - 5);
          p.signedEntryTimestamp = set.toString('base64');
        },
        reason: 'tlog-invalid',
      },
      {
        // The RFC 3161 timestamp is over the signature bytes: it is the first check to fail.
        what: 'an altered DSSE signature',
        edit: (b) => {
          const s = b.dsseEnvelope.signatures[0];
          const sig = Buffer.from(s.sig as string, 'base64');
          flip(sig, 10);
          s.sig = sig.toString('base64');
        },
        reason: 'timestamp-invalid',
      },
      {
        what: 'the statement about another digest',
        edit: (b) => {
          const other = cosignSignStatement({ digest: digestOf(Buffer.from('x')), emptyPredicate: false });
          b.dsseEnvelope.payload = Buffer.from(other).toString('base64');
        },
        digest: DIGEST,
        reason: 'tlog-invalid',
      },
      {
        what: 'a trust root that did not issue it',
        flags: ['--trusted-root', 'OTHER_ROOT', ...identity],
        reason: 'timestamp-invalid',
      },
    ];

    // The daemon's verifier on the same bytes, with the rule compiled from the YAML the flags stand for.
    const otherRoot = createTestSigstore().trustedRootJson;
    function daemonCheck(bytes: Buffer, flags: string[], digest: string): { reason?: string; message?: string } {
      const value = (f: string): string | undefined => flags[flags.indexOf(f) + 1];
      const identityYaml: Json = { name: 'certificate-identity', github: {} };
      for (const [flag, field] of [
        ['--certificate-identity', 'subject'],
        ['--certificate-identity-regexp', 'subjectRegExp'],
        ['--certificate-oidc-issuer', 'issuer'],
        ['--certificate-oidc-issuer-regexp', 'issuerRegExp'],
      ] as const)
        if (flags.includes(flag)) identityYaml[field] = value(flag);
      if (flags.includes('--certificate-github-workflow-repository'))
        identityYaml.github.repository = value('--certificate-github-workflow-repository');
      const yaml = join(dir, 'daemon.yaml');
      writeFileSync(
        yaml,
        JSON.stringify({
          upstreams: [{ host: 'example.test' }],
          trust: { roots: { 'trusted-root': { trustedRoot: value('--trusted-root') } } },
          policy: {
            policies: [
              {
                name: 'p',
                match: ['example.test/**'],
                identities: [identityYaml],
                ...(flags.includes('--tlog') ? { tlog: value('--tlog') } : {}),
              },
            ],
          },
        }),
      );
      const rule = loadConfig(yaml).policy.rules[0] as SignedRule;
      const check = verifySignature(
        { format: 'bundle', source: 'referrer', manifestDigest: digestOf(bytes), bundle: bytes },
        { digest: digest as Digest, keys: rule.keys, identities: rule.identities, identityTlog: rule.identityTlog },
      );
      return { reason: check.reason, message: check.message };
    }

    for (const m of MUTATIONS) {
      test(`refused for ${m.what} (${m.reason}), as the daemon's verifier refuses it`, async () => {
        const b = real();
        m.edit?.(b);
        const bytes = Buffer.from(JSON.stringify(b));
        const bundle = file(`mutated-${m.what.replace(/\W+/g, '-')}.json`, bytes);
        const flags = (m.flags ?? trust).map((f) => (f === 'OTHER_ROOT' ? file('other-root.json', otherRoot) : f));
        const digest = m.digest ?? DIGEST;
        const r = await run('--bundle', bundle, ...flags, '--digest', digest, '--output', 'json');
        assert.equal(r.code, 1, r.stdout + r.stderr);
        const got = report(r);
        assert.equal(got.verified, false);
        assert.equal(got.reason, m.reason, got.message);
        assert.deepEqual({ reason: got.reason, message: got.message }, daemonCheck(bytes, flags, digest));
        const text = await run('--bundle', bundle, ...flags, '--digest', digest);
        assert.equal(text.code, 1);
        assert.equal(text.stdout, `not verified: ${got.reason ?? ''}: ${got.message ?? ''}\n`);
      });
    }

    test('without its tlog entry it verifies under --tlog optional: the RFC 3161 timestamp gives the time', async () => {
      const b = real();
      delete b.verificationMaterial.tlogEntries;
      const bundle = file('no-tlog.json', JSON.stringify(b));
      const r = await run('--bundle', bundle, ...trust, '--tlog', 'optional', '--digest', DIGEST);
      assert.equal(r.code, 0, r.stdout + r.stderr);
    });

    test('--type: the statement must have this predicate type when one is asked for', async () => {
      const r = await run('--bundle', VECTOR, ...trust, '--digest', DIGEST, '--type', 'https://slsa.dev/provenance/v1');
      assert.equal(r.code, 1);
      assert.equal(
        r.stdout,
        'not verified: wrong-predicate: statement predicateType is "https://sigstore.dev/cosign/sign/v1", not "https://slsa.dev/provenance/v1"\n',
      );
      const ok = await run(
        '--bundle',
        VECTOR,
        ...trust,
        '--digest',
        DIGEST,
        '--type',
        'https://sigstore.dev/cosign/sign/v1',
      );
      assert.equal(ok.code, 0, ok.stdout);
    });
  });

  describe('message signatures over files (cosign sign-blob), made by the test sigstore', () => {
    const ss = createTestSigstore();
    const alice = newKey('alice');
    const mallory = newKey('mallory');
    const ARTIFACT = Buffer.from('#!/bin/sh\necho installed\n');
    const changed = flip(Buffer.from(ARTIFACT), 3);
    let art: string;
    let other: string;
    let rootFile: string;
    const keyless = (subject = DEV): string[] => [
      '--trusted-root',
      rootFile,
      '--certificate-identity',
      subject,
      '--certificate-oidc-issuer',
      GOOGLE,
    ];

    before(() => {
      art = file('install.sh', ARTIFACT);
      other = file('install-changed.sh', changed);
      rootFile = file('test-root.json', ss.trustedRootJson);
      file('alice.pub', alice.publicPem);
      file('mallory.pub', mallory.publicPem);
    });

    test('keyless: the right file verifies; one byte changed does not (its digest is not the signed one)', async () => {
      const bundle = file('keyless.sigstore.json', signBlobBundle(ss, { artifact: ARTIFACT, identity: DEV }).json);
      const ok = await run('--bundle', bundle, ...keyless(), art);
      assert.equal(ok.code, 0, ok.stdout + ok.stderr);
      assert.equal(ok.stdout, `verified: signed by ${DEV} (issuer ${GOOGLE})\nartifact ${digestOf(ARTIFACT)}\n`);
      const no = report(await run('--bundle', bundle, ...keyless(), other, '--output', 'json'));
      assert.equal(no.verified, false);
      assert.equal(no.reason, 'digest-mismatch');
      assert.equal(no.digest, digestOf(changed));
      const wrong = report(await run('--bundle', bundle, ...keyless('eve@example.com'), art, '--output', 'json'));
      assert.equal(wrong.reason, 'wrong-identity', wrong.message);
    });

    test('a bundle stating the changed file’s digest: the signature over the bytes is what refuses it', async () => {
      const forged = signBlobBundle(ss, { artifact: ARTIFACT, identity: DEV });
      const b = JSON.parse(forged.json) as Json;
      b.messageSignature.messageDigest.digest = Buffer.from(digestOf(changed).slice(7), 'hex').toString('base64');
      const bundle = file('forged-digest.json', JSON.stringify(b));
      const r = report(await run('--bundle', bundle, ...keyless(), other, '--output', 'json'));
      assert.equal(r.verified, false);
      assert.ok(r.reason === 'bad-signature' || r.reason === 'tlog-invalid', `${r.reason ?? ''}: ${r.message ?? ''}`);
      const key = signBlobBundle(ss, { artifact: ARTIFACT, privateKey: alice.privateKey, tlog: false });
      const kb = JSON.parse(key.json) as Json;
      kb.messageSignature.messageDigest.digest = b.messageSignature.messageDigest.digest;
      const keyBundle = file('forged-key-digest.json', JSON.stringify(kb));
      const k = report(await run('--bundle', keyBundle, '--key', join(dir, 'alice.pub'), other, '--output', 'json'));
      assert.equal(k.reason, 'bad-signature', k.message);
      assert.equal(
        k.message,
        'the signature does not verify over the artifact with key "alice.pub", which the bundle names: the artifact or signature was altered',
      );
    });

    test('keyless without a log entry: needs --tlog optional and a timestamp, as a policy', async () => {
      const unlogged = signBlobBundle(ss, { artifact: ARTIFACT, identity: DEV, tlog: false, tsa: true });
      const bundle = file('unlogged.json', unlogged.json);
      const required = report(await run('--bundle', bundle, ...keyless(), art, '--output', 'json'));
      assert.equal(required.reason, 'tlog-invalid', required.message);
      const optional = await run('--bundle', bundle, ...keyless(), '--tlog', 'optional', art);
      assert.equal(optional.code, 0, optional.stdout);
    });

    test('--key: the right key verifies the right file; another key, or another file, does not', async () => {
      const bundle = file(
        'keyed.sigstore.json',
        signBlobBundle(ss, { artifact: ARTIFACT, privateKey: alice.privateKey }).json,
      );
      const ok = await run('--bundle', bundle, '--key', join(dir, 'alice.pub'), art);
      assert.equal(ok.code, 0, ok.stdout + ok.stderr);
      assert.equal(
        ok.stdout,
        `verified: signed by alice.pub\nartifact ${digestOf(ARTIFACT)}\nnot evaluated (no trust given for it): tlog-entries\n`,
      );
      const wrong = await run('--bundle', bundle, '--key', join(dir, 'mallory.pub'), art, '--output', 'json');
      assert.equal(wrong.code, 1);
      const w = report(wrong);
      // The bundle's key hint names alice's key, which is not trusted here.
      assert.equal(w.reason, 'unknown-key');
      assert.equal(w.message, 'signed by a key that is not trusted here: none of "mallory.pub" verifies it');
      const changedFile = await run('--bundle', bundle, '--key', join(dir, 'alice.pub'), other);
      assert.equal(changedFile.code, 1);
    });

    test('--key with --tlog required: the key signature counts only when logged in the trust root’s Rekor', async () => {
      const key = ['--key', join(dir, 'alice.pub'), '--trusted-root', rootFile, '--tlog', 'required'];
      const logged = file('logged.json', signBlobBundle(ss, { artifact: ARTIFACT, privateKey: alice.privateKey }).json);
      const ok = await run('--bundle', logged, ...key, art);
      assert.equal(ok.code, 0, ok.stdout + ok.stderr);
      assert.equal(ok.stdout, `verified: signed by alice.pub\nartifact ${digestOf(ARTIFACT)}\n`);
      const unlogged = file(
        'unlogged-key.json',
        signBlobBundle(ss, { artifact: ARTIFACT, privateKey: alice.privateKey, tlog: false }).json,
      );
      const no = report(await run('--bundle', unlogged, ...key, art, '--output', 'json'));
      assert.equal(no.reason, 'tlog-invalid', no.message);
    });

    test('an attestation over the file (DSSE): its subject must be the file’s digest; --type picks the predicate', async () => {
      const predicateType = 'https://slsa.dev/provenance/v1';
      const statement = cosignSignStatement({ digest: digestOf(ARTIFACT), predicateType });
      const bundle = file('attestation.json', ss.signBundle({ statement, identity: DEV }).json);
      const ok = await run('--bundle', bundle, ...keyless(), art);
      assert.equal(ok.code, 0, ok.stdout + ok.stderr);
      assert.equal(ok.stdout, `verified: signed by ${DEV} (issuer ${GOOGLE})\nstatement about ${digestOf(ARTIFACT)}\n`);
      const byDigest = await run(
        '--bundle',
        bundle,
        ...keyless(),
        '--digest',
        digestOf(ARTIFACT),
        '--type',
        predicateType,
      );
      assert.equal(byDigest.code, 0, byDigest.stdout);
      const no = report(await run('--bundle', bundle, ...keyless(), other, '--output', 'json'));
      assert.equal(no.reason, 'digest-mismatch');
    });
  });

  describe('image bundles in a registry: verify-bundle refuses them as the running daemon does', () => {
    const ss = createTestSigstore();
    let reg: Registry;
    let sw: RunningSigward;
    let rootFile: string;
    const cases: { repo: string; bundle: (digest: Digest) => string; reason: string }[] = [
      {
        repo: 'img/eve',
        bundle: (d) => ss.signBundle({ digest: d, identity: 'eve@example.com' }).json,
        reason: 'wrong-identity',
      },
      {
        repo: 'img/other-digest',
        bundle: () => ss.signBundle({ digest: digestOf(Buffer.from('other')), identity: DEV }).json,
        reason: 'digest-mismatch',
      },
      {
        repo: 'img/unlogged',
        bundle: (d) => ss.signBundle({ digest: d, identity: DEV, tlog: false, tsa: true }).json,
        reason: 'tlog-invalid',
      },
      {
        repo: 'img/no-time',
        bundle: (d) => ss.signBundle({ digest: d, identity: DEV, tlog: false }).json,
        reason: 'timestamp-invalid',
      },
    ];
    const bundles = new Map<string, { file: string; digest: string }>();

    before(async () => {
      reg = await startRegistry();
      rootFile = file('registry-root.json', ss.trustedRootJson);
      for (const c of cases) {
        const img = buildImage({ files: { 'x.txt': c.repo } });
        await pushImage(reg, c.repo, 'v1', img);
        const json = c.bundle(img.digest as Digest);
        await pushBundleReferrer(reg, c.repo, Buffer.from(json), img);
        bundles.set(c.repo, { file: file(`${c.repo.replace('/', '-')}.json`, json), digest: img.digest });
      }
      sw = await startSigward({
        upstreams: [{ host: 'example.test', url: reg.url }],
        cache: { dir: join(dir, 'cache') },
        // Named as verify-bundle names the --trusted-root, so their messages name the same root.
        trust: { roots: { 'trusted-root': { trustedRoot: rootFile } } },
        policy: {
          policies: [
            {
              name: 'img',
              match: ['example.test/img/*'],
              identities: [{ name: 'certificate-identity', subject: DEV, issuer: GOOGLE }],
            },
          ],
        },
      });
    });
    after(async () => {
      await sw?.stop();
      await reg?.stop();
    });

    for (const c of cases) {
      test(`${c.repo}: ${c.reason}`, async () => {
        const { file: bundle, digest } = bundles.get(c.repo) as { file: string; digest: string };
        const served = await rawGet(`${sw.url}/v2/example.test/${c.repo}/manifests/${digest}`, {
          headers: { accept: ALL_MANIFEST_TYPES },
        });
        assert.equal(served.status, 403);
        const r = await run(
          '--bundle',
          bundle,
          '--trusted-root',
          rootFile,
          '--certificate-identity',
          DEV,
          '--certificate-oidc-issuer',
          GOOGLE,
          '--digest',
          digest,
          '--output',
          'json',
        );
        assert.equal(r.code, 1);
        const got = report(r);
        assert.equal(got.reason, c.reason, got.message);
        // The daemon's 403 names the one signature it found, with the same reason and message.
        const message = ociErrorOf(served.body)?.message ?? '';
        assert.ok(message.includes(`: not counted: ${got.reason ?? ''}: ${got.message ?? ''}\n`), message);
      });
    }
  });

  describe('input errors: exit 2, one line on stderr', () => {
    const cases: [string, (d: string) => string[], RegExp][] = [
      ['no --bundle', () => ['--key', 'k.pub', '--digest', DIGEST], /--bundle FILE is missing/],
      ['neither file nor digest', () => ['--bundle', VECTOR, '--key', 'k.pub'], /give the ARTIFACT_FILE or --digest/],
      [
        'a missing bundle file',
        () => ['--bundle', '/nonexistent/b.json', '--key', 'k.pub', '--digest', DIGEST],
        /--bundle \/nonexistent\/b\.json: no such file/,
      ],
      [
        'a bundle that is not JSON',
        (d) => ['--bundle', join(d, 'notjson'), '--key', 'k.pub', '--digest', DIGEST],
        /is not strict JSON/,
      ],
      [
        'a newer bundle version',
        (d) => ['--bundle', join(d, 'v04.json'), '--key', 'k.pub', '--digest', DIGEST],
        /bundle version 0\.4 is newer than this build understands/,
      ],
      ['no signer', () => ['--bundle', VECTOR, '--digest', DIGEST], /give the signer/],
      ['a bad digest', () => ['--bundle', VECTOR, '--key', 'k.pub', '--digest', 'sha256:zz'], /--digest: /],
      [
        'a message signature with only a digest',
        (d) => ['--bundle', join(d, 'message.json'), '--key', 'k.pub', '--digest', DIGEST],
        /message signature, which is over the artifact: give the ARTIFACT_FILE/,
      ],
      [
        'a missing key file',
        () => ['--bundle', VECTOR, '--key', '/nonexistent/k.pub', '--digest', DIGEST],
        /--key: cannot read the key file: \/nonexistent\/k\.pub: no such file/,
      ],
    ];
    before(() => {
      file('notjson', '#!/bin/sh\n');
      const b = JSON.parse(readFileSync(VECTOR, 'utf8')) as Json;
      b.mediaType = 'application/vnd.dev.sigstore.bundle.v0.4+json';
      file('v04.json', JSON.stringify(b));
      const signed = signBlobBundle(createTestSigstore(), {
        artifact: Buffer.from('x'),
        privateKey: newKey('k').privateKey,
      });
      file('message.json', signed.json);
    });
    for (const [what, args, message] of cases) {
      test(what, async () => {
        const r = await run(...args(dir));
        assert.equal(r.code, 2, r.stdout + r.stderr);
        assert.equal(r.stdout, '');
        assert.match(r.stderr, /^sigward verify-bundle: /);
        assert.match(r.stderr, message);
        assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
      });
    }
    test('--help', async () => {
      const r = await run('--help');
      assert.equal(r.code, 0);
      assert.match(r.stdout, /^usage: sigward verify-bundle --bundle FILE/);
    });
  });
});
