// `sigward sign`: sign an image with a cosign key and push the signature where cosign would, in cosign's layout
// (legacy `.sig` layer, or a v3 bundle referrer). Offline by design: no Fulcio, no Rekor, no TSA.
import { readFileSync, statSync } from 'node:fs';
import type { KeyObject } from 'node:crypto';
import { loadConfig } from '../config/load.ts';
import { SigwardError } from '../errors.ts';
import { referrersTag } from '../oci/cosign-tags.ts';
import { MT } from '../oci/mediatypes.ts';
import { Registries, forCommandLine, type Registry } from '../registry-write/connect.ts';
import { addReferrer } from '../registry-write/referrers.ts';
import { buildBundleReferrer, buildDsseBundle, cosignSignStatement } from '../sign/bundle.ts';
import { decryptCosignKey } from '../sign/encrypted-key.ts';
import { simpleSigningPayload } from '../sign/payload.ts';
import type { FetchedManifest } from '../upstream/client.ts';
import { COSIGN_SIGN_PREDICATE } from '../verify/intoto.ts';
import { EXIT_OK, exitOnBadInput } from './exit-codes.ts';
import { annotationPairs, flagList, parseFlags } from './flags.ts';
import { dockerReference, parseImageArg, showImage, signatureRepository } from './image-arg.ts';
import type { Io } from './io.ts';
import { keyPassword } from './password.ts';
import { pushBuilt, pushLegacySignature } from './sign-legacy.ts';

export const SIGN_USAGE = `usage: sigward sign --key FILE [-a KEY=VALUE]... [--format legacy|bundle] [--tlog-upload=false]
                    [--config FILE] IMAGE

Signs IMAGE with a cosign key and pushes the signature to the image's registry, laid out as cosign lays it. IMAGE is
registry/repository:tag or registry/repository@sha256:<hex>; a tag is resolved to the digest it names now, and that
digest is what is signed (sign by digest to be sure which).

  --format legacy   (default) a layer of the image's sha256-<hex>.sig image, with the simple-signing payload cosign
                    signs; appended when that image holds signatures already (an identical signature is not added
                    twice). Read by every cosign version, podman and skopeo, and sigward.
  --format bundle   a cosign v3 Sigstore bundle (DSSE envelope of an in-toto statement) pushed as an OCI referrer of
                    the image: the registry's referrers API lists it, or where there is none it is added to the
                    sha256-<hex> referrers tag index (existing entries kept).

options:
  --key FILE                   cosign private key (cosign.key from cosign or sigward generate-key-pair)
  -a, --annotations KEY=VALUE  a signed annotation; repeatable, and commas separate several (as in cosign)
  --tlog-upload=false          the default: no transparency log upload. sigward signs offline and has no Rekor to
                               upload to, so --tlog-upload (=true) is refused
  --config FILE                a sigward config: a registry under its upstreams is reached as configured there
                               (url, auth, caFile, tokenRealms, timeouts). Other registries, and configured ones
                               without auth, use the credentials of docker's config.json ($DOCKER_CONFIG, or
                               ~/.docker; credential helpers are not run) and https, or plain http on loopback.

environment:
  COSIGN_PASSWORD     the key's password (set and empty: the empty password). Unset: asked on the terminal
                      without echo; with no terminal to ask on, the command stops (exit 2)
  COSIGN_REPOSITORY   push the signature to this repository (registry/repository) instead of the image's; the
                      verifier must look there (sigward: signatureRepository in the policy)

Prints the signature's location on stdout, and what was done on stderr. Exits 0 when the signature is in the
registry, 2 when the command cannot work as given (options, key file, password: nothing was contacted), 1 when the
registry side failed (image not found, push refused, registry unreachable).`;

export type SignFormat = 'legacy' | 'bundle';

const HINT = '`sigward sign --help` shows the usage';

export async function signCommand(argv: readonly string[], io: Io): Promise<number> {
  return exitOnBadInput('sign', io, async () => {
    const { rest, tlogUpload } = takeTlogUpload(argv);
    const flags = parseFlags(
      rest,
      { key: 'string', annotations: 'strings', format: 'string', config: 'string', help: 'boolean' },
      HINT,
      { a: 'annotations' },
    );
    if (flags.help) {
      io.out(SIGN_USAGE);
      return EXIT_OK;
    }
    if (tlogUpload === true) {
      throw bad(
        '--tlog-upload=true is not possible: sigward signs offline and has no transparency log (Rekor) to upload to; leave it out or pass --tlog-upload=false',
      );
    }
    const keyFile = flags.key;
    if (typeof keyFile !== 'string' || keyFile === '') throw bad('--key FILE is required');
    if (flags._.length !== 1) throw bad(flags._.length === 0 ? 'IMAGE is required' : 'give exactly one IMAGE');
    const format = flags.format ?? 'legacy';
    if (format !== 'legacy' && format !== 'bundle')
      throw bad(`--format must be legacy or bundle, not '${String(format)}'`);
    const annotations = annotationPairs(flagList(flags, 'annotations'));
    const image = parseImageArg(flags._[0] as string);
    const target = signatureRepository(image, io.env);
    const loaded = typeof flags.config === 'string' ? loadConfig(flags.config, io.env) : undefined;
    const privateKey = await loadSigningKey(keyFile, io);

    const registries = new Registries({ loaded, env: io.env, warn: (l) => io.err(`sigward sign: ${l}`) });
    try {
      const source = registries.get(image.host);
      const signed = await source.reader.getManifest(image.repository, image.ref);
      if (image.byTag) {
        io.err(
          `sigward sign: ${showImage(image.host, image.repository, image.ref)} names ${signed.digest}; signing that digest`,
        );
      }
      const dest = registries.get(target.host);
      const ctx = { dest, repository: target.repository, signed, annotations, privateKey };
      if (format === 'legacy') {
        await signLegacy(io, { ...ctx, dockerReference: dockerReference(image.host, image.repository) });
      } else {
        await signBundle(io, ctx);
      }
    } catch (e) {
      throw forCommandLine(e);
    } finally {
      await registries.close();
    }
    io.err(
      'sigward sign: not uploaded to a transparency log (sigward signs offline, with no Rekor): verifiers must accept key signatures without a tlog entry (sigward: no tlog: required; cosign verify: --insecure-ignore-tlog)',
    );
    return EXIT_OK;
  });
}

