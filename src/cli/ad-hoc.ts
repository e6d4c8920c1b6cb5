// The signer flags cosign's `verify` and `verify-blob` take (`--key`, `--certificate-identity[-regexp]`,
// `--certificate-oidc-issuer[-regexp]`, `--certificate-github-workflow-*`, `--trusted-root`, `-a`, `--tlog`), turned
// into the `trust` section and ONE policy rule of a sigward config, so they are compiled and checked by the same code
// as a config file: what the flags mean is exactly what the equivalent YAML means. Problems come back naming the flag
// (not the YAML path of a document nobody wrote), on one line.
import { readFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { stringify } from 'yaml';
import { configProblemsError, loadConfig, loadConfigText, type EnvLike, type LoadedConfig } from '../config/load.ts';
import { isSigwardError } from '../errors.ts';
import { compilePolicy } from '../policy/compile.ts';
import { NAME_RE } from '../policy/trust.ts';
import type { SignedRule } from '../policy/types.ts';
import { Problems, type Problem } from '../util/yaml-reader.ts';
import { isLoopbackHost } from '../registry-write/connect.ts';
import { flagList, usage, type FlagSpec, type Flags } from './flags.ts';
import { parseRepositoryArg, type RepositoryArg } from './image-arg.ts';

/** The rule's name: it shows in decision messages (`Policy "command-line" requires …`). */
export const AD_HOC_POLICY = 'command-line';
/** The name of the one identity (threshold and messages count it like a key name). */
export const AD_HOC_IDENTITY = 'certificate-identity';
const ROOT = 'trusted-root';

const GITHUB_CLAIMS = ['trigger', 'sha', 'name', 'repository', 'ref'] as const;

export const SIGNER_FLAGS = {
  key: 'strings',
  'certificate-identity': 'string',
  'certificate-identity-regexp': 'string',
  'certificate-oidc-issuer': 'string',
  'certificate-oidc-issuer-regexp': 'string',
  ...Object.fromEntries(GITHUB_CLAIMS.map((c) => [`certificate-github-workflow-${c}`, 'string'])),
  'trusted-root': 'string',
  tlog: 'string',
} as const satisfies FlagSpec;

export const SIGNER_USAGE = `  --key FILE                              a trusted public key (PEM, e.g. cosign.pub); repeatable: any of them
  --certificate-identity ID               a certificate (keyless) signer: its identity (email, URI), exactly
  --certificate-identity-regexp RE        ... or matching this RE2 expression (unanchored, as in cosign)
  --certificate-oidc-issuer URL           the OIDC issuer that certified the identity, exactly
  --certificate-oidc-issuer-regexp RE     ... or matching this expression
  --certificate-github-workflow-{trigger,sha,name,repository,ref} VALUE
                                          GitHub Actions claims the certificate must carry
  --trusted-root FILE                     the Sigstore trusted_root.json certificates, logs and timestamps are
                                          checked against, offline (config/sigstore-public-good.trusted_root.json
                                          is the public-good one)
  --tlog required|optional                as a policy's tlog: certificate signatures need a verified
                                          transparency-log entry unless optional (then an RFC 3161 timestamp gives
                                          their time); required also makes key signatures count only when logged
                                          in the --trusted-root's log`;

/** Whether any signer flag was given. */
export function hasSignerFlags(flags: Flags): boolean {
  return Object.keys(SIGNER_FLAGS).some((f) => flags[f] !== undefined);
}

/** The `trust` section and the signer fields of the rule, from the flags. `base`: where relative paths start. */
export function signerSections(
  flags: Flags,
  base: string,
): { trust: Record<string, unknown>; rule: Record<string, unknown> } {
  const keyFiles = flagList(flags, 'key');
  const keys: Record<string, { file: string }> = {};
  const names: string[] = [];
  keyFiles.forEach((file, i) => {
    // The file's name names the key in messages (`signed by cosign.pub`) when it can; else key-<n>.
    const own = basename(file);
    const name = NAME_RE.test(own) && !names.includes(own) ? own : `key-${i + 1}`;
    names.push(name);
    keys[name] = { file: resolve(base, file) };
  });
  const str = (f: string): string | undefined => (typeof flags[f] === 'string' ? flags[f] : undefined);
  const identity: Record<string, unknown> = {};
  const set = (field: string, flag: string): void => {
    const v = str(flag);
    if (v !== undefined) identity[field] = v;
  };
  set('subject', 'certificate-identity');
  set('subjectRegExp', 'certificate-identity-regexp');
  set('issuer', 'certificate-oidc-issuer');
  set('issuerRegExp', 'certificate-oidc-issuer-regexp');
  const github: Record<string, string> = {};
  for (const c of GITHUB_CLAIMS) {
    const v = str(`certificate-github-workflow-${c}`);
    if (v !== undefined) github[c] = v;
  }
  if (Object.keys(github).length > 0) identity.github = github;
  const root = str('trusted-root');
  if (Object.keys(identity).length > 0) {
    const both = (a: string): boolean => str(a) !== undefined && str(`${a}-regexp`) !== undefined;
    const either = (a: string): boolean => str(a) !== undefined || str(`${a}-regexp`) !== undefined;
    for (const f of ['certificate-identity', 'certificate-oidc-issuer'])
      if (both(f)) throw usage(`give --${f} or --${f}-regexp, not both`);
    if (!either('certificate-identity'))
      throw usage('--certificate-identity (or --certificate-identity-regexp) is missing: whose certificate may sign');
    if (!either('certificate-oidc-issuer'))
      throw usage(
        '--certificate-oidc-issuer (or --certificate-oidc-issuer-regexp) is missing: without it anyone who can get that identity from any provider would pass',
      );
    if (root === undefined)
      throw usage(
        '--trusted-root FILE is missing: certificates are checked against a Sigstore trusted_root.json (config/sigstore-public-good.trusted_root.json is the public-good one)',
      );
  }
  if (names.length === 0 && Object.keys(identity).length === 0) {
    throw usage(
      'give the signer: --key FILE, or --certificate-identity[-regexp] with --certificate-oidc-issuer[-regexp] and --trusted-root',
    );
  }
  const tlog = str('tlog');
  return {
    trust: {
      ...(names.length > 0 ? { keys } : {}),
      ...(root !== undefined ? { roots: { [ROOT]: { trustedRoot: resolve(base, root) } } } : {}),
    },
    rule: {
      name: AD_HOC_POLICY,
      ...(names.length > 0 ? { keys: names } : {}),
      ...(Object.keys(identity).length > 0 ? { identities: [{ name: AD_HOC_IDENTITY, ...identity }] } : {}),
      ...(tlog !== undefined ? { tlog } : {}),
    },
  };
}

/** `upstreams` entries for the registries named on the command line: https (Docker Hub at its real address), or plain
 * http on loopback as docker and cosign do, or anywhere with --allow-http-registry. Anonymous. */
export function upstreamEntries(hosts: readonly string[], allowHttp: boolean): Record<string, unknown>[] {
  return [...new Set(hosts)].map((host) =>
    isLoopbackHost(host) || allowHttp ? { host, url: `http://${host}` } : { host },
  );
}

/** COSIGN_REPOSITORY, when set: where cosign keeps (and looks for) signatures instead of next to the image. */
export function cosignRepository(env: EnvLike): RepositoryArg | undefined {
  const v = env.COSIGN_REPOSITORY;
  return v === undefined || v === '' ? undefined : parseRepositoryArg(v, 'COSIGN_REPOSITORY');
}

/** --config FILE, loaded as the daemon loads it, its problems on one line. With a config the policy's
 * signatureRepository says where signatures are, as in the daemon: COSIGN_REPOSITORY is noted and not used. */
export function loadConfigFlag(file: string, env: EnvLike, note: (line: string) => void): LoadedConfig {
  let loaded: LoadedConfig;
  try {
    loaded = loadConfig(file, env);
  } catch (e) {
    throw oneLine(e);
  }
  if (cosignRepository(env) !== undefined)
    note(`note: COSIGN_REPOSITORY is not used with --config: the policy's signatureRepository decides`);
  return loaded;
}

/** Load a config document built from the command line as a file is loaded (the same parsing, compiling and checks;
 * relative paths against the working directory). Problems come back naming the flags. */
export function loadCommandLineConfig(doc: Record<string, unknown>, env: EnvLike): LoadedConfig {
  try {
    return loadConfigText(stringify(doc), 'the command line', process.cwd(), env);
  } catch (e) {
    throw asFlagProblems(e);
  }
}

/** The signer flags compiled as the one rule of a policy (no registry involved): its keys, identities and tlog
 * requirement, exactly as a config with that rule would hand them to the verifier. */
export function loadCommandLineTrust(sections: {
  trust: Record<string, unknown>;
  rule: Record<string, unknown>;
}): SignedRule {
  const problems = new Problems();
  const policy = compilePolicy(
    {
      trust: sections.trust,
      policy: { default: 'deny', policies: [{ ...sections.rule, match: ['artifact.invalid/**'] }] },
    },
    problems,
    { readKeyFile: readText },
  );
  if (policy === undefined || !problems.empty) throw asFlagProblems(configProblemsError('command line', problems.list));
  return policy.rules[0] as SignedRule;
}

function readText(file: string): string | Error {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    return new Error(fileProblem(file, e));
  }
}

