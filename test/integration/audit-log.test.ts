// The daemon with `audit.file` set, in front of a real distribution registry: one line per decision when it is made
// (an allowed signed image, a denied unsigned one, an unsigned image a policy lets through), none for an answer from
// the verdict cache, and `sigward audit verify` accepts the file.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { startRegistry, type Registry } from '../helpers/registry.ts';
import { buildImage, pushImage, type TestImage } from '../helpers/images.ts';
import { startSigward, type RunningSigward } from '../helpers/sigward.ts';
import { newKey, signLegacy } from '../helpers/cosign.ts';
import { sigwardInProcess } from '../helpers/cli-process.ts';
import { removeTempDir, tempDir } from '../helpers/proc.ts';
import { GENESIS } from '../../src/audit/log.ts';

const ACCEPT = 'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json';

describe('audit log of the daemon', () => {
  let reg: Registry;
  let sw: RunningSigward;
  let dir: string;
  let file: string;
  const alice = newKey('alice');
  const signed: TestImage = buildImage({ files: { 'name.txt': 'audit-signed\n' } });
  const unsigned: TestImage = buildImage({ files: { 'name.txt': 'audit-unsigned\n' } });
  const vendor: TestImage = buildImage({ files: { 'name.txt': 'audit-vendor\n' } });

  before(async () => {
    reg = await startRegistry();
    dir = tempDir('audit-daemon');
    file = join(dir, 'audit.log');
    await pushImage(reg, 'apps/signed', 'v1', signed);
    await signLegacy(reg, 'apps/signed', signed.digest, { keys: [alice] });
    await pushImage(reg, 'apps/unsigned', 'v1', unsigned);
    await pushImage(reg, 'vendor/tool', 'v1', vendor);
    sw = await startSigward({
      upstreams: [{ host: 'example.test', url: reg.url }],
      trust: { keys: { alice: { pem: alice.publicPem } } },
      policy: {
        default: 'deny',
        policies: [
          { name: 'apps', match: ['example.test/apps/*'], keys: ['alice'] },
          { name: 'third-party', match: ['example.test/vendor/*'], allow: 'unsigned' },
        ],
      },
      audit: { file },
    });
  });
  after(async () => {
    await sw?.stop();
    await reg?.stop();
    removeTempDir(dir);
  });

  const pull = async (repo: string, ref: string): Promise<number> => {
    const r = await request(`${sw.url}/v2/example.test/${repo}/manifests/${ref}`, { headers: { accept: ACCEPT } });
    await r.body.arrayBuffer();
    return r.statusCode;
  };
  const entries = () =>
    readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l));

  test('one line per decision, allowed and denied; a cached answer adds none; audit verify accepts the file', async () => {
    assert.equal(await pull('apps/signed', 'v1'), 200);
    assert.equal(await pull('apps/unsigned', 'v1'), 403);
    // Answered from the verdict cache: not a new decision.
    assert.equal(await pull('apps/signed', 'v1'), 200);
    assert.equal(await pull('apps/signed', signed.digest), 200);
    assert.equal(await pull('vendor/tool', 'v1'), 200);
    const e = entries();
    assert.equal(e.length, 3, JSON.stringify(e, null, 1));
    const [a, d, v] = e;
    assert.equal(a.prev, GENESIS);
    assert.deepEqual(
      e.map((x) => x.seq),
      [0, 1, 2],
    );
    const policyHash = sw.app?.gate.policyHash;
    assert.ok(e.every((x) => x.policyHash === policyHash));
    assert.equal(a.image, `example.test/apps/signed:v1@${signed.digest}`);
    assert.equal(a.digest, signed.digest);
    assert.deepEqual(
      [a.allow, a.wouldDeny, a.outcome, a.policy, a.signers],
      [true, false, 'verified', 'apps', ['alice']],
    );
    assert.ok(a.reasons.length >= 1 && a.reasons.some((r: { counted: boolean }) => r.counted));
    assert.equal(d.image, `example.test/apps/unsigned:v1@${unsigned.digest}`);
    assert.deepEqual([d.allow, d.policy, d.signers], [false, 'apps', []]);
    assert.notEqual(d.outcome, 'verified');
    assert.deepEqual([v.allow, v.outcome, v.policy], [true, 'unsigned-allowed', 'third-party']);
    assert.ok(!Number.isNaN(Date.parse(a.time)));

    const r = await sigwardInProcess(['audit', 'verify', file]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(r.stdout.trim(), 'ok: 3 lines, chain intact (first seq 0, last seq 2)');
  });
});
