// containerd: does every pull of a configured registry go to sigward, with nowhere else to fall back to?
// containerd reads <certs dir>/<host[:port]>/hosts.toml (else <certs dir>/_default/hosts.toml) for a registry: it tries
// each [host."URL"] in order, then `server` (default https://<host>). Any host that is not sigward serves unchecked,
// and a refusal by sigward as a [host] moves on to the next host and then to `server`. A file with no `host` table
// at all is ignored by containerd 1.6 ("invalid `host` tree"), which then pulls from https://<host> itself.
// The CRI plugin (kubelet's pulls) reads the certs dir only when its registry `config_path` names it.
import { globSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import type { UpstreamConfig } from '../config/types.ts';
import { exists, isDir, readToml } from './files.ts';
import { isTomlTable, tomlGet, type TomlTable } from './toml.ts';
import { isSigward, reachableNames, type Finding, type Fixes, type SigwardAddress } from './types.ts';

export interface ContainerdPaths {
  /** containerd's config.toml (may not exist). */
  readonly configFile: string;
  /** The hosts directory, when given on the command line (else config_path, else the default). */
  readonly certsDir: string | undefined;
  /** The default hosts directory (/etc/containerd/certs.d under --root). */
  readonly defaultCertsDir: string;
  /** A path named inside config.toml (config_path) as seen from here (under --root). */
  readonly underRoot?: (path: string) => string;
}

export interface ContainerdReport {
  readonly found: boolean;
  readonly certsDir: string;
  /** The gRPC socket from config.toml's [grpc] address, if set. */
  readonly address: string | undefined;
  readonly findings: Finding[];
}

// The CRI plugin's ids: containerd 1.x/2.x (`io.containerd.grpc.v1.cri`), 2.x images, and the short `cri` of version-1
// configs and of `disabled_plugins = ["cri"]` (Docker's containerd.io package ships that).
const CRI_PLUGINS = ['io.containerd.grpc.v1.cri', 'io.containerd.cri.v1.images', 'cri'];

export function checkContainerd(
  paths: ContainerdPaths,
  upstreams: readonly UpstreamConfig[],
  sw: SigwardAddress,
  fixes: Fixes,
): ContainerdReport {
  const findings: Finding[] = [];
  const add = (f: Omit<Finding, 'runtime'>): void => void findings.push({ runtime: 'containerd', ...f });
  const config = readToml(paths.configFile);
  let configPath: string | undefined;
  /** The file whose config_path is in force (config.toml or one it imports). */
  let configPathFile = paths.configFile;
  let address: string | undefined;
  if (config.kind === 'unreadable') {
    add({
      registry: undefined,
      status: 'bypass',
      file: paths.configFile,
      message: `cannot be read (${config.reason}): where containerd's CRI plugin sends pulls is unknown`,
      fix: `make ${paths.configFile} valid TOML (containerd refuses to start on a broken one)`,
    });
  } else if (config.kind === 'ok') {
    const grpc = tomlGet(config.value, 'grpc', 'address');
    if (typeof grpc === 'string') address = grpc;
    // containerd merges each file config.toml imports over it, in order (LoadConfig), by section: a plugin's table
    // in a later file replaces that plugin's whole table (keys it leaves out are gone, config_path included), and
    // disabled_plugins add up.
    const files = [{ file: paths.configFile, value: config.value }];
    for (const imported of importsOf(paths.configFile, config.value, paths.underRoot ?? ((x) => x))) {
      const read = readToml(imported);
      if (read.kind === 'ok') {
        files.push({ file: imported, value: read.value });
        continue;
      }
      add({
        registry: undefined,
        status: 'bypass',
        file: imported,
        message: `${paths.configFile} imports it, but it ${read.kind === 'absent' ? 'does not exist (a glob matched nothing is fine; a named file is not)' : `cannot be read (${read.reason})`}: what it changes in the CRI plugin's registry settings is unknown`,
        fix: `make ${imported} valid TOML, or remove it from imports in ${paths.configFile}`,
      });
    }
    let criOff = false;
    // Per CRI plugin id: its registry table as the merge leaves it, and the file that last set the plugin's table.
    const merged = new Map<string, { registry: TomlTable | undefined; file: string }>();
    for (const f of files) {
      const disabled = tomlGet(f.value, 'disabled_plugins');
      if (Array.isArray(disabled)) criOff ||= CRI_PLUGINS.some((p) => disabled.includes(p));
      for (const p of CRI_PLUGINS) {
        if (!isTomlTable(tomlGet(f.value, 'plugins', p))) continue;
        const r = tomlGet(f.value, 'plugins', p, 'registry');
        merged.set(p, { registry: isTomlTable(r) ? r : undefined, file: f.file });
      }
    }
    const cri =
      CRI_PLUGINS.map((p) => merged.get(p)).find((m) => m?.registry !== undefined) ??
      CRI_PLUGINS.map((p) => merged.get(p)).find((m) => m !== undefined);
    const registry = cri?.registry;
    const registryFile = cri?.file ?? paths.configFile;
    const cp = registry === undefined ? undefined : registry.config_path;
    if (typeof cp === 'string' && cp !== '') {
      configPath = (paths.underRoot ?? ((x) => x))(cp.split(':')[0] as string);
      configPathFile = registryFile;
    }
    if (!criOff && configPath === undefined) {
      const legacy = registry !== undefined && isTomlTable(registry.mirrors);
      add({
        registry: undefined,
        status: 'bypass',
        file: registryFile,
        message: legacy
          ? "the CRI plugin uses the deprecated registry.mirrors: after its endpoints it falls back to each registry's own address, so a refusal is routed around"
          : "the CRI plugin's registry config_path is not set: kubelet's pulls ignore the hosts directory and go straight to each registry",
        fix: `in ${registryFile}, under [plugins."io.containerd.grpc.v1.cri".registry] (containerd 2: [plugins."io.containerd.cri.v1.images".registry]), set\n  config_path = ${JSON.stringify(paths.defaultCertsDir)}${legacy ? '\nand remove the registry.mirrors tables' : ''}`,
      });
    }
  }
  const certsDir = paths.certsDir ?? configPath ?? paths.defaultCertsDir;
  const found = config.kind !== 'absent' || paths.certsDir !== undefined || isDir(certsDir);
  if (!found) return { found, certsDir, address, findings: [] };
  const named =
    paths.certsDir !== undefined
      ? '--certs-dir'
      : configPath !== undefined
        ? `config_path in ${configPathFile}`
        : undefined;
  if (named !== undefined && !isDir(certsDir)) {
    add({
      registry: undefined,
      status: 'bypass',
      file: certsDir,
      message: `the hosts directory ${certsDir} (${named}) does not exist: containerd finds no hosts.toml there and pulls every registry directly`,
      fix: `create ${certsDir} and write a hosts.toml for each registry in it (the files below), or point config_path at the directory that holds them`,
    });
  }

  const fallbackFile = join(certsDir, '_default', 'hosts.toml');
  const hasDefault = exists(fallbackFile);
  for (const u of upstreams) {
    for (const name of reachableNames(u)) {
      const own = join(certsDir, name, 'hosts.toml');
      const file = exists(own) || !hasDefault ? own : fallbackFile;
      const fix = fixes.containerd(name, own);
      const problems = checkHostsFile(file, name, sw);
      if (problems === 'absent') {
        add({
          registry: name,
          status: 'bypass',
          file: own,
          message: `no hosts.toml for ${name}: containerd pulls ${name} directly, unchecked`,
          fix,
        });
        continue;
      }
      const via = file === fallbackFile ? ` (through ${join(certsDir, '_default')})` : '';
      if (problems.length === 0) {
        add({
          registry: name,
          status: 'ok',
          file,
          message: `sigward is the server${via}, a [host] table is present, no other host to fall back to`,
        });
      }
      for (const p of problems) {
        add({
          registry: name,
          status: p.status,
          file,
          message: `${p.message}${via}`,
          ...(p.status === 'bypass' ? { fix } : {}),
        });
      }
    }
  }
  if (!hasDefault) {
    add({
      registry: undefined,
      status: 'warning',
      file: fallbackFile,
      message:
        'no _default/hosts.toml: an image from a registry sigward does not know (or another name of one it knows) is pulled directly',
      fix: `write ${fallbackFile} with the same content as a registry's hosts.toml (server = sigward and a bare [host]): sigward then refuses registries it is not configured for`,
    });
  }
  return { found, certsDir, address, findings };
}

interface Problem {
  readonly status: 'bypass' | 'warning';
  readonly message: string;
}

/** What is wrong with one hosts.toml for `name`; 'absent' when there is no file. */
function checkHostsFile(file: string, name: string, sw: SigwardAddress): 'absent' | Problem[] {
  const read = readToml(file);
  if (read.kind === 'absent') return 'absent';
  if (read.kind === 'unreadable') {
    return [
      {
        status: 'bypass',
        message: `cannot be read (${read.reason}); containerd may ignore it and pull ${name} directly`,
      },
    ];
  }
  const t = read.value;
  const out: Problem[] = [];
  const origin = `https://${name === 'docker.io' ? 'registry-1.docker.io' : name}`;
  const hosts = t.host;
  if (hosts === undefined || !isTomlTable(hosts)) {
    out.push({
      status: 'bypass',
      message: `no [host] table: containerd 1.6 ignores the file ("invalid host tree") and pulls from ${origin} directly`,
    });
  }
  const entries = isTomlTable(hosts) ? Object.entries(hosts).filter(([, v]) => isTomlTable(v)) : [];
  for (const [url, v] of entries) {
    const h = v as TomlTable;
    if (!isSigward(sw, url)) {
      out.push({
        status: 'bypass',
        message: `[host."${url}"] is not sigward: containerd pulls from it first, unchecked`,
      });
      continue;
    }
    out.push(...tlsProblems(h, `[host."${url}"]`, sw));
    const caps = h.capabilities;
    if (Array.isArray(caps) && !(caps.includes('pull') && caps.includes('resolve'))) {
      out.push({
        status: 'warning',
        message: `[host."${url}"] lacks the pull or resolve capability: containerd skips it for that step`,
      });
    }
  }
  const server = t.server;
  if (server === undefined) {
    out.push({
      status: 'bypass',
      message: `no server: the server is ${origin}, where containerd goes when sigward refuses or fails`,
    });
  } else if (typeof server !== 'string' || !isSigward(sw, server)) {
    out.push({
      status: 'bypass',
      message: `server is ${JSON.stringify(server)}, not sigward (${sw.url}): containerd ${entries.length > 0 ? 'falls back to it when sigward refuses' : 'pulls from it, unchecked'}`,
    });
  } else out.push(...tlsProblems(t, 'the server', sw));
  return out;
}

function tlsProblems(t: TomlTable, what: string, sw: SigwardAddress): Problem[] {
  if (t.skip_verify !== true) return [];
  return [
    sw.https
      ? {
          status: 'bypass',
          message: `skip_verify = true for ${what}: anyone between this node and sigward can answer as sigward`,
        }
      : { status: 'warning', message: `skip_verify = true for ${what} has no effect over plain http` },
  ];
}

/** The files config.toml imports, as containerd resolves them (config.resolveImports): relative to the importing
 * file's directory, glob patterns expanded (sorted; a pattern that matches nothing adds nothing), imports of imported
 * files followed, each file once. `underRoot` maps an absolute path on the node to where doctor reads it. */
function importsOf(file: string, config: TomlTable, underRoot: (path: string) => string): string[] {
  const out: string[] = [];
  const seen = new Set([file]);
  const pending: { from: string; value: TomlTable }[] = [{ from: file, value: config }];
  for (let next = pending.shift(); next !== undefined; next = pending.shift()) {
    const list = next.value.imports;
    if (!Array.isArray(list)) continue;
    for (const entry of list) {
      if (typeof entry !== 'string' || entry === '') continue;
      const path = isAbsolute(entry) ? underRoot(entry) : join(dirname(next.from), entry);
      const matches = /[*?[]/.test(path) ? globSync(path).sort() : [path];
      for (const m of matches) {
        if (seen.has(m)) continue;
        seen.add(m);
        out.push(m);
        const read = readToml(m);
        if (read.kind === 'ok') pending.push({ from: m, value: read.value });
      }
    }
  }
  return out;
}
