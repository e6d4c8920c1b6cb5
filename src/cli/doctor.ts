// `sigward doctor [--config FILE] [--pull-canary IMAGE]`: check this node's runtime configuration (containerd's
// hosts directory and CRI config_path, containers registries.conf and its drop-ins, docker's daemon.json) against
// sigward's upstreams, report every way a pull can reach a registry without sigward's check, with the exact fix
// (the file `sigward client-config` prints), and optionally pull a canary the policy must refuse through each runtime.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { configProblemsError } from '../config/load.ts';
import { parseConfigText } from '../config/parse.ts';
import type { UpstreamConfig } from '../config/types.ts';
import { CANARY_CLIENTS, pullCanary, type CanaryClient, type CanaryResult } from '../doctor/canary.ts';
import { checkContainerd } from '../doctor/containerd.ts';
import { checkContainers } from '../doctor/containers.ts';
import { checkDocker } from '../doctor/docker.ts';
import { exists } from '../doctor/files.ts';
import { hostPort, upstreamOf, type Finding, type Fixes, type SigwardAddress } from '../doctor/types.ts';
import { clientSnippet, parseSigward, resolveTarget } from './client-config.ts';
import { parseImageArg, showImage } from './image-arg.ts';
import type { SigwardError } from '../errors.ts';
import { EXIT_FAILED, EXIT_OK, exitOnBadInput } from './exit-codes.ts';
import { flagList, parseFlags, usage } from './flags.ts';
import type { Io } from './io.ts';

export const DOCTOR_USAGE = `usage: sigward doctor [--config FILE] [--sigward URL] [--json] [--pull-canary IMAGE] [file options]

Checks how this node's container runtimes reach the registries in sigward's config and reports, per registry, every
path by which a pull can get around sigward (bypass), with the exact fix; ok when none; warning for what is worth a
look. Reads:
  containerd   config.toml (the CRI plugin's registry config_path) and <certs dir>/<host>/hosts.toml: sigward must be
               the server, a [host] table present, no other host
  podman, skopeo, CRI-O   registries.conf and registries.conf.d/*.conf: sigward must be the location of each
               registry's [[registry]], never a [[registry.mirror]]; the unqualified-search-registries too
  docker       daemon.json: registry-mirrors cannot enforce (docker falls back to Docker Hub)

  --config FILE            sigward's configuration (default /etc/sigward/sigward.yaml); only its listen and
                           upstreams are read, so key files need not be on this node
  --sigward URL            where this node reaches sigward (repeatable; default http://127.0.0.1:<listen port>)
  --json                   one JSON document on stdout instead of the text report
  --pull-canary IMAGE      also pull IMAGE (a reference the policy must refuse, e.g. registry.internal/canary:unsigned)
                           with ctr, skopeo and podman through their configuration; passes only if each one that is
                           configured is refused by sigward
  --canary-clients LIST    which of ctr,skopeo,podman to run (comma-separated, repeatable; default all; a named
                           one that cannot run fails). A client passes only when sigward refused it: a 403 from one
                           of the --sigward addresses with sigward's own refusal (its reason phrase for ctr, its
                           policy decision for skopeo and podman); any other 403 or denial is not sigward's
  --containerd-address SOCK   containerd's socket for ctr (default: config.toml [grpc] address, else
                           /run/containerd/containerd.sock)
File locations (defaults are the system paths; --root DIR puts every default under DIR):
  --containerd-config FILE    default /etc/containerd/config.toml
  --certs-dir DIR             default: config.toml's config_path, else /etc/containerd/certs.d
  --registries-conf FILE      default $HOME/.config/containers/registries.conf if it exists, else
                              /etc/containers/registries.conf
  --registries-conf-d DIR     repeatable; default /etc/containers/registries.conf.d and
                              $HOME/.config/containers/registries.conf.d (only the latter with the user's file)
  --docker-daemon-json FILE   default /etc/docker/daemon.json

Exit codes: 0 no bypass (and the canary, if asked, refused everywhere); 1 a bypass, a canary not refused, or no
runtime configuration found at all (nothing checked); 2 bad input.`;

