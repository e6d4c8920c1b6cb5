// `npm run demo`: sigward working end to end, in one command, on this machine only (127.0.0.1).
// It starts a local CNCF distribution registry, pushes three images — one signed with a trusted key, one unsigned,
// one signed with a key sigward does not trust — signs them exactly as cosign lays signatures out, starts the sigward
// daemon with a policy that requires the trusted key, and pulls each image through it with skopeo.
// Needs docker-registry and skopeo (sudo bash scripts/setup-test-deps.sh).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
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
  const config = {
    upstreams: [{ host: 'registry.demo', url: reg.url }],
    trust: { keys: { release: { file: join(work, 'release.pub') } } },
    policy: { default: 'deny', policies: [{ name: 'demo-apps', match: ['registry.demo/demo/*'], keys: ['release'] }] },
  };
  console.log(`    trust.keys.release = release.pub; policy demo-apps: match registry.demo/demo/*, keys [release]`);
  const sw = await startSigwardProcess(config);
  console.log(`    sigward at ${sw.url}; skopeo uses it as the location of registry.demo (registries.conf)`);
  const skopeo = createSkopeo({ sigward: sw.host, prefix: 'registry.demo' });

  let ok = true;
  try {
    for (const [name, expect] of [
      ['signed', 'served'],
      ['unsigned', 'refused'],
      ['wrongkey', 'refused'],
    ] as const) {
      step(`skopeo inspect --raw docker://registry.demo/demo/${name}:v1`);
      const r = await skopeo.inspectRaw(`registry.demo/demo/${name}:v1`);
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
