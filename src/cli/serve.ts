// `sigward serve --config FILE [--listen HOST:PORT]`: start the daemon, print where it listens, stop cleanly on
// SIGINT/SIGTERM (in-flight requests finish, new connections are refused).
import type { AddressInfo } from 'node:net';
import type { Server, ServerResponse } from 'node:http';
import { createAdaptorServer } from '@hono/node-server';
import { createApp } from '../app.ts';
import { createLogger } from '../log.ts';
import { TrustKeeper } from '../tuf/keeper.ts';
import { loadConfig } from '../config/load.ts';
import { parseListen } from '../config/parse.ts';
import { Problems, formatProblems } from '../util/yaml-reader.ts';
import { SigwardError } from '../errors.ts';
import type { Io } from './io.ts';
import { parseFlags } from './flags.ts';

export const SERVE_USAGE = `usage: sigward serve --config FILE [--listen HOST:PORT]

Runs the proxy. FILE is the YAML configuration (see config/sigward.yaml); --listen overrides its \`listen\`.`;

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
  // TUF-kept trust roots are fetched (or taken from their verified cache) before anything listens; without them
  // the daemon does not start. A config of pinned roots only contacts nothing here.
  const trust = await TrustKeeper.open(loaded, logger);
  const sw = createApp(loaded, { logger, trust });
  const server = createAdaptorServer({ fetch: sw.fetch, hostname: listen.host, port: listen.port }) as Server;
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
  const addr = server.address() as AddressInfo;
  const shown = addr.family === 'IPv6' ? `[${addr.address}]:${addr.port}` : `${addr.address}:${addr.port}`;
  // The banner is for people and goes to stderr: stdout carries only pino's JSON lines (`| jq` works).
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
  await sw.close();
  return 0;
}
