// Which ONE rule applies to `<host>/<repository>`: the most specific matching pattern wins (glob.ts documents the
// order). Declaration order never decides: two different policies with equally specific patterns that can match the
// same name are refused at compile time (`findAmbiguities`), so a person can predict the winner from the patterns
// alone, and reordering the file changes neither the outcome nor the policy hash.
import type { Problems } from '../util/yaml-reader.ts';
import { compareSpecificity, matches, type Pattern } from './glob.ts';
import { canonicalName, type HostNames } from './hosts.ts';
import { overlapWitness } from './overlap.ts';
import type { ParsedRule } from './parse.ts';
import type { CompiledRule, DefaultAction, Resolution } from './types.ts';

interface Entry {
  readonly rule: CompiledRule;
  readonly pattern: Pattern;
}

/** Report every pair of patterns from DIFFERENT policies that are equally specific and can match one name. */
export function findAmbiguities(rules: readonly ParsedRule[], problems: Problems): void {
  for (let a = 0; a < rules.length; a++) {
    for (let b = a + 1; b < rules.length; b++) {
      const ra = rules[a] as ParsedRule;
      const rb = rules[b] as ParsedRule;
      for (const pa of ra.patterns) {
        for (const pb of rb.patterns) {
          if (compareSpecificity(pa.pattern, pb.pattern) !== 0) continue;
          const example = overlapWitness(pa.pattern, pb.pattern);
          if (example === undefined) continue;
          problems.add(
            ['policy', 'policies', rb.index, 'match', pb.at],
            `"${pb.pattern.text}" and "${pa.pattern.text}" (policy "${ra.rule.name}") are equally specific and both match ` +
              `names such as ${example}; which policy applies would be unclear. Make one pattern more specific ` +
              '(a literal segment beats a partial glob, which beats *, which beats **) or merge the policies',
          );
        }
      }
    }
  }
}

export function makeResolver(
  rules: readonly ParsedRule[],
  defaultAction: DefaultAction,
  hosts: HostNames,
): (host: string, repository: string) => Resolution {
  const entries: Entry[] = rules.flatMap((r) => r.patterns.map((p) => ({ rule: r.rule, pattern: p.pattern })));
  // The rules never change after compilation, so an answer can be kept: every manifest request resolves its name
  // (twice: before the upstream call and at the decision). Bounded: emptied when full.
  const memo = new Map<string, Resolution>();
  return (host, repository) => {
    const key = `${host}/${repository}`;
    const known = memo.get(key);
    if (known !== undefined) return known;
    if (memo.size >= RESOLUTION_MEMO_ENTRIES) memo.clear();
    const r = resolveOnce(host, repository);
    memo.set(key, r);
    return r;
  };

  function resolveOnce(host: string, repository: string): Resolution {
    const c = canonicalName(hosts, host, repository);
    const name = `${c.host}/${c.repository}`;
    let best: Entry | undefined;
    for (const e of entries) {
      if (!matches(e.pattern, name)) continue;
      const d = best === undefined ? 1 : compareSpecificity(e.pattern, best.pattern);
      // Equal specificity here can only be two patterns of the same policy: report the same one every time.
      if (d > 0 || (d === 0 && best !== undefined && e.pattern.text < best.pattern.text)) best = e;
    }
    return Object.freeze({
      rule: best?.rule ?? null,
      matchedPattern: best?.pattern.text ?? null,
      host: c.host,
      repository: c.repository,
      defaultAction,
    });
  }
}

const RESOLUTION_MEMO_ENTRIES = 4096;
