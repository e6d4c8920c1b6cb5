// Real keyless and private-CA cosign signatures (test/fixtures, see its README) through verifySignature, with trust
// authorities built as the config loader builds them (parseTrustedRoot / privateCa): the right identity verifies
// (exact, and unanchored regexps as cosign means them); every near miss, wrong CA, broken log entry, missing time
// and out-of-validity clock is refused with a reason and a message that says what differed.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { digestOf, type Digest } from '../../src/oci/digest.ts';
import { MT } from '../../src/oci/mediatypes.ts';
import { parsePublicKey, verifySignature } from '../../src/verify/index.ts';
import { parseTrustedRoot, privateCa } from '../../src/verify/authority.ts';
import { compileRe2 } from '../../src/policy/identities.ts';
import type {
  GithubClaim,
  SignatureCheck,
  StringMatch,
  TrustAuthority,
  TrustedIdentity,
  UntrustedBundle,
  UntrustedLegacySignature,
  VerifyContext,
} from '../../src/verify/types.ts';
import { simpleSigningPayload } from '../../src/sign/payload.ts';
import { createTestCa, createTestSigstore } from '../helpers/test-sigstore.ts';

const read = (dir: string, name: string): Buffer =>
  readFileSync(new URL(`../fixtures/${dir}/${name}`, import.meta.url));

/** A layer as the fetcher hands it over, from a fixture folder's payload, annotations and media type. */
function fixtureLayer(dir: string, annotations?: Record<string, string>): UntrustedLegacySignature {
  const payload = read(dir, 'payload.json');
  return {
    format: 'legacy',
    source: dir,
    layerDigest: digestOf(payload),
    layerMediaType: read(dir, 'layer-mediatype.txt').toString('utf8').trim(),
    annotations:
      annotations ?? (JSON.parse(read(dir, 'layer-annotations.json').toString('utf8')) as Record<string, string>),
    payload,
  };
}

const exact = (s: string): StringMatch => ({ exact: s });
function re(pattern: string): StringMatch {
  const compiled = compileRe2(pattern);
  assert.ok(compiled instanceof RegExp, `${pattern}: ${String(compiled)}`);
  return { regexp: pattern, re: compiled };
}
function identity(
  name: string,
  authority: TrustAuthority,
  subject: StringMatch,
  issuer?: StringMatch,
  github: Partial<Record<GithubClaim, string>> = {},
): TrustedIdentity {
  return { name, authority, subject, ...(issuer === undefined ? {} : { issuer }), github };
}

function verified(r: SignatureCheck, signers: readonly string[]): void {
  assert.equal(r.verified, true, r.message);
  assert.equal(r.reason, undefined);
  assert.deepEqual(r.signers, signers);
}
function denied(r: SignatureCheck, reason: SignatureCheck['reason'], message: string): void {
  assert.equal(r.verified, false);
  assert.deepEqual(r.signers, []);
  assert.equal(r.reason, reason, r.message);
  assert.equal(r.message, message);
}

const PUBLIC_GOOD = parseTrustedRoot(
  'public-good',
  read('trust-roots', 'root-signing.trusted_root.json').toString('utf8'),
);
// Another sigstore and another private CA: well-formed trust that did not issue these certificates.
const NOW = new Date('2026-01-15T12:00:00Z');
const OTHER_ROOT = parseTrustedRoot('other-sigstore', createTestSigstore({ now: NOW }).trustedRootJson);
const otherCa = createTestCa({ now: NOW });
const OTHER_CA = privateCa('other-ca', otherCa.rootsPem, otherCa.intermediatesPem);

test('the public-good trusted root is read with all its authorities', () => {
  assert.deepEqual(PUBLIC_GOOD.counts, { cas: 2, ctlogs: 2, tlogs: 2, tsas: 1 });
  assert.equal(PUBLIC_GOOD.kind, 'root');
  assert.match(PUBLIC_GOOD.fingerprint, /^[0-9a-f]{64}$/);
});

