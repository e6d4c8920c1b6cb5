// podman (rootful) as a pull client of sigward, with all of its state in a temp dir: --root/--runroot/--tmpdir,
// vfs storage (works on any filesystem, no fuse), file events, cgroupfs (no systemd bus needed). The registries.conf
// comes through CONTAINERS_REGISTRIES_CONF, which podman honours (skopeo 1.9 does not). Pulls contact only the
// configured sigward location on loopback; no container is ever run.
import { join } from 'node:path';
import { containersEnv, dockerRef, writeContainersFiles, type ContainersConfOptions } from './containers-conf.ts';
import { removeTempDir, runCommand, tempDir, type CommandResult } from './proc.ts';

export type { CommandResult } from './proc.ts';

export interface Podman {
  /** The temp dir holding storage, registries.conf, policy.json and auth.json. */
  dir: string;
  /** Run `podman <global flags> ...args`. */
  run(args: readonly string[], timeoutMs?: number): Promise<CommandResult>;
  /** `podman pull REF` (host platform only, as podman does) through sigward. */
  pull(ref: string): Promise<CommandResult>;
  /** Remove the temp dir (storage included). */
  remove(): void;
}

function globalFlags(dir: string): string[] {
  return [
    '--root',
    join(dir, 'root'),
    '--runroot',
    join(dir, 'run'),
    '--tmpdir',
    join(dir, 'tmp'),
    '--storage-driver',
    'vfs',
    '--events-backend',
    'file',
    '--cgroup-manager',
    'cgroupfs',
  ];
}

let works: Promise<boolean> | undefined;

/** True when rootful podman can run here (checked once by listing images in an empty temp store). */
export function podmanWorks(): Promise<boolean> {
  works ??= (async () => {
    const dir = tempDir('podman-check');
    try {
      const res = await runCommand('podman', [...globalFlags(dir), 'images', '-q'], { timeoutMs: 30_000 });
      return res.code === 0;
    } catch {
      return false; // not installed
    } finally {
      removeTempDir(dir);
    }
  })();
  return works;
}

/** A podman whose only registry for `prefix` is sigward (see ContainersConfOptions). */
export function createPodman(opts: ContainersConfOptions): Podman {
  const dir = tempDir('podman');
  const files = writeContainersFiles(dir, opts);
  const env = containersEnv(files);
  const run = (args: readonly string[], timeoutMs = 120_000): Promise<CommandResult> =>
    runCommand('podman', [...globalFlags(dir), ...args], { env, timeoutMs });
  const pullFlags = [
    '--signature-policy',
    files.policy,
    ...(opts.certDir !== undefined ? ['--cert-dir', opts.certDir] : []),
  ];
  return {
    dir,
    run,
    pull: (ref) => run(['pull', '--quiet', ...pullFlags, dockerRef(ref)]),
    remove: () => {
      // vfs layers are plain directories owned by root; removal needs no unmount.
      removeTempDir(dir);
    },
  };
}
