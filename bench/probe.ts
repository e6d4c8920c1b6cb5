// Single manifest GETs timed in-process (undici, keep-alive): the client of the latency figures. A node client costs
// more per request than wrk or curl, but it is the same client for every contender, connections are reused (no
// TCP setup in the figure), and it can fire a herd of simultaneous requests. Each answer's status and digest are
// checked, so a fast error never passes for a fast pull.
import { Agent, request } from 'undici';
import { ALL_MANIFEST_TYPES } from '../test/helpers/registry-client.ts';

export interface Probe {
  /** GET `url` once; ms from sending to the last body byte. Throws unless `expect` status (and digest, if 200). */
  get(url: string, expectDigest: string, expect?: number): Promise<number>;
  close(): Promise<void>;
}

export function newProbe(connections = 8): Probe {
  const agent = new Agent({ connections, keepAliveTimeout: 60_000 });
  return {
    async get(url, expectDigest, expect = 200) {
      const t0 = process.hrtime.bigint();
      const res = await request(url, { dispatcher: agent, headers: { accept: ALL_MANIFEST_TYPES } });
      const body = await res.body.text();
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      const got = res.headers['docker-content-digest'];
      if (res.statusCode !== expect || (expect === 200 && got !== expectDigest)) {
        throw new Error(`GET ${url} answered ${res.statusCode} (digest ${String(got)}), expected ${expect}` +
          `${expect === 200 ? ` with ${expectDigest}` : ''}: ${body.slice(0, 400)}`);
      }
      return ms;
    },
    close: () => agent.close(),
  };
}

/** `n` simultaneous GETs of one URL, each on its own connection; every answer must be 200 with `expectDigest`. */
export async function herdGet(url: string, expectDigest: string, n: number): Promise<{ wallMs: number; slowestMs: number }> {
  const agent = new Agent({ connections: n, keepAliveTimeout: 1000 });
  try {
    const t0 = process.hrtime.bigint();
    const each = await Promise.all(
      Array.from({ length: n }, async () => {
        const res = await request(url, { dispatcher: agent, headers: { accept: ALL_MANIFEST_TYPES } });
        const body = await res.body.text();
        if (res.statusCode !== 200 || res.headers['docker-content-digest'] !== expectDigest) {
          throw new Error(`herd GET ${url} answered ${res.statusCode}: ${body.slice(0, 400)}`);
        }
        return Number(process.hrtime.bigint() - t0) / 1e6;
      }),
    );
    return { wallMs: Number(process.hrtime.bigint() - t0) / 1e6, slowestMs: Math.max(...each) };
  } finally {
    await agent.close();
  }
}
