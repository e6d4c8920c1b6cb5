// `sigward triangulate`: where an image's signatures live, as `cosign triangulate` prints it: the `.sig`, `.att` and
// `.sbom` tags of the image's digest (`host/repo:sha256-<hex>.sig`), and for `--type bundle` the referrers that carry
// a Sigstore bundle (`host/repo@sha256:<referrer manifest>`), found by the daemon's own discovery (referrers API,
// else the referrers tag schema). The repository is the image's, or COSIGN_REPOSITORY's, or with --config the
// policy's signatureRepository for the image: where sigward looks.
import { createApp } from '../app.ts';
import type { LoadedConfig } from '../config/load.ts';
import { Router } from '../http/routing.ts';
import { createLogger } from '../log.ts';
import { digestTagBase } from '../oci/cosign-tags.ts';
import type { Digest } from '../oci/digest.ts';
import { discoverSignatures, discoveryLimits } from '../proxy/signatures.ts';
import { cosignRepository, loadCommandLineConfig, loadConfigFlag, upstreamEntries } from './ad-hoc.ts';
import { EXIT_OK, exitOnBadInput } from './exit-codes.ts';
import { parseFlags, usage } from './flags.ts';
import { parseImageArg, type RepositoryArg } from './image-arg.ts';
import type { Io } from './io.ts';

export const TRIANGULATE_USAGE = `usage: sigward triangulate [--type signature|attestation|sbom|bundle] [--config FILE] IMAGE

Prints where the signatures of IMAGE (registry/repository:tag or registry/repository@sha256:<hex>) are stored, as
cosign triangulate does. A tag is resolved to the digest it names now (a registry request); signatures are
stored by that digest.

  --type signature     (default) the legacy signature image: registry/repository:sha256-<hex>.sig
  --type attestation   the legacy attestation image: ...:sha256-<hex>.att
  --type sbom          the attached SBOM: ...:sha256-<hex>.sbom
  --type bundle        the Sigstore bundles (cosign v3 signatures and attestations) stored as OCI referrers of the
                       digest, one registry/repository@sha256:<referrer> per line, found as sigward finds them (the
                       registry's referrers API, else the sha256-<hex> referrers tag schema); none: nothing printed
  --config FILE        a sigward config: its upstreams are how registries are reached, and the policy that matches
                       the image says where its signatures are stored (signatureRepository), as in the daemon.
                       Without it the registry is contacted anonymously over https (plain http on loopback, or
                       with --allow-http-registry)

environment:
  COSIGN_REPOSITORY   without --config: the repository (registry/repository) signatures are stored in instead of
                      the image's

Exits 0 after printing, 1 when the registry could not be asked (tag not found, unreachable), 2 when the command
cannot work as given.`;

const TYPES = { signature: 'sig', attestation: 'att', sbom: 'sbom', bundle: '' } as const;
type SignatureType = keyof typeof TYPES;

export async function triangulateCommand(argv: readonly string[], io: Io): Promise<number> {
  return exitOnBadInput('triangulate', io, async () => {
    const flags = parseFlags(
      argv,
      { type: 'string', config: 'string', 'allow-http-registry': 'boolean', help: 'boolean' },
      TRIANGULATE_USAGE,
    );
    if (flags.help) {
      io.out(TRIANGULATE_USAGE);
      return EXIT_OK;
    }
    const type = (flags.type ?? 'signature') as string;
    if (!(type in TYPES)) throw usage(`--type must be signature, attestation, sbom or bundle, not ${type}`);
    if (flags._.length !== 1) throw usage(flags._.length === 0 ? 'IMAGE is missing' : 'give one IMAGE');
    const image = parseImageArg(flags._[0] as string);
    const sigRepo = cosignRepository(io.env);
    let loaded: LoadedConfig;
    if (typeof flags.config === 'string') {
      loaded = loadConfigFlag(flags.config, io.env, (l) => io.err(l));
    } else {
      const hosts = [image.host, ...(sigRepo === undefined ? [] : [sigRepo.host])];
      const upstreams = upstreamEntries(hosts, flags['allow-http-registry'] === true);
      loaded = loadCommandLineConfig({ upstreams }, io.env);
    }
    const sw = createApp(loaded, { logger: createLogger('silent') });
    try {
      const router = new Router(loaded.config.upstreams);
      const target = router.resolve(`${image.host}/${image.repository}`, null);
      let where: RepositoryArg = { host: image.host, repository: target.repository };
      if (typeof flags.config === 'string') {
        const rule = loaded.policy.resolve(target.upstream.host, target.repository).rule;
        if (rule?.kind === 'signed' && rule.signatureRepository !== undefined) where = rule.signatureRepository;
      } else if (sigRepo !== undefined) {
        where = sigRepo;
      }
      const digest: Digest =
        image.ref.kind === 'digest'
          ? image.ref.digest
          : (await sw.clients.get(target.upstream.host).getManifest(target.repository, image.ref)).digest;
      const display = `${where.host}/${where.repository}`;
      const suffix = TYPES[type as SignatureType];
      if (suffix !== '') {
        io.out(`${display}:${digestTagBase(digest)}.${suffix}`);
        return EXIT_OK;
      }
      const sigTarget = router.resolve(display, null);
      const found = await discoverSignatures(
        { client: sw.clients.get(sigTarget.upstream.host), display, repository: sigTarget.repository },
        digest,
        discoveryLimits(loaded.config.limits),
      );
      // Sorted: discovery reads the referrers API and the tag schema in parallel, so arrival order is not stable.
      const referrers = [
        ...new Set(found.signatures.flatMap((s) => (s.format === 'bundle' ? [s.manifestDigest] : []))),
      ].sort();
      for (const r of referrers) io.out(`${display}@${r}`);
      for (const u of found.unreadable.filter((x) => x.source.includes('referrer')))
        io.err(`note: ${u.source}: not read: ${u.message}`);
      if (referrers.length === 0) io.err(`no Sigstore bundle is stored as a referrer of ${display}@${digest}`);
      return EXIT_OK;
    } finally {
      await sw.close();
    }
  });
}
