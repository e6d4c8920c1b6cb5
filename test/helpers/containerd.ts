// A private containerd (Debian's 1.6) for ctr pulls through sigward: its own root, state, sockets and config in a
// temp dir, the CRI plugin and snapshotters that need special filesystems disabled. Needs root.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { removeTempDir, runCommand, startProcess, tempDir, type CommandResult } from './proc.ts';

export type { CommandResult } from './proc.ts';

export interface CtrPullOptions {
  /** Fetch every platform of an index (default: linux/amd64 only, as ctr does). */
  allPlatforms?: boolean;
  /** `user:pass` sent to sigward (containerd then uses the OAuth2 form POST on a Bearer challenge). */
  user?: string;
  timeoutMs?: number;
}

export interface Containerd {
  dir: string;
  /** The gRPC socket (`ctr --address`). */
  address: string;
  /** The directory passed as `--hosts-dir`; writeHosts() fills it. */
  hostsDir: string;
  logFile: string;
  /** Make `serverUrl` (sigward) the ONLY host for `registryHost` (default example.test); `ca` is a CA file for https. */
  writeHosts(serverUrl: string, opts?: { registryHost?: string; ca?: string }): string;
  /** Run `ctr --address SOCKET ...args`. */
  ctr(args: readonly string[], timeoutMs?: number): Promise<CommandResult>;
  /** `ctr images pull --hosts-dir … --snapshotter native [--all-platforms] REF`. */
  ctrPull(ref: string, opts?: CtrPullOptions): Promise<CommandResult>;
  /** Stop containerd and remove the temp dir. */
  stop(): Promise<void>;
}

const toml = (s: string): string => JSON.stringify(s); // TOML basic strings escape like JSON for our inputs

/** Start a private containerd; resolves once `ctr version` answers on its socket. */
export async function startContainerd(): Promise<Containerd> {
  const dir = tempDir('containerd');
  const address = join(dir, 'containerd.sock');
  const hostsDir = join(dir, 'hosts');
  mkdirSync(hostsDir);
  const configFile = join(dir, 'config.toml');
  writeFileSync(
    configFile,
    [
      'version = 2',
      `root = ${toml(join(dir, 'root'))}`,
      `state = ${toml(join(dir, 'state'))}`,
      'disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",',
      '  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]',
      '[grpc]',
      `  address = ${toml(address)}`,
      '[ttrpc]',
      `  address = ${toml(`${address}.ttrpc`)}`,
      '[debug]',
      '  level = "info"',
      '[plugins."io.containerd.internal.v1.opt"]',
      `  path = ${toml(join(dir, 'opt'))}`,
      '',
    ].join('\n'),
  );
  const ctr = (args: readonly string[], timeoutMs = 120_000): Promise<CommandResult> =>
    runCommand('ctr', ['--address', address, ...args], { timeoutMs });
  let proc;
  try {
    proc = await startProcess({
      name: 'containerd',
      cmd: 'containerd',
      args: ['--config', configFile],
      dir,
      ready: async () => (await ctr(['version'], 5_000)).code === 0,
      timeoutMs: 30_000,
    });
  } catch (err) {
    removeTempDir(dir);
    throw err;
  }
  const started = proc;
  return {
    dir,
    address,
    hostsDir,
    logFile: started.logFile,
    writeHosts(serverUrl, opts = {}) {
      const host = opts.registryHost ?? 'example.test';
      const hostDir = join(hostsDir, host);
      mkdirSync(hostDir, { recursive: true });
      // sigward as `server` and a bare `[host]` table. Without any host table containerd 1.6 logs "invalid `host`
      // tree", ignores the file and contacts https://<registryHost> itself.
      const text = [`server = ${toml(serverUrl)}`, ...(opts.ca ? [`ca = ${toml(opts.ca)}`] : []), '[host]', ''].join(
        '\n',
      );
      const file = join(hostDir, 'hosts.toml');
      writeFileSync(file, text);
      return file;
    },
    ctr,
    ctrPull(ref, opts = {}) {
      return ctr(
        [
          'images',
          'pull',
          '--hosts-dir',
          hostsDir,
          '--snapshotter',
          'native',
          ...(opts.allPlatforms ? ['--all-platforms'] : []),
          ...(opts.user !== undefined ? ['--user', opts.user] : []),
          ref,
        ],
        opts.timeoutMs,
      );
    },
    async stop() {
      await started.stop();
      removeTempDir(dir);
    },
  };
}
