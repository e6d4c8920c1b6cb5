// `sigward verify`: the daemon's verdict on one image, from the command line. With --config it is decided by the
// daemon's own parts, started as `serve` starts them (TrustKeeper, createApp: the same trust roots, upstream
// clients, signature gate, discovery, verification and policy), asked directly instead of over HTTP: preflight, the
// manifest, then admit(), exactly as a pull. With --registry-url a running sigward is asked (a manifest GET through
// it) and its answer reported. With signer flags and no config, a one-rule policy for the image's repository is
// compiled from them (ad-hoc.ts) and decided the same way.
import { createApp } from '../app.ts';
import type { LoadedConfig } from '../config/load.ts';
import { SigwardError, isSigwardError } from '../errors.ts';
import { Router } from '../http/routing.ts';
import { createLogger } from '../log.ts';
import { TrustKeeper } from '../tuf/keeper.ts';
import { MANIFEST_TYPES } from '../oci/mediatypes.ts';
import type { Decision } from '../policy/types.ts';
import {
  hasSignerFlags,
  cosignRepository,
  loadCommandLineConfig,
  loadConfigFlag,
  SIGNER_FLAGS,
  SIGNER_USAGE,
  signerSections,
  upstreamEntries,
} from './ad-hoc.ts';
import { EXIT_FAILED, EXIT_OK, exitOnBadInput } from './exit-codes.ts';
import { annotationPairs, flagList, parseFlags, usage } from './flags.ts';
import { parseImageArg, showImage, type ImageArg } from './image-arg.ts';
import type { Io } from './io.ts';

export const VERIFY_USAGE = `usage: sigward verify --config FILE IMAGE
       sigward verify --registry-url URL IMAGE
       sigward verify (--key FILE | --certificate-identity[-regexp] ID --certificate-oidc-issuer[-regexp] ISSUER
                       --trusted-root FILE) [-a KEY=VALUE]... [--tlog required|optional] IMAGE

Gives the verdict sigward's daemon gives IMAGE, and why: registry/repository:tag or registry/repository@sha256:<hex>
(no registry: Docker Hub, as docker reads it; no tag: latest). A tag is resolved to the digest it names now.

  --config FILE        decide as a daemon running with this config decides: its upstreams and credentials, its
                       policy (the rule that matches the image, its signatureRepository), the same signature lookup
                       (legacy .sig image, referrers API and referrers tag schema) and verification
  --registry-url URL   ask a running sigward (e.g. http://127.0.0.1:5050): GET the manifest through it and report
                       its answer (allowed: the X-Sigward-Policy/Outcome/Signers headers; denied: its reason)
  signer flags         without a config: the policy is one rule for the image's repository, as this YAML would be
                       (trust.keys, trust.roots, keys, identities, annotations, tlog); the registry is contacted
                       anonymously over https (plain http on loopback, or with --allow-http-registry)

signer flags:
${SIGNER_USAGE}
  -a, --annotations KEY=VALUE             a signed annotation the signature must carry; repeatable

options:
  --allow-http-registry   without --config: reach the registry over plain http
  --output text|json      text (default): "verified: signed by …" and the explanation, or the denial sigward puts in
                          its 403 body; json: the decision (policy, outcome, signers, every signature's verdict and
                          reason)

environment:
  COSIGN_REPOSITORY   without --config: the repository (registry/repository) the signatures are stored in. With
                      --config the policy's signatureRepository decides, as in the daemon

Exits 0 when the image is allowed (verified, or allowed by the policy), 1 when it is denied or could not be
verified (not found, registry unreachable), 2 when the command cannot work as given (options, files, config).`;

const SPEC = {
  ...SIGNER_FLAGS,
  config: 'string',
  'registry-url': 'string',
  annotations: 'strings',
  'allow-http-registry': 'boolean',
  output: 'string',
  help: 'boolean',
} as const;

/** What `--output json` prints; the text output says the same in words. */
export interface VerifyReport {
  /** The image as given, with its registry and repository spelled out. */
  readonly image: string;
  /** The manifest digest the verdict is about (null when refused before the manifest was fetched). */
  readonly digest: string | null;
  readonly allow: boolean;
  /** The decision's outcome (`verified`, `no-valid-signature`, …), or how a manifest passed without one. */
  readonly outcome: string;
  readonly policy: string | null;
  readonly signers: readonly string[];
  /** The short reason (what the daemon puts in its status line). */
  readonly summary: string;
  /** The full explanation (a denial: what the daemon puts in its 403 body). */
  readonly message: string;
  /** The whole decision, with every signature's verdict; null through --registry-url and for a signature artifact
   * served without one. */
  readonly decision: Decision | null;
  /** --registry-url: the sigward that answered. */
  readonly answeredBy?: string;
}