describe('cimage-cosign-fulcio-rekor (keyless legacy layer, 2023, issuer in OID .1.1 only)', () => {
  const dir = 'cimage-cosign-fulcio-rekor';
  const layer = fixtureLayer(dir);
  const digest = digestOf(read(dir, 'image-manifest.json'));
  const EMAIL = 'mitr@redhat.com';
  const ISSUER = 'https://github.com/login/oauth';
  const check = (...ids: TrustedIdentity[]): SignatureCheck =>
    verifySignature(layer, { digest, keys: [], identities: ids });
  const mismatch = (name: string, what: string): string => `the certificate is trusted but identity "${name}": ${what}`;

  test('the signed manifest has the digest the payload claims', () => {
    assert.equal(digest, 'sha256:0489474da8ea22426ece86ace6c1c0026ab2fd3cdfbbd62b7e94650266c37d9a');
  });

  test('verifies with the exact identity and issuer; every piece of material was checked', () => {
    const r = check(identity('mitr', PUBLIC_GOOD, exact(EMAIL), exact(ISSUER)));
    verified(r, ['mitr']);
    assert.equal(r.dockerReference, '192.168.64.2:5000/cosign-signed/fulcio-rekor-1');
    assert.equal(r.notEvaluated, undefined);
  });

  test('regexps are unanchored as in cosign: `redhat` and `github` match; a leading (?i) folds case', () => {
    verified(check(identity('rh', PUBLIC_GOOD, re('redhat'), re('github'))), ['rh']);
    verified(check(identity('tail', PUBLIC_GOOD, re('itr@redhat\\.com'), re('login/oauth$'))), ['tail']);
    verified(check(identity('ci', PUBLIC_GOOD, re('(?i)^MITR@REDHAT\\.COM$'), exact(ISSUER))), ['ci']);
  });

  test('only the identities that accept the certificate are named as signers', () => {
    const r = check(
      identity('google', PUBLIC_GOOD, exact(EMAIL), exact('https://accounts.google.com')),
      identity('mitr', PUBLIC_GOOD, exact(EMAIL), exact(ISSUER)),
      identity('rh', PUBLIC_GOOD, re('@redhat\\.com$'), re('^https://github\\.com/')),
      identity('other', PUBLIC_GOOD, exact('someone@redhat.com'), exact(ISSUER)),
    );
    verified(r, ['mitr', 'rh']);
  });

  // [what, the policy's subject, how the message shows it]: each is one step off the certificate's subject.
  const subjectMisses: [string, StringMatch, string][] = [
    ['another subject', exact('someone@redhat.com'), '"someone@redhat.com"'],
    ['the anchored form of a pattern that matches as a substring', re('^itr@redhat\\.com$'), '/^itr@redhat\\.com$/'],
    ['an anchored pattern one character short', re('^mitr@redhat\\.co$'), '/^mitr@redhat\\.co$/'],
    ['a subject differing in case only', exact('MITR@redhat.com'), '"MITR@redhat.com"'],
    ['a subject regexp differing in case only (no (?i))', re('^Mitr@'), '/^Mitr@/'],
  ];
  for (const [what, subject, shown] of subjectMisses) {
    test(`wrong-identity: ${what}`, () =>
      denied(
        check(identity('signer', PUBLIC_GOOD, subject, exact(ISSUER))),
        'wrong-identity',
        mismatch('signer', `subject "mitr@redhat.com" does not match ${shown}`),
      ));
  }
  const issuerMisses: [string, StringMatch, string][] = [
    ['another issuer', exact('https://accounts.google.com'), '"https://accounts.google.com"'],
    ['an issuer differing in case only', exact('https://GitHub.com/login/oauth'), '"https://GitHub.com/login/oauth"'],
    [
      'an anchored issuer with a trailing slash',
      re('^https://github\\.com/login/oauth/$'),
      '/^https://github\\.com/login/oauth/$/',
    ],
  ];
  for (const [what, issuer, shown] of issuerMisses) {
    test(`wrong-identity: ${what}`, () =>
      denied(
        check(identity('signer', PUBLIC_GOOD, exact(EMAIL), issuer)),
        'wrong-identity',
        mismatch('signer', `issuer "https://github.com/login/oauth" does not match ${shown}`),
      ));
  }

  test('wrong-identity: a GitHub claim the 2023 certificate does not carry', () => {
    denied(
      check(identity('gh', PUBLIC_GOOD, exact(EMAIL), exact(ISSUER), { repository: 'containers/image' })),
      'wrong-identity',
      mismatch('gh', 'GitHub repository is absent, want "containers/image"'),
    );
  });

  test('every mismatch is listed when no identity accepts the certificate', () => {
    const r = check(
      identity('google', PUBLIC_GOOD, exact(EMAIL), exact('https://accounts.google.com')),
      identity('upper', PUBLIC_GOOD, exact('MITR@redhat.com'), exact(ISSUER)),
    );
    denied(
      r,
      'wrong-identity',
      'the certificate is trusted but identity "google": issuer "https://github.com/login/oauth" does not match ' +
        '"https://accounts.google.com"; identity "upper": subject "mitr@redhat.com" does not match "MITR@redhat.com"',
    );
  });

  test('untrusted-certificate under another sigstore root or a private CA (right identity, wrong CA)', () => {
    const r = check(identity('mitr', OTHER_ROOT, exact(EMAIL), exact(ISSUER)));
    assert.equal(r.reason, 'untrusted-certificate', r.message);
    assert.deepEqual(r.signers, []);
    assert.ok(r.message?.startsWith('root "other-sigstore": Failed to verify certificate chain'), r.message);
    const ca = verifySignature(layer, {
      digest,
      keys: [],
      identities: [identity('mitr', OTHER_CA, exact(EMAIL))],
      now: new Date('2023-01-20T20:55:00Z'),
    });
    assert.equal(ca.reason, 'untrusted-certificate', ca.message);
    assert.ok(ca.message?.startsWith('ca "other-ca": Failed to verify certificate chain'), ca.message);
  });

  test('tlog-invalid: the Rekor SET with one byte flipped', () => {
    const annotations = { ...layer.annotations };
    const rekor = JSON.parse(annotations['dev.sigstore.cosign/bundle'] ?? '') as { SignedEntryTimestamp: string };
    const set = Buffer.from(rekor.SignedEntryTimestamp, 'base64');
    set[set.length - 2] = (set[set.length - 2] ?? 0) ^ 0x01;
    rekor.SignedEntryTimestamp = set.toString('base64');
    annotations['dev.sigstore.cosign/bundle'] = JSON.stringify(rekor);
    const r = verifySignature(fixtureLayer(dir, annotations), {
      digest,
      keys: [],
      identities: [identity('mitr', PUBLIC_GOOD, exact(EMAIL), exact(ISSUER))],
    });
    denied(r, 'tlog-invalid', 'root "public-good": inclusion promise could not be verified');
  });

  test('without its Rekor bundle there is no trusted signing time (the 10-minute certificate expired in 2023)', () => {
    const { 'dev.sigstore.cosign/bundle': _dropped, ...annotations } = layer.annotations;
    for (const identityTlog of [true, false]) {
      const r = verifySignature(fixtureLayer(dir, annotations), {
        digest,
        keys: [],
        identities: [identity('mitr', PUBLIC_GOOD, exact(EMAIL), exact(ISSUER))],
        identityTlog,
        now: NOW,
      });
      denied(
        r,
        'timestamp-invalid',
        'root "public-good": it has no trusted signing time: no Rekor entry with a verified integrated time and no ' +
          'RFC 3161 timestamp (a Fulcio certificate is valid for minutes, so when it signed must be proven, never ' +
          'taken from the clock)',
      );
    }
  });

  test('digest-mismatch for another manifest, after the identity verified', () => {
    const other = digestOf(Buffer.from('another manifest'));
    const r = verifySignature(layer, {
      digest: other,
      keys: [],
      identities: [identity('mitr', PUBLIC_GOOD, exact(EMAIL), exact(ISSUER))],
    });
    assert.equal(r.reason, 'digest-mismatch', r.message);
    assert.ok(r.message?.includes(digest) && r.message.includes(other), r.message);
  });

  test('with keys only, the certificate is not looked at: unknown-key saying the policy names no identities', () => {
    const someKey = parsePublicKey('cosign', read('cimage-cosign-key-only', 'cosign.pub').toString('utf8'));
    const r = verifySignature(layer, { digest, keys: [someKey] });
    denied(
      r,
      'unknown-key',
      'signed by a key that is not trusted here: none of "cosign" verifies it; it carries a certificate (a keyless ' +
        'or certificate-based signature), and the policy names no certificate identities to check it against',
    );
    assert.deepEqual(r.notEvaluated, ['certificate', 'rekor-bundle']);
  });
});

