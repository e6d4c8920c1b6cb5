// Registry credentials from docker's client config, as `docker login` leaves them: `$DOCKER_CONFIG/config.json`, else
// `~/.docker/config.json`, `auths.<registry>.auth` = base64("user:password") (docker/cli cli/config/configfile).
// Keys are a host (`127.0.0.1:5000`), or a URL for Docker Hub (`https://index.docker.io/v1/`). Credential helpers
// (`credsStore`, `credHelpers`) and identity tokens are programs and OAuth flows sigward does not run: for such a
// registry the caller is told why nothing was found and what to do instead.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { SigwardError } from '../errors.ts';
import { DOCKER_HUB_NAMES } from '../config/types.ts';

const isDockerHub = (host: string): boolean => DOCKER_HUB_NAMES.includes(host);

export type EnvLike = Readonly<Record<string, string | undefined>>;

export interface DockerCredentials {
  readonly username: string;
  readonly password: string;
  /** The file they came from, for messages. */
  readonly file: string;
}

/** Credentials found, none (`undefined`), or the reason those that exist cannot be used (`unusable`). */
export type DockerLookup = DockerCredentials | { readonly unusable: string } | undefined;

export function dockerConfigFile(env: EnvLike): string {
  const dir = env.DOCKER_CONFIG ?? join(env.HOME ?? homedir(), '.docker');
  return join(dir, 'config.json');
}

interface AuthEntry {
  auth?: unknown;
  username?: unknown;
  password?: unknown;
  identitytoken?: unknown;
}

interface ConfigFile {
  auths?: Record<string, AuthEntry>;
  credsStore?: unknown;
  credHelpers?: Record<string, unknown>;
}

/** The registry name a config key stands for: `https://index.docker.io/v1/` -> `docker.io`, `host:port` kept. */
function keyHost(key: string): string {
  const bare = key
    .replace(/^[a-z]+:\/\//i, '')
    .replace(/\/.*$/, '')
    .toLowerCase();
  return isDockerHub(bare) ? 'docker.io' : bare;
}

/** Look `host` up in docker's config. A missing file is no credentials; an unreadable or malformed one is an error. */
export function dockerCredentials(host: string, env: EnvLike): DockerLookup {
  const file = dockerConfigFile(env);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new SigwardError('CONFIG_INVALID', `cannot read docker's config ${file}: ${(e as Error).message}`);
  }
  let config: ConfigFile;
  try {
    config = JSON.parse(text) as ConfigFile;
  } catch {
    throw new SigwardError('CONFIG_INVALID', `docker's config ${file} is not JSON`);
  }
  const want = isDockerHub(host) ? 'docker.io' : host.toLowerCase();
  const entry = Object.entries(config.auths ?? {}).find(([k]) => keyHost(k) === want)?.[1];
  const helperOf = Object.entries(config.credHelpers ?? {}).find(([k]) => keyHost(k) === want)?.[1];
  const helper =
    typeof helperOf === 'string' ? helperOf : typeof config.credsStore === 'string' ? config.credsStore : '';
  const fix = `give sigward the credentials through --config (upstreams[].auth with passwordFile or passwordEnv)`;
  const decoded = entry === undefined ? undefined : credentialsOf(entry, file, host);
  if (decoded !== undefined) return decoded;
  if (entry?.identitytoken !== undefined) {
    return { unusable: `${file} holds an identity token for ${host}, which sigward cannot use; ${fix}` };
  }
  if (helper !== '') {
    return {
      unusable: `${file} keeps the credentials for ${host} in the credential helper docker-credential-${helper}, which sigward does not run; ${fix}`,
    };
  }
  return undefined;
}

function credentialsOf(entry: AuthEntry, file: string, host: string): DockerCredentials | undefined {
  if (typeof entry.auth === 'string' && entry.auth !== '') {
    const text = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = text.indexOf(':');
    if (colon <= 0) {
      throw new SigwardError('CONFIG_INVALID', `auths entry for ${host} in ${file} is not base64 of "user:password"`);
    }
    return { username: text.slice(0, colon), password: text.slice(colon + 1), file };
  }
  if (typeof entry.username === 'string' && typeof entry.password === 'string' && entry.username !== '') {
    return { username: entry.username, password: entry.password, file };
  }
  return undefined;
}
