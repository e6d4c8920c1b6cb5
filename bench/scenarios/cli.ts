// The command line, as users run it (`node bin/sigward.mjs …`, a new process each time), timed from spawn to exit:
//   - `sigward verify --config <the bench's config> <upstream>/bench/signed/app:v1` (key-signed, already verified
//     once so the upstream's files are in the page cache), with `sigward --version` (node start + module load) and
//     `node -e 0` in the same rounds: the floor a command cannot go under;
//   - `sigward save` of a signed image with one big layer from the upstream into a temp dir, and `sigward load` of that
//     layout into a registry, against `skopeo copy docker://… dir:…` and `skopeo copy dir:… docker://…` of the same
//     image between the same places, alternating, MB/s = the image's bytes / wall seconds.
// Loads go into a fresh distribution per round (started here, stopped at the end of the round): sigward load sends
// every blob the target repository lacks (no mount), but skopeo remembers where it has seen a digest (its blob info
// cache) and mounts it from there when the registry is the same, which would make its load a few requests. Every
// load is checked to have sent the big layer (sigward: its "N blobs (N sent" line; skopeo, run with --debug: "Upload
// of layer <digest> complete"), and the loaded tag to have the saved digest.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { signLegacy } from '../../test/helpers/cosign.ts';
import { buildBigImage, OCI_MANIFEST, pushImage } from '../../test/helpers/images.ts';
import { removeTempDir, runCommand, tempDir, type CommandResult } from '../../test/helpers/proc.ts';
import { startRegistry, type Registry } from '../../test/helpers/registry.ts';
import { row, type Row } from '../rows.ts';
import { progress, type Settings } from '../settings.ts';
import type { SignedFixtures } from '../signed-fixtures.ts';
import type { Stack } from '../stack.ts';
import { median } from '../stats.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin/sigward.mjs');
/** The big image of the save/load rounds, in the upstream. */
export const CLI_REPO = 'bench/cli/big';
const CLI_TAG = 'v1';

type Tool = 'sigward' | 'skopeo';

/** Run a command to completion; its wall time from spawn to exit (stdout and stderr closed), ms. */
async function timed(
  cmd: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  timeoutMs = 600_000,
): Promise<{ ms: number; res: CommandResult }> {
  const t0 = process.hrtime.bigint();
  const res = await runCommand(cmd, args, { env, cwd: ROOT, timeoutMs });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (res.code !== 0) {
    const out = `${res.stderr.trim()}\n${res.stdout.trim()}`.trim().slice(-800);
    throw new Error(`${[cmd, ...args].join(' ')} exited ${res.code}: ${out}`);
  }
  return { ms, res };
}

async function verifyRows(
  stack: Stack,
  sfx: SignedFixtures,
  settings: Settings,
  env: NodeJS.ProcessEnv,
): Promise<Row[]> {
  const image = `${stack.upstream.host}/${sfx.warm.repo}:${sfx.warm.tag}`;
  const verifyArgs = [BIN, 'verify', '--config', stack.sigward.configFile, image];
  const node = (args: string[]): Promise<{ ms: number; res: CommandResult }> => timed(process.execPath, args, env);
  // Unrecorded: the files of node, sigward and the upstream's image and signature come into the page cache.
  const first = await node(verifyArgs);
  if (!first.res.stdout.startsWith('verified: signed by bench'))
    throw new Error(`sigward verify ${image} did not verify: ${first.res.stdout.slice(0, 400)}`);
  await node([BIN, '--version']);
  await node(['-e', '0']);
  const verify: number[] = [];
  const version: number[] = [];
  const floor: number[] = [];
  const rounds = settings.quick ? 5 : 9;
  for (let r = 0; r < rounds; r++) {
    floor.push((await node(['-e', '0'])).ms);
    version.push((await node([BIN, '--version'])).ms);
    const v = await node(verifyArgs);
    if (!v.res.stdout.startsWith('verified: signed by bench'))
      throw new Error(`sigward verify ${image} did not verify: ${v.res.stdout.slice(0, 400)}`);
    verify.push(v.ms);
    progress(
      `cli round ${r + 1}/${rounds}: node -e 0 ${floor.at(-1)!.toFixed(0)} ms, sigward --version ${version.at(-1)!.toFixed(0)} ms, ` +
        `sigward verify ${verify.at(-1)!.toFixed(0)} ms`,
    );
  }
  return [
    row(
      'cli.verify.ms',
      'sigward verify --config, key-signed image by tag',
      'ms',
      'lower',
      { sigward: verify, ceiling: version },
      {
        note:
          "spawn to exit of `node bin/sigward.mjs verify --config <the bench's config> <upstream>/bench/signed/app:v1`, " +
          'after one unrecorded verify; ceiling column: `sigward --version` in the same rounds (node start + module load)',
      },
    ),
    row(
      'cli.verify.own.ms',
      'sigward verify, added over sigward --version',
      'ms',
      'lower',
      { sigward: verify.map((v, i) => v - (version[i] ?? v)) },
      { note: 'per round: verify - --version (trust, config, the three upstream round trips, the check)' },
    ),
    row(
      'cli.version.ms',
      'sigward --version (node start + module load)',
      'ms',
      'lower',
      { sigward: version, ceiling: floor },
      { note: 'ceiling column: `node -e 0` in the same rounds' },
    ),
  ];
}

