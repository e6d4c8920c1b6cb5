// Big-blob GETs with curl writing to /dev/null: a C client that discards bytes costs the two cores far less than a
// node client would, so the servers get the CPU. Every transfer must answer 200 with exactly the expected size.
import { runCommand } from '../test/helpers/proc.ts';

export interface Transfer {
  readonly seconds: number;
  readonly bytes: number;
  /** Time to first byte of the body (curl's time_starttransfer), ms. */
  readonly ttfbMs: number;
  /** 10^6 bytes per second. */
  readonly mbps: number;
}

export interface ManyTransfers {
  /** Wall time from starting the first to finishing the last, seconds. */
  readonly seconds: number;
  readonly bytes: number;
  /** Aggregate: all bytes over the wall time, 10^6 bytes per second. */
  readonly mbps: number;
  /** Slowest single transfer's seconds (a straggler shows up here). */
  readonly slowestSeconds: number;
  readonly each: readonly Transfer[];
}

const WRITE_OUT = '%{http_code} %{time_total} %{size_download} %{time_starttransfer}';

/** GET `url` once, discarding the body; throws unless 200 with `expectBytes` bytes. `follow`: follow redirects (a
 * redirect handed out by sigward's `blobs: redirect`), the final answer is the one checked. */
export async function curlGet(
  url: string,
  expectBytes: number,
  timeoutMs = 600_000,
  follow = false,
): Promise<Transfer> {
  const res = await runCommand('curl', ['-sS', ...(follow ? ['-L'] : []), '-o', '/dev/null', '-w', WRITE_OUT, url], {
    timeoutMs,
  });
  const [code, total, size, ttfb] = res.stdout.trim().split(' ');
  if (res.code !== 0 || code !== '200' || Number(size) !== expectBytes) {
    throw new Error(
      `GET ${url}: curl exit ${res.code}, HTTP ${code ?? '?'}, ${size ?? '?'} of ${expectBytes} bytes ${res.stderr.trim()}`,
    );
  }
  const seconds = Number(total);
  return { seconds, bytes: expectBytes, ttfbMs: Number(ttfb) * 1000, mbps: expectBytes / seconds / 1e6 };
}

/** GET every URL at the same time (one curl each); aggregate throughput over the wall time. */
export async function curlMany(
  urls: readonly string[],
  expectBytes: number,
  timeoutMs = 900_000,
  follow = false,
): Promise<ManyTransfers> {
  const t0 = process.hrtime.bigint();
  const each = await Promise.all(urls.map((u) => curlGet(u, expectBytes, timeoutMs, follow)));
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const bytes = each.reduce((a, t) => a + t.bytes, 0);
  return { seconds, bytes, mbps: bytes / seconds / 1e6, slowestSeconds: Math.max(...each.map((t) => t.seconds)), each };
}