export async function verifyCommand(argv: readonly string[], io: Io): Promise<number> {
  return exitOnBadInput('verify', io, async () => {
    const flags = parseFlags(argv, SPEC, VERIFY_USAGE, { a: 'annotations' });
    if (flags.help) {
      io.out(VERIFY_USAGE);
      return EXIT_OK;
    }
    const output = flags.output ?? 'text';
    if (output !== 'text' && output !== 'json') throw usage(`--output must be text or json, not ${String(output)}`);
    if (flags._.length !== 1) throw usage(flags._.length === 0 ? 'IMAGE is missing' : 'give one IMAGE');
    const image = parseImageArg(flags._[0] as string);
    const modes = [
      typeof flags.config === 'string' ? '--config' : undefined,
      typeof flags['registry-url'] === 'string' ? '--registry-url' : undefined,
      hasSignerFlags(flags) ? 'signer flags' : undefined,
    ].filter((m) => m !== undefined);
    if (modes.length > 1)
      throw usage(`give one of --config, --registry-url or signer flags, not ${modes.join(' and ')}`);
    const annotations = annotationPairs(flagList(flags, 'annotations'));
    if (modes[0] !== 'signer flags' && Object.keys(annotations).length > 0)
      throw usage('-a goes with signer flags; with --config the policy says which annotations are required');

    let report: VerifyReport;
    if (typeof flags['registry-url'] === 'string') {
      report = await askSigward(flags['registry-url'], image);
    } else {
      let loaded: LoadedConfig;
      if (typeof flags.config === 'string') {
        loaded = loadConfigFlag(flags.config, io.env, (l) => io.err(l));
      } else if (modes.length === 0) {
        throw usage('say what to verify against: --config FILE, --registry-url URL, or signer flags (--key, ...)');
      } else {
        loaded = commandLineConfig(flags, image, annotations, io);
      }
      report = await decide(loaded, image);
    }
    if (output === 'json') io.out(JSON.stringify(report, null, 2));
    else io.out(textOf(report));
    return report.allow ? EXIT_OK : EXIT_FAILED;
  });
}

/** The config a daemon would need to decide this image under the flags' one rule. */
function commandLineConfig(
  flags: ReturnType<typeof parseFlags>,
  image: ImageArg,
  annotations: Record<string, string>,
  io: Io,
): LoadedConfig {
  const { trust, rule } = signerSections(flags, process.cwd());
  const sigRepo = cosignRepository(io.env);
  const hosts = [image.host, ...(sigRepo === undefined ? [] : [sigRepo.host])];
  return loadCommandLineConfig(
    {
      upstreams: upstreamEntries(hosts, flags['allow-http-registry'] === true),
      trust,
      policy: {
        default: 'deny',
        policies: [
          {
            ...rule,
            match: [`${image.host}/${image.repository}`],
            ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
            ...(sigRepo === undefined ? {} : { signatureRepository: `${sigRepo.host}/${sigRepo.repository}` }),
          },
        ],
      },
    },
    io.env,
  );
}

/** Decide as the daemon does for a pull of `image`: route, preflight, fetch the manifest, admit. */
async function decide(loaded: LoadedConfig, image: ImageArg): Promise<VerifyReport> {
  const logger = createLogger('silent');
  // As `serve` starts: TUF-kept trust roots fetched (or taken from their verified cache) first; none: nothing contacted.
  const trust = await TrustKeeper.open(loaded, logger);
  // Every signature is read and reported, not only enough of them to decide.
  const sw = createApp(loaded, { logger, trust, readAllSignatures: true });
  const shown = showImage(image.host, image.repository, image.ref);
  try {
    const target = new Router(loaded.config.upstreams).resolve(`${image.host}/${image.repository}`, null);
    try {
      sw.gate.preflight(target, image.ref);
    } catch (e) {
      if (!isSigwardError(e, 'DENIED')) throw e;
      // Refused before anything was fetched (a reject rule, or no policy and a deny default): the decision the
      // preflight refused on, with the same (empty) digest.
      const policy = sw.gate.policy;
      const res = policy.resolve(target.upstream.host, target.repository);
      const ctx = image.ref.kind === 'digest' ? { digest: image.ref.digest } : { digest: '', tag: image.ref.tag };
      const d = policy.decideWithoutSignatures(res, ctx) ?? null;
      return fromDecision(shown, null, d, e.message, e.reason ?? '');
    }
    const client = sw.clients.get(target.upstream.host);
    const m = await sw.manifests.get(client, target.upstream.host, target.repository, image.ref);
    const admission = await sw.gate.admit(target, m, image.ref);
    if (admission.kind === 'verdict') {
      const d = admission.decision;
      return fromDecision(shown, m.digest, d, d.message, d.summary);
    }
    if (admission.kind === 'refused') {
      const r = admission.refusal;
      // The decision behind the refusal, for --output json.
      const d = admission.decision ?? null;
      return {
        ...fromDecision(shown, m.digest, d, r.message, r.reason ?? ''),
        allow: false,
        outcome: admission.outcome,
        ...(d === null ? { policy: (r.detail?.policy as string | undefined) ?? null } : {}),
      };
    }
    const what =
      admission.outcome === 'attachment'
        ? 'a signature artifact (every layer proven to be a signature, attestation or SBOM document): sigward serves it without a signature of its own'
        : 'a referrers tag-schema index (pointers only, each gated when fetched): sigward serves it without a signature of its own';
    return {
      image: shown,
      digest: m.digest,
      allow: true,
      outcome: admission.outcome,
      policy: null,
      signers: [],
      summary: admission.outcome,
      message: `${showImage(image.host, image.repository, m.digest)} is ${what}.`,
      decision: null,
    };
  } finally {
    await sw.close();
  }
}