describe('cosign-v3-sign-bundle (keyless v0.3 DSSE bundle: Rekor v1 dsse entry and an RFC 3161 timestamp)', () => {
  const REAL = read('cosign-v3-sign-bundle', 'bundle.sigstore.json');
  const digest = 'sha256:c811d58de79c92f03214e63aa339484e488d694ae8a6283b5f3f17a9faf50172' as Digest;
  const SUBJECT = 'https://github.com/kubewarden/kubewarden-controller/.github/workflows/release.yml@refs/tags/v1.34.0';
  const ISSUER = 'https://token.actions.githubusercontent.com';
  const asBundle = (bytes: Uint8Array): UntrustedBundle => ({
    format: 'bundle',
    source: 'kubewarden referrer',
    manifestDigest: digestOf(Buffer.from('referrer manifest')),
    bundle: bytes,
  });
  /** The real bundle without its timestamp and/or its tlog entry. */
  function without(parts: { timestamp?: boolean; tlog?: boolean }): UntrustedBundle {
    const b = JSON.parse(REAL.toString('utf8')) as { verificationMaterial: Record<string, unknown> };
    if (parts.timestamp) delete b.verificationMaterial['timestampVerificationData'];
    if (parts.tlog) delete b.verificationMaterial['tlogEntries'];
    return asBundle(Buffer.from(JSON.stringify(b)));
  }
  const check = (ctx: Partial<VerifyContext> & { identities: TrustedIdentity[] }, sig = asBundle(REAL)) =>
    verifySignature(sig, { digest, keys: [], ...ctx });
  const kw = (subject: StringMatch, github: Partial<Record<GithubClaim, string>> = {}): TrustedIdentity =>
    identity('kubewarden', PUBLIC_GOOD, subject, exact(ISSUER), github);

  test('verifies with the exact workflow identity and its GitHub claims; every piece of material was checked', () => {
    const r = check({
      identities: [
        kw(exact(SUBJECT), {
          trigger: 'push',
          name: 'Release',
          repository: 'kubewarden/kubewarden-controller',
          ref: 'refs/tags/v1.34.0',
        }),
      ],
    });
    verified(r, ['kubewarden']);
    assert.deepEqual(r.annotations, {});
    assert.equal(r.notEvaluated, undefined);
  });

  test('regexps: an anchored organisation prefix, an unanchored repository name', () => {
    verified(check({ identities: [kw(re('^https://github\\.com/kubewarden/'))] }), ['kubewarden']);
    verified(check({ identities: [kw(re('kubewarden-controller'))] }), ['kubewarden']);
  });

  const wrong: [string, TrustedIdentity, string][] = [
    [
      'another organisation',
      kw(re('^https://github\\.com/sigstore/')),
      `subject "${SUBJECT}" does not match /^https://github\\.com/sigstore//`,
    ],
    [
      'an organisation that is a prefix of the real one',
      kw(re('^https://github\\.com/kubewarde/')),
      `subject "${SUBJECT}" does not match /^https://github\\.com/kubewarde//`,
    ],
    [
      'the organisation in another case',
      kw(re('^https://github\\.com/Kubewarden/')),
      `subject "${SUBJECT}" does not match /^https://github\\.com/Kubewarden//`,
    ],
    [
      'another tag in an exact subject',
      kw(exact(SUBJECT.replace('v1.34.0', 'v1.34.1'))),
      `subject "${SUBJECT}" does not match "${SUBJECT.replace('v1.34.0', 'v1.34.1')}"`,
    ],
    [
      'another issuer',
      identity('kubewarden', PUBLIC_GOOD, exact(SUBJECT), exact('https://accounts.google.com')),
      'issuer "https://token.actions.githubusercontent.com" does not match "https://accounts.google.com"',
    ],
    [
      'another repository claim',
      kw(re('^https://github\\.com/kubewarden/'), { repository: 'kubewarden/policy-server' }),
      'GitHub repository "kubewarden/kubewarden-controller", want "kubewarden/policy-server"',
    ],
    [
      'another ref claim',
      kw(re('^https://github\\.com/kubewarden/'), { ref: 'refs/heads/main' }),
      'GitHub ref "refs/tags/v1.34.0", want "refs/heads/main"',
    ],
  ];
  for (const [what, id, why] of wrong) {
    test(`wrong-identity: ${what}`, () =>
      denied(
        check({ identities: [id] }),
        'wrong-identity',
        `the certificate is trusted but identity "${id.name}": ${why}`,
      ));
  }

  test('without its RFC 3161 timestamp it still verifies: the Rekor SET gives the signing time', () => {
    for (const identityTlog of [true, false]) {
      verified(check({ identities: [kw(exact(SUBJECT))], identityTlog }, without({ timestamp: true })), ['kubewarden']);
    }
  });

  test('without its tlog entry: verified by the timestamp when the tlog is optional, tlog-invalid when required', () => {
    verified(check({ identities: [kw(exact(SUBJECT))], identityTlog: false }, without({ tlog: true })), ['kubewarden']);
    denied(
      check({ identities: [kw(exact(SUBJECT))], identityTlog: true }, without({ tlog: true })),
      'tlog-invalid',
      'root "public-good": the policy requires a transparency-log entry (tlog: required) and the signature has none',
    );
  });

  test('without both, timestamp-invalid: nothing proves when the 10-minute certificate signed', () => {
    for (const identityTlog of [false, true]) {
      denied(
        check({ identities: [kw(exact(SUBJECT))], identityTlog, now: NOW }, without({ timestamp: true, tlog: true })),
        'timestamp-invalid',
        'root "public-good": it has no trusted signing time: no Rekor entry with a verified integrated time and no ' +
          'RFC 3161 timestamp (a Fulcio certificate is valid for minutes, so when it signed must be proven, never ' +
          'taken from the clock)',
      );
    }
  });

  test('under another sigstore root: its TSA is not trusted there, and without the timestamp its chain is not', () => {
    const other = [identity('kubewarden', OTHER_ROOT, exact(SUBJECT), exact(ISSUER))];
    denied(check({ identities: other }), 'timestamp-invalid', 'root "other-sigstore": timestamp could not be verified');
    const r = check({ identities: other }, without({ timestamp: true }));
    assert.equal(r.reason, 'untrusted-certificate', r.message);
    assert.deepEqual(r.signers, []);
    assert.ok(r.message?.startsWith('root "other-sigstore": Failed to verify certificate chain'), r.message);
  });

  test('digest-mismatch for another image, after the identity verified', () => {
    const other = digestOf(Buffer.from('another manifest'));
    const r = verifySignature(asBundle(REAL), { digest: other, keys: [], identities: [kw(exact(SUBJECT))] });
    assert.equal(r.reason, 'digest-mismatch', r.message);
    assert.ok(r.message?.includes(other), r.message);
  });
});

