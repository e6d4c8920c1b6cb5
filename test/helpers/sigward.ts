// Start sigward for a test: in-process (createApp + a node server on 127.0.0.1:0, upstream requests counted), or as
// the real daemon process (`bin/sigward.mjs serve`), which is what e2e tests with real clients use.
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { createApp, type AppDeps, type SigwardApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/log.ts';
import { TrustKeeper } from '../../src/tuf/keeper.ts';
import { listenOnLoopback, removeTempDir, startProcess, tailFile, tempDir } from './proc.ts';

export interface UpstreamRequest {
  method: string;
  url: string;
  status: number;
}

export interface RunningSigward {
  /** http://127.0.0.1:PORT */
  url: string;
  /** 127.0.0.1:PORT */
  host: string;
  configFile: string;
  /** In-process only: the app, and every upstream request it made. */
  app?: SigwardApp;
  /** In-process only: the listening server (tests wait on its connection count instead of sleeping). */
  server?: Server;
  upstreamRequests: UpstreamRequest[];
  /** Process only: the daemon's stdout+stderr log file. */
  logFile?: string;
  stop(): Promise<void>;
}

export type ConfigInput = string | Record<string, unknown>;

/** A config object without `cache.dir` gets one inside the test's temp dir: the built-in default (/var/cache/sigward)
 * would share the sget store and the state kept across restarts between tests and runs. */
function writeConfig(dir: string, config: ConfigInput): string {
  const file = join(dir, 'sigward.yaml');
  if (typeof config === 'string') writeFileSync(file, config);
  else {
    const cache = (config.cache ?? {}) as Record<string, unknown>;
    const own = cache.dir === undefined ? { ...config, cache: { ...cache, dir: join(dir, 'cache') } } : config;
    writeFileSync(file, stringify(own));
  }
  return file;
}

/** sigward inside the test process. Logs are silent unless SIGWARD_TEST_LOG is set. */
export async function startSigward(
  config: ConfigInput,
  deps: AppDeps = {},
  env: Record<string, string | undefined> = process.env,
): Promise<RunningSigward> {
  const dir = tempDir('sigward');
  const configFile = writeConfig(dir, config);
  const upstreamRequests: UpstreamRequest[] = [];
  const loaded = loadConfig(configFile, env);
  const logger = deps.logger ?? createLogger(process.env.SIGWARD_TEST_LOG ? 'debug' : 'silent');
  // TUF-kept trust roots are loaded as `serve` loads them (the repository, else the verified cache, else it throws).
  const trust = deps.trust ?? (loaded.tufRoots.length > 0 ? await TrustKeeper.open(loaded, logger) : undefined);
  const app = createApp(loaded, {
    logger,
    onUpstreamRequest: (info) => upstreamRequests.push(info),
    ...(trust ? { trust } : {}),
    ...deps,
  });
  // As `sigward serve` serves it: pulls straight to the /v2/ handler, everything else through hono.
  const server = createServer(app.listener());
  const { host } = await listenOnLoopback(server);
  return {
    url: `http://${host}`,
    host,
    configFile,
    app,
    server,
    upstreamRequests,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await app.close();
      removeTempDir(dir);
    },
  };
}

const ROOT = new URL('../../', import.meta.url).pathname;

/** The real daemon as a child process, as users run it. Resolves once it printed its listening address. */
export async function startSigwardProcess(config: ConfigInput, env: NodeJS.ProcessEnv = {}): Promise<RunningSigward> {
  const dir = tempDir('sigward-proc');
  const configFile = writeConfig(dir, config);
  let url = '';
  const proc = await startProcess({
    name: 'sigward',
    cmd: process.execPath,
    args: [join(ROOT, 'bin/sigward.mjs'), 'serve', '--config', configFile, '--listen', '127.0.0.1:0'],
    env: { ...process.env, ...env },
    cwd: ROOT,
    dir,
    ready: async () => {
      const m = /sigward listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(tailFile(join(dir, 'sigward.log'), 20));
      if (m?.[1]) url = m[1];
      return url !== '';
    },
  });
  return {
    url,
    host: url.replace('http://', ''),
    configFile,
    upstreamRequests: [],
    logFile: proc.logFile,
    async stop() {
      await proc.stop();
      removeTempDir(dir);
    },
  };
}
