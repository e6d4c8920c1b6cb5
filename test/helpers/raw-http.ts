// A plain node:http client for tests that must see exactly what a runtime sees on the wire: the status line
// (reason phrase included), the headers, every body byte that arrived, and whether the body was complete or the
// connection was cut (the only signal a proxy has left once a 200 is under way). No keep-alive: each request gets
// its own connection, so one cut body can never disturb the next request.
import { request as httpRequest } from 'node:http';

export interface RawResponse {
  status: number;
  reason: string;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  /** True when the whole body arrived (Content-Length or chunked framing satisfied). */
  complete: boolean;
  /** The error the response stream ended with, if it was cut. */
  error?: Error;
}

export function rawGet(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; timeoutMs?: number } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, {
      method: opts.method ?? 'GET',
      headers: { connection: 'close', ...opts.headers },
      agent: false,
    });
    // A safety bound so a hung proxy fails the test instead of hanging it; not a timing assertion.
    req.setTimeout(opts.timeoutMs ?? 20_000, () =>
      req.destroy(new Error(`no answer from ${url} within ${opts.timeoutMs ?? 20_000} ms`)),
    );
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let error: Error | undefined;
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', (e) => {
        error = e;
      });
      res.on('close', () => {
        resolve({
          status: res.statusCode ?? 0,
          reason: res.statusMessage ?? '',
          headers: res.headers,
          body: Buffer.concat(chunks),
          complete: res.complete,
          ...(error === undefined ? {} : { error }),
        });
      });
    });
    req.end();
  });
}

/** The first OCI error of a JSON error body, or undefined when the body is not one. */
/** One OCI error as sigward writes it; a refusal's detail names the policy and the decision outcome. */
export interface OciErrorBody {
  code: string;
  message: string;
  detail?: { policy?: string; outcome?: string; digest?: string };
}

export function ociErrorOf(body: Buffer): OciErrorBody | undefined {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { errors?: OciErrorBody[] };
    return parsed.errors?.[0];
  } catch {
    return undefined;
  }
}