const FLAGS = {
  config: 'string',
  sigward: 'strings',
  json: 'boolean',
  root: 'string',
  'containerd-config': 'string',
  'certs-dir': 'string',
  'registries-conf': 'string',
  'registries-conf-d': 'strings',
  'docker-daemon-json': 'string',
  'pull-canary': 'string',
  'canary-clients': 'strings',
  'containerd-address': 'string',
  help: 'boolean',
} as const;

interface Report {
  readonly sigward: string;
  readonly config: string;
  readonly runtimes: Record<string, { readonly found: boolean; readonly files: readonly string[] }>;
  readonly findings: readonly Finding[];
  readonly canary: { readonly image: string; readonly passed: boolean; readonly results: CanaryResult[] } | undefined;
  readonly bypasses: number;
  readonly warnings: number;
  /** No runtime configuration was found at any of the paths: nothing was checked, which is not a pass. */
  readonly nothingChecked: boolean;
}

export async function doctorCommand(argv: readonly string[], io: Io): Promise<number> {
  return exitOnBadInput('doctor', io, async () => {
    const flags = parseFlags(argv, FLAGS, 'unknown option');
    if (flags.help) {
      io.out(DOCTOR_USAGE);
      return EXIT_OK;
    }
    if (flags._.length > 0) throw usage(`unexpected argument ${JSON.stringify(flags._[0])}`);
    const str = (name: string): string | undefined => {
      const v = flags[name];
      return typeof v === 'string' ? v : undefined;
    };
    const configFile = str('config') ?? '/etc/sigward/sigward.yaml';
    const { upstreams, port } = readSigwardConfig(configFile);
    const urls = flagList(flags, 'sigward');
    const sw = sigwardAddress(urls.length > 0 ? urls : [`http://127.0.0.1:${port}`]);
    const fixes = makeFixes(upstreams, sw.url);

    const root = str('root') ?? '';
    const sys = (p: string): string => (root === '' ? p : join(root, p));
    const home = io.env.HOME;
    const userConf = home === undefined ? undefined : sys(join(home, '.config/containers/registries.conf'));
    const userConfD = home === undefined ? [] : [sys(join(home, '.config/containers/registries.conf.d'))];
    const useUserConf = str('registries-conf') === undefined && userConf !== undefined && exists(userConf);
    const mainFile =
      str('registries-conf') ??
      (useUserConf && userConf !== undefined ? userConf : sys('/etc/containers/registries.conf'));
    const confD = flagList(flags, 'registries-conf-d');
    const dropInDirs =
      confD.length > 0 ? confD : useUserConf ? userConfD : [sys('/etc/containers/registries.conf.d'), ...userConfD];

    const containerdConfig = str('containerd-config') ?? sys('/etc/containerd/config.toml');
    const ctd = checkContainerd(
      {
        configFile: containerdConfig,
        certsDir: str('certs-dir'),
        defaultCertsDir: sys('/etc/containerd/certs.d'),
        underRoot: sys,
      },
      upstreams,
      sw,
      fixes,
    );
    const ctn = checkContainers({ mainFile, dropInDirs }, upstreams, sw, fixes);
    const dockerFile = str('docker-daemon-json') ?? sys('/etc/docker/daemon.json');
    const dkr = checkDocker(dockerFile, upstreams, sw, fixes);
    const findings = [...ctd.findings, ...ctn.findings, ...dkr.findings];

    let canary: Report['canary'];
    const given = str('pull-canary');
    if (given !== undefined) {
      const image = canaryImage(given, upstreams);
      const named = flagList(flags, 'canary-clients');
      const clients = named.length === 0 ? [...CANARY_CLIENTS] : parseClients(named);
      const results = await pullCanary({
        image,
        clients,
        containerd: ctd.found
          ? {
              certsDir: ctd.certsDir,
              address: str('containerd-address') ?? ctd.address ?? '/run/containerd/containerd.sock',
            }
          : undefined,
        registriesConf: ctn.found ? ctn.mainFile : undefined,
        sigward: sw.addresses,
        env: { ...io.env },
        timeoutMs: 120_000,
      });
      const ran = results.filter((r) => r.outcome !== 'skipped');
      const passed =
        ran.length > 0 &&
        ran.every((r) => r.outcome === 'refused') &&
        (named.length === 0 || results.every((r) => r.outcome !== 'skipped'));
      canary = { image, passed, results };
    }
    const report: Report = {
      sigward: sw.url,
      config: configFile,
      runtimes: {
        containerd: { found: ctd.found, files: [containerdConfig, ctd.certsDir] },
        containers: { found: ctn.found, files: [mainFile, ...dropInDirs] },
        docker: { found: dkr.found, files: [dockerFile] },
      },
      findings,
      canary,
      bypasses: findings.filter((f) => f.status === 'bypass').length,
      warnings: findings.filter((f) => f.status === 'warning').length,
      nothingChecked: !ctd.found && !ctn.found && !dkr.found,
    };
    // Absent values are null in JSON, so every finding has the same keys.
    if (flags.json) io.out(JSON.stringify(report, (_k, v: unknown) => (v === undefined ? null : v), 2));
    else for (const line of render(report)) io.out(line);
    return report.bypasses > 0 || report.nothingChecked || canary?.passed === false ? EXIT_FAILED : EXIT_OK;
  });
}

