// `sigward serve --config FILE [--listen HOST:PORT]`: start the daemon, print where it listens, reload the config
// file on SIGHUP (`sigward reload`), stop cleanly on SIGINT/SIGTERM (in-flight requests finish, new connections are
// refused).
//
// A reload reads and checks the whole file again and gets its TUF-kept trust roots (TrustKeeper.open) before
// anything changes; then a new app generation, built around the parts every generation shares (createShared: the
// verdict cache, manifest memory, hash thread, sget store, referenced-blobs list, audit log), takes every request
// that arrives from then on, in one step. Requests already in flight finish on the generation they started on, which
// closes once they are done. A config that cannot be loaded changes nothing: the error is logged and reported by
// /readyz (`reload.last`), which `sigward reload` reads.
import type { AddressInfo } from 'node:net';
import { createServer, type ServerResponse } from 'node:http';
import { createApp, createShared, type AppDeps, type SigwardApp } from '../app.ts';
import { stateWarnings } from '../state/warnings.ts';
import type { ReloadResult } from '../http/readiness.ts';
import { listenMetrics } from '../http/metrics.ts';
import { Generation, restartNeeded } from './generations.ts';
import { createLogger } from '../log.ts';
import { TrustKeeper } from '../tuf/keeper.ts';
import { loadConfig } from '../config/load.ts';
import { parseListen } from '../config/parse.ts';
import { Problems, formatProblems } from '../util/yaml-reader.ts';
import { isSigwardError, SigwardError } from '../errors.ts';
import type { Io } from './io.ts';
import { parseFlags } from './flags.ts';

export const SERVE_USAGE = `usage: sigward serve --config FILE [--listen HOST:PORT]

Runs the proxy. FILE is the YAML configuration (see config/sigward.yaml); --listen overrides its \`listen\`.
SIGHUP (or \`sigward reload\`) loads FILE again and applies it when it is valid; SIGTERM/SIGINT stop it.`;

/** How long in-flight requests may take to finish after SIGTERM/SIGINT before their connections are closed. */
const SHUTDOWN_GRACE_MS = 10_000;