interface SignContext {
  readonly dest: Registry;
  readonly repository: string;
  readonly signed: FetchedManifest;
  readonly annotations: Readonly<Record<string, string>>;
  readonly privateKey: KeyObject;
}

async function signLegacy(io: Io, ctx: SignContext & { dockerReference: string }): Promise<void> {
  const payload = simpleSigningPayload({
    dockerReference: ctx.dockerReference,
    digest: ctx.signed.digest,
    optional: Object.keys(ctx.annotations).length === 0 ? null : ctx.annotations,
  });
  const r = await pushLegacySignature(ctx.dest, ctx.repository, ctx.signed.digest, payload, ctx.privateKey);
  const where = `${ctx.dest.host}/${ctx.repository}:${r.tag}`;
  io.out(`${where}@${r.digest}`);
  if (r.relaid) {
    io.err(
      `sigward sign: ${where} was not laid out as cosign lays it; it was written again in cosign's layout, its earlier signatures kept`,
    );
  }
  io.err(
    r.added
      ? `sigward sign: legacy signature of ${ctx.signed.digest} pushed to ${where} (${plural(r.layers, 'signature')} in it)`
      : `sigward sign: ${where} holds this signature already (same key, same payload); left unchanged (${plural(r.layers, 'signature')})`,
  );
}

async function signBundle(io: Io, ctx: SignContext): Promise<void> {
  const statement = cosignSignStatement({ digest: ctx.signed.digest, annotations: ctx.annotations });
  const bundle = buildDsseBundle({ statement, privateKey: ctx.privateKey });
  const referrer = buildBundleReferrer({
    bundle,
    subject: { mediaType: ctx.signed.mediaType, size: ctx.signed.size, digest: ctx.signed.digest },
    created: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    predicateType: COSIGN_SIGN_PREDICATE,
  });
  const { dest, repository } = ctx;
  for (const blob of [referrer.config, referrer.layer]) await pushBuilt(dest, repository, blob);
  await dest.writer.putManifest(repository, referrer.manifestDigest, referrer.manifest, MT.ociManifest);
  const how = await addReferrer(dest, repository, ctx.signed.digest, {
    mediaType: MT.ociManifest,
    size: referrer.manifest.length,
    digest: referrer.manifestDigest,
    artifactType: referrer.artifactType,
  });
  const index = `${dest.host}/${repository}:${referrersTag(ctx.signed.digest)}`;
  io.out(`${dest.host}/${repository}@${referrer.manifestDigest}`);
  io.err(
    `sigward sign: bundle of ${ctx.signed.digest} pushed as a referrer, ${
      how === 'api'
        ? "listed by the registry's referrers API"
        : how === 'added'
          ? `added to the referrers tag index ${index}`
          : `already listed in the referrers tag index ${index}`
    }`,
  );
}

/** `--tlog-upload[=BOOL]` taken out of argv (Go's boolean flag syntax: 1, t, true, 0, f, false, any case). */
export function takeTlogUpload(argv: readonly string[]): { rest: string[]; tlogUpload: boolean | undefined } {
  let tlogUpload: boolean | undefined;
  const rest: string[] = [];
  for (const a of argv) {
    const m = /^--tlog-upload(?:=(.*))?$/.exec(a);
    if (m === null) {
      rest.push(a);
      continue;
    }
    const v = (m[1] ?? 'true').toLowerCase();
    if (['1', 't', 'true'].includes(v)) tlogUpload = true;
    else if (['0', 'f', 'false'].includes(v)) tlogUpload = false;
    else throw bad(`--tlog-upload takes true or false, not '${m[1] ?? ''}'`);
  }
  return { rest, tlogUpload };
}

/** A cosign private key file, decrypted: the file is checked before any password is asked. */
export async function loadSigningKey(file: string, io: Io): Promise<KeyObject> {
  let text: string;
  try {
    if (statSync(file).size > 1024 * 1024) throw new Error('far too large for a key file');
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : (e as Error).message;
    throw new SigwardError('KEY_INVALID', `cannot read key file ${file}: ${why}`);
  }
  const inFile = (f: () => KeyObject): KeyObject => {
    try {
      return f();
    } catch (e) {
      if (e instanceof SigwardError) throw new SigwardError(e.code, `key file ${file}: ${e.message}`, { cause: e });
      throw e;
    }
  };
  // Not a cosign key: decrypting with any password says why before one is asked for.
  if (!/-----BEGIN ENCRYPTED (?:SIGSTORE|COSIGN) PRIVATE KEY-----/.test(text)) inFile(() => decryptCosignKey(text, ''));
  const password = await keyPassword(io, { confirm: false });
  return inFile(() => decryptCosignKey(text, password));
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function bad(message: string): SigwardError {
  return new SigwardError('CONFIG_INVALID', `${message}; ${HINT}`);
}
