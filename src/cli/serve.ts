// `sigward serve --config FILE [--listen HOST:PORT]`: start the daemon, print where it listens, stop cleanly on
// SIGINT/SIGTERM (in-flight requests finish, new connections are refused).
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
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
  await new Promise<void>((resolve) => {
    const stop = (sig: string): void => {
      sw.logger.info({ signal: sig }, 'shutting down');
      server.close(() => resolve());
      // Idle keep-alive sockets would hold close() open.
      server.closeIdleConnections();
      setTimeout(() => server.closeAllConnections(), 10_000).unref();
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  await sw.close();
  return 0;
}
