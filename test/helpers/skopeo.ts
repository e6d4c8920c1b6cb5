// skopeo as a pull client of sigward. skopeo 1.9 ignores CONTAINERS_REGISTRIES_CONF, so the registries.conf goes
// through the hidden global flag `--registries-conf`; `--policy`, `--registries.d` and `--tmpdir` keep every other
// input inside a temp dir too.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { containersEnv, dockerRef, writeContainersFiles, type ContainersConfOptions } from './containers-conf.ts';
import { removeTempDir, runCommand, tempDir, type CommandResult } from './proc.ts';

export type { CommandResult } from './proc.ts';
export type { ContainersConfOptions } from './containers-conf.ts';

export interface Skopeo {
  /** The temp dir holding registries.conf, policy.json, registries.d/, auth.json and tmp/. */
  dir: string;
  registriesConf: string;
  /** Run `skopeo <global flags> ...args`. */
  run(args: readonly string[], timeoutMs?: number): Promise<CommandResult>;
  /** `skopeo copy --all docker://REF oci:OCIDIR:TAG` (REF like example.test/test/multi:v1). */
  copyAll(ref: string, ociDir: string, tag?: string): Promise<CommandResult>;
  /** `skopeo inspect --raw --no-tags docker://REF`: stdout is the manifest exactly as served. */
  inspectRaw(ref: string): Promise<CommandResult>;
  /** Remove the temp dir. */
  remove(): void;
}

/** A skopeo whose only registry for `prefix` is sigward (see ContainersConfOptions). */
export function createSkopeo(opts: ContainersConfOptions): Skopeo {
  const dir = tempDir('skopeo');
  const files = writeContainersFiles(dir, opts);
  const tmp = join(dir, 'tmp');
  mkdirSync(tmp);
  const env = containersEnv(files);
  const global = [
    '--registries-conf',
    files.registriesConf,
    '--policy',
    files.policy,
    '--registries.d',
    files.registriesD,
    '--tmpdir',
    tmp,
  ];
  const run = (args: readonly string[], timeoutMs = 120_000): Promise<CommandResult> =>
    runCommand('skopeo', [...global, ...args], { env, timeoutMs });
  const certs = (flag: string): string[] => (opts.certDir !== undefined ? [flag, opts.certDir] : []);
  return {
    dir,
    registriesConf: files.registriesConf,
    run,
    copyAll: (ref, ociDir, tag = 'latest') =>
      run(['copy', '--all', ...certs('--src-cert-dir'), dockerRef(ref), `oci:${ociDir}:${tag}`]),
    inspectRaw: (ref) => run(['inspect', '--raw', '--no-tags', ...certs('--cert-dir'), dockerRef(ref)]),
    remove: () => removeTempDir(dir),
  };
}