describe('cimage-cosign-pki (private CA, RSA-4096, SANs email + DNS, no logs)', () => {
  const dir = 'cimage-cosign-pki';
  const layer = fixtureLayer(dir);
  const digest = digestOf(read(dir, 'image-manifest.json'));
  const rootsPem = read(dir, 'pki_root_crts.pem').toString('utf8');
  const LINUXERA = privateCa('linuxera', rootsPem, read(dir, 'pki_intermediate_crts.pem').toString('utf8'));
  const ROOT_ONLY = privateCa('linuxera', rootsPem);
  const IN_2026 = new Date('2026-01-15T12:00:00Z');
  const check = (now: Date | undefined, ...ids: TrustedIdentity[]): SignatureCheck =>
    verifySignature(layer, { digest, keys: [], identities: ids, ...(now === undefined ? {} : { now }) });
  const qiwan = (ca: TrustAuthority = LINUXERA): TrustedIdentity => identity('qiwan', ca, exact('qiwan@redhat.com'));

  test('the CA files are a root and an intermediate', () => {
    assert.deepEqual(LINUXERA.counts, { cas: 1, ctlogs: 0, tlogs: 0, tsas: 0 });
    assert.equal(LINUXERA.kind, 'ca');
  });

  test('verifies at a time inside the validity; any SAN of a legacy layer may match (email and DNS)', () => {
    verified(check(IN_2026, qiwan()), ['qiwan']);
    verified(check(IN_2026, identity('host', LINUXERA, exact('myhost.example.com'))), ['host']);
    verified(check(IN_2026, qiwan(), identity('host', LINUXERA, re('^myhost\\.')), identity('x', LINUXERA, re('x^'))), [
      'qiwan',
      'host',
    ]);
  });

  test('with only the root configured, the intermediate comes from the signature chain annotation', () => {
    verified(check(IN_2026, qiwan(ROOT_ONLY)), ['qiwan']);
  });

  const chainExpired =
    'ca "linuxera": Failed to verify certificate chain (certificate is not valid or expired at the specified date)';
  test('untrusted-certificate after notAfter (2052-02-16) and before notBefore (2024-10-01)', () => {
    denied(check(new Date('2052-03-01T00:00:00Z'), qiwan()), 'untrusted-certificate', chainExpired);
    denied(check(new Date('2024-09-30T00:00:00Z'), qiwan()), 'untrusted-certificate', chainExpired);
  });

  test('untrusted-certificate without a time to check a private-CA certificate at', () => {
    denied(
      check(undefined, qiwan()),
      'untrusted-certificate',
      'ca "linuxera": no time was given to check a private-CA certificate at',
    );
  });

  test('untrusted-certificate under another private CA', () => {
    const r = check(IN_2026, qiwan(OTHER_CA));
    assert.equal(r.reason, 'untrusted-certificate', r.message);
    assert.ok(r.message?.startsWith('ca "other-ca": Failed to verify certificate chain'), r.message);
  });

  test('wrong-identity: another subject, a case difference, or an issuer the certificate cannot name', () => {
    denied(
      check(IN_2026, identity('bob', LINUXERA, exact('bob@redhat.com'))),
      'wrong-identity',
      'the certificate is trusted but identity "bob": subject "qiwan@redhat.com", "myhost.example.com" does not match ' +
        '"bob@redhat.com"',
    );
    denied(
      check(IN_2026, identity('host', LINUXERA, exact('MyHost.example.com'))),
      'wrong-identity',
      'the certificate is trusted but identity "host": subject "qiwan@redhat.com", "myhost.example.com" does not ' +
        'match "MyHost.example.com"',
    );
    denied(
      check(IN_2026, identity('oidc', LINUXERA, exact('qiwan@redhat.com'), re('.*'))),
      'wrong-identity',
      'the certificate is trusted but identity "oidc": the certificate names no OIDC issuer',
    );
  });

  test('under a Sigstore root the private-CA certificate has no trusted time (no Rekor entry, no timestamp)', () => {
    const r = check(IN_2026, identity('qiwan', PUBLIC_GOOD, exact('qiwan@redhat.com'), re('.*')));
    assert.equal(r.reason, 'timestamp-invalid', r.message);
    assert.ok(r.message?.startsWith('root "public-good": it has no trusted signing time'), r.message);
  });

  test('its leaf key as a trusted key verifies it as a key signature, with or without identities', () => {
    const leaf = new X509Certificate(read(dir, 'certificate.pem'));
    const leafKey = parsePublicKey('team-a', leaf.publicKey.export({ type: 'spki', format: 'pem' }).toString());
    verified(verifySignature(layer, { digest, keys: [leafKey] }), ['team-a']);
    verified(verifySignature(layer, { digest, keys: [leafKey], identities: [qiwan()], now: IN_2026 }), ['team-a']);
  });
});