function readSigwardConfig(file: string): { upstreams: readonly UpstreamConfig[]; port: number } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw usage(`cannot read sigward's config ${file}: ${(e as Error).message} (give it with --config FILE)`);
  }
  const parsed = parseConfigText(text);
  if (parsed.config === undefined || parsed.problems.length > 0) throw configProblemsError(file, parsed.problems);
  return { upstreams: parsed.config.upstreams, port: parsed.config.listen.port };
}

function sigwardAddress(urls: readonly string[]): SigwardAddress {
  const parsed = urls.map(parseSigward);
  const addresses = new Set<string>();
  for (const p of parsed) {
    const hp = hostPort(p.url) as string;
    addresses.add(hp);
    const [h, port] = [hp.slice(0, hp.lastIndexOf(':')), hp.slice(hp.lastIndexOf(':') + 1)];
    // Loopback spelled either way is the same sigward.
    if (h === '127.0.0.1' || h === 'localhost')
      for (const alt of ['127.0.0.1', 'localhost']) addresses.add(`${alt}:${port}`);
  }
  const first = parsed[0] as (typeof parsed)[number];
  return { url: first.url, https: !first.insecure, addresses };
}

/** --pull-canary: an image reference read as docker reads it (image-arg.ts), whose registry is one of sigward's
 * upstreams (by host or alias); handed to the clients host-qualified, with its tag or digest. */
function canaryImage(given: string, upstreams: readonly UpstreamConfig[]): string {
  const wrong = (why: string): SigwardError =>
    usage(
      `--pull-canary ${JSON.stringify(given)}: ${why}; expected HOST/REPOSITORY[:TAG|@DIGEST] with HOST one of ` +
        `sigward's upstreams (${upstreams.map((u) => u.host).join(', ')})`,
    );
  let image: ReturnType<typeof parseImageArg>;
  try {
    image = parseImageArg(given);
  } catch (e) {
    throw wrong((e as Error).message);
  }
  if (upstreamOf(upstreams, image.host) === undefined) throw wrong(`${image.host} is not one of sigward's upstreams`);
  return showImage(image.host, image.repository, image.ref);
}

/** --canary-clients: repeatable, each a comma-separated list (as cosign's string-slice flags). */
function parseClients(lists: readonly string[]): CanaryClient[] {
  const out = lists.flatMap((l) => l.split(',')).map((s) => s.trim());
  for (const c of out) {
    if (!(CANARY_CLIENTS as readonly string[]).includes(c)) {
      throw usage(`--canary-clients: unknown client ${JSON.stringify(c)} (expected ${CANARY_CLIENTS.join(', ')})`);
    }
  }
  return out as CanaryClient[];
}

