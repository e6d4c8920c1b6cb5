// The upstream pool a reload shares: a lease with the same settings gets the same clients and connections; a change
// to any setting a client or its connections are built from (the CA bundle, the password, the boundary, a timeout)
// gets new ones, so nothing made under the old settings is reused under the new.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { UpstreamConfig } from '../../src/config/types.ts';
import { DEFAULT_LIMITS, DEFAULT_TIMEOUTS } from '../../src/config/types.ts';
import { UpstreamPool, type LeaseOptions } from '../../src/upstream/pool.ts';
import { makeTlsCerts } from '../helpers/test-certs.ts';
import { removeTempDir, tempDir } from '../helpers/proc.ts';

const base: UpstreamConfig = {
  host: 'registry.example',
  aliases: [],
  url: 'https://registry.example',
  default: false,
  libraryPrefix: false,
  auth: { kind: 'basic', username: 'u', password: { env: 'UNUSED' } },
  timeouts: { ...DEFAULT_TIMEOUTS },
  retries: 0,
  allowPrivateNetworks: false,
};
const opts = (over: Partial<LeaseOptions> = {}): LeaseOptions => ({
  limits: DEFAULT_LIMITS,
  passwords: new Map([['registry.example', 'secret']]),
  caPems: new Map(),
  ...over,
});

test('same settings share a client and its connections; each setting that builds them gets new ones', async () => {
  const dir = tempDir('pool-ca');
  const { caPem } = await makeTlsCerts(dir);
  removeTempDir(dir);
  const pool = new UpstreamPool();
  const first = pool.lease([base], opts());
  const same = pool.lease([{ ...base }], opts());
  assert.equal(same.clients[0], first.clients[0], 'an unchanged upstream keeps its client');
  assert.deepEqual(pool.size, { agents: 1, clients: 1 });
  const changed: [string, UpstreamConfig, LeaseOptions, boolean][] = [
    ['another CA bundle', base, opts({ caPems: new Map([['registry.example', caPem]]) }), true],
    ['another password', base, opts({ passwords: new Map([['registry.example', 'other']]) }), false],
    ['private networks allowed', { ...base, allowPrivateNetworks: true }, opts(), false],
    ['another connect timeout', { ...base, timeouts: { ...DEFAULT_TIMEOUTS, connectMs: 1234 } }, opts(), true],
    ['another headers timeout', { ...base, timeouts: { ...DEFAULT_TIMEOUTS, headersMs: 4321 } }, opts(), false],
  ];
  for (const [what, u, o, newAgents] of changed) {
    const agentsBefore = pool.size.agents;
    const lease = pool.lease([u], o);
    assert.notEqual(lease.clients[0], first.clients[0], `${what}: a new client`);
    assert.equal(pool.size.agents, agentsBefore + (newAgents ? 1 : 0), `${what}: connections`);
    await lease.release(0);
  }
  await same.release(0);
  await first.release(0);
  assert.deepEqual(pool.size, { agents: 0, clients: 0 }, 'everything closed with its last lease');
});