function fromDecision(
  image: string,
  digest: string | null,
  d: Decision | null,
  message: string,
  summary: string,
): VerifyReport {
  return {
    image,
    digest,
    allow: d?.allow ?? false,
    outcome: d?.outcome ?? 'rejected',
    policy: d?.policyName ?? null,
    signers: d?.signers ?? [],
    summary,
    message,
    decision: d,
  };
}

/** GET the manifest through a running sigward and report what it answered. */
async function askSigward(base: string, image: ImageArg): Promise<VerifyReport> {
  let root: URL;
  try {
    root = new URL(base);
  } catch {
    throw usage(`--registry-url ${base}: not a URL (e.g. http://127.0.0.1:5050)`);
  }
  if (root.protocol !== 'http:' && root.protocol !== 'https:')
    throw usage(`--registry-url ${base}: must start with http:// or https://`);
  const ref = image.ref.kind === 'tag' ? image.ref.tag : image.ref.digest;
  const url = `${root.origin}/v2/${image.host}/${image.repository}/manifests/${ref}`;
  let res: Response;
  try {
    res = await fetch(url, { headers: { accept: MANIFEST_TYPES.join(', ') }, redirect: 'manual' });
  } catch (e) {
    const cause = e instanceof Error && e.cause instanceof Error ? e.cause.message : String(e);
    throw failure(`cannot reach sigward at ${root.origin}: ${cause}`);
  }
  const shown = showImage(image.host, image.repository, image.ref);
  const body = Buffer.from(await res.arrayBuffer());
  const header = (name: string): string | null => res.headers.get(name);
  if (res.status === 200) {
    const signers = (header('x-sigward-signers') ?? '').split(', ').filter((s) => s !== '');
    const outcome = header('x-sigward-outcome') ?? 'served';
    const wouldDeny = header('x-sigward-would-deny');
    return {
      image: shown,
      digest: header('docker-content-digest'),
      allow: true,
      outcome,
      policy: header('x-sigward-policy'),
      signers,
      summary: outcome === 'verified' ? `verified: signed by ${signers.join(', ')}` : outcome,
      message:
        wouldDeny === null
          ? `sigward at ${root.origin} serves ${shown}`
          : `sigward at ${root.origin} serves ${shown} in warn mode, though it would deny it (${wouldDeny}): ${header('warning') ?? ''}`,
      decision: null,
      answeredBy: root.origin,
    };
  }
  const err = ociError(body);
  if (res.status === 403 && err?.code === 'DENIED') {
    const detail = err.detail ?? {};
    return {
      image: shown,
      digest: null,
      allow: false,
      outcome: typeof detail.outcome === 'string' ? detail.outcome : 'denied',
      policy: typeof detail.policy === 'string' ? detail.policy : null,
      signers: [],
      summary: /^Forbidden \((.*)\)$/.exec(res.statusText)?.[1] ?? res.statusText,
      message: err.message,
      decision: null,
      answeredBy: root.origin,
    };
  }
  throw failure(
    `sigward at ${root.origin} answered ${res.status}${res.statusText === '' ? '' : ` ${res.statusText}`}` +
      `${err === undefined ? '' : `: ${err.message.split('\n')[0] ?? ''}`}`,
  );
}

function ociError(
  body: Buffer,
): { code: string; message: string; detail?: Record<string, unknown> | undefined } | undefined {
  try {
    const e = (JSON.parse(body.toString('utf8')) as { errors?: unknown[] }).errors?.[0] as
      { code?: unknown; message?: unknown; detail?: unknown } | undefined;
    if (typeof e?.code !== 'string' || typeof e.message !== 'string') return undefined;
    const detail =
      typeof e.detail === 'object' && e.detail !== null ? (e.detail as Record<string, unknown>) : undefined;
    return { code: e.code, message: e.message, detail };
  } catch {
    return undefined;
  }
}

/** Not verified for another reason than a policy's denial (unreachable, an error answer): main.ts prints the one
 * line and exits 1. */
function failure(message: string): SigwardError {
  return new SigwardError('VERIFY_UNAVAILABLE', message);
}

function textOf(r: VerifyReport): string {
  if (!r.allow) return r.message;
  const first =
    r.outcome === 'verified' ? r.summary : `allowed (${r.outcome}${r.policy === null ? '' : `, policy ${r.policy}`})`;
  return `${first}\n${r.message}`;
}
