// Reads a config file and everything it points to (CA bundles, password files, environment variables), so that a
// daemon that starts has everything it needs and a bad config is refused up front with every problem listed.
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { SigwardError } from '../errors.ts';
import { DEFAULT_CACHE, type Config, type SecretRef, type UpstreamConfig } from './types.ts';
import { caPemProblem } from './ca-pem.ts';
import { parseConfigText } from './parse.ts';
import { upstreamNames } from './upstream-names.ts';
import { auditFileProblem } from './audit.ts';
import { formatProblems, Problems, type Problem } from '../util/yaml-reader.ts';
import { compilePolicy } from '../policy/compile.ts';
import { hostNames } from '../policy/hosts.ts';
import type { CompiledPolicy } from '../policy/types.ts';
import type { TufFindings, TufSource } from '../policy/authorities.ts';
import { resolveTufRoot, tufFindings, type TufRoot } from './tuf.ts';

export interface LoadedConfig {
  readonly file: string;
  readonly config: Config;
  /** Resolved upstream passwords by upstream host. Never logged. */
  readonly passwords: ReadonlyMap<string, string>;
  /** PEM CA bundles by upstream host. */
  readonly caPems: ReadonlyMap<string, string>;
  /** The trust and policy sections, compiled once (immutable, with a semantic hash). A TUF-kept root is compiled
   * with the trusted_root.json the daemon fetched last (or as not fetched yet): serve fetches it and recompiles. */
  readonly policy: CompiledPolicy;
  /** The trust roots kept current by TUF (`trust.roots.<name>.tuf`), paths resolved. */
  readonly tufRoots: readonly TufRoot[];
  /** The same trust and policy sections compiled again, with these trusted_root.json texts for TUF roots (by name),
   * from the files as they were read at load: a refreshed root re-reads neither the config nor a key file. Throws
   * CONFIG_INVALID (the problems listed) when a text is not a usable trusted_root.json. */
  readonly recompile: (tufTexts: ReadonlyMap<string, string>) => CompiledPolicy;
}

export type EnvLike = Readonly<Record<string, string | undefined>>;

function readText(path: string): string | Error {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return new Error(
      code === 'ENOENT'
        ? `file not found: ${path}`
        : code === 'EACCES'
          ? `permission denied: ${path}`
          : `cannot read ${path}: ${String(e)}`,
    );
  }
}

function resolveSecret(
  ref: SecretRef,
  path: (string | number)[],
  base: string,
  env: EnvLike,
  problems: Problems,
): string | undefined {
  if (ref.file !== undefined) {
    const text = readText(isAbsolute(ref.file) ? ref.file : resolve(base, ref.file));
    if (text instanceof Error) {
      problems.add([...path, 'passwordFile'], text.message);
      return undefined;
    }
    return text.replace(/\r?\n$/, '');
  }
  const name = ref.env as string;
  const value = env[name];
  if (value === undefined) {
    problems.add([...path, 'passwordEnv'], `environment variable ${name} is not set`);
    return undefined;
  }
  return value;
}

function resolveUpstreamFiles(
  upstreams: readonly UpstreamConfig[],
  base: string,
  env: EnvLike,
  problems: Problems,
): { passwords: Map<string, string>; caPems: Map<string, string> } {
  const passwords = new Map<string, string>();
  const caPems = new Map<string, string>();
  upstreams.forEach((u, i) => {
    if (u.auth.kind === 'basic') {
      const pw = resolveSecret(u.auth.password, ['upstreams', i, 'auth'], base, env, problems);
      if (pw !== undefined) passwords.set(u.host, pw);
    }
    if (u.caFile !== undefined) {
      const text = readText(isAbsolute(u.caFile) ? u.caFile : resolve(base, u.caFile));
      const problem = text instanceof Error ? text.message : caPemProblem(text);
      if (problem !== undefined) problems.add(['upstreams', i, 'caFile'], problem);
      else if (typeof text === 'string') caPems.set(u.host, text);
    }
  });
  return { passwords, caPems };
}