export async function serveCommand(argv: readonly string[], io: Io): Promise<number> {
  const flags = parseFlags(argv, { config: 'string', listen: 'string', help: 'boolean' }, SERVE_USAGE);
  if (flags.help) {
    io.out(SERVE_USAGE);
    return 0;
  }
  if (typeof flags.config !== 'string')
    throw new SigwardError('CONFIG_INVALID', `--config FILE is required\n${SERVE_USAGE}`);
  const loaded = loadConfig(flags.config, io.env);
  let listen = loaded.config.listen;
  if (typeof flags.listen === 'string') {
    const problems = new Problems();
    const l = parseListen(flags.listen, ['--listen'], problems);
    if (!l) throw new SigwardError('CONFIG_INVALID', formatProblems('command line', problems.list));
    listen = l;
  }
  const logger = createLogger(loaded.config.logLevel);
  for (const warning of stateWarnings(loaded.config)) logger.warn(warning.replace(/^warning: /, ''));
  // TUF-kept trust roots are fetched (or taken from their verified cache) before anything listens; without them
  // the daemon does not start. A config of pinned roots only contacts nothing here.
  const trust = await TrustKeeper.open(loaded, logger);
  // The shared parts make the process's one metrics object when metrics are on (`metrics.listen` needs a restart):
  // its counters go on across reloads. Off (the default), prom-client is never loaded.
  const shared = createShared(loaded, { logger, trust, keepState: true });
  const metrics = shared.metrics;
  let requests = 0;
  let last: ReloadResult | undefined;
  const deps: AppDeps = {
    logger,
    ...(metrics && { metrics }),
    reloadStatus: () => ({ pid: process.pid, requests, ...(last ? { last } : {}) }),
  };
  let current = new Generation(createApp(loaded, { ...deps, trust }, shared));
  const sw = current.app;
  // `metrics.listen: HOST:PORT`: a listener of its own, for the life of the process (a reload does not move it).
  const metricsAt = loaded.config.metrics?.listen;
  const metricsListener =
    metrics && typeof metricsAt === 'object' ? await listenMetrics(metrics, metricsAt) : undefined;
  metrics?.configLoaded(sw.generation());
  // Each request runs to its end on the generation current when it arrived.
  const server = createServer((req, res) => {
    const g = current;
    g.enter(res);
    g.app.listener(listen.host)(req, res);
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        new SigwardError(
          'CONFIG_INVALID',
          `cannot listen on ${listen.host}:${listen.port}: ${e.code === 'EADDRINUSE' ? 'the address is already in use' : e.message}`,
          { cause: e },
        ),
      ),
    );
    server.listen(listen.port, listen.host, () => resolve());
  });
  // The signals are handled from here on, before anyone is told the address: a SIGTERM right after the banner (or
  // the `listening` line) finds its handler.
  let stopping = false;
  // While stopping, a connection whose request has just been answered is closed rather than kept alive.
  server.on('request', (_req, res: ServerResponse) =>
    res.once('close', () => stopping && setImmediate(() => server.closeIdleConnections())),
  );
  const stopped = new Promise<void>((resolve) => {
    const stop = (sig: NodeJS.Signals): void => {
      if (stopping) {
        // A second signal: no more waiting for in-flight requests.
        sw.logger.warn({ signal: sig }, 'second signal, exiting at once');
        process.exit(1);
      }
      stopping = true;
      // No new connections from here (before the log line says so); in-flight requests finish (up to 10 s, then
      // their connections are closed).
      server.close(() => resolve());
      // Idle keep-alive sockets would hold close() open.
      server.closeIdleConnections();
      setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS).unref();
      sw.logger.info({ signal: sig }, 'shutting down');
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  // Generations replaced by a reload, until their in-flight requests are done and they are closed.
  const retiring = new Set<Promise<void>>();
  const reloadOnce = async (): Promise<void> => {
    const request = requests;
    const before = current.app;
    let result: ReloadResult;
    try {
      const next = loadConfig(loaded.file, io.env);
      const nextTrust = await TrustKeeper.open(next, logger);
      let app;
      try {
        if (stopping) throw new SigwardError('INTERNAL', 'the daemon is stopping');
        app = createApp(next, { ...deps, trust: nextTrust }, shared);
      } catch (e) {
        nextTrust.close();
        throw e;
      }
      // The swap: from here every new request goes to the new generation.
      const old = current;
      current = new Generation(app);
      logger.level = next.config.logLevel;
      const closing = old
        .retire()
        .then(() =>
          logger.info(
            { generation: old.app.generation() },
            'previous configuration generation closed: its requests are done',
          ),
        );
      retiring.add(closing);
      void closing.then(() => retiring.delete(closing));
      const restart = restartNeeded(loaded.config, next.config, typeof flags.listen === 'string');
      result = outcome(request, app, { restartNeeded: restart });
      metrics?.configLoaded(result.generation);
      logger.info(
        {
          generation: result.generation,
          policyHash: result.policyHash,
          previousPolicyHash: before.gate.policyHash,
          policies: app.gate.policy.rules.length,
          upstreams: next.config.upstreams.map((u) => u.host),
        },
        'configuration reloaded: new requests use it, requests in flight finish on the previous one',
      );
      if (restart.length > 0)
        logger.warn(
          { restartNeeded: restart },
          `changed settings that a reload cannot apply keep their old values until a restart: ${restart.join(', ')}`,
        );
      // cache.stateSize keeps the value the daemon started with: a reload that turns failStatic on is judged by it.
      const inForce = { ...next.config, cache: { ...next.config.cache, stateBytes: loaded.config.cache.stateBytes } };
      for (const warning of stateWarnings(inForce)) logger.warn(warning.replace(/^warning: /, ''));
    } catch (e) {
      result = outcome(request, before, { error: e });
      logger.error(
        { config: loaded.file, error: result.error, generation: result.generation },
        'configuration reload refused: the current configuration stays in force',
      );
    }
    last = result;
    metrics?.reloadResult(result.ok);
  };
  let reloading: Promise<void> | undefined;
  let again = false;
  process.on('SIGHUP', () => {
    if (stopping) return;
    requests++;
    logger.info({ signal: 'SIGHUP', request: requests, config: loaded.file }, 'reload requested');
    // One reload at a time; signals during one are answered by one more after it.
    if (reloading !== undefined) {
      again = true;
      return;
    }
    reloading = (async () => {
      do {
        again = false;
        await reloadOnce();
      } while (again && !stopping);
    })().finally(() => (reloading = undefined));
  });
  const addr = server.address() as AddressInfo;
  const shown = addr.family === 'IPv6' ? `[${addr.address}]:${addr.port}` : `${addr.address}:${addr.port}`;
  // The banner is for people and goes to stderr: stdout carries only pino's JSON lines (`| jq` works).
  if (metricsListener) io.err(`metrics on ${metricsListener.url}`);
  io.err(
    `sigward listening on http://${shown} (config ${loaded.file}, ${loaded.config.upstreams.length} upstream${loaded.config.upstreams.length === 1 ? '' : 's'}: ${loaded.config.upstreams.map((u) => u.host).join(', ')})`,
  );
  const p = sw.gate.policy;
  io.err(
    `policy ${p.hash.slice(0, 12)}: ${p.rules.length} polic${p.rules.length === 1 ? 'y' : 'ies'}, ${Object.keys(p.keys).length} trusted key(s), ` +
      `${Object.keys(p.roots).length} trust root(s), ${Object.keys(p.cas).length} private CA(s), default ${p.defaultAction}`,
  );
  sw.logger.info(
    { listen: shown, config: loaded.file, policyHash: p.hash, policies: p.rules.length, default: p.defaultAction },
    'listening',
  );
  await stopped;
  metricsListener?.server.close();
  metricsListener?.server.closeAllConnections();
  await reloading;
  await Promise.all([...retiring, current.retire()]);
  await shared.close();
  return 0;
}

/** The outcome of one reload attempt: `app` is the generation serving afterwards. */
function outcome(
  request: number,
  app: SigwardApp,
  how: { restartNeeded: readonly string[] } | { error: unknown },
): ReloadResult {
  const base = { request, at: new Date().toISOString(), generation: app.generation(), policyHash: app.gate.policyHash };
  if ('error' in how) {
    const e = how.error;
    return {
      ...base,
      ok: false,
      error: isSigwardError(e) ? e.message : `unexpected error: ${e instanceof Error ? e.message : String(e)}`,
    };
  }
  return { ...base, ok: true, ...(how.restartNeeded.length > 0 ? { restartNeeded: how.restartNeeded } : {}) };
}
