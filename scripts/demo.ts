// `npm run demo`: sigward working end to end, in one command, on this machine only (127.0.0.1).
// It starts a local CNCF distribution registry, pushes three images — one signed with a trusted key, one unsigned,
// one signed with a key sigward does not trust — signs them exactly as cosign lays signatures out, starts the sigward
// daemon with a policy that requires the trusted key, and pulls each image through it with skopeo.
// Needs docker-registry and skopeo (sudo bash scripts/setup-test-deps.sh).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { stringify } from 'yaml';
import { clientSnippet, parseSigward, resolveTarget } from '../src/cli/client-config.ts';
import { parseConfigText } from '../src/config/parse.ts';
import { startRegistry } from '../test/helpers/registry.ts';
import { buildImage, pushImage } from '../test/helpers/images.ts';
import { newKey, signLegacy } from '../test/helpers/cosign.ts';
import { startSigwardProcess } from '../test/helpers/sigward.ts';
import { createSkopeo } from '../test/helpers/skopeo.ts';
import { removeTempDir, tempDir } from '../test/helpers/proc.ts';

const bold = (s: string): string => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const green = (s: string): string => (process.stdout.isTTY ? `\x1b[32m${s}\x1b[0m` : s);
const red = (s: string): string => (process.stdout.isTTY ? `\x1b[31m${s}\x1b[0m` : s);
const step = (s: string): void => console.log(`\n${bold('==>')} ${s}`);
const indent = (text: string, n: number): string =>
  text
    .trimEnd()
    .split('\n')
    .map((l) => `${' '.repeat(n)}${l}`)
    .join('\n');

function need(cmd: string): void {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
  } catch {
    console.error(
      `demo: '${cmd}' is not installed. Install the test dependencies first: sudo bash scripts/setup-test-deps.sh`,
    );
    process.exit(2);
  }
}

async function main(): Promise<void> {
  need('docker-registry');
  need('skopeo');
  const work = tempDir('demo');
  step('starting a local registry (CNCF distribution) on 127.0.0.1');
  const reg = await startRegistry();
  console.log(`    registry at ${reg.url}`);
  const trusted = newKey('release');
  const stranger = newKey('stranger');
  writeFileSync(join(work, 'release.pub'), trusted.publicPem);

  step("pushing three images and signing them in cosign's layout (sha256-<digest>.sig)");
  const images = {
    signed: buildImage({ files: { 'app.txt': 'signed by the release key\n' } }),
    unsigned: buildImage({ files: { 'app.txt': 'nobody signed this\n' } }),
    wrongkey: buildImage({ files: { 'app.txt': 'signed by a stranger\n' } }),
  };
  for (const [name, img] of Object.entries(images)) await pushImage(reg, `demo/${name}`, 'v1', img);
  await signLegacy(reg, 'demo/signed', images.signed.digest, { keys: [trusted] });
  await signLegacy(reg, 'demo/wrongkey', images.wrongkey.digest, { keys: [stranger] });
  console.log('    demo/signed:v1    signed with release.key');
  console.log('    demo/unsigned:v1  no signature');
  console.log('    demo/wrongkey:v1  signed with a key sigward does not trust');

  step('starting sigward with a policy: everything under registry.demo/demo/ must be signed by release.pub');
  // The registry is reached on a port (127.0.0.1:PORT). A name with a port cannot be the path prefix podman and
  // skopeo send (127.0.0.1:5050/127.0.0.1:PORT/demo/app is not a valid reference), so sigward knows it by a port-less
  // host, with the port in url and aliases: the recipe `sigward check-config` prints for a host with a port.
  const config = {
    upstreams: [{ host: 'registry.demo', url: reg.url, aliases: [reg.host] }],
    trust: { keys: { release: { file: join(work, 'release.pub') } } },
    policy: { default: 'deny', policies: [{ name: 'demo-apps', match: ['registry.demo/demo/*'], keys: ['release'] }] },
  };
  console.log(
    `    the config it runs with (the registry named without its port in host, the port in url and aliases):`,
  );
  console.log(indent(stringify(config), 6));
  const sw = await startSigwardProcess(config);
  const parsed = parseConfigText(stringify(config)).config;
  if (parsed === undefined) throw new Error('the demo config does not parse');
  const snippet = (runtime: 'podman' | 'containerd'): string =>
    clientSnippet(runtime, resolveTarget(reg.host, parsed.upstreams), parseSigward(sw.url)).text;
  const skopeo = createSkopeo({ sigward: sw.host, prefix: 'registry.demo' });
  writeFileSync(skopeo.registriesConf, `unqualified-search-registries = []\n${snippet('podman')}\n`);
  console.log(`    sigward at ${sw.url}. Image references keep naming the registry as ${reg.host}:`);
  console.log(
    `    skopeo and podman, with this registries.conf (sigward client-config podman --upstream ${reg.host}):`,
  );
  console.log(indent(snippet('podman'), 6));
  console.log(`      skopeo --registries-conf registries.conf inspect --raw docker://${reg.host}/demo/signed:v1`);
  console.log(
    `    containerd, with certs.d/${reg.host}/hosts.toml (sigward client-config containerd --upstream ${reg.host}):`,
  );
  console.log(indent(snippet('containerd'), 6));
  console.log(`      ctr images pull --hosts-dir certs.d ${reg.host}/demo/signed:v1`);

  let ok = true;
  try {
    for (const [name, expect] of [
      ['signed', 'served'],
      ['unsigned', 'refused'],
      ['wrongkey', 'refused'],
    ] as const) {
      step(`skopeo inspect --raw docker://${reg.host}/demo/${name}:v1`);
      const r = await skopeo.inspectRaw(`${reg.host}/demo/${name}:v1`);
      const served = r.code === 0;
      if (served) console.log(green(`    SERVED: ${r.stdout.length} bytes of manifest ${images[name].digest}`));
      else {
        // skopeo prints the registry's message inside a quoted Go string: show it as the user would read it.
        const text = r.stderr
          .trim()
          .replace(/\\n/g, '\n')
          .replace(/\\"/g, '"')
          .replace(/^.*?reading manifest/, 'reading manifest')
          .replace(/"$/, '');
        console.log(red(`    REFUSED by sigward (what skopeo printed):\n      ${text.split('\n').join('\n      ')}`));
      }
      if (served !== (expect === 'served')) {
        ok = false;
        console.log(red(`    unexpected: this image should have been ${expect}`));
      }
    }
  } finally {
    skopeo.remove();
    await sw.stop();
    await reg.stop();
    removeTempDir(work);
  }
  step(
    ok
      ? green('demo finished: the signed image was served, the other two were refused with their reasons')
      : red('demo finished with unexpected results'),
  );
  process.exit(ok ? 0 : 1);
}

main().catch((e: unknown) => {
  console.error(`demo failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