/** Build the big image and push it with a legacy signature by the bench key: its digests, its bytes (config + layer). */
async function pushBigSigned(
  stack: Stack,
  settings: Settings,
  work: string,
): Promise<{ digest: string; layer: string; bytes: number }> {
  const dir = join(work, 'build');
  mkdirSync(dir);
  try {
    const img = await buildBigImage({ mib: settings.blobMiB, dir, seed: 'sigward-bench-cli' });
    const digest = await pushImage(stack.upstream, CLI_REPO, CLI_TAG, img);
    await signLegacy(stack.upstream, CLI_REPO, digest, { keys: [stack.key] });
    let bytes = 0;
    let layer: string | undefined;
    for (const [d, b] of img.blobs) {
      bytes += b instanceof Uint8Array ? b.length : b.size;
      if (!(b instanceof Uint8Array)) layer = d;
    }
    if (layer === undefined) throw new Error('buildBigImage returned no file layer');
    return { digest, layer, bytes };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** skopeo's inputs kept in the work dir: accept-anything policy, no registries.conf mirrors, an empty auth file. */
function skopeoSetup(work: string): { global: string[]; env: NodeJS.ProcessEnv } {
  const dir = join(work, 'skopeo');
  mkdirSync(join(dir, 'registries.d'), { recursive: true });
  mkdirSync(join(dir, 'tmp'));
  writeFileSync(join(dir, 'policy.json'), JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
  writeFileSync(join(dir, 'registries.conf'), 'unqualified-search-registries = []\n');
  writeFileSync(join(dir, 'auth.json'), JSON.stringify({ auths: {} }));
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('REGISTRY_') && !k.startsWith('CONTAINERS_')),
  );
  return {
    global: [
      '--registries-conf',
      join(dir, 'registries.conf'),
      '--policy',
      join(dir, 'policy.json'),
      '--registries.d',
      join(dir, 'registries.d'),
      '--tmpdir',
      join(dir, 'tmp'),
    ],
    env: { ...env, REGISTRY_AUTH_FILE: join(dir, 'auth.json') },
  };
}

/** The manifest digest `repo:tag` has in `reg` (it must be the saved image's). */
async function manifestDigest(reg: Registry, repo: string, tag: string): Promise<string | undefined> {
  const res = await request(`${reg.url}/v2/${repo}/manifests/${tag}`, {
    method: 'HEAD',
    headers: { accept: OCI_MANIFEST },
  });
  await res.body.dump();
  const d = res.headers['docker-content-digest'];
  return res.statusCode === 200 && typeof d === 'string' ? d : undefined;
}

async function transferRows(
  stack: Stack,
  settings: Settings,
  sigwardEnv: NodeJS.ProcessEnv,
  work: string,
): Promise<Row[]> {
  const size = settings.blobMiB >= 1024 ? `${settings.blobMiB / 1024} GiB` : `${settings.blobMiB} MiB`;
  const t0 = Date.now();
  const big = await pushBigSigned(stack, settings, work);
  progress(
    `pushed and signed ${CLI_REPO}:${CLI_TAG} (one ${size} layer, ${big.digest.slice(0, 19)}…) in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
  );
  const skopeo = skopeoSetup(work);
  const source = `${stack.upstream.host}/${CLI_REPO}:${CLI_TAG}`;
  const save: Record<Tool, number[]> = { sigward: [], skopeo: [] };
  const load: Record<Tool, number[]> = { sigward: [], skopeo: [] };
  const mbps = (ms: number): number => big.bytes / 1e6 / (ms / 1000);

  const saveWith = async (tool: Tool, dir: string): Promise<number> => {
    if (tool === 'sigward') {
      const { ms, res } = await timed(process.execPath, [BIN, 'save', '--dir', dir, source], sigwardEnv);
      if (!/ 1 signature\/attestation\/SBOM image/.test(res.stdout))
        throw new Error(`sigward save did not carry the .sig image: ${res.stdout.trim()}`);
      return ms;
    }
    const args = [...skopeo.global, 'copy', '--src-tls-verify=false', `docker://${source}`, `dir:${dir}`];
    return (await timed('skopeo', args, skopeo.env)).ms;
  };
  const check = async (target: Registry, repo: string): Promise<void> => {
    const d = await manifestDigest(target, repo, CLI_TAG);
    if (d !== big.digest) throw new Error(`${target.host}/${repo}:${CLI_TAG} is ${d ?? 'missing'}, not ${big.digest}`);
  };
  /** The load's wall time; afterwards (not timed) the check that its bytes were sent and the image is there. */
  const loadWith = async (tool: Tool, dir: string, target: Registry): Promise<number> => {
    const repo = `bench/cli/${tool}`;
    let ms: number;
    if (tool === 'sigward') {
      const args = [BIN, 'load', '--dir', dir, `${target.host}/${repo}`];
      const done = await timed(process.execPath, args, sigwardEnv);
      ms = done.ms;
      const m = /(\d+) blobs \((\d+) sent/.exec(done.res.stderr);
      if (m === null || m[1] !== m[2])
        throw new Error(`sigward load did not send every blob (a blob was there already?): ${done.res.stderr.trim()}`);
    } else {
      // --debug: its log says whether the layer was uploaded or mounted (without it, both print the same lines).
      const args = [
        ...skopeo.global,
        '--debug',
        'copy',
        '--preserve-digests',
        '--dest-tls-verify=false',
        `dir:${dir}`,
        `docker://${target.host}/${repo}:${CLI_TAG}`,
      ];
      const done = await timed('skopeo', args, skopeo.env);
      ms = done.ms;
      if (!done.res.stderr.includes(`Upload of layer ${big.layer} complete`))
        throw new Error(`skopeo did not upload the layer (mounted or present?): ${done.res.stderr.slice(-800)}`);
    }
    await check(target, repo);
    return ms;
  };

  for (let r = 0; r < settings.rounds; r++) {
    const order: Tool[] = r % 2 === 0 ? ['sigward', 'skopeo'] : ['skopeo', 'sigward'];
    const dirs = { sigward: join(work, `sigward-${r}`), skopeo: join(work, `skopeo-${r}`) };
    const target = await startRegistry({ accessLog: false, logLevel: 'error' });
    try {
      for (const tool of order) save[tool].push(mbps(await saveWith(tool, dirs[tool])));
      for (const tool of order) load[tool].push(mbps(await loadWith(tool, dirs[tool], target)));
    } finally {
      await target.stop();
      for (const d of Object.values(dirs)) rmSync(d, { recursive: true, force: true });
    }
    const f = (n: number | undefined): string => (n === undefined ? '-' : n.toFixed(0));
    progress(
      `cli ${size} round ${r + 1}/${settings.rounds} (${order.join(' first, ')} second): MB/s save sigward ${f(save.sigward.at(-1))}, ` +
        `skopeo ${f(save.skopeo.at(-1))}; load sigward ${f(load.sigward.at(-1))}, skopeo ${f(load.skopeo.at(-1))}`,
    );
  }
  progress(
    `cli ${size}: save ${median(save.sigward).toFixed(0)} MB/s (skopeo ${median(save.skopeo).toFixed(0)}), ` +
      `load ${median(load.sigward).toFixed(0)} MB/s (skopeo ${median(load.skopeo).toFixed(0)})`,
  );
  const mbpsRow = (what: 'save' | 'load', samples: Record<Tool, number[]>, skopeoWay: string, note: string): Row =>
    row(
      `cli.${what}.mbps`,
      `sigward ${what}, ${size} image (peer: skopeo copy ${skopeoWay} dir:)`,
      'MB/s',
      'higher',
      { sigward: samples.sigward, peer: samples.skopeo },
      { note },
    );
  return [
    mbpsRow(
      'save',
      save,
      'to',
      `spawn to exit, image bytes (${big.bytes}) / seconds; sigward save --dir DIR (the .sig image too) ` +
        'vs skopeo copy docker://… dir:DIR, from the upstream, alternating',
    ),
    mbpsRow(
      'load',
      load,
      'from',
      'spawn to exit; sigward load --dir DIR <reg>/bench/cli/sigward vs ' +
        'skopeo copy --preserve-digests dir:DIR docker://<reg>/bench/cli/skopeo:v1, each round into a fresh ' +
        'distribution (skopeo would mount known blobs within one registry); checked: sigward sent every blob, ' +
        'skopeo (--debug) uploaded the layer, the tag has the saved digest',
    ),
  ];
}

export async function cliScenario(stack: Stack, sfx: SignedFixtures, settings: Settings): Promise<Row[]> {
  if ((await runCommand('sh', ['-c', 'command -v skopeo'])).code !== 0)
    throw new Error('skopeo is not on PATH (the save/load contender); install with: apt-get install skopeo');
  const work = tempDir('bench-cli');
  try {
    // An empty docker config: credentials stored on this machine are never read or sent.
    const dockerConfig = join(work, 'docker');
    mkdirSync(dockerConfig);
    writeFileSync(join(dockerConfig, 'config.json'), JSON.stringify({ auths: {} }));
    const env = { ...process.env, DOCKER_CONFIG: dockerConfig };
    const rows = await verifyRows(stack, sfx, settings, env);
    rows.push(...(await transferRows(stack, settings, env, work)));
    return rows;
  } finally {
    removeTempDir(work);
  }
}
