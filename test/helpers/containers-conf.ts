// The containers/image configuration shared by the skopeo and podman helpers (containers-registries.conf(5),
// containers-policy.json(5)). sigward is the `location` of a fake registry prefix, never a `[[registry.mirror]]`:
// c/image falls back from a failing mirror to the primary, which would bypass enforcement.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface ContainersConfOptions {
  /** sigward's address, host:port (e.g. 127.0.0.1:5050). */
  sigward: string;
  /** The fake registry host that image references use (default example.test); never resolved. */
  prefix?: string;
  /** Route by path prefix, location `HOST:PORT/<prefix>` (default true), or use sigward's root as the location. */
  hostInPath?: boolean;
  /** A directory of CA certificates (ca.crt) when sigward serves TLS; the location is then not `insecure`. */
  certDir?: string;
  /** Credentials `user:pass` for sigward, written to the auth file under sigward's host:port. Not `--creds`: c/image
   * drops explicit credentials when the location's host differs from the reference's (docker_image_src.go). */
  creds?: string;
  /** skopeo only: let c/image also fetch cosign `.sig` tags (registries.d `use-sigstore-attachments: true`). */
  sigstoreAttachments?: boolean;
}

export interface ContainersFiles {
  registriesConf: string;
  policy: string;
  registriesD: string;
  authFile: string;
}

/** TOML basic string (the values here are host names and paths: quote and escape, nothing more). */
const q = (s: string): string => JSON.stringify(s);

/** Write registries.conf, policy.json (accept anything: sigward is what enforces), registries.d and an empty auth file. */
export function writeContainersFiles(dir: string, opts: ContainersConfOptions): ContainersFiles {
  const prefix = opts.prefix ?? 'example.test';
  const location = opts.hostInPath === false ? opts.sigward : `${opts.sigward}/${prefix}`;
  const registriesConf = join(dir, 'registries.conf');
  writeFileSync(
    registriesConf,
    [
      'unqualified-search-registries = []',
      '',
      '[[registry]]',
      `prefix = ${q(prefix)}`,
      `location = ${q(location)}`,
      `insecure = ${opts.certDir === undefined}`,
      '',
    ].join('\n'),
  );
  const policy = join(dir, 'policy.json');
  writeFileSync(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
  const registriesD = join(dir, 'registries.d');
  mkdirSync(registriesD, { recursive: true });
  if (opts.sigstoreAttachments) {
    writeFileSync(join(registriesD, 'default.yaml'), 'default-docker:\n  use-sigstore-attachments: true\n');
  }
  // An auth file of our own, so credentials stored for root on this machine are never sent.
  const authFile = join(dir, 'auth.json');
  const auths =
    opts.creds === undefined ? {} : { [opts.sigward]: { auth: Buffer.from(opts.creds).toString('base64') } };
  writeFileSync(authFile, JSON.stringify({ auths }));
  return { registriesConf, policy, registriesD, authFile };
}

/** The environment for c/image tools: our auth file and registries.conf, no REGISTRY_* leftovers. */
export function containersEnv(files: ContainersFiles): NodeJS.ProcessEnv {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('REGISTRY_') && !k.startsWith('CONTAINERS_')),
  );
  return { ...env, REGISTRY_AUTH_FILE: files.authFile, CONTAINERS_REGISTRIES_CONF: files.registriesConf };
}

/** `docker://` + ref unless the ref already names a transport. */
export function dockerRef(ref: string): string {
  return /^[a-z-]+:\/\//.test(ref) ? ref : `docker://${ref}`;
}
