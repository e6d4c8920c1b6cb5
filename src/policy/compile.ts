// The policy is compiled ONCE per config load (as containers/image compiles its policy.json): keys parsed, patterns
// compiled, every problem
// collected with its YAML path, then one deeply frozen object with its semantic hash. Pure: the caller passes the key
// file reader (the config loader wires node:fs), so nothing here touches the file system.
import type { Problems } from '../util/yaml-reader.ts';
import { parseTrustedRoot, privateCa } from '../verify/authority.ts';
import { parsePublicKey } from '../verify/keys.ts';
import { compileAuthorities } from './authorities.ts';
import type { TrustedKey } from '../verify/types.ts';
import { evaluate } from './evaluate.ts';
import { deepFreeze } from './freeze.ts';
import { policyHash } from './hash.ts';
import { DEFAULT_HOST_NAMES } from './hosts.ts';
import { parsePolicySection } from './parse.ts';
import { decideWithoutSignatures } from './platforms.ts';
import { findAmbiguities, makeResolver } from './resolve.ts';
import { compileTrust } from './trust.ts';
import type { CompileDeps, CompiledPolicy, PolicySource } from './types.ts';

/** Compile the `trust` and `policy` sections of a config document. Returns undefined when this added any problem;
 * `problems` then lists them all. */
export function compilePolicy(source: PolicySource, problems: Problems, deps: CompileDeps): CompiledPolicy | undefined {
  const before = problems.list.length;
  const hosts = deps.hosts ?? DEFAULT_HOST_NAMES;
  const { keys, declared } = compileTrust(source.trust, problems, {
    readKeyFile: deps.readKeyFile,
    parseKey: deps.parseKey ?? parsePublicKey,
  });
  const authorities = compileAuthorities(source.trust, problems, {
    readFile: deps.readKeyFile,
    parseRoot: deps.parseRoot ?? parseTrustedRoot,
    parseCa: deps.parseCa ?? privateCa,
    ...(deps.tufRoot ? { tufRoot: deps.tufRoot } : {}),
  });
  const { defaultAction, rules } = parsePolicySection(source.policy, problems, { keys, declared, hosts, authorities });
  findAmbiguities(rules, problems);
  if (problems.list.length !== before) return undefined;

  const compiledRules = deepFreeze(rules.map((r) => r.rule));
  const keyTable: Record<string, TrustedKey> = {};
  for (const [name, key] of keys) keyTable[name] = key;
  const resolve = makeResolver(rules, defaultAction, hosts);
  const policy: CompiledPolicy = {
    hash: policyHash(defaultAction, compiledRules, hosts),
    defaultAction,
    rules: compiledRules,
    keys: keyTable,
    roots: Object.fromEntries(authorities.roots),
    cas: Object.fromEntries(authorities.cas),
    resolve,
    evaluate: (res, checks, ctx) => evaluate(res, checks, ctx, hosts),
    decideWithoutSignatures: (res, ctx) => decideWithoutSignatures(res, ctx),
  };
  return deepFreeze(policy);
}