/** A signature repository is fetched like any image: its registry must be a configured upstream. */
function checkSignatureRepositories(
  policy: CompiledPolicy,
  upstreams: readonly UpstreamConfig[],
  problems: Problems,
): void {
  const names = new Set(upstreams.flatMap(upstreamNames));
  policy.rules.forEach((r, i) => {
    if (r.kind === 'signed' && r.signatureRepository && !names.has(r.signatureRepository.host)) {
      problems.add(
        ['policy', 'policies', i, 'signatureRepository'],
        `registry ${r.signatureRepository.host} is not under upstreams; sigward only contacts configured registries`,
      );
    }
  });
}

export function configProblemsError(file: string, problems: readonly Problem[]): SigwardError {
  return new SigwardError('CONFIG_INVALID', formatProblems(file, problems), { detail: { problems } });
}

/** Load and fully validate a config file. Throws CONFIG_INVALID listing every problem. */
export function loadConfig(file: string, env: EnvLike = process.env): LoadedConfig {
  const text = readText(file);
  if (text instanceof Error) throw new SigwardError('CONFIG_INVALID', `cannot load config: ${text.message}`);
  return loadConfigText(text, file, dirname(resolve(file)), env);
}

/** Load and fully validate a config document given as text: `file` names it in problems, relative paths in it are
 * resolved against `base` (for a file, its directory). */
export function loadConfigText(text: string, file: string, base: string, env: EnvLike = process.env): LoadedConfig {
  const parsed = parseConfigText(text);
  const problems = parsed.collector;
  let passwords = new Map<string, string>();
  let caPems = new Map<string, string>();
  if (parsed.config) {
    ({ passwords, caPems } = resolveUpstreamFiles(parsed.config.upstreams, base, env, problems));
  }
  const cacheDir = resolve(base, parsed.config?.cache.dir ?? DEFAULT_CACHE.dir);
  const auditSection = parsed.config?.audit;
  const audit = auditSection && { ...auditSection, file: resolve(base, auditSection.file) };
  const auditProblem = audit && auditFileProblem(audit.file);
  if (auditProblem !== undefined) problems.add(['audit', 'file'], auditProblem);
  // Every trust file is read once: a recompile (a TUF root refreshed) uses these same texts.
  const files = new Map<string, string | Error>();
  const readKeyFile = (p: string): string | Error => {
    const abs = isAbsolute(p) ? p : resolve(base, p);
    let text = files.get(abs);
    if (text === undefined) {
      text = readText(abs);
      files.set(abs, text);
    }
    return text;
  };
  const hosts = hostNames(parsed.config?.upstreams ?? []);
  const tufRoots: TufRoot[] = [];
  const tufRoot = (name: string, source: TufSource): TufFindings => {
    const root = resolveTufRoot(name, source, base, cacheDir);
    const found = tufFindings(root, readText);
    const twin = tufRoots.find((r) => r.cacheDir === root.cacheDir);
    tufRoots.push(root);
    if (twin === undefined) return found;
    const message = `${root.cacheDir} is already the cache directory of trust root ${twin.name}; give each its own`;
    return { ...found, problems: [...found.problems, { field: 'cacheDir', message }] };
  };
  // Trust and policy are compiled even when other sections have problems, so every problem is reported in one run.
  const policy = compilePolicy(parsed.policySource, problems, { readKeyFile, hosts, tufRoot });
  if (policy && parsed.config) checkSignatureRepositories(policy, parsed.config.upstreams, problems);
  if (!problems.empty || !parsed.config || !policy) throw configProblemsError(file, problems.list);
  const config: Config = {
    ...parsed.config,
    cache: { ...parsed.config.cache, dir: cacheDir },
    ...(audit ? { audit } : {}),
  };
  const recompile = (tufTexts: ReadonlyMap<string, string>): CompiledPolicy => {
    const again = new Problems();
    const compiled = compilePolicy(parsed.policySource, again, {
      readKeyFile,
      hosts,
      tufRoot: (name) => {
        const text = tufTexts.get(name);
        return { problems: [], ...(text !== undefined ? { text } : {}) };
      },
    });
    if (compiled === undefined || !again.empty) throw configProblemsError(file, again.list);
    return compiled;
  };
  return { file, config, passwords, caPems, policy, tufRoots, recompile };
}