describe('a key signature under a policy of identities', () => {
  test('cimage-cosign-key-only with identities and no keys: unknown-key (an identity never accepts a bare key)', () => {
    const dir = 'cimage-cosign-key-only';
    const r = verifySignature(fixtureLayer(dir), {
      digest: digestOf(read(dir, 'image-manifest.json')),
      keys: [],
      identities: [identity('mitr', PUBLIC_GOOD, exact('mitr@redhat.com'), exact('https://github.com/login/oauth'))],
    });
    denied(r, 'unknown-key', 'no trusted keys apply to this image, so no signature can verify');
  });
});

describe('identity near misses on minted certificates (the names the vectors have, one step off)', () => {
  const ss = createTestSigstore({ now: NOW });
  const root = parseTrustedRoot('test-sigstore', ss.trustedRootJson);
  const image = digestOf(Buffer.from('{"schemaVersion":2}'));
  const payload = simpleSigningPayload({ dockerReference: 'registry.test/app', digest: image });
  const layer = (subject: string, issuer: string): UntrustedLegacySignature => ({
    format: 'legacy',
    source: subject,
    layerDigest: digestOf(payload),
    layerMediaType: MT.cosignSimpleSigning,
    annotations: ss.signLegacy({ payload, identity: subject, issue: { issuer } }).annotations,
    payload,
  });
  const bundle = (subject: string, issuer: string): UntrustedBundle => ({
    format: 'bundle',
    source: subject,
    manifestDigest: digestOf(Buffer.from('referrer')),
    bundle: Buffer.from(ss.signBundle({ digest: image, identity: subject, issue: { issuer } }).json),
  });
  const GH = 'https://token.actions.githubusercontent.com';

  const cases: [string, UntrustedLegacySignature | UntrustedBundle, TrustedIdentity, string | undefined][] = [
    [
      'an unanchored address also matches a longer one (cosign semantics)',
      layer('mitr@redhat.com.evil', 'https://github.com/login/oauth'),
      identity('rh', root, re('mitr@redhat\\.com'), exact('https://github.com/login/oauth')),
      undefined,
    ],
    [
      'the anchored address does not match mitr@redhat.com.evil',
      layer('mitr@redhat.com.evil', 'https://github.com/login/oauth'),
      identity('rh', root, re('^mitr@redhat\\.com$'), exact('https://github.com/login/oauth')),
      'subject "mitr@redhat.com.evil" does not match /^mitr@redhat\\.com$/',
    ],
    [
      'the anchored organisation does not match kubewarden-evil',
      bundle('https://github.com/kubewarden-evil/kubewarden-controller/.github/workflows/release.yml@refs/tags/v1', GH),
      identity('kw', root, re('^https://github\\.com/kubewarden/'), exact(GH)),
      'subject "https://github.com/kubewarden-evil/kubewarden-controller/.github/workflows/release.yml@refs/tags/v1" ' +
        'does not match /^https://github\\.com/kubewarden//',
    ],
    [
      'an issuer that only contains the expected one',
      bundle('https://github.com/kubewarden/x/.github/workflows/r.yml@refs/heads/main', `${GH}.evil.example`),
      identity(
        'kw',
        root,
        re('^https://github\\.com/kubewarden/'),
        re('^https://token\\.actions\\.githubusercontent\\.com$'),
      ),
      `issuer "${GH}.evil.example" does not match /^https://token\\.actions\\.githubusercontent\\.com$/`,
    ],
    [
      'an unanchored issuer regexp accepts it (why issuers should be anchored or exact)',
      bundle('https://github.com/kubewarden/x/.github/workflows/r.yml@refs/heads/main', `${GH}.evil.example`),
      identity('kw', root, re('^https://github\\.com/kubewarden/'), re('token\\.actions\\.githubusercontent\\.com')),
      undefined,
    ],
  ];
  for (const [what, sig, id, why] of cases) {
    test(what, () => {
      const r = verifySignature(sig, { digest: image, keys: [], identities: [id] });
      if (why === undefined) verified(r, [id.name]);
      else denied(r, 'wrong-identity', `the certificate is trusted but identity "${id.name}": ${why}`);
    });
  }
});
