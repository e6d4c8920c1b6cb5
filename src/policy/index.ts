// The public surface of the policy layer (pure: no fs, net, clock or logger). See types.ts for the contracts.
export { compilePolicy } from './compile.ts';
export { evaluate, judgeSignature } from './evaluate.ts';
export { decideWithoutSignatures, platformRequirement, type PlatformRequirement } from './platforms.ts';
export {
  canonicalName,
  DEFAULT_HOST_NAMES,
  hostNames,
  referenceName,
  type HostEntry,
  type HostNames,
} from './hosts.ts';
export { compareSpecificity, matches, parsePattern, type Pattern, type Segment } from './glob.ts';
export { DEFAULT_POLICY_NAME, MAX_SUMMARY } from './decision.ts';
export { canonicalJson } from './hash.ts';
export type * from './types.ts';