/** The fixes are exactly what `sigward client-config` prints for the runtime and registry name. */
function makeFixes(upstreams: readonly UpstreamConfig[], url: string): Fixes {
  const sw = parseSigward(url);
  const snippet = (runtime: 'containerd' | 'podman' | 'docker', name: string) =>
    clientSnippet(runtime, resolveTarget(name, upstreams), sw);
  return {
    containerd: (name, file) => `write ${file}:\n${snippet('containerd', name).text}`,
    containers: (name, file) => {
      const s = snippet('podman', name);
      if (s.text === '') return s.notes.join('\n');
      return `in ${file} (or a registries.conf.d file read after it), replace every [[registry]] for prefix "${resolveTarget(name, upstreams).host}" (its [[registry.mirror]] entries included) with:\n${s.text}`;
    },
    // Never the registry-mirrors file client-config prints for Docker Hub: doctor reports that very setting as a
    // bypass (docker falls back to Docker Hub when the mirror refuses).
    docker: (name) => {
      const s = snippet('docker', name);
      const hub = s.text !== '';
      return [
        ...(hub
          ? [
              '# remove "registry-mirrors" from /etc/docker/daemon.json (or keep it for caching only, knowing it',
              '# enforces nothing): docker falls back to Docker Hub when a mirror refuses or fails.',
            ]
          : []),
        ...(s.enforce ?? s.notes),
      ].join('\n');
    },
  };
}

const LABEL: Record<Finding['status'], string> = { ok: 'ok', bypass: 'BYPASS', warning: 'warning' };
const RUNTIME_TITLE: Record<string, string> = {
  containerd: 'containerd (ctr, crictl, kubelet)',
  containers: 'podman, skopeo, CRI-O (registries.conf)',
  docker: 'docker (daemon.json)',
};

function render(r: Report): string[] {
  const out = [`sigward doctor: sigward at ${r.sigward}, registries from ${r.config}`];
  for (const [runtime, info] of Object.entries(r.runtimes)) {
    out.push('', `${RUNTIME_TITLE[runtime] ?? runtime}:`);
    if (!info.found) {
      out.push(`  not configured on this node (looked at ${info.files.join(', ')})`);
      continue;
    }
    const shown = new Set<string>();
    for (const f of r.findings.filter((x) => x.runtime === runtime)) {
      out.push(`  ${LABEL[f.status].padEnd(7)} ${f.registry ?? 'all registries'}${f.file ? `  ${f.file}` : ''}`);
      out.push(`          ${f.message}`);
      if (f.fix !== undefined && shown.has(f.fix)) out.push('          fix: the same as above');
      else if (f.fix !== undefined && f.status !== 'ok') {
        shown.add(f.fix);
        const [head, ...rest] = f.fix.split('\n');
        out.push(`          fix: ${head}`, ...rest.map((l) => `            ${l}`));
      }
    }
  }
  if (r.canary !== undefined) {
    out.push('', `canary ${r.canary.image}:`);
    for (const c of r.canary.results) {
      out.push(`  ${c.client.padEnd(7)} ${c.outcome === 'pulled' ? 'PULLED' : c.outcome}: ${c.detail}`);
    }
    out.push(
      `  ${r.canary.passed ? 'passed: refused by sigward everywhere it was pulled' : 'FAILED: not refused by sigward everywhere'}`,
    );
  }
  out.push(
    '',
    r.nothingChecked
      ? 'nothing checked: no containerd, registries.conf or docker configuration at these paths (give them, or --root)'
      : r.bypasses > 0
        ? `${r.bypasses} bypass(es), ${r.warnings} warning(s): a pull can get around sigward on this node`
        : `no bypass found, ${r.warnings} warning(s)`,
  );
  return out;
}