function fileProblem(file: string, e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  return `${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : String(e)}`;
}

/** Where a problem of the generated document came from, in the words of the command line. */
function flagOf(path: string): string {
  const rule = /^policy\.policies\[0\]\.?(.*)$/.exec(path)?.[1];
  if (rule !== undefined) {
    const id = /^identities\[0\]\.?(.*)$/.exec(rule)?.[1];
    if (id !== undefined) {
      const field = id.split('.')[0] ?? '';
      const flag: Record<string, string> = {
        subject: '--certificate-identity',
        subjectRegExp: '--certificate-identity-regexp',
        issuer: '--certificate-oidc-issuer',
        issuerRegExp: '--certificate-oidc-issuer-regexp',
        github: `--certificate-github-workflow-${id.split('.')[1] ?? '*'}`,
      };
      return flag[field] ?? 'the certificate identity';
    }
    const field = rule.split(/[.[]/)[0] ?? '';
    const flag: Record<string, string> = {
      keys: '--key',
      annotations: '-a',
      tlog: '--tlog',
      signatureRepository: 'COSIGN_REPOSITORY',
      match: 'IMAGE',
      threshold: '--key',
    };
    return flag[field] ?? 'the signer flags';
  }
  if (path.startsWith('trust.keys')) return '--key';
  if (path.startsWith('trust.roots')) return '--trusted-root';
  if (path.startsWith('upstreams')) return 'IMAGE';
  return path;
}

/** A CONFIG_INVALID from compiling the generated document, as one line naming the flags. */
export function asFlagProblems(e: unknown): unknown {
  if (!isSigwardError(e, 'CONFIG_INVALID')) return e;
  const problems = e.detail?.problems as readonly Problem[] | undefined;
  if (problems === undefined || problems.length === 0) return e;
  return usage(problems.map((p) => `${flagOf(p.path)}: ${p.message}`).join('; '));
}

/** A config file's problems on one line (loadConfig lists them one per line). */
export function oneLine(e: unknown): unknown {
  if (!isSigwardError(e, 'CONFIG_INVALID') || !e.message.includes('\n')) return e;
  const [head, ...rest] = e.message.split('\n');
  return usage(`${head ?? ''} ${rest.map((l) => l.trim()).join('; ')}`);
}

/** A file given on the command line, read whole; a problem is a usage error naming the flag. */
export function readInput(file: string, flag: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw usage(`${flag} ${fileProblem(file, e)}`);
  }
}
