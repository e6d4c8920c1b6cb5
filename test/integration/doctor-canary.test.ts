// sigward doctor's pull canary (src/doctor/canary.ts) with the real clients: ctr (a private containerd) and skopeo,
// pulling through their configuration. A refusal counts only when it is sigward's own: the real sigward (policy
// deny) in front of a real distribution registry passes; a server at sigward's address that answers a plain 403
// with an OCI DENIED body (fault injection), and the real sigward's refusal when it is not at a --sigward address,
// do not.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pullCanary, type CanaryResult } from '../../src/doctor/canary.ts';
import { startRegistry, type Registry } from '../helpers/registry.ts';
import { buildImage, pushImage } from '../helpers/images.ts';
import { startSigward, type RunningSigward } from '../helpers/sigward.ts';
import { startContainerd, type Containerd } from '../helpers/containerd.ts';
import { json, startFake, type Fake } from '../helpers/fake-upstream.ts';
import { removeTempDir, tempDir } from '../helpers/proc.ts';

const CANARY = 'canary.test/canary/unsigned:v1';

describe('the pull canary counts only sigward refusing', () => {
  let reg: Registry;
  let sw: RunningSigward;
  let forbidding: Fake;
  let ctd: Containerd;
  const dir = tempDir('doctor-canary');

  before(async () => {
    reg = await startRegistry({ accessLog: false, logLevel: 'error' });
    await pushImage(reg, 'canary/unsigned', 'v1', buildImage({ files: { 'canary.txt': 'nobody signed this\n' } }));
    sw = await startSigward({ upstreams: [{ host: 'canary.test', url: reg.url }], policy: { default: 'deny' } });
    // Answers the /v2/ ping, and everything else with a registry's plain 403: status line "403 Forbidden", an OCI DENIED error.
    forbidding = await startFake((req, res) =>
      req.url === '/v2/'
        ? json(res, 200, {})
        : json(res, 403, { errors: [{ code: 'DENIED', message: 'this registry refuses canary/unsigned' }] }),
    );
    ctd = await startContainerd();
  });
  after(async () => {
    await ctd?.stop();
    await forbidding?.close();
    await sw?.stop();
    await reg?.stop();
    removeTempDir(dir);
  });

  /** ctr and skopeo pulling the canary through `server` (the only host / the registry's location). */
  async function canaryThrough(server: string, sigward: readonly string[]): Promise<CanaryResult[]> {
    ctd.writeHosts(`http://${server}`, { registryHost: 'canary.test' });
    const conf = join(dir, `registries-${server.replace(/\W/g, '-')}.conf`);
    writeFileSync(conf, `[[registry]]\nprefix = "canary.test"\nlocation = "${server}/canary.test"\ninsecure = true\n`);
    return pullCanary({
      image: CANARY,
      clients: ['ctr', 'skopeo'],
      containerd: { certsDir: ctd.hostsDir, address: ctd.address },
      registriesConf: conf,
      sigward: new Set(sigward),
      env: { ...process.env },
      timeoutMs: 60_000,
    });
  }
  const outcomes = (rs: readonly CanaryResult[]) => rs.map((r) => [r.client, r.outcome]);

  test("sigward's refusal: refused by both clients", async () => {
    const rs = await canaryThrough(sw.host, [sw.host]);
    assert.deepEqual(outcomes(rs), [
      ['ctr', 'refused'],
      ['skopeo', 'refused'],
    ]);
  });

  test("another server's 403 at sigward's address is not sigward's refusal", async () => {
    const rs = await canaryThrough(forbidding.host, [forbidding.host]);
    assert.deepEqual(outcomes(rs), [
      ['ctr', 'failed'],
      ['skopeo', 'failed'],
    ]);
    assert.match(rs[0]?.detail ?? '', /^failed, but not with a refusal by sigward: .*403 Forbidden/);
    assert.match(rs[1]?.detail ?? '', /^denied, but not with sigward's policy decision/);
  });

  test('sigward refusing from an address that is not a --sigward one is not counted', async () => {
    const rs = await canaryThrough(sw.host, ['127.0.0.1:1']);
    assert.deepEqual(outcomes(rs), [
      ['ctr', 'failed'],
      ['skopeo', 'failed'],
    ]);
    for (const r of rs) assert.ok(r.detail.startsWith(`refused by ${sw.host}, which is not sigward`), r.detail);
  });
});
