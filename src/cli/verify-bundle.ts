// `sigward verify-bundle`: a Sigstore bundle checked offline, as `cosign verify-blob --bundle` and
// `verify-blob-attestation` check one: its signature with the given key, or its certificate against the given trust
// root (chain, SCT, transparency-log entry and its binding, timestamps) and identity, and that what it signs is the
// artifact (a message signature: over the file's bytes, stating the file's digest; a DSSE statement: naming the
// file's or --digest's digest as a subject). The signer flags mean what the same policy YAML means (ad-hoc.ts).
import { digestOf, parseDigest, type Digest } from '../oci/digest.ts';
import { parseBundle } from '../verify/bundle.ts';
import { verifyArtifactBundle } from '../verify/artifact-bundle.ts';
import type { SignatureCheck } from '../verify/types.ts';
import { loadCommandLineTrust, readInput, SIGNER_FLAGS, SIGNER_USAGE, signerSections } from './ad-hoc.ts';
import { EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, exitOnBadInput } from './exit-codes.ts';
import { parseFlags, usage } from './flags.ts';
import type { Io } from './io.ts';

export const VERIFY_BUNDLE_USAGE = `usage: sigward verify-bundle --bundle FILE (--key FILE | --trusted-root FILE --certificate-identity[-regexp] ID
                             --certificate-oidc-issuer[-regexp] ISSUER) [--tlog required|optional]
                             [--type PREDICATE_TYPE] [--output text|json] (ARTIFACT_FILE | --digest sha256:<hex>)

Verifies a Sigstore bundle (versions 0.1 to 0.3) offline, as cosign verify-blob --bundle and
verify-blob-attestation do: nothing is fetched, every check is made against the key or trusted root given.

  --bundle FILE            the bundle (cosign sign-blob --bundle, cosign attest-blob, or a cosign v3 image
                           signature's referrer layer)
  ARTIFACT_FILE            the signed file. A message signature (sign-blob) is checked over its bytes, and the
                           digest the bundle states must be the file's; a DSSE statement must name its sha256
  --digest sha256:<hex>    instead of the file, for a DSSE statement (an attestation, an image signature): the
                           digest one of its subjects must have
  --type PREDICATE_TYPE    a DSSE statement's predicate type must be this (default: any)

signer flags:
${SIGNER_USAGE}

options:
  --output text|json       text (default): "verified: signed by …", or why not; json: the check (verified,
                           signers, reason, message, material not evaluated)

Exits 0 when the bundle verifies for the artifact, 1 when it does not (the reason says which check failed), 2 when
the command cannot work as given (options, unreadable files, a file that is no Sigstore bundle).`;

const SPEC = {
  ...SIGNER_FLAGS,
  bundle: 'string',
  digest: 'string',
  type: 'string',
  output: 'string',
  help: 'boolean',
} as const;

/** What `--output json` prints. */
export interface BundleReport {
  readonly bundle: string;
  /** `messageSignature` or `dsse`. */
  readonly content: string;
  readonly digest: string;
  readonly verified: boolean;
  /** The names of the signers that verified it: key names (the key file's name), `certificate-identity`. */
  readonly signers: readonly string[];
  /** A certificate's identity: its OIDC issuer and subject names. */
  readonly certificate?: { readonly issuer: string; readonly names: readonly string[] };
  readonly reason?: string;
  readonly message?: string;
  /** Material the bundle carries that no given trust could check (e.g. tlog entries of a key signature). */
  readonly notEvaluated?: readonly string[];
}

