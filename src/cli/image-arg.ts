// Image references as a person types them on the command line, read the way docker and cosign (go-containerregistry
// pkg/name) read them: `[host[:port]/]repository[:tag][@digest]`. No host means Docker Hub, where a one-component
// name gets `library/`; neither tag nor digest means `:latest`; a digest wins over a tag. Pure.
import { DOCKER_HUB_NAMES } from '../config/types.ts';
import { parseDigest } from '../oci/digest.ts';
import { looksLikeHost, parseRepositoryName, parseTag, type ManifestReference } from '../oci/reference.ts';
import { clip } from '../util/clip.ts';
import { usage } from './flags.ts';

export interface ImageArg {
  /** The registry as typed, lowercased; `docker.io` when none was given. */
  readonly host: string;
  readonly repository: string;
  readonly ref: ManifestReference;
  /** Whether a tag was given or implied (not a digest): the tag names a digest only at the moment it is read. */
  readonly byTag: boolean;
}

export interface RepositoryArg {
  readonly host: string;
  readonly repository: string;
}

const DOCKER_HUB = 'docker.io';

/** `host/repository` of an image or repository argument (no tag or digest). */
export function parseRepositoryArg(text: string, what = 'repository'): RepositoryArg {
  // A tag or digest leaves a ':' or '@' in the repository part, which the name grammar refuses.
  return split(text, what);
}

/** Where cosign reads and writes an image's signatures: the repository COSIGN_REPOSITORY names when it is set and not
 * empty (cosign pkg/oci/remote/options.go, GetEnvTargetRepository), else the image's own. */
export function signatureRepository(
  image: RepositoryArg,
  env: Readonly<Record<string, string | undefined>>,
): RepositoryArg {
  const named = env.COSIGN_REPOSITORY;
  return named === undefined || named === '' ? image : parseRepositoryArg(named, 'COSIGN_REPOSITORY');
}

/** An image reference: `host/repo:tag`, `host/repo@sha256:<hex>`, `repo` (Docker Hub, :latest). */
export function parseImageArg(text: string): ImageArg {
  const at = text.indexOf('@');
  const digest = at >= 0 ? text.slice(at + 1) : undefined;
  let rest = at >= 0 ? text.slice(0, at) : text;
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  const { host, repository } = split(rest, 'image');
  let ref: ManifestReference;
  try {
    ref =
      digest !== undefined
        ? { kind: 'digest', digest: parseDigest(digest) }
        : { kind: 'tag', tag: parseTag(tag ?? 'latest') };
    if (digest !== undefined && tag !== undefined) parseTag(tag);
  } catch (e) {
    throw usage(`image '${clip(text)}': ${e instanceof Error ? e.message : String(e)}`);
  }
  return { host, repository, ref, byTag: ref.kind === 'tag' };
}

function split(text: string, what: string): RepositoryArg {
  if (text === '') throw usage(`${what} is empty`);
  const slash = text.indexOf('/');
  const first = slash < 0 ? '' : text.slice(0, slash);
  const hasHost = slash >= 0 && looksLikeHost(first);
  const host = hasHost ? first.toLowerCase() : DOCKER_HUB;
  let repository = hasHost ? text.slice(slash + 1) : text;
  if (isDockerHub(host) && !repository.includes('/')) repository = `library/${repository}`;
  try {
    parseRepositoryName(repository);
  } catch (e) {
    throw usage(`${what} '${clip(text)}': ${e instanceof Error ? e.message : String(e)}`);
  }
  return { host, repository };
}

export function isDockerHub(host: string): boolean {
  return DOCKER_HUB_NAMES.includes(host);
}

/** What cosign writes as `critical.identity.docker-reference`: go-containerregistry's Repository.Name(), registry
 * plus repository, no tag or digest, Docker Hub spelled `index.docker.io`. */
export function dockerReference(host: string, repository: string): string {
  return `${isDockerHub(host) ? 'index.docker.io' : host}/${repository}`;
}

/** `host/repo:tag` or `host/repo@digest`, for messages. */
export function showImage(host: string, repository: string, ref: ManifestReference | string): string {
  if (typeof ref === 'string') return `${host}/${repository}${ref.includes(':') ? '@' : ':'}${ref}`;
  return ref.kind === 'tag' ? `${host}/${repository}:${ref.tag}` : `${host}/${repository}@${ref.digest}`;
}
