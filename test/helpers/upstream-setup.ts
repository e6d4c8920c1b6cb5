// What the upstream/ unit tests build clients from: a config for a fake's URL, small limits, and recorders of what a
// client did or threw.
import { DEFAULT_LIMITS, type Limits, type UpstreamConfig } from '../../src/config/types.ts';

export function upstreamConfig(url: string, over: Partial<UpstreamConfig> = {}): UpstreamConfig {
  return {
    host: new URL(url).host,
    aliases: [],
    url,
    default: false,
    libraryPrefix: false,
    auth: { kind: 'anonymous' },
    timeouts: { connectMs: 2_000, headersMs: 5_000, bodyMs: 5_000 },
    retries: 2,
    ...over,
  };
}

export const LIMITS: Limits = {
  ...DEFAULT_LIMITS,
  manifestBytes: 64 * 1024,
  errorBodyBytes: 1024,
  listBytes: 8 * 1024,
};

/** Await a rejection and return the error, failing when the promise resolves. */
export async function rejection(p: Promise<unknown>): Promise<Error & { code?: string; retryAfter?: number }> {
  try {
    await p;
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error('expected a rejection, got a value');
}

/** Every upstream request a client makes, as the onRequest hook reports them. */
export function recorder(): {
  seen: { method: string; url: string; status: number }[];
  hook: (i: { method: string; url: string; status: number }) => void;
} {
  const seen: { method: string; url: string; status: number }[] = [];
  return { seen, hook: (i) => seen.push(i) };
}