export async function verifyBundleCommand(argv: readonly string[], io: Io): Promise<number> {
  return exitOnBadInput('verify-bundle', io, async () => {
    const flags = parseFlags(argv, SPEC, VERIFY_BUNDLE_USAGE);
    if (flags.help) {
      io.out(VERIFY_BUNDLE_USAGE);
      return EXIT_OK;
    }
    const output = flags.output ?? 'text';
    if (output !== 'text' && output !== 'json') throw usage(`--output must be text or json, not ${String(output)}`);
    if (typeof flags.bundle !== 'string') throw usage('--bundle FILE is missing');
    if (flags._.length > 1) throw usage('give one ARTIFACT_FILE');
    const file = flags._[0];
    if ((file === undefined) === (typeof flags.digest !== 'string'))
      throw usage(
        file === undefined ? 'give the ARTIFACT_FILE or --digest' : 'give ARTIFACT_FILE or --digest, not both',
      );
    const bytes = readInput(flags.bundle, '--bundle');
    const parsed = parseBundle(bytes);
    if (!parsed.ok) {
      io.err(`sigward verify-bundle: --bundle ${flags.bundle}: ${parsed.problem}`);
      return EXIT_BAD_INPUT;
    }
    const artifact = file === undefined ? undefined : readInput(file, 'ARTIFACT_FILE');
    let digest: Digest;
    if (artifact !== undefined) digest = digestOf(artifact);
    else {
      try {
        digest = parseDigest(flags.digest as string);
      } catch (e) {
        throw usage(`--digest: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    const content = parsed.value.content.kind;
    if (content === 'messageSignature' && artifact === undefined)
      throw usage('the bundle carries a message signature, which is over the artifact: give the ARTIFACT_FILE');
    const rule = loadCommandLineTrust(signerSections(flags, process.cwd()));
    const check = verifyArtifactBundle(
      { format: 'bundle', source: flags.bundle, manifestDigest: digestOf(bytes), bundle: bytes },
      {
        digest,
        keys: rule.keys,
        identities: rule.identities,
        identityTlog: rule.identityTlog,
        ...(rule.keyTlog !== undefined ? { keyTlog: rule.keyTlog } : {}),
        // Only private-CA certificates are checked at this time; Fulcio ones at their logged or timestamped time.
        now: new Date(),
        ...(artifact !== undefined ? { artifact } : {}),
        ...(typeof flags.type === 'string' ? { predicateType: flags.type } : {}),
      },
    );
    const report = reportOf(flags.bundle, content, digest, check);
    if (output === 'json') io.out(JSON.stringify(report, null, 2));
    else io.out(textOf(report));
    return report.verified ? EXIT_OK : EXIT_FAILED;
  });
}

function reportOf(bundle: string, content: string, digest: Digest, c: SignatureCheck): BundleReport {
  const verified = c.verified && c.signers.length > 0;
  return {
    bundle,
    content,
    digest,
    verified,
    signers: verified ? c.signers : [],
    ...(verified && c.certificateSigner !== undefined ? { certificate: certificateOf(c.certificateSigner) } : {}),
    ...(verified ? {} : { reason: c.reason ?? 'unknown-key', message: c.message ?? 'no trusted signer verified it' }),
    ...(c.notEvaluated !== undefined ? { notEvaluated: c.notEvaluated } : {}),
  };
}

/** keyless.ts names a certificate's signer as JSON [issuer, ["<type>:<value>", ...]]. */
function certificateOf(signer: string): { issuer: string; names: string[] } {
  const [issuer, names] = JSON.parse(signer) as [string, string[]];
  return { issuer, names: names.map((n) => n.slice(n.indexOf(':') + 1)) };
}

function textOf(r: BundleReport): string {
  if (!r.verified) return `not verified: ${r.reason ?? ''}: ${r.message ?? ''}`;
  const who =
    r.certificate === undefined
      ? r.signers.join(', ')
      : `${r.certificate.names.join(', ')} (issuer ${r.certificate.issuer || 'none'})`;
  const lines = [`verified: signed by ${who}`, `${r.content === 'dsse' ? 'statement about' : 'artifact'} ${r.digest}`];
  if (r.notEvaluated !== undefined) lines.push(`not evaluated (no trust given for it): ${r.notEvaluated.join(', ')}`);
  return lines.join('\n');
}
