// The app generations of a running daemon (cli/serve.ts). Each request is counted on the generation that was
// current when it arrived and runs on it to the end; a retired generation stops refreshing its TUF roots at once,
// finishes the requests it took, then closes its upstream clients. What a generation cannot change (the parts
// shared by all of them, and the listening socket) is named by restartNeeded().
import type { ServerResponse } from 'node:http';
import type { SigwardApp } from '../app.ts';
import type { Config } from '../config/types.ts';

export class Generation {
  private inFlight = 0;
  private retired = false;
  private closed: Promise<void> | undefined;
  private onClosed: (() => void) | undefined;

  constructor(readonly app: SigwardApp) {}

  /** Count a request from its arrival until its response closes (sent whole, or cut). */
  enter(res: ServerResponse): void {
    this.inFlight++;
    res.once('close', () => {
      this.inFlight--;
      if (this.retired && this.inFlight === 0) this.closeNow();
    });
  }

  /** No new requests come here: close once the ones in flight are done. Resolves when closed. */
  retire(): Promise<void> {
    if (!this.retired) {
      this.retired = true;
      this.app.trust?.close();
      this.closed = new Promise<void>((resolve) => (this.onClosed = resolve));
      if (this.inFlight === 0) this.closeNow();
    }
    return this.closed as Promise<void>;
  }

  private closeNow(): void {
    const done = this.onClosed;
    if (done === undefined) return;
    this.onClosed = undefined;
    void this.app.close().then(done, done);
  }
}

/** The settings, by their config-file names, that `next` changes but a reload cannot: the listening address (unless
 * --listen set it) and what the shared parts were built with (createShared in app.ts). They keep the values the
 * daemon started with until it is restarted. */
export function restartNeeded(started: Config, next: Config, listenFromFlag: boolean): string[] {
  const out: string[] = [];
  if (!listenFromFlag && (started.listen.host !== next.listen.host || started.listen.port !== next.listen.port))
    out.push('listen');
  const fields: [string, (c: Config) => unknown][] = [
    ['cache.dir', (c) => c.cache.dir],
    ['cache.manifestMemory', (c) => c.cache.manifestMemoryBytes],
    ['cache.allowTtl', (c) => c.cache.allowTtlMs],
    ['cache.denyTtl', (c) => c.cache.denyTtlMs],
    ['cache.verdictEntries', (c) => c.cache.verdictEntries],
    ['cache.verdictMemory', (c) => c.cache.verdictMemoryBytes],
    ['cache.stateSize', (c) => c.cache.stateBytes],
    ['sget.storeSize', (c) => c.sget.storeBytes],
    ['limits.signatureMemory', (c) => c.limits.signatureMemory],
    ['blobs.serve', (c) => c.blobs.serve],
    ['blobs.entries', (c) => c.blobs.entries],
    ['audit', (c) => JSON.stringify(c.audit ?? null)],
    ['metrics.listen', (c) => JSON.stringify(c.metrics?.listen ?? 'off')],
  ];
  for (const [name, get] of fields) if (get(started) !== get(next)) out.push(name);
  return out;
}
